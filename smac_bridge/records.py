"""The typed shapes of what a rungroup holds: run records, markers, heartbeats, claims.

A run record is one line of `runs-<seed>.jsonl` (docs/architecture.md). It is built in one
place, `new_record`, from what a trial produced, and read everywhere as a `RunRecord`. The
other shapes are the small JSON files that tell who is doing what. Stdlib only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any, TypedDict

from smac_bridge.protocol import CRASHED_QUALITY, Status

NO_INSTANCE = "no_instance"
"""The instance name of the classic call when the scenario has no instances."""


def run_order(run_id: str) -> tuple[int, str]:
    """A key that orders run ids by number: the five digits of a run id grow a sixth past
    99,999 runs, and as strings `100000` would come before `00007`."""
    return (len(run_id), run_id)


class RunRecord(TypedDict):
    """One finished run (see docs/architecture.md for each field's meaning)."""

    run_id: str
    worker: int
    config: dict[str, Any]
    instance: str
    instance_info: str
    seed: int
    smac_seed: int
    budget: float | None
    trained_budget: float | None
    cutoff: float | None
    status: Status
    solved: bool
    runtime: float
    runlength: float
    quality: float
    cost: float
    reason: str | None
    additional: str
    extra: dict[str, Any]
    started: float
    ended: float
    run_dir: str
    stopped_by_user: bool
    partial: bool
    reused_from: str | None
    promoted_from: str | None
    exit_code: int | None
    wall_time: float
    cpu_time: float
    peak_rss_mb: float
    gpu: str | None  # the script's CUDA_VISIBLE_DEVICES; None: the CPU or not known (Dask)


class RunningMarker(TypedDict):
    """running/<run_id>.json: a trial in progress."""

    run_id: str
    worker: int
    config: dict[str, Any]
    instance: str
    seed: int
    smac_seed: int | None  # None: started before the worker's optimiser existed
    budget: float | None
    trained_budget: float | None
    continued_from: float | None  # a promoted trial: how far its earlier run trained
    started: float
    run_dir: str
    log: str
    host: str
    pid: int
    pid_start: str
    trial_pid: int | None
    marker: str | None
    queued: bool  # waits in a cluster's queue: `started` is when it was submitted


class _CurvePoint(TypedDict):
    step: float
    quality: float | None


class ProgressPoint(_CurvePoint, total=False):
    """One point of a run's learning curve (progress.jsonl); quality None when not finite.
    (A base class, not typing.NotRequired, which Python 3.10 lacks.)"""

    carried: bool  # copied from the stopped attempt a re-run continues


class ClaimInfo(TypedDict):
    """slots/<run_id>.claim: who took a run slot of the budget."""

    worker: int
    host: str
    pid: int
    pid_start: str
    claimed: float


class AbortInfo(TypedDict):
    """abort.json: why the launch must stop, and with which exit code."""

    reason: str
    worker: int | None
    run_id: str | None
    time: float
    exit_code: int


class Incumbent(TypedDict):
    """The best configuration so far by the one incumbent rule (incumbent.py)."""

    config: dict[str, Any]
    cost: float
    run_id: str
    run_ids: list[str]


#: Worker states after which a worker runs no more trials.
FINISHED_STATES = ("done", "failed", "aborted", "stopped")


class WorkerInfo(TypedDict, total=False):
    """workers/<seed>.json: a worker's heartbeat (state: starting|running|done|stopped|
    failed|aborted)."""

    seed: int
    pid: int
    pid_start: str
    host: str
    gpu: str | None
    task_id: int
    state: str
    started: float
    updated: float
    current_run: str | None
    runs_done: int
    message: str
    incumbent: Incumbent | None
    foreign_runs_told: int
    foreign_run_ids_told: list[str]
    history_size_at_last_ask: int
    foreign_in_history_at_last_ask: int
    running_told: int
    facade: str


def solves(status: str, run_obj: str) -> bool:
    """True when a run of STATUS has a result that counts: SAT; with run_obj = runtime UNSAT
    too, an unsatisfiable instance solved (SMAC 2.10)."""
    return status == "SAT" or (status == "UNSAT" and run_obj == "runtime")


def result_field(run_obj: str | None) -> str:
    """The record field that is a run's result, what SMAC minimised: `cost` for a runtime
    objective (its runtime, PAR-k for an unsolved run), else the `quality` its target printed."""
    return "cost" if run_obj == "runtime" else "quality"


def is_solved(record: RunRecord) -> bool:
    """`solves` of a finished run; records written before the field existed count SAT only."""
    return bool(record.get("solved", record["status"] == "SAT"))


def is_partial(record: RunRecord) -> bool:
    """Whether a run's quality is one its script reported before it was stopped (records
    written before the `partial` field kept the flag among the extra values)."""
    return bool(record.get("partial") or (record.get("extra") or {}).get("partial"))


def over_memory(reason: object) -> bool:
    """Whether a run's reason is the one a memory limit that stopped it gives (the wrapper's
    `--memory-limit` or the scenario's `memory_limit`): a configuration too big, not a broken
    script. Only those exact words: a script's own reason about a memory option is none."""
    return re.fullmatch(r"memory limit [0-9.e+]+ MB exceeded", str(reason or "")) is not None


MIN_RUNTIME = 0.1
"""Seconds each run counts toward tunerTimeout at least, as in SMAC 2.10's run history."""


def tuner_time_used(records: Iterable[RunRecord]) -> float:
    """What RECORDS count toward tunerTimeout: their runtimes, each at least MIN_RUNTIME; a
    run reused from another worker's did not run."""
    return sum(
        max(MIN_RUNTIME, float(record.get("runtime") or 0.0))
        for record in records
        if not record.get("reused_from")
    )


def finite_or(value: float, fallback: float) -> float:
    """VALUE when it is a finite number, else FALLBACK (NaN and inf reach no model)."""
    return value if math.isfinite(value) else fallback


def record_cost(
    run_obj: str,
    status: str,
    runtime: float,
    quality: float,
    *,
    cutoff: float | None,
    par_factor: int,
) -> float:
    """The cost of a result with SMAC 2.10's semantics (docs/compatibility.md), always finite.

    Quality: the reported quality (the partial one for a stopped or timed-out run), at least
    1e9 for CRASHED; NaN and inf count as a crash. Runtime: the runtime, with PAR-k for runs
    at or over the cutoff, for TIMEOUT and for CRASHED.
    """
    if run_obj == "quality":
        if status == "CRASHED":
            return max(finite_or(quality, CRASHED_QUALITY), CRASHED_QUALITY)
        return finite_or(quality, CRASHED_QUALITY)
    if status in ("SAT", "UNSAT") and math.isfinite(runtime):
        return runtime * par_factor if cutoff is not None and runtime >= cutoff else runtime
    return par_factor * cutoff if cutoff is not None else CRASHED_QUALITY


def new_record(
    *,
    run_id: str,
    worker: int,
    config: dict[str, Any],
    instance: str,
    instance_info: str,
    seed: int,
    smac_seed: int,
    budget: float | None,
    trained_budget: float | None,
    cutoff: float | None,
    run_obj: str,
    status: Status,
    runtime: float,
    runlength: float,
    quality: float,
    cost: float,
    reason: str | None,
    additional: str,
    extra: dict[str, Any],
    started: float,
    wall_time: float,
    stopped_by_user: bool,
    exit_code: int | None,
    cpu_time: float,
    peak_rss_mb: float,
    gpu: str | None,
    promoted_from: str | None = None,
) -> RunRecord:
    """The run record of a finished trial: the one place records are made. The wrapper's
    `partial` flag becomes a field of its own, and a `reason` in the additional data is the
    record's (`reason`), so that views list only the script's extra values."""
    return RunRecord(
        run_id=run_id,
        worker=worker,
        config=config,
        instance=instance,
        instance_info=instance_info,
        seed=seed,
        smac_seed=smac_seed,
        budget=budget,
        trained_budget=trained_budget,
        cutoff=cutoff,
        status=status,
        solved=solves(status, run_obj),
        runtime=runtime,
        runlength=runlength,
        quality=quality,
        cost=cost,
        reason=reason,
        additional=additional,
        # the script's own values: not the wrapper's partial flag, nor the reason (a field)
        extra={key: value for key, value in extra.items() if key not in ("partial", "reason")},
        started=started,
        ended=started + wall_time,
        run_dir=f"runs/{run_id}",
        stopped_by_user=stopped_by_user,
        partial=bool(extra.get("partial")),
        reused_from=None,
        promoted_from=promoted_from,
        exit_code=exit_code,
        wall_time=wall_time,
        cpu_time=cpu_time,
        peak_rss_mb=peak_rss_mb,
        gpu=gpu or None,
    )


def shown_budget(record: RunRecord | RunningMarker | dict[str, Any]) -> float | None:
    """The budget a run trained with, as its script got it (SMAC3's budgets, such as 3.33333
    epochs, are rounded for a whole-number flag); records made before that was kept give
    SMAC3's."""
    trained = record.get("trained_budget")
    return trained if trained is not None else record.get("budget")


def reused_record(original: RunRecord, worker: int) -> RunRecord:
    """A worker's note that it took ORIGINAL's result for an identical trial (no run of its
    own: readers leave it out of the runs)."""
    copy = original.copy()
    copy["worker"] = worker
    copy["reused_from"] = original["run_id"]
    return copy


TrialKey = tuple[str, str, int, float | None]


def config_key(config: dict[str, Any]) -> str:
    """A configuration as text that is equal exactly when the configurations are: for runs
    recorded by workers, whose values went through the same JSON (see `same_config`)."""
    return json.dumps(config, sort_keys=True)


def same_config(
    a: dict[str, Any], b: dict[str, Any], rel_tol: float = 1e-9, abs_tol: float = 1e-12
) -> bool:
    """Two configurations with the same active parameters and values, numbers compared with a
    tolerance (by default one for a configuration that went through text, a design row or
    the PCS's default, against recorded ones). Runs a worker recorded are grouped by
    `config_key`."""
    if set(a) != set(b):
        return False
    for name, x in a.items():
        y = b[name]
        if isinstance(x, str) or isinstance(y, str):
            if str(x) != str(y):
                return False
        elif not math.isclose(float(x), float(y), rel_tol=rel_tol, abs_tol=abs_tol):
            return False
    return True


def trial_key(record: RunRecord | RunningMarker | dict[str, Any]) -> TrialKey:
    """What makes two runs identical: configuration, instance, seed and budget."""
    budget = record.get("budget")
    return (
        config_key(record["config"]),
        record["instance"],
        int(record["seed"]),
        None if budget is None else float(budget),
    )
