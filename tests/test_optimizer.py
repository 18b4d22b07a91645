"""The optimiser's fast components must change the cost of `ask()`, never its proposals.

Two HPO facades on Branin with the same seed, one with the fast selector and single-threaded
forest and one with SMAC3's stock selector and forest, are told the same random trials; they
must then ask for the very same configurations, through several model retrains.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import Categorical, Configuration, ConfigurationSpace, Float
from hypothesis import given
from hypothesis import strategies as st
from smac import HyperparameterOptimizationFacade as HPO
from smac import Scenario
from smac.intensifier.intensifier import Intensifier
from smac.main.config_selector import ConfigSelector
from smac.runhistory.dataclasses import TrialInfo, TrialValue
from smac.runhistory.enumerations import StatusType
from smac.runhistory.runhistory import RunHistory

from smac_bridge import optimizer
from smac_bridge.pcs import parse_pcs, plain_values

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
        model = optimizer.make_model(scenario, "hpo")
        selector = optimizer.make_config_selector(scenario, retrain_after=RETRAIN_AFTER)
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


def test_the_indexed_intensifier_proposes_what_smac3s_does_after_a_replayed_history(
    tmp_path: Path,
) -> None:
    """A resumed worker is told its history before its first ask; SMAC3's intensifier then
    asks of every configuration whether it was rejected. The index must answer as SMAC3's
    list does: not deterministic, so a rejected configuration it missed would be raced on
    new seeds and change the proposals."""
    space = branin_space()
    space.add(Categorical("kind", ["a", "b", "c"], default="a"))
    history = space.sample_configuration(60)
    asked: list[list[dict[str, object]]] = []
    rejected_ids: list[list[int]] = []
    for intensifier in (Intensifier, optimizer.IndexedIntensifier):
        scenario = Scenario(
            space, name=intensifier.__name__, output_directory=tmp_path, n_trials=1000, seed=3
        )
        smac = HPO(
            scenario,
            None,
            model=optimizer.make_model(scenario, "hpo"),
            initial_design=HPO.get_initial_design(scenario, n_configs=1),
            intensifier=intensifier(scenario, max_config_calls=3, seed=0),
            acquisition_maximizer=HPO.get_acquisition_maximizer(
                scenario, challengers=500, local_search_iterations=3
            ),
            logging_level=40,
            overwrite=True,
        )
        # Every configuration ran on one seed, the three best on two more, as racing
        # leaves them; rebuilt from plain values, as records are.
        told = [Configuration(space, values=plain_values(config)) for config in history]
        best = sorted(told, key=branin_kind)[:3]
        for config, seed in [(c, 0) for c in told] + [(c, s) for s in (1, 2) for c in best]:
            smac.tell(TrialInfo(config=config, seed=seed), TrialValue(cost=branin_kind(config)))
        rejected = smac.intensifier.get_rejected_configs()
        assert len(rejected) > 10
        rejected_ids.append(list(smac.intensifier._rejected_config_ids))
        proposals = []
        for _ in range(ASKED):
            info = smac.ask()
            proposals.append(plain_values(info.config) | {"seed": info.seed})
            smac.tell(info, TrialValue(cost=branin_kind(info.config)), save=False)
        asked.append(proposals)
    assert asked[0] == asked[1]
    assert rejected_ids[0] == rejected_ids[1]  # the same ids, in SMAC3's order
    indexed = smac.intensifier.get_rejected_configs()
    config = indexed[0]
    twin = Configuration(
        space,
        values={
            k: np.str_(v) if isinstance(v, str) else np.float64(v)
            for k, v in plain_values(config).items()
        },
    )
    assert twin in indexed and twin in list(indexed)


_REJECTING: list[tuple[Intensifier, optimizer.IndexedIntensifier, optimizer._ShortStages]] = []


def rejecting_intensifiers(
    folder: Path,
) -> tuple[Intensifier, optimizer.IndexedIntensifier, optimizer._ShortStages]:
    """SMAC3's intensifier and the two whose rejected ids have a set beside them (made once:
    hypothesis runs the test many times)."""
    if not _REJECTING:
        scenario = Scenario(branin_space(), output_directory=folder, n_trials=10, seed=3)
        _REJECTING.append(
            (
                Intensifier(scenario, seed=0),
                optimizer.IndexedIntensifier(scenario, seed=0),
                optimizer._ShortStages(scenario, seed=0),
            )
        )
    return _REJECTING[0]


@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "remove", "reset", "load"]), st.integers(0, 6)),
        max_size=40,
    )
)
def test_rejected_ids_change_as_smac3s_list(tmp_path_factory: pytest.TempPathFactory, ops) -> None:
    """Adds and removes of rejected configuration ids, with SMAC3 replacing the list between
    them (`reset`, `load`): the same list, in the same order, as SMAC3's own methods leave."""
    intensifiers = rejecting_intensifiers(tmp_path_factory.mktemp("rejecting"))
    for intensifier in intensifiers:
        intensifier._rejected_config_ids = []
    for op, config_id in ops:
        for intensifier in intensifiers:
            if op == "add":
                intensifier._add_rejected_config(config_id)
            elif op == "remove":
                intensifier._remove_rejected_config(config_id)
            elif op == "reset":
                intensifier._rejected_config_ids = []
            else:  # as `load` sets it from the saved file
                intensifier._rejected_config_ids = list(range(config_id))
        stock = intensifiers[0]._rejected_config_ids
        assert all(other._rejected_config_ids == stock for other in intensifiers[1:])


def branin_kind(config: Configuration) -> float:
    return branin(float(config["x"]), float(config["y"])) + {"a": 0, "b": 1, "c": 5}[config["kind"]]


