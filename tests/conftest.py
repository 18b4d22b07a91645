"""Shared test helpers: run the real `smac-bridge` command as a user would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest
from hypothesis import settings

from smac_bridge.rundata import RunGroup

REPO = Path(__file__).resolve().parent.parent

# Tests assert behaviour, never timings (benchmarks/ measures those): no per-example deadline,
# which a loaded CI machine trips with a flaky "Unreliable test timings" error.
settings.register_profile("smac-bridge", deadline=None)
settings.load_profile("smac-bridge")


def smac_bridge_env() -> dict[str, str]:
    """The environment with this interpreter's bin folder first, as an activated venv has."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


IN_A_PID_NAMESPACE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
"""A command's prefix that runs it in a PID namespace of its own, as a container does; it dies
with the `unshare` process."""


def can_make_a_pid_namespace() -> bool:
    """Whether IN_A_PID_NAMESPACE works here (it needs root, or a user namespace)."""
    if not shutil.which("unshare"):
        return False
    made = subprocess.run([*IN_A_PID_NAMESPACE, "true"], capture_output=True, check=False)
    return made.returncode == 0


def default_sigint() -> None:
    """Ctrl-C as in a terminal's foreground job (a subprocess's preexec_fn): a test suite
    started as a background job of a non-interactive shell inherits SIGINT ignored, and
    Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Commands that only read files and print: run in this process through click's CliRunner, a
# new interpreter each time would cost more than the command. The others (launch, doe,
# worker, wrap, dashboard, anything that follows or watches) start processes, install signal
# handlers or run on: they get a subprocess, as a user's shell would.
IN_PROCESS = {"check", "pcs", "init", "results", "status", "best", "plot", "report", "tail", "stop"}


def run_cli(
    *args: str, cwd: Path | str = REPO, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run `smac-bridge ARGS` as a user would and capture its output as text."""
    if args and args[0] in IN_PROCESS and not {"--watch", "--follow", "-f"} & set(args):
        return run_in_process(args, Path(cwd))
    return subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", *args],
        cwd=cwd,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_in_process(args: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess:
    """`smac-bridge ARGS` through click's CliRunner, in CWD; an unexpected exception's
    traceback lands in stderr, as it would from a subprocess."""
    from click.testing import CliRunner

    from smac_bridge.commands import cli

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), prog_name="smac-bridge")
    finally:
        os.chdir(previous)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, stderr)


@pytest.fixture
def cli():
    return run_cli


# ---- real launches of a Branin target, shared by the results/monitor/report tests ----------

# Branin like scripts/quickstart_target.py, plus what those commands show: a test error and an
# artifact per run, a log with bytes that are not UTF-8, run 00003 infeasible (UNSAT), one
# run (--slow-run) that prints epochs for 4 minutes so that it can be watched and stopped, and
# one run (--held-run) that waits until the test creates the file `release` beside the target;
# with --partner, run 00001 waits until a second run is running, so that both workers of a
# launch run trials however slowly the second one starts.
BRANIN_TARGET = """
import argparse, math, os, sys, time
from pathlib import Path
from smac_bridge import report

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--y", type=float, required=True)
parser.add_argument("--sleep", type=float, default=0.05)
parser.add_argument("--slow-run", default="")
parser.add_argument("--held-run", default="")
parser.add_argument("--partner", action="store_true")
args = parser.parse_args()
run_dir = Path(os.environ["SMAC_BRIDGE_RUN_DIR"])
run_id = run_dir.name
sys.stdout.buffer.write(b"log of run " + run_id.encode() + b": \\xff\\xfe not UTF-8\\n")
sys.stdout.flush()
if run_id == args.slow_run:  # a partial quality better than any Branin value
    for epoch in range(2400):
        print(f"epoch {epoch}", flush=True)
        report(0.001, step=epoch, partial=True)
        time.sleep(0.1)
if args.partner and run_id == "00001":
    deadline = time.monotonic() + 60
    while len(list((run_dir.parents[1] / "running").glob("*.json"))) < 2:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
if run_id in args.held_run.split(","):
    release = Path(__file__).with_name("release")
    deadline = time.monotonic() + 120
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
if run_id == "00003":
    report(status="UNSAT")
    sys.exit(0)
time.sleep(args.sleep)
b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
value = (args.y - b * args.x**2 + c * args.x - 6) ** 2 + 10 * (1 - t) * math.cos(args.x) + 10
artifacts = Path(os.environ["SMAC_BRIDGE_ARTIFACTS"])
artifacts.mkdir(parents=True, exist_ok=True)
(artifacts / "model.txt").write_text(f"x={args.x} y={args.y}\\n")
report(value, test_error=value * 1.1 + 0.01)
"""


