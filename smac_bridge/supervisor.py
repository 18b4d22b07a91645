"""Run one command tree under limits, measure it, and make sure none of it outlives the run.

Why so careful: a training script may start data loaders, daemons or whole new sessions, and
SMAC only ever sees the wrapper. Whatever is left behind keeps a GPU or memory busy for the next
trial, so the supervisor finds every descendant (process tree, process group, and the
`SMAC_BRIDGE_TREE` marker in the environment) and kills them all: SIGTERM, grace, SIGKILL; a
tree over its memory limit gets SIGKILL at once (it may grow by gigabytes during a grace).

The command runs under a guard (guard.py), a tiny process that is the child subreaper of the
tree: a descendant that double-forks, calls setsid() and empties its environment still comes
back to the guard, which hands what is left of the tree to the supervisor when the command ends
on its own (during a stop it ends that itself), and which stops the tree itself when the
supervising process dies, however it dies. The supervising process is a child subreaper too
while it supervises, so what the guard hands over (and the guard itself, should it be killed) is
re-parented to it instead of to init: it still sees those processes, reaps them (a container's
init often does not) and counts their CPU time exactly.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from smac_bridge.guard import TREE_ENV, marked_processes, process_parents, under_other_guards


def carries_marker(environ: Mapping[str, str], marker: str) -> bool:
    """Whether a process environment belongs to the tree of the supervisor with `marker`."""
    return marker in environ.get(TREE_ENV, "").split(",")


_MARKER_SCAN_EVERY = 2.0  # seconds between full process-table scans for the marker while running
_KILL_POLL = 0.02  # seconds between checks while the tree dies
_KILL_ROUNDS_FOR = 1.0  # seconds to keep sending SIGKILL to stragglers
_PUMP_POLL_MS = 100  # the pump's longest wait for output: it also looks for an end of the copy
_DRAIN_WAIT = 1.0  # seconds the stdout copy may take to get what the command wrote before it ended
_PARTIAL_WAIT = 0.2
"""Seconds a stream's unfinished line waits in the pump for its end before the log gets it
anyway (a prompt, a progress bar without a line end): meanwhile the other stream's lines go
first, so that `python -u`, which writes a line's text and its newline apart, does not splice
a line of stderr into one of stdout."""
_LONGEST_HELD = 1 << 16
"""Bytes of an unfinished line the pump holds at most: output without line ends (a progress
bar drawn with backspaces, a flood) goes out as it comes, not copied again at each chunk."""
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_GUARD = str(Path(__file__).with_name("guard.py"))
_GUARD_START_TIMEOUT = 60.0  # seconds for the guard to start the command (a Python start-up)
_GUARD_STOP_MARGIN = 5.0  # seconds beyond the grace for a guard to stop a tree it was left


def guard_argv(argv: Sequence[str], fd: int, grace: float, marker: str = "") -> list[str]:
    """The command line that runs `argv` under a guard connected through `fd` (guard.py):
    when every copy of the other end of `fd` is closed, the guard stops the tree."""
    guard = [sys.executable, "-I", "-S", _GUARD, str(fd), repr(float(grace)), marker, "--"]
    return [*guard, *(os.fspath(a) for a in argv)]


@dataclass
class Limits:
    """What the run may use (None: no limit); `grace` is the time from SIGTERM to SIGKILL."""

    wall_time: float | None = None
    cpu_time: float | None = None
    memory_mb: float | None = None
    grace: float = 5.0


@dataclass
class Outcome:
    """How the run ended and what it used (times in seconds, memory of the whole tree in MB)."""

    exit_code: int | None  # the child's exit code, or -signal number; None if it never started
    wall_time: float
    cpu_time: float
    peak_rss_mb: float
    stopped_by: str | None  # None | wall_time | cpu_time | memory | interrupt | stop_request
    output_lost: int = 0  # bytes of output the log or stdout's copy could not take (full disk)


def ended_by_a_stop_signal(exit_code: object) -> bool:
    """Whether EXIT_CODE is that of a process a stop signal (SIGINT, SIGTERM, SIGHUP) ended:
    -n as Python gives it, 128 + n as a shell reports its child's. systemd, Slurm and an
    init that signals the whole group (`tini -g`) send it to every process at once, so a
    trial's script may die of it before its wrapper or worker has begun to stop it."""
    numbers = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    return isinstance(exit_code, int) and any(exit_code in (-n, 128 + n) for n in numbers)


@dataclass
class _Tracked:
    """A descendant (not the main child) and the CPU time it had when last seen."""

    proc: psutil.Process
    cpu: float = 0.0
    ppid: int = 0
    counted: bool = False  # its final CPU time is already in the total (or in its parent's)


