"""`status`, `tail` and `stop` against real launches: one running, one finished, one killed."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import branin_scenario, default_sigint, smac_bridge_env, start_launch
from rich.console import Console

from smac_bridge import monitor, results
from smac_bridge.launcher import Launch, LaunchOptions
from smac_bridge.recovery import kill_trial, set_aside
from smac_bridge.rundata import RunGroup

pytestmark = pytest.mark.slow


def wait_for(check: Callable[[], Any], timeout: float = 90, what: str = "") -> Any:
    """Poll CHECK until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def kill_launch_and_workers(launch: subprocess.Popen, group: RunGroup) -> None:
    """SIGKILL the launcher and its workers, as a crash of the machine's session would. The
    workers are frozen first: a worker whose launcher dies stops its trial and cleans up,
    and this must look like a worker that could not."""
    workers = [worker["pid"] for worker in group.workers()]
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    os.kill(launch.pid, signal.SIGKILL)
    launch.communicate()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)


def status_json(cli, outdir: Path) -> dict:
    done = cli("status", str(outdir), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def running_run(cli, outdir: Path, run_id: str) -> dict | None:
    if not any(outdir.glob("*/launch.json")):  # the launch has not made its rungroup yet
        return None
    picture = status_json(cli, outdir)
    return next((r for r in picture["running"] if r["run_id"] == run_id), None)


def background_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", *args],
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "status, stopped, said",
    [
        ("TIMEOUT", True, None),
        ("SAT", False, "ended by itself before the stop took effect"),
        ("SAT", True, "had reported its final result before the stop took effect; it keeps it"),
    ],
)
def test_stop_says_when_the_run_ended_by_itself_before_the_stop(tmp_path, status, stopped, said):
    """A stop that lands as the run writes its result: the run is recorded as it ended, and
    `stop` printed that record as though the stop had done it. A stop that lands after the
    final report (as the script saves its model) keeps that result: `stop` said nothing of
    it, nor that what the script did after its report was cut short."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.mark_running({"run_id": "00001", "worker": 1})
    group.run("00001").path.mkdir(parents=True)
    group.run("00001").result.write_text("{}")  # the wrapper's: it judged the run
    stop = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "stop", str(group.path), "00001"],
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(group.run("00001").stop_request.exists, what="the stop request")
    fields = {"config": {}, "instance": "no_instance", "seed": -1, "quality": 0.5, "cost": 0.5}
    record = {"run_id": "00001", "worker": 1, "status": status, "stopped_by_user": stopped}
    group.append_record(1, {**record, **fields})  # type: ignore[arg-type]
    output, errors = stop.communicate(timeout=60)
    assert stop.returncode == 0 and json.loads(output)["status"] == status, errors
    notes = [line for line in errors.splitlines() if not line.startswith("asked run")]
    assert [note[: len(f"run 00001 {said}")] for note in notes] == (
        [f"run 00001 {said}"] if said else []
    ), errors


def test_watch_tail_and_stop_a_running_launch(tmp_path, cli):
    outdir = tmp_path / "out"
    launch = start_launch(branin_scenario(tmp_path, runs=3, slow_run="00001"), outdir, 1)
    followers: list[subprocess.Popen] = []
    try:
        run = wait_for(lambda: running_run(cli, outdir, "00001"), what="run 00001 to start")
        assert run["worker"] == 1 and set(run["config"]) == {"x", "y"}
        assert run["started"] <= time.time() and run["state"] == "running"
        group = results.one_group(outdir)
        assert Path(run["log"]).parent == group.run("00001").path
        wait_for(lambda: b"epoch 5" in group.run("00001").log().read_bytes(), what="epoch 5")

        shown = cli("status", str(outdir))
        assert shown.returncode == 0, shown.stderr
        assert "00001" in shown.stdout and "running" in shown.stdout and "of 3 runs" in shown.stdout

        follow = background_cli("tail", str(outdir), "--follow")  # the newest running run
        watch = background_cli("status", str(outdir), "--watch", "--interval", "0.3")
        followers += [follow, watch]
        watched: list[str] = []  # into a pipe, a picture per interval while the launch runs
        shows_the_run = threading.Event()

        def read_the_watch() -> None:
            for line in watch.stdout:
                watched.append(line)
                if "00001" in "".join(watched) and "running" in "".join(watched):
                    shows_the_run.set()

        reader = threading.Thread(target=read_the_watch, daemon=True)
        reader.start()
        assert shows_the_run.wait(60), "status --watch into a pipe showed nothing while it ran"
        header = follow.stderr.readline()  # tail has picked its run: the running one
        assert header.startswith("==> run 00001: "), header
        assert follow.poll() is None, "tail --follow ended while the run was running"

        stopped = cli("stop", str(outdir), "00001")
        assert stopped.returncode == 0, stopped.stderr
        record = json.loads(stopped.stdout)
        assert record["run_id"] == "00001" and record["stopped_by_user"] is True
        assert (record["status"], record["quality"]) == ("TIMEOUT", 0.001)  # unfinished

        output, errors = follow.communicate(timeout=30)  # ends by itself with the run
        assert follow.returncode == 0, errors
        ended = "==> run 00001 ended: TIMEOUT (stopped), partial quality 0.001 (stopped by user)"
        ended += " <=="
        assert errors.splitlines()[-1] == ended, errors
        assert "log of run 00001: \ufffd\ufffd not UTF-8\n" in output
        assert "epoch 0\nepoch 1\n" in output and "epoch 5\n" in output

        again = cli("stop", str(outdir), "00001")
        assert again.returncode == 1 and "run 00001 has already finished" in again.stderr
        unknown = cli("stop", str(outdir), "00042")
        assert unknown.returncode == 1 and "run 00042 never started" in unknown.stderr

        launch_output, _ = launch.communicate(timeout=120)  # the optimisation went on
        assert launch.returncode == 0, launch_output
        assert "(best)" in launch_output and "run 00001 (best)" not in launch_output
        assert watch.wait(timeout=30) == 0, watch.stderr.read()  # ends with the launch
        reader.join(timeout=30)
        watch_output = "".join(watched)
        assert "3 of 3 runs done" in watch_output and ", 1 stopped by hand," in watch_output
    finally:
        for process in [launch, *followers]:
            if process.poll() is None:
                process.kill()
                process.communicate()
    records = results.one_group(outdir).records()
    assert sorted(r["run_id"] for r in records) == ["00001", "00002", "00003"]
    assert [r["run_id"] for r in records if r["stopped_by_user"]] == ["00001"]
    (picture,) = status_json(cli, outdir)["rungroups"]
    unsolved = [r for r in records if r["status"] != "SAT" and not r["stopped_by_user"]]
    assert (picture["stopped"], picture["failed"]) == (1, len(unsolved))  # stopped: no failure


# A classic solver: 60 s unless stopped; on SIGTERM it prints a TIMEOUT line as it leaves
# when `-line` is 1 (a wrapper with a handler), a CRASHED one at 2, a MEMOUT one at 3, a SAT
# one at 4, a SAT one without a quality at 5, else nothing.
SLOW_SOLVER = """
import signal, sys, time
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
def leave(*_):
    if params["-line"] != "0":
        words = {"1": "TIMEOUT", "2": "CRASHED", "3": "MEMOUT", "4": "SAT", "5": "SAT"}
        status = words[params["-line"]]
        quality = "Infinity" if params["-line"] == "5" else "0.7"
        print(f"Result of this algorithm run: {status}, 1, 0, {quality}, {sys.argv[5]}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
print("ready", flush=True)
time.sleep(60)
print(f"Result of this algorithm run: SAT, 60, 0, 0.1, {sys.argv[5]}")
"""


@pytest.mark.parametrize(
    ("line", "run_obj", "status", "quality"),
    [
        ("0", "quality", "TIMEOUT", 1e9),
        ("1", "quality", "TIMEOUT", 0.7),
        ("2", "quality", "TIMEOUT", 1e9),
        ("3", "runtime", "TIMEOUT", 1e9),
        ("4", "quality", "SAT", 0.7),
        ("5", "quality", "SAT", None),
    ],
)
def test_stop_stops_a_classic_target(
    tmp_path: Path, cli, line: str, run_obj: str, status: str, quality: float
) -> None:
    """Only smac-bridge's wrapper read a stop request: a classic target (Java SMAC's own
    wrapper) trained on to its end, and `stop` then said the run "ended by itself". Its
    worker now stops it: TIMEOUT, stopped by user, with what it printed as it left (a
    CRASHED line printed then aborted the launch as a crashed first run; its quality is no
    result; a MEMOUT under a runtime objective was a solved UNSAT, the cheapest run). A SAT
    line printed as it left is its answer, which `stop` said came before the stop and was
    followed by work the stop cut short."""
    (tmp_path / "solver.py").write_text(SLOW_SOLVER)
    (tmp_path / "space.pcs").write_text(f"line {{0, 1, 2, 3, 4, 5}} [{line}]\n")
    scenario = tmp_path / "tune.txt"
    scenario.write_text(
        f"algo = {sys.executable} solver.py\nparamfile = space.pcs\nrun_obj = {run_obj}\n"
        "runcount_limit = 1\ncheck-sat-consistency = false\ncutoff_time = 100\n"
    )
    started = start_launch(scenario, tmp_path / "out", 1)
    group = RunGroup(tmp_path / "out" / "tune")
    try:
        log = group.run("00001").algo_log  # its handler is in place once it says so
        wait_for(lambda: log.exists() and b"ready" in log.read_bytes(), what="run 00001")
        stopped = cli("stop", str(group.path), "00001")
        assert stopped.returncode == 0, stopped.stderr
        assert "ended by itself" not in stopped.stderr, stopped.stderr
        record = json.loads(stopped.stdout)
        assert (record["status"], record["quality"]) == (status, quality), record
        assert record["stopped_by_user"] is True and record["wall_time"] < 30, record
        output, _ = started.communicate(timeout=120)
        if status == "SAT":  # at 5 with the reason it has no quality, and no run succeeded
            assert "answered the stop with a SAT result line; it keeps it" in stopped.stderr
            said = "the target reported SAT with the quality Infinity, which is none"
            no_quality = said if line == "5" else None
            assert record["reason"] == no_quality, record
            assert "cut short" not in stopped.stderr and started.returncode == bool(no_quality)
            return
        assert record["reason"] == "stopped by user"  # its one run stopped: none succeeded
        assert started.returncode == 1 and "(stopped by user)" in output, output
    finally:
        if started.poll() is None:
            started.kill()
        started.communicate()


def test_tail_follow_shows_the_wrappers_last_notes_before_the_scripts_log(tmp_path):
    """What the wrapper wrote to its log after tail's last look, as it started the script
    (whose log tail then follows), was never shown."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.mark_running({"run_id": "00001", "worker": 1})
    run = group.run("00001")
    run.path.mkdir(parents=True)
    run.algo_log.write_text("wrapper: starting\n")
    shown = io.StringIO()
    follow = threading.Thread(target=monitor.tail, args=(group, "00001", shown, True))
    follow.start()
    wait_for(lambda: "starting" in shown.getvalue(), what="the first note")
    # both before tail looks again, the note on disk before the script's log exists, as the
    # wrapper's line-buffered stderr has it
    with run.algo_log.open("a") as log:
        log.write("wrapper: on GPU 0\n")
    run.script_log.write_text("epoch 1\n")
    wait_for(lambda: "epoch 1" in shown.getvalue(), what="the script's log")
    record = {"run_id": "00001", "worker": 1, "config": {}, "instance": "no_instance", "seed": -1}
    group.append_record(1, {**record, "status": "SAT", "quality": 0.5, "cost": 0.5})  # type: ignore[arg-type]
    follow.join(30)
    assert not follow.is_alive()
    assert shown.getvalue() == "wrapper: starting\nwrapper: on GPU 0\n\nepoch 1\n"