def branin_scenario(
    folder: Path, runs: int, slow_run: str = "", held_run: str = "", partner: bool = False
) -> Path:
    """A scenario in FOLDER that tunes BRANIN_TARGET with RUNS runs; returns its path.
    HELD_RUN (run ids, comma-separated) waits until FOLDER/release exists (at most 2
    minutes); PARTNER makes run 00001 wait for a second running run (at most a minute)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "branin_target.py"
    target.write_text(BRANIN_TARGET, encoding="utf-8")
    cmd = f"{sys.executable} {target} --sleep 0.05"  # the algo line's quotes group the --cmd
    if slow_run:
        cmd += f" --slow-run {slow_run}"
    if held_run:
        cmd += f" --held-run {held_run}"
    if partner:
        cmd += " --partner"
    scenario = folder / "branin.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{cmd}"\n'
        f"execdir = {folder}\n"
        f"paramfile = {REPO / 'pcs' / 'quickstart.pcs'}\n"
        "run_obj = quality\ndeterministic = true\ncutoff_time = 300\n"
        f"runcount_limit = {runs}\nshared-model-mode = true\ncheck-sat-consistency = false\n",
        encoding="utf-8",
    )
    return scenario


def group_made_by_hand(
    root: Path, name: str, pcs: str, wrap_options: str = "", runs: int = 5
) -> RunGroup:
    """An empty rungroup NAME in ROOT/out of a RUNS-run scenario over the space PCS, whose
    algo is `smac-bridge wrap` with WRAP_OPTIONS: the files the views read its setup from."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "space.pcs").write_text(pcs)
    (root / "task.txt").write_text(
        f'algo = smac-bridge wrap --cmd "python t.py"{wrap_options}\n'
        f"paramfile = {root / 'space.pcs'}\nrun_obj = quality\nruncount_limit = {runs}\n"
    )
    group = RunGroup(root / "out" / name)
    group.create()
    group.write_launch_info({"scenario": str(root / "task.txt"), "overrides": {}, "budget": runs})
    return group


def start_launch(
    scenario: Path, outdir: Path, parallel: int, more: Sequence[str] = ()
) -> subprocess.Popen:
    """`smac-bridge launch SCENARIO --outdir OUTDIR --parallel N --quiet MORE...` in the
    background."""
    return subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), *more]
        + ["--outdir", str(outdir), "--parallel", str(parallel), "--quiet", "--gpus", "none"],
        cwd=scenario.parent,
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="session")
def finished_launch(tmp_path_factory) -> Path:
    """The outdir of one finished launch: 8 runs of the Branin target by 2 workers. Read-only."""
    folder = tmp_path_factory.mktemp("finished_launch")
    outdir = folder / "out"
    launch = start_launch(branin_scenario(folder, runs=8, partner=True), outdir, parallel=2)
    output, _ = launch.communicate(timeout=300)
    assert launch.returncode == 0, output
    return outdir


def assert_no_survivors(run_dir: Path) -> None:
    """No process whose pid a test script wrote to RUN_DIR/pids.txt is still alive."""
    pids_file = run_dir / "pids.txt"
    pids = [int(p) for p in pids_file.read_text().split()] if pids_file.exists() else []
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    assert not alive, f"processes of the run still alive: {alive}"