class _Subreaper:
    """Reference-counted PR_SET_CHILD_SUBREAPER, so nested or parallel supervisors share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._was_set = False

    @staticmethod
    def _prctl(option: int, value: int) -> int:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if option == _PR_GET_CHILD_SUBREAPER:
            out = ctypes.c_int(0)
            libc.prctl(option, ctypes.byref(out), 0, 0, 0)
            return out.value
        return libc.prctl(option, value, 0, 0, 0)

    def acquire(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        with self._lock:
            try:
                if self._users == 0:
                    self._was_set = bool(self._prctl(_PR_GET_CHILD_SUBREAPER, 0))
                    if not self._was_set:
                        self._prctl(_PR_SET_CHILD_SUBREAPER, 1)
                self._users += 1
            except (OSError, AttributeError):
                pass

    def release(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0 and not self._was_set:
                try:
                    self._prctl(_PR_SET_CHILD_SUBREAPER, 0)
                except (OSError, AttributeError):
                    pass


_SUBREAPER = _Subreaper()


def _own_lineage() -> tuple[set[int], set[int]]:
    """Pids and process groups the supervisor must never signal: itself and its ancestors."""
    me = psutil.Process()
    pids = {me.pid}
    pgids = {os.getpgrp()}
    for parent in me.parents():
        pids.add(parent.pid)
        try:
            pgids.add(os.getpgid(parent.pid))
        except OSError:
            pass
    return pids, pgids


def _cpu_seconds(proc: psutil.Process) -> float:
    """CPU time of a process and of the children it has reaped (their time moves to it)."""
    times = proc.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


MIN_OUTPUT_LIMIT = 1_000_000
"""The smallest size limit of a log (bytes): its note must fit well within a quarter of it."""

_MOVE_CHUNK = 1 << 20  # bytes moved at a time when a log's kept end moves up


class _BoundedOutput:
    """An output file that the pump appends to, which stays within LIMIT bytes (None: no
    limit). Past it, the file keeps its first and its last quarter of LIMIT, with a line
    between them that says how many bytes were left out: the start holds the command and
    the end the result, and a script that floods its output must not fill the disk.

    Writes append (O_APPEND), as others' do: a `smac-bridge wrap` inside the script, run in
    the same run directory, writes the same log. A bounded writer writes and trims under an
    exclusive lock of the file (flock), so that such a writer waits during a trim instead of
    appending where its truncation then cuts."""

    def __init__(self, fd: int, limit: int | None) -> None:
        self.fd = fd
        self.limit = limit
        self.left_out = 0
        self.note_at = 0  # where the note starts once the file was trimmed (0: never)
        self.note_size = 0

    def write(self, chunk: bytes) -> int:
        """Append CHUNK; the bytes of it a full disk kept out."""
        if self.limit is None:
            return len(chunk) - _write_all(self.fd, chunk)
        locked = _lock(self.fd)
        written = 0
        try:
            written = _write_all(self.fd, chunk)
            if os.fstat(self.fd).st_size > self.limit:
                self._trim(self.limit // 4)
        except OSError:  # a full disk: the file stays as it is, unbounded from now on
            self.limit = None
        finally:
            if locked:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        return len(chunk) - written

    def _trim(self, keep: int) -> None:
        """Leave out what lies between the first KEEP bytes (and the note) and the last KEEP;
        the note and the end move up, written where they go (without O_APPEND meanwhile)."""
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~os.O_APPEND)
        try:
            self._move_up(keep, os.fstat(self.fd).st_size)
        finally:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags)

    def _move_up(self, keep: int, size: int) -> None:
        if not self.note_at:
            self.note_at = keep
        end_from = size - keep
        self.left_out += end_from - (self.note_at + self.note_size)
        note = (
            f"\n[smac-bridge: {self.left_out} bytes of output left out here, to keep this log"
            f" within {self.limit} bytes: its first and last {keep} bytes]\n"
        ).encode()
        self._put(note, self.note_at)
        end_to = self.note_at + len(note)  # below END_FROM: moving up front first is safe
        moved = 0  # bytes of the end moved so far, with what others appended meanwhile
        while (end := os.fstat(self.fd).st_size - end_from) > moved:
            for done in range(moved, end, _MOVE_CHUNK):
                chunk = os.pread(self.fd, min(_MOVE_CHUNK, end - done), end_from + done)
                self._put(chunk, end_to + done)
            moved = end
        os.ftruncate(self.fd, end_to + moved)
        self.note_size = len(note)

    def _put(self, data: bytes, at: int) -> None:
        """Write DATA at AT, or raise: a trim must not cut what it could not move."""
        if _write_all(self.fd, data, at) < len(data):
            raise OSError(f"could not write {len(data)} bytes of the log's end")


@dataclass
class _CopyEnd:
    """Asks the pump to end the copies (the stdout copy the result is read from) once the
    pipes hold no more output, or at most _DRAIN_WAIT after `asked`; `done` once they ended."""

    asked: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lost: int = 0  # bytes a full disk kept out of the log and the copies: a result among them


class _Pump:
    """Copies the tree's output, from each (pipe, copy) of the sources as it comes, to the
    pipe's copy file (if any), until COPY_END asks to end the copies, and line by line
    (`_PARTIAL_WAIT`) to the log; with ECHO also to the file ECHO_FD, or else our stderr
    (never stdout), until every pipe closes. The files stay within LIMIT bytes each."""

    def __init__(
        self,
        log_fd: int,
        echo: bool,
        echo_fd: int | None = None,
        limit: int | None = None,
        copy_end: _CopyEnd | None = None,
    ) -> None:
        self.log_fd, self.echo_fd, self.limit, self.copy_end = log_fd, echo_fd, limit, copy_end
        self.log = _BoundedOutput(log_fd, limit)
        self.echo_out = _BoundedOutput(echo_fd, limit) if echo and echo_fd is not None else None
        self.err = getattr(sys.stderr, "buffer", None) if echo and self.echo_out is None else None
        self.text_err = sys.stderr if echo and self.echo_out is None and self.err is None else None
        self.partial: dict[int, tuple[bytes, float]] = {}  # each pipe's unfinished line, since

    def run(self, sources: list[tuple[int, int | None]]) -> None:
        """Copy until every pipe of SOURCES closes; then close every file it was given."""
        outputs = {fd: _BoundedOutput(fd, self.limit) for _, fd in sources if fd is not None}
        copies = dict(sources)
        waiting = select.poll()
        for read_fd in copies:
            waiting.register(read_fd, select.POLLIN)
        try:
            while copies:
                ready = waiting.poll(_PUMP_POLL_MS)
                if (copies_end := self._copies_end(bool(ready))) is not None:
                    for read_fd, copy in copies.items():
                        if copy is not None:
                            os.close(copy)
                            copies[read_fd] = None
                    self._flush_partial_lines(0.0)  # the command ended: its last words now
                    copies_end.done.set()
                for read_fd, _ in ready:
                    chunk = os.read(read_fd, 1 << 16)
                    if not chunk:
                        if held := self.partial.pop(read_fd, (b"", 0.0))[0]:
                            self._emit(held)
                        waiting.unregister(read_fd)
                        copy = copies.pop(read_fd)
                        os.close(read_fd)
                        if copy is not None:
                            os.close(copy)
                        continue
                    if (copy := copies[read_fd]) is not None:
                        self._count_lost(outputs[copy].write(chunk))
                    self._take(read_fd, chunk)
                self._flush_partial_lines(_PARTIAL_WAIT)
        finally:
            self._flush_partial_lines(0.0)
            for read_fd, copy in copies.items():
                os.close(read_fd)
                if copy is not None:
                    os.close(copy)
            os.close(self.log_fd)
            if self.echo_fd is not None:
                os.close(self.echo_fd)
            if self.copy_end is not None:
                self.copy_end.done.set()

    def _copies_end(self, read_some: bool) -> _CopyEnd | None:
        """The copy end to mark done when the copies end now: asked to, and the pipes are
        empty (READ_SOME is false) or had _DRAIN_WAIT."""
        end = self.copy_end
        if end is None or end.asked is None or end.done.is_set():
            return None
        return end if not read_some or time.monotonic() - end.asked >= _DRAIN_WAIT else None

    def _count_lost(self, lost: int) -> None:
        if self.copy_end is not None:
            self.copy_end.lost += lost

    def _emit(self, data: bytes) -> None:
        """DATA, whole lines or a line that waited long enough, to the log and the echo."""
        self._count_lost(self.log.write(data))
        if self.echo_out is not None:
            self.echo_out.write(data)
        try:
            if self.err is not None:
                self.err.write(data)
                self.err.flush()
            elif self.text_err is not None:
                self.text_err.write(data.decode(errors="replace"))
                self.text_err.flush()
        except (OSError, ValueError):
            self.err = self.text_err = None

    def _take(self, read_fd: int, chunk: bytes) -> None:
        """CHUNK of pipe READ_FD: its whole lines out now, the rest kept until its end."""
        held, since = self.partial.pop(read_fd, (b"", time.monotonic()))
        data = held + chunk
        end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if len(data) - end > _LONGEST_HELD:
            end = len(data)
        if end:
            self._emit(data[:end])
            since = time.monotonic()
        if data[end:]:
            self.partial[read_fd] = (data[end:], since)

    def _flush_partial_lines(self, older_than: float) -> None:
        """Out with the unfinished lines that waited OLDER_THAN seconds."""
        for read_fd, (held, since) in list(self.partial.items()):
            if time.monotonic() - since >= older_than:
                del self.partial[read_fd]
                self._emit(held)


def _lock(fd: int) -> bool:
    """Take FD's file lock (exclusive, waiting for it); False where the filesystem has none."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        return False
    return True


