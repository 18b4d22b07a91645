"""What the dashboard shows, as JSON-ready objects: a thin view over the readers of `status`
and `results`, so that the page and the commands always say the same.

The runs come from `RunGroup.records()` and `monitor.running_runs`, their meaning (finished,
partial or failed quality, the reason) from `outcomes`, the best run from `incumbent`, the
parameters' axes from the PCS through `group_setup` and `plot_axes.axis_for`. Only reading happens
here; the one write, a stop request, is `monitor.request_stop`'s.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smac_bridge import monitor, outcomes, plot_axes, results
from smac_bridge.errors import InputError
from smac_bridge.group_setup import GroupSetup, read_setup
from smac_bridge.incumbent import BestRunSoFar, best_run, mean_cost
from smac_bridge.layout import file_size
from smac_bridge.records import ProgressPoint, RunningMarker, RunRecord, run_order, shown_budget
from smac_bridge.rundata import GrowingCurves, RunGroup, read_progress

#: Bytes of a log sent at most per request; the page asks again for the rest.
LOG_CHUNK = 256 * 1024
#: Where a log is first shown from when the page does not say: its last bytes.
LOG_TAIL = 64 * 1024


def groups(outdir: Path) -> list[RunGroup]:
    """The rungroups under OUTDIR, or none yet (a launch may not have written anything)."""
    try:
        return results.find_groups(outdir)
    except InputError:
        return []


def status(outdir: Path, found: list[RunGroup] | None = None) -> dict[str, Any]:
    """`status --json`'s object (monitor.status) of OUTDIR's rungroups (or FOUND), with the
    folder it looked at and whether that exists (a mistyped path waits forever otherwise)."""
    listed = groups(outdir) if found is None else found
    latest = max(listed, key=results.last_launched).path.name if listed else None
    return {
        "outdir": str(outdir),
        "outdir_exists": outdir.is_dir(),
        "latest": latest,  # what the page shows first: the launch `tail` would pick
        **monitor.status(listed),
    }


def _axis(axis: plot_axes.Axis) -> dict[str, Any]:
    return {
        "log": axis.log,
        "integer": axis.integer,
        "categories": list(axis.categories),
        "bounds": list(axis.bounds) if axis.bounds else None,
    }


def _finished_row(
    record: RunRecord,
    failure: float,
    best_id: str | None,
    default_id: str | None,
    by_cost: bool = False,
) -> dict[str, Any]:
    """A finished run as the table and plots show it; BY_COST (a runtime objective): by its
    cost, what SMAC minimised, and a timed-out run as a partial one at its PAR-k cost, as
    `plot` draws them."""
    kind = outcomes.kind(record, failure)
    shown = outcomes.shown_quality(record, failure)
    cost = record.get("cost")
    if by_cost and kind != "failed" and outcomes.is_finite_number(cost):
        shown = float(cost)
    par_k = by_cost and record.get("status") == "TIMEOUT" and outcomes.is_finite_number(cost)
    if par_k:
        kind, shown = "partial", float(cost)
    return {
        "run_id": record["run_id"],
        "worker": record["worker"],
        "state": "finished",
        "status": record["status"],
        "label": outcomes.status_label(record),  # (stopped), (pruned), (promoted from ...)
        "promoted_from": record.get("promoted_from"),  # its curve continues that run's
        "budget": shown_budget(record),
        "stopped": bool(record.get("stopped_by_user")),
        "kind": kind,
        "quality": shown,
        "par_k": par_k,  # a timed-out run of a runtime objective: its cost is a penalty
        "recorded_quality": record.get("quality"),
        "reason": outcomes.reason(record) or "",
        "failure_label": plot_axes.failure_label(record) if kind == "failed" else None,
        "test_error": (record.get("extra") or {}).get("test_error"),
        "config": record.get("config") or {},
        "started": record.get("started"),
        "ended": record.get("ended"),
        "duration": results.value(record, "elapsed"),
        "best": record["run_id"] == best_id,
        "default": record["run_id"] == default_id,
    }


def _live_row(marker: RunningMarker, state: str, now: float) -> dict[str, Any]:
    started = marker.get("started")
    return {
        "run_id": str(marker.get("run_id")),
        "worker": marker.get("worker"),
        "state": state,
        "status": state.upper(),
        "label": state.upper(),
        "promoted_from": None,  # known once recorded
        "budget": shown_budget(marker),
        "stopped": False,
        "kind": None,
        "quality": None,
        "par_k": False,
        "recorded_quality": None,
        "reason": "its worker is no longer alive" if state == "lost" else "",
        "failure_label": None,
        "test_error": None,
        "config": marker.get("config") or {},
        "started": started,
        "ended": None,
        "duration": now - started
        if isinstance(started, int | float) and state != "queued"
        else None,
        "best": False,
        "default": False,
    }


def runs(group: RunGroup, setup: GroupSetup, now: float | None = None) -> dict[str, Any]:
    """Every run of GROUP as a table row (finished ones, then running and lost ones), and what
    the plots of quality against each parameter need: the axis the PCS declares for it, the
    failure quality, the best and the default configuration's runs."""
    now = time.time() if now is None else now
    records = group.records()
    running, lost = monitor.running_runs(group)
    failure = outcomes.failure_quality(records, setup.failure_quality)
    best = best_run(records)
    default_config = setup.default_config()
    default = outcomes.run_of_config(records, default_config, failure) if default_config else None
    default_runs = outcomes.runs_of_config(records, default_config) if default_config else []
    best_id = best["run_id"] if best else None
    default_id = default["run_id"] if default else None
    result = group.result_field()
    rows = [_finished_row(r, failure, best_id, default_id, result == "cost") for r in records]
    rows += [_live_row(m, monitor.live_state(m), now) for m in running]
    rows += [_live_row(m, "lost", monitor.last_sign_of_life(group, m) or now) for m in lost]
    configs: list[dict[str, Any]] = [{"config": row["config"]} for row in rows]
    parameters = []
    orders = results.ordinal_orders(setup.space)  # the table sorts as `results --sort`
    for name in plot_axes.parameters(configs):  # type: ignore[arg-type]  # only configs are read
        values = [c["config"][name] for c in configs if name in c["config"]]
        axis = _axis(plot_axes.axis_for(name, values, setup.space))
        parameters.append({"name": name, "axis": axis, "order": orders.get(name)})
    return {
        "rungroup": group.path.name,
        "result": result,  # the column's name: `cost` for a runtime objective
        # what the charts and the column call it: under the wrapper's --maximize, -metric
        "result_label": outcomes.quality_name(outcomes.negated_metric(records))
        if result == "quality"
        else result,
        "rows": rows,
        "parameters": parameters,
        "failure_quality": failure,
        "best": best_id,
        "default": default_id,
        # the charts' line: on several seeds or instances its mean, as the incumbent's curve
        "default_quality": mean_cost(default_runs)
        if outcomes.on_several_pairs(default_runs)
        else next((r["quality"] for r in rows if r["run_id"] == default_id), None),
        "test_error": results.has_test_error(records),
        "budgets": any(row["budget"] is not None for row in rows),  # multi-fidelity
        "setup_problem": setup.problem,
    }