def test_tail_follow_goes_on_after_the_log_was_trimmed_at_its_limit(tmp_path):
    """A log past wrap's --log-limit shrinks as its kept end moves up: tail --follow showed
    nothing more until the log grew past its old size again, then text from the middle; and
    a log that had grown past where tail was by its next look was not seen to be trimmed."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.mark_running({"run_id": "00001", "worker": 1})
    run = group.run("00001")
    run.path.mkdir(parents=True)
    run.script_log.write_text("start\n" + "flood\n" * 5000)
    shown = io.StringIO()
    follow = threading.Thread(target=monitor.tail, args=(group, "00001", shown, True))
    follow.start()
    wait_for(lambda: shown.getvalue().count("flood") == 5000, what="the flood")
    trimmed = run.path / "trimmed"  # in one step, as the supervisor's trim shrinks it once
    trimmed.write_text("start\n[6 bytes of output left out here]\nflood\n")
    trimmed.replace(run.script_log)
    wait_for(lambda: monitor.TRIMMED in shown.getvalue(), what="the trim")
    with run.script_log.open("a") as log:
        log.write("val_error 0.25\n")
    wait_for(lambda: "val_error" in shown.getvalue(), what="the line after the trim")
    trimmed.write_text("start\n[9 bytes of output left out here]\n" + "moved\n" * 5000)
    trimmed.replace(run.script_log)  # longer than where tail was: the moved end, seen before
    wait_for(lambda: shown.getvalue().count(monitor.TRIMMED) == 2, what="the second trim")
    with run.script_log.open("a") as log:
        log.write("val_error 0.2\n")
    wait_for(lambda: "val_error 0.2" in shown.getvalue(), what="the line after the 2nd trim")
    record = {"run_id": "00001", "worker": 1, "config": {}, "instance": "no_instance", "seed": -1}
    group.append_record(1, {**record, "status": "SAT", "quality": 0.2, "cost": 0.2})  # type: ignore[arg-type]
    follow.join(30)
    assert not follow.is_alive()
    _, first, second = shown.getvalue().split(monitor.TRIMMED)
    assert (first, second) == ("]\nval_error 0.25\n\n[", "]\nval_error 0.2\n")


def test_status_and_tail_of_a_finished_launch(finished_launch, cli):
    group = results.one_group(finished_launch)
    picture = status_json(cli, finished_launch)
    assert picture["running"] == [] and picture["lost"] == []
    (summary,) = picture["rungroups"]
    assert summary["runs_done"] == 8 and summary["budget"] == 8 and not summary["active"]
    assert [w["state"] for w in summary["workers"]] == ["done", "done"]
    best = results.best_run(group.records())
    assert summary["best"]["run_id"] == best["run_id"]
    text = cli("status", str(finished_launch)).stdout
    assert "8 of 8 runs done" in text and "not running" in text

    one = cli("tail", str(finished_launch), "00002")
    assert one.returncode == 0, one.stderr
    assert "\nlog of run 00002: \ufffd\ufffd not UTF-8\n" in one.stdout
    newest = max(group.records(), key=lambda r: r["started"])
    default = cli("tail", str(finished_launch), "--follow")  # nothing runs: ends at once
    assert f"log of run {newest['run_id']}:" in default.stdout
    missing = cli("tail", str(finished_launch), "00077")
    assert missing.returncode == 1 and "no run '00077'" in missing.stderr


def test_tail_of_a_launch_stopped_before_any_record_shows_its_newest_run(
    finished_launch, cli, tmp_path
):
    """Ctrl-C in the first trials records nothing half-done, but their logs stay: `tail`
    shows the newest one instead of saying no run has started. The newest is the last to
    start (its trial.json), not the last folder written to: the stop writes each run's
    result.json, the older runs' last when they take longer to end."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = results.one_group(copy)
    for _, path in group.layout.record_files():
        path.unlink()
    for folder in group.layout.runs.iterdir():
        os.utime(folder / "trial.json", (1e9, 1e9))
        os.utime(folder, (1e9 + 9, 1e9 + 9))
    os.utime(group.run("00002").trial, (1e9 + 5, 1e9 + 5))  # the last one to start
    os.utime(group.run("00001").path, (1e9 + 20, 1e9 + 20))  # the last one to end
    shown = cli("tail", str(copy))
    assert shown.returncode == 0, shown.stderr
    assert "log of run 00002:" in shown.stdout


