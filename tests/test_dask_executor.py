"""Trials on a real Dask cluster: a scheduler and two workers as subprocesses on 127.0.0.1,
real launches; and the faults a cluster has: a worker killed during a trial, a restarted
scheduler."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, run_cli, smac_bridge_env

from smac_bridge import monitor
from smac_bridge.executors import TrialSpec
from smac_bridge.executors.dask import DaskExecutor, check_scheduler, deliver
from smac_bridge.rundata import RunGroup, pid_alive
from smac_bridge.supervisor import Limits

pytestmark = pytest.mark.slow

# A classic target: prints its own result line, and notes its pid, the pid of the process that
# supervises it (the parent of its guard) and its host in `<execdir>/trials/<pid>.json`, so the
# test can tell in which process tree it ran.
TARGET = textwrap.dedent(
    """
    import json, os, socket, sys, time
    def parent(pid):
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    os.makedirs("trials", exist_ok=True)
    with open(os.path.join("trials", f"{os.getpid()}.json"), "w") as note:
        json.dump({"pid": os.getpid(), "supervisor": parent(os.getppid()),
                   "host": socket.gethostname(), "run_dir": os.environ["SMAC_BRIDGE_RUN_DIR"],
                   "time": time.time()}, note)
    params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
    if os.path.exists("last-words.txt"):  # dies slowly, and says so on stdout, as a wrapper does
        import signal
        def last_words(*_):
            time.sleep(2)
            print(f"Result of this algorithm run: UNSAT, 1, 0, 1e9, {sys.argv[5]}", flush=True)
            sys.exit(1)
        signal.signal(signal.SIGTERM, last_words)
    x = float(params["-x"])
    print(f"training with x={x}", flush=True)
    time.sleep(float(open("sleep.txt").read()))
    deadline = time.time() + 120
    while os.path.exists("hold") and time.time() < deadline:  # until the test lets it end
        time.sleep(0.05)
    print(f"Result of this algorithm run: SAT, 0.01, 0, {(x - 1) ** 2}, {sys.argv[5]}")
    """
)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def wait_for_value(value, timeout: float = 30.0):
    """The first truthy result of `value()`."""
    deadline = time.monotonic() + timeout
    while not (found := value()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A scheduler and single-thread workers (`--no-nanny`, so their pids run the trials) as
    subprocesses listening on 127.0.0.1 only; `stop()` ends every process it started."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port
        self.file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.log = open(folder / "cluster.log", "ab")  # noqa: SIM115 - closed by stop()

    def _start(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            cwd=self.folder,
            env={**smac_bridge_env(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        self.processes.append(process)
        return process

    def start_scheduler(self, allowed_failures: int = 3) -> str:
        """Start the scheduler (on `port`, so that a restart keeps the address); its address.
        A trial is lost (KilledWorker) once it ran on more than ALLOWED_FAILURES workers that
        died."""
        self.file.unlink(missing_ok=True)
        self.scheduler = self._start(
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(self.file)],
            {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures)},
        )
        wait_for(lambda: self.file.exists() and self.file.stat().st_size > 0, timeout=120)
        return json.loads(self.file.read_text())["address"]

    def start_workers(self, count: int, env: dict[str, str] | None = None) -> None:
        for _ in range(count):
            self.workers.append(
                self._start(
                    ["distributed.cli.dask_worker", "--nthreads", "1", "--no-nanny"]
                    + ["--no-dashboard", "--host", "127.0.0.1", "--scheduler-file", str(self.file)],
                    env,
                )
            )
        from distributed import Client

        alive = sum(w.poll() is None for w in self.workers)
        # generous: each dask worker is a new interpreter importing distributed, maybe beside
        # a live launch on a loaded machine
        with Client(scheduler_file=str(self.file), timeout=120) as client:
            client.wait_for_workers(alive, timeout=120)

    def worker_pids(self) -> set[int]:
        return {w.pid for w in self.workers}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-thread workers; yields (address, worker pids)."""
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        address = running.start_scheduler()
        running.start_workers(2)
        yield address, running.worker_pids()
    finally:
        running.stop()


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


def start_launch(
    scenario: Path, address: str, parallel: int = 2, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """ENV: variables set on top of the test's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", str(parallel), "--gpus", "none", "--dask-scheduler", address],
        cwd=scenario.parent,
        env=smac_bridge_env() | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def trials(root: Path) -> list[dict]:
    folder = root / "trials"
    notes = folder.glob("*.json") if folder.exists() else []
    return [json.loads(path.read_text()) for path in notes if path.stat().st_size]


@pytest.mark.parametrize(("setting", "seconds"), [(None, 30.0), ("10s", 10.0), ("2m", 120.0)])
def test_the_wait_for_a_scheduler_is_dasks_own_connect_timeout(setting, seconds):
    """A user sets Dask's `distributed.comm.timeouts.connect` once (here through its
    environment variable), and smac-bridge's clients wait that long, not a number of their own."""
    env = smac_bridge_env()
    env.pop("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", None)
    if setting is not None:
        env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = setting
    code = "from smac_bridge.executors.dask import connect_timeout; print(connect_timeout())"
    said = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert float(said.stdout) == seconds