statuses = st.sampled_from([StatusType.SUCCESS, StatusType.CRASHED, StatusType.RUNNING])
costs = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-10, 10)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), statuses, costs, st.booleans())))
def test_incremental_objective_bounds_are_smac3s(adds) -> None:
    """Every add, in any order, replacing running or finished trials: the bounds SMAC3's
    rescan would give."""
    space = branin_space()
    configs = space.sample_configuration(4)
    stock, incremental = RunHistory(), optimizer.IncrementalBoundsRunHistory()
    for config_index, seed, status, cost, force in adds:
        for history in (stock, incremental):
            history.add(configs[config_index], cost, status=status, seed=seed, force_update=force)
        np.testing.assert_array_equal(incremental.objective_bounds, stock.objective_bounds)


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
    assert isinstance(selector, optimizer.FastConfigSelector)
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


# ---- what the worker's optimiser is told ----------------------------------------------------


def optimizer_for(
    folder: Path,
    pcs: str,
    budget: int = 40,
    facade: str = "hpo",
    belief: str = "none",
    partial: str = "capped",
    run_obj: str = "quality",
    crash_cost: float = 1e9,
    deterministic: bool = True,
    **setting: object,
) -> optimizer.Optimizer:
    return optimizer.Optimizer(
        optimizer.Setting(
            space=parse_pcs(pcs),
            seed=1,
            name="t",
            output_directory=folder,
            deterministic=deterministic,
            run_obj=run_obj,
            crash_cost=crash_cost,
            budget=budget,
            facade=facade,
            running_belief=belief,
            partial_quality=partial,
            **setting,  # type: ignore[arg-type]
        )
    )


def record(run_id: int, proposal: optimizer.Proposal, status: str, quality: float) -> dict:
    cost = quality if status != "CRASHED" else max(quality, 1e9)
    return {
        "run_id": f"{run_id:05d}",
        "worker": 1,
        "config": proposal.config,
        "smac_seed": proposal.smac_seed,
        "status": status,
        "quality": quality,
        "cost": cost,
        "runtime": 0.1,
        "started": 1.0,
        "ended": 2.0,
    }


BRANIN_PCS = "x real [-5, 10] [2.5]\ny real [0, 15] [7.5]\n"


def hyperband_on_branin(folder: Path) -> optimizer.Optimizer:
    """A multi-fidelity optimiser over 1 to 9 epochs on Branin; a budget of 4 runs gives it a
    one-configuration initial design."""
    return optimizer_for(folder, BRANIN_PCS, 4, with_default=False, min_budget=1.0, max_budget=9.0)


def tell_branin(
    smac: optimizer.Optimizer, n: int, x: float, y: float, budget: float, cost: float | None = None
) -> None:
    """Tell SMAC another worker's run N of Branin at (X, Y) on BUDGET (COST: Branin's value)."""
    cost = branin(x, y) if cost is None else cost
    row = {"run_id": f"{n:05d}", "worker": 2, "config": {"x": x, "y": y}, "smac_seed": 0}
    row |= {"status": "SAT", "quality": cost, "cost": cost, "budget": budget}
    assert smac.tell_record({**row, "runtime": 0.1, "started": 1.0, "ended": 2.0}, None)


def test_a_stage_holds_only_configurations_an_advanced_forbidden_clause_allows(tmp_path):
    """A proposal the clause rejected was told as crashed and took a place in the first
    successive-halving stage: a stage of 9 held 3 configurations that ran, and promoted all
    of them, the worst included."""
    pcs = "x real [0, 1] [0.9]\ny real [0, 1] [0.9]\n{ x + y < 1.5 }\n"
    smac = optimizer_for(tmp_path, pcs, 13, with_default=False, min_budget=1.0, max_budget=9.0)
    first = [smac.ask() for _ in range(9)]
    assert all(p is not None and p.config["x"] + p.config["y"] >= 1.5 for p in first)
    assert {p.budget for p in first} == {1.0} and smac.forbidden_told == 0
    for n, proposal in enumerate(first, start=1):
        smac.tell(proposal, {**record(n, proposal, "SAT", n / 10), "budget": 1.0})
    promoted = [smac.ask() for _ in range(3)]
    assert {p.budget for p in promoted} == {3.0}
    assert [p.config for p in promoted] == [p.config for p in first[:3]]  # the 3 best


def test_a_categorical_proposal_and_its_record_are_one_configuration(tmp_path: Path) -> None:
    """SMAC3 proposes numpy strings; a record holds Python ones: one run-history entry."""
    smac = optimizer_for(tmp_path, "act {relu, tanh, 1e3} [relu]\nunits integer [1, 64] [8]\n")
    proposal = smac.ask()
    assert proposal is not None
    assert {type(v) for v in proposal.config.values()} <= {str, int}
    smac.tell(proposal, record(1, proposal, "SAT", 0.5))
    twin = json.loads(json.dumps(record(2, proposal, "SAT", 0.5)))  # as read back from a file
    assert smac.tell_record(twin, None)
    assert len(smac._facade.runhistory.get_configs()) == 1
    for n in range(3, 15):  # asking on, through model retrains
        proposal = smac.ask()
        assert proposal is not None
        smac.tell(proposal, record(n, proposal, "SAT", 1.0 + n / 100))
    assert not smac.tell_record({**twin, "config": {"act": "sigmoid", "units": 3}}, None)


