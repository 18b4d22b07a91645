"""The guard: a tiny process between a supervising process and the command it runs.

Why it exists: a supervisor watches its tree from outside, so without help the tree outlives
the supervising process when that dies (`kill -9` of `smac-bridge wrap`, Java SMAC's SIGTERM
then SIGKILL, a SIGKILLed launcher), and a descendant that double-forks, calls setsid() and
drops its environment cannot be told apart from the supervising process's other children.

The guard is a child subreaper: every orphan of the tree is re-parented to it, so the tree is
exactly the guard's descendants, whatever they do. It holds one end of a connection from the
supervising process; end of file on it means that process died, however it died, and the
guard then stops the tree itself: SIGTERM, then SIGKILL after the grace. A tree below another
guard (a worker's trial) gets only the SIGKILL: its own supervisor stops it first. When the
command ends during a stop the supervisor began, the guard keeps what the command left behind
and SIGKILLs it at the end of that stop's grace before it exits: handed over to the
supervising process instead, a daemon that ignores SIGTERM outlived a wrapper that Java SMAC
killed during its grace. When the command ends on its own, the guard hands over what it left
behind, as the supervisor still enforces its limits and records the run as the command ended.

Usage: `python -I -S guard.py FD GRACE MARKER -- COMMAND...`
- FD: the connection (a socket, or the read end of a pipe when nothing listens to the guard);
- GRACE: seconds from SIGTERM to SIGKILL;
- MARKER: added to SMAC_BRIDGE_TREE in the command's environment ("" adds none).

The command runs in a session of its own, as it would without the guard (it leads its process
group, so `kill -- -PID` still reaches it). SIGTERM, SIGINT and SIGHUP sent to the guard are
passed on to that group, and the command gets SIGKILL should the guard itself be killed
(PR_SET_PDEATHSIG), so whoever started the guard can treat it as the command.

Lines the guard writes on FD: `started PID TIME` (when it started the command) or `error
ERRNO` once it tried to start the command; `ended TIME PEAK_KB PID...` as it exits after the
command ended: the command's end, the largest peak memory (ru_maxrss) of the processes the
guard reaped, and the processes of the tree still alive (times are time.monotonic(), which is
system-wide on Linux), handed to the supervising process (they are re-parented to it when the
guard exits). The guard's own rusage cannot tell the peak: a guard forked from a large worker
carries that worker's peak. Line it reads: `stop` (the supervisor started stopping the tree: a
supervisor killed during its grace does not restart the grace). The guard exits as the command
did (same code, or the same signal), so a wait4() on the guard gives the command's status and
the resource use of the whole tree.

Stdlib only and run by path with `-I -S`: it starts once per trial.
"""

from __future__ import annotations

import _signal as signal  # the builtin core of `signal`, without its enums: 8 ms less start-up
import errno
import os
import select
import sys
import time

TYPE_CHECKING = False  # typing's own flag costs an import at every trial's start
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import NoReturn

TREE_ENV = "SMAC_BRIDGE_TREE"
"""Environment variable that marks every process of a supervised tree."""
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_ROUND = 0.1  # seconds between rounds while the guard stops the tree on its own
_KILL_ROUNDS_FOR = 5.0  # seconds of SIGKILL rounds before the guard gives up on a process
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _prctl(option: int, value: int) -> None:
    """prctl(2) on Linux; elsewhere there is no subreaper or parent-death signal to set."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def process_parents() -> dict[int, int]:
    """ppid of every process, from /proc ({} where there is no /proc)."""
    parents: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return parents
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(name)] = int(fields[1])
    return parents


def _descendants(parents: dict[int, int]) -> set[int]:
    """The guard's descendants: the whole tree, since orphans come back to the guard."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked_processes(parents: dict[int, int], marker: str) -> set[int]:
    """Processes that carry the tree's marker, but for this process and its ancestors (the
    guard's: processes outside the tree that some daemon started; the supervisor uses it too)."""
    if not marker:
        return set()
    spared = {os.getpid()}
    pid = os.getpid()
    while pid in parents and pid not in (0, 1):  # never the guard's own ancestors
        pid = parents[pid]
        spared.add(pid)
    needle = f"{TREE_ENV}=".encode()
    found = set()
    for pid in parents:
        if pid in spared:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                entries = environ.read().split(b"\0")
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(needle) and marker in entry[len(needle) :].decode(
                errors="replace"
            ).split(","):
                found.add(pid)
    return found


