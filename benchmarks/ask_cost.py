"""Cost of a retraining SMAC3 `ask()` with the stock and smac-bridge's components, as a table.

A worker asks for its next configuration while its trial runs; when that ask costs more than
the trial, the slot idles. For Branin and Hartmann-6, each history size and each combination
of the changes in smac_bridge/optimizer.py (the fast selector, the forest on one thread, the
lean forest), a fresh HPO facade is told the same random trials and then asked for one
retrain cycle (`retrain_after` asks, the first of which retrains the forest and searches the
acquisition function; every asked trial is told back). Only the asks are timed.

    .venv/bin/python benchmarks/ask_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace, Float
from smac import HyperparameterOptimizationFacade as HPO
from smac import Scenario
from smac.main.config_selector import ConfigSelector
from smac.runhistory.dataclasses import TrialInfo, TrialValue

from smac_bridge import optimizer

RETRAIN_AFTER = 8
"""SMAC3's HPO facade default: the model is retrained after this many new configurations."""
HARTMANN6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
HARTMANN6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
HARTMANN6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(values: dict[str, float]) -> float:
    x, y = values["x"], values["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def hartmann6(values: dict[str, float]) -> float:
    x = np.array([values[f"x{i}"] for i in range(6)])
    inner = (HARTMANN6_A * (x - HARTMANN6_P) ** 2).sum(axis=1)
    return float(-(HARTMANN6_ALPHA * np.exp(-inner)).sum())


def branin_space(seed: int) -> ConfigurationSpace:
    space = ConfigurationSpace(seed=seed)
    space.add([Float("x", (-5.0, 10.0)), Float("y", (0.0, 15.0))])
    return space


def hartmann6_space(seed: int) -> ConfigurationSpace:
    space = ConfigurationSpace(seed=seed)
    space.add([Float(f"x{i}", (0.0, 1.0)) for i in range(6)])
    return space


FUNCTIONS: dict[str, tuple[Callable[[int], ConfigurationSpace], Callable[..., float]]] = {
    "Branin": (branin_space, branin),
    "Hartmann-6": (hartmann6_space, hartmann6),
}


@dataclass(frozen=True)
class Variant:
    name: str
    fast_selector: bool
    forest: str
    """`stock` (SMAC3's, a joblib pool), `n_jobs=1`, or `lean` (optimizer.LeanForest: one
    thread, and room for as many leaves as there are training points)."""


VARIANTS = (
    Variant("stock", False, "stock"),
    Variant("forest n_jobs=1", False, "n_jobs=1"),
    Variant("fast selector", True, "stock"),
    Variant("both", True, "n_jobs=1"),
    Variant("both, lean forest (workers)", True, "lean"),
)


def facade(scenario: Scenario, variant: Variant, first: Configuration) -> HPO:
    """An HPO facade with the variant's selector and forest; everything else stock.

    The initial design is the first history configuration (see `measure`).
    """
    if variant.forest == "lean":
        model = optimizer.make_model(scenario, "hpo")
    else:
        model = HPO.get_model(scenario)
        if variant.forest == "n_jobs=1":
            model._rf_opts["n_jobs"] = 1
    if variant.fast_selector:
        selector = optimizer.make_config_selector(scenario, retrain_after=RETRAIN_AFTER)
    else:
        selector = ConfigSelector(scenario, retrain_after=RETRAIN_AFTER, max_new_config_tries=16)
    return HPO(
        scenario,
        None,
        model=model,
        initial_design=HPO.get_initial_design(scenario, n_configs=0, additional_configs=[first]),
        config_selector=selector,
        logging_level=40,
        overwrite=True,
    )


def measure(function: str, size: int, variant: Variant, folder: Path) -> tuple[float, ...]:
    """Wall and CPU seconds (all threads) of the retraining ask and per ask over one retrain
    cycle, after SIZE told trials: CPU time is the part other load on the machine leaves alone."""
    make_space, objective = FUNCTIONS[function]
    space = make_space(0)
    scenario = Scenario(
        space,
        name=f"{function}-{size}-{variant.name}".replace(" ", "_"),
        output_directory=folder,
        deterministic=True,
        n_trials=10**6,
        seed=1,
    )
    history = [
        Configuration(space, values=dict(config))
        for config in make_space(size).sample_configuration(size)
    ]
    smac = facade(scenario, variant, history[0])

    def tell(config: Configuration, seed: int | None) -> None:
        values = {name: float(value) for name, value in dict(config).items()}
        cost = objective(values)
        smac.tell(TrialInfo(config=config, seed=seed), TrialValue(cost=cost), save=False)

    # The first ask, before any history, yields the one initial configuration: SMAC3's
    # intensifier queues every configuration already in the history at its first ask (O(n^2)
    # comparisons), a one-off a running worker never pays again, so it stays out of the timing.
    first = smac.ask()
    for config in history:
        tell(config, first.seed)
    walls, cpus = [], []
    for _ in range(RETRAIN_AFTER):
        wall, cpu = time.perf_counter(), time.process_time()
        info = smac.ask()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        tell(info.config, info.seed)
    return walls[0], cpus[0], sum(walls) / len(walls), sum(cpus) / len(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="history sizes 50 and 200 only")
    args = parser.parse_args()
    sizes = (50, 200) if args.quick else (50, 200, 1000)
    print(
        f"one retrain cycle ({RETRAIN_AFTER} asks) per cell, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}\n"
    )
    print(
        "| function | n | components | retraining ask s (CPU s) "
        "| amortised ms per ask (CPU ms) | wall vs stock |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for function in FUNCTIONS:
            for size in sizes:
                stock = None
                for variant in VARIANTS:
                    retrain, retrain_cpu, per_ask, per_ask_cpu = measure(
                        function, size, variant, Path(folder)
                    )
                    stock = stock or per_ask
                    print(
                        f"| {function} | {size} | {variant.name}"
                        f" | {retrain:.2f} ({retrain_cpu:.2f})"
                        f" | {per_ask * 1000:.0f} ({per_ask_cpu * 1000:.0f})"
                        f" | {stock / per_ask:.1f}x |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
