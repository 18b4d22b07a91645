"""Watching and steering a launch from outside it: status, the live log of a run, stopping one run.

Everything goes through `rundata`, and the only write is the stop request, a file in the
run directory that the wrapper polls for. A file is the signal (not a process signal) so that
`stop` works from any machine that shares the output directory with the workers.

Run ids come from users and from files anyone may have written, and a run id is a path below
the rungroup: only ids as `layout.format_run_id` makes them are taken, and a run directory
that resolves outside the rungroup (a planted symbolic link) is refused, so that these commands
never read or write outside the output directory.
"""

from __future__ import annotations

import codecs
import math
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from smac_bridge import results
from smac_bridge.errors import InputError
from smac_bridge.incumbent import incumbent_and_best_run
from smac_bridge.layout import (
    RunDir,
    file_size,
    is_run_id,
    read_json_object,
    write_stop_request,
)
from smac_bridge.outcomes import (
    NO_QUALITY,
    is_finite_number,
    is_pruned,
    kind,
    negated_metric,
    quality_name,
    reason,
    status_label,
)
from smac_bridge.records import (
    FINISHED_STATES,
    AbortInfo,
    RunningMarker,
    RunRecord,
    WorkerInfo,
    is_solved,
    result_field,
)
from smac_bridge.rundata import RunGroup, lives, worker_is_lost
from smac_bridge.wrap_options import DEFAULT_GRACE

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

#: How many of the latest failed runs `status` lists.
FAILURES_SHOWN = 5
#: Seconds `stop` waits for a stopped run's record beyond the wrapper's grace.
STOP_MARGIN = 30.0


def is_lost(info: RunningMarker | WorkerInfo | dict[str, Any]) -> bool:
    """A marker or heartbeat whose process is dead on this host: the launch was killed.

    Processes on other hosts cannot be checked from here and count as alive.
    """
    return lives(info) is False


def run_dir(group: RunGroup, run_id: str) -> RunDir:
    """RUN_ID's run directory; an InputError for anything that is not a run id, or for a run
    directory that a planted symbolic link leads out of the rungroup, so that no name from the
    command line or a file reads or writes outside the output folder."""
    try:
        folder = group.run(run_id)
    except ValueError:
        raise InputError(
            group.path, None, f"{run_id!r} is not a run id (5 digits, such as 00007)"
        ) from None
    if not _inside(group, folder.path):
        raise InputError(
            group.path, None, f"run {run_id}: its directory leads outside the rungroup"
        )
    return folder


def run_log(group: RunGroup, folder: RunDir) -> Path:
    """FOLDER's log (RunDir.log); an InputError when a symbolic link leads it out of the
    rungroup (a planted `process_output.log` pointing at any file the reader may read)."""
    path = folder.log()
    if not _inside(group, path):
        raise InputError(path, None, "the log of this run leads outside the rungroup")
    return path


def _inside(group: RunGroup, path: Path) -> bool:
    """Whether PATH, symbolic links followed, lies inside GROUP's folder."""
    return group.path.resolve() in path.resolve().parents


def running_runs(group: RunGroup) -> tuple[list[RunningMarker], list[RunningMarker]]:
    """The running markers of GROUP split into (running, lost); finished runs are dropped.

    A run whose record already exists is finished even if its marker is still there (the
    worker removes the marker right after it appends the record).
    """
    finished = {record["run_id"] for record in group.records(include_reused=True)}
    running: list[RunningMarker] = []
    lost: list[RunningMarker] = []
    for marker in group.running():
        if marker.get("run_id") in finished:
            continue
        (lost if is_lost(marker) else running).append(marker)
    return running, lost


def live_state(marker: RunningMarker) -> str:
    """A running_runs() run as the views show it: "queued" while it waits in a cluster's
    queue (its time is not its own yet), else "running"."""
    return "queued" if marker.get("queued") else "running"


def last_sign_of_life(group: RunGroup, marker: RunningMarker) -> float | None:
    """When a lost run last showed that it worked: the newest change to a file of its run
    folder (its log, its learning curve), else its start. Its time stops there, not at each
    look, nor when its worker's heartbeat was written (before the trial started)."""
    try:
        folder = group.run(str(marker.get("run_id"))).path
        changes = [path.stat().st_mtime for path in folder.iterdir() if path.is_file()]
    except (OSError, ValueError):
        changes = []
    started = marker.get("started")
    return max(changes, default=started if isinstance(started, int | float) else None)


