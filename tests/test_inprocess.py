"""`smac-bridge wrap` run inside the worker leaves what the wrapper process leaves.

The same trial runs both ways, through the worker's TrialRunner: once as the wrapper process
(the local executor) and once in-process (the in-process executor). The run records (status,
quality, reason, extra, exit code, ...) and the run directories' files must be the same, up
to times, pids and the run directory's path; the script must see the same environment. Real
scripts, real signals, real stop requests.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import psutil
import pytest
from conftest import assert_no_survivors, run_cli

from smac_bridge import trials
from smac_bridge.executors import Executor, make_executor
from smac_bridge.executors.inprocess import InProcessExecutor, wrapper_arguments
from smac_bridge.executors.local import LocalExecutor
from smac_bridge.proposal import Proposal
from smac_bridge.protocol import parse_additional, parse_result_line
from smac_bridge.records import RunRecord
from smac_bridge.rundata import RunGroup
from smac_bridge.scenario import Scenario, read_scenario
from smac_bridge.trials import Trial, TrialRunner
from smac_bridge.worker import Worker
from smac_bridge.wrap_options import DEFAULT_GRACE, algo_grace

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "tests" / "targets" / "target.py"
# A script that ignores SIGTERM from its first instruction on (children inherit that), so it
# outlives the wrapper's cutoff and grace however slowly it starts.
STUBBORN = """trap '' TERM
echo $$ >> "$SMAC_BRIDGE_RUN_DIR/pids.txt"
sleep 60
"""
MEASURED = ("started", "ended", "wall_time", "cpu_time", "peak_rss_mb", "runtime")
"""Record and result.json fields that are measurements of this one run."""
RUNTIME = re.compile(r"(Result of this algorithm run: \w+,) [^,]+,")
MEASURED_EXTRA = ("cpu_time", "peak_rss_mb")
"""Additional-data keys that are measurements."""


def project(root: Path, cmd: str, *, cutoff: float = 30, grace: float = 1) -> Scenario:
    """A scenario in ROOT whose algo wraps CMD; the target scripts are copied next to it."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(TARGET, root / "target.py")
    (root / "stubborn.sh").write_text(STUBBORN)
    (root / "space.pcs").write_text("mode {success} [success]\nx [0, 1] [0.25]\n")
    path = root / "demo.txt"
    path.write_text(
        f'algo = smac-bridge wrap --cmd "{cmd}" --grace {grace} --gpus none\n'
        f"execdir = {root}\nparamfile = space.pcs\nrun_obj = quality\n"
        f"cutoff_time = {cutoff}\nruncount_limit = 4\n"
    )
    return read_scenario(path)


def run_trial(
    scenario: Scenario,
    outdir: Path,
    executor: Executor,
    mode: str,
    during: Callable[[Trial], bool] | None = None,
) -> tuple[RunRecord, Trial]:
    """One trial of MODE in a fresh rungroup under OUTDIR; DURING runs while it waits (a
    stop) and says whether the worker must stop the trial now."""
    group = RunGroup(outdir / "demo")
    group.create()
    runner = TrialRunner(scenario, group, executor, worker=1, gpu=None, task_id=0)
    # The runner reads a proposal's config and smac_seed; SMAC3's TrialInfo is the worker's.
    proposal = cast(Any, Proposal)({"mode": mode, "x": 0.25}, None, 0, None, None)
    trial = runner.start("00001", proposal, "no_instance", "0", -1)
    try:
        runner.wait(trial, (lambda: during(trial)) if during is not None else (lambda: False))
    finally:
        trial.handle.request_stop("interrupt")  # a no-op once it ended; never an orphan
        assert trial.thread is not None
        trial.thread.join(60)
    assert_no_survivors(trial.run_dir.path)
    return runner.record(trial), trial


def comparable_record(record: RunRecord) -> dict[str, Any]:
    data = {k: v for k, v in record.items() if k not in MEASURED}
    data["additional"] = comparable_extra(parse_additional(str(record["additional"])))
    return data


def comparable_extra(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if k not in MEASURED_EXTRA}