def test_ctrl_c_while_tail_follow_waits_for_a_record_ends_it_quietly(finished_launch, tmp_path):
    """A run whose log had ended and whose record had not come yet (its launch stopped):
    Ctrl-C while `tail -f` waited the last seconds for it printed "Aborted!", exit code 1."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = results.one_group(copy)
    for _, path in group.layout.record_files():
        path.unlink()  # stopped before any record: the wait for one runs its full length
    tail = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "tail", "-f", str(copy)],
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 60
    while "<==" not in (tail.stdout.readline() or "<==") and time.monotonic() < deadline:
        pass  # its header: the log comes, then the wait
    time.sleep(1.0)
    tail.send_signal(signal.SIGINT)
    output, _ = tail.communicate(timeout=30)
    assert tail.returncode == 0 and "Aborted" not in output, output
    assert "ended unrecorded" not in output  # the stop came while it waited


def test_tail_after_a_ctrl_c_shows_the_run_it_interrupted(finished_launch, cli, tmp_path):
    """A Ctrl-C leaves the interrupted runs' logs but no record: tail showed the newest
    finished run instead, older than the one the user had just watched."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = results.one_group(copy)
    newest = max(r["started"] for r in group.records())
    interrupted = group.run("00009").path
    interrupted.mkdir()
    (interrupted / "process_output.log").write_text("epoch 3 of the interrupted run\n")
    os.utime(interrupted, (newest + 5, newest + 5))
    empty = group.run("00010").path  # made by a run that never began: no log to show
    empty.mkdir()
    os.utime(empty, (newest + 9, newest + 9))
    shown = cli("tail", str(copy))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "epoch 3 of the interrupted run\n"
    assert "==> run 00009: " in shown.stderr