def worker_state(info: WorkerInfo) -> str:
    """A worker's state from its heartbeat, "lost" when it claims to work but is dead."""
    state = str(info.get("state", "unknown"))
    return "lost" if worker_is_lost(info) else state


def launch_active(group: RunGroup) -> bool:
    """Whether any worker of GROUP may still run trials, or its launch (`launch`, `doe`) is
    still alive: starting its workers, or, on a resume, before they replace the heartbeats
    of the earlier launch's."""
    workers = group.workers()
    if any(worker_state(w) not in (*FINISHED_STATES, "lost") for w in workers):
        return True
    info = group.launch_info()
    if info.get("pid_start") and lives(info):
        return True
    return not workers and bool(running_runs(group)[0])  # workers that never wrote one


def runs_done_text(done: int, budget: int | None) -> str:
    """Runs done against the run budget, as `status` and the dashboard say it; a resume with a
    smaller budget than the earlier launch's, or a worker started by hand with a larger one,
    makes more runs done than it budgeted."""
    if budget is None:
        return f"{done} runs done"
    if done > budget:
        return (
            f"{done} runs done (more than the run budget of {budget}: an earlier launch, or a"
            " worker started by hand, had a larger one)"
        )
    return f"{done} of {budget} runs done"


def units_text(used: int, limit: float | None) -> str:
    """The budget units USED of a rungroup's budget-limit, for its summary line (e.g.
    `, 52 of 60 budget units used`); "" without one."""
    return f", {used} of {limit:g} budget units used" if limit else ""


def group_status(group: RunGroup, now: float | None = None) -> dict[str, Any]:
    """A JSON-ready picture of GROUP: budget, runs done, best so far, workers, running runs."""
    now = time.time() if now is None else now
    records = group.records()
    running, lost = running_runs(group)
    found_best = incumbent_and_best_run(records)
    info = group.launch_info()
    pruned = [r for r in records if is_pruned(r)]  # stopped by a rule: not failures
    stopped = [r for r in records if r.get("stopped_by_user")]  # by a user: no failures either
    failed = [  # a finished run without a quality (one of exactly 1e9) too, as the report counts
        r
        for r in records
        if (not is_solved(r) or kind(r, NO_QUALITY) == "failed")
        and not is_pruned(r)
        and not r.get("stopped_by_user")
    ]

    def entry(marker: RunningMarker, state: str) -> dict[str, Any]:
        run_id = str(marker.get("run_id"))
        until = (last_sign_of_life(group, marker) or now) if state == "lost" else now
        return {
            "rungroup": group.path.name,
            "run_id": run_id,
            "worker": marker.get("worker"),
            "state": state,
            "config": marker.get("config") or {},
            "started": marker.get("started"),
            "elapsed": until - marker["started"]
            if marker.get("started") and state != "queued"
            else None,
            "host": marker.get("host"),
            "log": str(group.run(run_id).log()),
        }

    def failure(record: RunRecord) -> dict[str, Any]:
        return {
            "run_id": record["run_id"],
            "worker": record["worker"],
            "status": record["status"],
            "quality": record["quality"],
            "reason": reason(record) or "",
            "ended": record.get("ended"),
        }

    aborted = group.abort_info()
    picture = {
        "rungroup": group.path.name,
        "path": str(group.path),
        "run_obj": "runtime" if info.get("run_obj") == "runtime" else "quality",
        "negated": negated_metric(records),  # the wrapper's --maximize: -0.99 is 0.99
        "budget": info.get("budget"),
        "runs_done": len(records),
        "skipped_lines": len(group.skipped_lines),  # record lines that are no records (damaged)
        "skipped_at": group.skipped_lines,  # their file:line
        # what every view says of them (the dashboard shows it too)
        "skipped_text": results.skipped_text(group.skipped_lines, group.unreadable_records),
        "runs_done_text": runs_done_text(len(records), info.get("budget")),
        "budget_limit": info.get("budget_limit"),  # multi-fidelity: budget units in all
        "units_used": group.units_used(),
        "runs_started": len(group.claimed()),
        "active": launch_active(group),
        "best": None
        if found_best is None
        else {
            **{k: found_best[1].get(k) for k in ("run_id", "worker", "quality", "cost", "config")},
            # what it is ranked by: its mean cost over its seeds or instances, failures too
            "mean_cost": found_best[0]["cost"],
            "runs": len(found_best[0]["run_ids"]),
        },
        "failed": len(failed),  # TIMEOUT runs included: no finished training
        "timed_out": sum(r["status"] == "TIMEOUT" for r in failed),
        "pruned": len(pruned),
        "stopped": len(stopped),
        "failures": [failure(r) for r in failed[-FAILURES_SHOWN:]],
        # why the launch stopped, when a run aborted it (that run is not recorded)
        "aborted": aborted,
        "aborted_text": abort_text(aborted) if aborted is not None else "",
        "workers": [
            {
                "seed": w.get("seed"),
                "state": worker_state(w),
                "host": w.get("host"),
                "gpu": w.get("gpu"),
                "pid": w.get("pid"),
                "current_run": w.get("current_run"),
                "runs_done": w.get("runs_done"),
                "foreign_runs_told": w.get("foreign_runs_told", 0),
                "message": w.get("message", ""),
            }
            for w in group.workers()
        ],
        "running": [entry(m, live_state(m)) for m in running],
        "lost": [entry(m, "lost") for m in lost],
        # stopped by a Ctrl-C or an abort, or lost with their worker: the next launch (a
        # resume) runs them again; those being run again are in "running"
        "to_run_again": sorted(set(group.owing()) - set(group.claimed())),
    }
    picture["summary"] = summary_text(picture)
    return picture