@pytest.mark.parametrize("setting", ["abc", "-5s", "0"])
def test_a_connect_timeout_that_is_no_time_stops_the_launch_before_it_starts(tmp_path, setting):
    """Every worker died on its first trial with a traceback (KeyError: 'Invalid time unit'),
    leaving a rungroup that a resume would fail on the same way."""
    scenario = write_project(tmp_path, budget=2, sleep=0.05)
    bad = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": setting}
    launch = start_launch(scenario, "tcp://127.0.0.1:1", parallel=1, env=bad)
    output, _ = launch.communicate(timeout=120)
    assert launch.returncode == 1, output
    said = " ".join(output.split())
    assert f"distributed.comm.timeouts.connect is {setting} (from" in said, output
    assert "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT" in said and "Traceback" not in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:1", "", "127.0.0.1:8786x", "http://x:8787", "tcp://127.0.0.1"]
)
def test_a_scheduler_that_does_not_answer_stops_the_launch_before_it_starts(tmp_path, address):
    """A typo in the address: one error naming it at once, not workers dying half a minute
    later with the reason in their logs, and no rungroup that only --resume would continue."""
    scenario = write_project(tmp_path, budget=2, sleep=0.05)
    launch = start_launch(scenario, address, parallel=1)
    output, _ = launch.communicate(timeout=120)
    assert launch.returncode == 1, output
    assert "--dask-scheduler" in output and address in output
    if address.endswith("x"):  # a malformed port is said at once; Dask timed out after 20 s
        assert "port '8786x' is no number" in output
    if address == "tcp://127.0.0.1":  # as a port left out, at once
        assert "no port; expected the address of a Dask scheduler" in " ".join(output.split())
    if address.startswith("http"):  # the dashboard's: said at once, not after 20 s
        assert "a web address (the dashboard's?)" in " ".join(output.split())
    assert not (tmp_path / "out").exists()


BLOCKS_SMAC_BRIDGE = "import sys\nsys.modules['smac_bridge'] = None  # import fails\n"


def test_a_cluster_whose_workers_lack_smac_bridge_stops_the_launch_before_it_starts(tmp_path):
    """A Dask worker started from another Python (a Slurm job's `python` outside the venv)
    died on unpacking each trial's task, and the launch waited for good, saying nothing."""
    running = Cluster(tmp_path / "dask")
    try:
        address = running.start_scheduler()
        assert check_scheduler(address) == [
            f"the Dask cluster at {address} has no worker now: the trials wait for one (an"
            " adaptive cluster starts workers as they queue)"
        ]
        running.start_workers(1)
        assert check_scheduler(address) == []
        os.kill(running.workers[0].pid, signal.SIGSTOP)  # Slurm's `scontrol suspend`
        try:  # one worker that does not answer: said, not taken for a scheduler that is gone
            (said,) = check_scheduler(address)
        finally:
            os.kill(running.workers[0].pid, signal.SIGCONT)
        assert said.startswith("1 of 1 Dask workers at ") and "did not answer within" in said
        (tmp_path / "block").mkdir()
        (tmp_path / "block" / "sitecustomize.py").write_text(BLOCKS_SMAC_BRIDGE)
        running.start_workers(1, env={"PYTHONPATH": str(tmp_path / "block")})
        scenario = write_project(tmp_path, budget=2, sleep=0.05)
        launch = start_launch(scenario, address, parallel=1)
        output, _ = launch.communicate(timeout=120)
        said = " ".join(output.split())
        assert launch.returncode == 1, output
        assert "1 of 2 Dask workers cannot run a trial: tcp://127.0.0.1:" in said, said
        assert "cannot import smac_bridge (ModuleNotFoundError" in said, said
        assert not (tmp_path / "out").exists()
        assert all(worker.poll() is None for worker in running.workers)  # none was stopped
    finally:
        running.stop()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", ""])
