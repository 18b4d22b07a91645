"""How a run record reads at a glance: finished, partial or failed, and why (outcomes.py)."""

from __future__ import annotations

import pytest

from smac_bridge import outcomes
from smac_bridge.records import same_config


def run(status: str, quality: float, **fields) -> dict:
    """A run record with only what the rules read."""
    return {"run_id": "00001", "status": status, "quality": quality, "cost": quality, **fields}


@pytest.mark.parametrize(
    ("record", "failure", "expected"),
    [
        (run("SAT", 0.02), 1.0, "ok"),
        (run("SAT", 1.0), 1.0, "ok"),  # an error of 100 % is still a measured error
        (run("SAT", 1e9), 1e9, "failed"),
        (run("SAT", 2.5e9), 1e9, "ok"),  # a squared error in raw units is still a quality
        (run("SAT", 2.5e9), 1.0, "ok"),
        (run("TIMEOUT", 2.5e9, partial=True, extra={}), 1e9, "partial"),
        (run("UNSAT", 1.0), 1.0, "failed"),
        (run("CRASHED", 1e9), 1e9, "failed"),
        (run("ABORT", 1e9), 1e9, "failed"),
        # timed out after reporting partial=True: its quality is the one reached so far
        (run("TIMEOUT", 0.3, extra={"partial": 1}), 1.0, "partial"),
        (run("TIMEOUT", 1.0, extra={"partial": 1}), 1.0, "partial"),
        (run("TIMEOUT", 1.0, partial=True, extra={}), 1.0, "partial"),  # records since the field
        # timed out without a report: it got the failure quality, which is no quality
        (run("TIMEOUT", 1.0, extra={}), 1.0, "failed"),
        (run("TIMEOUT", 1e9), 1e9, "failed"),
        (run("TIMEOUT", 1e9, extra={"partial": 1}), 1.0, "failed"),
        # a final report() just before the kill: a quality that is not the failure quality
        (run("TIMEOUT", 0.3), 1.0, "partial"),
        (run("TIMEOUT", 0.3), 1e9, "partial"),
        # `smac-bridge stop` keeps SAT when the script had reported
        (run("SAT", 0.04, stopped_by_user=True, extra={"partial": 1}), 1.0, "partial"),
        (run("TIMEOUT", 1.0, stopped_by_user=True), 1.0, "failed"),
        # stopped after its final report: a finished run, which may be the incumbent
        (run("SAT", 0.04, stopped_by_user=True, partial=False, solved=True), 1.0, "ok"),
        (run("SAT", float("nan")), 1e9, "failed"),
        # a runtime objective's UNSAT: an unsatisfiable instance solved, its cost its result
        ({**run("UNSAT", 1e9), "cost": 0.155, "solved": True}, 1e9, "ok"),
    ],
)
def test_kind(record, failure, expected):
    assert outcomes.kind(record, failure) == expected


def test_shown_quality_is_the_cost_of_a_finished_run_and_none_for_a_failed_one():
    runtime_run = {"status": "SAT", "quality": 0.0, "cost": 12.5}
    assert outcomes.shown_quality(runtime_run, 1e9) == 12.5
    assert outcomes.shown_quality(run("TIMEOUT", 0.3, extra={"partial": 1}), 1.0) == 0.3
    assert outcomes.shown_quality(run("UNSAT", 1.0), 1.0) is None
    solved = {**run("UNSAT", 1e9), "cost": 0.155, "solved": True}  # run_obj = runtime
    assert outcomes.shown_quality(solved, 1e9) == 0.155


def test_the_configured_failure_quality_wins():
    records = [run("UNSAT", 1.0), run("UNSAT", 1.0)]
    assert outcomes.failure_quality(records, configured=5.0) == 5.0