def test_a_record_of_a_trial_smac3_runs_is_told_as_one_configuration(tmp_path: Path) -> None:
    """A configuration made from a record's values held Python strings, SMAC3's own numpy
    ones: equal, but hashed apart, they were two configurations in SMAC3's run history. Another
    worker's result then took this worker's running trial of it off SMAC3's running list, and
    the worker died on SMAC3's check when it saved (`_running == len(_running_trials)`)."""
    smac = optimizer_for(tmp_path, "act {relu, tanh, 1e3} [relu]\nunits integer [1, 64] [8]\n")
    runhistory = smac._facade.runhistory
    sampled = smac._facade.scenario.configspace.sample_configuration()  # values from its vector
    runhistory.add_running_trial(TrialInfo(config=sampled, seed=7))  # as SMAC3's ask does
    peer = {"run_id": "00001", "worker": 2, "config": plain_values(sampled), "smac_seed": 7}
    peer |= {"status": "SAT", "quality": 0.5, "cost": 0.5, "runtime": 0.1}
    assert smac.tell_record(json.loads(json.dumps({**peer, "started": 1.0, "ended": 2.0})), None)
    assert len(runhistory.get_configs()) == 1
    runhistory.save(tmp_path / "runhistory.json")  # SMAC3 checks its running trials here


LOG_TOPS = "C real [0.001, 1000] [1000] log\nx real [-5, 995] [505.33]\nn [1, 4096] [4096]il\n"
"""A space whose default and some samples do not come back from their vectors exactly."""


def test_a_default_its_vector_does_not_give_back_is_recorded_as_run_and_run_once(tmp_path):
    """The script got C = 1000 (the top of its log range); made again from its vector, the
    record said 999.9999999999998, and SMAC3, whose initial design holds the default as
    given, proposed the default again in a deterministic scenario."""
    default = {"C": 1000.0, "x": 505.33, "n": 4096}
    made_before = {"C": 999.9999999999998, "x": 505.3299999999999, "n": 4096}  # old records
    for name, values in (("now", default), ("resumed", made_before)):
        smac = optimizer_for(tmp_path / name, LOG_TOPS)
        adopted = smac.adopt(values)
        assert adopted.config == default
        smac.tell(adopted, record(1, adopted, "SAT", 3.0))
        later = [smac.ask() for _ in range(12)]
        assert all(p is not None and p.config != default for p in later)


def test_a_record_of_values_its_vector_does_not_give_back_is_one_configuration(tmp_path):
    """Another worker's record of a sampled configuration whose values, made again from their
    vector, differ in the last digits: it was a second configuration in SMAC3's history."""
    smac = optimizer_for(tmp_path, LOG_TOPS)
    space = smac._facade.scenario.configspace
    drifting = []
    for sampled in space.sample_configuration(400):
        again = Configuration(space, values=plain_values(sampled))
        if plain_values(Configuration(space, vector=again.get_array())) != plain_values(sampled):
            drifting.append(sampled)
    assert drifting  # the space has such values
    runhistory = smac._facade.runhistory
    for seed, sampled in enumerate(drifting[:5]):
        runhistory.add_running_trial(TrialInfo(config=sampled, seed=seed))
        peer = {"run_id": f"{seed + 1:05d}", "worker": 2, "config": plain_values(sampled)}
        peer |= {"smac_seed": seed, "status": "SAT", "quality": 0.5, "cost": 0.5, "runtime": 0.1}
        assert smac.tell_record(json.loads(json.dumps({**peer, "started": 1, "ended": 2})), None)
    assert len(runhistory.get_configs()) == len(drifting[:5])
    runhistory.save(tmp_path / "runhistory.json")  # SMAC3 checks its running trials here


def test_partial_qualities_below_every_success_keep_the_model_finite(tmp_path: Path) -> None:
    """A timed-out run that reported a better partial quality than every finished run once
    turned SMAC3's log-scaled cost encoding into NaN and killed every worker."""
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.5]\nkind {a, b} [a]\n", partial="reported")
    outcomes = [("SAT", 1.0), ("SAT", 2.0), ("TIMEOUT", 0.001), ("UNSAT", 1e9), ("CRASHED", 3.0)]
    for n in range(1, 31):
        proposal = smac.ask()
        assert proposal is not None
        status, quality = outcomes[n % len(outcomes)]
        smac.tell(proposal, record(n, proposal, status, quality))
    data = json.loads(next(tmp_path.rglob("runhistory.json")).read_text())
    assert all(math.isfinite(row["cost"]) for row in data["data"])
    assert {row["status"] for row in data["data"]} <= {1, 2}  # SUCCESS and CRASHED only


def test_a_timeout_is_told_as_a_success_at_the_quality_it_kept(tmp_path: Path) -> None:
    """A TIMEOUT line printed on SIGTERM holds the quality reached, without the `partial`
    flag that report(..., partial=True) sets: it is as much a measurement (SMAC 2.10 uses
    it too). One that reported nothing has the failure quality, also told as it is."""
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.5]\n")
    told = [(0.25, 0.1, True), (0.5, 0.2, False), (1e9, 0.3, False)]
    for n, (quality, x, partial) in enumerate(told, start=1):
        run = record(n, smac.proposal({"x": x}, None, 0), "TIMEOUT", quality)
        assert smac.tell_record({**run, "config": {"x": x}, "partial": partial}, None)
    history = smac._facade.runhistory
    told_as = {
        round(history.get_config(k.config_id)["x"], 1): (v.status, v.cost)
        for k, v in history.items()
    }
    assert told_as == {
        0.1: (StatusType.SUCCESS, 0.25),
        0.2: (StatusType.SUCCESS, 0.5),
        0.3: (StatusType.SUCCESS, 1e9),
    }