def run_files(trial: Trial) -> dict[str, Any]:
    """What the run directory holds, with the measurements and the rungroup's path out."""
    folder = trial.run_dir.path
    group = str(folder.parent.parent)
    files: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_dir():
            files[name] = "folder"
            continue
        text = path.read_bytes().decode("utf-8", "replace").replace(group, "<group>")
        if name in ("result.json", "command.json", "env.json"):
            data = json.loads(text)
            if name == "result.json":
                data = {k: v for k, v in data.items() if k not in MEASURED}
                data["additional"] = comparable_extra(parse_additional(data["additional"]))
            if name == "env.json":  # per trial, and the process path's worker marker
                for key in ("AEATK_EXECUTION_UUID", "SMAC_BRIDGE_TREE"):
                    assert data.pop(key)
            files[name] = data
        elif name == "algo_output.log":
            line = parse_result_line(text.strip())
            assert line is not None and text.count("\n") == 1, text
            extra = comparable_extra(parse_additional(line.additional))
            files[name] = (line.status, line.quality, line.seed, extra)
        elif name == "pids.txt":
            files[name] = len(text.split())
        elif name in ("process_output.log", "process_stdout.log"):  # report() times the script
            files[name] = RUNTIME.sub(r"\1 <runtime>,", text)
        else:
            files[name] = text
    return files


def started(trial: Trial) -> bool:
    """Whether the script is up (its pid noted, and for partial_hang its partial report)."""
    folder = trial.run_dir.path
    return (folder / "pids.txt").exists() and (
        trial.proposal.config["mode"] != "partial_hang" or (folder / "result.json").exists()
    )


def stop_request(trial: Trial) -> bool:
    """`smac-bridge stop`: the stop file, once the script runs."""
    if started(trial):
        trial.run_dir.stop_request.touch()
    return False


def interrupt(trial: Trial) -> bool:
    """The worker's Ctrl-C, once the script runs."""
    return started(trial)