def mean_text(best: dict[str, Any]) -> str:
    """`; mean cost 0.3 over its 3 runs` for an incumbent of several runs (seeds, instances),
    whose best run alone would hide its failures; "" for one run."""
    runs = best.get("runs") or 1
    return (
        f"; mean cost {results.format_number(best['mean_cost'])} over its {runs} runs"
        if runs > 1
        else ""
    )


def summary_text(g: dict[str, Any]) -> str:
    """A group_status picture in one line, as `status` and the dashboard show it after the
    rungroup's name: runs done, failures, what runs now, the best run."""
    best = g["best"]
    field = result_field(g.get("run_obj"))
    label = "cost " if field == "cost" else f"{quality_name(True)} " if g.get("negated") else ""
    best_text = (
        f"best {label}{results.format_number(best[field])} (run {best['run_id']}: "
        f"{results.format_config(best['config'])}{mean_text(best)})"
        if best
        else "no successful run yet"
        if g["active"]
        else "no successful run"  # a finished rungroup: none will come
    )
    lost = f", {len(g['lost'])} lost (their worker died)" if g["lost"] else ""
    again = g.get("to_run_again", [])
    lost += f", {len(again)} stopped before their end, to run again" if again else ""
    timed_out = g.get("timed_out", 0)
    failed = f", {g['failed'] - timed_out} failed" if g["failed"] > timed_out else ""
    failed += f", {timed_out} cut at the cutoff" if timed_out else ""
    failed += f", {g['pruned']} pruned" if g["pruned"] else ""
    failed += f", {g['stopped']} stopped by hand" if g["stopped"] else ""
    units = units_text(g["units_used"], g["budget_limit"])
    waiting = sum(run["state"] == "queued" for run in g["running"])
    running = f"{len(g['running']) - waiting} running" + (
        f", {waiting} queued on the cluster" if waiting else ""
    )
    return f"{g['runs_done_text']}{units}{failed}, {running}{lost}; {best_text}"


def status(groups: list[RunGroup]) -> dict[str, Any]:
    """The `status --json` object: every running (and lost) run of all GROUPS at top level."""
    per_group = [group_status(group) for group in groups]
    return {
        "running": [run for g in per_group for run in g["running"]],
        "lost": [run for g in per_group for run in g["lost"]],
        "rungroups": per_group,
    }


