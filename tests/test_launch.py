"""`smac-bridge launch`: real worker processes, real signals, a tiny classic target."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pty
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from ConfigSpace import Configuration
from conftest import (
    IN_A_PID_NAMESPACE,
    REPO,
    can_make_a_pid_namespace,
    default_sigint,
    run_cli,
    smac_bridge_env,
)
from test_worker import write_project

from smac_bridge.launcher import Launch, LaunchOptions, launch
from smac_bridge.pcs import read_pcs
from smac_bridge.recovery import walltime_used
from smac_bridge.rundata import RunGroup, pid_alive, process_token

pytestmark = pytest.mark.slow


def start_launch(
    scenario: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return start_command("launch", scenario, *args, env=env)


def wrapped_project(
    root: Path, script: str, runs: int, script_args: str = "", wrap_options: str = ""
) -> Path:
    """A scenario in ROOT (outdir ROOT/out, rungroup `demo`) of RUNS runs of SCRIPT under
    `smac-bridge wrap WRAP_OPTIONS`, given SCRIPT_ARGS, over one real x; its path."""
    (root / "train.py").write_text(script)
    (root / "space.pcs").write_text("x [0, 1] [0.5]\n")
    cmd = f"{sys.executable} train.py {script_args}".strip()
    scenario = root / "demo.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap {wrap_options} --cmd "{cmd}"\nparamfile = space.pcs\n'
        f"run_obj = quality\nruncount_limit = {runs}\noutdir = {root / 'out'}\n"
    )
    return scenario


def start_command(
    command: str, scenario: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`smac-bridge COMMAND SCENARIO --quiet ARGS` in the scenario's folder, output captured;
    ENV: variables to set on top of the test's environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", command, str(scenario), "--quiet", *args],
        cwd=scenario.parent,
        env=smac_bridge_env() | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str]:
    """The exit code and output of a launch; one still running after TIMEOUT seconds gets
    two Ctrl-Cs (its workers and trials end at once), so that a failing test leaves none
    of its processes behind, and the test fails."""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for _ in range(2):
            process.send_signal(signal.SIGINT)
            time.sleep(1)
        output, _ = process.communicate(timeout=60)
        pytest.fail(f"still running after {timeout} s:\n{output}")
    return process.returncode, output


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def trial_pids(root: Path) -> list[int]:
    return [int(p.name) for p in (root / "pids").iterdir()] if (root / "pids").exists() else []


def assert_exact_budget(group: RunGroup, budget: int) -> None:
    records = group.records()
    ids = [r["run_id"] for r in records]
    assert sorted(ids) == [f"{n:05d}" for n in range(1, budget + 1)], "lost or duplicate run"
    assert group.claimed() == sorted(ids)
    keys = Counter(json.dumps(r["config"], sort_keys=True) for r in records)
    assert max(keys.values()) == 1, "a trial ran twice"


def test_two_workers_share_one_budget_and_each_others_runs(tmp_path):
    scenario = write_project(tmp_path, budget=20, peer=2, options="running-belief = none\n")
    # shared-model mode is what a parallel launch does, without a word in the scenario
    scenario.write_text(scenario.read_text().replace("shared-model-mode = true\n", ""))
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert_exact_budget(group, 20)
    records = group.records()
    by_worker = Counter(r["worker"] for r in records)
    assert set(by_worker) == {1, 2}
    for seed in (1, 2):
        info = group.worker(seed)
        assert info["state"] == "done"
        other = {r["run_id"] for r in records if r["worker"] != seed}
        told = set(info["foreign_run_ids_told"])
        assert told and told <= other
        # before its last ask, the worker's SMAC3 history held runs of the other worker
        assert info["foreign_in_history_at_last_ask"] > 0
        assert info["history_size_at_last_ask"] > info["foreign_in_history_at_last_ask"]
        assert info["running_told"] == 0  # no belief: nothing told before it ended
    launch = group.launch_info()
    assert launch["parallel"] == 2 and launch["seeds"] == [1, 2] and launch["budget"] == 20
    assert "incumbent" in output and str(group.path / "runs") in output
    best = min(records, key=lambda r: r["cost"])
    assert f"{best['quality']:.6g}" in output
    # the same output directory again: an error, not an overwrite
    code, output = finish(start_launch(scenario, "--parallel", "2"))
    assert code == 1 and "--resume" in output and "--set rungroup=NAME" in output
    assert len(group.records()) == 20


def test_by_default_a_worker_tells_what_the_other_is_running(tmp_path):
    scenario = write_project(tmp_path, budget=10, sleep=0.4, peer=2)  # running-belief = mean
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert_exact_budget(group, 10)
    # each ask after the model's first training believes the other worker's running trial
    assert sum(group.worker(seed)["running_told"] for seed in (1, 2)) > 0


def test_kill_9_of_a_worker_then_resume_loses_and_repeats_nothing(tmp_path):
    scenario = write_project(tmp_path, budget=14, sleep=0.4)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(
        lambda: (
            len(group.records()) >= 3
            and any(m["worker"] == 1 for m in group.running())
            and group.worker(2) is not None
        )  # on a busy machine worker 2 may still be starting
    )
    victim = group.worker(1)
    os.kill(victim["pid"], signal.SIGKILL)
    os.kill(launch.pid, signal.SIGKILL)  # the launcher and the other worker die too
    os.killpg(group.worker(2)["pid"], signal.SIGKILL)
    launch.communicate(timeout=30)
    before = {r["run_id"]: r for r in group.records()}
    assert 3 <= len(before) < 14 and group.running()

    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 14)
    after = {r["run_id"]: r for r in group.records()}
    assert all(after[run_id] == record for run_id, record in before.items())
    assert group.running() == []
    wait_for(lambda: not any(pid_alive(pid) for pid in trial_pids(tmp_path)), timeout=10)
    for seed in (1, 2):  # the restarted workers learnt the earlier runs by replay
        assert group.worker(seed)["foreign_runs_told"] > 0


def test_a_worker_that_dies_during_a_launch_counts_its_time_to_its_death(tmp_path):
    """The launch's used wall clock counts up to its workers' last signs of life: a worker
    killed in its trial counted only up to the trial's start (its last heartbeat), and a
    resume got that trial's time again."""
    scenario = write_project(tmp_path, budget=3, sleep=30)
    launch = start_launch(scenario, "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: group.running() and group.worker(1) is not None)
    follow = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "tail", str(tmp_path / "out"), "--follow"],
        env=smac_bridge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3)
    killed_at = time.time()
    os.kill(group.worker(1)["pid"], signal.SIGKILL)
    code, output = finish(launch)
    assert code == 1 and "worker 1 died" in output, output
    _, followed = follow.communicate(timeout=60)  # it ended silently, as if the log had stopped
    assert "==> run 00001 ended unrecorded (its launch stopped, or its worker died)" in followed
    assert group.worker(1)["updated"] >= killed_at
    session = group.launch_info()["session_started"]
    assert walltime_used(group, group.launch_info()) >= killed_at - session


def test_a_resume_warns_of_a_used_budget_and_of_another_algo(tmp_path):
    """A resume whose budget is already used ran nothing and said nothing; one whose algo
    changed mixed two commands' results without a word."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--parallel", "1", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    before = group.launch_info()
    # starting no worker, it warns of no GPU sharing and keeps the earlier session's launch.json
    shared = {"SMAC_BRIDGE_FAKE_GPUS": "1"}
    code, output = finish(start_launch(scenario, "--parallel", "3", "--resume", env=shared))
    assert code == 0 and "runcount_limit = 2 is already used by 2 runs" in output, output
    assert "GPU" not in output and group.launch_info() == before, output
    smaller = ["--parallel", "1", "--resume", "--set", "runcount_limit=1"]
    code, output = finish(start_launch(scenario, *smaller))
    assert code == 0 and "runcount_limit = 1 is already used by 2 runs" in output, output
    status = run_cli("status", str(tmp_path / "out")).stdout  # the last session that ran
    assert "2 of 2 runs done" in status and group.launch_info() == before, status
    scenario.write_text(scenario.read_text().replace(" target.py\n", " -u target.py\n", 1))
    code, output = finish(
        start_launch(scenario, "--parallel", "1", "--resume", "--set", "runcount_limit=3")
    )
    assert code == 0 and "warning: the algo differs from the one the runs" in output, output
    assert "already used" not in output
    assert len(RunGroup(tmp_path / "out" / "demo").records()) == 3
    # runs made without a budget cannot feed a multi-fidelity optimiser: its worker died
    units = ["--set", "budget-flag=epochs", "--set", "min-budget=1", "--set", "max-budget=3"]
    code, output = finish(start_launch(scenario, "--resume", *units))
    assert code == 1, output
    assert "were made without a budget flag: resume with the budget-flag they were" in output


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["worker", "demo.txt", "--seed", "-3"], "'--seed': -3 is not in the range"),
        (["doe", "demo.txt", "--sample", "2", "--seed", "4294967296"], "'--seed': 4294967296"),
        (["launch", "demo.txt", "--seed-offset", "-5"], "'--seed-offset': -5 is not in the"),
        (["launch", "demo.txt", "--set", "seed-offset=-5"], "expected an integer >= 0"),
        (["launch", "demo.txt", "--set", "seed-offset=4294967295"], "the largest seed SMAC3"),
        (["status", "out", "--watch", "--interval", "nan"], "expected a number of seconds"),
        (["status", "out", "--watch", "--interval", "inf"], "expected a number of seconds"),
        (["stop", "out", "00001", "--timeout", "-5"], "'--timeout': -5.0 is not in the range"),
    ],
)
def test_a_seed_or_a_time_out_of_range_is_refused_before_anything_is_made(
    tmp_path, command, expected
):
    """numpy refused such seeds in the workers (a traceback, a failed worker -4 left in the
    rungroup); nan and inf seconds ended status in a traceback."""
    write_project(tmp_path, budget=2)
    (tmp_path / "out").mkdir()
    done = run_cli(*command, cwd=tmp_path)
    assert done.returncode in (1, 2) and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not list((tmp_path / "out").iterdir())


IDENTICAL_TRIALS_TARGET = """
import json, os, sys, time
from pathlib import Path
a = sys.argv[1:]
run_dir = Path(os.environ["SMAC_BRIDGE_RUN_DIR"])
workers = run_dir.parents[1] / "workers"
deadline = time.monotonic() + 60  # the first run waits until the other two workers ask
while run_dir.name == "00001" and time.monotonic() < deadline and sum(
    json.loads(p.read_text() or "{}").get("state") == "running" for p in workers.glob("*.json")
) < 3:
    time.sleep(0.05)