@pytest.mark.parametrize("facade", ["blackbox", "hpo"])
def test_a_huge_finite_quality_is_told_as_a_failure_and_keeps_the_model_sound(tmp_path, facade):
    """A diverged training that printed 1e308 (or float32's 3.4e38) is a finite quality and
    SAT: told as it was, it overflowed the Gaussian process into NaN, and every worker died
    on "Input y contains NaN"."""
    smac = optimizer_for(tmp_path, BRANIN_PCS, 40, facade)
    for n in range(1, 25):
        proposal = smac.ask()
        assert proposal is not None
        quality = (1e308, 3.4e38, -1e308)[n % 3] if n % 4 == 0 else branin(**proposal.config)
        smac.tell(proposal, record(n, proposal, "SAT", quality))
    costs = [value.cost for value in smac._facade.runhistory.values()]
    assert all(abs(cost) <= 1e9 for cost in costs), costs


@pytest.mark.parametrize("facade", ["hpo", "mf"])
@pytest.mark.parametrize("lowest", [1e7, -1e7, 4e8])
def test_tied_lowest_costs_of_1e7_or_more_keep_the_forest_finite(tmp_path, facade, lowest):
    """A quality such as a model's size in bytes: two runs tied at the lowest cost of 1e7 or
    more lost SMAC3's 1e-10 margin to rounding, their encoded cost was log(0) = -inf, and the
    forest's fit killed the worker ("Input y contains infinity")."""
    budgets = {"min_budget": 1.0, "max_budget": 9.0} if facade == "mf" else {}
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.1]\nk {a, b} [a]\n", 60, facade, **budgets)
    for n in range(1, 31):
        proposal = smac.ask()
        assert proposal is not None
        quality = (
            lowest if proposal.config["x"] < 0.5 else lowest + abs(lowest) * proposal.config["x"]
        )
        smac.tell(proposal, record(n, proposal, "SAT", quality))
    selector = smac._facade.intensifier.config_selector
    costs = np.array([[v.cost] for v in smac._facade.runhistory.values()])
    encoded = selector._runhistory_encoder.transform_response_values(costs)
    assert np.isfinite(encoded).all() and len(costs) == 30


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pcs", ["k {a} [a]\n", "a {x, z} [x]\nb {y} [y]\nb | a == x\n"])
def test_a_space_of_a_few_asked_while_they_run_says_nothing_now_and_more_later(tmp_path, pcs):
    """Asked while every configuration of a tiny space ran (a worker asks ahead), SMAC3 drew
    them at random again and again, for ever: the launch spun at 100% CPU and never ended.
    It has nothing now; once the results are told, another seed is due."""
    smac = optimizer_for(tmp_path, pcs, 12, deterministic=False)
    running = []
    with pytest.raises(optimizer.NothingToPropose):
        while True:
            running.append(smac.ask())
    assert running
    for n, proposal in enumerate(running, start=1):
        smac.tell(proposal, record(n, proposal, "SAT", 0.5))
    again = smac.ask()  # the same configuration, on another seed
    assert again is not None and again.config in [p.config for p in running]
    assert (again.config, again.smac_seed) not in [(p.config, p.smac_seed) for p in running]


@pytest.mark.parametrize("partial", ["capped", "reported"])
def test_a_partial_quality_is_told_no_better_than_the_worst_finished_run(
    tmp_path: Path, partial: str
) -> None:
    """A run stopped at its cutoff after most of a training can report a quality better than
    every finished run; `capped` keeps SMAC3 from proposing more such runs, which never
    become the incumbent."""
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.5]\n", partial=partial)
    told = [("SAT", 0.3, 0.1), ("SAT", 0.5, 0.2), ("TIMEOUT", 0.05, 0.7), ("TIMEOUT", 0.9, 0.8)]
    for n, (status, quality, x) in enumerate(told, start=1):
        run = {**record(n, smac.proposal({"x": x}, None, 0), status, quality), "config": {"x": x}}
        assert smac.tell_record(run, None)
    history = smac._facade.runhistory
    costs = {round(history.get_config(k.config_id)["x"], 1): v.cost for k, v in history.items()}
    capped = partial == "capped"
    assert costs == {0.1: 0.3, 0.2: 0.5, 0.7: 0.5 if capped else 0.05, 0.8: 0.9}


def test_a_diverged_finished_run_does_not_raise_the_cap_of_partial_qualities(tmp_path):
    """A run that finished with a loss of 1e308 is told as a failure (1e9); were it the
    worst finished run, every later pruned or timed-out run would be told as a crash."""
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.5]\n")
    told = [("SAT", 0.3, 0.1), ("SAT", 1e308, 0.2), ("TIMEOUT", 0.05, 0.7)]
    for n, (status, quality, x) in enumerate(told, start=1):
        run = {**record(n, smac.proposal({"x": x}, None, 0), status, quality), "config": {"x": x}}
        assert smac.tell_record(run, None)
    history = smac._facade.runhistory
    costs = {round(history.get_config(k.config_id)["x"], 1): v.cost for k, v in history.items()}
    assert costs == {0.1: 0.3, 0.2: 1e9, 0.7: 0.3}


def test_a_run_of_a_runtime_objective_at_its_cutoff_is_told_as_a_failure_at_its_par_cost(
    tmp_path,
):
    """SMAC3 must not take a timed-out solver run as a measured runtime (its encoder turns a
    TIMEOUT below the successes into NaN): CRASHED at its PAR10 cost."""
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.5]\n", run_obj="runtime", crash_cost=600.0)
    for n, (status, cost, x) in enumerate([("SAT", 2.0, 0.1), ("TIMEOUT", 600.0, 0.7)], start=1):
        run = {**record(n, smac.proposal({"x": x}, None, 0), status, 0.0), "config": {"x": x}}
        assert smac.tell_record({**run, "cost": cost}, None)
    history = smac._facade.runhistory
    told = {
        round(history.get_config(k.config_id)["x"], 1): (v.status.name, v.cost)
        for k, v in history.items()
    }
    assert told == {0.1: ("SUCCESS", 2.0), 0.7: ("CRASHED", 600.0)}


