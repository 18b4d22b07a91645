"""Watching and steering a launch from outside it: status, the live log of a run, stopping one run.

Everything goes through `rundata`, and the only write is the stop request, a file in the
run directory that the wrapper polls for. A file is the signal (not a process signal) so that
`stop` works from any machine that shares the output directory with the workers.

Run ids come from users and from files anyone may have written, and a run id is a path below
the rungroup: only ids as `rundata.format_run_id` makes them are taken, and a run directory
that resolves outside the rungroup (a planted symbolic link) is refused, so that these commands
never read or write outside the output directory.
"""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from smac_bridge import results
from smac_bridge.errors import InputError
from smac_bridge.rundata import RunGroup, format_run_id, hostname, pid_alive

#: The file in a run directory that asks the wrapper to end the run (docs/architecture.md).
STOP_FILE = "stop-requested"
#: Worker states after which a worker runs no more trials.
FINISHED_STATES = ("done", "failed", "aborted", "stopped")


def is_run_id(text: object) -> bool:
    """Whether TEXT is a run id as the budget slots make them (`00007`, never `../x`)."""
    return (
        isinstance(text, str)
        and text.isascii()
        and text.isdigit()
        and int(text) > 0
        and format_run_id(int(text)) == text
    )


def check_run_id(group: RunGroup, run_id: str) -> str:
    """RUN_ID if it is a run id whose directory lies inside GROUP, else an InputError."""
    if not is_run_id(run_id):
        raise InputError(group.path, None, f"{run_id!r} is not a run id (5 digits, such as 00007)")
    if not _inside(group, group.run_dir(run_id)):
        raise InputError(
            group.path, None, f"run {run_id}: its directory leads outside the rungroup"
        )
    return run_id


def _inside(group: RunGroup, path: Path) -> bool:
    """Whether PATH, symbolic links followed, lies inside GROUP's folder."""
    return group.path.resolve() in path.resolve().parents


def is_lost(info: dict[str, Any]) -> bool:
    """A marker or heartbeat whose process is dead on this host: the launch was killed.

    Processes on other hosts cannot be checked from here and count as alive.
    """
    pid = info.get("pid")
    return info.get("host") == hostname() and isinstance(pid, int) and not pid_alive(pid)


def running_runs(group: RunGroup) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The running markers of GROUP split into (running, lost); finished runs are dropped.

    A run whose record already exists is finished even if its marker is still there (the
    worker removes the marker right after it appends the record).
    """
    finished = {record["run_id"] for record in group.records(include_reused=True)}
    running, lost = [], []
    for marker in group.running():
        if marker.get("run_id") in finished or not is_run_id(marker.get("run_id")):
            continue
        (lost if is_lost(marker) else running).append(marker)
    return running, lost


def worker_state(info: dict[str, Any]) -> str:
    """A worker's state from its heartbeat, "lost" when it claims to work but is dead."""
    state = str(info.get("state", "unknown"))
    return "lost" if state not in FINISHED_STATES and is_lost(info) else state


def launch_active(group: RunGroup) -> bool:
    """Whether any worker of GROUP may still run trials."""
    workers = group.workers()
    if not workers:  # written by hand, or workers that never started: judge by the runs
        return bool(running_runs(group)[0])
    return any(worker_state(w) not in (*FINISHED_STATES, "lost") for w in workers)


def group_status(group: RunGroup, now: float | None = None) -> dict[str, Any]:
    """A JSON-ready picture of GROUP: budget, runs done, best so far, workers, running runs."""
    now = time.time() if now is None else now
    records = group.records()
    running, lost = running_runs(group)
    best = results.best_run(records)
    info = group.launch_info()

    def entry(marker: dict[str, Any], state: str) -> dict[str, Any]:
        run_id = str(marker.get("run_id"))
        return {
            "rungroup": group.path.name,
            "run_id": run_id,
            "worker": marker.get("worker"),
            "state": state,
            "config": marker.get("config") or {},
            "started": marker.get("started"),
            "elapsed": now - marker["started"] if marker.get("started") else None,
            "host": marker.get("host"),
            "log": str(group.run_log(run_id)),
        }

    return {
        "rungroup": group.path.name,
        "path": str(group.path),
        "budget": info.get("budget"),
        "runs_done": len(records),
        "runs_started": len(group.claimed()),
        "active": launch_active(group),
        "best": None
        if best is None
        else {k: best.get(k) for k in ("run_id", "worker", "quality", "cost", "config")},
        "workers": [
            {
                "seed": w.get("seed"),
                "state": worker_state(w),
                "host": w.get("host"),
                "pid": w.get("pid"),
                "current_run": w.get("current_run"),
                "runs_done": w.get("runs_done"),
            }
            for w in group.workers()
        ],
        "running": [entry(m, "running") for m in running],
        "lost": [entry(m, "lost") for m in lost],
    }