print(f"Result of this algorithm run: SAT, 0.5, 0, {len(a[a.index('-k') + 1])}, 0")
"""


def deterministic_project(root: Path, target: str, pcs: str, runs: int) -> Path:
    """A deterministic scenario in ROOT of the classic TARGET (t.py) over PCS (s.pcs)."""
    (root / "t.py").write_text(target)
    (root / "s.pcs").write_text(pcs)
    scenario = root / "s.txt"
    scenario.write_text(
        f"algo = {sys.executable} t.py\nparamfile = s.pcs\nrun_obj = quality\n"
        f"deterministic = true\nruncount_limit = {runs}\noutdir = out\n"
    )
    return scenario


def test_a_result_taken_for_an_identical_trial_is_no_run_of_its_own(tmp_path):
    """Three workers on a space of three configurations propose the same ones: a worker
    that takes another's result runs nothing, and the launch names each run once."""
    scenario = deterministic_project(tmp_path, IDENTICAL_TRIALS_TARGET, "k {a, bb, ccc} [a]\n", 6)
    code, output = finish(start_launch(scenario, "--parallel", "3", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "s")
    assert len(group.records(include_reused=True)) > len(group.records()) == 3, output
    named = re.findall(r"^run (\d{5}) \(", output, re.MULTILINE)
    # a slot claimed and given back for the trial another worker held may leave a gap
    assert sorted(named) == sorted({r["run_id"] for r in group.records()}), output
    assert "3 runs in" in output and "ended: no configuration left to propose" in output


TWINS_PCS = """\
l integer [2, 3] [2] log
alpha categorical {1e-3} [1e-3]
gamma real [0.5, 500000.0] [0.5] log
w {1} [1]
alpha | l != 2
gamma | alpha != 1e-3 && alpha == 1e-3
w | gamma > 22790.0 && l == 3
"""


def test_a_twin_proposed_while_its_original_ran_on_the_same_worker_is_reused(tmp_path):
    """SMAC3 holds two configurations that differ only in the value of a parameter no
    condition lets be active (`w`), which the script never gets: the twin asked for while
    its original ran was run again, the same training twice in a deterministic scenario."""
    quality = "a = sys.argv[1:]\nq = int(a[a.index('-l') + 1])"
    line = 'print(f"Result of this algorithm run: SAT, 0.1, 0, {q}, 0")'
    scenario = deterministic_project(tmp_path, f"import sys\n{quality}\n{line}\n", TWINS_PCS, 8)
    code, output = finish(start_launch(scenario, "--parallel", "1", "--gpus", "none"))
    assert code == 0, output
    configs = [
        json.dumps(r["config"], sort_keys=True) for r in RunGroup(tmp_path / "out" / "s").records()
    ]
    assert sorted(configs) == sorted(set(configs)) and len(configs) == 2, output
    assert "ended: no configuration left to propose" in output


def test_the_largest_seed_offset_smac3_takes_is_launched(tmp_path):
    """The last worker's seed may be SMAC3's largest, 2**32 - 1, and no more (above)."""
    scenario = write_project(tmp_path, budget=1)
    offset = ["--set", "seed-offset=4294967294", "--gpus", "none"]
    code, output = finish(start_launch(scenario, *offset))
    assert code == 0, output
    assert [w["seed"] for w in RunGroup(tmp_path / "out" / "demo").workers()] == [4294967295]


def test_more_workers_than_runs_start_as_many_as_runs(tmp_path):
    """--parallel 1000 for one run started 1000 workers; a design of 2 rows got 4."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--parallel", "5", "--gpus", "none"))
    assert code == 0, output
    assert "--parallel 5 is more than the 2 runs left of runcount_limit = 2: 2 workers" in output
    assert sorted(w["seed"] for w in RunGroup(tmp_path / "out" / "demo").workers()) == [1, 2]
    more = ["--resume", "--set", "runcount_limit=3", "--parallel", "2"]
    code, output = finish(start_launch(scenario, *more))
    assert code == 0 and "is more than the 1 run left of runcount_limit = 3: 1 worker" in output
    design = ["--sample", "2", "--parallel", "4", "--outdir", str(tmp_path / "doe")]
    done = run_cli("doe", str(scenario), *design, "--gpus", "none", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(RunGroup(tmp_path / "doe" / "demo-doe").workers()) == 2


def test_a_damaged_launch_json_is_said_and_its_bad_values_left_out(tmp_path):
    """A launch.json edited by hand ("budget": "abc") made status and report end in a
    TypeError; a truncated one made a resume run one worker, not the earlier two, without a
    word, and later one that skipped its checks (a changed run_obj was taken) with a
    warning. The views leave a bad value out; a resume is refused until the file is
    repaired or removed."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    info = group.launch_info()
    group.layout.launch.write_text(json.dumps({**info, "budget": "abc", "budget_limit": "x"}))
    status = run_cli("status", str(tmp_path / "out"))
    assert status.returncode == 0 and "2 runs done" in status.stdout, status.stderr
    report = run_cli("report", str(tmp_path / "out"), "--html", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    more = ["--resume", "--set", "runcount_limit=3"]
    code, output = finish(start_launch(scenario, *more))
    assert code == 1 and "launch.json: damaged (values of the wrong kind: budget," in output
    group.layout.launch.write_text(json.dumps(info)[:50])
    code, output = finish(start_launch(scenario, *more, "--set", "run_obj=runtime"))
    assert code == 1 and "launch.json: damaged (no JSON object): a resume could" in output
    assert "repair it, or remove it to resume without them" in output
    assert len(group.records()) == 2
    group.layout.launch.unlink()
    code, output = finish(start_launch(scenario, *more))
    assert code == 0 and len(group.records()) == 3, output


def test_a_resume_keeps_the_earlier_launchs_set_options_unless_given_again(tmp_path):
    """Ctrl-C says "continue with --resume": the launch continues as it was launched, with
    its --set options (here its cutoff), not the scenario file's values, and says so."""
    scenario = write_project(tmp_path, budget=2)
    first = ["--parallel", "1", "--gpus", "none", "--set", "cutoff_time=5", "--seed-offset", "10"]
    code, output = finish(start_launch(scenario, *first, "--set", "runcount_limit=2"))
    assert code == 0, output
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount-limit=3"))
    assert code == 0, output
    assert (
        "resuming with the earlier launch's --gpus none, --set cutoff_time=5, --seed-offset 10"
        " (give" in output
    ), output
    assert "runcount_limit=2" not in output  # given again (in another spelling)
    assert "cutoff_time" not in output.split("resuming with")[0]  # the same cutoff: no warning
    group = RunGroup(tmp_path / "out" / "demo")
    assert [(r["cutoff"], r["worker"]) for r in group.records()] == [(5.0, 11)] * 3
    # launch.json as an older smac-bridge wrote it: the --set options among its own overrides
    info = group.launch_info()
    older = {key: value for key, value in info.items() if key not in ("sets", "gpus_asked")}
    older["overrides"] = {**info["overrides"], "outdir": str(tmp_path / "out")}
    group.write_launch_info(older)
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=4"))
    assert code == 0 and "resuming with the earlier launch's --set cutoff_time=5" in output, output
    assert [(r["cutoff"], r["worker"]) for r in group.records()] == [(5.0, 11)] * 4
    # the file edited since: the kept option still wins, and the line it overrides is named
    scenario.write_text(scenario.read_text() + "cutoff_time = 7\n")
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5"))
    assert code == 0 and "--set cutoff_time=5 (over the file's `cutoff_time = 7`)" in output
    assert [r["cutoff"] for r in group.records()] == [5.0] * 5


def test_a_resume_keeps_the_earlier_launchs_number_of_workers(tmp_path):
    """`launch --resume` (and doe.md's `doe --resume`) after `--parallel 2` went on with one
    worker, the default, without a word; and after a resume that started one worker for the
    one run left, every later resume went on with one."""
    scenario = write_project(tmp_path, budget=2, peer=2)
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=3"))
    assert code == 0 and "--parallel 2 is more than the 1 run left" in output, output
    assert group.launch_info()["seeds"] == [1]
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5"))
    assert code == 0, output
    assert "resuming with the earlier launch's --parallel 2, --gpus none (give" in output, output
    assert group.launch_info()["parallel"] == 2 and group.launch_info()["seeds"] == [1, 2]
    code, output = finish(
        start_launch(scenario, "--resume", "--parallel", "1", "--set", "runcount_limit=6")
    )
    assert code == 0 and "--parallel 2" not in output, output
    assert group.launch_info()["parallel"] == 1
    assert len(group.records()) == 6


def test_a_resume_with_another_cutoff_says_so(tmp_path):
    """Runs cut at 5 s and runs given 60 s are compared as one: the resume took a changed
    cutoff_time without a word."""
    scenario = write_project(tmp_path, budget=1, options="cutoff_time = 5\n")
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    again = ["--resume", "--set", "runcount_limit=2", "--set", "cutoff_time=60"]
    code, output = finish(start_launch(scenario, *again))
    assert code == 0, output
    assert "warning: cutoff_time (60 s) differs from that of earlier runs in" in output
    assert "(5 s); their results and the new runs' are compared as one" in output


def test_a_resume_refuses_another_run_obj_and_warns_of_another_determinism(tmp_path):
    """A resume with run_obj = runtime took the new runs' seconds as costs beside the earlier
    qualities, and made a 2-second run the incumbent; one that changed `deterministic` mixed
    runs of one seed with seeded runs. Neither said a word. Back to deterministic = true, the
    new runs on seed -1 alone could never match the earlier seeds: refused."""
    scenario = write_project(tmp_path, budget=1)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    runtime = ["--resume", "--set", "runcount_limit=2", "--set", "run_obj=runtime"]
    code, output = finish(start_launch(scenario, *runtime))
    assert code == 1, output
    assert "were made with run_obj = quality, and this scenario says runtime" in output
    assert len(group.records()) == 1 and group.launch_info()["run_obj"] == "quality"
    seeded = ["--resume", "--set", "runcount_limit=2", "--set", "deterministic=false"]
    code, output = finish(start_launch(scenario, *seeded))
    assert code == 0, output
    assert "warning: deterministic = false differs from the earlier launch of" in output
    assert len(group.records()) == 2
    one_seed = ["--resume", "--set", "runcount_limit=3", "--set", "deterministic=true"]
    code, output = finish(start_launch(scenario, *one_seed))
    assert code == 1, output
    assert "were made with deterministic = false (a seed of their own each)" in output
    assert len(group.records()) == 2 and group.launch_info()["deterministic"] is False


def test_a_resume_keeps_a_required_key_given_only_with_set(tmp_path):
    """A scenario file without its paramfile, launched with `--set paramfile=...` (one
    scenario, several spaces): the resume finds the rungroup and the earlier --set without
    the paramfile given again."""
    scenario = write_project(tmp_path, budget=2)
    scenario.write_text(scenario.read_text().replace("paramfile = space.pcs\n", ""))
    first = ["--parallel", "1", "--gpus", "none", "--set", "paramfile=space.pcs"]
    code, output = finish(start_launch(scenario, *first, "--set", "rungroup=wide"))
    assert code == 0, output
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=3"))
    assert code == 1 and "missing required key 'paramfile'" in output, output  # not this one

    code, output = finish(
        start_launch(scenario, "--resume", "--set", "runcount_limit=3", "--set", "rungroup=wide")
    )
    assert code == 0, output
    assert "--set paramfile=space.pcs" in output, output
    assert len(RunGroup(tmp_path / "out" / "wide").records()) == 3


@pytest.mark.parametrize("facade", ["hpo", "blackbox", "random"])
def test_every_facade_shares_runs_resumes_and_keeps_the_budget(tmp_path, facade):
    """The model changes, the loop does not: shared runs, the asker's reserve (two proposals
    with the forest, one otherwise), a crash and a resume, and the exact budget."""
    scenario = write_project(
        tmp_path,
        budget=12,
        sleep=0.3,
        options=f"smac-facade = {facade}\n",
        pcs="x [-5, 10] [2.5]\ny [0, 15] [7.5]\nkind {a, b, c} [b]\n",
    )
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    # on a busy machine one worker may still be starting when the other has run four
    wait_for(lambda: len(group.records()) >= 4 and len(group.workers()) == 2)
    os.kill(launch.pid, signal.SIGKILL)
    for seed in (1, 2):  # its guard may have stopped it already, noticing the launcher's end
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group.worker(seed)["pid"], signal.SIGKILL)
    launch.communicate(timeout=30)
    before = {r["run_id"]: r for r in group.records()}
    assert 4 <= len(before) < 12

    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 12)
    after = {r["run_id"]: r for r in group.records()}
    assert all(after[run_id] == record for run_id, record in before.items())
    assert {r["config"]["kind"] for r in after.values()} <= {"a", "b", "c"}
    for seed in (1, 2):
        info = group.worker(seed)
        assert info["facade"] == facade and info["state"] == "done"
        assert info["foreign_runs_told"] > 0


def test_a_resume_right_after_a_kill_9_of_the_launcher_waits_for_its_workers(tmp_path):
    """The workers of a launcher killed with SIGKILL stop by themselves within seconds; a
    resume in that time was refused ("another launch of this rungroup still runs"), for a
    launch that no longer existed; while it does exist, a resume is refused so. (Trials of
    10 s: under load the resume's own start-up outlasted a first launch of 4 s trials.)"""
    scenario = write_project(tmp_path, budget=3, sleep=10)
    behaviour = tmp_path / "behaviour.json"
    behaviour.write_text(json.dumps({**json.loads(behaviour.read_text()), "ignore_term": True}))
    first = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(group.running()) == 2, timeout=120)
    code, output = finish(start_launch(scenario, "--gpus", "none", "--resume"))
    assert code == 1, output
    assert "another launch of this rungroup still runs (its worker" in output, output
    code, output = finish(start_launch(scenario, "--gpus", "none"))  # told --resume, refused
    assert code == 1, output
    assert "with --resume once the launch that runs it now has ended (its worker" in output
    first.kill()
    first.communicate(timeout=30)
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none", "--resume"))
    assert code == 0, output
    assert "another launch of this rungroup still runs" not in output
    assert_exact_budget(group, 3)


def test_sigint_stops_everything_with_exit_130_and_resume_finishes(tmp_path):
    scenario = write_project(tmp_path, budget=6, sleep=30)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(trial_pids(tmp_path)) >= 2 and len(group.running()) == 2)
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=60)
    assert code == 130, output
    assert "resume" in output
    assert not any(pid_alive(pid) for pid in trial_pids(tmp_path))
    assert not any(pid_alive(w["pid"]) for w in group.workers())
    assert group.records() == [] and group.claimed() == [] and group.running() == []
    assert {w["state"] for w in group.workers()} == {"stopped"}
    for run_id in ("00001", "00002"):  # what `tail` shows until the resume
        assert (group.run(run_id).path / "algo_output.log").exists()

    (tmp_path / "behaviour.json").write_text(json.dumps({"mode": "ok", "sleep": 0.05}))
    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 6)
    # the resume's re-runs of those slots removed what the stopped trials left (their logs,
    # a checkpoint): it is kept beside them
    kept = sorted((group.path / "runs").glob("*.stopped-*"))
    assert [path.name[:5] for path in kept] == ["00001", "00002"], kept
    assert all((path / "algo_output.log").exists() for path in kept)


def test_a_sigterm_to_every_process_at_once_loses_no_run(tmp_path):
    """systemd (KillMode=control-group), Slurm's scancel and a container's stop signal the
    launcher, its workers and their trials at once: a trial killed by that SIGTERM before
    its wrapper's own stop was recorded as a failed run (UNSAT "killed by SIGTERM"), SMAC3
    was told its configuration failed, and a resume never ran it."""
    sleep = tmp_path / "sleep"
    sleep.write_text("30")
    script = f"import time; time.sleep(float(open({str(sleep)!r}).read())); print(0.5)"
    scenario = wrapped_project(tmp_path, script, runs=4)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(group.running()) == 2 and all(m.get("trial_pid") for m in group.running()))
    time.sleep(1)  # the scripts run
    everyone = [launch.pid, *(p.pid for p in psutil.Process(launch.pid).children(recursive=True))]
    for pid in everyone:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    code, output = finish(launch, timeout=60)
    assert code == 130, output
    assert group.records() == [], output
    assert sorted(group.owing()) == ["00001", "00002"]
    assert not any(pid_alive(p) for p in everyone)

    sleep.write_text("0")
    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 4)
    assert {r["status"] for r in group.records()} == {"SAT"}