def test_the_worst_belief_is_the_worst_finished_run_of_any_budget(tmp_path):
    smac = optimizer_for(
        tmp_path, "x real [0, 1] [0.5]\n", belief="worst", with_default=False,
        min_budget=1.0, max_budget=9.0,
    )  # fmt: skip
    for n, (quality, x, budget) in enumerate([(3.0, 0.1, 1.0), (1.0, 0.2, 3.0)], start=1):
        proposal = smac.proposal({"x": x}, None, 0, budget)
        run = {**record(n, proposal, "SAT", quality), "config": {"x": x}, "budget": budget}
        assert smac.tell_record(run, None)
    smac.tell_running({"x": 0.9}, None, 7, 3.0)
    history = smac._facade.runhistory
    costs = {round(history.get_config(k.config_id)["x"], 1): v.cost for k, v in history.items()}
    assert costs[0.9] == 3.0


def test_a_partial_quality_is_capped_by_the_finished_runs_of_its_own_budget(tmp_path):
    """Hyperband ranks a stage's runs against each other: pruned 3-epoch runs capped by the
    worst 1-epoch run were all told the same cost, and the promotion among them was arbitrary.
    """
    smac = optimizer_for(
        tmp_path, "x real [0, 1] [0.5]\n", with_default=False, min_budget=1.0, max_budget=9.0
    )
    told = [  # status, quality, x, budget
        ("SAT", 0.8, 0.1, 1.0),
        ("TIMEOUT", 0.7, 0.2, 3.0),  # pruned: no 3-epoch run has finished yet
        ("TIMEOUT", 0.5, 0.3, 3.0),
        ("SAT", 0.6, 0.4, 3.0),
        ("TIMEOUT", 0.4, 0.5, 3.0),  # better than the finished 3-epoch run: capped by it
    ]
    for n, (status, quality, x, budget) in enumerate(told, start=1):
        proposal = smac.proposal({"x": x}, None, 0, budget)
        run = {**record(n, proposal, status, quality), "config": {"x": x}, "budget": budget}
        assert smac.tell_record(run, None)
    history = smac._facade.runhistory
    costs = {round(history.get_config(k.config_id)["x"], 1): v.cost for k, v in history.items()}
    assert costs == {0.1: 0.8, 0.2: 0.7, 0.3: 0.5, 0.4: 0.6, 0.5: 0.6}


def test_advanced_forbiddens_that_leave_nothing_end_the_asking(tmp_path: Path) -> None:
    smac = optimizer_for(tmp_path, "x real [-5, 10] [2.5]\n{ x != 2.5 }\n")
    with pytest.raises(optimizer.NothingToPropose, match="rejected"):
        for n in range(1, 1000):
            proposal = smac.ask()
            assert proposal is not None
            smac.tell(proposal, record(n, proposal, "SAT", 1.0))


@pytest.mark.parametrize(
    ("pcs", "budget", "size"),
    [
        ("x real [0, 1] [0.5]\ny real [0, 1] [0.5]\n", 40, 10),  # a quarter of the budget
        # no run limit (a wall-clock limit alone): sized for SMAC3's default of 100 trials,
        # not 10 per parameter (40 random runs here, 70 for the MNIST space)
        ("x real [0, 1] [0.5]\ny real [0, 1] [0.5]\nz [0, 1] [0.5]\nw [0, 1] [0.5]\n", None, 25),
    ],
)
def test_one_initial_design_is_dealt_out_to_the_workers(
    tmp_path: Path, pcs: str, budget: int | None, size: int
) -> None:
    """N workers share one design of the size one optimiser would use, round robin:
    min(10 per parameter, a quarter of the run budget)."""
    space = parse_pcs(pcs)
    default = space.space.get_default_configuration()

    def initial(index: int) -> list[dict]:
        smac = optimizer.Optimizer(
            optimizer.Setting(
                space=space,
                seed=index + 1,
                name=f"w{index}",
                output_directory=tmp_path,
                deterministic=True,
                run_obj="quality",
                crash_cost=1e9,
                budget=budget,
                facade="hpo",
                parallel=2,
                worker_index=index,
                split_design=True,
                with_default=index == 0,
            )
        )
        asked = []
        while True:
            proposal = smac.ask()
            assert proposal is not None
            if not str(proposal.info.config.origin).startswith("Initial"):
                return asked
            asked.append(proposal.config)
            smac.tell(proposal, record(len(asked), proposal, "SAT", 1.0))

    first, second = initial(0), initial(1)
    assert first[0] == dict(default) and dict(default) not in second
    design = first[1:] + second
    assert len(design) == size
    assert len({json.dumps(c, sort_keys=True) for c in design}) == size  # no repeats
    assert abs(len(first[1:]) - len(second)) <= 1


def test_an_unsplit_design_gives_each_worker_its_share_of_a_quarter_of_the_budget(tmp_path):
    """`split-initial-design = false`: each of 4 workers draws its own design, each sized for
    its quarter of the budget (40 runs: 10 for the design, 2 or 3 per worker), not 10 each."""
    smac = optimizer_for(
        tmp_path, "x real [0, 1] [0.5]\ny real [0, 1] [0.5]\n", budget=40, parallel=4,
        split_design=False, with_default=False,
    )  # fmt: skip
    designed = 0
    while str((proposal := smac.ask()).info.config.origin).startswith("Initial"):
        designed += 1
        smac.tell(proposal, record(designed, proposal, "SAT", 1.0))
    assert designed == 2  # int(0.25 * 40 / 4)