@dataclass
class BestSoFar:
    """The incumbent's quality after each finished run, for the whole rungroup and for each
    worker, kept between requests: runs are only ever added, so only the new ones cost (the
    incumbent after N runs is `incumbent.best_run` of those N runs)."""

    order: list[str] = field(default_factory=list)
    start: float = 0.0
    points: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    so_far: dict[str, BestRunSoFar] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)

    def update(self, records: Sequence[RunRecord]) -> dict[str, Any]:
        """The curves of RECORDS in the order they ended: {"start", "rungroup": [points],
        "workers": {seed: [points]}}, a point {"runs", "time", "quality", "run_id"} once there
        is an incumbent, time in seconds since the first run started."""
        ordered = sorted(records, key=lambda r: (r.get("ended") or 0, run_order(r["run_id"])))
        ids = [r["run_id"] for r in ordered]
        start = min((r.get("started") or r.get("ended") or 0 for r in ordered), default=0.0)
        if ids[: len(self.order)] != self.order or start != self.start:
            self.points, self.so_far, self.counted = {}, {}, {}  # not only new runs: start over
        self.order, self.start = ids, start
        series: dict[str, list[RunRecord]] = {"rungroup": ordered}
        for record in ordered:
            series.setdefault(str(record["worker"]), []).append(record)
        for name, runs_of in series.items():
            points = self.points.setdefault(name, [])
            so_far = self.so_far.setdefault(name, BestRunSoFar())
            for index in range(self.counted.get(name, 0), len(runs_of)):
                so_far.add(runs_of[index])
                found = so_far.incumbent()  # its mean cost over its seeds or instances
                if found is not None:
                    ended = runs_of[index].get("ended") or start
                    points.append(
                        {
                            "runs": index + 1,
                            "time": ended - start,
                            "quality": found["cost"],  # null when not finite (json_text)
                            "run_id": found["run_id"],
                        }
                    )
            self.counted[name] = len(runs_of)
        return {
            "start": start,
            "rungroup": self.points.get("rungroup", []),
            "workers": {k: v for k, v in sorted(self.points.items()) if k != "rungroup"},
        }