CASES = {
    "success": ("target", "env", 30.0, None),
    "extra values": ("target", "report", 30.0, None),
    "failing script": ("target", "raise", 30.0, None),
    "no result": ("target", "nan", 30.0, None),
    "timeout": ("target", "partial_hang", 4.0, None),
    "smac-bridge stop": ("target", "partial_hang", 60.0, stop_request),
    "ctrl-c": ("target", "hang", 60.0, interrupt),
    # the wrapper's grace (3 s) ends past 10 x a cutoff of 0.2 s: it, not the safety kill,
    # ends the run (killed at 2 s, the run was CRASHED where the wrapper had said TIMEOUT)
    "past 10 x the cutoff in its grace": ("stubborn", "hang", 0.2, None),
    # the safety kill itself, brought before the grace's end (its floor set aside)
    "the safety kill": ("stubborn", "hang", 0.2, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_trial_in_process_leaves_what_the_wrapper_process_leaves(
    tmp_path: Path, case: str, monkeypatch
) -> None:
    script, mode, cutoff, during = CASES[case]
    if case == "the safety kill":
        monkeypatch.setattr(trials, "longest_run", lambda cutoff, grace: 10 * cutoff)
    cmd = f"{sys.executable} target.py" if script == "target" else "sh stubborn.sh"
    scenario = project(tmp_path, cmd, cutoff=cutoff, grace=3 if script == "stubborn" else 1)
    inprocess = make_executor(scenario=scenario)
    assert isinstance(inprocess, InProcessExecutor)
    process, process_trial = run_trial(scenario, tmp_path / "a", LocalExecutor(), mode, during)
    inside, inside_trial = run_trial(scenario, tmp_path / "b", inprocess, mode, during)
    assert inside_trial.interrupted == process_trial.interrupted == (during is interrupt)
    if during is not interrupt:
        assert comparable_record(inside) == comparable_record(process)
        assert run_files(inside_trial) == run_files(process_trial)
        # the script's measures, as in-process: not the wrapper process's added to them
        saved = json.loads(process_trial.run_dir.result.read_text())
        if "cpu_time" in saved:  # not the safety kill's, which no wrapper wrote
            measured = (process["cpu_time"], process["peak_rss_mb"])
            assert measured == (saved["cpu_time"], saved["peak_rss_mb"]), (process, saved)
    # else a worker records nothing of the trial; the wrapper process's own result then
    # depends on a race (the worker's SIGTERM reaches the script and the wrapper at once)
    expected = {
        "success": "SAT",
        "extra values": "SAT",
        "failing script": "UNSAT",
        "no result": "UNSAT",
        "timeout": "TIMEOUT",
        "smac-bridge stop": "TIMEOUT",  # its last report was partial: unfinished
        "ctrl-c": "TIMEOUT",
        "past 10 x the cutoff in its grace": "TIMEOUT",
        "the safety kill": "CRASHED",
    }
    assert inside["status"] == expected[case], inside
    killed = inside["additional"].startswith("Run Exceeded Captime")
    assert killed is (case == "the safety kill"), inside
    if case == "smac-bridge stop":
        assert inside["stopped_by_user"] is True
    # the in-process trial named the script's tree, so that a launcher can kill it
    assert inside_trial.handle.pid is not None and inside_trial.handle.marker


def ended(trial: Trial) -> bool:
    """A Ctrl-C that comes as the trial ends: once its wrapper wrote its result."""
    return trial.run_dir.result.exists()


@pytest.mark.parametrize("inside", [False, True], ids=["process", "in-process"])
def test_a_run_that_ended_as_a_stop_came_is_recorded(tmp_path: Path, inside: bool) -> None:
    """A worker whose Ctrl-C came as its trial ended (or while it imported SMAC3 after it
    started the default configuration) dropped the finished run: a resume ran it again."""
    scenario = project(tmp_path, f"{sys.executable} target.py")
    executor = make_executor(scenario=scenario) if inside else LocalExecutor()
    record, trial = run_trial(scenario, tmp_path / "out", executor, "env", ended)
    assert not trial.interrupted
    assert record["status"] == "SAT", record


@pytest.mark.parametrize("inside", [False, True], ids=["process", "in-process"])
def test_a_stop_after_a_partial_report_still_stops_the_run(tmp_path: Path, inside: bool) -> None:
    """A script's partial `report()` writes result.json as well: taken for the wrapper's
    result, the stop was never sent, and a Ctrl-C waited for the training to end."""
    scenario = project(tmp_path, f"{sys.executable} target.py", cutoff=10)
    executor = make_executor(scenario=scenario) if inside else LocalExecutor()
    started = time.monotonic()
    _, trial = run_trial(scenario, tmp_path / "out", executor, "partial_hang", ended)
    assert trial.interrupted
    assert time.monotonic() - started < 8  # stopped, not cut at its cutoff


def test_a_result_a_full_disk_lost_is_no_failure_of_the_configuration(tmp_path: Path) -> None:
    """The wrapper's last write, its result line, failed on a full disk inside its thread:
    the error was dropped, the run recorded CRASHED "no line matched a result line", told
    to SMAC3 as the configuration's failure, and a first run aborted the launch. The error
    now reaches the worker, which dies without recording the run (a resume runs it again)."""
    scenario = project(tmp_path, f"{sys.executable} target.py", cutoff=2, grace=0.5)

    def disk_fills(trial: Trial) -> bool:
        log = trial.run_dir.algo_log
        if not log.is_symlink():
            full = log.with_name("full")
            full.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
            full.replace(log)
        return False

    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    executor = make_executor(scenario=scenario)
    runner = TrialRunner(scenario, group, executor, worker=1, gpu=None, task_id=0)
    proposal = cast(Any, Proposal)({"mode": "hang", "x": 0.25}, None, 0, None, None)
    trial = runner.start("00001", proposal, "no_instance", "0", -1)
    runner.wait(trial, lambda: disk_fills(trial))
    assert trial.thread is not None
    trial.thread.join(60)
    assert_no_survivors(trial.run_dir.path)
    trial.run_dir.algo_log.unlink()  # room again, as after the disk was cleaned
    trial.run_dir.algo_log.touch()
    with pytest.raises(OSError) as caught:
        runner.record(trial)
    assert caught.value.errno == errno.ENOSPC, caught.value


@pytest.mark.parametrize("run_obj", ["quality", "runtime"])
@pytest.mark.parametrize("inside", [False, True], ids=["process", "in-process"])
def test_a_scenario_memory_limit_makes_a_failed_configuration(
    tmp_path: Path, inside: bool, run_obj: str
) -> None:
    """The scenario's limit killed the wrapper process with the script: no result line, a
    run CRASHED "no line matched a result line", and the first one aborted the launch. Over
    its limit a configuration is infeasible, as over the wrapper's own --memory-limit: UNSAT,
    or CRASHED where UNSAT would count as solved (a runtime scenario)."""
    scenario = project(tmp_path, f"{sys.executable} target.py")
    limited = read_scenario(scenario.path, {"memory_limit": "200", "run_obj": run_obj})
    executor = make_executor(scenario=limited) if inside else LocalExecutor()
    record, _ = run_trial(limited, tmp_path / "out", executor, "memory")
    assert record["status"] == ("UNSAT" if run_obj == "quality" else "CRASHED"), record
    assert record["reason"] == "memory limit 200 MB exceeded", record
    assert not record["solved"]


def test_only_a_memory_limits_own_words_mark_a_run_over_it() -> None:
    """A broken script's own reason about a memory option would have spared its crashed
    first run the abort, and run the whole budget."""
    from smac_bridge.records import over_memory

    assert over_memory("memory limit 200 MB exceeded")
    assert over_memory("memory limit 1e+06 MB exceeded")
    assert not over_memory("memory limit option --mem needs a unit, got '4'")
    assert not over_memory(None)


def test_a_first_run_over_the_memory_limit_does_not_abort_a_runtime_launch(tmp_path: Path) -> None:
    """Under run_obj = runtime a run over the limit is CRASHED, and a crashed first run
    aborted the launch as if the script were broken for every configuration."""
    shutil.copy(TARGET, tmp_path / "target.py")
    (tmp_path / "space.pcs").write_text("mode {memory} [memory]\nx [0, 1] [0.25]\n")
    path = tmp_path / "demo.txt"
    path.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} target.py" --runtime-objective\n'
        f"execdir = {tmp_path}\nparamfile = space.pcs\nrun_obj = runtime\ncutoff_time = 30\n"
        "runcount_limit = 2\nmemory_limit = 200\ndeterministic = false\n"
    )
    done = run_cli("launch", str(path), "--outdir", str(tmp_path / "out"), "--quiet",
                   "--gpus", "none", cwd=tmp_path)  # fmt: skip
    said = done.stdout + done.stderr
    assert "aborted" not in said and "ended: run budget used up" in said, said
    records = RunGroup(tmp_path / "out" / "demo").records()
    assert [r["status"] for r in records] == ["CRASHED", "CRASHED"], records
    assert {r["reason"] for r in records} == {"memory limit 200 MB exceeded"}


