"""The shared run-data directory `<outdir>/<rungroup>/` of one launch (docs/architecture.md).

Workers on several hosts that share the folder over a filesystem, the launcher and the
reading commands all go through `RunGroup`; the paths themselves are `layout.GroupLayout`'s.
Writes are safe for concurrent readers and survive crashes:

- run records are appended to `runs-<seed>.jsonl` as whole lines (the writer checks that
  every byte went out, then fsyncs; a line torn by a crash or a full disk is ended before the
  next record, so it stays one bad line). Readers take only lines that end in a newline and
  skip (and count) lines that are not records, so a torn line is never fatal;
- JSON state files (`launch.json`, `workers/<seed>.json`, `abort.json`, markers) are replaced
  atomically;
- a budget slot is claimed by hard-linking a complete claim file to `slots/<run_id>.claim`,
  which only one process can win, also across machines, and which never leaves an empty claim;
  a trial in progress (configuration, instance, seed, budget) is claimed the same way in
  `trials/`, so that shared workers whose proposals meet run it once.

Processes are named by host, pid and a start token (boot id and start time), so a pid that a
later, unrelated process reuses is not taken for a live worker.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import json
import math
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeGuard, cast

from smac_bridge.errors import InputError
from smac_bridge.layout import (
    GroupLayout,
    RunDir,
    append_line,
    format_run_id,
    held_lock,
    is_run_id,
    jsonable,
    process_start_ticks,
    read_json_object,
    try_lock,
    write_json_atomic,
    write_json_once,
)
from smac_bridge.protocol import STATUSES
from smac_bridge.records import (
    FINISHED_STATES,
    AbortInfo,
    ClaimInfo,
    ProgressPoint,
    RunningMarker,
    RunRecord,
    TrialKey,
    WorkerInfo,
    is_solved,
    result_field,
    run_order,
    shown_budget,
)

UNREADABLE_CLAIM_AGE = 60.0
"""Seconds after which a claim file that cannot be read counts as left by a dead process."""
REQUIRED_FIELDS = ("run_id", "worker", "config", "instance", "seed", "status", "quality", "cost")
"""The fields a run record cannot do without."""
RESUMED_FIELDS = (
    *("smac_seed", "cutoff", "runtime", "runlength", "additional", "started", "ended"),
    "wall_time",
)
"""The fields a resume's workers tell SMAC3 and write the classic files from: every record
smac-bridge wrote has them, the views do without them."""
FIELD_KINDS: dict[str, str] = {
    "run_id": "run id",
    "worker": "int",
    "config": "dict",
    "instance": "str",
    "instance_info": "str",
    "seed": "int",
    "smac_seed": "int",
    "budget": "number or none",
    "trained_budget": "number or none",
    "cutoff": "number or none",
    "status": "str",
    "solved": "bool",
    "runtime": "number",
    "runlength": "number",
    "quality": "number",
    "cost": "number",
    "reason": "str or none",
    "additional": "str",
    "extra": "dict",
    "started": "number",
    "ended": "number",
    "run_dir": "run dir",
    "stopped_by_user": "bool",
    "partial": "bool",
    "reused_from": "run id or none",
    "promoted_from": "run id or none",
    "exit_code": "int or none",
    "wall_time": "number",
    "cpu_time": "number",
    "peak_rss_mb": "number",
    "gpu": "str or none",
}
"""The kind of each field of a run record (records.RunRecord)."""
MARKER_KINDS: dict[str, str] = {
    "worker": "int",
    "config": "dict",
    "instance": "str",
    "seed": "int",
    "smac_seed": "int or none",
    "budget": "number or none",
    "trained_budget": "number or none",
    "continued_from": "number or none",
    "started": "number",
    "run_dir": "str",
    "log": "str",
    "host": "str",
    "pid": "int",
    "pid_start": "str",
    "trial_pid": "int or none",
    "marker": "str or none",
    "queued": "bool",
}
"""The kind of each field of a running marker (records.RunningMarker)."""
KEEPER_FIELDS = ("continued_from", "host", "pid", "pid_start")
"""What a dead worker's marker needs for its trial's trained epochs to stay counted: a marker
written before markers had `continued_from` gives all its units back."""
OWED_FIELDS = ("config", "instance", "smac_seed", "budget")
"""What a slot's owed trial must say to be run again (rundata.owe)."""
LAUNCH_KINDS: dict[str, str] = {
    "scenario": "str",
    "parallel": "int",
    "parallel_asked": "int",
    "seeds": "list",
    "gpus": "list",
    "budget": "int or none",
    "budget_limit": "number or none",
    "max_budget": "number or none",
    "budget_flag": "str or none",
    "algo": "str",
    "overrides": "dict",
    "sets": "dict",
    "started": "number",
    "session_started": "number",
    "walltime_before": "number",
    "resumed": "int",
    "host": "str",
    "pid": "int",
    "pid_start": "str",
    "cwd": "str",
    "run_obj": "str",
    "overall_obj": "str",
    "failure_quality": "number or none",
    "deterministic": "bool",
}
"""The kind of each value of launch.json."""


HOST_PID_NAMESPACE = "pid:[4026531836]"
"""/proc/self/ns/pid of a process in the host's own PID namespace (the kernel's fixed inode)."""
NAMESPACE_MARK = ":pidns-"
"""What joins a machine's name and a PID namespace in `hostname()` (no host name holds it)."""


def hostname() -> str:
    """The host name written into claims and markers (to tell live processes from dead), with
    the PID namespace of a container that shares the host's name (`docker run --network
    host`, a Kubernetes pod on the host network): its pids mean other processes outside it,
    and its live workers were taken for dead ones there, their runs killed and run twice."""
    name = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # no /proc: pids are the host's
        return name
    if namespace == HOST_PID_NAMESPACE:
        return name
    return f"{name}{NAMESPACE_MARK}{namespace.strip('pid:[]')}"


def on_this_machine(host: object) -> bool:
    """Whether HOST (a claim's, marker's or heartbeat's) is this machine, in any PID namespace:
    a container started again (a new namespace) resumes the runs of the one before it."""
    return isinstance(host, str) and host.partition(NAMESPACE_MARK)[0] == socket.gethostname()


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def process_token(pid: int) -> str:
    """What tells this process from a later one with the same pid: boot id and start time.

    "" where /proc is not available (then only the pid is checked).
    """
    try:
        start = process_start_ticks(pid)
    except (OSError, ValueError):
        return ""
    return f"{_boot_id()}:{start}"