@pytest.mark.skipif(not can_make_a_pid_namespace(), reason="needs unshare --pid (root)")
def test_a_container_started_again_resumes_the_runs_of_the_one_before(tmp_path):
    """A container that shares the host's name (docker --network host) killed and started
    again has a new PID namespace: its resume took the dead workers of the one before for
    another host's, kept their claims, and waited for their runs for good."""
    sleep = tmp_path / "sleep"
    sleep.write_text("30")
    script = f"import time; time.sleep(float(open({str(sleep)!r}).read())); print(0.5)"
    scenario = wrapped_project(tmp_path, script, runs=4)
    group = RunGroup(tmp_path / "out" / "demo")
    command = [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
    first = subprocess.Popen(
        [*IN_A_PID_NAMESPACE, *command, "--parallel", "2"], cwd=tmp_path, env=smac_bridge_env()
    )
    other = subprocess.Popen([*IN_A_PID_NAMESPACE, "sleep", "300"])  # the namespace stays taken
    try:
        wait_for(lambda: len(group.running()) == 2)
        first.kill()  # the container is gone: its namespace's init and all in it
        first.wait()
        sleep.write_text("0")
        code, output = finish(
            subprocess.Popen(
                [*IN_A_PID_NAMESPACE, *command, "--resume"],
                cwd=tmp_path,
                env=smac_bridge_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
            timeout=120,
        )
    finally:
        other.kill()
        other.wait()
    assert code == 0, output
    assert_exact_budget(group, 4)


def test_a_record_file_moved_away_during_a_launch_is_said_and_its_new_runs_announced(
    tmp_path,
):
    """A record file moved away while its worker went on in a new one cut the launcher (and
    the other worker) off from it: runs recorded there were never announced, without a
    word."""
    scenario = write_project(tmp_path, budget=10, sleep=0.5)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    path = group.layout.records(1)
    wait_for(lambda: path.exists() and len(path.read_bytes().splitlines()) >= 2)
    os.replace(path, tmp_path / "moved.jsonl")
    code, output = finish(launch)
    assert code == 0, output
    said = " ".join(output.split())
    assert f"warning: {path} was replaced or cut short while the launch ran" in said, output
    for line in path.read_text().splitlines():  # those its worker wrote after the move
        assert f"run {json.loads(line)['run_id']} (worker 1)" in output, output


def test_a_resume_runs_again_the_trial_a_ctrl_c_stopped(tmp_path):
    """A resumed Ray Tune or Optuna study runs its unfinished trials: the resume ran the
    stopped trial's slot with whatever SMAC3 proposed then, and the model's proposal that had
    trained for most of its time was never run."""
    scenario = write_project(tmp_path, budget=7, sleep=0.05)
    launch = start_launch(scenario, "--parallel", "1", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(group.records()) >= 4)  # past the initial design: the model proposes
    (tmp_path / "behaviour.json").write_text(json.dumps({"mode": "ok", "sleep": 30}))
    wait_for(lambda: [m for m in group.running() if time.time() - m["started"] > 1])
    (stopped,) = group.running()
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=60)
    assert code == 130, output
    followed = run_cli("tail", str(tmp_path / "out"), stopped["run_id"], "--follow", timeout=60)
    assert followed.returncode == 0, followed.stderr  # it ended, and says how
    assert f"==> run {stopped['run_id']} ended unrecorded (its launch stopped" in followed.stderr
    shown = json.loads(run_cli("status", str(tmp_path / "out"), "--json").stdout)
    (picture,) = shown["rungroups"]  # the user sees what a resume will run again
    assert picture["to_run_again"] == [stopped["run_id"]]
    assert "1 stopped before their end, to run again" in picture["summary"]
    (tmp_path / "behaviour.json").write_text(json.dumps({"mode": "ok", "sleep": 0.05}))
    code, output = finish(start_launch(scenario, "--parallel", "1", "--gpus", "none", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 7)
    (rerun,) = [r for r in group.records() if r["run_id"] == stopped["run_id"]]
    assert (rerun["config"], rerun["smac_seed"]) == (stopped["config"], stopped["smac_seed"])
    assert not list(group.layout.slots.glob("*.owed"))  # it owes nothing any more


# A training that, stopped, evaluates what it reached for EVALUATE seconds and reports it (as
# the MNIST example does within its wrapper's --grace 60); its pid goes into PIDS.
SLOW_TO_REPORT = """
import argparse, os, signal, sys, time
from pathlib import Path
parser = argparse.ArgumentParser()
parser.add_argument("--evaluate", type=float)
parser.add_argument("--pids")
args, _ = parser.parse_known_args()
def report(*_):
    time.sleep(args.evaluate)
    (Path(args.pids).parent / f"reported-{os.getpid()}").touch()
    print(0.5, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
(Path(args.pids) / str(os.getpid())).touch()
time.sleep(600)
"""


def slow_to_report_project(
    root: Path, grace: float, evaluate: float, before: str = ""
) -> tuple[Path, Path]:
    """A scenario whose wrapper (after BEFORE, such as `nice`) gives its script GRACE seconds
    to stop, for a script that takes EVALUATE seconds to report once stopped (it then leaves
    `reported-<pid>` in ROOT); the scenario and the scripts' pid folder."""
    pids = root / "pids"
    pids.mkdir(parents=True)
    cmd = f"{sys.executable} train.py --evaluate {evaluate} --pids {pids}"
    files = {
        "train.py": SLOW_TO_REPORT,
        "space.pcs": "x [0, 1] [0.5]\n",
        "demo.txt": f'algo = {before}smac-bridge wrap --grace {grace} --cmd "{cmd}"\n'
        f"paramfile = space.pcs\nrun_obj = quality\nruncount_limit = 3\noutdir = {root / 'out'}\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root / "demo.txt", pids


def test_a_ctrl_c_gives_a_trial_its_wrappers_grace_and_a_second_one_kills_it(tmp_path):
    """The launcher gave its workers 20 s to stop whatever their trials' grace: a script
    that used the 60 s the MNIST scenarios give it to report what it reached had its worker
    killed, and the run was "lost" with a warning. A second Ctrl-C does not wait."""
    scenario, pids = slow_to_report_project(tmp_path / "patient", grace=40, evaluate=24)
    launch = start_launch(scenario, "--parallel", "1", "--gpus", "none")
    group = RunGroup(tmp_path / "patient" / "out" / "demo")
    wait_for(lambda: any(pids.iterdir()) and group.running())
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=120)
    assert code == 130, output
    assert "up to 55 s for the trials' grace, Ctrl-C again kills them now" in output, output
    assert "lost" not in output and [w["state"] for w in group.workers()] == ["stopped"]
    assert group.records() == [] and group.claimed() == [] and group.running() == []
    assert not any(".lost-" in path.name for path in group.layout.runs.iterdir())

    scenario, pids = slow_to_report_project(tmp_path / "impatient", grace=40, evaluate=24)
    launch = start_launch(scenario, "--parallel", "1", "--gpus", "none")
    group = RunGroup(tmp_path / "impatient" / "out" / "demo")
    wait_for(lambda: any(pids.iterdir()) and group.running())  # what the launcher kills
    launch.send_signal(signal.SIGINT)
    time.sleep(2)
    started = time.monotonic()
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=120)
    assert code == 130 and time.monotonic() - started < 15, output
    wait_for(lambda: not any(pid_alive(int(path.name)) for path in pids.iterdir()), timeout=15)


LEAVES_A_HELPER = """
import os, subprocess, sys, time
from pathlib import Path
helper = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
subprocess.Popen([sys.executable, "-c", helper])  # a data loader that outlives the training
print(0.25, flush=True)
(Path(sys.argv[sys.argv.index("--done") + 1]) / str(os.getpid())).touch()
"""


def test_a_ctrl_c_while_a_finished_scripts_helpers_take_their_grace_keeps_its_result(tmp_path):
    """The script had printed its quality and ended; its helper, ignoring SIGTERM, held the
    wrapper in its grace when the Ctrl-C came: the result was thrown away and a resume
    trained the configuration again. `smac-bridge stop` in the same moment recorded it."""
    done = tmp_path / "done"
    done.mkdir()
    scenario = wrapped_project(tmp_path, LEAVES_A_HELPER, 2, f"--done {done}", "--grace 6")
    launch = start_launch(scenario, "--parallel", "1", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: any(done.iterdir()))
    time.sleep(1)  # the script has ended; its helper is in its grace
    assert group.running() and not group.records()
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=120)
    assert code == 130, output
    (record,) = group.records()
    assert (record["status"], record["quality"]) == ("SAT", 0.25), record
    assert group.claimed() == ["00001"] and not list(group.layout.slots.glob("*.owed"))


# A custom wrapper running SLOW_TO_REPORT's command, ARGV.
SLOW_TO_REPORT_WRAPPER = """
from smac_bridge.wrapper import Wrapper

class SlowToReport(Wrapper):
    def build_command(self, call):
        return {argv!r}

if __name__ == "__main__":
    SlowToReport.main()
"""


@pytest.mark.parametrize("how", ["nice", "custom wrapper"])
def test_a_ctrl_c_gives_a_trial_run_as_a_process_its_wrappers_grace(tmp_path, how):
    """A wrapper run as a process (after `nice`, with a memory_limit, on Dask; a custom
    wrapper) ran under a supervisor whose own grace was 5 s: a Ctrl-C SIGKILLed the script
    5 s after its SIGTERM, whatever the wrapper's --grace gave it to report what it reached."""
    scenario, pids = slow_to_report_project(tmp_path, grace=15, evaluate=8, before="nice ")
    if how == "custom wrapper":
        text = scenario.read_text()
        argv = shlex.split(text.split('--cmd "')[1].split('"')[0])
        (tmp_path / "cwrap.py").write_text(SLOW_TO_REPORT_WRAPPER.format(argv=argv))
        algo = f"algo = {sys.executable} cwrap.py --grace 15\n"
        scenario.write_text(algo + text.split("\n", 1)[1])
    launch = start_launch(scenario, "--parallel", "1", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: any(pids.iterdir()) and group.running())
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=120)
    assert code == 130, output
    assert [path.name.split("-")[1] for path in tmp_path.glob("reported-*")] == [
        path.name for path in pids.iterdir()
    ]
    assert group.claimed() == [] and group.running() == []


def test_a_kill_9_of_the_launcher_still_gives_a_trial_its_wrappers_grace(tmp_path):
    """A launcher that dies leaves its workers to their guards, which SIGKILLed a worker
    20 s after they told it to stop, whatever its trials' grace: a script that used its
    wrapper's --grace 40 to report what it reached was killed with its worker, and the run
    was lost. The guards now wait as long as the scenario's wrapper grace asks."""
    scenario, pids = slow_to_report_project(tmp_path, grace=40, evaluate=24)
    launch = start_launch(scenario, "--parallel", "1", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: any(pids.iterdir()) and group.running())
    worker = group.worker(1)
    launch.kill()
    launch.communicate(timeout=30)
    wait_for(lambda: not pid_alive(worker["pid"], worker["pid_start"]), timeout=90)
    assert group.worker(1)["state"] == "stopped"  # not killed in its stop
    assert group.claimed() == [] and group.running() == []
    assert not any(pid_alive(int(path.name)) for path in pids.iterdir())


@pytest.mark.parametrize(
    ("grace", "waits"),
    [("60", 75.0), ("10" + "0" * 400, 20.0), ("-7", 20.0), ("1e400", 20.0), ("true", 20.0)],
)
def test_a_grace_edited_by_hand_or_another_launchs_run_never_fails_a_ctrl_c(tmp_path, grace, waits):
    """A grace too large for a float in a running trial's command.json (edited by hand)
    made the Ctrl-C crash the launcher with OverflowError before it signalled a worker, and
    so did a marker of another launch whose run folder leads out of the rungroup; the
    trials lost their grace and left their markers behind. An unreadable grace counts as
    the default, and only this launch's trials are asked."""
    scenario = write_project(tmp_path, budget=4)
    run = Launch(LaunchOptions(scenario, parallel=1, gpus="none", outdir=str(tmp_path / "out")))
    group = run.group
    group.create()
    group.mark_running({"run_id": "00001", "worker": 1})
    group.run("00001").path.mkdir(parents=True)
    group.run("00001").command.write_text(f'{{"grace": {grace}}}')
    group.mark_running({"run_id": "00099", "worker": 7})
    (tmp_path / "elsewhere").mkdir()
    group.run("00099").path.symlink_to(tmp_path / "elsewhere")
    assert run.stop_time() == waits


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_launch_starts_stops_it_with_exit_130(tmp_path, signal_number):
    """Ctrl-C, SIGTERM or SIGHUP (its terminal closed) in the seconds a launch spends starting
    its workers (SMAC3's import, the forks) ends it as later: exit 130, nothing left running,
    and --resume finishes. A SIGHUP killed it (129) without its summary."""
    scenario = write_project(tmp_path, budget=4, sleep=30)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: group.layout.launch.exists(), timeout=60)
    launch.send_signal(signal_number)
    code, output = finish(launch, timeout=60)
    assert code == 130, output
    assert "stopped" in output and "Aborted" not in output
    assert (
        "launched 0 workers" not in output
        and "stopping the workers" in output
        or ("stopped before any worker started" in output)
    ), output
    assert not any(pid_alive(pid) for pid in trial_pids(tmp_path))
    assert not any(pid_alive(w["pid"]) for w in group.workers())
    assert group.records() == [] and group.running() == []
    (tmp_path / "behaviour.json").write_text(json.dumps({"mode": "ok", "sleep": 0.05}))
    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 4)


def test_a_launch_whose_reader_is_gone_or_whose_hangup_is_ignored_finishes(tmp_path):
    """A launch piped into `head`, or sent to the background and its terminal closed (a
    logout with the job disowned): its next line failed (EPIPE, EIO), which ended it halfway
    through its budget, exit 1, its workers stopped. Under `nohup` (SIGHUP ignored) a hangup
    is no stop either. Each goes on to the end of its budget."""
    scenario = write_project(tmp_path, budget=6, sleep=0.5)
    launch = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--gpus", "none"]
        + ["--parallel", "2"],
        cwd=tmp_path, env=smac_bridge_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    assert launch.stdout is not None and "launched" in launch.stdout.readline()
    launch.stdout.close()  # the reader goes, as `head -1` does
    launch.send_signal(signal.SIGHUP)
    assert launch.wait(timeout=300) == 0
    assert_exact_budget(RunGroup(tmp_path / "out" / "demo"), 6)


def test_a_hangup_stops_a_worker_started_by_hand_as_ctrl_c_does(tmp_path):
    """A worker started by hand over ssh died at once when the session closed, as if
    SIGKILLed: its trial's slot and running marker stayed behind, and status showed a lost
    run. It stops as on Ctrl-C: exit 130, its slot given back for a resume."""
    scenario = write_project(tmp_path, budget=4, sleep=30)
    worker = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"],
        cwd=tmp_path, env=smac_bridge_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    group = RunGroup(tmp_path / "out" / "demo")
    try:
        wait_for(lambda: len(group.running()) == 1, timeout=120)
        worker.send_signal(signal.SIGHUP)
        output, _ = worker.communicate(timeout=120)
    finally:
        worker.kill()
    assert worker.returncode == 130, output
    assert group.worker(1)["state"] == "stopped"
    assert group.running() == [] and group.claimed() == [] and group.records() == []