def test_tail_and_best_of_a_run_whose_folder_is_gone_say_so(finished_launch, cli, tmp_path):
    """tail named the missing log, printed nothing and exited 0; best left out the command
    line without a word."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    shutil.rmtree(results.one_group(copy).run("00003").path)
    best = results.best_run(results.one_group(copy).records())["run_id"]
    shutil.rmtree(results.one_group(copy).run(best).path, ignore_errors=True)
    shown = cli("best", str(copy))
    assert shown.returncode == 0 and f"runs/{best} is missing (moved or deleted)" in shown.stdout
    gone = cli("tail", str(copy), "00003")
    assert gone.returncode == 1
    assert "00003/algo_output.log: no such file: the run's folder was moved or deleted" in (
        gone.stderr
    )


def test_a_killed_launch_shows_its_run_as_lost(tmp_path, cli):
    outdir = tmp_path / "out"
    launch = start_launch(branin_scenario(tmp_path, runs=2, slow_run="00001"), outdir, 1)
    group = None
    try:
        wait_for(lambda: running_run(cli, outdir, "00001"), what="run 00001 to start")
        group = results.one_group(outdir)
        first_line = b"log of run 00001"  # written before the trial dies with its worker
        wait_for(lambda: first_line in group.run("00001").log().read_bytes(), what="its log")
        kill_launch_and_workers(launch, group)
        wait_for(lambda: status_json(cli, outdir)["lost"], timeout=10, what="the worker to die")

        picture = status_json(cli, outdir)
        assert picture["running"] == []
        assert [r["run_id"] for r in picture["lost"]] == ["00001"]
        assert [w["state"] for w in picture["rungroups"][0]["workers"]] == ["lost"]
        assert "00001 (lost)" in cli("status", str(outdir)).stdout

        stop = cli("stop", str(outdir), "00001")
        assert stop.returncode == 1 and "run 00001 is lost" in stop.stderr
        tail = cli("tail", str(outdir), "--follow", timeout=30)  # not running: no waiting
        assert tail.returncode == 0 and "log of run 00001" in tail.stdout
        assert json.loads(cli("results", str(outdir), "--json").stdout) == []
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.communicate()
        for marker in group.running() if group else []:
            kill_trial(marker)  # the killed worker's trial would otherwise run on
        kill_trials_under(tmp_path)


def kill_trials_under(folder: Path) -> None:
    """Kill every process of a trial whose run directory is in FOLDER, and wait until none is
    left: `kill_trial` reaches the wrapper's tree, but the script runs in the session of the
    wrapper's own supervisor."""

    def trials() -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get("SMAC_BRIDGE_RUN_DIR", "").startswith(str(folder)):
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    for proc in trials():
        proc.kill()
    wait_for(lambda: not trials(), timeout=10, what="the orphaned trial to end")


