"""Faults and hostile input: nothing escapes, nothing hangs, nothing is lost.

Real processes and real signals throughout. Every process a test starts carries the test's
token in its command line, and the `token` fixture kills whatever still carries it when the
test ends, passed or failed, so that a failing test leaves no orphan behind.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import REPO, smac_bridge_env
from hypothesis import given
from hypothesis import strategies as st

from smac_bridge.protocol import (
    RunResult,
    build_call,
    parse_additional,
    parse_call,
    parse_result_line,
)

PY = sys.executable
WRAP = [PY, "-m", "smac_bridge.cli", "wrap"]


@pytest.fixture
def token() -> Iterator[str]:
    """A word to put in every command line of the test; what carries it dies at the end."""
    word = f"faults-{uuid.uuid4().hex}"
    try:
        yield word
    finally:
        for proc in tagged(word):
            try:
                proc.kill()
            except psutil.Error:
                pass


def tagged(word: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose command line carries `word`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and word in " ".join(
                proc.info["cmdline"] or ()
            ):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def pids_in(path: Path, count: int) -> list[int] | None:
    """The pids a target wrote to `path`, once there are `count` of them."""
    pids = [int(p) for p in path.read_text().split()] if path.exists() else []
    return pids if len(pids) >= count else None


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (zombies count as gone: only their parent can reap)."""
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.NoSuchProcess:
            continue
    return left


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def wrap_env(run_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in smac_bridge_env().items() if not k.startswith(("SMAC_BRIDGE", "AEATK"))}
    env["SMAC_BRIDGE_RUN_DIR"] = str(run_dir)
    return env


def wrap_argv(target: Path, token: str, *options: str, cutoff: str = "60") -> list[str]:
    """`smac-bridge wrap` of `python TARGET TOKEN` with a classic call and no GPU."""
    call = ["no_instance", "0", cutoff, "2147483647", "-1"]
    return [*WRAP, "--cmd", f'"{PY}" "{target}" {token}', "--gpus", "none", *options, *call]


def one_result(stdout: str) -> RunResult:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout[:2000]
    result = parse_result_line(lines[0])
    assert result is not None
    return result


# ---- 1. a daemon that leaves the session and empties its environment -----------------------------

EMPTY_ENV_DAEMON = """\
import os, sys, time
token = sys.argv[1]
pids = os.path.join(os.environ["SMAC_BRIDGE_RUN_DIR"], "pids.txt")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\\n")
        os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", token], {})
    os._exit(0)
while not open(pids).read().strip() if os.path.exists(pids) else True:
    time.sleep(0.01)
print("final loss 0.5")
"""


def test_a_setsid_daemon_with_an_empty_environment_dies_with_the_trial(
    tmp_path: Path, token: str
) -> None:
    target = script(tmp_path, "daemon.py", EMPTY_ENV_DAEMON)
    run_dir = tmp_path / "run"
    done = subprocess.run(
        wrap_argv(target, token), env=wrap_env(run_dir), capture_output=True, text=True, timeout=60
    )
    result = one_result(done.stdout)
    assert (result.status, result.quality) == ("SAT", 0.5), done.stderr
    daemon = pids_in(run_dir / "pids.txt", 1)
    assert daemon, "the target never started its daemon"
    assert not alive(daemon), "the daemon outlived `smac-bridge wrap`"
    wait_for(lambda: not tagged(token), timeout=10, what="every process of the test to end")


# ---- 2. a wrapper that dies takes its tree along -------------------------------------------------

# The script, a child in its own session and a grandchild that ignores SIGTERM; all note pids.
TREE = """\
import os, signal, subprocess, sys, time
token = sys.argv[1]
pids = os.path.join(os.environ["SMAC_BRIDGE_RUN_DIR"], "pids.txt")
def note():
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
if len(sys.argv) > 2 and sys.argv[2] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    note()
    time.sleep(300)
note()
child = [sys.executable, __file__, token, "stubborn"]
subprocess.Popen(child, start_new_session=True)
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(300)
"""