def test_only_this_installations_wrapper_runs_in_process(tmp_path: Path) -> None:
    here = Path(sys.executable).parent
    python = Path(sys.executable).name
    other = tmp_path / "bin"
    other.mkdir()
    for name in ("smac-bridge", "python"):
        (other / name).write_text("#!/bin/sh\n")
        (other / name).chmod(0o755)
    cases = {
        ("smac-bridge", "wrap", "--cmd", "python t.py"): 2,
        (str(here / "smac-bridge"), "wrap", "--cmd", "python t.py", "--grace", "1"): 2,
        (python, "-m", "smac_bridge.cli", "wrap", "--cmd", "python t.py"): 4,
        (sys.executable, "-m", "smac_bridge.cli", "wrap", "--cmd", "t"): 4,
        (python, "-m", "smac_bridge", "wrap", "--cmd", "t"): 4,  # README's other spelling
        (str(other / "smac-bridge"), "wrap", "--cmd", "python t.py"): None,
        (str(other / "python"), "-m", "smac_bridge.cli", "wrap", "--cmd", "t"): None,
        ("nice", "smac-bridge", "wrap", "--cmd", "python t.py"): None,
        ("smac-bridge", "wrap", "--help"): None,
        ("smac-bridge", "status", "out"): None,
        (python, "-u", "-m", "smac_bridge.cli", "wrap", "--cmd", "t"): None,
        (python, "custom_wrapper.py", "--grace", "2"): None,
        (python, "target.py"): None,
    }
    for algo, expected in cases.items():
        assert wrapper_arguments(algo, tmp_path) == expected, algo
    # an argument that happens to read `smac_bridge wrap` is no wrapper (the module needs -m)
    assert algo_grace("python tool.py --package smac_bridge wrap --grace 60") == DEFAULT_GRACE
    # the launcher gives a stopped trial the wrapper's grace however the algo spells it
    for wrap in (
        "smac-bridge wrap",
        f"{python} -m smac_bridge.cli wrap",
        "python -m smac_bridge wrap",
    ):
        assert algo_grace(f"{wrap} --grace 60 --cmd 'python t.py'") == 60.0, wrap
    scenario = project(tmp_path / "p", "python target.py")
    assert isinstance(make_executor(scenario=scenario), InProcessExecutor)
    limited = read_scenario(scenario.path, {"memory_limit": "2000"})  # the wrapper's, inside
    assert isinstance(make_executor(scenario=limited), InProcessExecutor)