def test_status_watch_waits_for_a_launch_started_beside_it(tmp_path, cli):
    """`launch ... & status --watch OUT` failed with "Directory 'OUT' does not exist" until the
    launch had made its folder; without --watch it says --watch would wait."""
    outdir = tmp_path / "out"
    plain = cli("status", str(outdir))
    assert plain.returncode == 1 and "--watch waits for it" in plain.stderr, plain.stderr
    watch = background_cli("status", str(outdir), "--watch", "--interval", "0.2")
    try:
        time.sleep(1)
        assert watch.poll() is None, watch.communicate()
        launch = start_launch(branin_scenario(tmp_path, runs=2), outdir, parallel=1)
        assert launch.wait(timeout=120) == 0, launch.communicate()
        output, errors = watch.communicate(timeout=60)  # ends with the launch
    finally:
        watch.kill()
    assert watch.returncode == 0, errors
    assert errors.startswith(f"waiting for a launch to write {outdir}"), errors
    assert "2 of 2 runs done" in output, output


def test_ctrl_c_while_status_watch_waits_for_a_launch_ends_it_quietly(tmp_path):
    """Ctrl-C ends the watch quietly, and also the wait for a launch's folder before it: that
    printed click's "Aborted!", exit code 1."""
    watch = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "status", str(tmp_path / "out"), "--watch"],
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    assert watch.stderr is not None
    assert watch.stderr.readline().startswith("waiting for a launch to write")
    watch.send_signal(signal.SIGINT)
    output, errors = watch.communicate(timeout=30)
    assert watch.returncode == 0 and "Aborted" not in output + errors, output + errors


def test_ctrl_c_while_a_command_loads_exits_130_without_a_traceback(tmp_path):
    """A Ctrl-C in a command's first tenth of a second, while click and the commands load,
    printed a KeyboardInterrupt traceback. The signal here comes as `click` is imported."""
    program = (
        "import os, signal, sys\n"
        "class CtrlCAtClick:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'click':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "sys.meta_path.insert(0, CtrlCAtClick())\n"
        "from smac_bridge.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", program, "results", str(tmp_path)],
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=default_sigint,
    )
    assert ended.returncode == 130, ended.stderr
    assert "Traceback" not in ended.stderr and ended.stdout == "", ended.stderr