def _write_all(fd: int, chunk: bytes, at: int | None = None) -> int:
    """Write CHUNK to FD, at offset AT if given; the bytes written. A full disk must not
    block the child, whose pipe must drain."""
    view = memoryview(chunk)
    written = 0
    try:
        while view:
            count = os.write(fd, view) if at is None else os.pwrite(fd, view, at + written)
            view, written = view[count:], written + count
    except OSError:
        pass
    return written


@dataclass
class _Usage:
    """Running totals of the tree's resource use."""

    cpu_dead: float = 0.0  # final CPU time of descendants nobody in the tree reaped
    cpu: float = 0.0  # the tree's CPU time so far (never decreases)
    rss_mb: float = 0.0  # the tree's RSS at the last scan
    memory_mb: float = 0.0  # what the memory limit counts: rss_mb, or PSS past the limit
    peak_rss_mb: float = 0.0
    live: set[int] = field(default_factory=set)  # descendants alive at the last scan


class Supervisor:
    """Run `argv` in its own session with limits; `wait()` returns when the whole tree is gone.

    stdout and stderr go to `log_path`, or stderr to `stderr_path` when given; `echo_stderr`
    copies the log's output to our stderr as well (never to our stdout, which carries the
    result line), or to `echo_path` when given (a wrapper run inside a worker);
    `stdout_copy` gets the command's stdout alone as well (SMAC reads a result from stdout
    only, while the log interleaves both streams for people to read), until what a command
    that ended on its own left behind is stopped; `output_limit` (bytes)
    bounds the size of the log and the copy when the output goes through a pipe (with
    `stdout_copy` or `echo_stderr`), and of the echo's file, keeping their start and end. `marker`
    (default: a fresh random hex id) is put in the tree's environment as SMAC_BRIDGE_TREE to find
    descendants that escaped the tree. `keep_fds` are held by the guard and the command, so
    that what they hold (a GPU lease) lasts until the tree is gone, however the supervising
    process ends.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        echo_stderr: bool = False,
        echo_path: Path | None = None,
        stderr_path: Path | None = None,
        stdout_copy: Path | None = None,
        output_limit: int | None = None,
        stop_file: Path | None = None,
        marker: str | None = None,
        keep_fds: Sequence[int] = (),
        poll_interval: float = 0.1,
        snapshot_file: Path | None = None,
    ) -> None:
        if output_limit is not None and output_limit < MIN_OUTPUT_LIMIT:
            raise ValueError(f"an output limit must be at least {MIN_OUTPUT_LIMIT} bytes")
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = Path(log_path)
        self.cwd = cwd
        self.env = env
        self.limits = limits if limits is not None else Limits()
        self.echo_stderr = echo_stderr
        self.echo_path = echo_path
        self.stderr_path = Path(stderr_path) if stderr_path is not None else None
        self.stdout_copy = Path(stdout_copy) if stdout_copy is not None else None
        self.output_limit = output_limit
        self.stop_file = stop_file
        self.marker = marker or os.urandom(16).hex()  # as uuid4().hex, without uuid's import
        self.keep_fds = tuple(keep_fds)
        self.poll_interval = poll_interval
        self.snapshot_file = snapshot_file
        self.snapshot: bytes | None = None
        """SNAPSHOT_FILE as the command left it (b"": none) when leftovers of its tree, which
        may write it, were then stopped; else None: the file is as the command left it."""
        self.before_limit: bytes | None = None
        """SNAPSHOT_FILE (b"": none) when a time limit stopped the command: what it had
        reported before the stop, which its handler of SIGTERM may then replace."""
        self.pid: int | None = None  # the command's (it leads its own session)
        self._popen: subprocess.Popen[bytes] | None = None  # the guard, parent of the command
        self._guard: socket.socket | None = None  # our end of the connection to the guard
        self._root: psutil.Process | None = None  # the guard: what we wait for
        self._root_pid: int | None = None
        self._pump_thread: threading.Thread | None = None
        self._copy_end = _CopyEnd()
        self._reaped = threading.Event()
        self._exit_code: int | None = None
        self._root_cpu = 0.0
        self._root_maxrss_mb = 0.0  # the guard's report of the tree's peak
        self._started = 0.0
        self._ended: float | None = None
        self._command_ended: float | None = None  # when the command ended, by the guard
        self._stop_reason: str | None = None
        self._stopped_by: str | None = None
        self._tracked: dict[int, _Tracked] = {}
        self._usage = _Usage()
        self._protected_pids: set[int] = set()
        self._termed: set[int] = set()  # processes that got their SIGTERM
        self._termed_groups: set[int] = set()  # process groups that got theirs
        self._protected_pgids: set[int] = set()
        self._finished = False
        self._cleanup_lock = threading.Lock()
        self._scan_lock = threading.Lock()

    # ---------------------------------------------------------------- public API

    def start(self) -> None:
        """Start the command; raises FileNotFoundError/PermissionError if it cannot start."""
        if self._popen is not None:
            raise RuntimeError("this Supervisor has already started its command")
        # Markers nest: a trial's tree keeps the markers of every supervisor above it, so a
        # worker can still find the training script that the wrapper started in its own tree.
        # The guard adds ours to the command's environment, not to its own: it is not one of
        # the processes that a scan for the marker should kill.
        env = dict(os.environ if self.env is None else self.env)
        self._protected_pids, self._protected_pgids = _own_lineage()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        access = os.O_WRONLY if self.output_limit is None else os.O_RDWR  # a trim reads its end
        flags = os.O_CREAT | os.O_APPEND | access
        log_fd = os.open(self.log_path, flags, 0o644)
        write_fd = err_fd = echo_fd = None
        sources: list[tuple[int, int | None]] = []  # the pump's (pipe, copy file)
        ours, theirs = socket.socketpair()
        _SUBREAPER.acquire()
        try:
            if self.stderr_path is not None:  # stdout alone in the log (SMAC reads only stdout)
                err_fd = os.open(self.stderr_path, flags, 0o644)
            if self.echo_stderr and self.echo_path is not None:
                echo_fd = os.open(self.echo_path, flags, 0o644)
            if self.stdout_copy is not None:  # a pipe for each stream: the pump tells them apart
                copy_fd = os.open(self.stdout_copy, flags, 0o644)  # before the pipe it serves
                read_fd, write_fd = os.pipe()
                sources.append((read_fd, copy_fd))
                if err_fd is None:
                    read_err, err_fd = os.pipe()
                    sources.append((read_err, None))
            elif self.echo_stderr:
                read_fd, write_fd = os.pipe()
                sources.append((read_fd, None))
            self._popen = subprocess.Popen(
                guard_argv(self.argv, theirs.fileno(), self.limits.grace, self.marker),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd if write_fd is not None else log_fd,
                stderr=err_fd if err_fd is not None else subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                pass_fds=(theirs.fileno(), *self.keep_fds),
            )
            theirs.close()
            self._guard = ours
            self.pid, started = self._command_start()
        except BaseException:
            # The guard reads the end of its line and stops the command's whole tree itself
            # (SIGTERM, grace, SIGKILL): killed at once, it left the command's children
            # running once PDEATHSIG had ended the command alone.
            ours.close()
            if self._popen is not None:
                try:
                    self._popen.wait(timeout=self.limits.grace + _GUARD_STOP_MARGIN)
                except subprocess.TimeoutExpired:
                    self._popen.kill()  # a guard that does not answer: its command at least
                    self._popen.wait()
                self._popen = None
            self._guard = None
            _SUBREAPER.release()
            for fd in (log_fd, echo_fd, *(fd for pair in sources for fd in pair)):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            theirs.close()
            for fd in (write_fd, err_fd):
                if fd is not None:
                    os.close(fd)
        # the guard's clock, as for the end: a command that ends before this thread gets
        # here (a busy worker) still runs for a time >= 0
        self._started = started
        self._root_pid = self._popen.pid
        self._root = psutil.Process(self._root_pid)
        atexit.register(self._cleanup)
        if sources:
            pump = _Pump(log_fd, self.echo_stderr, echo_fd, self.output_limit, self._copy_end)
            self._pump_thread = threading.Thread(
                target=pump.run,
                args=(sources,),
                name="supervisor-pump",
                daemon=True,
            )
            self._pump_thread.start()
        else:
            os.close(log_fd)
        threading.Thread(target=self._wait_root, name="supervisor-reaper", daemon=True).start()

    def _command_start(self) -> tuple[int, float]:
        """The pid of the command and when the guard started it (time.monotonic(), which is
        system-wide on Linux), once it did; its OSError if it could not."""
        assert self._guard is not None
        self._guard.settimeout(_GUARD_START_TIMEOUT)
        line = b""
        while not line.endswith(b"\n"):
            try:
                chunk = self._guard.recv(1)
            except TimeoutError:
                chunk = b""
            if not chunk:
                raise RuntimeError(f"the guard did not start {self.argv[0]!r} (see the log)")
            line += chunk
        word, _, value = line.decode().strip().partition(" ")
        if word == "error":
            number = int(value)
            raise OSError(number, os.strerror(number), self.argv[0])
        pid, spawned = value.split()
        return int(pid), float(spawned)

    @property
    def guard_pid(self) -> int | None:
        """The guard's pid once started: it lives until the whole tree is gone."""
        return self._root_pid

    def request_stop(self, reason: str = "interrupt") -> None:
        """Ask `wait()` to stop the tree. Only sets state, so it is safe in a signal handler."""
        if self._stop_reason is None:
            self._stop_reason = reason

    def wait(self) -> Outcome:
        """Enforce the limits until the main child exits, then make sure the tree is gone."""
        if self._popen is None:
            return Outcome(None, 0.0, 0.0, 0.0, None)
        try:
            # Nothing escaped at the start; the scan at the end finds what escaped since.
            next_marker_scan = time.monotonic() + _MARKER_SCAN_EVERY
            while not self._reaped.is_set() and not self._finished:
                now = time.monotonic()
                self._scan(marker=now >= next_marker_scan)
                if now >= next_marker_scan:
                    next_marker_scan = now + _MARKER_SCAN_EVERY
                reason = self._limit_reached(time.monotonic())
                if reason is not None:
                    self._stopped_by = reason
                    if reason in ("wall_time", "cpu_time"):
                        self.before_limit = self._read_snapshot_file()
                    break
                self._reaped.wait(self._sleep_time(time.monotonic()))
        finally:
            self._cleanup()
        return self._outcome()

    def run(self) -> Outcome:
        """Start the command and wait for it."""
        self.start()
        return self.wait()

    def _tell_guard(self, message: bytes) -> None:
        """A line to the guard, if it still listens; never blocks."""
        if self._guard is None:
            return
        try:
            self._guard.send(message, socket.MSG_DONTWAIT)
        except OSError:
            pass

    # ---------------------------------------------------------------- the main child

    def _wait_root(self) -> None:
        """Block on the guard in a thread: it ends as the command does, with the command's
        exit status and the rusage of everything it reaped; then take over what is left."""
        assert self._popen is not None
        try:
            _, status, usage = os.wait4(self._popen.pid, 0)
            self._exit_code = os.waitstatus_to_exitcode(status)
            self._root_cpu = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            self._exit_code = self._popen.returncode
        self._ended = time.monotonic()
        self._popen.returncode = self._exit_code
        ended, peak_kb, left = self._guard_report()
        if ended is not None:
            self._ended = min(self._ended, ended)
            self._command_ended = ended
        self._root_maxrss_mb = peak_kb / 1024.0
        with self._scan_lock:
            for pid in left:
                try:
                    self._track(psutil.Process(pid))
                except psutil.Error:
                    continue
        self._reaped.set()

    def _guard_report(self) -> tuple[float | None, int, list[int]]:
        """The guard's last line: when the command ended, the peak memory (KB) of what the
        guard reaped, and the processes it left behind."""
        if self._guard is None:
            return None, 0, []
        data = b""
        try:
            self._guard.settimeout(1.0)  # the guard has exited: the rest is buffered
            while chunk := self._guard.recv(1 << 16):
                data += chunk
        except OSError:
            pass
        for line in data.decode(errors="replace").splitlines():
            word, *fields = line.split()
            if word == "ended" and len(fields) >= 2:
                try:
                    return float(fields[0]), int(fields[1]), [int(pid) for pid in fields[2:]]
                except ValueError:
                    break
        return None, 0, []

    # ---------------------------------------------------------------- limits

    def _limit_reached(self, now: float) -> str | None:
        if self._stop_reason is not None:
            return self._stop_reason
        if self.stop_file is not None and os.path.exists(self.stop_file):
            return "stop_request"
        lim = self.limits
        if lim.wall_time is not None and now - self._started >= lim.wall_time:
            return "wall_time"
        if lim.cpu_time is not None and self._usage.cpu >= lim.cpu_time:
            return "cpu_time"
        if lim.memory_mb is not None and self._usage.memory_mb > lim.memory_mb:
            return "memory"
        return None

    def _sleep_time(self, now: float) -> float:
        """How long to wait for the next look: one poll interval, but no later than the
        wall-clock limit."""
        if self.limits.wall_time is None:
            return self.poll_interval
        left = self._started + self.limits.wall_time - now
        return max(0.0, min(self.poll_interval, left))

    # ---------------------------------------------------------------- finding the tree

    def _track(self, proc: psutil.Process) -> None:
        if proc.pid == self._root_pid or proc.pid in self._protected_pids:
            return
        known = self._tracked.get(proc.pid)
        if known is not None and known.proc == proc:
            return
        self._tracked[proc.pid] = _Tracked(proc)

    def _discover(self, marker: bool) -> None:
        """Add new descendants: the tree below the guard and below every escaped process."""
        live = self._usage.live
        root_alive = not self._reaped.is_set() and self._root is not None
        tops = [self._root] if root_alive and self._root is not None else []
        tops += [
            t.proc
            for pid, t in self._tracked.items()
            if pid in live and t.ppid not in live and not (root_alive and t.ppid == self._root_pid)
        ]
        for top in tops:
            try:
                for child in top.children(recursive=True):
                    self._track(child)
            except psutil.Error:
                pass
        if marker:
            self._marker_scan()

    def _marker_scan(self) -> None:
        """Find processes that left the tree by their environment (started through some
        daemon), and our own children in the tree's session that the guard could not hand
        over (born as it exited, or the guard was killed).

        Where there is a /proc, the guard's scan picks the candidates (half the time of
        psutil's over every process: it runs at the end of every trial)."""
        me = os.getpid()
        parents = process_parents()
        if parents:
            candidates = marked_processes(parents, self.marker)
            candidates.update(pid for pid, ppid in parents.items() if ppid == me)
        else:
            candidates = set(psutil.pids())
        for pid in candidates:
            if pid in self._tracked or pid in self._protected_pids or pid == self._root_pid:
                continue
            try:
                proc = psutil.Process(pid)
                if carries_marker(proc.environ(), self.marker) or (
                    proc.ppid() == me and os.getsid(pid) == self.pid
                ):
                    self._track(proc)
            except (psutil.Error, OSError):
                continue

    # ---------------------------------------------------------------- measuring

    def _scan(self, marker: bool) -> None:
        """Discover, measure and reap the tree; update CPU time and RSS (one thread at a time)."""
        with self._scan_lock:
            self._scan_unlocked(marker)

    def _scan_unlocked(self, marker: bool) -> None:
        self._discover(marker)
        me = os.getpid()
        previous_live = self._usage.live
        live: set[int] = set()
        rss = 0
        cpu_live = 0.0
        root_cpu = self._root_cpu
        if not self._reaped.is_set() and self._root is not None:
            try:  # the guard's CPU time holds what it reaped; its memory is not the tree's
                root_cpu = _cpu_seconds(self._root)
            except psutil.Error:
                pass
        for pid, tracked in list(self._tracked.items()):
            proc = tracked.proc
            try:
                with proc.oneshot():
                    zombie = proc.status() == psutil.STATUS_ZOMBIE
                    ppid = proc.ppid()
                    if not zombie:
                        tracked.cpu = _cpu_seconds(proc)
                        rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                self._gone(tracked, previous_live)
                del self._tracked[pid]
                continue
            except psutil.AccessDenied:
                live.add(pid)
                continue
            tracked.ppid = ppid
            if ppid == me and self._reap(tracked):
                del self._tracked[pid]
            elif zombie:
                self._gone(tracked, previous_live | live)
            else:
                live.add(pid)
                cpu_live += tracked.cpu
        usage = self._usage
        usage.live = live
        usage.rss_mb = rss / (1024.0 * 1024.0)
        usage.memory_mb = usage.rss_mb
        limit = self.limits.memory_mb
        if limit is not None and usage.rss_mb > limit:
            usage.memory_mb = self._proportional_mb(live)
        usage.peak_rss_mb = max(usage.peak_rss_mb, usage.rss_mb)
        usage.cpu = max(usage.cpu, root_cpu + cpu_live + usage.cpu_dead)

    def _proportional_mb(self, live: set[int]) -> float:
        """The tree's memory with the pages its processes share counted once (Linux's PSS):
        a training's forked data loaders share the parent's pages, which a sum of RSS counts
        once per process. Read only past the limit: it costs milliseconds per process."""
        total = 0
        for pid in live & self._tracked.keys():
            proc = self._tracked[pid].proc
            try:
                try:
                    info = proc.memory_full_info()
                    total += getattr(info, "pss", info.rss)  # PSS is Linux's
                except psutil.AccessDenied:  # its RSS, as the sum counted it
                    total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total / (1024.0 * 1024.0)

    def _reap(self, tracked: _Tracked) -> bool:
        """Reap an adopted descendant and count its exact CPU time; False while it runs."""
        try:
            pid, _, ru = os.wait4(tracked.proc.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return False
        if not tracked.counted:
            self._usage.cpu_dead += ru.ru_utime + ru.ru_stime
            tracked.counted = True
        self._usage.peak_rss_mb = max(self._usage.peak_rss_mb, ru.ru_maxrss / 1024.0)
        return True

    def _gone(self, tracked: _Tracked, live_parents: set[int]) -> None:
        """Count a finished descendant once, unless a live parent in the tree reaps it. The
        guard reaps every child of its own before it exits (an orphan of a dead guard is ours,
        and `_reap` counts it), so a child of the guard is in the guard's rusage even when
        the guard is gone by the time this scan sees the child gone."""
        if tracked.counted:
            return
        tracked.counted = True
        parent_counts_it = tracked.ppid in live_parents or tracked.ppid == self._root_pid
        if not parent_counts_it:
            self._usage.cpu_dead += tracked.cpu

    # ---------------------------------------------------------------- killing

    def _alive(self) -> bool:
        return not self._reaped.is_set() or bool(self._usage.live)

    def _signal_all(self, sig: int) -> None:
        """Signal every known process of the tree, through the process group it leads or
        shares with the command where it has one.

        Never the guard: it ends by itself once the command has ended, after it handed over
        what is left (or, during a stop, SIGKILLed it at the end of the grace). SIGTERM
        reaches each process once (later calls only reach newcomers): a script whose handler
        prints its result line ran that handler twice when the group signal came after its
        own, and printed the line twice on one line. For the same reason SIGTERM skips a
        tree under a nested guard (`smac-bridge wrap` run as a process): its own supervisor
        passes the stop on. SIGCONT follows each SIGTERM, as systemd sends it: a stopped
        process (SIGSTOP) would run its handler only after the grace, killed first.
        """
        termed = sig == signal.SIGTERM
        with self._scan_lock:
            live = [t for t in self._tracked.values() if t.proc.pid in self._usage.live]
        targets = [t.proc for t in live]
        if termed:  # a nested supervisor stops its own tree
            parents = {t.proc.pid: t.ppid for t in live}
            nested = under_other_guards(parents, parents.keys(), self._root_pid or 0)
            targets = [proc for proc in targets if proc.pid not in nested]
        pgids: dict[psutil.Process, int] = {}
        for proc in targets:
            if termed and proc.pid in self._termed:
                continue
            try:
                pgids[proc] = os.getpgid(proc.pid)
            except OSError:
                continue
        # only groups that the tree itself leads, each signalled once; a process in one of
        # them gets the group's signal alone (signalled by itself too, it had SIGTERM twice)
        led = {g for p, g in pgids.items() if g in (p.pid, self.pid)} - self._protected_pgids
        groups = led - self._termed_groups if termed else led
        alone = [proc for proc, pgid in pgids.items() if pgid not in groups]
        if termed:
            self._termed.update(proc.pid for proc in pgids)
        for number in (sig, signal.SIGCONT) if termed else (sig,):
            for proc in alone:
                try:
                    proc.send_signal(number)  # checks the process is still the one we tracked
                except psutil.Error:
                    pass
            for pgid in groups:
                try:
                    os.killpg(pgid, number)
                except OSError:
                    pass
        if termed:
            self._termed_groups.update(groups)

    def _kill_tree(self) -> None:
        """SIGTERM the whole tree, wait up to `grace`, then SIGKILL whatever is left.

        Over the memory limit there is no grace: a tree that ignores SIGTERM could grow by
        gigabytes during it, and the machine's other trials need that memory.
        """
        self._scan(marker=True)
        if not self._alive():
            return
        if self._reaped.is_set() and self._stopped_by is None:
            self._end_stdout_copy()
            self._take_snapshot()
        grace = 0.0 if self._stopped_by == "memory" else self.limits.grace
        if grace > 0:
            self._tell_guard(b"stop\n")
            self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self._reaped.wait(_KILL_POLL)
            self._scan(marker=False)
            self._signal_all(signal.SIGTERM)  # newcomers, such as those the guard handed over
            if not self._alive():
                self._scan(marker=True)
                if not self._alive():
                    return
        give_up = time.monotonic() + _KILL_ROUNDS_FOR
        while True:
            self._signal_all(signal.SIGKILL)
            self._reaped.wait(_KILL_POLL)
            self._scan(marker=True)
            if not self._alive():
                return
            if time.monotonic() > give_up:
                break
        if not self._reaped.is_set() and self._root_pid is not None:
            # the command is gone but the guard never ended: stopped (SIGSTOP from the
            # script) or stuck; it holds what the trial leased, so it goes too
            try:
                os.kill(self._root_pid, signal.SIGKILL)
            except OSError:
                pass
            self._reaped.wait(_KILL_ROUNDS_FOR)
            self._scan(marker=False)  # reaps the processes it had not reaped, now ours

    def _take_snapshot(self) -> None:
        self.snapshot = self._read_snapshot_file()

    def _read_snapshot_file(self) -> bytes | None:
        if self.snapshot_file is None:
            return None
        try:
            return self.snapshot_file.read_bytes()
        except OSError:
            return b""  # none yet: one written later is no report of this moment

    def _end_stdout_copy(self) -> None:
        """The command ended on its own and left processes behind, which are stopped next:
        what they print from then on (a handler's goodbye) is no output of the command, so
        the stdout copy, where its result line or last line is read, ends once it has what
        the command wrote. The log keeps everything."""
        if self._pump_thread is None:
            return
        self._copy_end.asked = time.monotonic()
        self._copy_end.done.wait(_DRAIN_WAIT + 2 * _PUMP_POLL_MS / 1000)

    def _cleanup(self) -> None:
        """Kill what is left of the tree and release what start() took.

        Runs once; a second caller (wait() in a thread while atexit runs) blocks until the
        first is done, so that neither returns while the tree still lives.
        """
        with self._cleanup_lock:
            if self._finished or self._popen is None:
                return
            self._finished = True
            if self._stopped_by is None and not self._reaped.is_set():
                self._stopped_by = "interrupt"  # wait() was interrupted, or we are exiting
            try:
                self._kill_tree()
            finally:
                atexit.unregister(self._cleanup)
                if self._guard is not None:
                    self._guard.close()  # a guard still there stops what is left on its own
                _SUBREAPER.release()
                if self._pump_thread is not None:
                    self._pump_thread.join(timeout=1.0)

    def _outcome(self) -> Outcome:
        end = self._ended if self._ended is not None else time.monotonic()
        usage = self._usage
        cpu = max(usage.cpu, self._root_cpu + usage.cpu_dead)
        stopped_by = self._stopped_by
        ended, limit = self._command_ended, self.limits.wall_time
        if stopped_by == "wall_time" and ended is not None and limit is not None:
            if ended - self._started < limit:  # it ended on its own as the limit woke wait()
                stopped_by = None
        if stopped_by is None and self._stop_reason == "interrupt":
            if ended_by_a_stop_signal(self._exit_code):  # the stop's signal reached it first
                stopped_by = "interrupt"
        return Outcome(
            exit_code=self._exit_code,
            wall_time=end - self._started,
            cpu_time=cpu,
            peak_rss_mb=max(usage.peak_rss_mb, self._root_maxrss_mb),
            stopped_by=stopped_by,
            output_lost=self._copy_end.lost,
        )
