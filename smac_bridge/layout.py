"""Where every file of an output folder lives, and how its small JSON files are written.

One module names every path of a rungroup (`<outdir>/<rungroup>/`) and of a run directory
(`runs/<run_id>/`), so that the workers, the launcher, the wrapper (which runs once per trial
and imports only light modules: this one is stdlib only) and the reading commands agree on
one layout; docs/architecture.md draws it. No other module spells a file name.

JSON state files are replaced in one rename, so that a reader on any host sees the old file
or the new one, never half of one; line files (run records, a run's progress) grow by whole
lines.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def process_start_ticks(pid: int | str) -> str:
    """When process PID (or "self") started, in clock ticks since boot, as /proc/PID/stat
    says it; OSError where there is no /proc, ValueError when it cannot be read."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    if len(fields) < 20:
        raise ValueError(f"/proc/{pid}/stat holds no start time")
    return fields[19]


def format_run_id(number: int) -> str:
    """Run ids are budget slot numbers, zero-padded so that they sort as strings."""
    return f"{number:05d}"


def is_run_id(text: str) -> bool:
    """Whether TEXT is a run id as the budget slots make them (`00007`, never `../x`), so that
    it can be joined to a path without leaving the folder."""
    return text.isascii() and text.isdigit() and int(text) > 0 and format_run_id(int(text)) == text


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace PATH by DATA in one rename (`write_text_atomic`)."""
    write_text_atomic(path, _json_file_text(data))


def write_json_once(path: Path, data: Any) -> bool:
    """Write DATA as PATH unless PATH exists; whether it was written (write_text_once)."""
    return write_text_once(path, _json_file_text(data))


def write_text_once(path: Path, text: str) -> bool:
    """Write TEXT as PATH unless PATH exists; whether it was written. The file is written in
    full aside and linked into place, which fails once PATH exists: of two writers at once,
    the first wins and no reader sees half a file."""
    if path.exists():
        return False
    tmp = _aside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as error:  # a full disk's write names no file: say which one (as above)
        if error.filename in (None, str(tmp)):
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _aside(path: Path) -> Path:
    """A temporary name beside PATH of this write's own: random, as writers on other hosts
    of a shared rungroup may have the same pid (containers) and count their writes alike."""
    return path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp")


def _json_file_text(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def json_default(value: object) -> object:
    """A value json cannot write, as json's `default`: a numpy scalar (`np.int64(12)` from a
    metric or a count) or a tensor of one value (TensorFlow's through numpy) as its Python
    value, so that results sort it as a number; an array or tensor of several values as the
    list of its values, as a list would be written; anything else (a Path, an object) as its
    text."""
    to_numpy = getattr(value, "numpy", None)
    if not callable(getattr(value, "item", None)) and callable(to_numpy):
        try:
            value = to_numpy()
        except Exception:  # noqa: BLE001 - any library's tensor: then its text
            return str(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):  # an array of more than one value
            values = getattr(value, "tolist", None)
            return values() if callable(values) else str(value)
        if isinstance(plain, bool | int | float | str):
            return plain
    return str(value)


def plain_data(data: Any) -> Any:
    """DATA as json reads it back: what the script or a custom wrapper reported, with
    numpy scalars and other values json cannot write made plain (see `json_default`)."""
    return json.loads(json.dumps(data, default=json_default))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace PATH by TEXT in one rename, from a temporary file of this write's own: a script
    may report from several threads, or from a signal handler that interrupted a report."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_user_file(path: Path, data: bytes) -> None:
    """Write DATA as a file the user named (a page, a table, a PCS file): whole or not at all
    where it is a file (`write_bytes_atomic`), straight through a link or into a device or a
    pipe that stands there (/dev/stdout, a FIFO), which a rename would replace; a failed write
    names PATH."""
    if path.is_symlink() or (path.exists() and not path.is_file() and not path.is_dir()):
        try:
            with open(path, "wb") as out:
                out.write(data)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from error
        return
    write_bytes_atomic(path, data)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace PATH by DATA in one rename (write_text_atomic): a full disk leaves the file
    as it was, and the error names it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _aside(path)
    try:
        with open(tmp, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):  # a read-only disk refuses this too: say the first
            tmp.unlink(missing_ok=True)
        # a full disk's write names no file, and its temporary file's name is none the user
        # knows: say which one
        if error.filename in (None, str(tmp)):
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def jsonable(data: Any) -> Any:
    """DATA with every NaN or infinity replaced by None: JSON has no such numbers, and
    JSON.parse (a browser's, jq's) rejects the `NaN` Python's json writes for them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(key): jsonable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [jsonable(value) for value in data]
    return data


def json_text(data: Any, **options: Any) -> str:
    """DATA as standard JSON text (NaN and infinities as null), for people's tools to read."""
    return json.dumps(jsonable(data), allow_nan=False, **options)


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing, being written or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def folder_identity(path: Path) -> tuple[int, int] | None:
    """PATH's device and inode: the same folder wherever it is reached from, and another one
    once it was moved away and made again; None while there is none."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


RUNGROUP_FOLDER_ENV = "SMAC_BRIDGE_RUNGROUP_FOLDER"
"""The rungroup folder's identity (`device:inode`) as the launcher set it up, for a worker it
starts as a process: one that starts after the folder moved must not make it again."""


def identity_text(identity: tuple[int, int]) -> str:
    return f"{identity[0]}:{identity[1]}"


def identity_of_text(text: str) -> tuple[int, int] | None:
    """`identity_text`'s identity; None for anything else."""
    device, _, inode = text.partition(":")
    return (int(device), int(inode)) if device.isdigit() and inode.isdigit() else None


MOVED = (
    "moved, renamed or removed while the launch ran: if it was moved, continue the launch"
    " from its new place with --resume --outdir NEW"
)


def file_size(path: Path) -> int:
    """The size of PATH in bytes; 0 while it does not exist."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def append_line(path: Path, line: bytes, sync: bool = True) -> None:
    """Append LINE (ending in a newline) as a whole line: a torn last line left by a crash is
    ended first, every byte is checked to have gone out, then the file is fsynced (unless
    not SYNC: readers see the line at once, and the caller syncs later)."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(f"could not append to {path}")
            view = view[written:]
        if sync:
            os.fsync(fd)
    except OSError as error:
        if error.filename is None and error.errno is not None:  # a full disk's names no file
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise
    finally:
        os.close(fd)


FULL_DISK_BYTES = 64 * 1024
"""Free space under which a file system counts as full: a few blocks at most, for with more a
line fits (a small volume or a quota with hundreds of KB left must not make a script's own
failure a full disk, which a resume would meet again and again)."""


DISK_ERRORS = {
    errno.ENOSPC: "No space left on device",
    errno.EDQUOT: "Disk quota exceeded",
    errno.EROFS: "Read-only file system",
}
"""What a disk's failures say (their strerror, in the C locale Python's messages keep): no
failure of the configuration's."""


def disk_trouble(path: Path) -> str | None:
    """Why PATH's file system takes no more writes (full, out of inodes, read-only), in the
    words of the error a write would meet; None when it takes them, or cannot be asked."""
    try:
        disk = os.statvfs(path)
    except OSError:
        return None
    free = disk.f_bavail * disk.f_frsize
    if free < FULL_DISK_BYTES:
        return f"No space left on device ({free} bytes free in {path})"
    if disk.f_files and not disk.f_favail:  # room, but no file can be made
        return f"No space left on device (no free inodes in {path})"
    if disk.f_flag & os.ST_RDONLY:
        return f"Read-only file system ({path})"
    return _refused_write(path)


def _refused_write(folder: Path) -> str | None:
    """Why a file cannot be made in FOLDER, where its file system says it takes writes (ext4
    turned read-only after an error keeps saying `rw`); None when it can, or for another
    reason than its disk (no permission)."""
    probe = folder / f".disk-probe-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        text = DISK_ERRORS.get(error.errno or 0)
        return f"{text} ({folder})" if text else None
    os.close(fd)
    probe.unlink(missing_ok=True)
    return None


INTERRUPT_NOTE = "interrupted"
"""The stop file's note when the launch itself stops (Ctrl-C, SIGTERM: a Dask trial's only
way to hear it on a shared filesystem whose scheduler is gone): the run is interrupted, and
a resume runs it again, as a local trial stopped by SIGTERM."""


def write_stop_request(run_dir: RunDir, note: str = "") -> Path:
    """Ask the run's wrapper to stop it (`smac-bridge stop`, or a pruning rule whose reason is
    NOTE), replacing an earlier request's note (a shorter one left the rest of the longer).
    The file is created without following a planted symbolic link."""
    path = run_dir.stop_request
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, note.encode("utf-8"))
    finally:
        os.close(fd)
    return path