def test_a_launch_that_is_starting_its_workers_is_running(tmp_path):
    """Between launch.json and the first heartbeat (SMAC3's import, the forks) `status` said
    "not running" of a live launch; the launch's own process tells it."""
    scenario = branin_scenario(tmp_path, runs=2)
    run = Launch(LaunchOptions(scenario, parallel=2, gpus="none", outdir=str(tmp_path / "out")))
    run.prepare()  # this process is the launch now; no worker has started
    (picture,) = monitor.status([run.group])["rungroups"]
    assert picture["active"] and picture["workers"] == []
    shown = Console(width=200, record=True)
    shown.print(monitor.status_view({"rungroups": [picture]}))
    text = shown.export_text()  # said so, not an empty worker table
    assert "(starting its workers): 0 of 2 runs done" in text and "elapsed" not in text, text
    info = json.loads(run.group.layout.launch.read_text())
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    info["pid"] = int(ended.stdout)  # a launch that has ended
    run.group.layout.launch.write_text(json.dumps(info))
    (picture,) = monitor.status([run.group])["rungroups"]
    assert not picture["active"]


def test_the_live_view_counts_down_to_whichever_budget_ends_first(tmp_path):
    """With a budget-limit, the launch ends when its units run out, long before the run
    budget does: the live view's time left went by the run budget only."""
    scenario = branin_scenario(tmp_path, runs=40)
    overrides = {"budget-flag": "epochs", "min-budget": "1", "max-budget": "9"}
    options = LaunchOptions(scenario, gpus="none", outdir=str(tmp_path / "out"))

    def time_left(units_limit: str | None) -> str:
        limits = {"budget-limit": units_limit} if units_limit else {}
        run = Launch(dataclasses.replace(options, overrides={**overrides, **limits}))
        run._started = time.time() - 100  # 100 s in: 2 of 40 runs done, 25 units taken
        picture = {"runs_done": 2, "units_used": 25}
        return monitor.duration(run._time_left(picture))

    assert time_left(None) == monitor.duration(50 * 38)  # 38 runs at 50 s each
    assert time_left("30") == monitor.duration(4 * 5)  # 5 units at 4 s each


def released(launch: subprocess.Popen, folder: Path) -> str:
    """Let the held runs of LAUNCH (branin_scenario's held_run) end; its output."""
    (folder / "release").write_text("")
    return launch.communicate(timeout=240)[0]


@pytest.mark.parametrize("others_end_first", [False, True])
def test_a_worker_stopped_from_outside(tmp_path, cli, others_end_first):
    """SIGTERM to one worker (not to the launch) while it holds run 00001. When the other
    then runs 00001 again and uses the budget up, the launch is done: it said "stopped;
    continue with --resume" (exit 130). When the other had already ended ("run budget used
    up"), 00001 is given back and never run: the launch is stopped, for --resume (it said
    done, exit 0). Without others_end_first, the other worker's run 00002 waits until
    00001 is given back: else, under load, the other could end first after all."""
    outdir = tmp_path / "out"
    held = "00001" if others_end_first else "00001,00002"
    launch = start_launch(branin_scenario(tmp_path, runs=4, held_run=held), outdir, 2)
    try:
        run = wait_for(lambda: running_run(cli, outdir, "00001"), what="run 00001 to start")
        assert run["state"] == "running"  # a local trial waits in no cluster's queue
        group = results.one_group(outdir)
        other = 3 - run["worker"]
        if others_end_first:
            wait_for(lambda: (group.worker(other) or {}).get("state") == "done", what="its end")
        os.kill(group.worker(run["worker"])["pid"], signal.SIGTERM)
        # released only once stopped: released first, 00001 ended by itself (a loaded machine)
        stopped_worker = run["worker"]
        wait_for(lambda: group.worker(stopped_worker)["state"] == "stopped", what="its stop")
        output = released(launch, tmp_path)  # 00001 run again by the other worker ends
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.communicate()
    runs = sorted(r["run_id"] for r in group.records())
    stopped = f"worker {run['worker']} stopped by a signal from outside"
    assert "died" not in output, output  # a stop is no death: nothing to clean up after
    if others_end_first:
        assert launch.returncode == 130 and f"{stopped} the launch" in output, output
        assert runs == ["00002", "00003", "00004"]
    else:
        assert launch.returncode == 0 and f"{stopped}; the others ended" in output, output
        assert runs == ["00001", "00002", "00003", "00004"]


def test_a_worker_that_died_fails_a_launch_another_was_stopped_in(tmp_path, cli):
    """kill -9 of one worker and SIGTERM to another, the third used the budget up: the
    summary said that a worker died, and the launch exited 0, as if it had none."""
    outdir = tmp_path / "out"
    scenario = branin_scenario(tmp_path, runs=6, held_run="00001,00002,00003")
    launch = start_launch(scenario, outdir, 3)
    try:
        held = [
            wait_for(lambda n=n: running_run(cli, outdir, n), what=n) for n in ("00001", "00002")
        ]
        group = results.one_group(outdir)
        os.kill(group.worker(held[0]["worker"])["pid"], signal.SIGKILL)
        os.kill(group.worker(held[1]["worker"])["pid"], signal.SIGTERM)
        output = released(launch, tmp_path)
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.communicate()
    assert len(group.records()) == 6, output
    assert f"worker {held[0]['worker']} died" in output, output
    assert launch.returncode == 1, output