def test_without_configuration_the_failures_tell_their_quality():
    # the worker's own crashes keep 1e9 whatever the wrapper was told; they do not count
    records = [run("SAT", 0.1), run("UNSAT", 1.0), run("CRASHED", 1e9), run("CRASHED", 1e9)]
    assert outcomes.failure_quality(records) == 1.0
    assert outcomes.failure_quality([run("SAT", 0.1), run("TIMEOUT", 1.0)]) == 1e9
    assert outcomes.failure_quality([]) == 1e9


def test_reason_comes_from_the_record_else_from_the_additional_data():
    assert outcomes.reason(run("UNSAT", 1.0, reason="exit code 2: bad flag")) == (
        "exit code 2: bad flag"
    )
    older = run("TIMEOUT", 1.0, additional="reason=wall_time limit reached;cpu_time=3.1")
    assert outcomes.reason(older) == "wall_time limit reached"
    worker_crash = run("CRASHED", 1e9, additional="Run Exceeded Captime -- Treating as CRASHED")
    assert outcomes.reason(worker_crash) == "Run Exceeded Captime -- Treating as CRASHED"
    # free text of a successful run is no reason
    assert outcomes.reason(run("SAT", 0.1, additional="some note")) is None
    assert outcomes.reason(run("SAT", 0.1, additional="cpu_time=1.0", reason=None)) is None


def test_error_rates_are_recognised_by_a_failure_quality_of_at_most_one():
    records = [run("SAT", 0.02), run("SAT", 0.5), run("UNSAT", 1.0)]
    assert outcomes.is_error_rate(records, 1.0)
    assert not outcomes.is_error_rate(records, 1e9)
    assert not outcomes.is_error_rate([run("SAT", 0.02), run("SAT", 2.5)], 1.0)
    assert not outcomes.is_error_rate([run("UNSAT", 1.0)], 1.0)


def test_same_config_compares_values_not_their_spelling():
    assert same_config({"lr": 0.1, "act": "relu"}, {"act": "relu", "lr": 0.1 + 1e-17})
    assert same_config({"units": 32}, {"units": 32.0})
    assert not same_config({"lr": 0.1}, {"lr": 0.1001})
    assert not same_config({"lr": 0.1}, {"lr": 0.1, "momentum": 0.9})  # inactive differs
    assert not same_config({"act": "relu"}, {"act": "tanh"})


def test_run_of_config_prefers_a_finished_run():
    config = {"x": 2.5}
    failed = {**run("UNSAT", 1.0), "run_id": "00001", "config": config}
    finished = {**run("SAT", 0.2), "run_id": "00004", "config": dict(config)}
    other = {**run("SAT", 0.1), "run_id": "00002", "config": {"x": 3.0}}
    assert outcomes.run_of_config([failed, other, finished], config, 1.0) is finished
    assert outcomes.run_of_config([failed, other], config, 1.0) is failed
    assert outcomes.run_of_config([other], config, 1.0) is None


def test_run_of_config_takes_its_run_at_the_highest_budget():
    """The default configuration against the best run: the best was trained 9 epochs, so
    the default's 9-epoch run is the one to compare, not its 1-epoch screening run."""
    config = {"x": 2.5}
    screened = {**run("SAT", 0.7), "run_id": "00001", "config": config, "budget": 1.0}
    trained = {**run("SAT", 0.3), "run_id": "00012", "config": config, "budget": 9.0}
    assert outcomes.run_of_config([screened, trained], config, 1.0) is trained
    assert outcomes.run_of_config([screened], config, 1.0) is screened


def test_a_failure_quality_above_1e9_is_found_from_the_failed_runs():
    """A custom wrapper that prints 1e12 for a failure: a timed-out run with that quality
    showed as a partial quality of 1e12."""
    runs = [run("UNSAT", 1e12), run("CRASHED", 1e12), run("SAT", 0.3)]
    assert outcomes.failure_quality(runs) == 1e12
    assert outcomes.kind(run("TIMEOUT", 1e12), outcomes.failure_quality(runs)) == "failed"