@pytest.mark.parametrize("command", [["launch"], ["doe", "--sample", "2"]])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_ctrl_c_while_the_launch_imports_exits_130(tmp_path, command, stop):
    """Ctrl-C in the first moments, before the launch (or a design) handles its signals,
    ended with click's "Aborted!" and exit code 1, not as a stop (130); a SIGTERM or closed
    terminal killed a design silently while it read its files (0.9 s). Signals at growing
    delays: one that lands while Python still imports the package itself is too early for
    any handler (its traceback names runpy, or site while Python starts), and one before
    Python set its own handler (SIGINT), or before smac-bridge's first line (SIGTERM, in its
    first half second), kills it silently (no output); the others must end with 130."""
    landed, delay = 0, 0.1
    while landed < 3 and delay < 3.0:
        root = tmp_path / f"{delay:.2f}"
        scenario = write_project(root, budget=2, sleep=5)
        launch = subprocess.Popen(
            [sys.executable, "-m", "smac_bridge.cli", command[0], str(scenario), *command[1:]]
            + ["--gpus", "none"],
            cwd=root,
            env=smac_bridge_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=default_sigint,
        )
        time.sleep(delay)
        launch.send_signal(stop)
        code, output = finish(launch, timeout=120)
        if "<frozen runpy>" in output or "<frozen site>" in output:
            delay *= 1.5
            continue  # before smac-bridge's first line ran (a loaded machine starts slowly)
        silent = code == -stop and not output.strip()
        if silent and (stop == signal.SIGINT or delay < 0.5):
            delay *= 1.5
            continue  # before Python itself handled SIGINT, or smac-bridge SIGTERM
        delay *= 1.5
        assert code == 130 and "Aborted" not in output, output
        landed += 1
    assert landed, "every signal came before the package was imported"


def test_a_ctrl_c_whose_exit_was_lost_still_stops_the_launch(tmp_path, capsys):
    """cli.py's first handler raises SystemExit(130), which CPython can lose when C code that
    clears errors was running Python code: CI once printed "stopped (SIGINT)" and then ran
    the whole launch to exit 0. The launch now looks at the signals that handler took."""
    from smac_bridge import cli, errors

    scenario = write_project(tmp_path, budget=4)
    options = LaunchOptions(scenario, parallel=2, gpus="none", outdir=str(tmp_path / "out"))
    run = Launch(options)
    try:
        with pytest.raises(SystemExit):  # the exit CPython lost, caught here instead
            cli._stopped(signal.SIGINT, None)
        assert launch(run) == 130
    finally:
        errors.EARLY_STOPS.clear()
    said = capsys.readouterr().out
    assert "stopped before any worker started (SIGINT)" in said, said


def test_a_ctrl_c_once_every_worker_ended_the_launch_is_no_stop(tmp_path, capsys):
    """A Ctrl-C after the workers had used the run budget up (before the launch saw them
    end) ended the launch with 130 and "stopped; continue with --resume": the resume then
    had nothing to run."""
    scenario = write_project(tmp_path, budget=2)
    options = LaunchOptions(scenario, parallel=2, gpus="none", outdir=str(tmp_path / "out"))
    run = Launch(options)
    assert launch(run) == 0
    capsys.readouterr()
    run.note_signal(signal.SIGINT, None)  # the watch's next step sees the workers' ends
    said: list[str] = []
    assert run._step(said.append) == 0 and not said
    assert "stopped" not in run.summary(0)


def test_a_stop_before_the_first_worker_says_so(tmp_path, capsys):
    """A Ctrl-C noted while the launch prepares (the handler runs note_signal) starts no
    worker; the launch says it stopped before any, not that it launched 0 workers."""
    scenario = write_project(tmp_path, budget=4)
    options = LaunchOptions(scenario, parallel=2, gpus="none", outdir=str(tmp_path / "out"))
    run = Launch(options)
    run.note_signal(signal.SIGTERM, None)
    run.note_signal(signal.SIGINT, None)  # a second signal does not rename the stop
    assert launch(run) == 130
    said = capsys.readouterr().out
    assert "stopped before any worker started (SIGTERM)" in said, said
    assert "launched" not in said and "stopping the workers" not in said, said
    assert RunGroup(tmp_path / "out" / "demo").workers() == []
    again = Launch(LaunchOptions(scenario, gpus="none", outdir=str(tmp_path / "out"), resume=True))
    again.note_signal(signal.SIGINT, None)  # the same process (a notebook) launches again:
    assert launch(again) == 130  # the first launch's lock is not held against it
    assert "another launch" not in capsys.readouterr().out


def test_a_launch_stopped_before_its_first_worker_can_be_launched_again(tmp_path, capsys):
    """Nothing ran, so nothing is lost: a new launch (not --resume) into the rungroup is not
    refused as 'not empty', and it searches its own space, not the stopped launch's."""
    scenario = write_project(tmp_path, budget=3)
    options = LaunchOptions(scenario, parallel=2, gpus="none", outdir=str(tmp_path / "out"))
    run = Launch(options)
    run.note_signal(signal.SIGINT, None)
    assert launch(run) == 130
    run.release_lock()
    assert "launch again to start over" in capsys.readouterr().out
    group = RunGroup(tmp_path / "out" / "demo")
    assert group.layout.launch.exists() and "x real [-5.0, 10.0]" in group.layout.space.read_text()

    (tmp_path / "space.pcs").write_text("x [100, 200] [150]\ny [0, 15] [7.5]\n")
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    assert_exact_budget(group, 3)
    assert all(100 <= r["config"]["x"] <= 200 for r in group.records())
    assert group.launch_info()["resumed"] == 0


def test_a_rungroup_with_a_run_is_refused_without_resume(tmp_path):
    """Only a rungroup that holds nothing is started over: one run recorded, or one log of a
    worker, and a new launch is refused with the way to continue it."""
    scenario = write_project(tmp_path, budget=1)
    code, output = finish(start_launch(scenario, "--parallel", "1", "--gpus", "none"))
    assert code == 0, output
    code, output = finish(start_launch(scenario, "--parallel", "1", "--gpus", "none"))
    assert code == 1 and "not empty; continue it with --resume" in output, output
    assert len(RunGroup(tmp_path / "out" / "demo").records()) == 1


def test_two_launches_started_together_into_one_rungroup_run_one(tmp_path):
    """Both found the folder new and both ran, four workers appending to the same files;
    the rungroup's lock lets one through and refuses the other."""
    scenario = write_project(tmp_path, budget=4)
    both = [start_launch(scenario, "--parallel", "2", "--gpus", "none") for _ in range(2)]
    ended = sorted((finish(launch) for launch in both), key=lambda ended: ended[0])
    assert [code for code, _ in ended] == [0, 1], ended
    refused = ended[1][1]  # at the lock, or, had the other made its folder, before it
    assert "another launch is starting or running" in refused or "not empty" in refused
    group = RunGroup(tmp_path / "out" / "demo")
    assert_exact_budget(group, 4)
    assert sorted({r["worker"] for r in group.records()}) <= [1, 2]
    held = Launch(LaunchOptions(scenario, resume=True, gpus="none"))
    held.prepare()  # this process holds the rungroup now: a resume elsewhere must wait
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5"))
    assert code == 1 and "another launch is starting or running" in output, output
    assert len(group.records()) == 4


def test_a_bad_gpu_choice_leaves_no_folder_behind(tmp_path):
    """It was refused after the rungroup's folder was made, and the corrected launch was
    then refused too: "the output directory exists and is not empty"."""
    scenario = write_project(tmp_path, budget=1)
    code, output = finish(start_launch(scenario, "--gpus", "0,cpu"))
    assert code == 1 and "'cpu' is no GPU id" in output, output
    assert not (tmp_path / "out").exists()


def test_a_gpu_the_machine_does_not_list_is_warned_of(tmp_path):
    """`--gpus 7` on a machine of 3 GPUs gave every trial CUDA_VISIBLE_DEVICES=7: no device,
    and the script trained on the CPU without a word."""
    scenario = write_project(tmp_path, budget=1)
    fake = {"SMAC_BRIDGE_FAKE_GPUS": "3"}
    code, output = finish(start_launch(scenario, "--gpus", "1,7", env=fake))
    assert code == 0, output
    assert "warning: --gpus names GPU 7, which this machine does not list (0, 1, 2)" in output
    resume = ["--gpus", "2", "--resume", "--set", "runcount_limit=2"]
    code, output = finish(start_launch(scenario, *resume, env=fake))
    assert code == 0 and "does not list" not in output, output
    # a machine without GPUs: every trial on the CPU, which `--gpus 0,1` did not ask for
    none = ["--gpus", "0,1", "--resume", "--set", "runcount_limit=3"]
    code, output = finish(start_launch(scenario, *none, env={"SMAC_BRIDGE_FAKE_GPUS": "0"}))
    assert code == 0, output
    said = " ".join(output.split())
    assert "GPU 0, 1, which this machine does not list (none found through CUDA_VISIBLE" in said


def test_a_resume_keeps_the_gpus_the_launch_was_given(tmp_path):
    """`launch --gpus 1` then `launch --resume` ran the resumed trials on GPU 0, `auto`,
    which may be someone else's, without a word; the other options were kept."""
    scenario = write_project(tmp_path, budget=1)
    fake = {"SMAC_BRIDGE_FAKE_GPUS": "2", "SMAC_BRIDGE_GPU_LOCK_DIR": str(tmp_path / "locks")}
    (tmp_path / "locks").mkdir(mode=0o700)
    code, output = finish(start_launch(scenario, "--gpus", "1", env=fake))
    assert code == 0, output
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=2", env=fake))
    assert code == 0 and "resuming with the earlier launch's --gpus 1 (give" in output, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert [r["gpu"] for r in group.records()] == ["1", "1"]
    again = ["--resume", "--gpus", "0", "--set", "runcount_limit=3"]
    code, output = finish(start_launch(scenario, *again, env=fake))
    assert code == 0 and "--gpus" not in output, output
    assert [r["gpu"] for r in group.records()] == ["1", "1", "0"]
    auto = ["--resume", "--gpus", "auto", "--set", "runcount_limit=4"]  # found again, not kept
    assert finish(start_launch(scenario, *auto, env=fake))[0] == 0
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5", env=fake))
    assert code == 0 and "--gpus" not in output, output


def test_workers_that_share_a_gpu_are_warned_of(tmp_path):
    """Round robin put two workers' trials on GPU 0 at once without a word (an out-of-memory
    error on a real GPU), where the README promises each trial its own GPU."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--gpus", "0", "--parallel", "2"))
    assert code == 0, output
    assert "warning: 2 workers on 1 GPU: GPU 0 runs several trials at once" in output
    assert "worker 1 on GPU 0, worker 2 on GPU 0" in output
    alone = ["--gpus", "0", "--parallel", "1", "--resume", "--set", "runcount_limit=3"]
    code, output = finish(start_launch(scenario, *alone))
    assert code == 0 and "runs several trials" not in output, output


def test_a_launch_takes_the_gpu_others_leave_free_and_warns_when_none_is(tmp_path):
    """Two launches with --gpus auto on one machine put their trials on GPU 0 both, and a
    standalone wrapper's lease of a GPU did not keep a launch off it, without a word."""
    from smac_bridge.gpus import lease_gpu

    scenario = write_project(tmp_path, budget=1)
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    env = {"SMAC_BRIDGE_FAKE_GPUS": "2", "SMAC_BRIDGE_GPU_LOCK_DIR": str(locks)}
    group = RunGroup(tmp_path / "out" / "demo")
    with lease_gpu(["0"], lock_dir=locks, timeout=0):  # another launch's worker, or a wrapper
        code, output = finish(start_launch(scenario, "--gpus", "auto", env=env))
        assert code == 0, output
        assert group.launch_info()["gpus"] == ["1"] and "also runs trials" not in output
        with lease_gpu(["1"], lock_dir=locks, timeout=0):
            more = ["--resume", "--set", "runcount_limit=2"]
            code, output = finish(start_launch(scenario, "--gpus", "auto", *more, env=env))
            assert code == 0, output
            assert "warning: GPU 0 also runs trials of another smac-bridge launch" in output
            assert group.launch_info()["gpus"] == ["0"]
        # GPU 1 goes to one worker, the other shares GPU 0: none was "free" left unused
        more = ["--resume", "--parallel", "2", "--set", "runcount_limit=4"]
        code, output = finish(start_launch(scenario, "--gpus", "auto", *more, env=env))
        assert code == 0 and sorted(group.launch_info()["gpus"]) == ["0", "1"], output
        said = " ".join(output.split())
        assert "GPU 0 also runs trials of another" in said and "no GPU" not in said, said
        assert "every GPU of --gpus has a worker of this launch or another" in said, said
    both = ["--parallel", "2", "--resume", "--set", "runcount_limit=6"]
    code, output = finish(start_launch(scenario, "--gpus", "auto", *both, env=env))
    assert code == 0 and "also runs trials" not in output, output
    assert group.launch_info()["gpus"] == ["0", "1"]  # round robin when nothing else runs


def test_a_worker_started_by_hand_on_a_gpu_leases_it(tmp_path):
    """`smac-bridge worker --gpu 0` took no lease: a launch with --gpus auto beside it put its
    trials on GPU 0 too, while GPU 1 was idle."""
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    env = {**smac_bridge_env(), "SMAC_BRIDGE_FAKE_GPUS": "2",
           "SMAC_BRIDGE_GPU_LOCK_DIR": str(locks)}  # fmt: skip
    by_hand = write_project(tmp_path / "hand", budget=1, sleep=30)
    worker = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(by_hand), "--seed", "1",
         "--gpu", "0"],
        cwd=by_hand.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        hand_group = RunGroup(tmp_path / "hand" / "out" / "demo")
        wait_for(lambda: hand_group.running())  # its trial runs: its GPU is taken
        scenario = write_project(tmp_path / "launched", budget=1)
        code, output = finish(start_launch(scenario, "--gpus", "auto", env=env))
        assert code == 0, output
        assert RunGroup(tmp_path / "launched" / "out" / "demo").launch_info()["gpus"] == ["1"]
        second = subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "2",
             "--gpu", "0", "--set", "runcount_limit=2"],
            cwd=scenario.parent, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 0, second.stdout + second.stderr
        assert "warning: GPU 0 also runs trials of another smac-bridge launch" in second.stderr
    finally:
        worker.send_signal(signal.SIGINT)  # it stops its trial, as after a Ctrl-C
        worker.communicate(timeout=60)


def test_a_resume_beside_a_worker_started_by_hand_is_refused_at_once_naming_it(tmp_path):
    """The launch had ended well; a worker started by hand still ran. The resume waited 40 s
    for "the workers of the earlier launch, whose launcher died", then blamed "another
    launch": that worker stops for no one, and no launcher had died."""
    scenario = write_project(tmp_path, budget=1)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    (tmp_path / "behaviour.json").write_text(json.dumps({"mode": "ok", "sleep": 60}))
    group = RunGroup(tmp_path / "out" / "demo")
    worker = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "2",
         "--set", "runcount_limit=2"],
        cwd=tmp_path, env=smac_bridge_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: any(marker["worker"] == 2 for marker in group.running()))
        began = time.monotonic()
        resumed = run_cli("launch", str(scenario), "--resume", "--gpus", "none",
                          "--set", "runcount_limit=3", cwd=tmp_path, timeout=120)  # fmt: skip
        took = time.monotonic() - began
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=60)
    said = " ".join(resumed.stderr.split())
    assert resumed.returncode == 1 and "started by hand" in said, said
    assert "waiting for the workers" not in resumed.stdout and took < 30, (took, resumed.stdout)