def duration(seconds: float | None) -> str:
    """Seconds as h:mm:ss (m:ss under an hour), the way a clock shows elapsed time."""
    if seconds is None:
        return ""
    seconds = int(max(seconds, 0))
    hours, minutes, secs = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_view(picture: dict[str, Any]) -> RenderableType:
    """The rich renderable of a `status()` picture, per group: a summary line, a table of the
    workers and their current runs, and the latest failed runs with their reasons.

    "learnt" is how many runs of the other workers a worker has told its model (shared-model
    mode: each worker learns from every run of the others).
    """
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    for g in picture["rungroups"]:
        state = "running" if g["active"] else "not running"
        if g["active"] and not g["workers"]:  # the launch has not started a worker yet
            state = "starting its workers"
        summary = Text(g["rungroup"], style="bold")
        summary.append(f" ({state}): {g['summary']}")
        parts.append(summary)
        view = Table(box=box.SIMPLE_HEAD)
        gpus = any(w.get("gpu") for w in g["workers"])
        names = ["worker", "state", "run", "elapsed", "runs done", "learnt", "configuration"]
        for name in names[:1] + ["gpu"] * gpus + names[1:]:
            view.add_column(name)
        runs = {run["run_id"]: run for run in g["running"] + g["lost"]}
        shown = set()
        for w in g["workers"]:
            run = runs.get(str(w["current_run"])) if w["current_run"] else None
            if run is None:  # its heartbeat is older than its newest run's marker
                mine = (
                    r for r in runs.values() if r["worker"] == w["seed"] and r["state"] == "running"
                )
                run = next(mine, None)
            if run:
                shown.add(run["run_id"])
            view.add_row(
                str(w["seed"]),
                *[str(w.get("gpu") or "cpu")] * gpus,
                w["state"],
                run["run_id"] + (f" ({run['state']})" if run["state"] != "running" else "")
                if run
                else "",
                duration(run["elapsed"]) if run else "",
                str(w["runs_done"] if w["runs_done"] is not None else ""),
                str(w["foreign_runs_told"]),
                Text(results.format_config(run["config"]) if run else ""),  # no markup
            )
        for run_id, run in runs.items():
            if run_id not in shown:
                view.add_row(
                    str(run["worker"]),
                    *[""] * gpus,
                    run["state"],
                    run_id,
                    duration(run["elapsed"]),
                    "",
                    "",
                    Text(results.format_config(run["config"])),
                )
        if view.row_count:
            parts.append(view)
        if g["failures"]:
            failures = Table(box=box.SIMPLE_HEAD, title="latest failed runs", title_justify="left")
            for name in ("run", "worker", "status", "reason"):
                failures.add_column(name, overflow="fold")
            for run in g["failures"]:
                reason_text = Text(results.printable(run["reason"]))  # a script's words, no markup
                failures.add_row(run["run_id"], str(run["worker"]), run["status"], reason_text)
            parts.append(failures)
        if g.get("skipped_text"):
            parts.append(Text(g["skipped_text"], style="yellow"))
        if g["aborted"] is not None:
            parts.append(Text(abort_text(g["aborted"]), style="red"))
        for w in g["workers"]:
            if w["state"] in ("failed", "lost") and (last := message_last_line(w["message"])):
                parts.append(Text(f"worker {w['seed']} {w['state']}: {last}", style="red"))
    return Group(*parts)


def message_last_line(message: object) -> str:
    """The last line of a worker's message, or ""; of a traceback, its error, every line of
    it (ConfigSpace's name the parameter on a line of their own), without its frames."""
    lines = str(message or "").strip().splitlines()
    frames = [number for number, line in enumerate(lines) if line.startswith('  File "')]
    if lines and lines[0].startswith("Traceback") and frames:
        after = lines[frames[-1] + 1 :]  # the frame's code lines, then the error
        first = next((n for n, line in enumerate(after) if not line.startswith(" ")), None)
        if first is not None:
            return " ".join(line.strip() for line in after[first:])[:300]
    return lines[-1][:300] if lines else ""


def abort_text(abort: AbortInfo) -> str:
    """Why a launch was aborted, as the launch's summary and `status` say it."""
    run = f" (run {abort.get('run_id')})" if abort.get("run_id") else ""
    return f"launch aborted by worker {abort.get('worker')}{run}: {abort.get('reason')}"


