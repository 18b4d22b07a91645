"""Trials on a real Dask cluster: a scheduler and two workers as subprocesses, real launches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import smac_bridge_env

from smac_bridge.executors import TrialSpec
from smac_bridge.executors.dask import DaskExecutor, deliver
from smac_bridge.rundata import RunGroup, pid_alive
from smac_bridge.supervisor import Limits

pytestmark = pytest.mark.slow

# A classic target: prints its own result line, and notes its pid, parent pid and host in
# `<execdir>/trials/<pid>.json`, so the test can tell in which process tree it ran.
TARGET = textwrap.dedent(
    """
    import json, os, socket, sys, time
    os.makedirs("trials", exist_ok=True)
    with open(os.path.join("trials", f"{os.getpid()}.json"), "w") as note:
        json.dump({"pid": os.getpid(), "ppid": os.getppid(), "host": socket.gethostname(),
                   "run_dir": os.environ["SMAC_BRIDGE_RUN_DIR"]}, note)
    params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
    x = float(params["-x"])
    print(f"training with x={x}", flush=True)
    time.sleep(float(open("sleep.txt").read()))
    print(f"Result of this algorithm run: SAT, 0.01, 0, {(x - 1) ** 2}, {sys.argv[5]}")
    """
)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-thread workers; yields (address, worker pids)."""
    folder = tmp_path_factory.mktemp("dask")
    file = folder / "scheduler.json"
    common = {"cwd": folder, "env": smac_bridge_env(), "stdin": subprocess.DEVNULL}
    processes = []
    log = open(folder / "cluster.log", "ab")  # noqa: SIM115 - closed at teardown
    try:
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0"]
                + ["--dashboard-address", ":0", "--scheduler-file", str(file)],
                stdout=log,
                stderr=log,
                **common,
            )
        )
        wait_for(lambda: file.exists() and file.stat().st_size > 0)
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "1"]
                    + ["--no-nanny", "--no-dashboard", "--scheduler-file", str(file)],
                    stdout=log,
                    stderr=log,
                    **common,
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(file), timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
            address = client.scheduler.address
        yield address, {process.pid for process in processes[1:]}  # --no-nanny: the workers
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def write_project(root: Path, budget: int, sleep: float) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "target.py").write_text(TARGET)
    (root / "sleep.txt").write_text(str(sleep))
    (root / "space.pcs").write_text("x [-5, 10] [2.5]\n")
    scenario = root / "demo.txt"
    scenario.write_text(
        f"algo = {sys.executable} target.py\nexecdir = {root}\nparamfile = space.pcs\n"
        f"run_obj = quality\ndeterministic = true\nruncount_limit = {budget}\n"
        f"outdir = {root / 'out'}\nshared-model-mode = true\n"
    )
    return scenario


def start_launch(scenario: Path, address: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", "2", "--gpus", "none", "--dask-scheduler", address],
        cwd=scenario.parent,
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def trials(root: Path) -> list[dict]:
    folder = root / "trials"
    notes = folder.glob("*.json") if folder.exists() else []
    return [json.loads(path.read_text()) for path in notes if path.stat().st_size]


def test_a_launch_runs_its_trials_in_the_dask_workers(tmp_path, cluster):
    address, dask_pids = cluster
    scenario = write_project(tmp_path, budget=6, sleep=0.05)
    launch = start_launch(scenario, address)
    output, _ = launch.communicate(timeout=120)
    assert launch.returncode == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.records()
    assert sorted(r["run_id"] for r in records) == [f"{n:05d}" for n in range(1, 7)]
    assert group.running() == [] and {w["state"] for w in group.workers()} == {"done"}
    notes = trials(tmp_path)
    assert len(notes) == 6
    assert {note["ppid"] for note in notes} <= dask_pids  # children of the Dask workers
    smac_workers = {w["pid"] for w in group.workers()}
    assert not smac_workers & {note["ppid"] for note in notes}
    for record in records:
        x = record["config"]["x"]
        assert record["status"] == "SAT" and record["quality"] == pytest.approx((x - 1) ** 2)
        assert record["exit_code"] == 0 and record["wall_time"] > 0
        log = group.run(record["run_id"]).algo_log.read_text()
        assert "training with" in log and "Result of this algorithm run: SAT" in log


def test_sigint_stops_the_remote_trials_and_exits_130(tmp_path, cluster):
    address, _ = cluster
    scenario = write_project(tmp_path, budget=6, sleep=60)
    launch = start_launch(scenario, address)
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(trials(tmp_path)) == 2 and len(group.running()) == 2, timeout=60)
    launch.send_signal(signal.SIGINT)
    output, _ = launch.communicate(timeout=60)
    assert launch.returncode == 130, output
    assert not any(pid_alive(note["pid"]) for note in trials(tmp_path))
    assert group.records() == [] and group.claimed() == [] and group.running() == []
    assert {w["state"] for w in group.workers()} == {"stopped"}
    for note in trials(tmp_path):  # the stop file the wrapper would poll for
        assert (Path(note["run_dir"]) / "stop-requested").exists()


def test_files_come_back_where_the_run_dir_is_not_shared(tmp_path, cluster):
    """A trial's logs come back as bytes; written here only where the local file is missing
    or empty, which is how a run directory on a disk of another host looks."""
    address, _ = cluster
    run_dir = tmp_path / "runs" / "00001"
    run_dir.mkdir(parents=True)
    command = [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    spec = TrialSpec(
        command,
        cwd=tmp_path,
        env=dict(os.environ),
        run_dir=run_dir,
        log_path=run_dir / "algo_output.log",
        stderr_path=run_dir / "algo_stderr.log",
        limits=Limits(),
    )
    executor = DaskExecutor(address)
    try:
        handle = executor.start(spec)
        outcome = handle.wait()
    finally:
        executor.close()
    assert outcome.exit_code == 0 and handle.start_error is None and handle.result is not None
    files = handle.result.files
    assert files == {"algo_output.log": b"out\n", "algo_stderr.log": b"err\n"}
    spec.log_path.unlink()  # as if the trial had run on another host's disk
    spec.stderr_path.write_bytes(b"")
    (run_dir / "result.json").write_text("{}")  # a file that is here is kept
    deliver(run_dir, {**files, "result.json": b'{"status": "SAT"}'})
    assert spec.log_path.read_bytes() == b"out\n" and spec.stderr_path.read_bytes() == b"err\n"
    assert (run_dir / "result.json").read_text() == "{}"