def start_tree(tmp_path: Path, token: str, *script_args: str) -> tuple[subprocess.Popen, list[int]]:
    """A wrapper running TREE, once both of its processes noted their pids."""
    target = script(tmp_path, "tree.py", TREE)
    run_dir = tmp_path / "run"
    argv = wrap_argv(target, token)
    argv[argv.index("--cmd") + 1] += "".join(f" {a}" for a in script_args)
    wrapper = subprocess.Popen(
        argv, env=wrap_env(run_dir), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    pids = wait_for(lambda: pids_in(run_dir / "pids.txt", 2), what="the tree to start")
    return wrapper, pids


def test_kill_9_of_the_wrapper_kills_the_script_tree(tmp_path: Path, token: str) -> None:
    wrapper, pids = start_tree(tmp_path, token)
    wrapper.kill()
    wrapper.wait()
    wait_for(lambda: not alive(pids), timeout=10, what="the tree to die after kill -9")
    wait_for(lambda: not tagged(token), timeout=10, what="every process of the test to end")


def test_java_smacs_sigterm_then_sigkill_after_3_s_kills_the_tree(
    tmp_path: Path, token: str
) -> None:
    """Java SMAC stops a run with SIGTERM and SIGKILLs the wrapper 3 s later, before the
    wrapper's default grace of 5 s ran out; the script here ignores SIGTERM."""
    wrapper, pids = start_tree(tmp_path, token, "--ignore-term")
    wrapper.send_signal(signal.SIGTERM)
    time.sleep(3)
    assert wrapper.poll() is None, "the wrapper ended before its grace"
    wrapper.kill()
    wrapper.wait()
    wait_for(lambda: not alive(pids), timeout=10, what="the tree to die after SIGKILL")
    wait_for(lambda: not tagged(token), timeout=10, what="every process of the test to end")


def test_a_wrapper_stopped_normally_still_prints_one_line(tmp_path: Path, token: str) -> None:
    wrapper, pids = start_tree(tmp_path, token)
    wrapper.send_signal(signal.SIGTERM)
    stdout, _ = wrapper.communicate(timeout=30)
    result = one_result(stdout.decode())
    assert result.status == "TIMEOUT"
    assert parse_additional(result.additional)["reason"] == "interrupted"
    assert not alive(pids)


# ---- 2b. a launcher that dies takes its workers along; a worker started by hand does not ---------

# A classic target that notes its pid and runs until it is stopped.
LONG_TARGET = """\
import os, sys, time
os.makedirs("trial-pids", exist_ok=True)
open(os.path.join("trial-pids", str(os.getpid())), "w").close()
time.sleep(float(open("sleep.txt").read()))
print(f"Result of this algorithm run: SAT, 0.01, 0, 1.0, {sys.argv[6]}")
"""


def long_project(root: Path, token: str, budget: int = 4, sleep: float = 300) -> Path:
    """A scenario named after `token` (so every worker's command line carries it) whose
    trials run `sleep` seconds."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "target.py").write_text(LONG_TARGET)
    (root / "sleep.txt").write_text(str(sleep))
    (root / "space.pcs").write_text("x [-5, 10] [2.5]\n")
    scenario = root / f"{token}.txt"
    scenario.write_text(
        f"algo = {PY} target.py {token}\nexecdir = {root}\nparamfile = space.pcs\n"
        f"run_obj = quality\ndeterministic = true\nruncount_limit = {budget}\n"
        f"outdir = {root / 'out'}\nshared-model-mode = true\n"
    )
    return scenario


def trial_pids(root: Path, count: int) -> list[int] | None:
    folder = root / "trial-pids"
    pids = [int(p.name) for p in folder.iterdir()] if folder.exists() else []
    return pids if len(pids) >= count else None


# The launcher forks its workers on Linux; elsewhere, or when it runs other threads (a
# notebook), it starts them as processes.
START_WORKERS = (
    "import sys, threading; from smac_bridge import launcher; way = sys.argv.pop(1)"
    "; launcher.FORK_WORKERS = way != 'process'"
    "; way == 'threaded' and threading.Thread(target=threading.Event().wait, daemon=True).start()"
    "; from smac_bridge.cli import main; main()"
)


@pytest.mark.slow
@pytest.mark.parametrize("way", ["fork", "process", "threaded"])
def test_kill_9_of_the_launcher_stops_its_workers_and_trials(
    tmp_path: Path, token: str, way: str
) -> None:
    from smac_bridge.rundata import RunGroup

    scenario = long_project(tmp_path, token)
    launch = subprocess.Popen(
        [PY, "-c", START_WORKERS, way, "launch", str(scenario), "--quiet"]
        + ["--parallel", "2", "--gpus", "none"],
        cwd=tmp_path,
        env=smac_bridge_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    group = RunGroup(tmp_path / "out" / token)
    trials = wait_for(lambda: trial_pids(tmp_path, 2), timeout=180, what="two trials to run")
    workers = [w["pid"] for w in group.workers()]
    assert len(workers) == 2 and not set(workers) & set(trials)
    for pid in workers:  # a started worker's command line is `smac-bridge worker ...`
        assert ("worker" in psutil.Process(pid).cmdline()) == (way != "fork")
    launch.kill()
    launch.wait()
    wait_for(lambda: not alive(workers + trials), timeout=30, what="workers and trials to die")
    wait_for(lambda: not tagged(token), timeout=10, what="every process of the test to end")
    # stopped, not crashed: the slots of the unfinished trials are free for --resume
    assert {w["state"] for w in group.workers()} == {"stopped"}
    assert group.records() == [] and group.claimed() == [] and group.running() == []


def gpu_leases_held(pid: int) -> set[str]:
    """The GPU lease lock files process PID holds open (its other files come and go while we
    look, so a descriptor closed between listing and reading is skipped)."""
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            names.add(Path(os.readlink(fd)).name)
    return {name for name in names if name.startswith("gpu-")}


@pytest.mark.slow
def test_workers_started_as_processes_hold_their_gpu_leases(tmp_path: Path, token: str) -> None:
    """A launcher that runs other threads (a notebook) starts `smac-bridge worker` processes;
    they did not hold their GPUs' leases, so a launcher killed with -9 freed its GPUs while its
    workers still stopped their trials, and a new launch took them without a word."""
    from smac_bridge.rundata import RunGroup

    scenario = long_project(tmp_path, token)
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    env = {**smac_bridge_env(), "SMAC_BRIDGE_FAKE_GPUS": "2",
           "SMAC_BRIDGE_GPU_LOCK_DIR": str(locks)}  # fmt: skip
    launch = subprocess.Popen(
        [PY, "-c", START_WORKERS, "threaded", "launch", str(scenario), "--quiet"]
        + ["--parallel", "2"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: trial_pids(tmp_path, 2), timeout=180, what="two trials to run")
        workers = [w["pid"] for w in RunGroup(tmp_path / "out" / token).workers()]
        held = [gpu_leases_held(pid) for pid in workers]
        assert all(held) and set().union(*held) == {"gpu-0-slot-0.lock", "gpu-1-slot-0.lock"}
    finally:
        launch.kill()
        launch.wait()
    wait_for(lambda: not tagged(token), timeout=60, what="every process of the test to end")


@pytest.mark.slow
def test_a_worker_started_by_hand_outlives_its_parent(tmp_path: Path, token: str) -> None:
    scenario = long_project(tmp_path, token)
    starter = (
        "import subprocess, sys, time\n"
        "subprocess.Popen(sys.argv[1:], start_new_session=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen(
        [PY, "-c", starter, PY, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"],
        cwd=tmp_path,
        env=smac_bridge_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trials = wait_for(lambda: trial_pids(tmp_path, 1), timeout=180, what="the worker's trial")
    parent.kill()
    parent.wait()
    time.sleep(3)
    assert alive(trials) == trials, "the trial of a worker started by hand died with its parent"
    assert len(tagged(token)) >= 2  # the worker and its trial (the fixture ends them)
    # a second worker of the same seed wrote the same classic files and heartbeat
    assert_a_twin_is_refused(scenario, tmp_path)
    # lock files stay after a launch, and a user who tidies them away deletes a live one too:
    # the twin then ran beside the worker, and a trial ran twice under one run id
    (lock,) = tmp_path.rglob(".*.worker-1.lock")
    lock.unlink()
    assert_a_twin_is_refused(scenario, tmp_path)


def assert_a_twin_is_refused(scenario: Path, cwd: Path) -> None:
    """A second worker of seed 1 is refused, naming the running one."""
    twin = subprocess.run(
        [PY, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"],
        cwd=cwd,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert twin.returncode == 1
    assert "worker 1 of this rungroup is running (pid " in twin.stderr


# ---- 3. memory: the tree over its limit, the wrapper on endless output ---------------------------

# Ignores SIGTERM and allocates 20 MB every 20 ms (touched, so it is resident) up to 1.5 GB.
HOG = """\
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
blocks = []
while len(blocks) < 75:
    blocks.append(b"\\x01" * (20 << 20))
    time.sleep(0.1)
time.sleep(300)
"""


def test_a_tree_over_its_memory_limit_is_killed_at_once(tmp_path: Path, token: str) -> None:
    target = script(tmp_path, "hog.py", HOG)
    run_dir = tmp_path / "run"
    argv = wrap_argv(target, token, "--memory-limit", "300")
    done = subprocess.run(argv, env=wrap_env(run_dir), capture_output=True, text=True, timeout=60)
    result = one_result(done.stdout)
    data = parse_additional(result.additional)
    assert result.status == "UNSAT" and data["reason"] == "memory limit 300 MB exceeded"
    assert data["exit_code"] == -signal.SIGKILL  # no SIGTERM and grace first
    assert 300 < float(data["peak_rss_mb"]) < 600, data  # exact: the kernel's maximum RSS
    wait_for(lambda: not tagged(token), timeout=10, what="every process of the test to end")


# Runs its arguments as a child and prints the child's maximum RSS (KiB) on stderr. A small
# parent, because a child's maximum RSS counts the pages it shared with its parent before its
# exec, and pytest's process grows to hundreds of MB over a whole test run.
PEAK_OF_CHILD = """\
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, file=sys.stderr)
"""


def wrapper_peak_rss_mb(argv: list[str], env: dict[str, str]) -> tuple[str, float]:
    """Run the wrapper; its stdout and the largest RSS of it and of what it waited for."""
    done = subprocess.run(
        [PY, "-I", "-S", "-c", PEAK_OF_CHILD, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout, int(done.stderr.split()[-1]) / 1024


# 100 MB of output without a newline: a progress bar redrawn with \r, or one endless line.
FLOOD = """\
import sys
redraw = sys.argv[2] == "progress"
step = (b"\\repoch 1: 45%|#########           | loss 0.123 " if redraw else b"x" * 49) + b" "
out = sys.stdout.buffer
for _ in range((100 << 20) // (len(step) * 1000) + 1):
    out.write(step * 1000)
out.write(b"\\rfinal loss 0.5" if redraw else b" 0.5")
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["progress", "one-line"])
def test_100_mb_without_a_newline_keep_the_wrapper_small(
    tmp_path: Path, token: str, kind: str
) -> None:
    target = script(tmp_path, "flood.py", FLOOD)
    run_dir = tmp_path / "run"
    argv = wrap_argv(target, token)
    argv[argv.index("--cmd") + 1] += f" {kind}"
    stdout, peak_mb = wrapper_peak_rss_mb(argv, wrap_env(run_dir))
    result = one_result(stdout)
    assert (result.status, result.quality) == ("SAT", 0.5)
    assert (run_dir / "process_output.log").stat().st_size > 100 << 20
    assert peak_mb < 150, f"the wrapper (or its script) reached {peak_mb:.0f} MB"


