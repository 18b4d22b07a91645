"""The shared run-data directory `<outdir>/<rungroup>/` of one launch (docs/architecture.md).

Every file in it is written and read here, so that workers on several hosts that share the
directory over a filesystem, the launcher and the `results`/`status`/`tail`/`stop` commands
agree on one layout. Writes are made safe for concurrent readers:

- run records are appended to `runs-<seed>.jsonl` with one `write()` of a whole line, then
  fsync; readers only take lines that end in a newline, so they never see half a record;
- JSON state files (`launch.json`, `workers/<seed>.json`, `abort.json`) are replaced
  atomically (write a temporary file, then rename);
- a budget slot is claimed by creating `slots/<run_id>.claim` with O_CREAT|O_EXCL, which
  only one process can win, also across machines.

Reading API (for every module): `RunGroup(path)` then `.records()`, `.running()`,
`.workers()`, `.launch_info()`, `.abort_info()`, `.claimed()`, `.run_dir(run_id)`,
`.run_log(run_id)`. Writing API (for workers and the launcher): `.claim_slot()`,
`.release_slot()`, `.release_stale_claims()`, `.append_record()`, `.mark_running()`,
`.clear_running()`, `.write_worker()`, `.write_launch_info()`, `.request_abort()`, and
`RecordReader` for incremental reading of the other workers' files.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RECORD_PREFIX = "runs-"
RECORD_SUFFIX = ".jsonl"


def format_run_id(number: int) -> str:
    """Run ids are budget slot numbers, zero-padded so that they sort as strings."""
    return f"{number:05d}"


def hostname() -> str:
    """The host name written into claims and markers (to tell live processes from dead)."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this host (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` by `data` in one rename, so that a reader sees the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None if it is missing or (being written) not parseable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def complete_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Parse the newline-terminated JSON lines of `data`; return them and the bytes consumed.

    A trailing line without its newline is still being written: it is left for later.
    """
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records, end


class RecordReader:
    """Reads the new records of other workers' `runs-<seed>.jsonl` files, by byte offset.

    Files that appear later (a worker started on another host) are picked up at the next
    `poll()`. Offsets live only in memory: a restarted worker reads from the start, and its
    caller skips what it already knows.
    """

    def __init__(self, group: RunGroup, exclude_seed: int | None = None) -> None:
        self._group = group
        self._exclude = exclude_seed
        self._offsets: dict[Path, int] = {}

    def poll(self) -> list[dict[str, Any]]:
        """All complete records appended since the previous poll, file by file."""
        new: list[dict[str, Any]] = []
        for seed, path in self._group.record_files():
            if seed == self._exclude:
                continue
            offset = self._offsets.get(path, 0)
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except OSError:
                continue
            records, used = complete_lines(data)
            self._offsets[path] = offset + used
            new.extend(records)
        return new


class RunGroup:
    """The output directory of one rungroup: `<outdir>/<rungroup>/`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()

    # ---- layout -------------------------------------------------------------------------

    @property
    def slots_dir(self) -> Path:
        return self.path / "slots"

    @property
    def running_dir(self) -> Path:
        return self.path / "running"

    @property
    def workers_dir(self) -> Path:
        return self.path / "workers"

    def records_path(self, seed: int) -> Path:
        return self.path / f"{RECORD_PREFIX}{seed}{RECORD_SUFFIX}"

    def run_dir(self, run_id: str) -> Path:
        """The run directory of a run (created by the worker when the run starts)."""
        return self.path / "runs" / run_id

    def run_log(self, run_id: str) -> Path:
        """The most useful log of a run: the script's output when the smac-bridge wrapper ran
        it (`process_output.log`), else what the algo command itself printed."""
        wrapped = self.run_dir(run_id) / "process_output.log"
        return wrapped if wrapped.exists() else self.algo_log(run_id)

    def algo_log(self, run_id: str) -> Path:
        """stdout and stderr of the scenario's algo command (the worker writes it)."""
        return self.run_dir(run_id) / "algo_output.log"

    def design_path(self) -> Path:
        """design.csv: the configurations `smac-bridge doe` runs (run 00007 = row 7)."""
        return self.path / "design.csv"

    def smac3_dir(self) -> Path:
        """Parent of SMAC3's own state: SMAC3 adds `<rungroup>/<seed>/` below it."""
        return self.path / "smac3"

    def trajectory_path(self, seed: int) -> Path:
        return self.path / f"traj-run-{seed}.csv"

    def runs_and_results_path(self, seed: int) -> Path:
        return self.path / f"runs_and_results-{seed}.csv"

    def exists(self) -> bool:
        return self.path.is_dir()

    def is_empty(self) -> bool:
        return not self.path.exists() or not any(self.path.iterdir())

    def create(self) -> None:
        for folder in (self.path, self.slots_dir, self.running_dir, self.workers_dir):
            folder.mkdir(parents=True, exist_ok=True)

    # ---- launch settings and abort --------------------------------------------------------

    def launch_info(self) -> dict[str, Any]:
        """launch.json: scenario path, parallel, seeds, budget, started ({} if none yet)."""
        return read_json(self.path / "launch.json") or {}

    def write_launch_info(self, info: dict[str, Any]) -> None:
        write_json_atomic(self.path / "launch.json", info)

    def abort_info(self) -> dict[str, Any] | None:
        """`{"reason", "worker", "run_id", "time"}` once any worker aborted the launch."""
        return read_json(self.path / "abort.json")

    def request_abort(self, reason: str, worker: int | None, run_id: str | None) -> None:
        """Tell every worker of the rungroup to stop (the first reason is kept)."""
        if self.abort_info() is None:
            info = {"reason": reason, "worker": worker, "run_id": run_id, "time": time.time()}
            write_json_atomic(self.path / "abort.json", info)

    def clear_abort(self) -> None:
        (self.path / "abort.json").unlink(missing_ok=True)

    # ---- run records ----------------------------------------------------------------------

    def record_files(self) -> list[tuple[int, Path]]:
        """(seed, path) of every worker's record file, by seed."""
        found = []
        for path in self.path.glob(f"{RECORD_PREFIX}*{RECORD_SUFFIX}"):
            stem = path.name[len(RECORD_PREFIX) : -len(RECORD_SUFFIX)]
            if stem.lstrip("-").isdigit():
                found.append((int(stem), path))
        return sorted(found)

    def records(self, include_reused: bool = False) -> list[dict[str, Any]]:
        """Every finished run of every worker (complete lines only), ordered by end time.

        A worker that took another worker's result for an identical trial writes a record with
        `reused_from` set (and the original's run_id); those are no runs of their own and are
        left out unless `include_reused`.
        """
        records = RecordReader(self).poll()
        if not include_reused:
            records = [record for record in records if not record.get("reused_from")]
        return sorted(records, key=lambda record: (record.get("ended") or 0, record["run_id"]))

    def append_record(self, seed: int, record: dict[str, Any]) -> None:
        """Append one run record to the worker's file: one write of one line, then fsync."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(self.records_path(seed), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- budget slots ---------------------------------------------------------------------

    def claimed(self) -> list[str]:
        """The run ids of all claimed slots (runs started, finished or not), sorted."""
        if not self.slots_dir.is_dir():
            return []
        return sorted(path.stem for path in self.slots_dir.glob("*.claim"))

    def claim_slot(self, limit: int, worker: int) -> str | None:
        """Claim the lowest free run slot `1..limit`; None when the budget is used up.

        O_EXCL makes the creation atomic, so two workers never get the same slot and the
        number of claim files never exceeds the budget.
        """
        self.slots_dir.mkdir(parents=True, exist_ok=True)
        taken = set(self.claimed())
        info = json.dumps(
            {"worker": worker, "host": hostname(), "pid": os.getpid(), "claimed": time.time()}
        ).encode("utf-8")
        for number in range(1, limit + 1):
            run_id = format_run_id(number)
            if run_id in taken:
                continue
            try:
                fd = os.open(
                    self.slots_dir / f"{run_id}.claim", os.O_WRONLY | os.O_CREAT | os.O_EXCL
                )
            except FileExistsError:
                continue
            try:
                os.write(fd, info)
                os.fsync(fd)
            finally:
                os.close(fd)
            return run_id
        return None

    def claim_info(self, run_id: str) -> dict[str, Any] | None:
        return read_json(self.slots_dir / f"{run_id}.claim")

    def release_slot(self, run_id: str) -> None:
        """Give a slot back (its run did not finish), so that a later claim re-runs it."""
        (self.slots_dir / f"{run_id}.claim").unlink(missing_ok=True)

    def release_stale_claims(self, any_host: bool = False) -> list[str]:
        """Release the slots of runs that never finished and whose worker is dead.

        A claim whose process is alive, or that lives on another host (unless `any_host`, for
        a launcher that knows every worker is stopped), is kept. Their running markers go too.
        Returns the released run ids.
        """
        finished = {record["run_id"] for record in self.records()}
        released = []
        here = hostname()
        for run_id in self.claimed():
            if run_id in finished:
                continue
            info = self.claim_info(run_id)
            if info is None:  # being written right now, or damaged: dead only if old
                path = self.slots_dir / f"{run_id}.claim"
                try:
                    young = time.time() - path.stat().st_mtime < 60
                except OSError:
                    continue
                if young and not any_host:
                    continue
            elif not any_host and (info.get("host") != here or pid_alive(int(info["pid"]))):
                continue
            self.release_slot(run_id)
            self.clear_running(run_id)
            released.append(run_id)
        return released

    # ---- running markers ------------------------------------------------------------------

    def mark_running(self, marker: dict[str, Any]) -> None:
        """running/<run_id>.json: {run_id, worker, config, instance, seed, started, run_dir,
        log, host, pid (the worker's), trial_pid (the algo process group)}."""
        write_json_atomic(self.running_dir / f"{marker['run_id']}.json", marker)

    def clear_running(self, run_id: str) -> None:
        (self.running_dir / f"{run_id}.json").unlink(missing_ok=True)

    def running(self) -> list[dict[str, Any]]:
        """Markers of the runs in progress, by run id."""
        if not self.running_dir.is_dir():
            return []
        markers = (read_json(path) for path in sorted(self.running_dir.glob("*.json")))
        return [marker for marker in markers if marker is not None]

    # ---- worker heartbeats ----------------------------------------------------------------

    def write_worker(self, seed: int, info: dict[str, Any]) -> None:
        """workers/<seed>.json: {seed, pid, host, state, started, updated, current_run,
        runs_done, ...} (state: starting|running|done|failed|aborted|stopped)."""
        write_json_atomic(self.workers_dir / f"{seed}.json", {**info, "updated": time.time()})

    def worker(self, seed: int) -> dict[str, Any] | None:
        return read_json(self.workers_dir / f"{seed}.json")

    def workers(self) -> list[dict[str, Any]]:
        """Every worker's last heartbeat, by seed."""
        if not self.workers_dir.is_dir():
            return []
        infos = [read_json(path) for path in self.workers_dir.glob("*.json")]
        return sorted((info for info in infos if info), key=lambda info: info.get("seed", 0))


def trial_key(record: dict[str, Any]) -> tuple[str, str, int]:
    """What makes two runs identical: configuration, instance and seed."""
    return (json.dumps(record["config"], sort_keys=True), record["instance"], int(record["seed"]))


def first_per_key(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The first record of each trial key (the one a later identical trial reuses)."""
    found: dict[tuple[str, str, int], dict[str, Any]] = {}
    for record in records:
        found.setdefault(trial_key(record), record)
    return found


# ---- read-only helpers for `best` and `report` (results.py) --------------------------------


def run_command(group: RunGroup, run_id: str) -> dict[str, Any] | None:
    """command.json of a run, as the wrapper wrote it: {"argv", "cwd", "env_added"}, if any."""
    return read_json(group.run_dir(run_id) / "command.json")


def run_artifacts(group: RunGroup, run_id: str) -> Path:
    """The folder where the run's script saved its files (SMAC_BRIDGE_ARTIFACTS)."""
    return group.run_dir(run_id) / "artifacts"