def progress(
    group: RunGroup, read: Callable[[Path], list[ProgressPoint]] = read_progress
) -> dict[str, list[dict[str, Any]]]:
    """The learning curve of every run of GROUP that reports per step, by run id (READ reads
    one run's file)."""
    return {
        run_id: [{"step": p["step"], "quality": p["quality"]} for p in points]
        for run_id, points in group.curves(read).items()
    }


def log_chunk(
    group: RunGroup,
    run_id: str,
    offset: int | None = None,
    file: str | None = None,
    limit: int = LOG_CHUNK,
) -> dict[str, Any]:
    """The log of RUN_ID (checked by monitor.run_dir before any path is made) from byte
    OFFSET of FILE, at most LIMIT bytes, decoded as UTF-8 with U+FFFD for bad bytes.

    `next` is the offset to ask for next; it stops before a character whose bytes are not all
    written yet. `file` names the log shown (`RunDir.log`: the algo's output until the wrapper
    starts the script's): when it is not FILE, or without OFFSET, or with one past the end,
    the log is shown from LOG_TAIL bytes before its end.
    """
    folder = monitor.run_dir(group, run_id)
    run_id = monitor.pick_run(group, run_id)
    running = monitor.is_running(group, run_id)
    path = monitor.run_log(group, folder)
    size = file_size(path)
    tail = offset is None or offset > size or file != path.name
    if tail:
        offset = max(0, size - LOG_TAIL)
    assert offset is not None
    chunk = b""
    if size:
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read(limit)
        except OSError as error:  # a folder in its place, no permission: said, not a 500
            raise InputError(path, None, f"cannot read the log: {error.strerror}") from None
    if tail and offset:  # a tail starts at a character, not inside one
        inside = len(chunk[:3]) - len(chunk[:3].lstrip(bytes(range(0x80, 0xC0))))
        chunk, offset = chunk[inside:], offset + inside
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(chunk)
    pending = len(decoder.getstate()[0])
    if pending and not running and offset + len(chunk) >= size:
        text += decoder.decode(b"", final=True)  # the run has ended: no more bytes will come
        pending = 0
    return {
        "run_id": run_id,
        "file": path.name,
        "offset": offset,
        "next": offset + len(chunk) - pending,
        "size": size,
        "text": text,
        "running": running,
    }


class Views:
    """The dashboard's answers about one output folder, keeping what is worth keeping between
    requests: each rungroup (whose records() reads only the lines appended since), its setup
    (read again when its launch.json changes; a setup that could not be read is tried again)
    and its best-so-far curves."""

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self._groups: dict[Path, RunGroup] = {}
        self._setups: dict[Path, tuple[int, GroupSetup]] = {}
        self._curves: dict[Path, BestSoFar] = {}
        # the page asks for every run's curve every few seconds, and only a running trial's
        # grows: reading every file whole each time kept the server from its other answers
        # for a second (230 runs of 500 steps)
        self._curve_files = GrowingCurves()

    def groups(self) -> list[RunGroup]:
        """The rungroups in the folder now, each the object kept from earlier requests."""
        found = groups(self.outdir)
        self._groups = {group.path: self._groups.get(group.path, group) for group in found}
        return list(self._groups.values())

    def group_named(self, name: str) -> RunGroup:
        """The rungroup called NAME; InputError for any other name, so that no name from a
        request becomes a path."""
        for group in self.groups():
            if group.path.name == name:
                return group
        raise InputError(self.outdir, None, f"no rungroup {name!r}")

    def setup(self, group: RunGroup) -> GroupSetup:
        try:
            stamp = group.layout.launch.stat().st_mtime_ns
        except OSError:
            stamp = 0
        known = self._setups.get(group.path)
        if known is not None and known[0] == stamp:
            return known[1]
        found = read_setup(group)
        if found.problem is None:
            self._setups[group.path] = (stamp, found)
        return found

    def status(self) -> dict[str, Any]:
        return status(self.outdir, self.groups())

    def runs(self, name: str) -> dict[str, Any]:
        group = self.group_named(name)
        return runs(group, self.setup(group))

    def curves(self, name: str) -> dict[str, Any]:
        group = self.group_named(name)
        records = group.records()
        return self._curves.setdefault(group.path, BestSoFar()).update(records)

    def progress(self, name: str) -> dict[str, Any]:
        return progress(self.group_named(name), self._curve_files.read)

    def log(self, name: str, run_id: str, offset: int | None, file: str | None) -> dict[str, Any]:
        return log_chunk(self.group_named(name), run_id, offset, file)

    def stop(self, name: str, run_id: str) -> dict[str, Any]:
        """Ask RUN_ID's wrapper to end it, as `smac-bridge stop` does (without waiting)."""
        group = self.group_named(name)
        monitor.request_stop(group, run_id)
        return {"rungroup": name, "run_id": run_id, "wait": monitor.stop_wait(group, run_id)}
