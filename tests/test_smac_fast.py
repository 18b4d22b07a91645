"""smac_fast's components must change the cost of `ask()`, never its proposals.

Two HPO facades on Branin with the same seed, one with the fast selector and single-threaded
forest and one with SMAC3's stock selector and forest, are told the same random trials; they
must then ask for the very same configurations, through several model retrains.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace, Float
from smac import HyperparameterOptimizationFacade as HPO
from smac import Scenario
from smac.main.config_selector import ConfigSelector
from smac.runhistory.dataclasses import TrialInfo, TrialValue

from smac_bridge import smac_fast

RETRAIN_AFTER = 4
TOLD = 50
ASKED = 8


def branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def branin_space() -> ConfigurationSpace:
    space = ConfigurationSpace(seed=7)
    space.add([Float("x", (-5.0, 10.0), default=2.5), Float("y", (0.0, 15.0), default=7.5)])
    return space


def facade(folder: Path, fast: bool) -> HPO:
    """An HPO facade as the worker builds it (fast) or with SMAC3's stock selector and forest.

    Both use a small acquisition search: it is the same code for both, and keeps the test fast.
    """
    scenario = Scenario(
        branin_space(),
        name="fast" if fast else "stock",
        output_directory=folder,
        deterministic=True,
        n_trials=1000,
        seed=3,
    )
    if fast:
        model = smac_fast.make_model(scenario, "hpo")
        selector = smac_fast.make_config_selector(scenario, retrain_after=RETRAIN_AFTER)
    else:
        model = HPO.get_model(scenario)
        selector = ConfigSelector(scenario, retrain_after=RETRAIN_AFTER, max_new_config_tries=16)
    return HPO(
        scenario,
        None,
        model=model,
        initial_design=HPO.get_initial_design(scenario, n_configs=1),
        acquisition_maximizer=HPO.get_acquisition_maximizer(
            scenario, challengers=500, local_search_iterations=3
        ),
        config_selector=selector,
        logging_level=40,
        overwrite=True,
    )


def values(info: TrialInfo) -> dict[str, float]:
    return {name: float(value) for name, value in dict(info.config).items()}


def tell(smac: HPO, config: Configuration, seed: int | None) -> None:
    cost = branin(float(config["x"]), float(config["y"]))
    smac.tell(TrialInfo(config=config, seed=seed), TrialValue(cost=cost), save=False)


def test_fast_components_propose_what_the_stock_ones_do(tmp_path: Path) -> None:
    smacs = {fast: facade(tmp_path, fast) for fast in (True, False)}
    first = {fast: smac.ask() for fast, smac in smacs.items()}
    assert values(first[True]) == values(first[False])
    random = branin_space().sample_configuration(TOLD - 1)
    for fast, smac in smacs.items():
        tell(smac, first[fast].config, first[fast].seed)
        for config in random:
            tell(
                smac,
                Configuration(smac.scenario.configspace, values=dict(config)),
                first[fast].seed,
            )

    asked: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for _ in range(ASKED):
        for fast, smac in smacs.items():
            info = smac.ask()
            asked[fast].append(values(info))
            tell(smac, info.config, info.seed)
    assert asked[True] == asked[False]
    assert len({tuple(v.values()) for v in asked[True]}) == ASKED  # really new proposals


def test_fast_incumbent_estimate_equals_stock(tmp_path: Path) -> None:
    smac = facade(tmp_path, fast=True)
    info = smac.ask()
    tell(smac, info.config, info.seed)
    for config in branin_space().sample_configuration(TOLD):
        tell(smac, Configuration(smac.scenario.configspace, values=dict(config)), info.seed)
    for _ in range(2):  # the second ask trains the forest on the told trials
        info = smac.ask()
        tell(smac, info.config, info.seed)
    selector = smac._config_selector
    assert isinstance(selector, smac_fast.FastConfigSelector)
    _, _, X = selector._collect_data()
    assert len(X) >= TOLD

    fast_x, fast_value = selector._get_x_best(X)
    stock_x, stock_value = ConfigSelector._get_x_best(selector, X)
    np.testing.assert_array_equal(fast_x, stock_x)
    assert fast_value == stock_value

    # A tie: a near copy of the best row (same leaves, same prediction), placed first, wins in
    # both, as the stock stable sort keeps the first of equal predictions.
    twin = fast_x + 1e-12
    tied = np.vstack([twin, X])
    fast_x, fast_value = selector._get_x_best(tied)
    stock_x, stock_value = ConfigSelector._get_x_best(selector, tied)
    np.testing.assert_array_equal(fast_x, twin)
    np.testing.assert_array_equal(stock_x, twin)
    assert fast_value == stock_value
