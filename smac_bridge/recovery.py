"""Recovery after a process died: the trials and slots a dead worker left, the folder of a
run it lost, and what a resume continues from (the earlier launch's options, its Dask
cluster, the wall clock it used).

A launch calls it when it sees a worker die and when it resumes; a worker calls it for the
workers of its group that died on this host.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from smac_bridge.errors import InputError
from smac_bridge.layout import append_line, held_lock, read_json_object
from smac_bridge.records import RunningMarker
from smac_bridge.rundata import RunGroup, lives, worker_is_lost
from smac_bridge.scenario import Scenario, option_name, rungroup_folder
from smac_bridge.supervisor import carries_marker


def kill_trial(marker: RunningMarker | Mapping[str, Any]) -> None:
    """Kill what is left of a trial whose worker died: its session and every process that
    carries its supervisor's tree marker."""
    pid = marker.get("trial_pid")
    if pid:
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    tag = marker.get("marker")
    if not tag:
        return
    for proc in psutil.process_iter():
        try:
            if carries_marker(proc.environ(), tag):
                proc.kill()
        except (psutil.Error, OSError):
            continue


SILENT_DEATH = "its process ended without a word (killed?)"
"""Why a worker that wrote no last heartbeat ended, as far as anyone can tell."""


def clean_dead_workers(
    group: RunGroup,
    seeds: Sequence[int] | None = None,
    workers_stopped: bool = False,
    why: str = SILENT_DEATH,
    overdue_after: float | None = None,
    found_late: bool = False,
) -> list[str]:
    """Kill the orphaned trials of dead workers on this host and free their slots
    (WORKERS_STOPPED: every worker of the group is known to be stopped; OVERDUE_AFTER: also
    the slots of another host's runs that old, rundata.lives); a dead worker's
    heartbeat that still says it works says `failed`, and WHY, from now on, not `lost`; its
    last sign of life is now, or with FOUND_LATE (a resume, maybe hours after a crash) its
    last heartbeat, as the launch's used wall clock counts up to it. A
    dead worker's record file that ends mid-line was torn by its end: the line is set aside
    (set_aside_torn_line), as its run goes to another worker or a resume."""
    for marker in group.running():
        if seeds is not None and marker.get("worker") not in seeds:
            continue
        if lives(marker) is False:
            kill_trial(marker)
    for info in group.workers():
        seed = info.get("seed")
        if seed is None or (seeds is not None and seed not in seeds):
            continue
        if worker_is_lost(info):
            # read again now that its process is known dead: it may have written its last
            # heartbeat ("done") after the read above, and writes nothing more
            info = group.worker(seed) or info
        if worker_is_lost(info):
            last = info.get("updated") if found_late else None
            last_seen = float(last) if isinstance(last, int | float) else None
            group.write_worker(seed, {**info, "state": "failed", "message": why}, last_seen)
        records = group.layout.records(seed)
        if (workers_stopped or lives(info) is False) and records.exists():
            set_aside_torn_line(records)
    kept: dict[str, Path] = {}

    def keep_left(run_id: str) -> Path | None:
        where = _keep_what_a_lost_run_left(group, run_id)
        if where is not None:
            kept[run_id] = where
        return where

    try:
        return group.release_stale_claims(workers_stopped, overdue_after, keep_left)
    finally:  # also those moved before a failure (a full disk) are said
        for run_id, where in kept.items():
            _say_what_a_lost_run_left(group, run_id, where)


TORN_SUFFIX = ".torn"
"""Added to a record file's name for the file that keeps the lines its dead worker tore."""