def test_a_classic_wrappers_trial_is_running_not_queued(tmp_path, cli):
    """A plain algo (Java SMAC's wrapper convention) runs in a process of its own, here:
    it waits in no cluster's queue, and status gives it its elapsed time."""
    (tmp_path / "algo.py").write_text(
        "import pathlib, sys, time\n"
        "here = pathlib.Path(__file__).parent\n"
        "deadline = time.monotonic() + 120\n"
        "while not (here / 'release').exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print('Result of this algorithm run: SAT, 0.1, 0, 0.5, ' + sys.argv[5])\n"
    )
    (tmp_path / "space.pcs").write_text("x real [0, 1] [0.5]\n")
    scenario = tmp_path / "plain.txt"
    scenario.write_text(
        f"algo = {sys.executable} algo.py\nexecdir = {tmp_path}\nparamfile = space.pcs\n"
        "run_obj = quality\nruncount_limit = 1\ncutoff_time = 150\n"
    )
    outdir = tmp_path / "out"
    launch = start_launch(scenario, outdir, 1)
    try:
        run = wait_for(lambda: running_run(cli, outdir, "00001"), what="run 00001 to start")
        assert run["state"] == "running" and run["elapsed"] is not None, run
        output = released(launch, tmp_path)
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.communicate()
    assert launch.returncode == 0, output


def test_a_worker_whose_heartbeat_lags_its_new_run_is_one_line(tmp_path):
    """Between a worker's new running marker and its next heartbeat, the live view showed
    the worker twice: once with no run, once with the run on a line of its own."""
    from rich.console import Console

    def worker(seed: int, current: str | None) -> dict[str, Any]:
        return {"seed": seed, "gpu": None, "state": "running", "current_run": current,
                "runs_done": 1, "foreign_runs_told": 1, "message": ""}  # fmt: skip

    def run(run_id: str, seed: int) -> dict[str, Any]:
        return {"run_id": run_id, "worker": seed, "state": "running", "elapsed": 3.0,
                "config": {"x": 1.5}}  # fmt: skip

    picture = {"rungroups": [{
        "rungroup": "task", "active": True, "summary": "2 of 6 runs done",
        "workers": [worker(1, "00005"), worker(2, None)],
        "running": [run("00005", 1), run("00006", 2), run("00007", 3)],
        "lost": [], "failures": [], "aborted": None,
    }]}  # fmt: skip
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(monitor.status_view(picture))
    lines = console.export_text().splitlines()
    rows = {
        line.split()[0]: line.split() for line in lines if line.split()[:1] in (["1"], ["2"], ["3"])
    }
    assert rows["2"][:3] == ["2", "running", "00006"], lines
    assert [line.split()[:1] for line in lines].count(["2"]) == 1, lines
    assert rows["3"][:3] == ["3", "running", "00007"]  # a worker no heartbeat names yet


def test_how_a_run_ended_names_a_partial_quality_only_when_the_script_reported_one():
    """A run cut at its cutoff without a report was said to end with "partial quality 1e+09",
    its failure quality (1 for MNIST, which reads like an error rate)."""
    cut = {"status": "TIMEOUT", "quality": 1.0, "reason": "wall_time limit reached"}
    assert monitor.ending(cut, 1.0) == "TIMEOUT, no quality (wall_time limit reached)"
    reported = {**cut, "quality": 0.3, "partial": True}
    said = "TIMEOUT, partial quality 0.3 (wall_time limit reached)"
    assert monitor.ending(reported, 1.0) == said
    # a TIMEOUT line of the script's own, or one printed on SIGTERM: not flagged, but a quality
    assert monitor.ending({**reported, "partial": False}, 1.0) == said
    assert monitor.ending({"status": "SAT", "quality": 0.25}, 1.0) == "SAT, quality 0.25"
    failed = {"status": "UNSAT", "quality": 1e9, "reason": "exit code 1"}
    assert monitor.ending(failed, 1e9) == "UNSAT (exit code 1)"