def test_a_running_trial_is_told_as_the_worst_finished_one_until_it_ends(tmp_path: Path) -> None:
    smac = optimizer_for(tmp_path, "x real [0, 1] [0.5]\nkind {a, b} [a]\n", belief="worst")
    other = {"x": 0.25, "kind": "b"}
    assert not smac.tell_running(other, None, 7)  # nothing finished: nothing to believe
    proposal = smac.ask()
    smac.tell(proposal, record(1, proposal, "SAT", 3.0))
    assert smac.tell_running(other, None, 7)
    history = smac._facade.runhistory
    (key,) = [k for k in history if dict(history.get_config(k.config_id)) == other]
    assert history[key].cost == 3.0  # the worst finished cost
    real = {**record(2, proposal, "SAT", 0.5), "config": other, "smac_seed": 7}
    assert smac.tell_record(real, None)
    assert history[key].cost == 0.5 and len(history) == 2  # replaced, not added


@pytest.mark.parametrize("facade", ["blackbox", "hpo"])
def test_a_running_trial_is_believed_at_the_models_mean(tmp_path: Path, facade: str) -> None:
    """The kriging believer: the model's own prediction, in costs, not in the encoder's units
    (the forest's are log-scaled), and nothing before the model was trained."""
    smac = optimizer_for(tmp_path, BRANIN_PCS, 40, facade, "mean")
    other = {"x": 9.0, "y": 2.5}  # near one of Branin's minima, not a design point
    costs = []
    for n in range(1, 40):
        proposal = smac.ask()
        assert proposal is not None
        if not str(proposal.info.config.origin).startswith("Initial"):
            break
        assert not smac.tell_running(other, None, 7)  # no model yet: nothing to believe
        costs.append(branin(**proposal.config))
        smac.tell(proposal, record(n, proposal, "SAT", costs[-1]))
    assert smac.tell_running(other, None, 7)
    history = smac._facade.runhistory
    (key,) = [k for k in history if dict(history.get_config(k.config_id)) == other]
    belief = history[key].cost
    assert math.isfinite(belief) and belief < max(costs) and belief not in costs
    model = smac._facade._config_selector._model
    config = history.get_config(key.config_id)
    mean = model.predict_marginalized(optimizer.convert_configurations_to_array([config]))[0]
    if facade == "blackbox":  # the Gaussian process predicts in costs
        assert belief == pytest.approx(float(mean[0, 0]), rel=1e-6)


def test_a_belief_after_a_new_best_result_stays_within_the_results(tmp_path: Path) -> None:
    """A result better than everything the forest was last trained on maps to NaN in its
    log-scaled units, and the belief about a running trial went out along the top segment
    of the interpolation: -1.7e9 in a 6-worker launch, which the next training's log scale
    made -inf, and a worker nobody touched died of NotFittedError."""
    smac = optimizer_for(tmp_path, BRANIN_PCS, 40, "hpo", "mean")
    for n in itertools.count(1):  # the design, with failures at x > 7, then one model ask
        proposal = smac.ask()
        assert proposal is not None
        if n > 12 and not str(proposal.info.config.origin).startswith("Initial"):
            break
        status = "CRASHED" if proposal.config["x"] > 7 else "SAT"
        smac.tell(proposal, record(n, proposal, status, branin(**proposal.config) + 5))
    smac.tell(proposal, record(n, proposal, "SAT", 0.01))  # better than all, not yet trained
    other = {"x": 0.0, "y": 5.0}
    assert smac.tell_running(other, None, 7)
    history = smac._facade.runhistory
    (key,) = [k for k in history if dict(history.get_config(k.config_id)) == other]
    assert 0.01 <= history[key].cost <= 1e9
    assert smac.ask() is not None  # the forest trains on it


def branin_after_its_design(
    folder: Path,
) -> tuple[optimizer.Optimizer, list[float], optimizer.Proposal]:
    """A Gaussian-process optimiser believing the model's mean, told its initial design, and
    its first proposal from the model (asked, not told)."""
    smac = optimizer_for(folder, BRANIN_PCS, 40, "blackbox", "mean")
    costs: list[float] = []
    while str((proposal := smac.ask()).info.config.origin).startswith("Initial"):
        costs.append(branin(**proposal.config))
        smac.tell(proposal, record(len(costs), proposal, "SAT", costs[-1]))
    return smac, costs, proposal


def test_a_belief_below_the_incumbents_cost_leaves_smac3s_incumbent(tmp_path: Path) -> None:
    """A running trial believed better than the best result became SMAC3's incumbent, and
    stayed it once its real, worse result came: SMAC3's trajectory named it."""
    smac, costs, asked = branin_after_its_design(tmp_path)
    space = smac._facade.scenario.configspace
    grid = [{"x": x, "y": y} for x in np.linspace(-5, 10, 16) for y in np.linspace(0, 15, 16)]
    below = [v for v in grid if (smac._belief(Configuration(space, v)) or 1e9) < min(costs)]
    assert below  # the Gaussian process dips below the best result somewhere
    intensifier = smac._facade.intensifier
    incumbents, trajectory = intensifier.get_incumbents(), list(intensifier.trajectory)
    assert smac.tell_running(below[0], None, asked.smac_seed)  # the seed every worker uses
    assert intensifier.get_incumbents() == incumbents
    assert list(intensifier.trajectory) == trajectory