def set_aside_torn_line(records: Path) -> None:
    """Move a dead worker's unfinished last record line from RECORDS into RECORDS.torn and say
    so: its run was not recorded and is run again, and a line left in place would be named as
    damaged by every view from then on. Where the disk takes no copy, the line is ended in
    place instead (the views then name it). Locked: the launcher and a worker may both clean
    up after the same dead worker, and the second then finds the line gone."""
    with held_lock(records), records.open("rb+") as file:
        size = file.seek(0, os.SEEK_END)
        tail = b""
        while b"\n" not in tail and len(tail) < size:  # back to the last whole line
            step = min(1 << 16, size - len(tail))
            file.seek(size - len(tail) - step)
            tail = file.read(step) + tail
        if not tail or tail.endswith(b"\n"):
            return
        torn = tail[tail.rfind(b"\n") + 1 :]
        kept = records.with_name(records.name + TORN_SUFFIX)
        kept_size = kept.stat().st_size if kept.exists() else None
        try:
            append_line(kept, torn + b"\n")
            file.truncate(size - len(torn))
        except OSError as error:
            print(f"warning: cannot set {records}'s torn line aside: {error}", file=sys.stderr)
            _undo_append(kept, kept_size)
            append_line(records, b"", sync=False)  # ends it, adds nothing else
            return
    print(
        f"warning: {records} ended in a line its worker tore as it died ({len(torn)} bytes);"
        f" its run was not recorded and runs again, and the line is kept in {kept}",
        file=sys.stderr,
        flush=True,
    )


def _undo_append(path: Path, size: int | None) -> None:
    """Take PATH back to SIZE (None: it did not exist), after an append the disk cut short."""
    try:
        if size is None:
            path.unlink(missing_ok=True)
        else:
            os.truncate(path, size)
    except OSError:
        pass


def set_aside(group: RunGroup, run_id: str, why: str = "lost") -> Path | None:
    """Keep the folder of a run that is not recorded (its worker died: WHY `lost`; a Ctrl-C
    stopped it: `stopped`) as `runs/<run id>.<why>-<time>`: it holds the run's log, a model it
    saved, its result if it had ended, and the run's slot runs again in a fresh folder. The
    kept folder; None when there was nothing to keep, or it could not be renamed (said on
    stderr)."""
    run = group.run(run_id)
    folder = run.path
    try:
        if not run.holds_output():
            return None
    except OSError:  # no folder: the run never started
        return None
    stamp, number = int(time.time()), 1
    kept = folder.with_name(f"{run_id}.{why}-{stamp}")
    while kept.exists():  # set aside again within the second
        number += 1
        kept = folder.with_name(f"{run_id}.{why}-{stamp}-{number}")
    try:
        folder.rename(kept)
    except OSError as error:
        print(f"warning: cannot keep {folder} as {kept.name}: {error.strerror}", file=sys.stderr)
        return None
    return kept


def _keep_what_a_lost_run_left(group: RunGroup, run_id: str) -> Path | None:
    """The folder of a run whose worker died before it recorded the run (also while it wrote
    the record: a torn line) holds what the run left: kept beside the re-run's (set_aside),
    which continues from it. Where it was kept; None when it was not moved."""
    if group.run(run_id).attempt.exists():
        # its attempt on a Dask worker may still be stopping, and writes into this folder by
        # its path: a moved folder's new namesake got its result.json. Its re-run waits here
        # for that attempt to end (executors/dask.py), then starts the folder afresh.
        print(
            f"warning: run {run_id} lost its smac-bridge worker while its trial ran on the Dask"
            " cluster; it goes to another worker or a resume, which runs it again in its folder"
            " once that attempt has stopped",
            file=sys.stderr,
            flush=True,
        )
        return None
    return set_aside(group, run_id)


def _say_what_a_lost_run_left(group: RunGroup, run_id: str, kept: Path) -> None:
    """Where a lost run's folder was KEPT, and how its slot runs again: told to continue from
    there, afresh where a full disk took no note of where, or, with no note at all, what
    SMAC3 proposes next (`RunGroup.owe`)."""
    result = read_json_object(kept / group.run(run_id).result.name) or {}
    ended = result.get("status") if not result.get("partial") else None
    if group.left_by_lost_attempt(run_id) == kept:
        again = "its run starts again, told to continue from there (SMAC_BRIDGE_RESUME_FROM)"
    elif group.owed(run_id) is not None:
        again = "its run starts again from its beginning (a full disk took no note of where)"
    else:
        again = "its slot runs what SMAC3 proposes next (no note of its trial is left)"
    print(
        f"warning: run {run_id} lost its worker before it was recorded"
        + (f" (it had ended: {ended})" if ended else "")
        + f"; what it left is kept in {kept}, and {again}",
        file=sys.stderr,
        flush=True,
    )