# ---- 4. values taken as syntax ------------------------------------------------------------------

# Values that look like the syntax around them: AClib's options, negative numbers, dashes.
ODD = st.sampled_from(
    ["--config", "--instance", "--cutoff", "--seed", "--instance-specific-information"]
    + ["-1", "--", "-", "-x", "--config=1", "'", "ü", "日本語", "—", "a b", "\u2028"]
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1)
VALUES = st.one_of(ODD, TEXT).filter(lambda v: not (len(v) > 1 and v[0] == v[-1] == "'"))
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)


@given(st.dictionaries(NAMES, VALUES, max_size=5), VALUES)
def test_odd_values_of_a_classic_call_stay_values(config: dict[str, str], info: str) -> None:
    argv = build_call([], instance_info=info, cutoff=5.0, seed=3, config=config)
    call = parse_call(argv)
    assert (call.instance, call.instance_info, call.cutoff, call.seed) == (
        "no_instance",
        info,
        5.0,
        3,
    )
    assert call.params == config


@given(st.dictionaries(NAMES, VALUES, max_size=5), VALUES)
def test_odd_values_of_an_aclib_call_stay_values(config: dict[str, str], instance: str) -> None:
    params = [word for name, value in config.items() for word in (f"-{name}", value)]
    argv = ["--instance", instance, "--cutoff", "5", "--seed", "3", "--config", *params]
    call = parse_call(argv)
    assert (call.instance, call.cutoff, call.seed, call.params) == (instance, 5.0, 3, config)


def test_a_categorical_value_config_reaches_the_script(tmp_path: Path, token: str) -> None:
    target = script(tmp_path, "echo.py", 'print("final loss 0.5")\n')
    run_dir = tmp_path / "run"
    argv = wrap_argv(target, token) + ["-alg", "--config", "-x", "--instance", "-y", "--"]
    done = subprocess.run(argv, env=wrap_env(run_dir), capture_output=True, text=True, timeout=60)
    result = one_result(done.stdout)
    assert (result.status, result.quality) == ("SAT", 0.5), result
    command = json.loads((run_dir / "command.json").read_text())["argv"]
    # joined to their flags: argparse would read `--alg --config` as two options
    assert command[-3:] == ["--alg=--config", "--x=--instance", "--y=--"]