def wait_for_groups(outdir: str, interval: float) -> list[RunGroup]:
    """The rungroups of OUTDIR, once a launch made one: `status --watch` started beside a
    launch that has not made its folder yet waits for it (saying so) rather than failing."""
    try:
        return results.find_groups(outdir)
    except InputError:
        folder = Path(outdir)  # a folder of other files is no outdir a launch is making
        if folder.exists() and not all(entry.is_dir() for entry in folder.iterdir()):
            raise
    print(f"waiting for a launch to write {outdir} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while True:
        time.sleep(interval)
        try:
            return results.find_groups(outdir)
        except InputError:
            continue


def watch(groups: list[RunGroup], interval: float = 1.0) -> None:
    """Redraw the status until Ctrl-C or until no launch of GROUPS is active any more. Into a
    file or a pipe, one picture per INTERVAL, each written at once: a live view there is only
    drawn at its end, so a watch redirected to a log showed nothing while the launch ran."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    if not console.is_terminal:
        _watch_into_a_file(groups, interval, console)
        return
    try:  # also while the first picture is read: Ctrl-C ends the watch whenever it comes
        with Live(status_view(status(groups)), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(interval)
                picture = status(groups)
                live.update(status_view(picture))
                if not any(g["active"] for g in picture["rungroups"]):
                    return
    except KeyboardInterrupt:
        return


def _watch_into_a_file(groups: list[RunGroup], interval: float, console: Console) -> None:
    """Append the status to CONSOLE's file every INTERVAL until no launch of GROUPS is active."""
    try:
        while True:
            picture = status(groups)
            console.print(status_view(picture))
            console.file.flush()
            if not any(g["active"] for g in picture["rungroups"]):
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return


def pick_run(group: RunGroup, run_id: str | None) -> str:
    """RUN_ID checked, or the newest running run (one that began before one queued on a
    cluster), or else the newest run of GROUP: finished, lost, or stopped by a Ctrl-C of its
    launch (no record, its log left)."""
    if run_id is not None:
        run_dir(group, run_id)
        known = {r["run_id"] for r in group.records(include_reused=True)}
        known |= {str(m.get("run_id")) for m in group.running()}
        if run_id not in known and not run_dir(group, run_id).path.is_dir():
            raise InputError(group.path, None, f"no run {run_id!r} in this rungroup")
        return run_id
    running, lost = running_runs(group)
    began = [m for m in running if not m.get("queued")]  # one queued on a cluster prints nothing
    runs: list[RunningMarker | RunRecord] = [*(began or running)]
    if not runs:
        runs = [*group.records(include_reused=True), *lost]
    started = {
        str(run["run_id"]): _number(run.get("started"))
        for run in runs
        if is_run_id(str(run.get("run_id")))
    }
    if not running:  # an interrupted launch records nothing half-done, but its logs stay
        for mtime, name in _run_folders(group):
            started.setdefault(name, mtime)
    if not started:
        raise InputError(group.path, None, "no run has started yet")
    newest = max(started, key=lambda run_id: (started[run_id], run_id))
    run_dir(group, newest)
    return newest


def _run_folders(group: RunGroup) -> list[tuple[float, str]]:
    """(start time, run id) of GROUP's run directories that hold something: an empty one (a
    crash before its run began) has no log to show. A run starts with its trial.json (or,
    from an older smac-bridge, its command.json); the folder's own time changes as the run
    ends, which a Ctrl-C makes the same moment for every run."""
    found = []
    for path in group.layout.runs.glob("*") if group.layout.runs.is_dir() else []:
        try:
            folder = RunDir(path)
            if is_run_id(path.name) and folder.holds_output():
                first = next((f for f in (folder.trial, folder.command) if f.exists()), path)
                found.append((first.stat().st_mtime, path.name))
        except OSError:  # moved meanwhile (a lost run's folder is kept under another name)
            continue
    return found


def _number(value: object) -> float:
    """A time from a file, 0 when it is none (so that sorting never fails on a bad file)."""
    return float(value) if isinstance(value, int | float) else 0.0


def is_running(group: RunGroup, run_id: str) -> bool:
    """Whether RUN_ID has a live running marker and no record yet."""
    running, _ = running_runs(group)
    return any(m["run_id"] == run_id for m in running)


TAIL_POLL = 0.2
"""Seconds between looks at a followed log."""


def tail(group: RunGroup, run_id: str, out: IO[str], follow: bool = False) -> None:
    """Write the log of RUN_ID to OUT; with FOLLOW, keep writing what is appended until the
    run ends, like `tail -f`. Bytes that are not UTF-8 come out as U+FFFD."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    folder = run_dir(group, run_id)
    offset, path = 0, run_log(group, folder)
    shown = b""  # the last bytes shown: where they no longer are, the log was trimmed
    while True:
        alive = follow and is_running(group, run_id)
        if (now := run_log(group, folder)) != path:  # the wrapper made the script's log
            rest = _read_from(path, offset) or b""  # its notes since the last look first
            offset, path, shown = 0, now, b""
            out.write(decoder.decode(rest, final=True) + "\n")
            decoder.reset()
        there = _read_from(path, offset - len(shown), len(shown)) if shown else None
        if there is not None and there != shown:
            # trimmed at its size limit (wrap --log-limit): its kept end moved up, over
            # where we were or to before it; go on from the new end
            offset, shown = file_size(path), b""
            out.write(decoder.decode(b"", final=True) + f"\n[{TRIMMED}]\n")
            decoder.reset()
        while chunk := _read_from(path, offset, _TAIL_CHUNK):  # a log of 256 MB: not in memory
            offset += len(chunk)
            shown = (shown + chunk)[-_SHOWN_KEPT:]
            out.write(decoder.decode(chunk))
        out.flush()
        if not alive:
            out.write(decoder.decode(_read_from(path, offset) or b"", final=True))
            out.flush()
            return
        time.sleep(TAIL_POLL)


TRIMMED = "smac-bridge tail: the log was trimmed at its size limit; going on from its new end"
_SHOWN_KEPT = 256  # bytes of what tail showed last, compared with the log at each look
_TAIL_CHUNK = 1 << 20  # bytes read and written at a time


def _read_from(path: Path, offset: int, size: int = -1) -> bytes | None:
    """SIZE bytes of PATH from OFFSET (all to its end by default); None while it is missing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)
    except FileNotFoundError:
        return None