def pid_alive(pid: int, token: str = "") -> bool:
    """True if process PID lives on this host (zombies count as dead) and, given its start
    TOKEN, is still the same process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            if stat.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    except OSError:
        return True
    return not token or process_token(pid) == token


def worker_is_lost(info: WorkerInfo) -> bool:
    """A heartbeat that says its worker works while the worker's process on this host is
    dead: the worker was killed."""
    return info.get("state") not in FINISHED_STATES and lives(info) is False


def lives(
    info: ClaimInfo | RunningMarker | WorkerInfo | dict[str, Any],
    overdue_after: float | None = None,
) -> bool | None:
    """Whether the process a claim, marker or heartbeat names is alive: None when it runs on
    another host, where this host cannot tell. With OVERDUE_AFTER, a claim or marker of
    another host older than that many seconds (its `claimed` or `started` time) counts as
    dead: a trial that long past its cutoff has lost its worker, which would have killed and
    recorded it (a trial still queued on a cluster excepted)."""
    if info.get("host") != hostname():
        since = info.get("claimed", info.get("started"))
        if (
            overdue_after is not None
            and not info.get("queued")
            and isinstance(since, int | float)
            and time.time() - since > overdue_after
        ):
            return False
        return None
    pid = info.get("pid")
    if not isinstance(pid, int):
        return False
    return pid_alive(pid, str(info.get("pid_start") or ""))


def _trial_name(key: TrialKey) -> str:
    """A trial key as a file name."""
    return hashlib.sha1(json.dumps(list(key)).encode("utf-8")).hexdigest()


def _free_numbers(limit: int, taken: set[str], owed: set[str] | None) -> Iterator[int]:
    """The numbers 1..LIMIT whose run ids are not TAKEN (and are OWED, when given), lowest
    first. A launch limited by time alone has a LIMIT of 10^9: the free numbers are found
    from the taken ones, not by counting up to it (a second of CPU per claim, minutes for
    one that finds none)."""
    if owed is not None:
        wanted = (int(run_id) for run_id in owed - taken if is_run_id(run_id))
        yield from sorted(number for number in wanted if number <= limit)
        return
    number = 0
    while number < limit:
        number += 1
        if format_run_id(number) not in taken:
            yield number


def _claimable(limit: int, held: Sequence[int]) -> int:
    """The numbers 1..L new claims may take so that, with those HELD above L (claimed under an
    earlier launch's larger limit), no more than LIMIT are held: the largest L with L plus
    the held numbers above it at most LIMIT. Numbers below L that a stop gave back are free;
    those above it stay unused until the limit grows again."""
    numbers = sorted(held)

    def above(bound: int) -> int:
        return len(numbers) - bisect.bisect_right(numbers, bound)

    claimable = limit
    while claimable > 0 and claimable + above(claimable) > limit:
        claimable = limit - above(claimable)  # only lower: above() grows as the bound falls
    return max(claimable, 0)


def read_progress(path: Path) -> list[ProgressPoint]:
    """The learning curve in PATH, a run's `progress.jsonl` (`report(quality, step=k)`):
    whole lines with a finite step; a line still being written, or torn by a crash, is
    skipped, and so is a NaN or infinite step (no epoch to plot, judge or count). Points
    carried over from a stopped attempt (`carry_progress`) come first, and only those
    before the run's own first step: a script that trained afresh drew its curve twice."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    return _own_curve(_points(data[: data.rfind(b"\n") + 1]))


def _points(lines: bytes) -> list[ProgressPoint]:
    """The points of whole LINES of a progress.jsonl, carried ones marked."""
    points = []
    for line in lines.splitlines():
        try:
            point = json.loads(line)
        except ValueError:
            continue
        step = point.get("step") if isinstance(point, dict) else None
        if _is_number(step) and math.isfinite(step):
            quality = point.get("quality")
            quality = float(quality) if _is_number(quality) else None
            points.append(ProgressPoint(step=step, quality=quality))
            if point.get("carried") is True:
                points[-1]["carried"] = True
    return points


def _own_curve(points: list[ProgressPoint]) -> list[ProgressPoint]:
    """POINTS without the carried ones at or past the run's own first step."""
    own = [point["step"] for point in points if not point.get("carried")]
    first = min(own, default=math.inf)
    return [p for p in points if not p.get("carried") or p["step"] < first]


class GrowingCurves:
    """Learning curves as their files grow, each call reading only what was appended since
    the last (`read_progress`): a script that reports per batch grows its curve at every look
    of its worker's pruner, and the dashboard asks for every curve every few seconds; reading
    them whole each time cost in proportion to their length."""

    def __init__(self) -> None:
        self._read: dict[Path, tuple[int, int, list[ProgressPoint]]] = {}
        """By file: its inode, the bytes read of it (whole lines) and their points."""

    def read(self, path: Path) -> list[ProgressPoint]:
        try:
            with open(path, "rb") as file:
                inode = os.fstat(file.fileno()).st_ino
                known, offset, points = self._read.get(path, (inode, 0, []))
                if known != inode or os.fstat(file.fileno()).st_size < offset:
                    offset, points = 0, []  # another file now, or cut short: afresh
                file.seek(offset)
                data = file.read()
        except OSError:
            return []
        whole = data[: data.rfind(b"\n") + 1]
        points.extend(_points(whole))
        self._read[path] = (inode, offset + len(whole), points)
        return _own_curve(points)

    def forget(self, path: Path) -> None:
        """Drop what was read of PATH (a trial that ended)."""
        self._read.pop(path, None)


def carry_progress(source: Path, target: Path, up_to: float) -> None:
    """Copy the learning curve in SOURCE, up to step UP_TO, into TARGET as `carried` points:
    a trial run again that continues its stopped attempt's training shows the whole curve,
    which `trained_steps` leaves out of the epochs it trained."""
    _write_carried([point for point in read_progress(source) if point["step"] <= up_to], target)


def keep_carried_progress(path: Path) -> None:
    """Leave only the `carried` points of the curve in PATH: a trial attempted again on a
    cluster drops what its lost attempt reported, and keeps the curve of the stopped trial
    it continues (`carry_progress`), which views, pruning rules and budget units read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    carried = [point for point in _points(data) if point.get("carried")]
    if carried:
        _write_carried(carried, path)
    else:
        path.unlink(missing_ok=True)


def _write_carried(points: Sequence[ProgressPoint], path: Path) -> None:
    lines = [
        json.dumps({"step": point["step"], "quality": point["quality"], "carried": True}) + "\n"
        for point in points
    ]
    path.write_text("".join(lines), encoding="utf-8")


def trained_steps(points: Sequence[ProgressPoint]) -> tuple[list[float], bool]:
    """The steps of a curve that its own trial trained (`carried` ones left out), and
    whether it had carried ones: it continued from where they end."""
    own = [point["step"] for point in points if not point.get("carried")]
    return own, len(own) < len(points)


def units_trained(
    steps: Sequence[float],
    units: int,
    continued_from: float | None,
    solved: bool,
    carried: bool = False,
) -> int | None:
    """Of a trial's UNITS of `budget-limit`, those its learning curve's STEPS show it
    trained: one that continued (a promotion, or a re-run of a stopped trial; CONTINUED_FROM:
    how far the earlier run trained, `RunGroup.units_reached`) did not train the epochs
    before its first step again (none before the earlier run's end: a checkpoint behind it
    trains some again), and one that ended early (pruned, stopped, a crash: not SOLVED) none
    past its last step (steps count epochs from 1); a finished trial trained its whole budget.
    None (all count) without a curve, or with steps that count something else than epochs
    (batches: steps past its budget). A curve that CARRIED its earlier points but has no
    step of its own trained nothing new, or, SOLVED, the budget past CONTINUED_FROM."""
    if continued_from is None or not math.isfinite(continued_from):  # NaN: edited by hand
        continued_from = 0
    earlier = math.ceil(continued_from)
    if not steps:
        if not carried:
            return None
        return max(units - earlier, 0) if solved else 0
    if max(steps) > units:
        return None
    skipped = max(min(earlier, math.ceil(min(steps)) - 1), 0)
    last = units if solved else math.ceil(max(steps))
    return max(last - skipped, 0)


def this_process() -> tuple[str, int, str]:
    """host, pid and pid_start of the calling process, for the files that name it."""
    pid = os.getpid()
    return hostname(), pid, process_token(pid)


def _is_number(value: object) -> TypeGuard[int | float]:
    """An int or float from JSON, not `true` (a bool is an int to Python)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_record(data: object) -> bool:
    """A run record: every field there and of its kind (a line edited by hand, or passed
    through a strict JSON tool that writes NaN as null, is no record: every command reading
    it, and a resume, would fail on it)."""
    if not isinstance(data, dict) or not all(key in data for key in REQUIRED_FIELDS):
        return False
    if data["status"] not in STATUSES:
        return False
    if not all(_of_kind(data[key], kind) for key, kind in FIELD_KINDS.items() if key in data):
        return False
    return all(isinstance(value, str | int | float) for value in data["config"].values())


def _of_kind(value: object, kind: str) -> bool:
    """Whether VALUE is of KIND (FIELD_KINDS), "... or none" allowing None."""
    if kind.endswith(" or none"):
        return value is None or _of_kind(value, kind.removesuffix(" or none"))
    if kind == "number":
        return _is_number(value)
    if isinstance(value, bool):
        return kind == "bool"
    if kind == "run id":
        return isinstance(value, str) and is_run_id(value)
    if kind == "run dir":  # runs/<run id>: the folder readers open and copy from
        return isinstance(value, str) and value.startswith("runs/") and is_run_id(value[5:])
    return isinstance(value, {"int": int, "str": str, "dict": dict, "list": list}[kind])


def complete_lines(data: bytes) -> tuple[list[RunRecord], int, list[int]]:
    """The records in the newline-terminated lines of DATA, the bytes consumed, and the
    numbers (from 1) of the lines skipped because they are not records (torn by a crash, or
    damaged).

    A trailing line without its newline may still be being written: it is left for later.
    """
    end = data.rfind(b"\n") + 1
    records: list[RunRecord] = []
    skipped = []
    for number, line in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            skipped.append(number)
            continue
        if _is_record(record):
            records.append(cast(RunRecord, record))
        else:
            skipped.append(number)
    return records, end, skipped


class RecordReader:
    """Reads the new records of the workers' `runs-<seed>.jsonl` files, by byte offset.

    Files that appear later (a worker started on another host) are picked up at the next
    `poll()`. Offsets live only in memory: a restarted worker reads from the start, and its
    caller skips what it already knows. `skipped` names the lines that were not records, as
    `file:line`. A file replaced (moved away and made again by its worker, saved by an
    editor) or cut short is read again from its start, and only the records not read before
    are new: an offset kept past its end hid every record written there since.
    """

    def __init__(self, group: RunGroup) -> None:
        self._group = group
        self._offsets: dict[Path, int] = {}
        self._lines: dict[Path, int] = {}  # the whole lines read up to each offset
        self._files: dict[Path, int] = {}  # the inode each offset belongs to
        self._ends: dict[Path, bytes] = {}  # the last bytes read before each offset
        self._read: dict[Path, Counter[int]] = {}  # of each file, the records read (record_hash)
        self._seen: dict[Path, Counter[int]] = {}  # of a file read again, those read before
        self.skipped: list[str] = []
        self.unreadable: dict[Path, str] = {}  # record files this user may not read: why
        self.unfinished: dict[Path, int] = {}  # a file's last line without its newline yet
        self.rewritten = False  # a file read before was replaced, cut short or removed
        self.replaced: list[Path] = []  # the files found replaced or cut short, in order

    def poll(self) -> list[RunRecord]:
        """All complete records appended since the previous poll, file by file."""
        new: list[RunRecord] = []
        found = set()
        for _, path in self._group.layout.record_files():
            found.add(path)
            offset = self._offsets.get(path, 0)
            try:
                with open(path, "rb") as handle:
                    facts = os.fstat(handle.fileno())
                    end = self._ends.get(path, b"")
                    handle.seek(offset - len(end))
                    if (
                        self._files.get(path, facts.st_ino) != facts.st_ino
                        or facts.st_size < offset
                        or handle.read(len(end)) != end  # rewritten in place
                    ):
                        self._read_again(path)
                        offset = 0
                        handle.seek(0)
                    self._files[path] = facts.st_ino
                    data = handle.read()
            except FileNotFoundError:  # moved away since it was listed
                self.unreadable.pop(path, None)
                continue
            except OSError as error:  # another user's private file: its runs go unseen
                self.unreadable[path] = error.strerror or str(error)
                continue
            self.unreadable.pop(path, None)
            records, used, skipped = complete_lines(data)
            self._offsets[path] = offset + used
            if used:
                self._ends[path] = data[max(used - RECORD_END_KEPT, 0) : used]
            before = self._lines.get(path, 0)
            self.skipped += [f"{path}:{before + number}" for number in skipped]
            self._lines[path] = before + data.count(b"\n", 0, used)
            if data[used:].strip():
                self.unfinished[path] = self._lines[path] + 1
            else:
                self.unfinished.pop(path, None)
            read, seen = self._read.setdefault(path, Counter()), self._seen.get(path)
            for record in records:
                read[key := record_hash(record)] += 1
                if seen and seen[key] > 0:  # read before the file was replaced
                    seen[key] -= 1
                else:
                    new.append(record)
        if not found.issuperset(self._offsets):
            self.rewritten = True
        for gone in set(self.unreadable) - found:
            del self.unreadable[gone]
        return new

    def _read_again(self, path: Path) -> None:
        """PATH was replaced or cut short: read it from its start at this poll."""
        self.rewritten = True
        self.replaced.append(path)
        self._lines[path] = 0
        self._ends.pop(path, None)
        # what was read before comes back once at most: also a line that a later poll finds
        # complete (an editor's save writes the file after cutting it short)
        self._seen[path] = self._seen.pop(path, Counter()) + self._read.pop(path, Counter())
        self.skipped = [line for line in self.skipped if not line.startswith(f"{path}:")]


RECORD_END_KEPT = 64
"""Bytes kept of a record file's end as read: found otherwise there, the file was rewritten."""


def record_hash(record: RunRecord) -> int:
    """What tells a record line from every other: its run, worker, start and whether it is a
    copy of another worker's result."""
    started, reused = record.get("started"), bool(record.get("reused_from"))
    return hash((record["run_id"], record["worker"], started, reused))


class RunGroup:
    """The output directory of one rungroup: `<outdir>/<rungroup>/`."""

    def __init__(self, path: str | Path) -> None:
        self.layout = GroupLayout(path)
        self.path = self.layout.path
        self.skipped_lines: list[str] = []  # record lines records() left out, as file:line
        self.unreadable_records: dict[Path, str] = {}  # record files records() could not read
        self._reader = RecordReader(self)
        self._records: list[RunRecord] = []  # what records() read so far

    def run(self, run_id: str) -> RunDir:
        """The run directory of a run (ValueError for anything but a run id)."""
        return self.layout.run_dir(run_id)

    def exists(self) -> bool:
        return self.path.is_dir()

    def hold_launch_lock(self) -> int | None:
        """Take the rungroup for one launch: an exclusive lock on `<outdir>/.<rungroup>.lock`,
        held through the returned descriptor until this process and the workers it forks end;
        None while another launch holds it (two launches started together each found the
        folder new, and both ran)."""
        lock = self.layout.launch_lock
        lock.parent.mkdir(parents=True, exist_ok=True)
        return try_lock(lock)

    def is_rungroup(self) -> bool:
        """Whether smac-bridge made this folder (a launch, doe or worker wrote its launch.json,
        run records or a heartbeat there, or made its slots/ folder, a name of its own), not a
        folder of the user's that only shares its name."""
        layout = self.layout
        if self.holds_launch_or_records() or layout.slots.is_dir():
            return True
        return any(
            folder.is_dir() and any(folder.iterdir()) for folder in (layout.running, layout.workers)
        )

    def refuse_a_folder_of_the_users(self) -> None:
        """InputError for a folder that holds something and is no rungroup (the user's, of
        the rungroup's name): a launch or a worker would empty its runs/."""
        if not self.holds_nothing() and not self.is_rungroup():
            raise InputError(
                self.path,
                None,
                "the folder exists, is not empty and is no smac-bridge rungroup: choose another"
                " --outdir or --set rungroup=NAME",
            )

    def holds_launch_or_records(self) -> bool:
        """The surest marks of a rungroup: its launch.json or run records (its slots/, workers/
        and running/ folders are also names its outdir's rungroups may have)."""
        return self.layout.launch.exists() or bool(self.layout.record_files())

    def nested_outdir(self) -> str | None:
        """Why the output directory holding this rungroup is none, when it is a rungroup or
        lies inside one (the path a view took, a run's folder): a launch there would nest a
        rungroup in it, which its views never show and `best --copy-to` would copy."""
        outdir = self.path.parent.resolve()  # a link into a rungroup leads inside it too
        for folder in (outdir, *outdir.parents):
            layout = GroupLayout(folder)  # launch.json alone may be another tool's file
            if not (layout.launch.exists() and layout.slots.is_dir()):
                continue
            if folder == outdir:
                return (
                    "the output directory is itself a rungroup (it holds launch.json): give its"
                    " parent folder as the output directory (launch --resume continues it)"
                )
            return f"the output directory is inside the rungroup {folder}: choose one outside it"
        return None

    def holds_nothing(self) -> bool:
        """True when the rungroup is missing, empty, or holds only what a launch stopped
        before its first worker started left (launch.json, space.pcs, a design's rows, empty
        folders): a new launch may start it over without losing anything."""
        if not self.path.exists():
            return True
        layout = self.layout
        for entry in self.path.iterdir():
            if entry in (layout.launch, layout.space, layout.design):
                continue
            if entry in self._folders() and entry.is_dir() and not any(entry.iterdir()):
                continue
            return False
        return True

    def start_over(self) -> None:
        """Clear what holds_nothing allows, so that a new launch saves its own space."""
        for path in (self.layout.launch, self.layout.space, self.layout.design):
            path.unlink(missing_ok=True)

    def create(self, restore_claims: bool = False) -> None:
        """Make the rungroup's folders. Its slots/ gone (deleted by hand) from a rungroup whose
        runs began is an InputError (a worker must not claim run ids that runs in progress
        hold). With RESTORE_CLAIMS (a launch that starts, while no worker runs) every recorded
        run without its slot's claim (slots/ deleted, or emptied) is claimed again, so that no
        run id is used twice and the run budget still counts them."""
        if self._slots_lost() and not restore_claims:
            raise self._slots_gone()
        for folder in (self.layout.path, *self._folders()):
            folder.mkdir(parents=True, exist_ok=True)
        if restore_claims:
            claimed = set(self.claimed())
            lost = [
                record
                for record in self.records(include_reused=True)
                if is_run_id(record["run_id"]) and record["run_id"] not in claimed
            ]
            if lost:
                with held_lock(self.layout.cleanup_lock):
                    for record in lost:
                        self._link_claim(record["run_id"], record["worker"])

    def _slots_lost(self) -> bool:
        """Whether slots/ is gone from a rungroup whose runs began (recorded, or a run folder
        made); a rungroup of a launch stopped before its first trial has none to lose."""
        if self.layout.slots.is_dir():
            return False
        runs = self.layout.runs
        return bool(self.layout.record_files()) or (runs.is_dir() and any(runs.iterdir()))

    def _slots_gone(self) -> InputError:
        return InputError(
            self.layout.slots,
            None,
            "this folder of the rungroup is gone (deleted while its workers ran?): its claims"
            " kept run ids unique and counted the run budget, so the workers stop; a resume"
            " (`launch --resume`, or `doe --resume` for a design) claims the recorded runs'"
            " slots again",
        )

    def _folders(self) -> tuple[Path, ...]:
        layout = self.layout
        return layout.slots, layout.running, layout.workers, layout.runs

    # ---- launch settings and abort --------------------------------------------------------

    def launch_info(self) -> dict[str, Any]:
        """launch.json: scenario path, parallel, seeds, budget, started ({} if none yet, or
        if it is damaged); a value of the wrong kind (edited by hand) is left out."""
        info = read_json_object(self.layout.launch) or {}
        return {
            key: value
            for key, value in info.items()
            if key not in LAUNCH_KINDS or _of_kind(value, LAUNCH_KINDS[key])
        }

    def result_field(self) -> str:
        """The record field that is a run's result (records.result_field); `quality` for a
        rungroup launched before launch.json named its run_obj."""
        return result_field(self.launch_info().get("run_obj"))

    def write_launch_info(self, info: dict[str, Any]) -> None:
        write_json_atomic(self.layout.launch, info)

    def abort_info(self) -> AbortInfo | None:
        """Set once a worker aborted the launch."""
        info = read_json_object(self.layout.abort)
        return cast(AbortInfo, info) if info is not None else None

    def request_abort(
        self, reason: str, worker: int | None, run_id: str | None, exit_code: int
    ) -> None:
        """Tell every worker of the rungroup to stop. The first reason is kept: the file is
        linked into place, which fails once it exists, so two workers aborting at once cannot
        replace each other's reason."""
        info = AbortInfo(
            reason=reason, worker=worker, run_id=run_id, time=time.time(), exit_code=exit_code
        )
        write_json_once(self.layout.abort, info)  # False: another worker's reason came first

    def clear_abort(self) -> None:
        self.layout.abort.unlink(missing_ok=True)

    # ---- run records ----------------------------------------------------------------------

    def records(self, include_reused: bool = False) -> list[RunRecord]:
        """Every finished run of every worker (complete lines only), ordered by end time.

        A worker that took another worker's result for an identical trial writes a record with
        `reused_from` set (and the original's run_id); those are no runs of their own and are
        left out unless `include_reused`. Each call reads on from where the last one stopped,
        so a RunGroup kept (the dashboard's) parses each line once; one thread at a time.
        """
        self._records.extend(self._reader.poll())
        if self._reader.rewritten:  # not appended to: read every file again
            self._reader = RecordReader(self)
            self._records = self._reader.poll()
        self.skipped_lines = self._reader.skipped + self._torn_last_lines()
        self.unreadable_records = dict(self._reader.unreadable)
        records = self._records
        if not include_reused:
            records = [record for record in records if not record.get("reused_from")]
        return sorted(
            records, key=lambda record: (record.get("ended") or 0, run_order(record["run_id"]))
        )

    def incomplete_records(self) -> list[tuple[Path, int, str, list[str]]]:
        """The records a resume's workers cannot go on from (a field of RESUMED_FIELDS gone,
        by a hand edit), each as its file, line, run id and the fields it lacks."""
        found = []
        for _, path in self.layout.record_files():
            try:
                lines = path.read_bytes().split(b"\n")
            except OSError:
                continue
            for number, line in enumerate(lines, start=1):
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if _is_record(data) and (lacks := [f for f in RESUMED_FIELDS if f not in data]):
                    found.append((path, number, data["run_id"], lacks))
        return found

    def _torn_last_lines(self) -> list[str]:
        """The unfinished last lines of the record files once no worker of the group lives,
        as file:line: torn as a worker died writing its record (a resume ends them and runs
        their slots again), no longer lines still being written."""
        unfinished = self._reader.unfinished
        if not unfinished or any(lives(worker) is not False for worker in self.workers()):
            return []
        return [f"{path}:{line}" for path, line in unfinished.items()]

    def append_record(self, seed: int, record: RunRecord, sync: bool = True) -> None:
        """Append one run record to the worker's file as one whole line; without SYNC the
        caller calls `sync_records` (a worker, once its next trial started). A NaN or infinity
        among the script's extra values is written as null, which people's tools can read;
        a quality or runtime keeps its `Infinity` (a classic line's), which a record needs."""
        if "extra" in record:
            record = cast(RunRecord, {**record, "extra": jsonable(record["extra"])})
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        append_line(self.layout.records(seed), line, sync)

    def sync_records(self, seed: int) -> None:
        """Put the worker's appended records on disk (fsync; readers saw them at once); a file
        moved away meanwhile took them along, and the next record starts a new one."""
        try:
            fd = os.open(self.layout.records(seed), os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- learning curves ------------------------------------------------------------------

    def units_reached(self, record: RunRecord) -> float | None:
        """How far RECORD's run trained, in budget units, which a promotion of it continues
        from: its budget when it finished; else (pruned, stopped by hand) the last step its
        learning curve shows, as a script continues from the checkpoint it saved there (its
        budget without such a curve, or with steps past it: batches, not epochs)."""
        budget = shown_budget(record)
        if budget is None or is_solved(record):
            return budget
        steps = [point["step"] for point in self.progress(record["run_id"])]
        return max(steps) if steps and max(steps) <= budget else budget

    def progress(self, run_id: str) -> list[ProgressPoint]:
        """The learning curve of RUN_ID (`read_progress`)."""
        return read_progress(self.run(run_id).progress)

    def curves(
        self, read: Callable[[Path], list[ProgressPoint]] = read_progress
    ) -> dict[str, list[ProgressPoint]]:
        """The learning curve of every run that reports per step and is recorded, running or
        holds its slot (it ended and is being recorded), by run id; not the curve a stopped
        attempt left in the folder of a run whose slot it gave back (a resume runs it again,
        afresh). READ reads a run's progress.jsonl (the dashboard's keeps what it read)."""
        if not self.layout.runs.is_dir():
            return {}
        known = set(self.claimed()) | {r["run_id"] for r in self.records(include_reused=True)}
        known |= {str(marker.get("run_id")) for marker in self.running()}
        found = {}
        try:
            folders = sorted(self.layout.runs.iterdir())
        except FileNotFoundError:  # the rungroup was deleted while it was read
            return {}
        for folder in folders:
            if folder.name in known and (points := read(self.run(folder.name).progress)):
                found[folder.name] = points
        return found

    # ---- budget slots ---------------------------------------------------------------------

    def claimed(self) -> list[str]:
        """The run ids of all claimed slots (runs started, finished or not), sorted."""
        if not self.layout.slots.is_dir():
            return []
        return sorted(path.stem for path in self.layout.slots.glob("*.claim"))

    def claim_slot(
        self, limit: int, worker: int, owed_only: bool = False, passed: Collection[str] = ()
    ) -> str | None:
        """Claim the lowest free run slot `1..limit` (with OWED_ONLY, of those that owe their
        trial, `owe`) but those PASSED; None when the budget is used up (or no free slot owes
        one).

        The claim is written in full to a private file and then hard-linked to its slot name:
        the link fails when the slot is taken, so two workers never get the same slot, the
        number of claims never exceeds the budget, and no claim is ever seen empty. Slots
        above LIMIT, claimed under an earlier launch's larger budget, count against it: a
        resume with a smaller one fills none of the lower slots a stop left free.
        """
        owed = set(self.owing()) - set(passed) if owed_only else None
        if owed is not None and not owed:  # the common case, asked before every trial
            return None
        slots = self.layout.slots
        if not slots.is_dir():
            if self._slots_lost():
                raise self._slots_gone()
            slots.mkdir(parents=True, exist_ok=True)
        claimed = set(self.claimed())
        limit = _claimable(limit, [int(run_id) for run_id in claimed if is_run_id(run_id)])
        taken = claimed | set(passed)
        for number in _free_numbers(limit, taken, owed):
            run_id = format_run_id(number)
            if self._link_claim(run_id, worker):
                return run_id
        return None

    def _link_claim(self, run_id: str, worker: int) -> bool:
        """Claim slot RUN_ID for WORKER; False where it is taken. The claim is written in full
        to a private file first, then hard-linked to the slot's name."""
        host, pid, pid_start = this_process()
        info = ClaimInfo(
            worker=worker, host=host, pid=pid, pid_start=pid_start, claimed=time.time()
        )
        tmp = self.layout.slots / f".claim-{hostname()}-{os.getpid()}.tmp"
        try:
            tmp.write_bytes(json.dumps(info).encode("utf-8"))
            os.link(tmp, self.layout.slot(run_id))
        except FileExistsError:
            return False
        except FileNotFoundError:  # slots/ deleted meanwhile
            if not self.layout.slots.is_dir():
                raise self._slots_gone() from None
            raise
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def claim_units(self, run_id: str, units: int, limit: int) -> bool:
        """Take UNITS of the group's `budget-limit` (LIMIT units in all) for run RUN_ID: one
        claim file per unit, each hard-linked as a slot is, so the limit is never overshot.
        False (and nothing taken) when fewer than UNITS are left. Units numbered above LIMIT,
        taken under an earlier launch's larger one, count against it, as slots do. Claims
        take turns: two that each linked part of the last free units both gave them back."""
        folder = self.layout.units
        folder.mkdir(parents=True, exist_ok=True)
        with held_lock(folder / ".claiming.lock"):
            return self._claim_units(run_id, units, limit)

    def _claim_units(self, run_id: str, units: int, limit: int) -> bool:
        folder = self.layout.units
        names = (path.stem for path in folder.glob("*.claim"))
        held = {int(name) for name in names if name.isdigit()}
        limit = _claimable(limit, list(held))
        # Only claims link unit files and they take turns, so the numbers seen free are the
        # ones to try: a claim reads the units taken (one listing of the folder) and walks the
        # numbers up to its own last one, not a list of every number up to the limit (at
        # 10^6: 40 ms a claim, more when busy).
        if limit - sum(1 for number in held if number <= limit) < units:
            return False
        free = (number for number in range(1, limit + 1) if number not in held)
        tmp = folder / f".{run_id}-{hostname()}-{os.getpid()}.tmp"
        tmp.write_text(run_id, encoding="ascii")
        taken: list[Path] = []
        try:
            for number in free:
                if len(taken) == units:
                    break
                try:
                    os.link(tmp, self.layout.unit(number))
                except FileExistsError:
                    continue
                taken.append(self.layout.unit(number))
            if len(taken) < units:
                for path in taken:
                    path.unlink(missing_ok=True)
                return False
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def units_used(self) -> int:
        """Units of `budget-limit` taken by runs started so far."""
        if not self.layout.units.is_dir():
            return 0
        return sum(1 for _ in self.layout.units.glob("*.claim"))

    def units_held_by(self, run_ids: Collection[str]) -> int:
        """Units of `budget-limit` that the runs RUN_IDS hold."""
        return sum(1 for _, holder in self._unit_claims() if holder in run_ids)

    def unit_holders(self) -> set[str]:
        """The run ids that hold units of `budget-limit`, finished or not."""
        return {holder for _, holder in self._unit_claims() if is_run_id(holder)}

    def keep_units_trained(
        self, run_id: str, continued_from: float | None, worker: tuple[str, int, str]
    ) -> None:
        """Keep for good, held by no run, the units that run RUN_ID's unrecorded trial trained
        as its learning curve shows them (`units_trained`; CONTINUED_FROM: how far the earlier
        run a promotion continued trained, `units_reached`): spent epochs, which its slot's
        re-run neither trains on nor gives back. WORKER (host, pid, pid_start) names the
        attempt, so that a cleanup that comes again, or beside another, keeps none twice.
        Each claim file is replaced whole, so the count never drops meanwhile."""
        folder = self.layout.units
        if not folder.is_dir():
            return
        steps, carried = trained_steps(self.progress(run_id))
        label = f"{run_id} stopped by {' '.join(map(str, worker))}"
        with held_lock(folder / ".claiming.lock"):
            claims = self._unit_claims()
            owned = [path for path, holder in claims if holder == run_id]
            kept = sum(1 for _, holder in claims if holder == label)
            trained = units_trained(steps, len(owned) + kept, continued_from, False, carried)
            if trained is None:  # steps past the budget (batches) show training, not how much
                trained = len(owned) + kept if steps else 0
            for path in owned[: max(trained - kept, 0)]:
                tmp = path.with_name(f".{path.stem}-{hostname()}-{os.getpid()}.tmp")
                tmp.write_text(label, encoding="ascii")
                os.replace(tmp, path)

    def _unit_claims(self) -> list[tuple[Path, str]]:
        """Each unit's claim file and its holder: a run id, or a stopped attempt's label
        (`keep_units_trained`)."""
        if not self.layout.units.is_dir():
            return []
        claims = []
        for path in self.layout.units.glob("*.claim"):
            try:
                claims.append((path, path.read_text(encoding="ascii")))
            except OSError:
                continue  # given back meanwhile
            except UnicodeDecodeError:
                claims.append((path, ""))  # edited by hand: a unit held by no run
        return claims

    def release_units(self, run_id: str, count: int | None = None) -> None:
        """Give back COUNT (all when None) of the budget units of run RUN_ID: a run that did
        not finish, or the epochs a continued training did not train again."""
        owned = [path for path, holder in self._unit_claims() if holder == run_id]
        for path in owned[:count]:
            path.unlink(missing_ok=True)

    def claim_info(self, run_id: str) -> ClaimInfo | None:
        info = read_json_object(self.layout.slot(run_id))
        return cast(ClaimInfo, info) if info is not None else None

    # ---- trial claims (shared-model mode) -------------------------------------------------

    def claim_trial(
        self, key: TrialKey, run_id: str, worker: int, overdue_after: float | None = None
    ) -> bool:
        """Claim trial KEY for run RUN_ID, hard-linked as a slot is: when the proposals of
        shared workers meet at one trial (their SMAC3 intensifiers share a seed, so they
        intensify the same incumbent on the same next instance), one of them runs it and the
        others take its result. A claim left by a dead process is taken over, and one of
        another host that is OVERDUE_AFTER seconds old (see `lives`)."""
        folder = self.layout.trial_claims
        folder.mkdir(parents=True, exist_ok=True)
        path = self.layout.trial_claim(_trial_name(key))
        host, pid, pid_start = this_process()
        holder = {
            "run_id": run_id,
            "worker": worker,
            "host": host,
            "pid": pid,
            "pid_start": pid_start,
            "claimed": time.time(),
        }
        tmp = folder / f".{run_id}-{host}-{pid}.tmp"
        tmp.write_bytes(json.dumps(holder).encode("utf-8"))
        try:
            try:
                os.link(tmp, path)
                return True
            except FileExistsError:
                pass
            # Its process died before recording the run: take it over, one taker at a time,
            # or two that both saw it dead both removed a claim and ran the trial. A claim
            # gone meanwhile (released) is not unlinked again: a new first claim, made without
            # the lock, may stand there by now.
            with held_lock(self.layout.cleanup_lock):
                held = read_json_object(path)
                if held is not None and lives(held, overdue_after) is not False:
                    return False
                if held is not None:
                    path.unlink(missing_ok=True)
                try:
                    os.link(tmp, path)
                    return True
                except FileExistsError:  # another worker's first claim came in between
                    return False
        finally:
            tmp.unlink(missing_ok=True)

    def trial_claimed(self, key: TrialKey, overdue_after: float | None = None) -> bool:
        """Whether a live process (or one on another host, not OVERDUE_AFTER seconds old)
        holds the claim of trial KEY."""
        holder = read_json_object(self.layout.trial_claim(_trial_name(key)))
        return holder is not None and lives(holder, overdue_after) is not False

    def release_trial(self, key: TrialKey) -> None:
        """Give trial KEY's claim back: its run is recorded, or it did not finish."""
        self.layout.trial_claim(_trial_name(key)).unlink(missing_ok=True)

    def release_slot(self, run_id: str) -> None:
        """Give a slot (and its budget units) back: its run did not finish, a later claim
        re-runs it."""
        self.release_units(run_id)
        self.layout.slot(run_id).unlink(missing_ok=True)

    def release_stale_claims(
        self,
        workers_stopped: bool = False,
        overdue_after: float | None = None,
        keep_left: Callable[[str], Path | None] | None = None,
    ) -> list[str]:
        """Release the slots of runs that never finished and whose worker is dead, KEEP_LEFT
        called on each run id first (what its run folder holds is kept, before a worker can
        claim the slot again and start the folder afresh, where KEEP_LEFT returns: the slot's
        re-run continues from it).

        A claim whose process lives, or that lives on another host, is kept, unless
        WORKERS_STOPPED (a launcher that knows every worker of the group is stopped) or, with
        OVERDUE_AFTER, the claim and its run's marker are overdue (`lives`); so is
        a claim that cannot be read yet, unless it is old or WORKERS_STOPPED. Their running
        markers go too, as do those of recorded runs whose worker died before clearing them,
        and the trial claims of dead processes. Returns the released run ids.

        Cleaners take turns (the launcher and each worker that finds the budget used up
        clean at once after a worker died): one that read a claim as dead, then removed it
        after another had released the slot and a live worker claimed it again, gave a trial
        that runs away, and its run id was used twice.
        """
        if not self.exists():  # nothing claimed yet
            return []
        with held_lock(self.layout.cleanup_lock):
            return self._release_stale_claims(workers_stopped, overdue_after, keep_left)

    def _release_stale_claims(
        self,
        workers_stopped: bool,
        overdue_after: float | None,
        keep_left: Callable[[str], Path | None] | None,
    ) -> list[str]:
        finished = {record["run_id"] for record in self.records()}
        markers = {marker["run_id"]: marker for marker in self.running()}
        released = []
        for run_id in self.claimed():
            if run_id in finished:  # a worker killed after the record, before its marker went
                marker = markers.get(run_id)
                if marker is not None and (workers_stopped or lives(marker) is False):
                    self.clear_running(run_id)
                continue
            info = self.claim_info(run_id)
            if info is None:
                try:
                    age = time.time() - self.layout.slot(run_id).stat().st_mtime
                except OSError:
                    continue
                if age < UNREADABLE_CLAIM_AGE and not workers_stopped:
                    continue
            elif not workers_stopped and (
                lives(info, overdue_after) is not False
                or (  # another host's overdue claim, but its trial still queued on a cluster
                    info.get("host") != hostname()
                    and run_id in markers
                    and lives(markers[run_id], overdue_after) is not False
                )
            ):
                continue
            marker = markers.get(run_id)
            if marker is not None:
                self.owe(marker)  # first, before its folder moves: a full disk takes its marker
            if marker is not None and all(key in marker for key in KEEPER_FIELDS):
                worker = (marker["host"], marker["pid"], marker["pid_start"])  # died with it
                with contextlib.suppress(OSError):  # a full disk: its re-run's to train again
                    self.keep_units_trained(run_id, marker["continued_from"], worker)
            kept = keep_left(run_id) if keep_left is not None else None
            if marker is not None and kept is not None:
                self.owe(marker, kept)  # its re-run continues from there
            self.clear_running(run_id)  # before the slot is free: not a new attempt's marker
            self.release_slot(run_id)
            released.append(run_id)
        self._release_stale_trial_claims(workers_stopped)
        self._remove_stale_private_files()
        return released

    def _release_stale_trial_claims(self, workers_stopped: bool) -> None:
        """Remove the trial claims of dead processes (all, when WORKERS_STOPPED), which a
        later claim would take over anyway, so that `trials/` lists trials in progress."""
        folder = self.layout.trial_claims
        if not folder.is_dir():
            return
        for path in folder.glob("*.claim"):  # in the cleanup's turn, as a takeover is
            holder = read_json_object(path)
            if workers_stopped or (holder is not None and lives(holder) is False):
                path.unlink(missing_ok=True)

    def _remove_stale_private_files(self) -> None:
        """Remove the private files of claims a process died while making: a claim's lives
        for microseconds (one over UNREADABLE_CLAIM_AGE old is a dead process's)."""
        for claims in (self.layout.trial_claims, self.layout.slots, self.layout.units):
            for path in claims.glob(".*.tmp"):
                with contextlib.suppress(OSError):  # gone meanwhile
                    if time.time() - path.stat().st_mtime > UNREADABLE_CLAIM_AGE:
                        path.unlink()

    # ---- running markers ------------------------------------------------------------------

    def owe(self, marker: RunningMarker, left_in: Path | None = None) -> None:
        """Note that MARKER's slot owes its trial (stopped by a Ctrl-C or an abort, or lost with
        its worker): the next claim of the slot runs the same configuration, instance, seed
        and budget again, as a resumed Ray Tune or Optuna study runs its unfinished trials,
        and continues from LEFT_IN, the folder where what the lost trial left was kept (a
        stopped trial's stays in its run folder until the re-run starts).
        On a full disk the running marker itself becomes the note (a rename takes no room;
        what the lost trial left is then not continued from); where neither can be written (a
        read-only disk) the slot owes nothing and is still given back: a failed note must not
        keep the run from running again."""
        note = {**marker, "left_in": str(left_in)} if left_in is not None else marker
        if not self.layout.slots.is_dir():  # deleted: a note would make it again, holding no
            return  # claim, and workers would take recorded runs' ids from it
        try:
            write_json_atomic(self.layout.owed(marker["run_id"]), note)
        except OSError:
            with contextlib.suppress(OSError):
                os.replace(self.layout.marker(marker["run_id"]), self.layout.owed(marker["run_id"]))

    def owed(self, run_id: str) -> RunningMarker | None:
        """The trial RUN_ID's slot owes, as its marker was when it stopped; None when none."""
        marker = read_json_object(self.layout.owed(run_id))
        if marker is None or not all(key in marker for key in OWED_FIELDS):
            return None
        return cast(RunningMarker, marker)

    def left_by_lost_attempt(self, run_id: str) -> Path | None:
        """Where what the lost attempt of RUN_ID's owed trial left was kept (`owe`); None
        when its slot owes no lost trial."""
        note = read_json_object(self.layout.owed(run_id)) or {}
        left_in = note.get("left_in")
        return Path(left_in) if isinstance(left_in, str) else None

    def owing(self) -> list[str]:
        """The run ids of the slots that owe their trial, sorted (those being run again too)."""
        if not self.layout.slots.is_dir():
            return []
        return sorted(path.stem for path in self.layout.slots.glob("*.owed"))

    def forget_owed(self, run_id: str) -> None:
        """The slot's trial ran, or runs elsewhere: it owes nothing."""
        self.layout.owed(run_id).unlink(missing_ok=True)

    def mark_running(self, marker: RunningMarker) -> None:
        write_json_atomic(self.layout.marker(marker["run_id"]), marker)

    def clear_running(self, run_id: str) -> None:
        self.layout.marker(run_id).unlink(missing_ok=True)

    def running(self) -> list[RunningMarker]:
        """Markers of the runs in progress, by run id. Files that are no marker are skipped,
        as a marker with a field of the wrong kind is (edited by hand: every view and every
        worker reading it would fail on it)."""
        if not self.layout.running.is_dir():
            return []
        markers = []
        for path in sorted(self.layout.running.glob("*.json")):
            marker = read_json_object(path)
            if (
                marker is not None
                and str(marker.get("run_id")) == path.stem
                and is_run_id(path.stem)
                and all(
                    _of_kind(marker[k], kind) for k, kind in MARKER_KINDS.items() if k in marker
                )
            ):
                markers.append(cast(RunningMarker, marker))
        return markers

    # ---- worker heartbeats ----------------------------------------------------------------

    def write_worker(self, seed: int, info: WorkerInfo, updated: float | None = None) -> None:
        """Worker SEED's heartbeat, stamped now (UPDATED: its last sign of life, for a dead
        worker's: the launch's used wall clock counts up to it, not to whoever wrote it)."""
        stamp = time.time() if updated is None else updated
        write_json_atomic(self.layout.heartbeat(seed), {**info, "updated": stamp})

    def worker(self, seed: int) -> WorkerInfo | None:
        info = read_json_object(self.layout.heartbeat(seed))
        return cast(WorkerInfo, info) if info is not None else None

    def workers(self) -> list[WorkerInfo]:
        """Every worker's last heartbeat, by seed."""
        if not self.layout.workers.is_dir():
            return []
        infos = [read_json_object(path) for path in self.layout.workers.glob("*.json")]
        found = [cast(WorkerInfo, info) for info in infos if info]
        return sorted(found, key=lambda info: info.get("seed", 0))