def _is_guard(pid: int) -> bool:
    """Whether PID runs a guard (`python -I -S .../smac_bridge/guard.py ...`)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0", 4)[1:4]
    except OSError:
        return False
    script = next((arg for arg in args if not arg.startswith(b"-")), b"")
    return script.endswith(b"smac_bridge/guard.py")


def under_other_guards(parents: dict[int, int], pids: Collection[int], own: int) -> set[int]:
    """Of PIDS, those that are a guard other than OWN or below one (by PARENTS).

    Why: a nested tree (a trial of a worker, a script under a `smac-bridge wrap` that a
    launch runs as a process) has its own supervisor, which stops it when told to stop or
    when it dies. SIGTERM from outside as well reached the script before its supervisor
    knew it was stopping (the run looked aborted, not stopped) and ran its handler twice.
    Such trees get only the SIGKILL at the end of the grace from outside.
    """
    verdicts: dict[int, bool] = {}
    for start in pids:
        chain: list[int] = []
        pid, nested = start, False
        while pid in parents and pid != own and pid not in chain:
            if pid in verdicts:
                nested = verdicts[pid]
                break
            chain.append(pid)
            if _is_guard(pid):
                nested = True
                break
            pid = parents[pid]
        for link in chain:
            verdicts[link] = nested
    return {pid for pid in pids if verdicts.get(pid)}


def _group_of(pid: int) -> int | None:
    """The process group of PID; None once it is gone."""
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _send(fd: int, line: str) -> None:
    """Tell the supervising process something; never block or fail on it."""
    try:
        os.set_blocking(fd, False)
        os.write(fd, line.encode() + b"\n")
    except OSError:
        pass


def _spawn(command: list[str] | Callable[[], int], env: dict[str, str], own: list[int]) -> int:
    """fork and exec the command (or call it, when it is a function) in a new session, killed
    should the guard die; the OSError of the exec if it failed (reported through a
    close-on-exec pipe). OWN: the guard's file descriptors, closed in a called command."""
    guard = os.getpid()
    errors_read, errors_write = os.pipe()
    # A stop signal between the fork and the command's own handlers would run the guard's
    # handler in the child, and be lost: blocked across the fork, it waits for the default.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    pid = os.fork()
    if pid == 0:
        try:
            for number in _STOP_SIGNALS:
                signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            os.close(errors_read)
            os.setsid()
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != guard:  # the guard died before the prctl
                os._exit(1)
            if callable(command):
                os.close(errors_write)  # started: the guard reads end of file
                _call(command, own)
            else:
                for number in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them
                    signal.signal(number, signal.SIG_DFL)
                os.execvpe(command[0], command, env)
        except BaseException as error:  # noqa: BLE001 - report it, never return into the guard
            number = getattr(error, "errno", None) or errno.EINVAL
            os.write(errors_write, str(number).encode())
        finally:
            os._exit(127)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    os.close(errors_write)
    with os.fdopen(errors_read, "rb") as errors:
        failure = errors.read()
    if failure:
        os.waitpid(pid, 0)
        number = int(failure)
        raise OSError(
            number, os.strerror(number), command[0] if isinstance(command, list) else None
        )
    return pid


def _call(command: Callable[[], int], own: list[int]) -> None:
    """Run a called command as if it had just started: the guard's signal handlers and file
    descriptors gone; exit with its code (1 and a traceback when it raises)."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd in own:
        os.close(fd)
    code = 1
    try:
        code = command()
    except BaseException:  # noqa: BLE001 - the traceback goes to the command's stderr
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _exit_like(status: int) -> NoReturn:
    """End this process as the command ended: same exit code, or the same signal."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the command dumped, not us
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