def test_smac3s_saved_run_history_holds_what_ran(tmp_path: Path) -> None:
    """Beliefs about other workers' running trials are no results, and a trial asked when
    the worker ended never runs: SMAC3's tools read both from its saved run history."""
    smac, costs, asked = branin_after_its_design(tmp_path)  # asked ahead, never run
    other = {"x": 9.0, "y": 2.5}
    assert smac.tell_running(other, None, asked.smac_seed)
    saved = next(tmp_path.rglob("runhistory.json"))

    def rows() -> list[dict]:
        return json.loads(saved.read_text(encoding="utf-8"))["data"]

    smac.save()
    finished = [row["cost"] for row in rows() if row["status"] == StatusType.SUCCESS]
    assert sorted(finished) == sorted(costs)
    running = [row for row in rows() if row["status"] == StatusType.RUNNING]
    assert len(running) == 1  # the asked trial: in flight
    smac.save(final=True)
    assert sorted(row["cost"] for row in rows()) == sorted(costs)
    real = {**record(len(costs) + 1, asked, "SAT", 7.0), "config": other}
    assert smac.tell_record(real, None)  # the real result replaces the belief
    smac.save(final=True)
    assert sorted(row["cost"] for row in rows()) == sorted([*costs, 7.0])
    fresh = optimizer_for(tmp_path / "fresh", BRANIN_PCS, 40, "blackbox", "mean")
    folder = Path(fresh._facade.scenario.output_directory)
    for name in ("runhistory.json", "intensifier.json", "optimization.json"):
        shutil.copy(saved.parent / name, folder / name)
    fresh._facade.optimizer.load()  # SMAC3 reads its whole state back, the intensifier's too
    again = fresh._facade.runhistory
    assert (again.finished, again.running, len(again)) == (len(costs) + 1, 0, len(costs) + 1)


@pytest.mark.parametrize(
    ("pcs", "budget", "run_obj", "instances", "expected"),
    [
        ("x real [0, 1] [0.5]\nk {a, b} [a]\n", 100, "quality", False, "blackbox"),
        ("x real [0, 1] [0.5]\nk {a, b} [a]\n", 100, "quality", "features", "hpo"),
        ("x real [0, 1] [0.5]\nk {a, b} [a]\n", 201, "quality", False, "hpo"),
        ("x real [0, 1] [0.5]\nk {a, b} [a]\n", 200, "quality", False, "blackbox"),  # at most
        ("\n".join(f"x{i} real [0, 1] [0.5]" for i in range(10)), 50, "quality", False, "blackbox"),
        ("x real [0, 1] [0.5]\nk {a, b} [a]\n", None, "quality", False, "hpo"),
        ("k {a, b} [a]\nx real [0, 1] [0.5]\nx | k == a\n", 50, "quality", False, "hpo"),
        ("\n".join(f"x{i} real [0, 1] [0.5]" for i in range(11)), 50, "quality", False, "hpo"),
        ("x real [0, 1] [0.5]\n", 100, "runtime", True, "ac"),
    ],
)
def test_auto_picks_the_model_by_space_and_budget(pcs, budget, run_obj, instances, expected):
    space = parse_pcs(pcs)
    features = instances == "features"  # the Gaussian process cannot use them
    chosen = optimizer.choose_facade("auto", space, budget, run_obj, bool(instances), features)
    assert chosen == expected
    assert optimizer.choose_facade("random", space, budget, run_obj, bool(instances)) == "random"


@pytest.mark.parametrize("facade", ["random", "blackbox", "hpo"])
def test_only_the_first_worker_proposes_the_default_configuration(
    tmp_path: Path, facade: str
) -> None:
    """Two workers starting at once must not both run the default (the duplicate check is
    best effort): it belongs to the worker with `with_default`, whatever the facade."""
    pcs = "x [-5, 10] [2.5]\ny [0, 15] [7.5]\nkind {a, b, c} [b]\n"
    default = {"x": 2.5, "y": 7.5, "kind": "b"}
    firsts = []
    for worker_index, with_default in ((0, True), (1, False)):
        smac = optimizer.Optimizer(
            optimizer.Setting(
                space=parse_pcs(pcs),
                seed=worker_index + 1,
                name=f"w{worker_index}",
                output_directory=tmp_path / str(worker_index),
                deterministic=True,
                run_obj="quality",
                crash_cost=1e9,
                budget=40,
                facade=facade,
                parallel=2,
                worker_index=worker_index,
                split_design=True,
                with_default=with_default,
            )
        )
        proposals = [smac.ask() for _ in range(3)]
        firsts.append([p.config for p in proposals if p is not None])
    assert firsts[0][0] == default
    assert default not in firsts[1]


@pytest.mark.parametrize("facade", ["hpo", "blackbox", "random"])
def test_a_default_run_started_before_the_optimiser_is_adopted_on_its_first_seed(
    tmp_path: Path, facade: str
) -> None:
    """The first worker starts the default configuration before SMAC3 is imported: adopted
    once the optimiser exists, it gets the seed every trial of the launch gets, and SMAC3
    does not propose it again."""
    pcs = "x [-5, 10] [2.5]\ny [0, 15] [7.5]\nkind {a, b, c} [b]\n"
    default = {"x": 2.5, "y": 7.5, "kind": "b"}
    smac = optimizer_for(tmp_path / "adopting", pcs, facade=facade)
    adopted = smac.adopt(default)
    assert adopted.config == default and adopted.instance is None
    smac.tell(adopted, record(1, adopted, "SAT", 3.0))
    later = [smac.ask() for _ in range(12)]
    assert all(p is not None and p.config != default for p in later)
    fresh = optimizer_for(tmp_path / "fresh", pcs, facade=facade).ask()
    assert fresh is not None
    assert {p.smac_seed for p in later if p is not None} == {adopted.smac_seed, fresh.smac_seed}