def request_stop(group: RunGroup, run_id: str) -> Path:
    """Ask the wrapper of RUN_ID to end it; InputError when the run is unknown or not running."""
    folder = run_dir(group, run_id)
    if any(r["run_id"] == run_id for r in group.records(include_reused=True)):
        raise InputError(group.path, None, f"run {run_id} has already finished")
    running, lost = running_runs(group)
    if any(m["run_id"] == run_id for m in lost):
        raise InputError(group.path, None, f"run {run_id} is lost: its worker is no longer alive")
    if not any(m["run_id"] == run_id for m in running):
        started = folder.path.exists()
        raise InputError(
            group.path, None, f"run {run_id} " + ("is not running" if started else "never started")
        )
    return write_stop_request(folder)


def stop_wait(group: RunGroup, run_id: str) -> float:
    """How long a stopped run may take to leave its record: the wrapper's grace from SIGTERM
    to SIGKILL, plus a margin for recording it."""
    return grace_of(group, run_id) + STOP_MARGIN


def grace_of(group: RunGroup, run_id: str) -> float:
    """The grace of RUN_ID's wrapper (from the run's command.json), else the default's: also
    for a grace the wrapper would not have written (edited by hand: negative, infinite, too
    large for a float), which a Ctrl-C must not fail on or wait for."""
    try:
        command = read_json_object(run_dir(group, run_id).command) or {}
    except InputError:  # its folder leads out of the rungroup
        return DEFAULT_GRACE
    grace = command.get("grace")
    if isinstance(grace, bool) or not isinstance(grace, int | float):
        return DEFAULT_GRACE
    try:
        seconds = float(grace)
    except OverflowError:
        return DEFAULT_GRACE
    return seconds if 0 <= seconds < math.inf else DEFAULT_GRACE


def ending(record: RunRecord, failure: float) -> str:
    """How a run ended, in a few words: its status, the quality it reached (FAILURE: the
    quality that means none, outcomes.failure_quality), and why."""
    text = status_label(record)
    status, quality = record.get("status"), record.get("quality")
    if status == "SAT" and is_finite_number(quality):
        text += f", quality {results.format_number(quality)}"
    elif status == "TIMEOUT" and kind(record, failure) == "partial":
        text += f", partial quality {results.format_number(quality)}"
    elif status == "TIMEOUT":
        text += ", no quality"
    why = reason(record)
    return text + (f" ({why})" if why else "")


def wait_for_record(group: RunGroup, run_id: str, timeout: float) -> RunRecord | None:
    """The record of RUN_ID once it appears, or None after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for record in group.records(include_reused=True):
            if record["run_id"] == run_id:
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)