class _Guard:
    """The guard's state: the command, the connection, and how far stopping the tree got."""

    def __init__(self, fd: int, grace: float, marker: str) -> None:
        self.fd = fd
        self.grace = grace
        self.marker = marker
        self.pid = 0
        self.status: int | None = None
        self.ended = 0.0
        self.peak_kb = 0  # the largest ru_maxrss of a reaped process of the tree
        self.stop_since: float | None = None  # when the supervisor began stopping the tree
        self.stop_signal: int | None = None  # the stop signal the guard got, passed on
        self.orphaned = False  # the supervising process died: the guard stops the tree
        self.clearing = False  # the command ended during a stop: the guard ends what is left
        self.told_stop = False  # the supervisor said it stops the tree (and sent its SIGTERM)
        self.kill_at = 0.0
        self.termed: set[int] = set()
        self.childless = False  # every child reaped: nothing of the tree is left

    def on_stop_signal(self, number: int, _frame: object) -> None:
        """Note when stopping began; pass the signal on to the command's group (whoever
        signals the guard means the command), with SIGCONT, as the supervisor does: a
        stopped (SIGSTOP) process would run its handler only at the SIGKILL."""
        if self.stop_since is None:
            self.stop_since = time.monotonic()
        self.stop_signal = number
        if self.pid and self.status is None:
            for sent in (number, signal.SIGCONT):
                try:
                    os.killpg(self.pid, sent)
                except OSError:
                    pass

    def reap(self) -> None:
        """Reap every child that ended: the command, and orphans re-parented to the guard."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                self.childless = True
                return
            if pid == 0:
                return
            self.peak_kb = max(self.peak_kb, usage.ru_maxrss)
            if pid == self.pid:
                self.status, self.ended = status, time.monotonic()

    def read(self) -> None:
        """Read the connection: `stop`, or end of file when the supervising process died."""
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if b"stop" in data:
            self.told_stop = True
            if self.stop_since is None:
                self.stop_since = time.monotonic()
        if not data:
            self.orphaned = True
            if self.told_stop:  # the supervisor sent their SIGTERM before it died: not again
                self.termed.update(_descendants(process_parents()))
            if not self.clearing:
                self.kill_at = min(time.monotonic(), self.stop_since or time.monotonic())
                self.kill_at += self.grace

    def clear(self) -> None:
        """The command ended during a stop: keep what it left behind and SIGKILL it at the
        end of the stop's grace (SIGTERM first, unless the supervisor sent it), rather than
        hand it over; so that it is stopped even should the supervising process die during
        the grace (Java SMAC's SIGKILL 3 s after its SIGTERM)."""
        assert self.stop_since is not None
        self.clearing = True
        self.kill_at = self.stop_since + self.grace
        left = _descendants(process_parents())
        if self.told_stop:  # they had their SIGTERM
            self.termed.update(left)
        else:  # a stop signal to the guard: the command's group had it from on_stop_signal
            self.termed.update(pid for pid in left if _group_of(pid) == self.pid)

    def hand_over(self) -> NoReturn:
        """The command ended on its own: report its end and what it left behind, which the
        supervisor takes over (re-parented to it as we exit) and stops while it still
        enforces its limits; and exit as the command did."""
        assert self.status is not None
        # Without a child the tree is gone (every descendant is a child's): no pass over every
        # process of the machine, which a busy shared node makes long.
        left = [] if self.childless else sorted(_descendants(process_parents()))
        _send(self.fd, " ".join(["ended", repr(self.ended), str(self.peak_kb), *map(str, left)]))
        _exit_like(self.status)

    def stop_round(self) -> bool:
        """One round of stopping the tree on our own; False once nothing is left of it. What
        escaped the tree (found by its marker) is the supervisor's while it lives."""
        parents = process_parents()
        targets = _descendants(parents)
        if self.orphaned:
            targets |= marked_processes(parents, self.marker)
        if self.status is None and not parents:  # no /proc: at least the command's group
            targets.add(-self.pid)
        now = time.monotonic()
        if not targets:
            return self.status is None
        if now > self.kill_at + _KILL_ROUNDS_FOR:
            return False  # unkillable (stuck in the kernel): nothing more a signal can do
        number = signal.SIGKILL if now >= self.kill_at else signal.SIGTERM
        if number == signal.SIGTERM and self.told_stop and not self.orphaned:
            return True  # the supervisor sends SIGTERM, once, to newcomers too
        if number == signal.SIGTERM:
            targets -= under_other_guards(parents, targets, os.getpid())
        for pid in targets:
            if number == signal.SIGTERM and pid in self.termed:
                continue
            self.termed.add(pid)
            for sent in (number, signal.SIGCONT) if number == signal.SIGTERM else (number,):
                try:
                    if pid < 0:
                        os.killpg(-pid, sent)
                    else:
                        os.kill(pid, sent)
                except OSError:
                    pass
        return True

    def run(self, command: list[str] | Callable[[], int]) -> None:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda _n, _f: None)
        for number in _STOP_SIGNALS:
            signal.signal(number, self.on_stop_signal)
        env = dict(os.environ)
        if self.marker:
            outer = env.get(TREE_ENV)
            env[TREE_ENV] = f"{outer},{self.marker}" if outer else self.marker
        spawned = time.monotonic()
        try:
            self.pid = _spawn(command, env, [wake_read, wake_write, self.fd])
        except OSError as error:
            _send(self.fd, f"error {error.errno or 0}")
            os._exit(127)
        if self.stop_signal is not None:  # it came while the command was being started
            try:  # before its setsid: no group to signal yet
                os.kill(self.pid, self.stop_signal)
            except OSError:
                pass
        _send(self.fd, f"started {self.pid} {spawned!r}")
        os.set_blocking(self.fd, False)
        while True:
            timeout = _ROUND if self.orphaned or self.clearing else None
            watch = [wake_read] if self.orphaned else [wake_read, self.fd]
            ready = _readable(watch, timeout)
            if wake_read in ready:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            self.reap()
            if self.fd in ready:
                self.read()
            if self.status is not None and not (self.orphaned or self.clearing):
                if self.stop_since is None:
                    self.hand_over()  # and exits
                self.clear()
            stopping = self.orphaned or self.clearing
            if stopping and not self.stop_round() and self.status is not None:
                if not self.orphaned:  # the stop is over (or what is left would not die):
                    self.hand_over()  # the supervisor gets the end, and any that are left
                _exit_like(self.status)


def _readable(fds: list[int], timeout: float | None) -> set[int]:
    """Those of FDS that can be read (or are at their end) within TIMEOUT seconds (None: no
    limit). By poll, not select, which fails on a descriptor numbered 1024 or more, as one a
    supervisor with many files open passes on (pass_fds keeps its number)."""
    waiting = select.poll()
    for fd in fds:
        waiting.register(fd, select.POLLIN)
    ready = waiting.poll(None if timeout is None else timeout * 1000)
    return {fd for fd, _ in ready}


def guard_call(fd: int, grace: float, command: Callable[[], int]) -> None:
    """Be the guard of COMMAND, a function, in this (just forked) process: the guard of a
    command line without its start-up (a worker that inherits the launcher's imports)."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _Guard(fd, grace, "").run(command)


def main(argv: list[str]) -> None:
    fd, grace, marker, dashes, *command = argv
    if dashes != "--" or not command:
        raise SystemExit("usage: guard.py FD GRACE MARKER -- COMMAND...")
    os.set_inheritable(int(fd), False)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _Guard(int(fd), float(grace), marker).run(command)


if __name__ == "__main__":
    main(sys.argv[1:])
