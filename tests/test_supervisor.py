"""The supervisor against real processes: limits, escaped descendants, output, stop requests.

Every target writes the pids of its processes to a file; after each run psutil must find none
of them alive (the supervisor reaps what it adopts, so not even a zombie is left).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import default_sigint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smac_bridge.supervisor import (
    MIN_OUTPUT_LIMIT,
    TREE_ENV,
    Limits,
    Outcome,
    Supervisor,
    carries_marker,
)

PY = sys.executable

# Helpers the targets share: record this process's pid, wait for a file to have n lines.
PRELUDE = """\
import os, signal, subprocess, sys, time
PIDS = sys.argv[1]
def record():
    with open(PIDS, "a") as f:
        f.write(f"{os.getpid()}\\n")
def count_terms():  # each SIGTERM this process gets is a line of PIDS.terms
    def term(number, frame):
        with open(PIDS + ".terms", "a") as out:
            out.write("TERM\\n")
    signal.signal(signal.SIGTERM, term)
def wait_lines(n):
    while True:
        with open(PIDS) as f:
            if len(f.read().split()) >= n:
                return
        time.sleep(0.01)
"""


def target(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(PRELUDE + textwrap.dedent(body))
    return [PY, str(path), str(tmp_path / "pids")]


def recorded_pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "pids"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def when_recorded(tmp_path: Path, action: Callable[[], object]) -> None:
    """Do ACTION on a thread once the target has recorded its pid (at most 60 s from now),
    so that a slow start cannot make a stop land before the target runs."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + 60
        while not recorded_pids(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        action()

    threading.Thread(target=wait_then_act, daemon=True).start()


def assert_all_gone(pids: list[int]) -> None:
    assert pids, "the target recorded no pids"
    alive = []
    for pid in pids:
        try:
            alive.append((pid, psutil.Process(pid).status()))  # a zombie counts as left behind
        except psutil.NoSuchProcess:
            continue
    assert not alive, f"processes of the run survived: {alive}"


def run(tmp_path: Path, argv: list[str], **kwargs: object) -> Outcome:
    sup = Supervisor(argv, log_path=tmp_path / "out.log", **kwargs)  # type: ignore[arg-type]
    return sup.run()


def test_normal_exit_code_and_marker(tmp_path: Path) -> None:
    argv = target(
        tmp_path,
        "exit3",
        """
        record()
        print("marker=" + os.environ["SMAC_BRIDGE_TREE"], flush=True)
        sys.exit(3)
        """,
    )
    outcome = run(tmp_path, argv, marker="run-42")
    assert outcome.exit_code == 3
    assert outcome.stopped_by is None
    assert "marker=run-42" in (tmp_path / "out.log").read_text()
    assert TREE_ENV == "SMAC_BRIDGE_TREE"
    assert_all_gone(recorded_pids(tmp_path))


def test_a_supervisor_with_a_thousand_files_open_still_gets_its_guard(tmp_path: Path) -> None:
    """A worker with more than 1023 descriptors open (many logs, a model's files) hands its
    guard a descriptor numbered 1024 or more; the guard's select() refused it, exited, and
    the trial died with it for no reason anyone could see."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    try:
        while not held or held[-1] < 1050:
            held.append(os.open(os.devnull, os.O_RDONLY))
        outcome = run(tmp_path, [PY, "-c", "import sys; sys.exit(3)"])
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert outcome.exit_code == 3, outcome


def test_a_start_that_fails_once_the_command_began_leaves_nothing_of_its_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error after the guard had started the command (its start timing out on a loaded
    machine, a Ctrl-C at that moment) killed the guard: PDEATHSIG ended the command alone, and
    the command's child ran on, an orphan."""
    began = Supervisor._command_start

    def began_then_failed(self: Supervisor) -> tuple[int, float]:
        began(self)
        deadline = time.monotonic() + 30
        while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        raise RuntimeError("the start failed late")

    monkeypatch.setattr(Supervisor, "_command_start", began_then_failed)
    forks = (
        "import os, time\nif os.fork() == 0:\n"
        "    open('child.pid.tmp', 'w').write(str(os.getpid()))\n"
        "    os.rename('child.pid.tmp', 'child.pid')\n"
        "time.sleep(60)\n"
    )
    supervisor = Supervisor(
        [PY, "-c", forks], log_path=tmp_path / "log", cwd=tmp_path, limits=Limits(grace=0.5)
    )
    with pytest.raises(RuntimeError, match="failed late"):
        supervisor.start()
    child = int((tmp_path / "child.pid").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"


def test_wall_time_limit_sigterm(tmp_path: Path) -> None:
    argv = target(tmp_path, "sleeper", "record()\ntime.sleep(60)\n")
    outcome = run(tmp_path, argv, limits=Limits(wall_time=3.0, grace=0.5))
    assert outcome.stopped_by == "wall_time"
    assert outcome.exit_code == -signal.SIGTERM
    assert 3.0 <= outcome.wall_time < 30
    assert_all_gone(recorded_pids(tmp_path))


def test_ignored_sigterm_gets_sigkill_after_grace(tmp_path: Path) -> None:
    argv = target(
        tmp_path,
        "stubborn",
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        record()
        while True:
            time.sleep(1)
        """,
    )
    outcome = run(tmp_path, argv, limits=Limits(wall_time=3.0, grace=0.5))
    assert outcome.stopped_by == "wall_time"
    assert outcome.exit_code == -signal.SIGKILL
    assert_all_gone(recorded_pids(tmp_path))


GRANDCHILD_NEW_SESSION = """
record()
code = (
    "import os, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "open(sys.argv[1], 'a').write(f'{os.getpid()}\\\\n'); time.sleep(60)"
)
subprocess.Popen([sys.executable, "-c", code, PIDS], start_new_session=True)
wait_lines(2)
"""

DOUBLE_FORK = """
record()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        record()
        time.sleep(60)
    os._exit(0)
wait_lines(2)
"""


@pytest.mark.parametrize("body", [GRANDCHILD_NEW_SESSION, DOUBLE_FORK], ids=["session", "fork"])
def test_escaped_grandchild_is_killed_after_main_child_exits(tmp_path: Path, body: str) -> None:
    argv = target(tmp_path, "escaper", body)
    outcome = run(tmp_path, argv, limits=Limits(wall_time=20, grace=0.5))
    assert outcome.exit_code == 0
    assert outcome.stopped_by is None
    assert len(recorded_pids(tmp_path)) == 2
    assert_all_gone(recorded_pids(tmp_path))


DEAF_LEFTOVER = """
record()
if os.fork() == 0:  # a helper that ignores SIGTERM, outliving the command
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    record()
    if os.environ.get("GROW"):  # grows once the command has ended
        time.sleep(1.0)
        grown = bytearray(300 << 20)
        grown[::4096] = b"x" * len(grown[::4096])
    time.sleep(60)
    os._exit(0)
wait_lines(2)
"""


def test_a_process_in_a_group_another_of_the_tree_leads_gets_one_sigterm(tmp_path: Path) -> None:
    """A helper of a process that leads a group of its own (a data loader's worker, say) was
    signalled alone and through its leader's group: its handler ran twice."""
    argv = target(
        tmp_path,
        "groups",
        """
        if os.fork() == 0:  # leads a group of its own, and ignores SIGTERM
            os.setpgid(0, 0)
            if os.fork() == 0:  # in that group
                count_terms()
                record()
                time.sleep(60)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            record()
            time.sleep(60)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        record()
        time.sleep(60)
        """,
    )
    supervisor = Supervisor(argv, log_path=tmp_path / "out.log", limits=Limits(grace=1.0))
    supervisor.start()
    deadline = time.monotonic() + 60
    while len(recorded_pids(tmp_path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the supervisor has seen the whole tree
    supervisor.request_stop()
    supervisor.wait()
    assert_all_gone(recorded_pids(tmp_path))
    assert (tmp_path / "pids.terms").read_text().splitlines() == ["TERM"]


SUPERVISOR_KILLED_IN_ITS_GRACE = """
import os, signal, sys, threading, time
from pathlib import Path
from smac_bridge.supervisor import Limits, Supervisor
pids = Path(sys.argv[-1])  # the target's argv: it records its pid there once its handler holds
supervisor = Supervisor(sys.argv[1:], log_path=pids.with_suffix(".log"), limits=Limits(grace=1.5))
supervisor.start()
while not pids.exists():
    time.sleep(0.01)
supervisor.request_stop()
threading.Thread(target=supervisor.wait, daemon=True).start()
time.sleep(0.4)
os.kill(os.getpid(), signal.SIGKILL)  # as Java SMAC kills a wrapper 3 s into its grace
"""


def test_a_script_gets_one_sigterm_when_its_supervisor_dies_in_the_grace(tmp_path: Path) -> None:
    """The guard took over a stop whose SIGTERM the supervisor had sent and sent it again: a
    script that saves a checkpoint on SIGTERM saved it twice, the second time mid-exit."""
    argv = target(
        tmp_path,
        "counts_terms",
        """
        count_terms()
        record()
        time.sleep(60)
        """,
    )
    driver = tmp_path / "driver.py"
    driver.write_text(SUPERVISOR_KILLED_IN_ITS_GRACE)
    subprocess.run([PY, str(driver), *argv], timeout=60)
    seen = tmp_path / "pids.terms"
    deadline = time.monotonic() + 30
    pids = recorded_pids(tmp_path)
    while any(psutil.pid_exists(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_all_gone(pids)  # SIGKILLed at the end of the grace
    assert seen.read_text().splitlines() == ["TERM"]


def test_a_stop_signal_to_the_guard_gives_the_leftovers_their_sigterm(tmp_path: Path) -> None:
    """Whoever signals the guard means the command (a worker's guard): the command's group
    gets the signal, once, and what it leaves in a session of its own gets SIGTERM from the
    guard before the SIGKILL at the end of the grace, as from a supervisor's stop."""
    said, heard = tmp_path / "helper-said", tmp_path / "child-heard"
    argv = target(
        tmp_path,
        "helper_in_own_session",
        f"""
        record()
        if os.fork() == 0:
            os.setsid()
            def on_term(*_):
                open({str(said)!r}, "w").write("SIGTERM")
                os._exit(0)
            signal.signal(signal.SIGTERM, on_term)
            record()
            time.sleep(60)
            os._exit(0)
        if os.fork() == 0:  # in the command's group: lives on until the SIGKILL
            signal.signal(signal.SIGTERM, lambda *_: open({str(heard)!r}, "a").write("TERM "))
            record()
            while True:
                time.sleep(0.1)
        wait_lines(3)
        time.sleep(60)
        """,
    )
    sup = Supervisor(argv, log_path=tmp_path / "out.log", limits=Limits(wall_time=60, grace=4))
    when_recorded(tmp_path, lambda: (time.sleep(1), os.kill(sup.guard_pid or 0, signal.SIGTERM)))
    sup.run()
    assert said.read_text() == "SIGTERM"  # within the grace, not SIGKILLed at its end
    assert heard.read_text() == "TERM "  # one SIGTERM: a handler that saves runs once
    assert_all_gone(recorded_pids(tmp_path))


@pytest.mark.parametrize("limit", ["stop", "memory"])
def test_a_command_that_ended_keeps_its_end_whatever_its_leftovers_do(
    tmp_path: Path, limit: str
) -> None:
    """A command ended on its own; what it left behind is stopped, and neither a stop that
    comes meanwhile nor that leftover's memory makes the run a stopped or failed one."""
    argv = target(tmp_path, "leaves", DEAF_LEFTOVER)
    env = {**os.environ, "GROW": "1"} if limit == "memory" else None
    sup = Supervisor(
        argv,
        log_path=tmp_path / "out.log",
        env=env,
        limits=Limits(wall_time=30, memory_mb=200 if limit == "memory" else None, grace=3),
    )
    if limit == "stop":  # once the command has ended, during the leftover's grace
        when_recorded(tmp_path, lambda: (time.sleep(1.5), sup.request_stop("interrupt")))
    outcome = sup.run()
    assert (outcome.exit_code, outcome.stopped_by) == (0, None), outcome
    assert outcome.wall_time < 1.0
    assert_all_gone(recorded_pids(tmp_path))


def test_escaped_grandchild_is_killed_on_limit(tmp_path: Path) -> None:
    argv = target(tmp_path, "escaper_sleeps", DOUBLE_FORK + "time.sleep(60)\n")
    outcome = run(tmp_path, argv, limits=Limits(wall_time=3.0, grace=0.5))
    assert outcome.stopped_by == "wall_time"
    assert_all_gone(recorded_pids(tmp_path))


def test_a_tree_over_its_memory_limit_is_killed_at_once(tmp_path: Path) -> None:
    """The memory is allocated in a child, so only the tree's RSS can see it. A training over
    its memory limit that ignores SIGTERM would grow on through a long grace (and take the
    machine's memory with it): it gets no grace."""
    argv = target(
        tmp_path,
        "deaf_hog",
        """
        record()
        code = (
            "import os, signal, sys, time\\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
            "open(sys.argv[1], 'a').write(f'{os.getpid()}\\\\n')\\n"
            "blocks = []\\n"
            "for _ in range(30):\\n"
            "    blocks.append(bytearray(10 * 1024 * 1024))\\n"
            "    time.sleep(0.05)\\n"
            "time.sleep(60)\\n"
        )
        subprocess.run([sys.executable, "-c", code, PIDS])
        """,
    )
    started = time.monotonic()
    outcome = run(tmp_path, argv, limits=Limits(wall_time=60, memory_mb=100, grace=20))
    assert outcome.stopped_by == "memory" and outcome.peak_rss_mb > 100
    assert time.monotonic() - started < 10  # not the 20 s grace
    assert_all_gone(recorded_pids(tmp_path))


def test_memory_that_forked_processes_share_counts_once(tmp_path: Path) -> None:
    """A training that forks data loaders (they share its pages copy-on-write) was killed at
    5 times its memory: the limit summed each process's RSS."""
    argv = target(
        tmp_path,
        "loaders",
        """
        record()
        held = bytearray(150 * 1024 * 1024)
        for i in range(0, len(held), 4096):
            held[i] = 1
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                total = sum(held[i] for i in range(0, len(held), 4096))  # reads: shared
                time.sleep(3)
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        """,
    )
    outcome = run(tmp_path, argv, limits=Limits(wall_time=30, memory_mb=400, grace=0.5))
    assert outcome.stopped_by is None, outcome
    assert outcome.exit_code == 0 and outcome.peak_rss_mb > 400, outcome  # RSS summed


def test_cpu_limit_counts_the_children(tmp_path: Path) -> None:
    argv = target(
        tmp_path,
        "busy",
        """
        record()
        code = "import os, sys; open(sys.argv[1], 'a').write(f'{os.getpid()}\\\\n')\\n"
        code += "while True: pass"
        subprocess.run([sys.executable, "-c", code, PIDS])
        """,
    )
    outcome = run(tmp_path, argv, limits=Limits(wall_time=30, cpu_time=1.0, grace=0.5))
    assert outcome.stopped_by == "cpu_time"
    assert outcome.cpu_time >= 1.0
    assert_all_gone(recorded_pids(tmp_path))


def test_cpu_time_of_finished_children_is_counted(tmp_path: Path) -> None:
    argv = target(
        tmp_path,
        "worked",
        """
        record()
        code = "import time\\nwhile time.process_time() < 0.6: pass"
        subprocess.run([sys.executable, "-c", code])
        time.sleep(0.3)
        """,
    )
    outcome = run(tmp_path, argv)
    assert outcome.exit_code == 0
    assert outcome.cpu_time >= 0.6
    assert outcome.peak_rss_mb > 1


@pytest.mark.parametrize("repeat", range(3))
def test_the_commands_own_cpu_time_is_counted_once(tmp_path: Path, repeat: int) -> None:
    """The command's CPU time reaches the supervisor twice: in the guard's rusage and as a
    tracked process; a scan after the guard's end counted it again (2 s for 1 s of work)."""
    argv = target(
        tmp_path,
        "busy_itself",
        """
        import resource
        while time.process_time() < 0.8: pass
        own = resource.getrusage(resource.RUSAGE_SELF)
        open("own.txt", "w").write(str(own.ru_utime + own.ru_stime))
        """,
    )
    outcome = run(tmp_path, argv, cwd=tmp_path)
    own = float((tmp_path / "own.txt").read_text())
    assert outcome.exit_code == 0
    assert own <= outcome.cpu_time < own + 0.4, (own, outcome.cpu_time)


def test_fifty_megabytes_of_output_reach_the_log(tmp_path: Path) -> None:
    argv = target(
        tmp_path,
        "flood",
        """
        record()
        chunk = b"x" * 1023 + b"\\n"
        for i in range(50 * 1024):
            (sys.stdout if i % 2 else sys.stderr).buffer.write(chunk)
        """,
    )
    log = tmp_path / "out.log"
    log.write_bytes(b"earlier run\n")
    outcome = run(tmp_path, argv, limits=Limits(wall_time=60, grace=0.5))
    assert outcome.exit_code == 0
    assert log.stat().st_size == len(b"earlier run\n") + 50 * 1024 * 1024
    assert_all_gone(recorded_pids(tmp_path))


NOTE = re.compile(
    rb"\n\[smac-bridge: (\d+) bytes of output left out here, to keep this log within"
    rb" (\d+) bytes: its first and last (\d+) bytes\]\n"
)


def assert_bounded(kept: bytes, whole: bytes, limit: int) -> None:
    """KEPT is WHOLE, or past LIMIT its first and last quarters of LIMIT (the end at least
    that long) around a note that counts exactly the bytes left out between them."""
    if len(whole) <= limit:
        assert kept == whole
        return
    assert len(kept) <= limit
    note = NOTE.search(kept)
    assert note is not None, kept[:200]
    left_out, within, keep = (int(group) for group in note.groups())
    assert (within, keep) == (limit, limit // 4)
    end = kept[note.end() :]
    assert note.start() == keep and len(end) >= keep
    assert kept[:keep] + end == whole[:keep] + whole[keep + left_out :]
    assert keep + left_out + len(end) == len(whole)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.integers(0, 400_000),
    chunk=st.integers(1, 200_000),
    limit=st.integers(MIN_OUTPUT_LIMIT, 3 * MIN_OUTPUT_LIMIT),
    header=st.binary(max_size=300),
)
def test_a_log_past_its_limit_keeps_its_start_and_end_and_counts_the_rest(
    tmp_path: Path, lines: int, chunk: int, limit: int, header: bytes
) -> None:
    """A script that floods its output must not fill the disk: the log (after the header
    the wrapper wrote) and the stdout copy stay within the limit, whatever the output's size
    and the sizes of its writes, and what they keep is the output's own start and end."""
    script = tmp_path / "lines.py"
    script.write_text(
        "import sys\n"
        f"data = b''.join(b'%09d\\n' % i for i in range({lines}))\n"
        f"for at in range(0, len(data), {chunk}):\n"
        f"    sys.stdout.buffer.write(data[at : at + {chunk}])\n"
        "    sys.stdout.buffer.flush()\n"
    )
    log, copy, echo = tmp_path / "out.log", tmp_path / "stdout.log", tmp_path / "echo.log"
    log.write_bytes(header)
    for path in (copy, echo):
        path.write_bytes(b"")
    outcome = Supervisor(
        [PY, str(script)],
        log_path=log,
        stdout_copy=copy,
        echo_stderr=True,  # --echo's copy, in a launch to the run's algo_stderr.log
        echo_path=echo,
        output_limit=limit,
    ).run()
    assert outcome.exit_code == 0
    data = b"".join(b"%09d\n" % i for i in range(lines))
    assert_bounded(log.read_bytes(), header + data, limit)
    assert_bounded(copy.read_bytes(), data, limit)
    assert_bounded(echo.read_bytes(), data, limit)


def test_a_trim_keeps_what_another_writer_appends_meanwhile(tmp_path: Path) -> None:
    """Another writer of the log (a `smac-bridge wrap` inside the script, in the same run
    directory, whose pump writes its script's output there) appends while the pump moves the
    log's end up: it must wait for the move, as what it appended meanwhile would be cut off
    by the truncation that ends it."""
    log = tmp_path / "out.log"
    argv = target(
        tmp_path,
        "two_writers",
        f"""
        import threading
        record()
        log, done, written = {str(log)!r}, threading.Event(), [0]
        def other_writer():  # as the inner wrap's pump writes: a bounded output of its own
            from smac_bridge.supervisor import _BoundedOutput
            other = _BoundedOutput(os.open(log, os.O_WRONLY | os.O_APPEND), 10**9)
            while True:  # a last line once done: one at least after the last trim
                other.write(b"OTHER %d\\n" % written[0])
                written[0] += 1
                if done.is_set():
                    break
                time.sleep(0.0001)
        thread = threading.Thread(target=other_writer)
        thread.start()
        block, end = (b"x" * 99 + b"\\n") * 100, time.monotonic() + 3
        while time.monotonic() < end:  # about 10 trims of a 1 MB log
            sys.stdout.buffer.write(block)
            sys.stdout.buffer.flush()
            time.sleep(0.0005)
        done.set()
        thread.join()
        print("written", written[0], flush=True)
        """,
    )
    outcome = run(
        tmp_path,
        argv,
        stdout_copy=tmp_path / "stdout.log",  # through the pump, as the wrapper's output goes
        output_limit=MIN_OUTPUT_LIMIT,
        limits=Limits(wall_time=120),
    )
    assert outcome.exit_code == 0
    data = log.read_bytes()
    kept_end = data[data.rindex(b"bytes of output left out here") :]
    numbers = [int(n) for n in re.findall(rb"OTHER (\d+)", kept_end)]
    written = int(re.findall(rb"written (\d+)", data)[-1])
    assert numbers == list(range(numbers[0], written)), "lines of the other writer were lost"


def test_echo_stderr_copies_to_stderr_never_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = target(
        tmp_path,
        "talk",
        """
        record()
        print("to-stdout", flush=True)
        print("to-stderr", file=sys.stderr, flush=True)
        """,
    )
    outcome = run(tmp_path, argv, echo_stderr=True)
    out, err = capfd.readouterr()
    assert outcome.exit_code == 0
    assert out == ""
    assert "to-stdout" in err and "to-stderr" in err
    log = (tmp_path / "out.log").read_text()
    assert "to-stdout" in log and "to-stderr" in log


def test_echo_with_an_escaped_grandchild_holding_the_pipe(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = target(tmp_path, "escaper_echo", DOUBLE_FORK)
    outcome = run(tmp_path, argv, echo_stderr=True, limits=Limits(grace=0.5))
    capfd.readouterr()
    assert outcome.exit_code == 0
    assert_all_gone(recorded_pids(tmp_path))


def test_stderr_path_keeps_stderr_apart(tmp_path: Path) -> None:
    argv = target(
        tmp_path,
        "talk",
        """
        record()
        print("to-stdout", flush=True)
        print("to-stderr", file=sys.stderr, flush=True)
        """,
    )
    outcome = run(tmp_path, argv, stderr_path=tmp_path / "err.log")
    assert outcome.exit_code == 0
    assert (tmp_path / "out.log").read_text() == "to-stdout\n"
    assert (tmp_path / "err.log").read_text() == "to-stderr\n"


def test_lines_of_stdout_and_stderr_stay_whole_in_the_log(tmp_path: Path) -> None:
    """`python -u` writes a line's text and its newline apart: a line of stderr landed
    inside one of stdout (`error: badResult of this algorithm run: ...`). A line without its
    end (a prompt, a progress bar) still reaches the log."""
    path = tmp_path / "talk.py"
    path.write_text(  # as -u writes, the other stream's line coming between the two writes
        "import sys, time\n"
        "for n in range(5):\n"
        "    sys.stderr.write(f'error: bad {n}')\n"
        "    time.sleep(0.05)\n"
        "    sys.stdout.write(f'Result of this algorithm run: SAT, 0, 0, {n}, -1\\n')\n"
        "    sys.stderr.write('\\n')\n"
        "sys.stdout.write('waiting for input')\n"
        "time.sleep(1)\n"
    )
    outcome = run(tmp_path, [PY, "-u", str(path)], stdout_copy=tmp_path / "stdout.log")
    assert outcome.exit_code == 0  # a pipe per stream, as the wrapper has them
    lines = (tmp_path / "out.log").read_text().split("\n")
    assert sorted(lines[:-1]) == sorted(
        [f"error: bad {n}" for n in range(5)]
        + [f"Result of this algorithm run: SAT, 0, 0, {n}, -1" for n in range(5)]
    ), lines
    assert lines[-1] == "waiting for input"


def test_request_stop_from_another_thread(tmp_path: Path) -> None:
    argv = target(tmp_path, "sleeper", "record()\ntime.sleep(60)\n")
    sup = Supervisor(argv, log_path=tmp_path / "out.log", limits=Limits(grace=0.5))
    sup.start()
    assert sup.pid is not None
    when_recorded(tmp_path, sup.request_stop)
    outcome = sup.wait()
    assert outcome.stopped_by == "interrupt"
    assert outcome.exit_code == -signal.SIGTERM
    assert_all_gone(recorded_pids(tmp_path))


def test_stop_file(tmp_path: Path) -> None:
    argv = target(tmp_path, "sleeper", "record()\ntime.sleep(60)\n")
    stop = tmp_path / "stop-requested"
    when_recorded(tmp_path, stop.touch)
    outcome = run(tmp_path, argv, stop_file=stop, limits=Limits(grace=0.5))
    assert outcome.stopped_by == "stop_request"
    assert_all_gone(recorded_pids(tmp_path))


def test_command_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run(tmp_path, [str(tmp_path / "no-such-command")])
    not_executable = tmp_path / "plain.txt"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError):
        run(tmp_path, [str(not_executable)])
    never_started = Supervisor(["true"], log_path=tmp_path / "out.log").wait()
    assert never_started.exit_code is None


def test_a_file_that_cannot_be_opened_leaves_no_descriptor_open(tmp_path: Path) -> None:
    """A worker runs trial after trial: a run whose stdout copy cannot be created (its
    folder gone, a full disk) must fail without leaking a descriptor each time."""
    before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(3):
        sup = Supervisor(
            [PY, "-c", "pass"],
            log_path=tmp_path / "out.log",
            stdout_copy=tmp_path / "gone" / "stdout.log",
        )
        with pytest.raises(FileNotFoundError):
            sup.start()
    assert sorted(os.listdir("/proc/self/fd")) == before


COUNTING_SCRIPT = """\
import json, sys, time
from pathlib import Path
from smac_bridge.supervisor import Limits, Supervisor
sent = []
def note(event, args):  # every signal this process sends, as the kernel is asked for it
    if event in ("os.kill", "os.killpg"):
        sent.append([event, *args])
sys.addaudithook(note)
target, pids = sys.argv[1:3]
sup = Supervisor([sys.executable, target, pids], log_path=Path(pids).with_suffix(".log"),
                 limits=Limits(grace=1.0))
sup.start()
while len(Path(pids).read_text().split("\\n")) < 4 if Path(pids).exists() else True:
    time.sleep(0.01)
sup.request_stop()
sup.wait()
print(json.dumps(sent))
"""


def test_each_process_gets_one_sigterm_however_many_rounds_the_grace_takes(
    tmp_path: Path,
) -> None:
    """A script's SIGTERM handler (print the result line, save a checkpoint) must run once: the
    command got SIGTERM from the supervisor and again through its process group, and on a
    busy machine the second landed inside the first handler and printed the line twice."""
    argv = target(
        tmp_path,
        "ignores_term",
        """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so the grace runs its every round
        def note():
            with open(PIDS, "a") as f:
                f.write(f"{os.getpid()} {os.getpgid(0)}\\n")
        if os.fork() == 0:  # a child in the command's group
            note()
            time.sleep(60)
        if os.fork() == 0:  # a grandchild that leads a group of its own
            os.setpgid(0, 0)
            note()
            time.sleep(60)
        note()
        time.sleep(60)
        """,
    )
    script = tmp_path / "count.py"
    script.write_text(COUNTING_SCRIPT)
    counted = subprocess.run(
        [PY, script, argv[1], argv[2]], capture_output=True, text=True, timeout=60, check=True
    )
    sent = json.loads(counted.stdout)
    processes = [
        tuple(map(int, line.split())) for line in (tmp_path / "pids").read_text().splitlines()
    ]
    assert len({pgid for _, pgid in processes}) == 2
    for pid, pgid in processes:
        terms = sent.count(["os.kill", pid, signal.SIGTERM])
        terms += sent.count(["os.killpg", pgid, signal.SIGTERM])
        assert terms == 1, (pid, pgid, sent)
        assert ["os.kill", pid, signal.SIGKILL] in sent or [
            "os.killpg",
            pgid,
            signal.SIGKILL,
        ] in sent
    assert_all_gone([pid for pid, _ in processes])


SUPERVISING_SCRIPT = """\
import os, sys, time
from pathlib import Path
from smac_bridge.supervisor import Limits, Supervisor
target, pids, log, how = sys.argv[1:5]
limits = Limits(wall_time=3.0 if how == "limit" else None, grace=0.5)
marker = os.environ.get("SMAC_BRIDGE_TREE")
sup = Supervisor([sys.executable, target, pids], log_path=Path(log), limits=limits, marker=marker)
sup.start()
while len(Path(pids).read_text().split()) < 2 if Path(pids).exists() else True:
    time.sleep(0.01)
print("ready", flush=True)
if how == "exit":
    sys.exit(0)
if how == "thread":  # as the worker does: wait() in a thread, then the main thread ends
    import threading
    threading.Thread(target=sup.wait, daemon=True).start()
    time.sleep(0.3)
    sys.exit(0)
print(sup.wait().stopped_by, flush=True)
"""


def supervise_in_subprocess(tmp_path: Path, how: str, env: dict[str, str] | None = None) -> str:
    """Run a supervisor in its own process over a target whose grandchild escapes."""
    argv = target(tmp_path, "escaper_sleeps", DOUBLE_FORK + "time.sleep(60)\n")
    script = tmp_path / "supervise.py"
    script.write_text(SUPERVISING_SCRIPT)
    proc = subprocess.Popen(
        [PY, str(script), argv[1], argv[2], str(tmp_path / "out.log"), how],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,  # else, in a background job, the SIGINT case waited 60 s
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if how == "sigint":
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    return f"{proc.returncode} {rest.strip()}"


@pytest.mark.parametrize("how", ["exit", "thread", "sigint"])
def test_tree_dies_when_the_supervising_process_ends(tmp_path: Path, how: str) -> None:
    supervise_in_subprocess(tmp_path, how)
    assert_all_gone(recorded_pids(tmp_path))


def test_supervisor_never_signals_its_own_lineage(tmp_path: Path) -> None:
    # The supervising process carries the run's marker itself (a wrapper under a supervising
    # worker, both using AEATK_EXECUTION_UUID): the kill scan must skip it and its parents.
    env = dict(os.environ, SMAC_BRIDGE_TREE="shared-marker")
    assert supervise_in_subprocess(tmp_path, "limit", env) == "0 wall_time"
    assert_all_gone(recorded_pids(tmp_path))


def test_nested_supervisors_keep_the_outer_marker(tmp_path):
    """A worker's supervisor must still recognise the training script that a wrapper
    started under its own, inner supervisor."""
    script = tmp_path / "inner.py"
    script.write_text(
        "import os, sys\n"
        "from pathlib import Path\n"
        "from smac_bridge.supervisor import Supervisor\n"
        "out = Path(sys.argv[1])\n"
        'code = f\'import os; open({str(out)!r}, "w").write(os.environ["SMAC_BRIDGE_TREE"])\'\n'
        "Supervisor([sys.executable, '-c', code], log_path=out.with_suffix('.log')).run()\n"
    )
    seen = tmp_path / "inner-env.txt"
    outer = Supervisor([sys.executable, str(script), str(seen)], log_path=tmp_path / "outer.log")
    outer.run()
    markers = seen.read_text()
    assert carries_marker({TREE_ENV: markers}, outer.marker)
    assert len(markers.split(",")) == 2


def test_a_command_that_ends_before_its_busy_supervisor_looks_ran_a_time_of_zero_or_more(
    tmp_path: Path,
) -> None:
    """A worker whose other threads hold the interpreter (SMAC3's import, an ask) may get to
    the supervisor's start-up bookkeeping after a quick command has already ended: the
    run's time is measured on the guard's clock from start to end, never negative (a
    negative runtime made the worker refuse the result line and die)."""
    interval = sys.getswitchinterval()
    spinning = threading.Event()

    def busy() -> None:
        while not spinning.is_set():
            pass

    sys.setswitchinterval(0.02)  # each thread holds the interpreter for up to 20 ms
    spinner = threading.Thread(target=busy, daemon=True)
    spinner.start()
    try:
        wall = Supervisor(["true"], log_path=tmp_path / "out.log").run().wall_time
    finally:
        spinning.set()
        spinner.join()
        sys.setswitchinterval(interval)
    assert 0 <= wall < 5


class _LateReaper(Supervisor):
    """A supervisor whose reaper thread runs late, as in a busy worker (SMAC3's ask holds
    the interpreter): the command's end is noted after the wall-clock limit."""

    def _wait_root(self) -> None:
        time.sleep(1.0)
        super()._wait_root()


def test_a_command_that_ended_before_the_limit_is_not_stopped_by_it(tmp_path: Path) -> None:
    """The limit woke wait() before the reaper had noted the end, and a run that finished
    (exit 0) at 0.3 s of 0.6 was reported as stopped by the wall-clock limit (TIMEOUT)."""
    supervisor = _LateReaper(["sleep", "0.3"], log_path=tmp_path / "out.log",
                             limits=Limits(wall_time=0.6, grace=2.0))  # fmt: skip
    outcome = supervisor.run()
    assert (outcome.exit_code, outcome.stopped_by) == (0, None), outcome
    assert outcome.wall_time < 0.6
    hung = _LateReaper(["sleep", "30"], log_path=tmp_path / "out.log",
                       limits=Limits(wall_time=0.6, grace=2.0)).run()  # fmt: skip
    assert (hung.exit_code, hung.stopped_by) == (-signal.SIGTERM, "wall_time"), hung


def test_peak_memory_is_the_trees_not_the_supervising_processs(tmp_path: Path) -> None:
    """The guard starts as a copy of the supervising process (a worker of hundreds of MB), and
    its own peak counted as the command's: every run of a launch showed the worker's size."""
    ballast = bytearray(os.urandom(1)) * (400 << 20)  # 400 MB resident here
    outcome = Supervisor(["true"], log_path=tmp_path / "out.log").run()
    assert len(ballast) and outcome.peak_rss_mb < 100, outcome
    grows = target(tmp_path, "grows", "block = bytearray(os.urandom(1)) * (150 << 20)\n")
    outcome = Supervisor(grows, log_path=tmp_path / "out.log").run()
    assert 150 <= outcome.peak_rss_mb < 300, outcome


def test_a_guard_the_script_stopped_is_killed_with_the_tree(tmp_path: Path) -> None:
    """A script that sends SIGSTOP to its parent stopped its guard, which then never ended:
    it stayed behind, holding the trial's GPU lease. Its script, which the guard could not
    reap, is reaped too: no zombie is left in a worker that runs trials for days."""
    began = time.time() - 1
    body = "os.kill(os.getppid(), signal.SIGSTOP)\ntime.sleep(30)\n"
    supervisor = Supervisor(target(tmp_path, "stops", body), log_path=tmp_path / "out.log",
                            limits=Limits(wall_time=1.0, grace=0.5))  # fmt: skip
    outcome = supervisor.run()
    assert outcome.stopped_by == "wall_time"
    guard = supervisor.guard_pid
    assert guard is not None and not psutil.pid_exists(guard)
    ours = [p for p in psutil.Process().children() if p.create_time() >= began]
    assert [p for p in ours if p.status() == psutil.STATUS_ZOMBIE] == []


# A supervisor of its own (as a worker is for its trials): it starts a guard over INNER_SCRIPT
# and, on SIGTERM, passes the stop on to it after some bookkeeping of its own.
MIDDLE_SCRIPT = """\
import os, signal, subprocess, sys, time
guard, inner, pids, sender = sys.argv[1:5]
read, write = os.pipe()
nested = subprocess.Popen(
    [sys.executable, "-I", "-S", guard, str(read), "5.0", "", "--",
     sys.executable, inner, pids, sender],
    pass_fds=[read], start_new_session=True)
os.close(read)
def stop(number, frame):
    time.sleep(0.5)
    nested.send_signal(signal.SIGTERM)
    nested.wait()
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
with open(pids, "a") as f:
    f.write(f"{os.getpid()}\\n{nested.pid}\\n")
while True:
    time.sleep(1)
"""

# Notes the pid of whoever sent it the first SIGTERM.
INNER_SCRIPT = """\
import os, signal, sys
pids, sender = sys.argv[1:3]
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
with open(pids, "a") as f:
    f.write(f"{os.getpid()}\\n")
info = signal.sigwaitinfo([signal.SIGTERM])
with open(sender, "w") as f:
    f.write(str(info.si_pid))
"""


@pytest.mark.parametrize("stop", ["supervisor stops", "supervising process dies"])
def test_a_nested_tree_is_stopped_by_its_own_supervisor(tmp_path: Path, stop: str) -> None:
    """A worker's trials have a supervisor of their own: when the worker is stopped (or the
    launcher above it dies), the trial must hear of it from that supervisor. SIGTERM sent to
    the trial from outside as well killed it before the worker knew it was stopping, and the
    worker was recorded as aborted, not stopped."""
    from smac_bridge import guard

    (tmp_path / "middle.py").write_text(MIDDLE_SCRIPT)
    (tmp_path / "inner.py").write_text(INNER_SCRIPT)
    pids, sender = tmp_path / "pids", tmp_path / "sender"
    middle = [PY, str(tmp_path / "middle.py"), guard.__file__, str(tmp_path / "inner.py")]
    middle += [str(pids), str(sender)]

    def three_pids() -> list[int]:
        deadline = time.monotonic() + 60
        while len(recorded_pids(tmp_path)) < 3:
            assert time.monotonic() < deadline, "the nested tree never started"
            time.sleep(0.01)
        return recorded_pids(tmp_path)

    if stop == "supervisor stops":
        supervisor = Supervisor(middle, log_path=tmp_path / "out.log", limits=Limits(grace=5.0))
        supervisor.start()
        _, nested_guard, _ = three_pids()
        supervisor.request_stop()
        outcome = supervisor.wait()
        assert outcome.stopped_by == "interrupt"
    else:
        read, write = os.pipe()
        outer = subprocess.Popen(
            [PY, "-I", "-S", guard.__file__, str(read), "5.0", "", "--", *middle],
            pass_fds=[read],
            start_new_session=True,
        )
        os.close(read)
        _, nested_guard, _ = three_pids()
        os.close(write)  # as if the supervising process had died
        assert outer.wait(timeout=30) == 0
    assert int(sender.read_text()) == nested_guard
    assert_all_gone(recorded_pids(tmp_path))