def test_tail_picks_a_run_that_began_over_one_queued_on_a_cluster(tmp_path):
    """With more workers than Dask workers, the newest run waited in the cluster's queue:
    `tail` showed its empty log, and not the runs that were training."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.mark_running({"run_id": "00001", "worker": 1, "started": 10.0, "queued": False})
    group.mark_running({"run_id": "00002", "worker": 2, "started": 20.0, "queued": True})
    for run_id in ("00001", "00002"):
        group.run(run_id).path.mkdir(parents=True)
        group.run(run_id).trial.write_text('{"config": {}}')  # written as each trial starts
    assert {m["run_id"] for m in monitor.running_runs(group)[0]} == {"00001", "00002"}
    assert monitor.pick_run(group, None) == "00001"
    group.clear_running("00001")
    group.clear_running("00002")  # ended: the newest folder with something to show
    (group.run("00001").path / "process_output.log").write_text("epoch 1\n")
    assert monitor.pick_run(group, None) == "00001"
    # the queued run's worker died: nothing to keep, and no re-run is told to continue it
    assert set_aside(group, "00002") is None and set_aside(group, "00001") is not None


def test_status_lists_the_latest_failures_and_says_when_a_quality_is_minus_the_metric(tmp_path):
    """With more failures than it lists, `status` shows the ones that ended last (runs end
    out of id order with several workers); under --maximize the best is minus the metric."""
    from smac_bridge.protocol import NEGATED_METRIC

    group = RunGroup(tmp_path / "g")
    group.create()
    ended = [3, 1, 2, 9, 8, 7, 6, 5, 4]  # run 00001 ended at 3, ...
    for number, end in enumerate(ended, start=1):
        failed = number > 1
        status = "TIMEOUT" if number in (2, 3) else "CRASHED" if failed else "SAT"
        group.append_record(
            1 + number % 2,
            {"run_id": f"{number:05d}", "worker": 1 + number % 2, "config": {"x": number},
             "instance": "no_instance", "seed": -1, "status": status,
             "quality": 1e9 if failed else -0.99, "cost": 1e9 if failed else -0.99,
             "runtime": 1.0, "extra": {NEGATED_METRIC: 1}, "reason": f"crash {number}",
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": 0.5 * end, "ended": float(end)},
        )  # fmt: skip
    order = [r["run_id"] for r in group.records()]
    assert order == [f"{n:05d}" for n in (2, 3, 1, 9, 8, 7, 6, 5, 4)]  # as they ended
    picture = monitor.group_status(group)
    shown = [failure["run_id"] for failure in picture["failures"]]
    assert monitor.FAILURES_SHOWN == 5 and shown == ["00008", "00007", "00006", "00005", "00004"]
    assert "best quality (−metric) -0.99" in monitor.summary_text(picture)
    # a run cut at the cutoff is no finished training, but no failed one either
    assert ", 6 failed, 2 cut at the cutoff," in monitor.summary_text(picture)
    # a finished run of exactly 1e9 has no quality: failed, as the report and plots count it
    unmeasured = {**group.records()[2], "run_id": "00010", "quality": 1e9, "cost": 1e9}
    group.append_record(1, {**unmeasured, "ended": 10.0})
    picture = monitor.group_status(group)
    assert ", 7 failed, 2 cut at the cutoff," in monitor.summary_text(picture)
    assert picture["failures"][-1]["run_id"] == "00010"


@pytest.mark.parametrize(
    ("seconds", "shown"), [(59, "0:59"), (3599, "59:59"), (3600, "1:00:00"), (3900, "1:05:00")]
)
def test_durations_read_as_a_clock(seconds, shown):
    assert monitor.duration(seconds) == shown


def test_a_workers_traceback_is_told_by_its_whole_error_without_its_frames():
    """The launch said `worker 1 died (exit code 1): seed, Type: Categorical, Choices: {2}`,
    the second line of ConfigSpace's error, without the error's name or what it meant."""
    message = (
        "Traceback (most recent call last):\n"
        '  File "/site-packages/ConfigSpace/util.py", line 593, in check_configuration\n'
        "    raise ActiveHyperparameterNotSetError(hp)\n"
        "ConfigSpace.exceptions.ActiveHyperparameterNotSetError: Hyperparameter is active but"
        " has no value set.\nseed, Type: Categorical, Choices: {2}, Default: 2\n"
    )
    assert monitor.message_last_line(message) == (
        "ConfigSpace.exceptions.ActiveHyperparameterNotSetError: Hyperparameter is active but"
        " has no value set. seed, Type: Categorical, Choices: {2}, Default: 2"
    )
    indented = 'Traceback (most recent call last):\n  File "x.py", line 1\n    f()\n'
    indented += "ValueError: bad space:\n  x has no value\n"
    assert monitor.message_last_line(indented) == "ValueError: bad space: x has no value"
    assert monitor.message_last_line("run budget used up\n") == "run budget used up"


def test_runs_beyond_the_budget_say_who_may_have_made_them() -> None:
    """`status` said "the earlier launches ran more" of runs a worker started by hand, with
    a larger runcount_limit, had made."""
    assert monitor.runs_done_text(4, 6) == "4 of 6 runs done"
    assert monitor.runs_done_text(4, None) == "4 runs done"
    said = monitor.runs_done_text(10, 6)
    assert said.startswith("10 runs done (more than the run budget of 6") and "by hand" in said