def status(groups: list[RunGroup]) -> dict[str, Any]:
    """The `status --json` object: every running (and lost) run of all GROUPS at top level."""
    per_group = [group_status(group) for group in groups]
    return {
        "running": [run for g in per_group for run in g["running"]],
        "lost": [run for g in per_group for run in g["lost"]],
        "rungroups": per_group,
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def status_view(picture: dict[str, Any]) -> Any:
    """The rich renderable of a `status()` picture: one summary and one worker table a group."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    for g in picture["rungroups"]:
        budget = g["budget"] if g["budget"] is not None else "?"
        best = g["best"]
        best_text = (
            f"best {results.format_number(best['quality'])} (run {best['run_id']}: "
            f"{results.format_config(best['config'])})"
            if best
            else "no successful run yet"
        )
        state = "running" if g["active"] else "not running"
        lost = f", {len(g['lost'])} lost (their worker died)" if g["lost"] else ""
        parts.append(
            Text.from_markup(
                f"[bold]{g['rungroup']}[/] ({state}): {g['runs_done']} of {budget} runs done, "
                f"{len(g['running'])} running{lost}; {best_text}"
            )
        )
        view = Table(box=box.SIMPLE_HEAD)
        for name in ("worker", "state", "run", "elapsed", "runs done", "configuration"):
            view.add_column(name)
        runs = {run["run_id"]: run for run in g["running"] + g["lost"]}
        shown = set()
        for w in g["workers"]:
            run = runs.get(str(w["current_run"])) if w["current_run"] else None
            if run:
                shown.add(run["run_id"])
            view.add_row(
                str(w["seed"]),
                w["state"],
                run["run_id"] + (" (lost)" if run["state"] == "lost" else "") if run else "",
                _duration(run["elapsed"]) if run else "",
                str(w["runs_done"] if w["runs_done"] is not None else ""),
                results.format_config(run["config"]) if run else "",
            )
        for run_id, run in runs.items():
            if run_id not in shown:
                view.add_row(
                    str(run["worker"]),
                    run["state"],
                    run_id,
                    _duration(run["elapsed"]),
                    "",
                    results.format_config(run["config"]),
                )
        parts.append(view)
    return Group(*parts)


def watch(groups: list[RunGroup], interval: float = 1.0) -> None:
    """Redraw the status until Ctrl-C or until no launch of GROUPS is active any more."""
    from rich.live import Live

    with Live(status_view(status(groups)), refresh_per_second=4) as live:
        try:
            while True:
                time.sleep(interval)
                picture = status(groups)
                live.update(status_view(picture))
                if not any(g["active"] for g in picture["rungroups"]):
                    return
        except KeyboardInterrupt:
            return


def pick_run(group: RunGroup, run_id: str | None) -> str:
    """RUN_ID checked, or the newest running run, or else the newest run of GROUP (finished
    or lost)."""
    if run_id is not None:
        check_run_id(group, run_id)
        known = {r["run_id"] for r in group.records(include_reused=True)}
        known |= {str(m.get("run_id")) for m in group.running()}
        if run_id not in known and not group.run_dir(run_id).is_dir():
            raise InputError(group.path, None, f"no run {run_id!r} in this rungroup")
        return run_id
    running, lost = running_runs(group)
    runs = running or [*group.records(include_reused=True), *lost]
    runs = [run for run in runs if is_run_id(run.get("run_id"))]
    if not runs:
        raise InputError(group.path, None, "no run has started yet")
    newest = max(runs, key=lambda r: (_number(r.get("started")), r["run_id"]))
    return check_run_id(group, newest["run_id"])


def _number(value: object) -> float:
    """A time from a file, 0 when it is none (so that sorting never fails on a bad file)."""
    return float(value) if isinstance(value, int | float) else 0.0


def is_running(group: RunGroup, run_id: str) -> bool:
    """Whether RUN_ID has a live running marker and no record yet."""
    running, _ = running_runs(group)
    return any(m["run_id"] == run_id for m in running)


def tail(
    group: RunGroup,
    run_id: str,
    out: IO[str],
    follow: bool = False,
    poll: float = 0.2,
    running: Callable[[], bool] | None = None,
) -> None:
    """Write the log of RUN_ID to OUT; with FOLLOW, keep writing what is appended until the
    run ends, like `tail -f`. Bytes that are not UTF-8 come out as U+FFFD."""
    still_running = running or (lambda: is_running(group, run_id))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    offset, path = 0, group.run_log(run_id)
    while True:
        if not _inside(group, path):
            raise InputError(path, None, "the log of this run leads outside the rungroup")
        alive = follow and still_running()
        if group.run_log(run_id) != path:  # the wrapper created the script's log: show that
            offset, path = 0, group.run_log(run_id)
            out.write(decoder.decode(b"", final=True) + "\n")
            decoder.reset()
        chunk = _read_from(path, offset)
        if chunk is not None:
            offset += len(chunk)
            out.write(decoder.decode(chunk))
            out.flush()
        if not alive:
            out.write(decoder.decode(_read_from(path, offset) or b"", final=True))
            out.flush()
            return
        time.sleep(poll)


def _read_from(path: Path, offset: int) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read()
    except FileNotFoundError:
        return None


def request_stop(group: RunGroup, run_id: str) -> Path:
    """Ask the wrapper of RUN_ID to end it; InputError when the run is unknown or not running."""
    check_run_id(group, run_id)
    if any(r["run_id"] == run_id for r in group.records(include_reused=True)):
        raise InputError(group.path, None, f"run {run_id} has already finished")
    running, lost = running_runs(group)
    if any(m["run_id"] == run_id for m in lost):
        raise InputError(group.path, None, f"run {run_id} is lost: its worker is no longer alive")
    if not any(m["run_id"] == run_id for m in running):
        raise InputError(group.path, None, f"run {run_id!r} is not running")
    path = group.run_dir(run_id) / STOP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    os.close(fd)
    return path


def wait_for_record(group: RunGroup, run_id: str, timeout: float) -> dict[str, Any] | None:
    """The record of RUN_ID once it appears, or None after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for record in group.records(include_reused=True):
            if record["run_id"] == run_id:
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.2)