def scenario_settings(scenario: Scenario) -> dict[str, Any]:
    """What launch.json keeps of SCENARIO, whoever made the rungroup (a launch, or workers
    started by hand): the budgets and the objective that the views show and that a resume,
    or a worker that joins, checks it continues."""
    fidelity = bool(scenario.budget_flag)
    return {
        "budget": scenario.runcount_limit,
        "budget_limit": scenario.budget_limit if fidelity else None,
        "max_budget": scenario.max_budget if fidelity else None,
        "budget_flag": scenario.budget_flag or None,
        "algo": scenario.algo,
        "run_obj": scenario.run_obj,
        "overall_obj": scenario.overall_obj,
        "deterministic": scenario.deterministic,
    }


def earlier_launch(scenario: str | Path, overrides: Mapping[str, str]) -> dict[str, Any]:
    """launch.json of the rungroup SCENARIO (with OVERRIDES) names, found before the scenario
    is complete (a required key may have been given with `--set`): a resume, or a worker
    started by hand, joins that launch. {} for a new rungroup; InputError for a damaged file,
    without which a resume could check nothing it continues."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said when the scenario is read in full
        group = RunGroup(rungroup_folder(scenario, overrides))
    path = group.layout.launch
    if not path.exists():
        return {}
    info, raw = group.launch_info(), read_json_object(path)
    if raw is None or len(raw) != len(info):
        wrong = sorted(set(raw) - set(info)) if raw is not None else []
        what = f"values of the wrong kind: {', '.join(wrong)}" if wrong else "no JSON object"
        raise InputError(
            path,
            None,
            f"damaged ({what}): a resume could neither check that it continues the same"
            " launch (its run_obj, its determinism, the wall clock it used) nor keep its"
            " --parallel, --dask-scheduler and --set options; repair it, or remove it to"
            " resume without them",
        )
    return info


def kept_cluster(given: str | None, launched: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The Dask cluster the trials run on: GIVEN (`none`: this host), else the one the earlier
    launch (LAUNCHED, its launch.json) ran them on, as a resume goes on there; and whether it
    is that earlier one, which the caller says."""
    if given is not None:
        return (None if given == "none" else given), False
    cluster = launched.get("dask_scheduler")
    if isinstance(cluster, str) and cluster:
        return cluster, True
    return None, False


def earlier_sets(launched: Mapping[str, Any], sets: Mapping[str, str]) -> dict[str, str]:
    """The options (`--set`, `--seed-offset`) of the earlier launch (LAUNCHED, its
    launch.json) that SETS does not give again, in any spelling: a resume continues the
    launch as it was (its cutoff, its pruning rule, its seeds, ...)."""
    given = {option_name(key) for key in sets}
    if "sets" in launched:
        earlier = launched["sets"] or {}
    else:  # an older smac-bridge noted them among the options it added itself
        added = ("outdir", "rungroup")
        earlier = {
            key: value
            for key, value in (launched.get("overrides") or {}).items()
            if option_name(key) not in added
        }
    return {key: str(value) for key, value in earlier.items() if option_name(key) not in given}


def walltime_used(group: RunGroup, launched: Mapping[str, Any]) -> float:
    """Seconds of wall clock the launch of GROUP has run, up to the end of the session that
    LAUNCHED (its launch.json) describes: the earlier sessions' time plus that session's,
    from its start to its last sign of life (a run's end, a worker's heartbeat). The time
    between a crash and the resume is not the launch's, as SMAC3 counts its used walltime."""
    before = float(launched.get("walltime_before") or 0.0)
    started = launched.get("session_started")
    if not isinstance(started, int | float):
        return before
    signs = [r.get("ended") for r in group.records()] + [w.get("updated") for w in group.workers()]
    last = max(
        (float(t) for t in signs if isinstance(t, int | float) and t >= started), default=started
    )
    return before + last - started