# ---- 4b. run ids are names, not paths -----------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """An output directory with one rungroup, and a folder outside it that holds a secret log
    and a symbolic link `runs/00001` into it; returns (outdir, outside)."""
    from smac_bridge.rundata import RunGroup

    outdir = tmp_path / "out"
    group = RunGroup(outdir / "grp")
    group.create()
    group.write_launch_info({"budget": 3, "parallel": 1})
    outside = tmp_path / "outside"
    for folder in (outside, outdir / "x", tmp_path / "x"):  # where ../ ids would lead
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "process_output.log").write_text("SECRET\n")
    (group.path / "runs").mkdir(exist_ok=True)
    (group.path / "runs" / "00001").symlink_to(outside)
    return outdir, outside


@pytest.mark.parametrize(
    "run_id", ["../../x", "../../../x", "ABSOLUTE", "7", "000001", "0000a", "00000"]
)
def test_tail_refuses_run_ids_that_are_not_run_ids(planted, cli, run_id: str) -> None:
    outdir, outside = planted
    run_id = str(outside) if run_id == "ABSOLUTE" else run_id
    done = cli("tail", str(outdir), run_id)
    assert done.returncode == 1 and "SECRET" not in done.stdout
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    assert "is not a run id (5 digits, such as 00007)" in done.stderr


def test_a_run_directory_linked_outside_is_refused(planted, cli) -> None:
    outdir, outside = planted
    done = cli("tail", str(outdir), "00001")
    assert done.returncode == 1 and "SECRET" not in done.stdout
    assert "leads outside the rungroup" in done.stderr


def test_planted_running_markers_make_stop_write_nothing_outside(planted, cli) -> None:
    from smac_bridge.rundata import RunGroup, hostname, write_json_atomic

    outdir, outside = planted
    group = RunGroup(outdir / "grp")
    alive = {"worker": 1, "pid": os.getpid(), "host": hostname(), "started": time.time()}
    write_json_atomic(group.layout.running / "00002.json", {"run_id": "../../evil", **alive})
    write_json_atomic(group.layout.running / "00001.json", {"run_id": "00001", **alive})
    done = cli("stop", str(outdir), "../../evil", "--timeout", "1")
    assert done.returncode == 1 and "is not a run id" in done.stderr
    done = cli("stop", str(outdir), "00001", "--timeout", "1")
    assert done.returncode == 1 and "leads outside the rungroup" in done.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["process_output.log"]
    assert not (outdir / "evil").exists() and not (outdir.parent / "evil").exists()
    status = json.loads(cli("status", str(outdir), "--json").stdout)
    assert [run["run_id"] for run in status["running"]] == ["00001"]  # not ../../evil


# ---- 4c. GPU lock folders are private; the lease wait ends at the cutoff ------------------------


# A process that holds the lock of GPU 0, slot 0 in a lock folder, as a rival wrapper would.
LOCK_HOLDER = """\
import fcntl, os, sys, time
fd = os.open(os.path.join(sys.argv[1], "gpu-0-slot-0.lock"), os.O_RDWR | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(300)
"""


def hold_gpu_lock(tmp_path: Path, folder: Path, token: str) -> subprocess.Popen:
    target = script(tmp_path, "holder.py", LOCK_HOLDER)
    holder = subprocess.Popen([PY, str(target), str(folder), token], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    return holder


def gpu_wrap(tmp_path: Path, token: str, env: dict[str, str], cutoff: str) -> RunResult:
    """The wrapper leasing one of one fake GPU for a script that succeeds at once."""
    target = script(tmp_path, "ok.py", 'print("final loss 0.5")\n')
    argv = wrap_argv(target, token, cutoff=cutoff)
    argv[argv.index("none")] = "auto"
    env = {**env, "SMAC_BRIDGE_FAKE_GPUS": "1"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    return one_result(done.stdout)


def test_a_lock_folder_planted_by_another_user_is_not_used(tmp_path: Path, token: str) -> None:
    temp = tmp_path / "shared-tmp"
    planted = temp / f"smac-bridge-gpu-locks-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)
    holder = hold_gpu_lock(tmp_path, planted, token)
    if os.getuid() == 0:  # as root, make it really another user's
        os.chown(planted, 65534, 65534)
    try:
        env = {**wrap_env(tmp_path / "run"), "TMPDIR": str(temp)}
        result = gpu_wrap(tmp_path, token, env, cutoff="3")
    finally:
        holder.kill()
        holder.wait()
    assert (result.status, result.quality) == ("SAT", 0.5), result
    used = planted.with_name(f"{planted.name}-1")
    info = used.stat()
    assert info.st_uid == os.getuid() and info.st_mode & 0o777 == 0o700
    assert (used / "gpu-0-slot-0.lock").exists()


@pytest.mark.parametrize("mode", [0o777, 0o755])
def test_an_explicit_lock_folder_that_is_not_private_is_an_error(
    tmp_path: Path, token: str, mode: int
) -> None:
    """A folder of mode 755 (mkdir's under the usual umask) was refused because "other users
    may write in it", which they may not: the message asks for what it checks."""
    folder = tmp_path / "locks"
    folder.mkdir()
    folder.chmod(mode)
    env = {**wrap_env(tmp_path / "run"), "SMAC_BRIDGE_GPU_LOCK_DIR": str(folder)}
    result = gpu_wrap(tmp_path, token, env, cutoff="3")
    reason = str(parse_additional(result.additional)["reason"])
    assert result.status == "CRASHED" and "no private GPU lock folder" in reason
    assert f"mode {mode:o}: expected 700 (private to this user)" in reason


def test_the_gpu_lease_wait_ends_at_the_cutoff(tmp_path: Path, token: str) -> None:
    folder = tmp_path / "locks"
    folder.mkdir(mode=0o700)
    holder = hold_gpu_lock(tmp_path, folder, token)
    try:
        env = {**wrap_env(tmp_path / "run"), "SMAC_BRIDGE_GPU_LOCK_DIR": str(folder)}
        result = gpu_wrap(tmp_path, token, env, cutoff="2")
    finally:
        holder.kill()
        holder.wait()
    reason = str(parse_additional(result.additional)["reason"])
    assert result.status == "CRASHED" and "no free GPU slot within the cutoff (2 s)" in reason


# ---- 5. errors that say what happened -----------------------------------------------------------


def test_memout_reads_as_memory(tmp_path: Path, token: str) -> None:
    line = "Result of this algorithm run: MEMOUT, 1.5, 0, 0, -1"
    target = script(tmp_path, "memout.py", f"print({line!r})\n")
    done = subprocess.run(
        wrap_argv(target, token, "--failure-quality", "9"),
        env=wrap_env(tmp_path / "run"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = one_result(done.stdout)
    assert (result.status, result.quality) == ("UNSAT", 9)
    assert parse_additional(result.additional)["reason"] == "script reported MEMOUT (out of memory)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"x [0, 1] [0.5]\ny {a, b} [a]\n\xff\xfe junk\n", ":3: the PCS file is not UTF-8 text"),
        (b"x [0, 1] [0.5]\ny {a, b\x00c} [a]\n", ":2: the PCS file holds a NUL byte"),
    ],
)
def test_a_binary_pcs_file_is_an_error_on_its_line(
    tmp_path: Path, cli, data: bytes, message: str
) -> None:
    path = tmp_path / "space.pcs"
    path.write_bytes(data)
    done = cli("check", str(path))
    assert done.returncode == 1 and f"{path}{message}" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("data", "line"), [(b"inst1\ninst2\x00\ninst3\n", 2), (b"inst1\ninst2\n\xffinst3\n", 3)]
)
def test_a_binary_instance_file_is_an_error_on_its_line(
    tmp_path: Path, data: bytes, line: int
) -> None:
    from smac_bridge.errors import InputError
    from smac_bridge.instances import read_instances

    path = tmp_path / "instances.txt"
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        read_instances(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert "a binary file?" in str(caught.value) or "not UTF-8 text" in str(caught.value)


def test_the_characters_refused_in_pcs_values_are_the_documented_ones() -> None:
    """docs/pcs-files.md lists what a categorical value may not hold: exactly the punctuation
    that the PCS writer refuses (the rest round-trips through a file)."""
    import re
    import string

    from ConfigSpace import CategoricalHyperparameter, ConfigurationSpace

    from smac_bridge.errors import InputError
    from smac_bridge.pcs import SearchSpace, parse_pcs, write_pcs

    docs = (Path(__file__).parents[1] / "docs" / "pcs-files.md").read_text()
    found = re.search(r"Values have no\s+blanks and none of `([^`]*)`", docs)
    assert found, "the rule for values is gone from docs/pcs-files.md"
    listed = set(found.group(1).split())
    refused = set()
    for char in string.punctuation:
        space = ConfigurationSpace()
        space.add(CategoricalHyperparameter("kind", [f"a{char}b", "c"], default_value="c"))
        try:
            text = write_pcs(SearchSpace(space), "classic")
        except InputError:
            refused.add(char)
            continue
        back = parse_pcs(text, "written.pcs").space["kind"]
        assert f"a{char}b" in back.choices, (char, text)
    assert refused == listed


# ---- 6. scripts/gpu_check.sh --------------------------------------------------------------------

GPU_CHECK = Path(__file__).parents[1] / "scripts" / "gpu_check.sh"


@pytest.mark.parametrize("smi", ["missing", "no devices"])
def test_gpu_check_without_a_gpu_says_so_and_exits_0(tmp_path: Path, smi: str) -> None:
    folders = [
        p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists()
    ]
    if smi == "no devices":  # what nvidia-smi prints on a machine whose GPUs are gone
        fake = tmp_path / "nvidia-smi"
        fake.write_text('#!/bin/sh\necho "No devices were found"\nexit 6\n')
        fake.chmod(0o755)
        folders.insert(0, str(tmp_path))
    env = {**os.environ, "PATH": os.pathsep.join(folders)}
    done = subprocess.run(
        ["bash", str(GPU_CHECK)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gpu_check: no GPU here") and "nothing to check" in done.stdout


def test_gpu_check_says_why_when_nvidia_smi_fails(tmp_path: Path) -> None:
    """A driver that does not answer passed as "no GPU here", exit 0: the GPU machine's
    check reported nothing to check, and its launches trained on the CPU."""
    fake = tmp_path / "nvidia-smi"
    said = "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver."
    fake.write_text(f'#!/bin/sh\necho "{said}"\nexit 9\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", str(GPU_CHECK)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"gpu_check: nvidia-smi -L failed (exit 9): {said}\n"


def test_gpu_check_names_a_python_without_smac_bridges_dependencies(tmp_path: Path) -> None:
    """Without .venv it ran with a bare python3: every launch failed, and its table blamed
    the MNIST data."""
    fake = tmp_path / "nvidia-smi"
    fake.write_text('#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-1)"\n')
    fake.chmod(0o755)
    bare = tmp_path / "python"
    bare.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')  # no site-packages
    bare.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
           "SMAC_BRIDGE_PYTHON": str(bare)}  # fmt: skip
    done = subprocess.run(
        ["bash", str(GPU_CHECK)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"gpu_check: {bare} lacks smac ConfigSpace psutil numpy: set smac-bridge up" in (
        done.stderr
    )


def test_gpu_check_imports_only_modules_that_exist() -> None:
    """Its Python runs only where there is a GPU. There it imported a module that does not
    exist (smac_bridge.mnist_data) after every GPU check, and printed no table. Here its
    imports run in source order, with what it puts on sys.path; those it guards with
    `except ImportError` (TensorFlow) are left out."""
    text = GPU_CHECK.read_text()
    code = text.split("<<'PYTHON' || status=$?\n", 1)[1].split("\nPYTHON\n", 1)[0]
    tree = ast.parse(code)
    guarded = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Try)
               for inner in ast.walk(node)}  # fmt: skip
    wanted = [
        node
        for node in ast.walk(tree)
        if id(node) not in guarded
        and (
            isinstance(node, ast.Import | ast.ImportFrom)
            or (isinstance(node, ast.Expr) and ast.unparse(node).startswith("sys.path."))
        )
    ]
    lines = [
        "import sys",
        "from pathlib import Path",
        f"repo = Path({str(GPU_CHECK.parents[1])!r})",
    ]
    lines += [ast.unparse(node) for node in sorted(wanted, key=lambda node: node.lineno)]
    env = {**smac_bridge_env(), "PYTHONPATH": str(GPU_CHECK.parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


# ---- a read-only or full output folder ---------------------------------------------------------


@contextmanager
def tmpfs(folder: Path, size: str, inodes: int | None = None) -> Iterator[Path]:
    """A small filesystem of its own at FOLDER (tmpfs), for a disk that fills or is read-only;
    with INODES, one that can hold that many files and folders."""
    folder.mkdir(parents=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)


def test_a_disk_turned_read_only_by_an_error_is_named_though_it_says_rw(tmp_path):
    """ext4 mounted `errors=remount-ro` refuses every write after an error but keeps saying
    `rw` to statvfs: workers that died on it were reported with no reason, and their logs, on
    that disk, were empty."""
    from smac_bridge.layout import disk_trouble

    image, folder = tmp_path / "disk.ext4", tmp_path / "disk"
    folder.mkdir()
    with open(image, "wb") as out:
        out.truncate(64 << 20)
    made = subprocess.run(["mkfs.ext4", "-q", str(image)], capture_output=True)
    mounted = made.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop,errors=remount-ro", str(image), str(folder)], capture_output=True
    ).returncode == 0  # fmt: skip
    if not mounted:
        pytest.skip("cannot make and mount an ext4 image here (mkfs.ext4, a loop device, root)")
    try:
        assert disk_trouble(folder) is None
        device = subprocess.run(
            ["findmnt", "-no", "SOURCE", str(folder)], capture_output=True, text=True
        ).stdout.strip()
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"this kernel has no {trigger}")
        trigger.write_text("1")
        assert not os.statvfs(folder).f_flag & os.ST_RDONLY  # it still says rw
        assert disk_trouble(folder) == f"Read-only file system ({folder})"
        assert os.listdir(folder) == ["lost+found"]  # the probe left nothing
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def smac_bridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", *args, "--quiet", "--gpus", "none"],
        cwd=cwd,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("left", [0, 3])
def test_a_gpu_lock_folder_on_a_failing_disk_leaves_the_gpus_unleased(tmp_path, left):
    """A lock folder that could not be made left the GPUs unleased with a warning, but one on a
    disk that filled (or turned read-only) ended the launch with an error: the leases are a
    courtesy to other launches, and the trials can run without them. LEFT: files the disk
    still takes (some slots locked before it fails, and let go)."""
    from smac_bridge.gpus import LOCK_DIR_ENV, claim_worker_gpus

    with tmpfs(tmp_path / "disk", "1m", inodes=40) as disk:
        locks = disk / "locks"
        locks.mkdir(mode=0o700)
        fillers = 0
        with contextlib.suppress(OSError):
            while True:
                (disk / f"fill-{fillers}").touch()
                fillers += 1
        for n in range(left):
            (disk / f"fill-{n}").unlink()
        open_fds = set(os.listdir("/proc/self/fd"))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(LOCK_DIR_ENV, str(locks))
            claimed = claim_worker_gpus(["0", "1"], 2)
        assert claimed.slots == ["0", "1"] and claimed.fds == [] and claimed.busy == {}
        assert claimed.unleased is not None and str(locks) in claimed.unleased
        assert "No space left on device" in claimed.unleased, claimed.unleased
        assert set(os.listdir("/proc/self/fd")) == open_fds  # no lock held or left open
        remount(disk, "ro")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(LOCK_DIR_ENV, str(locks))
            claimed = claim_worker_gpus(["0"], 1)
        assert claimed.slots == ["0"] and claimed.fds == []
        assert claimed.unleased is not None and "Read-only file system" in claimed.unleased


@pytest.mark.slow
def test_a_read_only_output_folder_is_one_clear_error_for_launch_doe_and_resume(tmp_path):
    from test_worker import write_project

    scenario = write_project(tmp_path / "p", budget=3)
    with tmpfs(tmp_path / "disk", "8m") as disk:
        remount(disk, "ro")
        for command in (["launch"], ["doe", "--sample", "2"]):
            done = smac_bridge(*command, str(scenario), "--outdir", str(disk), cwd=scenario.parent)
            assert done.returncode == 1, done.stdout + done.stderr
            assert "Traceback" not in done.stdout + done.stderr
            assert done.stderr.startswith("error: ") and "Read-only file system" in done.stderr
        remount(disk, "rw")
        done = smac_bridge("launch", str(scenario), "--outdir", str(disk), cwd=scenario.parent)
        assert done.returncode == 0, done.stdout + done.stderr
        remount(disk, "ro")
        done = smac_bridge(
            "launch", str(scenario), "--outdir", str(disk), "--resume", cwd=scenario.parent
        )
        assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
        assert "Read-only file system" in done.stderr
        worker = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
        hand = subprocess.run(  # a worker started by hand said it twice
            [*worker, "--outdir", str(disk), "--set", "runcount_limit=6"], cwd=scenario.parent,
            env=smac_bridge_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert hand.returncode == 1 and "Traceback" not in hand.stderr
        assert hand.stderr.count("Read-only file system") == 1, hand.stderr


@pytest.mark.slow
def test_a_disk_full_before_the_launch_began_names_its_file_and_the_launch_starts_again(
    tmp_path,
):
    """The launch said only "No space left on device" and left empty folders, which a
    resume took for a rungroup and ran on one worker instead of the two asked for."""
    from test_worker import write_project

    from smac_bridge.rundata import RunGroup

    scenario = write_project(tmp_path / "p", budget=3)
    with tmpfs(tmp_path / "disk", "1m") as disk:
        filler = disk / "filler"
        with open(filler, "wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        args = ("launch", str(scenario), "--outdir", str(disk), "--parallel", "2")
        full = smac_bridge(*args, cwd=scenario.parent)
        assert full.returncode == 1, full.stdout + full.stderr
        assert full.stderr.startswith(f"error: {disk}/") and "No space left" in full.stderr
        filler.unlink()
        resumed = smac_bridge(*args, "--resume", cwd=scenario.parent)
        assert resumed.returncode == 1 and "nothing to resume" in resumed.stderr
        again = smac_bridge(*args, cwd=scenario.parent)
        assert again.returncode == 0, again.stdout + again.stderr
        assert sorted(w["seed"] for w in RunGroup(disk / "demo").workers()) == [1, 2]


def filling_project(
    project: Path, target: str, algo: str, disk: Path, instances: str | None = None
) -> Path:
    """A scenario in PROJECT whose TARGET (target.py, run by ALGO) fills the DISK its output
    folder is on, when armed; returns the scenario path."""
    project.mkdir()
    (project / "target.py").write_text(target)
    (project / "space.pcs").write_text("x [-5, 10] [2.5]\n")
    scenario = project / "s.txt"
    scenario.write_text(
        f"algo = {algo}\nparamfile = space.pcs\nrun_obj = quality\nruncount_limit = 3\n"
        f"outdir = {disk}\ncheck_sat_consistency = false\n"
        + (f"instance_file = {instances}\n" if instances else "")
    )
    return scenario


FILLING_TARGET = """
import os, sys
armed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "armed")
if os.path.exists(armed):  # the first run fills the disk, as a checkpoint too many would
    os.unlink(armed)
    try:
        with open(sys.argv[1], "wb") as filler:  # the instance: the file to fill the disk with
            while True:
                filler.write(b"x" * 65536)
    except OSError:
        pass
x = float(sys.argv[sys.argv.index("-x") + 1])
print(f"Result of this algorithm run: SAT, 0.1, 0, {x * x}, 1", flush=True)
"""


@pytest.mark.slow
def test_a_plain_algo_whose_output_a_full_disk_lost_blames_no_configuration(tmp_path):
    """A classic target writes its own log: when the disk filled during its run, its result
    line was lost and the run was recorded CRASHED "no line matched", a failure of its
    configuration told to SMAC3. The worker now stops naming the disk, and a resume once
    there is room runs that run again."""
    from smac_bridge.rundata import RunGroup

    project = tmp_path / "p"
    with tmpfs(tmp_path / "disk", "2m") as disk:
        filler = disk / "filler"
        algo = f"{sys.executable} target.py"
        scenario = filling_project(project, FILLING_TARGET, algo, disk, "instances.txt")
        (project / "instances.txt").write_text(f"{filler}\n")
        (project / "armed").touch()
        full = smac_bridge("launch", str(scenario), cwd=project)
        assert full.returncode != 0, full.stdout + full.stderr
        assert "No space left on device" in full.stdout + full.stderr, full.stdout + full.stderr
        assert "Traceback" not in full.stdout + full.stderr
        (group,) = (RunGroup(path) for path in disk.iterdir() if path.is_dir())
        assert [r["status"] for r in group.records()] == []  # no configuration blamed
        filler.unlink()
        resumed = smac_bridge("launch", str(scenario), "--resume", cwd=project)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert [r["status"] for r in group.records()] == ["SAT"] * 3


@pytest.mark.slow
def test_a_plain_algos_own_failure_on_a_nearly_full_disk_is_its_failure(tmp_path):
    """A disk with less than 1 MiB free made a run without a result line a lost one: an
    ImportError on a small volume stopped the worker as a full disk, and every resume too."""
    from smac_bridge.rundata import RunGroup

    project = tmp_path / "p"
    with tmpfs(tmp_path / "disk", "2m") as disk:
        algo = f"{sys.executable} target.py"
        scenario = filling_project(project, "import no_such_module\n", algo, disk)
        ballast = disk / "ballast"  # leaves some 500 KB: room for many a run's files
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        ballast.write_bytes(b"\0" * (free - 500_000))
        once = ("--set", "runcount_limit=1", "--set", "abort_on_first_run_crash=false")
        done = smac_bridge("launch", str(scenario), *once, cwd=project)
        said = done.stdout + done.stderr
        assert "No space left" not in said and "ModuleNotFoundError" in said, said
        (record,) = RunGroup(disk / "s").records()
        assert record["status"] == "CRASHED"


FILLING_SCRIPT = """
import argparse, os, sys, time
from smac_bridge import report
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
x = parser.parse_args().x
quality = x**2
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "received"), "a") as log:
    log.write(f"{x!r}\\n")
armed = os.path.join(here, "armed")
mode, filler = open(armed).read().split() if os.path.exists(armed) else ("", "")
if mode and not (mode == "later" and x == 2.5):  # fills the disk, as a checkpoint too many would
    os.unlink(armed)
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"x" * 65536)
        except OSError:
            pass
    if mode == "report":  # an epoch's report on the full disk, then room again
        report(quality + 1, step=1, partial=True)
        os.unlink(filler)
    elif mode == "line":  # its result printed on the full disk, then room again
        print(quality, flush=True)
        time.sleep(1)
        os.unlink(filler)
        sys.exit(0)
    elif mode == "words":  # a full /dev/shm of its data loader's: not the run's disk
        os.unlink(filler)
        sys.exit("RuntimeError: unable to write to file </torch_1_2>: No space left on device")
    else:  # its checkpoint fails on the disk that stays full: the run's, or its folder's
        # ("later": in a run after the default's, which SMAC3 may not propose again)
        with open(os.path.join(os.path.dirname(filler), "checkpoint"), "wb") as out:
            out.write(b"x" * 65536)
report(quality)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["report", "line", "checkpoint", "error", "words"])
def test_a_wrapped_script_on_a_full_disk_blames_no_configuration(tmp_path, mode):
    """smac_bridge.report() raised on a full disk and the training died: its run was recorded
    UNSAT, a failure of its configuration, which no resume ran again. A result line the disk
    kept out of the run's output made "no result" UNSAT runs, and three of them stopped the
    launch as a broken script; so did a script that failed writing its checkpoint on the
    run's disk or its working folder's. An error that only says so, of a disk that is
    neither (a data loader's full /dev/shm), is the run's own."""
    from smac_bridge.rundata import RunGroup

    with tmpfs(tmp_path / "disk", "2m") as disk:
        # "error": the script's folder on the small disk, the output folder elsewhere
        project, outdir = (
            (disk / "p", tmp_path / "out") if mode == "error" else (tmp_path / "p", disk)
        )
        filler = (project if mode == "error" else disk) / "filler"
        algo = f'smac-bridge wrap --cmd "{sys.executable} target.py"'
        scenario = filling_project(project, FILLING_SCRIPT, algo, outdir)
        (project / "armed").write_text(f"{mode} {filler}")
        first = smac_bridge("launch", str(scenario), cwd=project)
        said = first.stdout + first.stderr
        group = RunGroup(outdir / "s")
        if mode in ("report", "words"):  # the final report's line carried the result
            assert first.returncode == 0, said
            statuses = [r["status"] for r in group.records()]
            assert statuses == ["SAT"] * 3 if mode == "report" else ["UNSAT", "SAT", "SAT"]
            if mode == "report":
                log = group.run("00001").log().read_text()
                assert "smac_bridge.report(): not written:" in log
            return
        assert first.returncode != 0 and "No space left on device" in said, said
        assert "Traceback" not in said and group.records() == []  # no configuration blamed
        filler.unlink(missing_ok=True)  # room again ("error": the script's disk stayed full)
        resumed = smac_bridge("launch", str(scenario), "--resume", cwd=project)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert [r["status"] for r in group.records()] == ["SAT"] * 3


@pytest.mark.slow
def test_a_run_a_full_disk_kept_from_its_record_runs_again_with_its_configuration(tmp_path):
    """A run that ended while the disk was full lost its record, and its slot owed nothing:
    the resume ran a new proposal there, and the configuration of the lost run never ran."""
    from smac_bridge.rundata import RunGroup

    project = tmp_path / "p"
    with tmpfs(tmp_path / "disk", "2m") as disk:
        filler = disk / "filler"
        algo = f'smac-bridge wrap --cmd "{sys.executable} target.py"'
        scenario = filling_project(project, FILLING_SCRIPT, algo, disk)
        (project / "armed").write_text(f"later {filler}")
        first = smac_bridge("launch", str(scenario), cwd=project)
        said = first.stdout + first.stderr
        assert first.returncode != 0 and "No space left on device" in said, said
        group = RunGroup(disk / "s")
        lost_x = float((project / "received").read_text().split()[-1])
        lost_run = f"{len(group.records()) + 1:05d}"
        shown = subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", "status", str(disk), "--json"],
            env=smac_bridge_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        (picture,) = json.loads(shown.stdout)["rungroups"]
        assert picture["to_run_again"] == [lost_run], picture  # its slot owes its trial
        filler.unlink()
        resumed = smac_bridge("launch", str(scenario), "--resume", cwd=project)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        (rerun,) = [r for r in group.records() if r["run_id"] == lost_run]
        assert float(rerun["config"]["x"]) == lost_x, (rerun, lost_x)


@pytest.mark.parametrize("command", [["pcs", "--to", "new"], ["doe", "--design"]])
def test_a_device_given_as_an_input_file_is_refused_and_a_pipe_read(tmp_path, command):
    """`pcs /dev/zero` and `doe --design /dev/zero` read until the memory ran out (4.5 GB in
    5 s); a pipe (`cat x.pcs | smac-bridge pcs /dev/stdin`) ends with its writer, and is read."""
    from test_worker import write_project

    scenario = write_project(tmp_path / "p", budget=2)
    (tmp_path / "design.csv").write_text("x,y\n0.5,7\n")
    what, given = {
        "pcs": ("the PCS file", scenario.parent / "space.pcs"),
        "doe": ("the design", tmp_path / "design.csv"),
    }[command[0]]
    for special in ("/dev/zero", "/dev/stdin"):
        if command[0] == "pcs":
            args = ["pcs", special, *command[1:]]
        else:
            args = ["doe", str(scenario), "--design", special, "--outdir", str(tmp_path / "o")]
            args += ["--gpus", "none", "--quiet"]
        done = subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", *args], input=given.read_text(),
            env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if special == "/dev/zero":
            assert done.returncode == 1, done.stdout + done.stderr
            assert done.stderr == f"error: {special}: {what} is a device, not a file\n"
        else:
            assert done.returncode == 0, done.stdout + done.stderr


def test_an_output_file_given_as_a_link_is_written_through_it(finished_launch, tmp_path):
    """A table written onto a symbolic link (`--csv /dev/stdout`, a link into a shared folder)
    replaced the link with a file of its own; it writes through the link, as before."""
    target = tmp_path / "shared" / "runs.csv"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "runs.csv"
    link.symlink_to(target)
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "results", str(finished_launch), "--csv",
         str(link)], env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and target.read_text().startswith("rungroup,")


def test_an_output_file_that_is_a_pipe_is_written_into_not_replaced(finished_launch, tmp_path):
    """`report --html` renamed its page over the path given: a FIFO (or /dev/stdout, a link
    to the terminal) was replaced by a regular file, and a device such as /dev/full too."""
    import threading

    fifo = tmp_path / "page"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "report", str(finished_launch), "--html",
         str(fifo)], env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    reader.join(30)  # a FIFO replaced leaves the reader waiting for ever
    assert done.returncode == 0, done.stderr
    assert fifo.is_fifo() and read and read[0].startswith(b"<!DOCTYPE html>")


@pytest.mark.slow
def test_a_table_or_a_pcs_file_written_onto_a_full_disk_names_it_and_leaves_nothing(
    finished_launch, tmp_path
):
    """`results --csv`, `pcs -o` and `init` said only "No space left on device", and left an
    empty file behind (which init then refused to overwrite)."""
    with tmpfs(tmp_path / "disk", "1m") as disk:
        with open(disk / "filler", "wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        pcs = REPO / "pcs" / "quickstart.pcs"
        for args, made in (
            (["results", str(finished_launch), "--csv", str(disk / "r.csv")], disk / "r.csv"),
            (["pcs", str(pcs), "--to", "json", "-o", str(disk / "x.json")], disk / "x.json"),
            (["init", "t", "--script", "t.py", "--param", "x [0, 1] [0.5]", "--dir", str(disk)],
             disk / "pcs" / "t.pcs"),
        ):  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-m", "smac_bridge.cli", *args],
                env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 1, done.stdout + done.stderr
            assert f"{made}: No space left on device" in done.stderr, done.stderr
            assert not made.exists()


def test_a_full_disk_cleanup_of_a_lost_multi_fidelity_trial_still_owes_it(tmp_path):
    """Cleaning up after a dead worker first kept the units its trial had trained, whose
    write a full disk refused: the cleanup raised, and the slot was neither owed nor freed."""
    from smac_bridge import recovery
    from smac_bridge.records import RunningMarker
    from smac_bridge.rundata import RunGroup, hostname

    with tmpfs(tmp_path / "disk", "1m") as disk:
        group = RunGroup(disk / "g")
        group.create()
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        run_id = group.claim_slot(10, 2)
        assert run_id is not None
        claim = group.layout.slot(run_id)
        claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": int(dead.stdout)}))
        marker = RunningMarker(
            run_id=run_id, worker=2, config={"x": 0.5}, instance="", seed=0, smac_seed=3,
            budget=3.0, trained_budget=3.0, continued_from=None, started=1.0,
            run_dir=f"runs/{run_id}", log=f"runs/{run_id}/algo_output.log", host=hostname(),
            pid=int(dead.stdout), pid_start="0", trial_pid=None, marker=None, queued=False,
        )  # fmt: skip
        group.mark_running(marker)
        group.run(run_id).path.mkdir(parents=True)
        group.run(run_id).algo_log.write_text("epoch 1\nepoch 2\n")
        group.layout.units.mkdir()
        for number in (1, 2, 3):
            group.layout.unit(number).write_text(run_id)
        steps = [json.dumps({"step": step, "quality": 0.5}) + "\n" for step in (1, 2)]
        group.run(run_id).progress.write_text("".join(steps))
        with open(disk / "filler", "wb", buffering=0) as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 4096)
        assert recovery.clean_dead_workers(group) == [run_id]
        assert group.owing() == [run_id] and group.claimed() == []


@pytest.mark.slow
def test_workers_that_run_out_of_inodes_say_so(tmp_path):
    """A disk with room but no free inode (many small files) killed the workers with only
    "worker 1 died (exit code 1)" on the console: the reason sat in the worker's log."""
    from test_worker import write_project

    scenario = write_project(tmp_path / "p", budget=40, sleep=0.05)
    with tmpfs(tmp_path / "disk", "8m", inodes=90) as disk:
        args = ("launch", str(scenario), "--outdir", str(disk), "--parallel", "2")
        done = smac_bridge(*args, cwd=scenario.parent)
        assert done.returncode == 1, done.stdout + done.stderr
        died = [line for line in done.stdout.splitlines() if re.match(r"worker \d+ died", line)]
        assert died and all("No space left on device" in line for line in died), done.stdout
        (ended,) = [line for line in done.stdout.splitlines() if line.startswith("ended: ")]
        assert "No space left on device" in ended, done.stdout  # the summary says why too
        for line in died:  # an empty log, all a full disk let a worker write, is not named
            (log,) = disk.glob(f"*/workers/{line.split()[1]}.log")
            assert ("; log: " in line) == (log.stat().st_size > 0), (line, log.stat())


def test_best_copied_onto_a_full_disk_leaves_nothing_and_can_be_tried_again(
    finished_launch, cli, tmp_path
):
    """The copy printed a raw Python list of shutil's errors and left a cut-off model file
    that passed for the best run's; a second try, once there was room, found the folder not
    empty."""
    from smac_bridge.rundata import RunGroup

    (group,) = [RunGroup(p) for p in finished_launch.iterdir() if (p / "launch.json").exists()]
    best = cli("best", str(group.path), "--json")
    artifacts = Path(json.loads(best.stdout)["artifacts"])
    copy = tmp_path / "copy"
    shutil.copytree(group.path, copy / group.path.name)  # a big model, in a copy of the group
    run_id = artifacts.parent.name
    (copy / group.path.name / "runs" / run_id / "artifacts" / "model.bin").write_bytes(
        b"\1" * 600_000
    )
    with tmpfs(tmp_path / "disk", "512k") as disk:
        dest = disk / "best"
        done = cli("best", str(copy / group.path.name), "--copy-to", str(dest))
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert "No space left on device" in done.stderr and "[(" not in done.stderr
        assert not dest.exists() and list(disk.iterdir()) == []
        into = cli("best", str(copy / group.path.name), "--copy-to", str(disk))  # itself, empty
        assert into.returncode == 1 and "No space left on device" in into.stderr, into.stderr
        assert list(disk.iterdir()) == []  # emptied again: a second try is not refused
        remount(disk, "size=4m")
        again = cli("best", str(copy / group.path.name), "--copy-to", str(dest))
        assert again.returncode == 0, again.stderr
        assert (dest / "model.bin").stat().st_size == 600_000


@pytest.mark.slow
def test_a_disk_that_fills_mid_launch_loses_nothing_and_resumes(tmp_path):
    from test_worker import write_project

    from smac_bridge.rundata import RunGroup

    scenario = write_project(tmp_path / "p", budget=30, sleep=0.05)
    with tmpfs(tmp_path / "disk", "2m") as disk:
        ballast = disk / "ballast"  # leaves room for a few runs only
        done = smac_bridge("launch", str(scenario), "--outdir", str(disk), cwd=scenario.parent)
        assert done.returncode == 0, done.stdout + done.stderr  # fits without the ballast
        group = RunGroup(disk / "demo")
        first = {r["run_id"]: r for r in group.records()}
        subprocess.run(["rm", "-rf", str(group.path)], check=True)
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        ballast.write_bytes(b"\0" * max(0, free - 200_000))
        full = smac_bridge(
            "launch", str(scenario), "--outdir", str(disk), "--parallel", "2", cwd=scenario.parent
        )
        assert full.returncode != 0, full.stdout + full.stderr
        assert "Traceback" not in full.stdout and "No space left on device" in full.stdout
        for line in full.stdout.splitlines():  # an empty log is not named as where to look
            if died := re.match(r"worker (\d+) died", line):
                log_size = group.layout.worker_log(int(died[1])).stat().st_size
                assert ("; log: " in line) == (log_size > 0), (line, log_size)
        before = {r["run_id"]: r for r in group.records()}
        assert len(before) < 30
        ballast.unlink()
        resumed = smac_bridge(
            "launch", str(scenario), "--outdir", str(disk), "--resume", cwd=scenario.parent
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        after = {r["run_id"]: r for r in group.records()}
        assert sorted(after) == [f"{n:05d}" for n in range(1, 31)]
        assert all(after[run_id] == record for run_id, record in before.items())
        assert first  # the same launch fitted on the empty disk


SET_ASIDE_AT = """
import sys, time
from pathlib import Path
from smac_bridge.recovery import set_aside_torn_line
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
set_aside_torn_line(Path(sys.argv[1]))
"""


def test_a_torn_line_two_cleanups_meet_is_set_aside_once(tmp_path):
    """The launcher and a worker can both clean up after the same dead worker: both copied
    the torn line into the .torn file (27 times in 40 tries), and the one that truncated last
    could have cut a record appended in between."""
    records = tmp_path / "runs-1.jsonl"
    for attempt in range(6):
        records.write_bytes(
            b'{"run_id": "00001"}\n' * 5 + b'{"run_id": "000' + bytes([48 + attempt])
        )
        at = str(time.time() + 1.0)  # both start together, after their imports
        cleanups = [
            subprocess.Popen([sys.executable, "-c", SET_ASIDE_AT, str(records), at],
                             env=smac_bridge_env(), stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        said = [cleanup.communicate(timeout=60)[1] for cleanup in cleanups]
        assert sum("is kept in" in text for text in said) == 1, said
        assert records.read_bytes() == b'{"run_id": "00001"}\n' * 5
    kept = (tmp_path / "runs-1.jsonl.torn").read_bytes().splitlines()
    assert kept == [b'{"run_id": "000' + bytes([48 + n]) for n in range(6)]


def test_a_torn_line_the_full_disk_cannot_take_is_ended_in_place_and_no_copy_is_left(tmp_path):
    from smac_bridge.recovery import set_aside_torn_line

    with tmpfs(tmp_path / "disk", "64k") as disk:
        records = disk / "runs-1.jsonl"
        records.write_bytes(
            b'{"run_id": "00001"}\n' + b'{"run_id": "00002", "extra": "' + b"x" * 4000
        )
        ballast = disk / "ballast"
        with open(ballast, "wb", buffering=0) as fill, contextlib.suppress(OSError):
            while True:
                fill.write(b"\0" * 4096)
        set_aside_torn_line(records)
        assert not (disk / "runs-1.jsonl.torn").exists()  # no empty or partial copy
        assert records.read_bytes().startswith(b'{"run_id": "00001"}\n{"run_id": "00002"')
        ballast.unlink()