def test_a_worker_started_by_hand_refuses_a_scheduler_that_does_not_answer(tmp_path, address):
    """As a launch does: before it creates the rungroup's folders, and an empty address does
    not run the trials here."""
    scenario = write_project(tmp_path, budget=2, sleep=0.05)
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
    argv += ["--dask-scheduler", address]
    done = subprocess.run(
        argv, cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Dask scheduler" in done.stderr and address in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_worker_started_by_hand_says_its_gpu_does_not_apply_on_dask(tmp_path, cluster):
    """Its heartbeat named the GPU while the trials used their Dask worker's."""
    address, _ = cluster
    scenario = write_project(tmp_path, budget=1, sleep=0.05)
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
    argv += ["--gpu", "3", "--dask-scheduler", address]
    done = subprocess.run(
        argv, cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "warning: --gpu does not apply with --dask-scheduler" in done.stderr
    group = RunGroup(tmp_path / "out" / "demo")
    assert group.worker(1)["gpu"] in (None, "")
    assert group.launch_info()["dask_scheduler"] == address  # the first worker's cluster
    # `--gpu none` is warned of too; a worker that joins without --dask-scheduler goes on on
    # the rungroup's cluster, and says so (it ran its trials on its own host)
    joined = argv[:6] + ["2", "--gpu", "none", "--set", "runcount_limit=2"]
    done = subprocess.run(
        joined, cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"worker 2: on the launch's Dask cluster {address}" in done.stderr
    assert "warning: --gpu does not apply with --dask-scheduler" in done.stderr
    assert len(group.records()) == 2


def test_a_launch_runs_its_trials_in_the_dask_workers(tmp_path, cluster):
    address, dask_pids = cluster
    scenario = write_project(tmp_path, budget=6, sleep=0.05)
    launch = start_launch(scenario, address)
    output, _ = launch.communicate(timeout=120)
    assert launch.returncode == 0, output
    assert "worker(s) now for" not in output  # two Dask workers for two trials at once
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.records()
    assert sorted(r["run_id"] for r in records) == [f"{n:05d}" for n in range(1, 7)]
    assert group.running() == [] and {w["state"] for w in group.workers()} == {"done"}
    notes = trials(tmp_path)
    assert len(notes) == 6
    assert {note["supervisor"] for note in notes} <= dask_pids  # in the Dask workers' trees
    smac_workers = {w["pid"] for w in group.workers()}
    assert not smac_workers & {note["supervisor"] for note in notes}
    for record in records:
        x = record["config"]["x"]
        assert record["status"] == "SAT" and record["quality"] == pytest.approx((x - 1) ** 2)
        assert record["exit_code"] == 0 and record["wall_time"] > 0
        log = group.run(record["run_id"]).algo_log.read_text()
        assert "training with" in log and "Result of this algorithm run: SAT" in log


def test_a_trial_waiting_for_a_free_dask_worker_is_queued_not_running(tmp_path, cluster):
    """Three workers, two single-thread Dask workers: a trial waits in the cluster's queue
    (for hours, in a busy Slurm queue). `status` showed it running since its submission;
    it is queued until it begins, and its run's start is when it began. The launch warns of
    it at its start."""
    address, _ = cluster
    scenario = write_project(tmp_path, budget=3, sleep=0.5)
    (tmp_path / "hold").write_text("")  # both Dask workers stay busy, however slowly all start
    launch = start_launch(scenario, address, parallel=3)
    group = RunGroup(tmp_path / "out" / "demo")

    seen: list[dict] = []

    def one_queued() -> bool:
        runs = monitor.group_status(group)["running"]
        if sorted(run["state"] for run in runs) != ["queued", "running", "running"]:
            return False
        seen.extend(run for run in runs if run["state"] == "queued")
        return True

    try:
        wait_for(one_queued, timeout=120)
        waiting = seen[0]
        assert waiting["elapsed"] is None
        shown = run_cli("status", str(group.path)).stdout
        assert "2 running, 1 queued on the cluster" in shown and "(queued)" in shown, shown
        time.sleep(2.5)
    finally:
        (tmp_path / "hold").unlink()
        output, _ = launch.communicate(timeout=180)
    assert launch.returncode == 0, output
    assert f"the Dask cluster at {address} has 2 worker(s) now for 3 trials at once" in output
    record = next(r for r in group.records() if r["run_id"] == waiting["run_id"])
    assert record["started"] > waiting["started"] + 2, (record, waiting)  # once a worker freed


HELD_SCRIPT = """
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
x = parser.parse_args().x
deadline = time.time() + 120
while os.path.exists("hold") and time.time() < deadline:
    time.sleep(0.05)
time.sleep(2)  # a stop requested before it began is seen, however the polls fall
print((x - 1) ** 2)
"""


def test_a_queued_trial_stopped_by_hand_is_recorded_stopped(tmp_path, cluster):
    """`smac-bridge stop` of a trial waiting for a free Dask worker: the stop file was there
    when it began, and the supervisor around the wrapper killed the wrapper before it could
    answer. The run was taken for a crashed first run, which aborted the launch (exit 255)
    and killed the other trials. Then the stop waited for a Dask worker to be free: the trial
    is now withdrawn from the queue at once."""
    address, _ = cluster
    scenario = write_project(tmp_path, budget=3, sleep=0.5)
    (tmp_path / "train.py").write_text(HELD_SCRIPT)  # `stop` is the wrapper's to carry out
    wrapped = f'algo = smac-bridge wrap --cmd "{sys.executable} train.py"\n'
    text = scenario.read_text().replace(f"algo = {sys.executable} target.py\n", wrapped)
    scenario.write_text(text + "check-sat-consistency = false\n")
    (tmp_path / "hold").write_text("")
    launch = start_launch(scenario, address, parallel=3)
    group = RunGroup(tmp_path / "out" / "demo")

    def queued_run() -> str | None:  # behind two held trials, each on a Dask worker
        runs = monitor.group_status(group)["running"]
        queued = [run["run_id"] for run in runs if run["state"] == "queued"]
        return queued[0] if len(runs) == 3 and len(queued) == 1 else None

    stop = None
    try:
        run_id = wait_for_value(queued_run, timeout=120)
        stop = subprocess.Popen(
            [sys.executable, "-m", "smac_bridge.cli", "stop", str(group.path), run_id]
            + ["--timeout", "120"],
            env=smac_bridge_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(group.run(run_id).stop_request.exists, timeout=60)  # before it can begin
        stopped, errors = stop.communicate(timeout=60)  # while the other trials hold on
        assert stop.returncode == 0, errors
    finally:
        (tmp_path / "hold").unlink()
        output, _ = launch.communicate(timeout=180)
        if stop is not None and stop.poll() is None:
            stop.kill()
            stop.communicate()
    assert launch.returncode == 0, output
    record = json.loads(stopped)
    assert (record["run_id"], record["status"], record["stopped_by_user"]) == (
        run_id,
        "TIMEOUT",
        True,
    )
    assert len(group.records()) == 3


def test_a_ctrl_c_withdraws_a_trial_still_in_the_clusters_queue_at_once(tmp_path, cluster):
    """A trial queued behind another launch's work: its stop waited for it to begin, then
    for grace + 25 s, so the launcher SIGKILLed its worker after 20 s, the run was "lost"
    and the worker "failed"."""
    from distributed import Client

    address, _ = cluster
    scenario = write_project(tmp_path, budget=2, sleep=0.5)
    with Client(address, timeout=60) as client:
        hold = tmp_path / "hold"
        hold.write_text("")
        wait = f"import os, time\nwhile os.path.exists({str(hold)!r}): time.sleep(0.05)\n"
        argv = [sys.executable, "-c", wait]  # another launch's work, holding a Dask worker
        busy = [client.submit(subprocess.run, argv, pure=False) for _ in range(2)]
        try:
            launch = start_launch(scenario, address, parallel=1)
            group = RunGroup(tmp_path / "out" / "demo")

            def queued() -> bool:
                running = monitor.group_status(group)["running"]
                return any(run["state"] == "queued" for run in running)

            wait_for(queued, timeout=120)
            started = time.monotonic()
            launch.send_signal(signal.SIGINT)
            output, _ = launch.communicate(timeout=120)
            took = time.monotonic() - started
        finally:
            hold.unlink()
            client.gather(busy)
    assert launch.returncode == 130, output
    assert took < 15, (took, output)
    assert "lost its worker" not in output, output
    assert not list(group.layout.runs.glob("*.lost-*"))
    assert [w["state"] for w in group.workers()] == ["stopped"]


# Stopped, it evaluates what it reached for 8 s (as the MNIST example does within its
# wrapper's --grace 60), then leaves `reported-<pid>` in its working directory.
SLOW_TO_REPORT = """
import os, pathlib, signal, sys, time
def report(*_):
    time.sleep(8)
    pathlib.Path(f"reported-{os.getpid()}").touch()
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
pathlib.Path(f"started-{os.getpid()}").touch()
time.sleep(600)
"""


def test_a_ctrl_c_gives_a_remote_trial_its_wrappers_grace(tmp_path, cluster):
    """The supervisor around the wrapper on the Dask worker had a grace of 5 s: it SIGKILLed
    a stopped script 5 s after its SIGTERM, whatever the wrapper's --grace gave it. And the
    wrapper read the launch's stop file as a user's stop: the interrupted run was recorded,
    stopped by user, and its slot spent, where a local launch owes it to a resume."""
    address, _ = cluster
    scenario = write_project(tmp_path, budget=2, sleep=0.5)
    (tmp_path / "train.py").write_text(SLOW_TO_REPORT)
    wrapped = f'algo = smac-bridge wrap --grace 15 --cmd "{sys.executable} train.py"\n'
    scenario.write_text(
        scenario.read_text().replace(f"algo = {sys.executable} target.py\n", wrapped)
    )
    launch = start_launch(scenario, address, parallel=1)
    wait_for(lambda: any(tmp_path.glob("started-*")), timeout=120)
    launch.send_signal(signal.SIGINT)
    output, _ = launch.communicate(timeout=120)
    assert launch.returncode == 130, output
    started = [path.name.split("-")[1] for path in tmp_path.glob("started-*")]
    assert [path.name.split("-")[1] for path in tmp_path.glob("reported-*")] == started
    group = RunGroup(tmp_path / "out" / "demo")
    assert group.records() == [] and group.claimed() == [], output
    assert group.owed("00001") is not None


def test_gpus_of_the_launcher_are_not_claimed_for_dask_trials(tmp_path, cluster):
    """The trials use the Dask workers' GPUs: the workers' files must not say they had the
    launcher's, and an explicit --gpus is warned of."""
    address, _ = cluster
    scenario = write_project(tmp_path, budget=2, sleep=0.05)
    launch = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", "2", "--gpus", "0,1", "--dask-scheduler", address],
        cwd=scenario.parent,
        env={**smac_bridge_env(), "SMAC_BRIDGE_FAKE_GPUS": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launch.returncode == 0, launch.stdout + launch.stderr
    assert "--gpus does not apply with --dask-scheduler" in launch.stderr
    group = RunGroup(tmp_path / "out" / "demo")
    assert [w.get("gpu") for w in group.workers()] == [None, None]
    # a resume goes on on the cluster, which it names (it ran the rest here without a word);
    # `--gpus none` there is warned of too: the Dask workers' GPUs are the trials'
    resume = [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
    resume += ["--resume", "--set", "runcount_limit=3", "--gpus", "none"]
    done = subprocess.run(resume, cwd=scenario.parent, env=smac_bridge_env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stderr.split())
    assert f"--dask-scheduler {address} (`--dask-scheduler none` runs the trials here)" in said
    assert "--gpus does not apply with --dask-scheduler" in done.stderr
    assert group.launch_info()["dask_scheduler"] == address
    here = [*resume[:-4], "--set", "runcount_limit=4", "--dask-scheduler", "none"]
    done = subprocess.run(here, cwd=scenario.parent, env=smac_bridge_env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--dask-scheduler" not in done.stderr and len(group.records()) == 4
    # the --gpus the Dask sessions ignored is not kept for the trials run here
    assert "--gpus" not in done.stderr, done.stderr
    assert group.launch_info()["dask_scheduler"] is None
    # the earlier cluster is gone: the error says where its address came from, and the way out
    info = group.launch_info()
    group.write_launch_info({**info, "dask_scheduler": "tcp://127.0.0.1:9"})
    gone = [*resume[:-4], "--set", "runcount_limit=5"]
    done = subprocess.run(gone, cwd=scenario.parent, env=smac_bridge_env(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "that is the earlier launch's cluster, on which a resume goes on" in done.stderr
    assert "--dask-scheduler none to run the trials here" in done.stderr


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
    for note in trials(tmp_path):  # the stop file the wrapper would poll for: no user's stop
        assert (Path(note["run_dir"]) / "stop-requested").read_text() == "interrupted"


def test_a_re_run_on_the_cluster_keeps_the_curve_it_continues(tmp_path, cluster):
    """A trial stopped by a Ctrl-C runs again on the resume and continues from its epochs,
    with its earlier curve carried into its progress.jsonl; on Dask the remote side, clearing
    what a lost attempt reported, deleted that curve too: the views lost its first epochs."""
    address, _ = cluster
    target = REPO / "scripts" / "learning_curve_target.py"
    (tmp_path / "space.pcs").write_text((REPO / "pcs" / "learning_curve.pcs").read_text())
    scenario = tmp_path / "lc.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} {target} --epoch-seconds 0.3'
        f' --epochs 12"\nexecdir = {tmp_path}\nparamfile = space.pcs\nrun_obj = quality\n'
        f"runcount_limit = 1\noutdir = {tmp_path / 'out'}\n"
    )
    launch = start_launch(scenario, address, parallel=1)
    group = RunGroup(tmp_path / "out" / "lc")
    progress = group.run("00001").progress
    wait_for(lambda: progress.exists() and progress.read_text().count("\n") >= 3, timeout=120)
    launch.send_signal(signal.SIGINT)
    output, _ = launch.communicate(timeout=60)
    assert launch.returncode == 130, output
    stopped_at = len(progress.read_text().splitlines())
    resumed = run_cli(
        "launch", str(scenario), "--resume", "--quiet", "--dask-scheduler", address,
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    points = [json.loads(line) for line in progress.read_text().splitlines()]
    assert [p["step"] for p in points if p.get("carried")] == list(range(1, stopped_at + 1))
    assert [p["step"] for p in points if not p.get("carried")][0] > stopped_at - 1, points


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


# ---- faults of the cluster: each test has a cluster of its own ---------------------------------


def run_id(record: dict) -> str:
    return record["run_id"]


def finish(launch: subprocess.Popen[str], timeout: float = 240) -> str:
    output, _ = launch.communicate(timeout=timeout)
    assert launch.returncode == 0, output
    return output


def assert_exact_budget(group: RunGroup, budget: int) -> list[dict]:
    records = group.records()
    assert sorted(r["run_id"] for r in records) == [f"{n:05d}" for n in range(1, budget + 1)]
    assert len(group.claimed()) == budget and group.running() == []
    return records


def test_a_trial_whose_dask_worker_dies_runs_again_then_crashes_and_the_launch_goes_on(tmp_path):
    """The first worker death reruns the trial elsewhere; the next (over the scheduler's
    allowed failures) loses it: CRASHED, but a fault of the cluster, not the target's first
    run crashing, so the launch goes on instead of aborting with exit code 255."""
    cluster = Cluster(tmp_path / "cluster")
    launch = None
    try:
        address = cluster.start_scheduler(allowed_failures=1)
        cluster.start_workers(3)
        scenario = write_project(tmp_path, budget=3, sleep=60)
        launch = start_launch(scenario, address, parallel=1)
        (first,) = wait_for_value(lambda: trials(tmp_path), timeout=120)
        assert first["supervisor"] in cluster.worker_pids()
        os.kill(first["supervisor"], signal.SIGKILL)  # the Dask worker running the trial
        again = wait_for_value(lambda: [n for n in trials(tmp_path) if n != first], timeout=120)
        assert [n["run_dir"] for n in again] == [first["run_dir"]]  # the same run, elsewhere
        assert again[0]["supervisor"] in cluster.worker_pids() - {first["supervisor"]}
        (tmp_path / "sleep.txt").write_text("0.5")  # the killed attempts alone sleep a minute
        os.kill(again[0]["supervisor"], signal.SIGKILL)
        finish(launch)
        records = sorted(assert_exact_budget(RunGroup(tmp_path / "out" / "demo"), 3), key=run_id)
        assert [r["status"] for r in records] == ["CRASHED", "SAT", "SAT"]
        assert records[0]["reason"].startswith("the Dask cluster lost the trial: KilledWorker")
        assert not any(pid_alive(note["pid"]) for note in trials(tmp_path))
    finally:
        if launch is not None and launch.poll() is None:
            launch.kill()  # its workers' guards stop the workers
            launch.wait()
        cluster.stop()


def test_a_program_only_the_cluster_has_is_warned_of_not_refused(tmp_path):
    """The trials run on the Dask workers' hosts, with their PATH: a launch was refused for a
    program the launching host does not have."""
    tools = tmp_path / "cluster-tools"
    tools.mkdir()
    program = tools / "cluster-train"
    program.write_text(f"#!{sys.executable}\n" + TARGET)
    program.chmod(0o755)
    cluster = Cluster(tmp_path / "cluster")
    try:
        address = cluster.start_scheduler()
        path = os.pathsep.join([str(tools), smac_bridge_env()["PATH"]])
        cluster.start_workers(1, {"PATH": path})
        scenario = write_project(tmp_path, budget=2, sleep=0.05)
        scenario.write_text(
            scenario.read_text().replace(f"{sys.executable} target.py", "cluster-train")
        )
        output, _ = start_launch(scenario, address, parallel=1).communicate(timeout=180)
    finally:
        cluster.stop()
    assert "warning: " in output and "cannot find 'cluster-train'" in output, output
    assert "the trials run on the Dask cluster's hosts, which must have it" in output
    records = RunGroup(tmp_path / "out" / "demo").records()
    assert [r["status"] for r in records] == ["SAT", "SAT"], output


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGKILL])
def test_a_trial_whose_dask_worker_is_stopped_runs_again_cleanly(tmp_path, signal_number):
    """SIGTERM (a Slurm job's end) shuts a Dask worker down while its trial still runs, and
    kill -9 leaves the trial's guard to stop the script (its last words take 2 s); either way
    the scheduler re-runs the trial elsewhere at once, in the same run directory. The re-run
    waits for the earlier attempt's worker and guard, so that the dying attempt's last line
    does not reach the re-run's log, where a second result line would abort the launch (exit
    code 255). The record's start, and the running marker's that `status` and the overdue
    check read, are the re-run's (the marker kept the lost attempt's)."""
    cluster = Cluster(tmp_path / "cluster")
    launch = None
    try:
        address = cluster.start_scheduler()
        cluster.start_workers(2)
        scenario = write_project(tmp_path, budget=1, sleep=60)
        (tmp_path / "last-words.txt").write_text("")
        launch = start_launch(scenario, address, parallel=1)
        (first,) = wait_for_value(lambda: trials(tmp_path), timeout=120)
        (tmp_path / "sleep.txt").write_text("4")  # the re-run outlives the last words
        killed = time.time()
        os.kill(first["supervisor"], signal_number)  # the Dask worker running the trial
        group = RunGroup(tmp_path / "out" / "demo")
        wait_for(lambda: [m["started"] > killed for m in group.running()] == [True])
        output = finish(launch)
        (record,) = assert_exact_budget(group, 1)
        assert record["status"] == "SAT", output
        # the run is the re-run: it started then, not when the lost attempt did
        rerun = max(note["time"] for note in trials(tmp_path))
        assert rerun - 1 < record["started"] < rerun + 1, (record, trials(tmp_path))
        log = (Path(first["run_dir"]) / "algo_output.log").read_text()
        assert log.count("Result of this algorithm run") == 1 and "UNSAT" not in log, log
        assert not any(pid_alive(note["pid"]) for note in trials(tmp_path))
    finally:
        if launch is not None and launch.poll() is None:
            launch.kill()
            launch.wait()
        cluster.stop()


@pytest.mark.parametrize("workers", [1, 2], ids=["its-only-worker", "a-busy-worker"])
def test_a_trial_whose_dask_worker_died_is_queued_again(tmp_path, workers):
    """A preempted Slurm job took the one Dask worker free: the scheduler queued its trial
    again, but `status` showed it running, and a Ctrl-C waited for it through grace + 25 s,
    so the launcher SIGKILLed its worker after 20 s and the run was "lost". The scheduler
    queues it on a busy worker at once (Dask's worker-saturation lets each hold more tasks
    than threads): it showed running there, with the time of the attempt that was lost."""
    scenario = write_project(tmp_path, budget=workers, sleep=60)
    group = RunGroup(tmp_path / "out" / "demo")
    cluster = Cluster(tmp_path / "cluster")
    launch = None
    try:
        launch = start_launch(scenario, cluster.start_scheduler(), parallel=workers)
        cluster.start_workers(workers)
        first = wait_for_value(lambda: n if len(n := trials(tmp_path)) == workers else None, 120)[0]

        def shown() -> list[str]:
            return sorted(r["state"] for r in monitor.group_status(group)["running"])

        wait_for(lambda: shown() == ["running"] * workers, timeout=60)
        os.kill(first["supervisor"], signal.SIGKILL)  # the Dask worker running the trial
        wait_for(lambda: shown() == ["queued"] + ["running"] * (workers - 1), timeout=60)
        launch.send_signal(signal.SIGINT)
        output, _ = launch.communicate(timeout=120)
    finally:
        if launch is not None and launch.poll() is None:
            launch.kill()
            launch.wait()
        cluster.stop()
    assert launch.returncode == 130, output
    assert "lost its worker" not in output, output
    assert not list(group.layout.runs.glob("*.lost-*"))
    assert [w["state"] for w in group.workers()] == ["stopped"] * workers
    assert not any(pid_alive(note["pid"]) for note in trials(tmp_path))


def launch_on_a_new_cluster(
    cluster: Cluster, root: Path, budget: int, sleep: float, env: dict[str, str] | None = None
) -> tuple[str, Path, subprocess.Popen[str]]:
    """Start CLUSTER's scheduler and two workers, and a 2-worker launch of a project in ROOT
    on it: the scheduler's address, the scenario and the launch."""
    address = cluster.start_scheduler()
    cluster.start_workers(2)
    scenario = write_project(root, budget=budget, sleep=sleep)
    return address, scenario, start_launch(scenario, address, parallel=2, env=env)


def test_a_restarted_scheduler_is_survived_with_an_exact_budget(tmp_path):
    """A restarted scheduler loses the trials it ran: each is submitted again, up to 3 times
    (only one lost at each is recorded, CRASHED, saying so), and the budget stays exact."""
    cluster = Cluster(tmp_path / "cluster", port=free_port())
    launch = None
    try:
        address, scenario, launch = launch_on_a_new_cluster(cluster, tmp_path, budget=4, sleep=4)
        group = RunGroup(tmp_path / "out" / "demo")
        wait_for(lambda: len(trials(tmp_path)) >= 2 and len(group.running()) == 2, timeout=120)
        before = trials(tmp_path)
        assert cluster.scheduler is not None
        cluster.scheduler.kill()
        cluster.scheduler.wait()
        for worker in cluster.workers:  # they would end with their scheduler, in half a minute
            worker.kill()
            worker.wait(timeout=120)
        assert cluster.start_scheduler() == address
        cluster.start_workers(2)
        finish(launch)
        records = assert_exact_budget(group, 4)
        for record in records:  # run again, or lost at each of its submissions
            assert record["status"] == "SAT" or "(submission 3 of 3)" in record["reason"], record
        assert not any(pid_alive(note["pid"]) for note in trials(tmp_path))
        lost = {Path(note["run_dir"]).name for note in before}
        assert {r["run_id"] for r in records if r["status"] != "SAT"} <= lost
    finally:
        if launch is not None and launch.poll() is None:
            launch.kill()
            launch.wait()
        cluster.stop()


def test_a_scheduler_gone_for_good_stops_the_launch_and_a_resume_runs_the_rest(tmp_path):
    """With no scheduler left, every trial would end CRASHED after the wait for a connection,
    burning the budget of an overnight launch: it stops with exit code 1 and a message that
    says what to do, records none of the lost trials, and a resume on a new cluster runs
    exactly the rest of the budget. (With Dask's connect timeout set shorter, as a user may
    to notice a gone scheduler sooner.)"""
    cluster = Cluster(tmp_path / "cluster", port=free_port())
    launch = None
    sooner = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"}
    try:
        _, scenario, launch = launch_on_a_new_cluster(cluster, tmp_path, 5, sleep=3, env=sooner)
        group = RunGroup(tmp_path / "out" / "demo")
        wait_for(lambda: len(group.records()) >= 1 and len(group.running()) == 2, timeout=120)
        cluster.stop()  # the scheduler and its workers, for good
        output, _ = launch.communicate(timeout=240)
        assert launch.returncode == 1, output
        assert "no Dask scheduler answers" in output and "--resume" in output, output
        records = group.records()
        assert records and all(r["status"] == "SAT" for r in records), records
        assert group.running() == [] and len(group.claimed()) == len(records)

        cluster = Cluster(tmp_path / "cluster-again", port=free_port())
        address = cluster.start_scheduler()
        cluster.start_workers(2)
        resume = run_cli(
            *("launch", str(scenario), "--quiet", "--parallel", "2", "--gpus", "none"),
            *("--resume", "--dask-scheduler", address),
            cwd=scenario.parent,
            timeout=240,
        )
        assert resume.returncode == 0, resume.stdout + resume.stderr
        assert all(r["status"] == "SAT" for r in assert_exact_budget(group, 5))
    finally:
        if launch is not None and launch.poll() is None:
            launch.kill()
            launch.wait()
        cluster.stop()


def test_a_re_run_waits_for_an_attempt_on_another_host_while_its_note_changes(
    tmp_path, monkeypatch
):
    """Another host's clock may differ: an attempt is alive while its note changes, however
    old its time stamps read here, and dead once they stop changing."""
    from smac_bridge.executors import dask as executor
    from smac_bridge.layout import RunDir

    monkeypatch.setattr(executor, "ATTEMPT_STALE", 0.6)
    files = RunDir(tmp_path)
    files.attempt.write_text(json.dumps({"host": "another-host", "pid": 1, "pid_start": "x"}))
    os.utime(files.attempt, (1e9, 1e9))  # a clock far behind this one's
    keep_alive = time.monotonic() + 2.0

    def refresh() -> None:  # the other attempt, still stopping
        stamp = 1e9
        while time.monotonic() < keep_alive:
            stamp += 1
            os.utime(files.attempt, (stamp, stamp))
            time.sleep(0.1)

    other = threading.Thread(target=refresh)
    other.start()
    started = time.monotonic()
    executor._wait_for_an_earlier_attempt(files, 0.0)
    waited = time.monotonic() - started
    other.join()
    assert 2.0 <= waited < 5.0  # until its note stopped changing, and a little more


# Slurm's commands as dask-jobqueue calls them: `sbatch FILE` (a file it deletes once sbatch
# returns) runs the job script in a session of its own and says its id; `scancel ID` sends the
# job's processes SIGTERM, as Slurm does at a preemption or at the end of the walltime.
FAKE_SBATCH = """#!/bin/bash
jobs="$FAKE_SLURM_JOBS"
id=$$  # unique among the jobs of a test: dask-jobqueue submits them at once
cp "$1" "$jobs/$id.sh"
: > "$jobs/$id.log"  # both there before the pid file, which is written whole
SLURM_JOB_ID=$id setsid bash "$jobs/$id.sh" >> "$jobs/$id.log" 2>&1 < /dev/null &
echo $! > "$jobs/$id.pid.tmp" && mv "$jobs/$id.pid.tmp" "$jobs/$id.pid"
echo "Submitted batch job $id"
"""
FAKE_SCANCEL = """#!/bin/bash
for id in "$@"; do kill -TERM -- -"$(cat "$FAKE_SLURM_JOBS/$id.pid")" 2>/dev/null; done
true
"""


def test_the_docs_slurm_script_replaces_a_preempted_job(tmp_path: Path) -> None:
    """docs/distributed.md's script scaled to 8 jobs once: a job that Slurm preempted, or
    that reached its walltime, was never replaced, and once every job had ended a launch
    waited for good. The script as the docs give it (2 jobs here), on a stand-in Slurm."""
    docs = (REPO / "docs" / "distributed.md").read_text(encoding="utf-8")
    script = docs.split("```python\n", 1)[1].split("```", 1)[0]
    assert "minimum_jobs=8, maximum_jobs=8" in script
    (tmp_path / "cluster.py").write_text(script.replace("=8", "=2"), encoding="utf-8")
    shims, jobs = tmp_path / "bin", tmp_path / "jobs"
    shims.mkdir()
    jobs.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("scancel", FAKE_SCANCEL)):
        (shims / name).write_text(text)
        (shims / name).chmod(0o755)
    env = {**smac_bridge_env(), "FAKE_SLURM_JOBS": str(jobs)}
    env["PATH"] = f"{shims}:{Path(sys.executable).parent}:{env['PATH']}"
    cluster = subprocess.Popen([sys.executable, "cluster.py"], cwd=tmp_path, env=env)

    def alive() -> list[str]:
        """The jobs running, whose Dask worker joined the cluster."""
        return [
            p.stem
            for p in jobs.glob("*.pid")
            if pid_alive(int(p.read_text()))
            and "Registered to:" in p.with_suffix(".log").read_text(errors="replace")
        ]

    try:
        wait_for(lambda: len(alive()) == 2, timeout=90)  # the 2 jobs
        first = sorted(alive())[0]
        subprocess.run([shims / "scancel", first], env=env, check=True)
        wait_for(lambda: len(alive()) == 2 and first not in alive(), timeout=90)  # replaced
    finally:
        cluster.send_signal(signal.SIGINT)  # the script closes its cluster: scancel its jobs
        try:
            cluster.wait(30)
        finally:
            cluster.kill()
            for pid_file in jobs.glob("*.pid"):
                try:
                    os.killpg(int(pid_file.read_text()), signal.SIGKILL)
                except ProcessLookupError:
                    pass
