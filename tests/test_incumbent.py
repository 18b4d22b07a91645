"""The one incumbent rule, case by case."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smac_bridge.incumbent import BestRunSoFar, best_run, incumbent


def run(run_id: str, x: float, status: str = "SAT", cost: float | None = None, **more):
    quality = more.pop("quality", cost if cost is not None else x)
    return {
        "run_id": run_id,
        "worker": 1,
        "config": {"x": x},
        "instance": "no_instance",
        "seed": -1,
        "status": status,
        "quality": quality,
        "cost": cost if cost is not None else quality,
        "reused_from": None,
        **more,
    }


INF = float("inf")
NAN = float("nan")

CASES = [
    ("no runs", [], None),
    ("only failures", [run("00001", 1, "UNSAT", 1e9), run("00002", 2, "CRASHED", 1e9)], None),
    ("the lowest SAT", [run("00001", 3), run("00002", 1), run("00003", 2)], "00002"),
    (
        "a timed-out partial quality below every SAT does not win",
        [run("00001", 3), run("00002", 0.5, "TIMEOUT"), run("00003", 2)],
        "00003",
    ),
    (
        "a SAT with an infinite quality does not win",
        [run("00001", 3), run("00002", 0.1, quality=INF, cost=1e9)],
        "00001",
    ),
    ("a SAT with NaN does not win", [run("00001", 3), run("00002", 0.1, quality=NAN)], "00001"),
    (  # the tables call it "no quality": it outranked a configuration run on fewer seeds
        "a SAT with SMAC's crash quality 1e9 is no result",
        [run("00001", 1, cost=1e9, seed=1), run("00002", 1, cost=1e9, seed=2), run("00003", 2)],
        "00003",
    ),
    (
        "ties go to the configuration that ran first",
        [run("00002", 1), run("00001", 2, cost=1)],
        "00001",
    ),
    (  # their sum overflowed math.fsum: every view of the rungroup died on OverflowError
        "two runs of a diverged 1e308 each have a mean",
        [run("00001", 1, cost=1e308, seed=1), run("00002", 1, cost=1e308, seed=2)],
        "00001",
    ),
    (
        "and lose to a configuration that trained",
        [run("00001", 1, cost=1e308, seed=1), run("00002", 1, cost=1e308, seed=2)]
        + [run("00003", 2, cost=0.5, seed=1), run("00004", 2, cost=0.5, seed=2)],
        "00003",
    ),
    (  # as strings, "100000" < "99999": the 100,000th run took the ties of earlier ones
        "ties go to the first run past 99,999 runs too",
        [run("100000", 1), run("99999", 2, cost=1)],
        "99999",
    ),
    (
        "reused records are no runs",
        [run("00001", 3), run("00002", 1, reused_from="00009")],
        "00001",
    ),
    (
        "a configuration's mean over its seeds counts, failures included",
        [
            run("00001", 1, cost=0.5),
            run("00002", 1, "UNSAT", 1e9, quality=1e9),
            run("00003", 2, cost=2.0),
        ],
        "00003",
    ),
    (  # its SAT 0.5 and a partial -200 made a mean of -99.75, over two SAT runs of 0.3
        "a partial quality counts no better than its configuration's worst finished run",
        [
            run("00001", 5, cost=0.5, seed=1),
            run("00002", 5, "TIMEOUT", -200.0, seed=2, partial=True),
            run("00003", 3, cost=0.3, seed=1),
            run("00004", 3, cost=0.3, seed=2),
        ],
        "00003",
    ),
    (  # a classic wrapper's TIMEOUT line with a quality of 0, not flagged partial
        "a timed-out run's quality counts no better than the worst finished run, flagged or not",
        [
            run("00001", 5, cost=0.05, seed=1),
            run("00002", 5, "TIMEOUT", 0.0, seed=2),
            run("00003", 5, cost=0.1, seed=3),
            run("00004", 3, cost=0.07, seed=1),
            run("00005", 3, cost=0.07, seed=2),
            run("00006", 3, cost=0.07, seed=3),
        ],
        "00004",
    ),
    (  # summed in this order 0.1 + 0.2 + 0.3 is 0.6000000000000001, 0.3 + 0.2 + 0.1 is 0.6
        "a tie of means goes to the configuration that ran first, whatever order they sum in",
        [
            run(f"0000{n}", x, cost=c, seed=n)
            for n, (x, c) in enumerate(
                [(1, 0.1), (1, 0.2), (1, 0.3), (2, 0.3), (2, 0.2), (2, 0.1)], start=1
            )
        ],
        "00001",
    ),
    (
        "one lucky run on an easy instance does not outrank a mean over several",
        [
            run("00001", 1, cost=0.3, instance="fold-1"),
            run("00002", 1, cost=0.2, instance="fold-2"),
            run("00003", 2, cost=0.1, instance="fold-2"),
        ],
        "00002",
    ),
    (
        "nor does one lucky seed",
        [
            run("00001", 1, cost=0.3, seed=1),
            run("00002", 1, cost=0.2, seed=2),
            run("00003", 2, cost=0.1, seed=2),
        ],
        "00002",
    ),
    (  # it was the incumbent, run on more pairs: `best` copied the model of 4.0
        "a design's rows on seeds of their own are no race: a row repeated is no better",
        [
            run("00001", 1, cost=4.0, seed=1),
            run("00002", 1, cost=4.0, seed=2),
            run("00003", 2, cost=1.0, seed=3),
        ],
        "00003",
    ),
    (
        "nor are pairs that overlap without one set holding the other",
        [
            run("00001", 1, cost=0.5, seed=1),
            run("00002", 1, cost=0.5, seed=2),
            run("00003", 2, cost=0.3, seed=2),
            run("00004", 2, cost=0.3, seed=3),
        ],
        "00003",
    ),
    (
        "a repeated trial is one pair",
        [run("00001", 1, cost=0.3), run("00002", 1, cost=0.3), run("00003", 2, cost=0.1)],
        "00003",
    ),
    (
        "its best run is its lowest-cost SAT run",
        [run("00001", 1, cost=0.6), run("00002", 1, cost=0.4), run("00003", 2, cost=0.55)],
        "00002",
    ),
    (  # records come in the order the runs ended; `best --copy-to` copies one folder
        "of two seeds tied on cost, the lower run id is its best run",
        [run("00002", 1, cost=0.4, seed=2), run("00001", 1, cost=0.4, seed=1)],
        "00001",
    ),
]


@pytest.mark.parametrize(("what", "records", "expected"), CASES, ids=[c[0] for c in CASES])
def test_incumbent_rule(what: str, records: list[dict], expected: str | None) -> None:
    found = best_run(records)
    assert (found["run_id"] if found else None) == expected


def test_the_incumbent_names_its_configuration_mean_cost_and_runs() -> None:
    records = [run("00001", 1, cost=0.6), run("00002", 1, cost=0.4), run("00003", 2, cost=0.55)]
    found = incumbent(records)
    assert found == {
        "config": {"x": 1},
        "cost": 0.5,
        "run_id": "00002",
        "run_ids": ["00001", "00002"],
    }
    # its runs that make up the mean, a failure among them: the summary lists them all
    records = [run("00001", 1, cost=0.1, seed=1), run("00002", 1, "CRASHED", 1.0, seed=2)]
    records += [run("00003", 2, cost=0.7, seed=1), run("00004", 2, cost=0.7, seed=2)]
    found = incumbent(records)
    assert found is not None and found["cost"] == 0.55
    assert found["run_ids"] == ["00001", "00002"]


def test_under_a_runtime_objective_a_timeout_costs_its_penalty_in_the_mean() -> None:
    """A TIMEOUT's PAR10 cost (20 at a 2 s cutoff) was raised to the configuration's worst
    solved cost (25: a SAT reported past the cutoff, as CPU-time wrappers do): mean 25, not
    22.5, where Java SMAC ranks by the mean of the PAR-k costs."""
    records = [
        run("00001", 1, cost=25.0, instance="a", run_obj="runtime"),
        run("00002", 1, "TIMEOUT", cost=20.0, quality=0.0, instance="b", run_obj="runtime"),
    ]
    found = incumbent(records)
    assert found is not None and found["cost"] == 22.5
    quality_records = [{**r, "run_obj": "quality"} for r in records]  # a partial quality: capped
    assert incumbent(quality_records)["cost"] == 25.0


def test_with_budgets_only_the_highest_budget_reached_competes() -> None:
    records = [
        run("00001", 1, cost=0.1, budget=1.0),  # a lucky first epoch
        run("00002", 2, cost=0.5, budget=9.0),
        run("00003", 3, cost=0.4, budget=9.0, status="TIMEOUT"),  # not finished
        run("00004", 4, cost=0.6, budget=9.0),
    ]
    assert best_run(records)["run_id"] == "00002"
    assert best_run(records[:1])["run_id"] == "00001"  # nothing else finished yet


# What a rungroup's records hold, in any mix: few configurations and (instance, seed) pairs
# (so that they repeat), budgets, every status, costs that are tied, infinite or NaN, reused
# runs.
generated_runs = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["SAT", "SAT", "TIMEOUT", "CRASHED", "UNSAT"]),
        st.sampled_from([0.1, 0.5, 2.0, INF, NAN]) | st.floats(-5, 5),
        st.sampled_from([None, None, 1.0, 9.0]),
        st.integers(0, 1),
        st.sampled_from(["fold1", "fold1", "fold1", "fold2"]),
        st.booleans(),
    ),
    max_size=40,
)
# The incumbent's configuration gets a worse run on a pair it ran on: another one wins.
DEMOTED = [
    (1, "SAT", 0.1, None, 0, "fold1", False),
    (2, "SAT", 0.5, None, 0, "fold1", False),
    (1, "SAT", 2.0, None, 0, "fold1", False),
]
# A partial quality better than every finished one counts no better than the worst finished
# run: the configuration with two finished runs at 0.4 beats 0.5 and a partial 0.1.
PARTIAL_CAPPED = [
    (1, "SAT", 0.5, None, 0, "fold1", False),
    (1, "TIMEOUT", 0.1, None, 1, "fold1", False),
    (2, "SAT", 0.4, None, 0, "fold1", False),
    (2, "SAT", 0.4, None, 1, "fold1", False),
]


@settings(max_examples=300)
@example(DEMOTED)
@example(PARTIAL_CAPPED)
@given(generated_runs)
def test_the_best_run_so_far_is_the_best_run_of_every_prefix(draws) -> None:
    """The incremental incumbent behind the best-so-far curves and the workers' trajectories
    follows the one rule after every record, in any order of budgets, failures and repeated
    configurations."""
    records = [
        run(f"{n:05d}", x, status, cost=cost, budget=budget, seed=seed, instance=instance)
        | {
            "reused_from": "00001" if reused and n > 1 else None,
            "partial": status == "TIMEOUT" and n % 2 == 0,
        }
        for n, (x, status, cost, budget, seed, instance, reused) in enumerate(draws, start=1)
    ]
    so_far = BestRunSoFar()
    for index, record in enumerate(records, start=1):
        so_far.add(record)
        assert so_far.best_run() is best_run(records[:index])
        assert so_far.incumbent() == incumbent(records[:index])  # a worker's trajectory row
    # records come in the order runs ended, which differs between views and workers
    assert incumbent(records[::-1]) == incumbent(records)