def test_a_worker_started_by_hand_says_what_it_changes_of_the_launch(tmp_path):
    """A worker that joined with another cutoff or run budget than the launch's said nothing
    (a resume warns): its runs, cut at 5 s, were compared with runs given no cutoff, and the
    launch's budget of 1 became 2 without a word."""
    scenario = write_project(tmp_path, budget=1)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    joined = run_cli("worker", str(scenario), "--seed", "2", "--set", "runcount_limit=2",
                     "--set", "cutoff_time=5", cwd=tmp_path, timeout=120)  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    said = " ".join(joined.stderr.split())
    assert "warning: worker 2: cutoff_time (5 s) differs from that of earlier runs" in said, said
    assert "runcount_limit = 2 differs from the 1 runs" in said, said
    assert len(RunGroup(tmp_path / "out" / "demo").records()) == 2


def test_a_worker_runs_an_owed_trial_before_it_waits_for_an_identical_one(tmp_path):
    """On a resume both workers' first proposal may be the default configuration: one re-ran
    the lost default while the other waited a whole trial for its result, and the other lost
    run's slot stayed idle meanwhile."""
    scenario = write_project(tmp_path, budget=2, sleep=30)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(group.running()) == 2 and len(group.workers()) == 2)
    os.kill(launch.pid, signal.SIGKILL)
    for seed in (1, 2):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group.worker(seed)["pid"], signal.SIGKILL)
    launch.communicate(timeout=30)
    default = {"x": 2.5, "y": 7.5}
    assert group.running()[0]["config"] == default  # worker 1 started it before SMAC3's import
    # long enough for worker 1's start (SMAC3's import, 8 s and more on a loaded machine)
    (tmp_path / "behaviour.json").write_text(json.dumps({"mode": "ok", "sleep": 20}))
    by_hand = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed"]
    env, workers = smac_bridge_env(), []
    try:
        workers.append(subprocess.Popen([*by_hand, "2"], cwd=tmp_path, env=env))
        wait_for(lambda: any(m["worker"] == 2 and m["config"] == default for m in group.running()))
        workers.append(subprocess.Popen([*by_hand, "1"], cwd=tmp_path, env=env))
        assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.kill()
    ran = {r["config"] == default: r for r in group.records() if not r.get("reused_from")}
    assert ran[False]["started"] < ran[True]["ended"], ran  # the two lost runs ran side by side


def test_a_worker_started_by_hand_on_a_gpu_this_machine_lacks_is_warned(tmp_path):
    """`worker --gpu 7` on a machine of two GPUs ran every trial on the CPU without a word, where
    `launch --gpus 7` warns."""
    scenario = write_project(tmp_path, budget=1)
    env = {**smac_bridge_env(), "SMAC_BRIDGE_FAKE_GPUS": "2",
           "SMAC_BRIDGE_GPU_LOCK_DIR": str(tmp_path / "locks")}  # fmt: skip
    (tmp_path / "locks").mkdir(mode=0o700)
    worker = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
    done = subprocess.run(
        [*worker, "--gpu", "1,7"],
        cwd=scenario.parent, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stderr.split())
    assert "warning: --gpu names GPU 7, which this machine does not list" in said, said


def test_a_launch_ended_by_its_wallclock_limit_says_so(tmp_path):
    """The summary said how many runs, not why there were 3 of 50; the workers' heartbeats
    alone held "wallclock-limit reached"."""
    scenario = write_project(tmp_path, budget=50, sleep=0.5, options="wallclock_limit = 3\n")
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    assert "ended: wallclock-limit reached" in output
    assert len(RunGroup(tmp_path / "out" / "demo").records()) < 50
    resume = ["--resume", "--set", "runcount_limit=1", "--set", "wallclock_limit=600"]
    code, output = finish(start_launch(scenario, *resume))
    assert code == 0 and "ended: run budget used up" in output  # it ran nothing
    assert "wallclock" not in output.split("ended:")[1]  # this launch's workers' reasons only


@pytest.mark.parametrize("limit", ["tunerTimeout = 0.5", "wallclock_limit = 20"])
def test_a_launch_limited_by_time_alone_runs_until_its_limit(tmp_path, limit):
    """A classic scenario often budgets with tunerTimeout or wallclock_limit and no
    runcount_limit: each shared-model worker's claim counted up to 10^9 looking for a slot
    that owed its trial, so the launch made one run and then hung past its limit."""
    scenario = write_project(tmp_path, budget=1, sleep=0.2, options=f"{limit}\n")
    scenario.write_text(scenario.read_text().replace("runcount_limit = 1\n", ""))
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"), timeout=90)
    assert code == 0, output
    assert "ended: tunerTimeout reached" in output or "ended: wallclock-limit reached" in output
    assert len(RunGroup(tmp_path / "out" / "demo").records()) >= 2, output  # it stopped at 1


def test_tuner_timeout_is_kept_across_workers_and_by_a_resume(tmp_path):
    """Shared-model workers counted the others' runtimes only when their model synced, a
    trial late: with tunerTimeout = 0.5 (each run counts 0.1 s) three workers made up to
    2.5 times the limit. A worker now starts a trial only while the recorded runs are below
    it, so at most the trials already running go over. A resume said nothing of the used
    limit and started its workers."""
    scenario = write_project(tmp_path, budget=60, sleep=0.5, options="tunerTimeout = 0.5\n")
    code, output = finish(start_launch(scenario, "--parallel", "3", "--gpus", "none"))
    assert code == 0 and "ended: tunerTimeout reached" in output, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert 5 <= len(group.records()) <= 5 + 2, output  # 4 recorded, 3 running, at the worst
    # a worker stopped from outside after the limit did not end the launch "stopped"
    options = LaunchOptions(scenario, gpus="none", resume=True)
    assert Launch(options)._limits_reached()
    more = dataclasses.replace(options, overrides={"tunerTimeout": "100"})
    assert not Launch(more)._limits_reached()
    code, output = finish(start_launch(scenario, "--resume", "--gpus", "none"))
    assert code == 0, output
    assert "tunerTimeout = 0.5 s is already used: the runs took" in output
    assert "ended: tunerTimeout reached by the earlier sessions" in output
    assert "launched" not in output


def test_a_resume_goes_on_with_the_wall_clock_the_launch_has_used(tmp_path):
    """The wall clock restarted at every resume: a launch of wallclock_limit = 8 h that
    crashed after 6 h ran 8 h more. As SMAC3's used walltime, the sessions add up; the
    time between a crash and the resume does not count."""
    scenario = write_project(tmp_path, budget=3)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    info = group.launch_info()  # as if that session had run 100 s, and crashed an hour ago
    last_run = max(r["ended"] for r in group.records())
    doctored = {**info, "session_started": last_run - 100}
    group.write_launch_info(doctored)
    more = ["--resume", "--set", "runcount_limit=6", "--gpus", "none"]
    code, output = finish(start_launch(scenario, *more, "--set", "wallclock_limit=90"))
    assert code == 0 and "ended: wallclock-limit reached" in output, output
    # the resume says why it will run nothing, and how much the earlier sessions ran
    assert "warning: wallclock_limit = 90 s is already used: the earlier sessions of" in output
    assert len(group.records()) == 3
    # a resume with nothing left starts no worker, so it adds nothing to the wall clock
    assert group.launch_info() == doctored
    assert 100 <= walltime_used(group, doctored) < 110
    worker = group.worker(1)
    code, output = finish(start_launch(scenario, *more, "--set", "wallclock_limit=90"))
    assert code == 0 and "ended: wallclock-limit reached by the earlier sessions" in output
    assert "launched" not in output and group.worker(1) == worker, output
    assert group.launch_info() == doctored
    # the machine went down with worker 1 still "running": marking it failed is no sign of
    # life, so the hours before the resume do not count (they did once the resume kept
    # launch.json as it was)
    dead = subprocess.Popen(["true"])
    dead.wait()
    heartbeat = {**worker, "state": "running", "pid": dead.pid, "pid_start": "gone"}
    group.layout.heartbeat(1).write_text(json.dumps(heartbeat))
    code, output = finish(start_launch(scenario, *more, "--set", "wallclock_limit=90"))
    assert code == 0 and "ended: wallclock-limit reached by the earlier sessions" in output
    assert group.worker(1)["state"] == "failed" and group.launch_info() == doctored
    assert group.worker(1)["updated"] == worker["updated"], output
    code, output = finish(start_launch(scenario, *more, "--set", "wallclock_limit=3600"))
    assert code == 0 and "ended: run budget used up" in output, output
    assert "s of wallclock_limit = 3600 s left (the earlier sessions ran" in output
    assert len(group.records()) == 6


def test_a_resume_refuses_another_search_space_and_keeps_every_run(tmp_path):
    """Runs of x in [-5, 10] replayed into a space of x in [0, 1] would feed the model
    configurations outside it: the resume names the PCS file and changes nothing."""
    scenario = write_project(tmp_path, budget=3)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    before = (group.records(), group.layout.launch.read_text())
    pcs = tmp_path / "space.pcs"
    pcs.write_text("x [0, 1] [0.5]\ny [0, 15] [7.5]\n")
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5"))
    assert code == 1, output
    assert f"{pcs}: not the search space of the runs in {group.path}" in output
    # which declaration changed: the user changed one bound of one of two parameters
    assert "the runs have 'x real [-5.0, 10.0] [2.5]'; the file has 'x real [0.0, 1.0]" in output
    assert "'y real" not in output
    assert (group.records(), group.layout.launch.read_text()) == before
    group.layout.space.unlink()  # the saved space gone: the runs themselves are checked
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5"))
    assert code == 1 and f"{pcs}: not the search space of the runs in {group.path}" in output
    assert "(space.pcs, the space saved there, is gone): run 00001's configuration" in output
    assert not group.layout.space.exists() and group.records() == before[0]
    pcs.write_text("# the same space, commented\ny [0, 15] [7.5]\nx [-5, 10] [2.5]\n")
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=5"))
    assert code == 0, output
    assert len(group.records()) == 5


def test_first_run_crash_stops_the_launch_with_the_log_tail(tmp_path):
    """The abort says how to go on past the crash (a design's first row is the user's own
    configuration, which every resume ran first again, and aborted on), and that way works."""
    scenario = write_project(tmp_path, budget=6, mode="crash")
    code, output = finish(start_launch(scenario, "--parallel", "1", "--gpus", "none"))
    assert code == 255, output
    assert "first run crashed" in output and "boom: the target fell over" in output
    assert "target.py" in output
    way_on = "--set abort_on_first_run_crash=false"
    assert f"--resume with {way_on}" in output
    code, output = finish(start_launch(scenario, "--resume", *way_on.split()))
    assert code == 1 and "no run succeeded" in output, output  # crashed runs are recorded
    # until the target's first runs show that it fails on every configuration
    assert "the script seems to fail on every configuration" in output, output
    assert len(RunGroup(tmp_path / "out" / "demo").records()) == 3


def test_abort_stops_all_workers(tmp_path):
    scenario = write_project(tmp_path, budget=20, mode="abort_at", at=4, sleep=0.3)
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 255, output
    assert "licence server gone" in output
    group = RunGroup(tmp_path / "out" / "demo")
    assert len(group.records()) < 20
    assert not any(pid_alive(w["pid"]) for w in group.workers())
    assert not any(pid_alive(pid) for pid in trial_pids(tmp_path))
    assert {w["state"] for w in group.workers()} == {"aborted"}
    # the aborting run is not recorded: status must say why, once the terminal is gone
    shown = run_cli("status", str(tmp_path / "out"))
    assert shown.returncode == 0 and "launch aborted by worker" in shown.stdout
    assert "licence server gone" in shown.stdout