def stop_note(run_dir: RunDir) -> str:
    """Why the run was asked to stop ("" for a user's `smac-bridge stop`)."""
    try:
        with open(run_dir.stop_request, "rb") as handle:
            return handle.read(1000).decode("utf-8", "replace").strip()
    except OSError:
        return ""


class RunDir:
    """The files of one run directory: what the worker, the wrapper and the script share."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def command(self) -> Path:
        """command.json: the script's argv, cwd, added environment and the wrapper's grace."""
        return self.path / "command.json"

    @property
    def trial(self) -> Path:
        """trial.json: the configuration the worker started the run with: a re-run continues
        from what this attempt saved only where it runs the same one (a design's edited row)."""
        return self.path / "trial.json"

    @property
    def result(self) -> Path:
        """result.json: written by `smac_bridge.report()`, then by the wrapper at the end."""
        return self.path / "result.json"

    @property
    def progress(self) -> Path:
        """progress.jsonl: one line per `report(quality, step=k)` of the script (learning curve)."""
        return self.path / "progress.jsonl"

    @property
    def script_log(self) -> Path:
        """The training script's stdout and stderr, as the wrapper captured them."""
        return self.path / "process_output.log"

    @property
    def script_stdout(self) -> Path:
        """The script's stdout alone: where its result line and last number are read."""
        return self.path / "process_stdout.log"

    @property
    def algo_log(self) -> Path:
        """stdout of the scenario's algo command (where SMAC reads the result line)."""
        return self.path / "algo_output.log"

    @property
    def algo_stderr(self) -> Path:
        return self.path / "algo_stderr.log"

    @property
    def artifacts(self) -> Path:
        """Where the script saves its model and files (SMAC_BRIDGE_ARTIFACTS)."""
        return self.path / "artifacts"

    @property
    def attempt(self) -> Path:
        """attempt.json: the Dask worker process running the trial, refreshed while it runs,
        so that a re-run elsewhere waits for a dying attempt's end (executors/dask.py)."""
        return self.path / "attempt.json"

    @property
    def stop_request(self) -> Path:
        """Created by `smac-bridge stop` (or a pruning rule); the wrapper polls for it."""
        return self.path / "stop-requested"

    def holds_output(self) -> bool:
        """Whether the run left anything (a log, a file) beside what its worker wrote before
        it started (trial.json): a trial queued on a Dask cluster leaves nothing here."""
        return any(entry.name != self.trial.name for entry in self.path.iterdir())

    def log(self) -> Path:
        """The most useful log: the script's output when the wrapper ran it, else the algo's."""
        return self.script_log if self.script_log.exists() else self.algo_log


class GroupLayout:
    """The paths of one rungroup folder `<outdir>/<rungroup>/` (docs/architecture.md)."""

    RECORD_PREFIX = "runs-"
    RECORD_SUFFIX = ".jsonl"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).absolute()

    @property
    def launch(self) -> Path:
        return self.path / "launch.json"

    @property
    def abort(self) -> Path:
        return self.path / "abort.json"

    @property
    def design(self) -> Path:
        """design.csv: the configurations `smac-bridge doe` runs (run 00007 = row 7)."""
        return self.path / "design.csv"

    def _lock_beside(self, kind: str) -> Path:
        """<outdir>/.<rungroup>KIND.lock: a lock file beside the rungroup, not in it, so that
        a launch stopped before its first run leaves a folder a new launch may start over."""
        return self.path.parent / f".{self.path.name}{kind}.lock"

    @property
    def launch_lock(self) -> Path:
        """<outdir>/.<rungroup>.lock: the lock of the launch that runs the rungroup."""
        return self._lock_beside("")

    @property
    def cleanup_lock(self) -> Path:
        """<outdir>/.<rungroup>.cleanup.lock: the lock whose holder may remove other
        processes' claims (rundata's cleanups and trial takeovers take turns)."""
        return self._lock_beside(".cleanup")

    def worker_lock(self, seed: int) -> Path:
        """<outdir>/.<rungroup>.worker-<seed>.lock: the lock a worker of SEED holds while it
        lives (worker._hold_the_seed)."""
        return self._lock_beside(f".worker-{seed}")

    @property
    def space(self) -> Path:
        """space.pcs: the search space of the runs, as the first launch read it."""
        return self.path / "space.pcs"

    @property
    def slots(self) -> Path:
        return self.path / "slots"

    @property
    def running(self) -> Path:
        return self.path / "running"

    @property
    def workers(self) -> Path:
        return self.path / "workers"

    @property
    def runs(self) -> Path:
        return self.path / "runs"

    @property
    def smac3(self) -> Path:
        """Parent of SMAC3's own state: SMAC3 adds `<rungroup>/<seed>/` below it."""
        return self.path / "smac3"

    @property
    def trial_claims(self) -> Path:
        """One claim file per trial in progress in shared-model mode (rundata.claim_trial)."""
        return self.path / "trials"

    def trial_claim(self, name: str) -> Path:
        return self.trial_claims / f"{name}.claim"

    def slot(self, run_id: str) -> Path:
        return self.slots / f"{run_id}.claim"

    def owed(self, run_id: str) -> Path:
        """The trial a slot owes: its run was stopped or lost before it was recorded."""
        return self.slots / f"{run_id}.owed"

    @property
    def units(self) -> Path:
        """One claim file per unit of `budget-limit` taken (multi-fidelity budgets)."""
        return self.path / "units"

    def unit(self, number: int) -> Path:
        return self.units / f"{number:06d}.claim"

    def marker(self, run_id: str) -> Path:
        return self.running / f"{run_id}.json"

    def heartbeat(self, seed: int) -> Path:
        return self.workers / f"{seed}.json"

    def worker_log(self, seed: int) -> Path:
        return self.workers / f"{seed}.log"

    def records(self, seed: int) -> Path:
        return self.path / f"{self.RECORD_PREFIX}{seed}{self.RECORD_SUFFIX}"

    def record_files(self) -> list[tuple[int, Path]]:
        """(seed, path) of every worker's record file, by seed."""
        found = []
        for path in self.path.glob(f"{self.RECORD_PREFIX}*{self.RECORD_SUFFIX}"):
            stem = path.name[len(self.RECORD_PREFIX) : -len(self.RECORD_SUFFIX)]
            if stem.lstrip("-").isdigit():
                found.append((int(stem), path))
        return sorted(found)

    def run_dir(self, run_id: str) -> RunDir:
        """The run directory of a run; ValueError for anything but a run id (no path games)."""
        if not is_run_id(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return RunDir(self.runs / run_id)

    def trajectory(self, seed: int) -> Path:
        return self.path / f"traj-run-{seed}.csv"

    def runs_and_results(self, seed: int) -> Path:
        return self.path / f"runs_and_results-{seed}.csv"

    def paramstrings(self, seed: int) -> Path:
        return self.path / f"paramstrings-{seed}.txt"


@contextlib.contextmanager
def held_lock(path: Path) -> Iterator[None]:
    """An exclusive lock (flock) on PATH for the block, waited for while another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """The fd holding an exclusive lock (flock) on PATH, or None while another descriptor
    holds it, this process's own too (a GPU lease counts its own leases as taken). The fd is
    not inherited by programs this process starts; forked children share it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:  # held, or no locks at all (NFS without lockd): closed either way
        os.close(fd)
        if isinstance(error, BlockingIOError):
            return None
        raise
    return fd