@pytest.mark.parametrize("told_before", [1, 4])
def test_hyperband_started_on_a_history_compares_short_stages(
    tmp_path: Path, told_before: int
) -> None:
    """A worker that joins (or resumes) a multi-fidelity launch is told the history before
    its first ask; SMAC3 then fills its first stage from it one configuration short of what
    the next stage takes, and comparing that stage once raised ValueError in every ask."""
    setting = dict(
        space=parse_pcs(BRANIN_PCS),
        seed=1,
        name="mf",
        deterministic=True,
        run_obj="quality",
        crash_cost=1e9,
        min_budget=1.0,
        max_budget=9.0,
        eta=3,
    )
    first = optimizer.Optimizer(optimizer.Setting(output_directory=tmp_path / "1", **setting))
    history = []
    for n in range(1, told_before + 1):
        proposal = first.ask()
        assert proposal is not None
        history.append({**record(n, proposal, "SAT", float(n)), "budget": proposal.budget})
    joining = optimizer.Optimizer(optimizer.Setting(output_directory=tmp_path / "2", **setting))
    for row in history:
        assert joining.tell_record(row, None)
    budgets = []
    for n in range(told_before + 1, told_before + 30):
        proposal = joining.ask()
        assert proposal is not None
        budgets.append(proposal.budget)
        result = {**record(n, proposal, "SAT", 100.0 / n), "budget": proposal.budget}
        joining.tell(proposal, result)
    assert {3.0, 9.0} <= set(budgets)  # promotions happen


def test_proposals_learn_from_the_lower_budget_until_the_higher_has_enough_results(
    tmp_path: Path,
) -> None:
    """Multi-fidelity: thirty one-epoch results of Branin and one nine-epoch result far from
    its minima. SMAC3 by default trains its model on the highest budget's one result and
    proposes near random; the model must learn from the thirty until the nine-epoch budget
    holds one more result than there are parameters."""
    smac = hyperband_on_branin(tmp_path)
    rng = np.random.default_rng(0)
    points = [(float(x), float(y)) for x, y in rng.uniform((-5, 0), (10, 15), (30, 2))]
    for n, (x, y) in enumerate(points, start=1):
        tell_branin(smac, n, x, y, 1.0)
    tell_branin(smac, 31, -4.5, 1.0, 9.0, cost=1.0)
    selector = smac._facade._config_selector
    proposed = []  # from the model: neither the initial design nor SMAC3's interleaved random
    for config in selector:
        if not str(config.origin).startswith(("Initial", "Random")):
            proposed.append(branin(float(config["x"]), float(config["y"])))
        if len(proposed) == 6:
            break
    # near a minimum (0.398; the median at random is about 25), as the thirty results show
    assert max(proposed) < 10.0, sorted(proposed)


def test_a_new_bracket_takes_its_configurations_from_one_search_until_a_result_arrives(
    tmp_path: Path,
) -> None:
    """Successive halving asks for a whole first stage at once (nine configurations here);
    with no new result the model is the same, so one acquisition search serves them all. A
    new result refits the model and the next configurations come from a new search."""
    smac = hyperband_on_branin(tmp_path)
    rng = np.random.default_rng(1)
    for n, (x, y) in enumerate(rng.uniform((-5, 0), (10, 15), (20, 2)), start=1):
        tell_branin(smac, n, float(x), float(y), 1.0)
    selector = smac._facade._config_selector
    search = selector._acquisition_maximizer
    searches = []
    real_search = search._maximize
    search._maximize = lambda *args: searches.append(1) or real_search(*args)  # counts only
    configs = iter(selector)
    taken = [next(configs) for _ in range(9)]
    assert len(searches) == 1
    tell_branin(smac, 21, float(taken[0]["x"]), float(taken[0]["y"]), 1.0)
    taken += [next(configs) for _ in range(4)]
    assert len(searches) == 2
    assert len({(float(c["x"]), float(c["y"])) for c in taken}) == 13


def test_the_gaussian_process_on_a_conditional_space_proposes_valid_configurations(tmp_path):
    """`auto` never takes the Gaussian process for a conditional space, but `--facade
    blackbox` does: its search must then be SMAC3's, which keeps an inactive parameter unset
    (the vectorised one knows no conditions)."""
    pcs = "opt {sgd, adam} [sgd]\nlr [0.001, 0.1] [0.01]l\nmomentum [0, 0.99] [0.9]\n"
    smac = optimizer_for(tmp_path, pcs + "momentum | opt == sgd\n", 40, "blackbox")
    space = smac._facade.scenario.configspace
    for n in range(1, 26):  # the initial design (10), then the model's proposals
        proposal = smac.ask()
        assert proposal is not None
        Configuration(space, values=proposal.config).check_valid_configuration()
        assert ("momentum" in proposal.config) == (proposal.config["opt"] == "sgd")
        smac.tell(proposal, record(n, proposal, "SAT", proposal.config["lr"]))


def test_a_result_of_an_equal_configuration_hashed_apart_does_not_break_smac3s_save(tmp_path):
    """A categorical value from SMAC3's vector (numpy's str) and from a record (Python's)
    are equal configurations that hash apart: a result told for one took the other's running
    trial off SMAC3's list but not off its count, and the worker's next save died on SMAC3's
    assert (a 3-worker launch over 3 configurations), leaving runhistory.json empty."""
    space = ConfigurationSpace()
    space.add(Categorical("k", ["a", "bb", "ccc"]))
    recorded = Configuration(space, values={"k": "bb"})
    proposed = Configuration(space, vector=recorded.get_array())
    assert recorded == proposed and hash(recorded) != hash(proposed)
    history = optimizer.IncrementalBoundsRunHistory()
    history.add_running_trial(TrialInfo(proposed, seed=0))
    history.add(recorded, cost=1.0, status=StatusType.SUCCESS, seed=0, force_update=True)
    history.save(tmp_path / "runhistory.json")
    saved = json.loads((tmp_path / "runhistory.json").read_text())
    assert saved["stats"] == {"submitted": 2, "finished": 1, "running": 1}
    assert [trial.config for trial in history.get_running_trials()] == [proposed]