def test_quickstart_through_the_wrapper(tmp_path):
    for folder in ("scenarios", "pcs", "scripts"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    scenario = tmp_path / "scenarios" / "quickstart.txt"
    scenario.write_text(
        scenario.read_text().replace("--sleep 0.2", "--sleep 0.05") + "outdir = out\n"
    )
    process = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", "2", "--gpus", "none", "--set", "runcount_limit=4"],
        cwd=tmp_path,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    group = RunGroup(tmp_path / "out" / "quickstart")
    records = group.records()
    assert len(records) == 4 and {r["status"] for r in records} == {"SAT"}
    assert all(group.run(r["run_id"]).result.exists() for r in records)


TRAIN_SCRIPT = """
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=float)
args = parser.parse_args()
task = os.environ["AEATK_CONCURRENT_TASK_ID"]
own = f"sleep-{task}.txt"
seconds = float(open(own if os.path.exists(own) else "sleep.txt").read())
for folder in ("pids", f"pids-{task}"):
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, str(os.getpid())), "w").close()
time.sleep(seconds)
print((args.x - 1) ** 2 + (args.y - 2) ** 2)
"""


def sleepy_project(folder: Path, sleep: float, budget: int) -> Path:
    """TRAIN_SCRIPT's project: each training sleeps SLEEP s (sleep-TASK.txt: one worker's)."""
    (folder / "train.py").write_text(TRAIN_SCRIPT)
    (folder / "sleep.txt").write_text(str(sleep))
    (folder / "space.pcs").write_text("x [-5, 10] [2.5]\ny [0, 15] [7.5]\n")
    scenario = folder / "demo.txt"
    scenario.write_text(
        'algo = smac-bridge wrap --cmd "python train.py" --grace 1\n'
        f"execdir = {folder}\nparamfile = space.pcs\nrun_obj = quality\n"
        f"runcount_limit = {budget}\noutdir = {folder / 'out'}\nshared-model-mode = true\n"
    )
    return scenario


def test_a_killed_worker_is_reported_its_training_killed_and_resume_completes(tmp_path):
    """kill -9 of one worker while the launch goes on: the others finish, the dead worker's
    training script (started by the wrapper in a session of its own) does not live on, its
    unfinished slot is run again, and --resume keeps the budget exact."""
    scenario = sleepy_project(tmp_path, sleep=0.3, budget=10)
    (tmp_path / "sleep-0.txt").write_text("60")  # worker 1's trainings hang until killed
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")

    def worker_1_running() -> list[dict]:
        return [m for m in group.running() if m["worker"] == 1]

    wait_for(lambda: len(group.records()) >= 2 and worker_1_running())
    marker = worker_1_running()[0]
    hanging = tmp_path / "pids-0"  # worker 1's training has read its 60 s and runs
    wait_for(lambda: hanging.is_dir() and any(hanging.iterdir()))
    victim = group.worker(1)
    os.kill(victim["pid"], signal.SIGKILL)
    (tmp_path / "sleep-0.txt").unlink()
    hung = [int(p.name) for p in hanging.iterdir()]
    wait_for(lambda: not any(pid_alive(pid) for pid in hung), timeout=15)
    code, output = finish(launch, timeout=180)
    assert code == 1, output
    assert "worker 1 died" in output
    assert "ended: worker 1 died (exit code -9); run budget used up" in output  # the summary
    dead = group.worker(1)  # `failed` with why from now on, not `lost` forever
    assert (dead["state"], dead["message"]) == ("failed", "died (exit code -9)"), dead
    wait_for(lambda: not any(pid_alive(pid) for pid in trial_pids(tmp_path)), timeout=10)
    # the dead worker's slot was released and its trial run again by the surviving worker
    rerun = [r for r in group.records() if r["run_id"] == marker["run_id"]]
    assert all(r["worker"] == 2 and r["started"] > marker["started"] for r in rerun)
    assert [r["config"] for r in rerun] == [marker["config"]]  # not a new proposal

    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0, output
    assert_exact_budget(group, 10)
    assert not any(pid_alive(pid) for pid in trial_pids(tmp_path))


WAITS_FOR_WORKER_2 = """
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=float)
args = parser.parse_args()
if os.environ["AEATK_CONCURRENT_TASK_ID"] == "1":  # worker 2
    os.makedirs("pids-1", exist_ok=True)
    open(os.path.join("pids-1", str(os.getpid())), "w").close()
    time.sleep(float(open("sleep-1.txt").read()) if os.path.exists("sleep-1.txt") else 0.3)
else:  # worker 1 uses the budget up only once worker 2 holds a run (a busy machine)
    deadline = time.time() + 170
    while not os.path.isdir("pids-1") and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1)
print((args.x - 1) ** 2 + (args.y - 2) ** 2)
"""


def test_a_run_lost_with_a_worker_after_the_others_ended_is_left_to_a_resume(tmp_path):
    """Worker 1 used up the run budget and ended while worker 2 still ran the last run; then
    worker 2 died. The summary says that one run is not made and --resume makes it, not
    only that the run budget was used up."""
    scenario = sleepy_project(tmp_path, sleep=1, budget=4)
    (tmp_path / "train.py").write_text(WAITS_FOR_WORKER_2)
    (tmp_path / "sleep-1.txt").write_text("60")  # worker 2's training hangs until killed
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    hanging = tmp_path / "pids-1"
    wait_for(lambda: hanging.is_dir() and any(hanging.iterdir()), timeout=180)
    wait_for(lambda: (group.worker(1) or {}).get("state") == "done", timeout=60)
    os.kill(group.worker(2)["pid"], signal.SIGKILL)
    code, output = finish(launch, timeout=180)
    assert code == 1, output
    assert len(group.records()) == 3, output
    assert "1 run of runcount_limit = 4 not made: continue with --resume to make it" in output
    (tmp_path / "sleep-1.txt").unlink()
    code, output = finish(start_launch(scenario, "--parallel", "2", "--resume"))
    assert code == 0 and "not made" not in output, output
    assert_exact_budget(group, 4)


def test_a_rungroup_moved_while_the_launch_runs_is_not_made_again(tmp_path):
    """`mv` of the output directory during a launch: the workers made its path again and
    started the run ids and the run budget over there (16 runs of 14, ids 00001 twice). They
    now stop, the launch says why, and a resume from the new place completes the budget."""
    scenario = sleepy_project(tmp_path, sleep=1, budget=8)
    launch = start_launch(scenario, "--parallel", "2", "--gpus", "none")
    group = RunGroup(tmp_path / "out" / "demo")
    wait_for(lambda: len(group.records()) >= 2)
    (tmp_path / "out").rename(tmp_path / "moved")
    code, output = finish(launch, timeout=180)
    assert code == 1, output
    assert f"{group.path}: moved, renamed or removed while the launch ran: if it" in output
    assert output.count("moved, renamed") == 1 and "died" not in output, output  # said once
    moved = RunGroup(tmp_path / "moved" / "demo")
    assert 2 <= len(moved.records()) < 8
    # at most what the 2 workers were doing as it moved, never the budget over again
    assert len(group.records()) <= 2 and len(group.claimed()) <= 2
    code, output = finish(start_launch(scenario, "--resume", "--outdir", str(tmp_path / "moved")))
    assert code == 0, output
    assert_exact_budget(moved, 8)


def test_output_that_is_no_terminal_gets_log_lines_not_a_live_view(tmp_path):
    scenario = write_project(tmp_path, budget=3)
    launch = subprocess.Popen(  # no --quiet, and the output is a pipe
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--gpus", "none"],
        cwd=scenario.parent,
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    code, output = finish(launch)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("launched 1 worker on ")
    assert sum(line.startswith("run 0000") for line in lines) == 3
    assert f"3 runs in {tmp_path / 'out' / 'demo'}" in lines  # a line of its own
    assert "\x1b" not in output  # no cursor movements


def test_a_terminal_gets_a_live_view_whose_last_frame_says_the_launch_ended(tmp_path):
    scenario = write_project(tmp_path, budget=3)
    leader, follower = pty.openpty()
    launch = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--gpus", "none"],
        cwd=scenario.parent,
        env=smac_bridge_env() | {"TERM": "xterm", "COLUMNS": "160"},
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    with contextlib.suppress(OSError):  # EIO once the launch has exited
        while chunk := os.read(leader, 65536):
            chunks.append(chunk)
    os.close(leader)
    assert launch.wait(timeout=180) == 0
    output = b"".join(chunks).decode(errors="replace")
    assert "\x1b" in output and "3 of 3 runs done" in output  # a live view, to the end
    labels = re.findall(r"\((not running|running)\)", output)
    assert labels and labels[-1] == "not running", labels[-3:]
    last_frame = output[output.rindex("3 of 3 runs done") :]
    assert "left at this pace" not in last_frame


def test_every_run_gets_its_line_once_also_the_first_and_the_last(tmp_path):
    """Runs recorded before the watch began (quick first trials) and while the workers ended
    were left out of the log lines; a resume prints only its own runs."""
    scenario = write_project(tmp_path, budget=8)
    code, output = finish(start_launch(scenario, "--parallel", "2", "--quiet"))
    assert code == 0, output
    shown = [line.split()[1] for line in output.splitlines() if line.startswith("run 0000")]
    assert sorted(shown) == [f"{n:05d}" for n in range(1, 9)], output
    more = ["--parallel", "2", "--quiet", "--resume", "--set", "runcount_limit=10"]
    code, output = finish(start_launch(scenario, *more))
    assert code == 0, output
    shown = [line.split()[1] for line in output.splitlines() if line.startswith("run 000")]
    assert sorted(shown) == ["00009", "00010"], output


SOLVER = """
import argparse
import time
from pathlib import Path

parser = argparse.ArgumentParser(allow_abbrev=False)
parser.add_argument("--instance", required=True)
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--mode", required=True)
args = parser.parse_args()
print(f"solving {args.instance}", flush=True)
hardness = {"easy-1": 0.0, "easy-2": 0.05, "hard-1": 0.2, "hard-2": 0.25}[Path(args.instance).name]
time.sleep(30 if args.mode == "stall" else 0.05 + hardness + 0.4 * abs(args.x - 0.3))
"""


def write_instance_project(
    folder: Path, script: str, instances: str, pcs: str, wrap: str, options: str
) -> Path:
    """A shared-model scenario over INSTANCES whose wrapper passes each trial its instance
    as the flag `--instance` to SCRIPT (target.py), with WRAP options and scenario OPTIONS."""
    (folder / "target.py").write_text(script)
    (folder / "instances.txt").write_text(instances)
    (folder / "space.pcs").write_text(pcs)
    scenario = folder / "scenario.txt"
    scenario.write_text(
        f"algo = smac-bridge wrap {wrap} --pass-instance --instance"
        f' --cmd "{sys.executable} target.py"\n'
        "paramfile = space.pcs\ninstance_file = instances.txt\ndeterministic = true\n"
        f"shared-model-mode = true\noutdir = out\nrungroup = demo\n{options}"
    )
    return scenario


def write_solver_project(folder: Path, wrap_options: str) -> Path:
    """A runtime scenario over four instances: a solver whose runtime depends on its x and
    the instance's hardness, and that stalls past the cutoff in mode `stall`. The cutoff is
    five times the slowest solve, so that a machine under load does not time a solve out."""
    return write_instance_project(
        folder,
        SOLVER,
        "easy-1\neasy-2\nhard-1\nhard-2\n",
        "x [0, 1] [0.9]\nmode {fast, stall} [fast]\n",
        wrap_options,
        "run_obj = runtime\noverall_obj = mean10\ncutoff_time = 3\nruncount_limit = 16\n",
    )


def test_a_runtime_objective_over_instances_runs_the_classic_configuration_loop(tmp_path):
    """What a Java SMAC user brings: run_obj = runtime over an instance file. `auto` takes
    the algorithm-configuration facade, each trial gets its instance, a solver that exits 0
    is a success costing its runtime, a run at the cutoff costs PAR10, the incumbent is run
    on more than one instance, and the budget is exact."""
    scenario = write_solver_project(tmp_path, "--runtime-objective")
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"), 300)
    assert code == 0, output
    assert "--runtime-objective" not in output  # no warning
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.records()
    ids = sorted(r["run_id"] for r in records)
    assert ids == [f"{n:05d}" for n in range(1, 17)] and group.claimed() == ids
    trials = Counter(
        (json.dumps(r["config"], sort_keys=True), r["instance"], r["seed"]) for r in records
    )
    assert max(trials.values()) == 1, "a trial ran twice"
    for seed in (1, 2):
        assert group.worker(seed)["facade"] == "ac"
    names = {"easy-1", "easy-2", "hard-1", "hard-2"}
    for record in records:
        assert record["instance"] in names
        log = (group.path / record["run_dir"] / "process_output.log").read_text()
        assert f"solving {record['instance']}" in log  # the trial got its own instance
        if record["config"]["mode"] == "stall":
            assert record["status"] == "TIMEOUT" and record["cost"] == pytest.approx(30.0)
        else:
            assert record["status"] == "SAT", record
            assert record["cost"] == pytest.approx(record["runtime"]) and record["cost"] < 3
    instances_of: dict[str, set[str]] = {}
    for record in records:
        key = json.dumps(record["config"], sort_keys=True)
        instances_of.setdefault(key, set()).add(record["instance"])
    assert max(len(seen) for seen in instances_of.values()) >= 2, instances_of
    assert len(instances_of) >= 3  # not one configuration on every instance over and over
    # The views rank and show a run by its cost: the quality the solver printed is 0.
    best = min(records, key=lambda r: (r["cost"], r["run_id"]))
    assert f"SAT cost {best['cost']:.6g} in " in output
    rows = json.loads(run_cli("results", str(group.path), "--json").stdout)
    assert [r["cost"] for r in rows] == sorted(r["cost"] for r in records)
    table = run_cli("results", str(group.path)).stdout
    head = next(line for line in table.splitlines() if " worker " in line)
    assert " cost " in head and " quality " not in head, table
    incumbent = group.worker(1)["incumbent"]
    best_run = min(
        (r for r in records if r["run_id"] in incumbent["run_ids"]),
        key=lambda r: (r["cost"], r["run_id"]),
    )
    (status,) = json.loads(run_cli("status", str(group.path), "--json").stdout)["rungroups"]
    assert f"best cost {best_run['cost']:.6g} (run {best_run['run_id']}" in status["summary"]
    assert f"  cost: {best_run['cost']:.6g}" in run_cli("best", str(group.path)).stdout
    page = tmp_path / "report.html"
    assert run_cli("report", str(group.path), "--html", str(page)).returncode == 0
    runs_table = page.read_text().split('<table class="runs" data-sorted="cost">')[1]
    assert '<th data-col="cost">cost</th>' in runs_table and '"quality"' not in runs_table
    ordered = re.findall(r'<tr data-run="(\d{5})"', runs_table)
    assert ordered == [r["run_id"] for r in sorted(records, key=lambda r: (r["cost"], r["run_id"]))]


def test_a_runtime_scenario_whose_wrapper_decides_for_a_quality_is_warned_of(tmp_path):
    """Without --runtime-objective the wrapper fails a solver that prints no number, and a
    runtime scenario would count that failure as solved: `check` and `launch` say so."""
    scenario = write_solver_project(tmp_path, "")
    checked = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "check", str(scenario)],
        cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "run_obj = runtime" in checked.stderr and "--runtime-objective" in checked.stderr
    scenario.write_text(scenario.read_text().replace("runcount_limit = 16", "runcount_limit = 1"))
    code, output = finish(start_launch(scenario, "--gpus", "none"), 120)
    assert code == 0, output
    assert "warning:" in output and "--runtime-objective" in output


CROSS_VALIDATION = """
import argparse

parser = argparse.ArgumentParser(allow_abbrev=False)
parser.add_argument("--instance", required=True)
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--k", required=True)
args = parser.parse_args()
shifts = {"fold-1": 0.0, "fold-2": 0.1, "fold-3": -0.05, "fold-4": 0.05, "fold-5": 0.02}
shift = shifts[args.instance]
print(f"{args.instance}: validation error", (args.x - 0.3) ** 2 + shift + (args.k == "b") / 5)
"""


def test_a_resume_refuses_an_instance_file_without_the_instances_of_earlier_runs(tmp_path):
    """A fold dropped from the instance file: the workers left the earlier runs on it out
    of their model and trajectory while the views counted them, so the two named different
    incumbents, and the views' one (run on more folds) could never be beaten. More folds
    are fine."""
    scenario = write_folds_project(tmp_path, folds=3, options="runcount_limit = 4\n")
    code, output = finish(start_launch(scenario, "--gpus", "none", "--parallel", "1"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    made = len(group.records())
    dropped = group.records()[0]["instance"]
    kept = [f"fold-{n}" for n in range(1, 5) if f"fold-{n}" != dropped]
    (tmp_path / "instances.txt").write_text("".join(f"{fold}\n" for fold in kept))
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=8"))
    assert code == 1, output
    said = " ".join(output.split())
    assert "instances.txt" in said and f"no longer has ({dropped})" in said, output
    assert len(group.records()) == made
    (tmp_path / "instances.txt").write_text("fold-1\nfold-2\nfold-3\nfold-4\n")
    code, output = finish(start_launch(scenario, "--resume", "--set", "runcount_limit=8"))
    assert code == 0, output
    assert len(group.records()) == 8


def write_folds_project(folder: Path, folds: int, options: str) -> Path:
    """A quality scenario over FOLDS cross-validation folds as instances (CROSS_VALIDATION),
    with the scenario OPTIONS."""
    return write_instance_project(
        folder,
        CROSS_VALIDATION,
        "".join(f"fold-{n}\n" for n in range(1, folds + 1)),
        "x [0, 1] [0.9]\nk {a, b} [b]\n",
        "",
        f"run_obj = quality\ncheck-sat-consistency = false\n{options}",
    )


def test_a_quality_objective_over_folds_ranks_configurations_by_their_mean(tmp_path):
    """Cross-validation folds as instances: each trial gets its fold, configurations are
    compared over the folds they share, and the incumbent is the lowest mean over its runs,
    run on more than one fold."""
    scenario = write_folds_project(tmp_path, 3, "runcount_limit = 15\n")
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"), 300)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.records()
    assert sorted(r["run_id"] for r in records) == [f"{n:05d}" for n in range(1, 16)]
    for record in records:
        log = (group.path / record["run_dir"] / "process_output.log").read_text()
        assert f"\n{record['instance']}: validation error" in log  # the trial got its fold
    from smac_bridge.incumbent import incumbent

    best = incumbent(records)  # the rungroup's, which the summary names: worker 1's last
    assert best is not None  # heartbeat may predate worker 2's last run
    runs = [r for r in records if r["run_id"] in best["run_ids"]]
    assert all(r["config"] == best["config"] for r in runs)
    assert len({r["instance"] for r in runs}) >= 2
    assert best["cost"] == pytest.approx(sum(r["quality"] for r in runs) / len(runs))
    assert f"incumbent (cost {best['cost']:.6g})" in output


def test_a_quality_objective_over_five_folds_runs_its_incumbent_on_every_fold(tmp_path):
    """SMAC3's HPO facade caps the runs per configuration at 3: kept, it would leave folds 4
    and 5 unused, and a sorted instance file would silently lose its last lines."""
    scenario = write_folds_project(tmp_path, 5, "runcount_limit = 24\n")
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"), 300)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    best = group.worker(1)["incumbent"]
    runs = [r for r in group.records() if r["run_id"] in best["run_ids"]]
    assert sorted(r["instance"] for r in runs) == [f"fold-{n}" for n in range(1, 6)], best


def test_a_scenario_warning_is_one_plain_line(tmp_path):
    """`launch` printed Python's warning format: the package file and line that raised it,
    the class name, and the source line `self.scenario: Scenario = read_scenario(...)`."""
    scenario = write_folds_project(tmp_path, 3, "runcount_limit = 1 # one run\n")
    code, output = finish(start_launch(scenario, "--gpus", "none"), 120)
    assert code == 0, output
    (line,) = [line for line in output.splitlines() if "read as a comment" in line]
    assert line.startswith(f"warning: {scenario}:10: "), output
    assert "ScenarioWarning" not in output and "read_scenario" not in output, output


def test_instance_features_take_the_forest_and_a_gaussian_process_is_refused(tmp_path):
    """`auto` took SMAC3's Gaussian process for this small space, which cannot use instance
    features: every worker died on its first ask. Asked for by name, it is refused at once."""
    scenario = write_folds_project(tmp_path, 3, "runcount_limit = 6\nfeature_file = features.csv\n")
    (tmp_path / "features.csv").write_text("instance,size\nfold-1,1\nfold-2,2\nfold-3,3\n")
    code, output = finish(start_launch(scenario, "--facade", "blackbox", "--gpus", "none"), 120)
    assert code == 1, output
    assert "smac-facade = blackbox cannot use the instance features of" in output
    assert not (tmp_path / "out").exists()
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"), 300)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert len(group.records()) == 6
    assert {group.worker(seed)["facade"] for seed in (1, 2)} == {"hpo"}


def test_the_first_worker_runs_the_default_while_its_optimiser_starts(tmp_path):
    """Worker start-up (importing SMAC3, building the facade) passes while the default
    configuration's trial runs: it starts before SMAC3 writes the facade's files, is adopted
    on the seed of every other trial, and is not proposed again."""
    scenario = write_project(tmp_path, budget=6)
    code, output = finish(start_launch(scenario, "--parallel", "2", "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert_exact_budget(group, 6)
    records = group.records()
    first = min(records, key=lambda r: r["started"])
    assert (first["run_id"], first["worker"], first["config"]) == ("00001", 1, {"x": 2.5, "y": 7.5})
    facade_built = (group.layout.smac3 / "demo" / "1" / "scenario.json").stat().st_mtime
    assert first["started"] < facade_built
    assert len({r["smac_seed"] for r in records}) == 1
    assert len(group.records(include_reused=True)) == 6


def test_a_worker_whose_smac3_fails_to_import_stops_its_first_trial(tmp_path):
    """A broken SMAC3 installation is found while the default's trial already runs: the
    worker stops that trial, gives its run slot back and says why; nothing is left behind."""
    scenario = write_project(tmp_path, budget=4, mode="sleep", sleep=60)
    broken = tmp_path / "site" / "smac"
    broken.mkdir(parents=True)
    # It fails once the default's trial has written its pid, so that a slow machine cannot
    # make the worker stop the trial before its script started.
    pids = str(tmp_path / "pids")
    (broken / "__init__.py").write_text(
        f"import os, time\npids = {pids!r}\ndeadline = time.monotonic() + 60\n"
        "while not (os.path.isdir(pids) and os.listdir(pids)) and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        'raise ImportError("this SMAC3 installation is broken")\n'
    )
    env = {**smac_bridge_env(), "PYTHONPATH": str(broken.parent)}
    launch = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", "1", "--gpus", "none"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launch.returncode != 0
    assert "this SMAC3 installation is broken" in launch.stdout + launch.stderr
    group = RunGroup(tmp_path / "out" / "demo")
    assert trial_pids(tmp_path), "the default's trial never started"
    assert not any(pid_alive(pid) for pid in trial_pids(tmp_path))
    assert group.records() == [] and group.claimed() == []
    assert group.running() == []  # no marker that `status` would show as a lost trial


def test_one_worker_with_the_same_seed_proposes_the_same_configurations_again(tmp_path):
    """A rerun of a one-worker launch reproduces its proposals, whatever the process's
    string-hash seed (SMAC3's local search took its start points in set order)."""
    pcs = "x [-5, 10] [2.5]\ny [0.01, 15] [7.5]l\nc {a, b, c} [a]\nk [1, 8] [2]i\nz [0, 1] [0.5]\n"
    pcs += "z | c == a\n"
    sequences = []
    for hash_seed in ("0", "1"):
        root = tmp_path / hash_seed
        scenario = write_project(root, budget=20, pcs=pcs, sleep=0.0)
        hash_seed_env = {"PYTHONHASHSEED": hash_seed}
        code, output = finish(start_launch(scenario, "--gpus", "none", env=hash_seed_env))
        assert code == 0, output
        records = sorted(RunGroup(root / "out" / "demo").records(), key=lambda r: r["run_id"])
        assert len(records) == 20
        sequences.append([r["config"] for r in records])
    assert sequences[0] == sequences[1]


def test_each_run_names_the_gpu_it_ran_on(tmp_path):
    """Which GPU a run had was in its command.json and log only: a slow or failing card could
    not be told from `results` or `status`."""
    scenario = write_project(tmp_path, budget=4, peer=2)  # both workers run trials
    fake = {"SMAC_BRIDGE_FAKE_GPUS": "2"}
    code, output = finish(start_launch(scenario, "--gpus", "0,1", "--parallel", "2", env=fake))
    assert code == 0, output
    out = tmp_path / "out"
    group = RunGroup(out / "demo")
    gpu_of = {w["seed"]: w["gpu"] for w in group.workers()}
    assert sorted(gpu_of.values()) == ["0", "1"]
    records = group.records()
    assert {r["gpu"] for r in records} == {"0", "1"}
    assert all(r["gpu"] == gpu_of[r["worker"]] for r in records)
    shown = run_cli("results", str(out), "--sort", "gpu", "--csv", str(tmp_path / "runs.csv"))
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "status" in line).split()
    assert header[:4] == ["run", "worker", "status", "gpu"]
    rows = (tmp_path / "runs.csv").read_text().splitlines()
    column = rows[0].split(",").index("gpu")
    assert sorted(row.split(",")[column] for row in rows[1:]) == sorted(r["gpu"] for r in records)
    status = run_cli("status", str(out))
    assert status.returncode == 0, status.stderr
    header = next(line for line in status.stdout.splitlines() if "state" in line).split()
    assert header[:3] == ["worker", "gpu", "state"]
    assert [line.split()[:2] for line in status.stdout.splitlines()[-3:] if line.strip()] == [
        ["1", gpu_of[1]],
        ["2", gpu_of[2]],
    ]


def test_status_says_how_many_record_lines_it_left_out(tmp_path):
    """A damaged line of a record file was left out of `status` without a word, while
    `results`, `plot` and `report` warned of it."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    out = tmp_path / "out"
    with open(out / "demo" / "runs-1.jsonl", "a") as records:
        records.write('{"run_id": "00003", "quality": \n')
    status = run_cli("status", str(out))
    assert status.returncode == 0, status.stderr
    assert "2 of 2 runs done" in status.stdout, status.stdout
    said = " ".join(status.stdout.split())
    assert "1 line(s) of the runs-*.jsonl files are not run records" in said
    where = f"areleftout:{out / 'demo' / 'runs-1.jsonl'}:3"  # file and line, however wrapped
    assert where in "".join(status.stdout.split()), status.stdout
    picture = json.loads(run_cli("status", str(out), "--json").stdout)
    assert picture["rungroups"][0]["skipped_lines"] == 1
    header = next(line for line in status.stdout.splitlines() if "state" in line).split()
    assert "gpu" not in header  # no worker had one


def test_a_run_whose_record_was_cut_short_is_run_again_and_its_folder_kept(tmp_path):
    """A worker that died while it wrote a record (a crash, a full disk) left a torn last
    line: the resume ran that run again in its folder, over the model and result of a run
    that had ended, without a word."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.layout.records(1)
    lines = records.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    records.write_bytes(b"".join(lines[:-1]) + lines[-1][:150])  # torn: no newline
    before = group.run(last["run_id"]).algo_log.read_bytes()
    code, output = finish(start_launch(scenario, "--gpus", "none", "--resume", "--set",
                                       "runcount_limit=3"))  # fmt: skip
    assert code == 0, output
    said = " ".join(output.split())
    assert f"run {last['run_id']} lost its worker before it was recorded; what it left" in said
    (kept,) = group.layout.runs.glob(f"{last['run_id']}.lost-*")
    assert (kept / group.run(last["run_id"]).algo_log.name).read_bytes() == before  # kept
    assert sorted(r["run_id"] for r in group.records()) == ["00001", "00002", "00003"]
    # the torn line is kept aside, and no view calls the records damaged from then on
    assert f"the line is kept in {records}.torn" in said
    assert Path(f"{records}.torn").read_bytes() == lines[-1][:150] + b"\n"
    assert group.skipped_lines == []
    shown = run_cli("results", str(group.path))
    assert shown.returncode == 0 and "not run records" not in shown.stderr, shown.stderr


def test_the_script_gets_no_parameter_its_conditions_turn_off(tmp_path):
    """SMAC3's random proposals come from ConfigSpace's sampler, which gave `e` a value
    with `d`, the parent of its first alternative, inactive: the script got `--e` where the
    space says it has none, and one configuration ran twice, once with it."""
    chain = "a {on, off} [on]\nb {p, q} [p]\nd {u, v} [u]\ne [0, 1] [0.5]\n"
    chain += "b | a == on\nd | b == p\ne | d == u || a == off\n"
    pcs = "x [-5, 10] [2.5]\ny [0, 15] [7.5]\n" + chain
    scenario = write_project(tmp_path, budget=14, pcs=pcs)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    calls = [json.loads(line)["argv"] for line in (tmp_path / "calls.log").read_text().splitlines()]
    assert len(calls) == 14
    for argv in calls:
        params = dict(zip(argv[5::2], argv[6::2], strict=False))
        assert ("-e" in params) == (params.get("-d") == "u"), argv
    space = read_pcs(tmp_path / "space.pcs").space
    for record in RunGroup(tmp_path / "out" / "demo").records():
        Configuration(space, values=record["config"]).check_valid_configuration()


def test_a_worker_that_died_before_its_heartbeat_is_said_to_have_raised(tmp_path):
    """A worker that raised before it wrote a heartbeat (doe's workers read design.csv
    first) died as "worker 1 died (exit code 1)", its reason only in its log."""
    from smac_bridge.launcher import _raised

    log = tmp_path / "1.log"
    log.write_text(
        'Traceback (most recent call last):\n  File "worker.py", line 1016, in main\n'
        "smac_bridge.errors.InputError: design.csv:4: column 'u': must be empty, got '0.8'\n"
    )
    assert _raised(log) == ": InputError: design.csv:4: column 'u': must be empty, got '0.8'"
    start = log.stat().st_size
    assert _raised(log, start) == ""  # the earlier session's error is not this worker's
    with open(log, "a") as appended:
        appended.write("worker 1: runs 00003 of a worker that died are run again\n")
    assert _raised(log, start) == ""  # killed (out of memory, kill -9): no error to name
    assert _raised(tmp_path / "missing.log") == ""


def test_a_folder_smac_bridge_did_not_make_is_never_resumed_or_worked_in(tmp_path):
    """A launch into a folder of the user's that shares the rungroup's name said "continue
    it with --resume"; the resume (and a worker started by hand) then emptied its runs/
    folders one trial at a time, models and all."""
    scenario = write_project(tmp_path, budget=2)
    model = tmp_path / "out" / "demo" / "runs" / "00001" / "model.h5"
    model.parent.mkdir(parents=True)
    model.write_text("weights of a week of training")
    group = tmp_path / "out" / "demo"
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 1 and "--resume" not in output, output
    assert "the folder exists, is not empty and is no smac-bridge rungroup" in output
    code, output = finish(start_launch(scenario, "--gpus", "none", "--resume"))
    assert code == 1, output
    assert f"error: {group}: nothing to resume: the folder holds no launch.json" in output
    worker = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"],
        cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert worker.returncode == 1 and "is no smac-bridge rungroup" in worker.stderr, worker
    assert model.read_text() == "weights of a week of training"
    assert sorted(p.name for p in group.iterdir()) == ["runs"]  # nothing written beside it


def test_an_output_directory_that_is_a_rungroup_is_refused(tmp_path):
    """Given the rungroup a view took (out/demo) as --outdir, a launch made out/demo/demo,
    which the views of out/demo never showed."""
    scenario = write_project(tmp_path, budget=2)
    (tmp_path / "launch.json").write_text("{}")  # another tool's, at the project's root
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    inner = tmp_path / "out" / "demo"
    code, output = finish(start_launch(scenario, "--gpus", "none", "--outdir", str(inner)))
    assert code == 1, output
    assert f"error: {inner}: the output directory is itself a rungroup" in output
    worker = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "5",
         "--outdir", str(inner)],
        cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert worker.returncode == 1, worker
    assert f"{inner}: the output directory is itself a rungroup" in worker.stderr
    assert not (inner / "demo").exists()
    runs = inner / "runs"  # a rungroup nested in a run's folder, which best --copy-to copies
    code, output = finish(start_launch(scenario, "--gpus", "none", "--outdir", str(runs)))
    assert code == 1 and f"{runs}: the output directory is inside the rungroup {inner}" in output
    assert not (runs / "demo").exists()


def finished_group_with_first_record(tmp_path: Path, edit) -> tuple[Path, RunGroup, Path]:
    """A finished 2-run launch whose first record EDIT changed; its scenario, group and the
    edited record file."""
    scenario = write_project(tmp_path, budget=2)
    code, output = finish(start_launch(scenario, "--gpus", "none"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.layout.records(1)
    lines = records.read_text().splitlines()
    edited = json.loads(lines[0])
    edit(edited)
    records.write_text("\n".join([json.dumps(edited), *lines[1:]]) + "\n")
    return scenario, group, records


@pytest.mark.parametrize("field", ["runtime", "started", "smac_seed"])
def test_a_record_lacking_what_a_resume_tells_smac3_is_named_and_nothing_runs(tmp_path, field):
    """A record edited by hand without its runtime or start killed the resume's worker with
    `KeyError: 'runtime'`, naming neither file nor line."""
    scenario, group, records = finished_group_with_first_record(
        tmp_path, lambda record: record.pop(field)
    )
    before = records.read_bytes()
    code, output = finish(start_launch(scenario, "--gpus", "none", "--resume", "--set",
                                       "runcount_limit=3"))  # fmt: skip
    assert code == 1, output
    said = " ".join(output.split())
    run_id = json.loads(before.splitlines()[0])["run_id"]
    assert f"error: {records}:1: the record of run {run_id} lacks {field}, which the" in said
    assert "remove the line to run it again" in said
    assert records.read_bytes() == before and len(group.records()) == 2  # nothing lost
    assert not group.layout.slots.joinpath("00003.claim").exists()  # nothing run


def test_a_record_with_a_status_no_wrapper_writes_is_named_and_run_again(tmp_path):
    """A hand-edited status (`sat`) killed the resume's worker as it wrote the classic
    files; it is no record, like a damaged line: named, and its run done again."""
    scenario, group, records = finished_group_with_first_record(
        tmp_path, lambda record: record.update(status="sat")
    )
    code, output = finish(start_launch(scenario, "--gpus", "none", "--resume", "--set",
                                       "runcount_limit=3"))  # fmt: skip
    assert code == 0, output
    said = "".join(output.split())
    assert f"arenotrunrecords(damaged,oreditedbyhand)andareleftout:{records}:1" in said, output
    done = sorted(r["run_id"] for r in group.records())
    assert done == ["00001", "00002", "00003"], output  # the edited run, done again


def test_a_dead_workers_torn_record_is_named_before_anything_is_appended(tmp_path):
    """Until a worker appended to that file again, the views waited for the rest of a line
    that a dead worker would never write, and said nothing of it. Once no worker of the
    group lives, the views name it; a cleanup sets it aside, kept whole, and the views name
    it no more (it was named for good once its line had been ended in place)."""
    from smac_bridge.recovery import clean_dead_workers
    from smac_bridge.rundata import hostname

    group = RunGroup(tmp_path / "g")
    group.create()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          text=True, capture_output=True, check=True)  # fmt: skip
    group.write_worker(1, {"seed": 1, "host": hostname(), "pid": int(dead.stdout),
                           "pid_start": "1", "state": "running"})  # fmt: skip
    group.layout.records(1).write_bytes(b'{"run_id": "00001", "worker"')  # torn at its death
    group.records()
    assert group.skipped_lines == [f"{group.layout.records(1)}:1"]  # its writer is dead
    alive = {"pid": os.getpid(), "pid_start": process_token(os.getpid())}
    group.write_worker(1, {"seed": 1, "host": hostname(), **alive, "state": "running"})
    group.records()
    assert group.skipped_lines == []  # a live worker may still be writing it
    group.write_worker(1, {"seed": 1, "host": hostname(), "pid": int(dead.stdout),
                           "pid_start": "1", "state": "running"})  # fmt: skip
    clean_dead_workers(group)
    group.records()
    assert group.skipped_lines == []
    assert group.layout.records(1).read_bytes() == b""
    kept = group.layout.path / "runs-1.jsonl.torn"
    assert kept.read_bytes() == b'{"run_id": "00001", "worker"\n'
    clean_dead_workers(group)  # once only
    assert kept.read_bytes() == b'{"run_id": "00001", "worker"\n'


def test_a_run_lost_twice_within_a_second_keeps_both_folders(tmp_path):
    """The kept name had the second only: the second loss could not take it, said nothing,
    and the run's next attempt wrote over what that one left."""
    from smac_bridge.recovery import _keep_what_a_lost_run_left

    group = RunGroup(tmp_path / "g")
    group.create()
    for attempt in range(3):
        group.run("00004").path.mkdir(parents=True)
        group.run("00004").algo_log.write_text(f"attempt {attempt}\n")
        _keep_what_a_lost_run_left(group, "00004")
    kept = sorted(group.layout.runs.glob("00004.lost-*"))
    assert len(kept) == 3 and not group.run("00004").path.exists()
    logs = {(folder / group.run("00004").algo_log.name).read_text() for folder in kept}
    assert logs == {"attempt 0\n", "attempt 1\n", "attempt 2\n"}


def test_a_run_lost_while_its_dask_attempt_stops_stays_where_that_attempt_writes(tmp_path):
    """A SMAC worker killed while its trial ran on a Dask worker: the folder was moved at
    once, and the attempt, stopping in its grace, wrote its result.json by path into the
    folder of the run's next attempt, which took it as its script's report (TIMEOUT, no
    quality, for a run that finished SAT)."""
    from smac_bridge.recovery import _keep_what_a_lost_run_left

    group = RunGroup(tmp_path / "g")
    group.create()
    run = group.run("00002")
    run.path.mkdir(parents=True)
    run.algo_log.write_text("epoch 1\n")
    run.attempt.write_text(json.dumps({"host": "dask-node", "pid": 4242, "pid_start": "1"}))
    _keep_what_a_lost_run_left(group, "00002")
    assert run.attempt.exists() and not list(group.layout.runs.glob("00002.lost-*"))


SWITCHES = """
import argparse, json
p = argparse.ArgumentParser(allow_abbrev=False)
p.add_argument("--use-bn", action="store_true")
p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
p.add_argument("--lr", type=float, default=0.01)
a = p.parse_args()
print(json.dumps(vars(a)))
print(a.lr + 0.5 * a.use_bn + 0.25 * a.augment)
"""


def test_on_off_switches_are_tuned_as_argparse_takes_them(tmp_path):
    """`store_true` and `BooleanOptionalAction` flags take no value: every run failed with
    "unrecognized arguments: true", and check said OK."""
    (tmp_path / "train.py").write_text(SWITCHES, encoding="utf-8")
    (tmp_path / "space.pcs").write_text(
        "use-bn {true, false} [false]\naugment {on, off} [on]\nlr [0.001, 0.1] [0.01]l\n"
    )
    cmd = f"{sys.executable} train.py"
    scenario = tmp_path / "tune.txt"

    def write(options: str) -> None:
        scenario.write_text(
            f'algo = smac-bridge wrap {options} --cmd "{cmd}"\nexecdir = {tmp_path}\n'
            "paramfile = space.pcs\nrun_obj = quality\nruncount_limit = 6\n"
            "check-sat-consistency = false\n"
        )

    write("")
    said = " ".join(run_cli("check", str(scenario), cwd=tmp_path).stderr.split())
    assert "shows --use-bn as a switch that takes no value" in said, said
    assert "add --switch use-bn to the wrapper's options" in said, said
    assert "add --switch augment=--no-augment to the wrapper's options" in said, said
    write("--switch use-bn --switch augment=--no-augment")
    checked = run_cli("check", str(scenario), cwd=tmp_path)
    assert checked.returncode == 0 and "switch" not in checked.stderr, checked.stderr
    launched = run_cli(
        "launch", str(scenario), "--parallel", "2", "--gpus", "none", "--quiet",
        "--outdir", str(tmp_path / "out"), cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stdout + launched.stderr
    group = RunGroup(tmp_path / "out" / "tune")
    records = group.records()
    assert len(records) == 6 and {r["status"] for r in records} == {"SAT"}, records
    seen = set()
    for record in records:
        lines = group.run(record["run_id"]).script_log.read_text().splitlines()
        parsed = next(json.loads(line) for line in lines if line.startswith("{"))
        config = record["config"]
        wanted = (config["use-bn"] == "true", config["augment"] == "on")
        assert (parsed["use_bn"], parsed["augment"]) == wanted, (parsed, config)
        seen.add(wanted)
    assert len(seen) > 1  # the switches were tuned, not left at their defaults


def test_check_refuses_a_switch_that_cannot_work(tmp_path):
    """A switch whose values are no true/false, one a ${name} template takes as it is, and an
    OFF word with a space left unquoted (its second word became SMAC's call): check said OK
    for the last two, and every run failed."""
    (tmp_path / "train.py").write_text(SWITCHES, encoding="utf-8")
    (tmp_path / "space.pcs").write_text(
        "act {relu, tanh} [relu]\nlr [0.001, 0.1] [0.01]l\nbits integer [0, 1] [0]\n"
        "use-bn {true, false} [false]\n"
    )
    cmd = '--cmd "python train.py"'
    for options, said in (
        (
            f"--switch act {cmd}",
            "space.pcs to be true and false (or yes/no, on/off, 1/0), got relu",
        ),
        (f"--switch lr {cmd}", "got a numeric range"),
        (f"--switch bn {cmd}", "space.pcs declares no bn"),
        ('--switch use-bn --cmd "python train.py --use-bn ${use-bn}"', "in a ${use-bn} template"),
        (f"{cmd} --switch use-bn=--no bn", "'bn' follows the wrapper's options"),
    ):
        (tmp_path / "tune.txt").write_text(
            f"algo = smac-bridge wrap {options}\nparamfile = space.pcs\nrun_obj = quality\n"
        )
        checked = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
        assert checked.returncode == 1 and said in checked.stderr, checked.stderr
        assert "tune.txt:1:" in checked.stderr
    (tmp_path / "tune.txt").write_text(  # 0 and 1 are off and on, as the wrapper reads them
        f"algo = smac-bridge wrap --switch bits {cmd}\nparamfile = space.pcs\nrun_obj = quality\n"
    )
    checked = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


FORMS = """
import argparse
p = argparse.ArgumentParser(allow_abbrev=False)
p.add_argument("-u", "--use-bn", action="store_true")
g = p.add_mutually_exclusive_group()
g.add_argument("--adam", action="store_true")
g.add_argument("--sgd", action="store_true")
p.add_argument("--lr", type=float, default=0.01)
p.add_argument("--amp", action="store_true")
print(p.parse_args().lr)
"""


def test_check_reads_switches_in_every_form_argparse_prints(tmp_path):
    """A store_true flag with a short form (usage `[-u]`) or in a mutually exclusive group
    (`[--adam | --sgd]`) got no warning; a --switch of a flag that takes a value, or with an
    OFF word the script does not know, got none either. Each run of theirs failed."""
    (tmp_path / "train.py").write_text(FORMS, encoding="utf-8")
    (tmp_path / "space.pcs").write_text(
        "use-bn {true, false} [false]\nadam {true, false} [false]\nlr {0, 1} [0]\n"
        "amp {true, false} [false]\n"
    )
    (tmp_path / "tune.txt").write_text(
        'algo = smac-bridge wrap --switch lr --switch amp=--no-amp --cmd "python train.py"\n'
        "paramfile = space.pcs\nrun_obj = quality\n"
    )
    checked = run_cli("check", str(tmp_path / "tune.txt"), cwd=tmp_path)
    said = " ".join(checked.stderr.split())
    assert checked.returncode == 0, checked.stderr
    assert "--help shows --use-bn as a switch that takes no value" in said, said
    assert "--help shows --adam as a switch that takes no value" in said, said
    assert "--switch lr passes --lr alone, but the script's --help shows it takes a value" in said
    assert "does not mention --no-amp, which the wrapper's --switch amp=--no-amp passes" in said


def test_workers_without_shared_model_mode_learn_only_their_own_runs(tmp_path):
    """`shared-model-mode = false` is N independent optimisers (SMAC 2.10's default): each
    worker's model holds its own runs, none of the others'."""
    scenario = write_project(tmp_path, budget=8, sleep=0.2)
    code, output = finish(
        start_launch(scenario, "--parallel", "2", "--set", "shared-model-mode=false")
    )
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo")
    assert {r["worker"] for r in group.records()} == {1, 2} and len(group.records()) == 8
    assert [group.worker(seed)["foreign_runs_told"] for seed in (1, 2)] == [0, 0]