def test_an_executable_custom_wrapper_is_known_by_its_python_line(tmp_path: Path) -> None:
    """`algo = ./wrap.py --grace 30`, an executable custom wrapper, was no wrapper of ours:
    its --grace did not reach the trial's supervisor, which killed its script after 5 s."""
    from smac_bridge.algo_call import runs_our_wrapper, wrapper_grace
    from smac_bridge.scenario import read_scenario

    imports = "from smac_bridge.wrapper import Wrapper\n"
    (tmp_path / "wrap.py").write_text(f"#!/usr/bin/env python3\n{imports}class W(Wrapper): ...\n")
    (tmp_path / "solver").write_text(f"#!/bin/sh\n{imports}class W(Wrapper): ...\n")
    (tmp_path / "space.pcs").write_text("x [0, 1] [0.5]\n")
    for algo, ours, grace in [
        ("./wrap.py --grace 30", True, 30.0),
        (f"{sys.executable} wrap.py --grace 30", True, 30.0),
        ("./solver --grace 30", False, DEFAULT_GRACE),
        ("./missing.py", False, DEFAULT_GRACE),
    ]:
        setting = f"algo = {algo}\nexecdir = {tmp_path}\nparamfile = space.pcs\nrun_obj = quality\n"
        (tmp_path / "s.txt").write_text(setting)
        scenario = read_scenario(tmp_path / "s.txt")
        words = algo.split()
        assert (runs_our_wrapper(scenario, words), wrapper_grace(scenario)) == (ours, grace), algo


def test_a_custom_wrapper_subclass_still_runs_as_its_own_process(tmp_path: Path) -> None:
    for name in ("custom_wrapper_example.py", "quickstart_target.py"):
        shutil.copy(REPO / "scripts" / name, tmp_path / name)
    (tmp_path / "space.pcs").write_text("x [-5, 10] [2.5]\ny [0, 15] [7.5]\n")
    path = tmp_path / "custom.txt"
    path.write_text(
        "algo = python custom_wrapper_example.py --grace 2 --gpus none\n"
        f"execdir = {tmp_path}\nparamfile = space.pcs\nrun_obj = quality\n"
        f"runcount_limit = 2\ndeterministic = true\noutdir = {tmp_path / 'out'}\n"
    )
    scenario = read_scenario(path)
    worker = Worker(scenario, 1)
    assert isinstance(worker.executor, LocalExecutor)
    assert worker.run() == 0, worker.message
    records = RunGroup(tmp_path / "out" / "custom").records()
    assert [r["status"] for r in records] == ["SAT", "SAT"]
    assert all(r["extra"]["loss_source"] == "stdout" for r in records)


def test_a_worker_runs_wrapped_trials_in_process(tmp_path: Path) -> None:
    """A whole worker on a `smac-bridge wrap` algo: each trial's script is a child of the
    worker's own supervisor (through its guard), not of a wrapper process."""
    scenario = project(tmp_path, f"{sys.executable} target.py")
    path = scenario.path
    path.write_text(path.read_text() + f"outdir = {tmp_path / 'out'}\n")
    (tmp_path / "space.pcs").write_text("mode {env} [env]\nx [0, 1] [0.25]\n")
    worker = Worker(read_scenario(path), 1)
    assert isinstance(worker.executor, InProcessExecutor)
    assert worker.run() == 0, worker.message
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.records()
    assert len(records) == 4 and {r["status"] for r in records} == {"SAT"}
    for record in records:
        run_dir = group.run(record["run_id"]).path
        env = json.loads((run_dir / "env.json").read_text())
        assert env["SMAC_BRIDGE_RUN_DIR"] == str(run_dir)
        assert env["SMAC_BRIDGE_ARTIFACTS"] == str(run_dir / "artifacts")
        assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
        assert record["extra"] == {} and record["exit_code"] == 0
        assert_no_survivors(run_dir)
    assert group.running() == []
    deadline = time.monotonic() + 10  # the guards end with their scripts
    while psutil.Process().children():
        assert time.monotonic() < deadline, psutil.Process().children()
        time.sleep(0.05)
