"""What users bring: scripts that never work, partial results better than every finished one,
failure reasons, the script check, stopping with a long grace. Real launches throughout."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli, smac_bridge_env

from smac_bridge import monitor
from smac_bridge.rundata import RunGroup

pytestmark = pytest.mark.slow

# A training script with argparse flags that knows only --x: the PCS also has --lr.
ARGPARSE_SCRIPT = """
import argparse
parser = argparse.ArgumentParser(description="trains a model")
parser.add_argument("--x", type=float, required=True, help="the x")
args = parser.parse_args()
print(args.x ** 2)
"""

# A classic target: a TIMEOUT with a partial quality better than every SAT run for x > 5.
PARTIAL_TARGET = """
import sys
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
x = float(params["-x"])
status, quality = ("TIMEOUT", 0.0001) if x > 5 else ("SAT", 10 + x)
print(f"Result of this algorithm run: {status}, 1.0, 0, {quality}, {sys.argv[5]}")
"""


def project(folder: Path, script: str, algo: str, budget: int, pcs: str, more: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(script, encoding="utf-8")
    (folder / "space.pcs").write_text(pcs, encoding="utf-8")
    scenario = folder / "tune.txt"
    scenario.write_text(
        f"algo = {algo}\nexecdir = {folder}\nparamfile = space.pcs\nrun_obj = quality\n"
        f"runcount_limit = {budget}\ncheck-sat-consistency = false\nshared-model-mode = true\n"
        f"outdir = {folder / 'out'}\n{more}",
        encoding="utf-8",
    )
    return scenario


def launch(scenario: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--gpus", "none", *args],
        cwd=scenario.parent,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


WRAPPED = f'smac-bridge wrap --cmd "{sys.executable} train.py"'
X_AND_LR = "x real [-5, 10] [2.5]\nlr real [0.0001, 1] [0.01] log\n"


def test_an_instance_named_like_an_option_reaches_the_wrapped_script(tmp_path: Path) -> None:
    """An instance `--weird` came before SMAC's call, where the wrapper reads its own options:
    every run CRASHED with "unknown wrapper option", and `--echo` was taken as that option."""
    script = "import sys\nprint(len(sys.argv[sys.argv.index('--inst') + 1]))\n"
    algo = f'smac-bridge wrap --pass-instance --inst --cmd "{sys.executable} train.py"'
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "instances.txt").write_text("--weird\n--echo\n")
    more = "instance_file = instances.txt\ndeterministic = true\n"
    scenario = project(tmp_path / "p", script, algo, 4, X_AND_LR, more=more)
    done = launch(scenario)
    assert done.returncode == 0, done.stdout + done.stderr
    records = RunGroup(tmp_path / "p" / "out" / "tune").records()
    assert {r["status"] for r in records} == {"SAT"}
    assert all(r["quality"] == len(r["instance"]) for r in records)
    assert {r["instance"] for r in records} == {"--weird", "--echo"}


def test_a_script_that_never_works_stops_the_launch_on_its_first_runs(tmp_path: Path) -> None:
    scenario = project(tmp_path, ARGPARSE_SCRIPT, WRAPPED, 20, X_AND_LR)
    done = launch(scenario, "--parallel", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout
    assert "the script seems to fail on every configuration" in output
    # the way out: a fresh start, since a resume keeps the failures in the model
    assert f"remove {tmp_path / 'out' / 'tune'} and launch again" in output
    assert "'exit code 2'" in output
    assert ": UNSAT no quality in " in output and "quality 1e+09" not in output, output
    assert "unrecognized arguments: --lr" in output  # argparse's own words
    assert "script: " in output and "train.py --lr" in output  # the command line it ran
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert 3 <= len(records) <= 4  # stopped on the first runs, not after burning the budget
    assert all(r["reason"].startswith("exit code 2: ") for r in records)
    assert all("unrecognized arguments" in r["reason"] for r in records)
    results = run_cli("results", str(tmp_path / "out"), "--json")
    assert all("unrecognized arguments" in row["reason"] for row in json.loads(results.stdout))
    status = run_cli("status", str(tmp_path / "out"))  # it ended: no success is coming "yet"
    said = " ".join(status.stdout.split())
    assert "; no successful run " in said and "no successful run yet" not in said, said


NON_ASCII_FAILURE = """
import os, sys
os.write(1, "progress \u2588\u2588 \u00e9poque 1\\n".encode())  # as UTF-8, whatever the locale
os.write(2, "Error: donn\u00e9es introuvables: \u65e5\u672c.csv\\n".encode())
sys.exit(1)
"""


def test_a_terminal_that_cannot_print_a_character_gets_an_escape(tmp_path: Path) -> None:
    """A shell whose encoding lacks a character a run printed (an ASCII or Latin-1 locale):
    the launch and the views print it as an escape. A UnicodeEncodeError ended the launch
    halfway through its budget, and `status`, `results` and `tail` with a traceback."""
    scenario = project(tmp_path, NON_ASCII_FAILURE, WRAPPED, 20, X_AND_LR)
    ascii_only = {**smac_bridge_env(), "PYTHONIOENCODING": "ascii"}

    def smac_bridge(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", *args], cwd=tmp_path, env=ascii_only,
            capture_output=True, text=True, encoding="ascii", errors="strict", timeout=300,
        )  # fmt: skip

    done = smac_bridge("launch", str(scenario), "--gpus", "none", "--parallel", "1")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "the script seems to fail on every configuration" in done.stdout
    assert "donn\\xe9es introuvables: \\u65e5\\u672c.csv" in done.stdout
    assert len(RunGroup(tmp_path / "out" / "tune").records()) == 3
    for view, *run_id in (["status"], ["results"], ["tail", "00001"]):
        shown = smac_bridge(view, str(tmp_path / "out" / "tune"), *run_id)
        assert shown.returncode == 0 and "\\xe9" in shown.stdout, shown.stdout + shown.stderr


def test_one_worker_stops_a_script_that_never_works_after_exactly_its_first_runs(
    tmp_path: Path,
) -> None:
    """`broken-script-runs = 3`: the stop's message names the first 3 runs, and no fourth
    run was spent (two workers may have a fourth one running when the third ends)."""
    scenario = project(tmp_path, ARGPARSE_SCRIPT, WRAPPED, 20, X_AND_LR)
    done = launch(scenario, "--parallel", "1")
    assert done.returncode == 1 and "the script seems to fail on every configuration" in done.stdout
    assert len(RunGroup(tmp_path / "out" / "tune").records()) == 3


def test_a_classic_target_that_never_prints_a_result_line_stops_the_launch(tmp_path: Path) -> None:
    """The rule held for `smac-bridge wrap` only: a classic target that failed on every call
    without a result line burnt the whole budget, after the first-run abort's own advice
    (abort_on_first_run_crash = false) was taken."""
    classic = f'"{sys.executable}" train.py'
    more = "abort_on_first_run_crash = false\n"
    scenario = project(tmp_path, ARGPARSE_SCRIPT, classic, 20, X_AND_LR, more=more)
    done = launch(scenario, "--parallel", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the script seems to fail on every configuration" in done.stdout
    assert "'no line matched a result line (exit code 2)'" in done.stdout, done.stdout
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert [r["status"] for r in records] == ["CRASHED"] * 3


def test_a_module_the_trials_python_lacks_is_named_with_that_python(tmp_path: Path) -> None:
    """A script that runs by hand in the user's active environment failed in every trial
    with ModuleNotFoundError: the trials' `python` is smac-bridge's own, first on their PATH,
    and neither check nor the launch's stop said which python ran it or how to name another."""
    script = "import argparse\nimport module_of_another_environment\n"
    scenario = project(tmp_path, script, 'smac-bridge wrap --cmd "python train.py"', 9, X_AND_LR)
    ours = shutil.which("python", path=os.path.dirname(sys.executable))
    checked = run_cli("check", str(scenario), cwd=tmp_path)
    said = " ".join(checked.stderr.split())
    assert f"`python` in the algo is {ours}, smac-bridge's own environment's" in said, said
    done = launch(scenario, "--parallel", "1")
    assert done.returncode == 1, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "seems to fail on every configuration" in said
    assert f"`python` in the algo is {ours}" in said and "init --python" in said, said


@pytest.mark.parametrize("more", ["deterministic = false\n", "instance_file = insts.txt\n"])
def test_a_space_of_one_configuration_run_over_seeds_or_instances_ends(tmp_path: Path, more):
    """`k {a} [a]` over seeds or instances: the worker's ask while the default ran spun in
    SMAC3 for ever, at 100% CPU, and the launch never ended. It runs the configuration on
    more than one seed or instance (its result told, another is due), then ends."""
    (tmp_path / "insts.txt").write_text("fold1\nfold2\n")
    script = "print(0.5)\n"
    algo = 'smac-bridge wrap --cmd "python train.py"'
    scenario = project(tmp_path, script, algo, 6, "k {a} [a]\n", more=more)
    done = launch(scenario, "--parallel", "1", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ended: no configuration left to propose" in done.stdout, done.stdout
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert len({(r["instance"], r["seed"]) for r in records}) >= 2, records


def test_a_design_whose_script_never_works_says_how_to_run_the_rest(tmp_path: Path) -> None:
    """A design has no model and no default run, and goes on with `doe --resume`: its stop
    said to launch again, as if the model kept the failed rows and the default among them."""
    scenario = project(tmp_path, ARGPARSE_SCRIPT, WRAPPED, 20, X_AND_LR)

    def doe(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "smac_bridge.cli", "doe", str(scenario), *args]
            + ["--gpus", "none", "--parallel", "1"],
            cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    done = doe("--sample", "5", "--quiet")
    said = " ".join(done.stdout.split())
    assert done.returncode == 1 and "the first 3 runs of this design all ended" in said, said
    resume = re.search(r"the rest of the design with `([^`]*)`", said)
    assert resume is not None, said  # the folder named in full: it was left out, and another
    # --outdir or rungroup made the printed command resume nothing, or another design
    argv = shlex.split(resume.group(1))
    assert argv[:4] == ["smac-bridge", "doe", str(scenario), "--resume"], argv
    assert argv[4:] == ["--outdir", str(tmp_path / "out"), "--set", "rungroup=tune-doe"], argv
    assert "model" not in said and "default" not in said and "launch again" not in said
    (tmp_path / "train.py").write_text(ARGPARSE_SCRIPT.replace('"--x"', '"--x", "--lr"'))
    again = doe(*argv[3:])  # as the stop says: the failed rows stay, the rest run
    assert again.returncode == 0, again.stdout + again.stderr
    records = sorted(RunGroup(tmp_path / "out" / "tune-doe").records(), key=lambda r: r["run_id"])
    assert [r["status"] for r in records] == ["UNSAT", "UNSAT", "UNSAT", "SAT", "SAT"]


def test_runs_that_crash_after_reporting_progress_do_not_stop_the_launch(tmp_path: Path) -> None:
    """A script that trains and then fails (a NaN loss, out of memory) works: its runs keep
    their partial qualities, and the launch spends its budget instead of calling the script
    broken, which is for scripts that fail before reporting anything."""
    script = (
        "import argparse\nfrom smac_bridge import report\n"
        "parser = argparse.ArgumentParser()\nparser.add_argument('--x', type=float)\n"
        "report(parser.parse_args().x ** 2, step=1, partial=True)\n"
        "raise SystemExit('loss is nan')\n"
    )
    scenario = project(tmp_path, script, WRAPPED, 4, "x real [-5, 10] [2.5]\n")
    done = launch(scenario)
    assert "fails on every configuration" not in done.stdout, done.stdout + done.stderr
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert len(records) == 4, done.stdout + done.stderr
    assert all(r["partial"] and "loss is nan" in r["reason"] for r in records), records
    for r in records:  # the elapsed time `results` shows and the plots' time axes
        assert r["wall_time"] > 0 and r["ended"] - r["started"] == pytest.approx(
            r["wall_time"], abs=1e-5
        )


def test_a_resume_whose_runs_all_fail_says_what_changed_not_that_it_never_worked(
    tmp_path: Path,
) -> None:
    """Its rungroup holds successful runs: the stop must not say the script fails on every
    configuration, nor advise removing the rungroup and its good runs."""
    script = "from pathlib import Path\nprint(float(Path('data.txt').read_text()))\n"
    scenario = project(tmp_path, script, WRAPPED, 2, "x real [-5, 10] [2.5]\n")
    (tmp_path / "data.txt").write_text("0.5")
    assert launch(scenario).returncode == 0
    (tmp_path / "data.txt").unlink()  # the environment changed
    done = launch(scenario, "--resume", "--set", "runcount_limit=10")
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout
    assert "the first 3 runs of this resume all ended with" in output, output
    assert "while earlier runs of this rungroup succeeded" in output
    assert "continue with --resume" in output and "remove" not in output
    assert "FileNotFoundError" in output
    assert len(RunGroup(tmp_path / "out" / "tune").records()) <= 6


def test_a_file_a_worker_cannot_write_is_named_not_hidden_by_its_ending(
    tmp_path: Path,
) -> None:
    """A resume's worker that cannot write its trajectory fails with the file's name: its
    ending, which writes the trajectory's last row too, used to fail again and show the user
    an AttributeError of its own instead. The runs recorded before are kept."""
    scenario = project(tmp_path, "print(1.5)\n", WRAPPED, 2, "x real [-5, 10] [2.5]\n")
    assert launch(scenario).returncode == 0
    trajectory = tmp_path / "out" / "tune" / "traj-run-1.csv"
    trajectory.unlink()
    trajectory.mkdir()  # a path the worker cannot write, even as root
    done = launch(scenario, "--resume", "--set", "runcount_limit=4")
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert f"cannot write {trajectory}: Is a directory" in said, said
    assert "Traceback" not in said and "AttributeError" not in said, said
    assert len(RunGroup(tmp_path / "out" / "tune").records()) == 2


SLOTS_DELETER = """
import os, pathlib, shutil, sys
run_dir = pathlib.Path(os.environ["SMAC_BRIDGE_RUN_DIR"])
(run_dir / "made.txt").write_text(sys.argv[-1])
if run_dir.name == "00003":
    shutil.rmtree(run_dir.parent.parent / "slots")
print(1.5)
"""


def test_a_slots_folder_deleted_mid_launch_stops_it_and_a_resume_reuses_no_run_id(
    tmp_path: Path,
) -> None:
    """slots/ deleted while workers run: the workers stop and say which folder went, rather
    than claim run ids again, write new runs into recorded runs' folders and overshoot the
    budget; a resume claims the recorded runs' slots again and makes exactly the rest."""
    scenario = project(tmp_path, SLOTS_DELETER, WRAPPED, 6, "x real [-5, 10] [2.5]\n")
    slots = tmp_path / "out" / "tune" / "slots"
    stopped = launch(scenario)
    said = stopped.stdout + stopped.stderr
    assert stopped.returncode == 1, said
    assert f"{slots}: this folder of the rungroup is gone" in said, said
    group = RunGroup(tmp_path / "out" / "tune")
    made = {
        r["run_id"]: (group.path / "runs" / r["run_id"] / "made.txt").read_text()
        for r in group.records()
    }
    assert "00003" in made and len(made) < 6, made
    assert launch(scenario, "--resume").returncode == 0
    run_ids = [record["run_id"] for record in RunGroup(group.path).records()]
    assert sorted(run_ids) == [f"{n:05d}" for n in range(1, 7)], run_ids
    for run_id, value in made.items():  # no new run wrote into a recorded run's folder
        assert (group.path / "runs" / run_id / "made.txt").read_text() == value


def test_a_nan_report_gives_the_run_a_reason_and_no_extra_value_of_it(tmp_path: Path) -> None:
    """report(nan) names why on its line, which the record's extra values took in as if the
    script had reported a `reason`: `results --csv` grew an extra.reason column."""
    script = "from smac_bridge import report\nreport(float('nan'), test_error=float('nan'))\n"
    scenario = project(
        tmp_path, script, WRAPPED, 1, "x [0, 1] [0.5]\n", "check-sat-consistency = false\n"
    )
    launch(scenario, "--set", "abort_on_first_run_crash=false")
    (record,) = RunGroup(tmp_path / "out" / "tune").records()
    assert (record["status"], record["reason"]) == ("UNSAT", "quality is nan"), record
    assert record["extra"] == {"test_error": None}, record


def test_a_timeout_without_a_report_stays_no_quality_once_the_scenario_is_gone(
    tmp_path: Path,
) -> None:
    """Read on another machine, or after the project moved, where the scenario file that
    names `--failure-quality` is not: a timeout that reported nothing showed as the failure
    quality, partial. The launch notes the failure quality for such views."""
    algo = f'smac-bridge wrap --cmd "{sys.executable} train.py" --failure-quality 0.75 --grace 1'
    script = "import time\ntime.sleep(30)\n"
    more = "cutoff_time = 1\n"
    scenario = project(tmp_path, script, algo, 1, "x real [-5, 10] [2.5]\n", more)
    launch(scenario)
    group = RunGroup(tmp_path / "out" / "tune")
    ended = "==> run 00001 ended: TIMEOUT, no quality (wall_time limit reached) <=="
    followed = run_cli("tail", str(group.path), "00001", "--follow")  # it took 0.75 as partial
    assert ended in followed.stderr, followed.stderr
    scenario.rename(tmp_path / "elsewhere.txt")
    shown = run_cli("results", str(group.path), "--json")
    (row,) = json.loads(shown.stdout)
    assert row["status"] == "TIMEOUT" and row["partial"] is False, row
    assert group.launch_info()["failure_quality"] == 0.75
    followed = run_cli("tail", str(group.path), "00001", "--follow")
    assert ended in followed.stderr, followed.stderr


def test_the_budget_burning_behaviour_stays_available(tmp_path: Path) -> None:
    scenario = project(
        tmp_path, ARGPARSE_SCRIPT, WRAPPED, 4, X_AND_LR, more="broken-script-runs = 0\n"
    )
    done = launch(scenario)
    assert done.returncode == 1, done.stdout + done.stderr  # the budget ran, nothing was found
    assert len(RunGroup(tmp_path / "out" / "tune").records()) == 4
    assert "no run succeeded" in done.stdout


def test_pruning_a_script_without_a_learning_curve_says_so(tmp_path: Path) -> None:
    scenario = project(
        tmp_path, ARGPARSE_SCRIPT, WRAPPED, 3, "x real [-5, 10] [2.5]\n", "pruning = median\n"
    )
    done = launch(scenario, "--parallel", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pruning = median stopped nothing: no run reported a learning curve" in done.stdout


def test_a_launch_whose_every_run_reached_the_cutoff_says_so(tmp_path: Path) -> None:
    slow = "import time\ntime.sleep(30)\n" + ARGPARSE_SCRIPT
    more = "cutoff_time = 0.5\nbroken-script-runs = 0\n"
    scenario = project(tmp_path, slow, WRAPPED, 2, "x real [-5, 10] [2.5]\n", more=more)
    done = launch(scenario)
    assert done.returncode == 1, done.stdout + done.stderr
    assert [r["status"] for r in RunGroup(tmp_path / "out" / "tune").records()] == ["TIMEOUT"] * 2
    assert "every run reached its cutoff_time (0.5 s at most): raise it with --set" in done.stdout


def test_a_launch_whose_first_run_alone_reached_the_cutoff_does_not_blame_it(tmp_path):
    """The default configuration (run first) is slow, the others fail: raising the cutoff
    is not the cure the summary may name."""
    script = (
        "import sys, time\nx = float(sys.argv[sys.argv.index('--x') + 1])\n"
        "if x == 2.5:\n    time.sleep(30)\nraise SystemExit('diverged')\n"
    )
    more = "cutoff_time = 0.5\nbroken-script-runs = 0\n"
    scenario = project(tmp_path, script, WRAPPED, 2, "x real [-5, 10] [2.5]\n", more=more)
    done = launch(scenario)
    assert done.returncode == 1, done.stdout + done.stderr
    statuses = [r["status"] for r in RunGroup(tmp_path / "out" / "tune").records()]
    assert sorted(statuses) == ["TIMEOUT", "UNSAT"], done.stdout
    assert "no run succeeded" in done.stdout and "every run reached" not in done.stdout


def test_a_missing_script_is_refused_before_any_run(tmp_path: Path) -> None:
    scenario = project(
        tmp_path, "", f'smac-bridge wrap --cmd "{sys.executable} trian.py"', 4, X_AND_LR
    )
    done = launch(scenario)
    assert done.returncode == 1
    assert f"{scenario}:1: algo: the script trian.py does not exist" in done.stderr
    assert not (tmp_path / "out" / "tune" / "slots").exists()
    check = run_cli("check", str(scenario), cwd=tmp_path)
    assert check.returncode == 1 and "trian.py does not exist" in check.stderr


def test_check_warns_about_parameters_the_script_does_not_take(tmp_path: Path) -> None:
    scenario = project(tmp_path, ARGPARSE_SCRIPT, WRAPPED, 4, X_AND_LR)
    check = run_cli("check", str(scenario), cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    said = " ".join(check.stderr.split())
    assert f"{scenario}: the script's --help does not mention --lr (PCS parameter lr)" in said
    assert "--x" not in check.stderr
    # a PCS name that is the start of one of the script's flags is argparse's abbreviation
    for longer in ("--xray", "--x-scale"):
        script = ARGPARSE_SCRIPT.replace("--x", longer)
        abbreviated = project(tmp_path / longer, script, WRAPPED, 4, X_AND_LR)
        check = run_cli("check", str(abbreviated), cwd=tmp_path / longer)
        assert (
            "does not mention --x (PCS parameter x); argparse takes it as an abbreviation of"
            f" {longer}" in check.stderr
        )
    helped = project(tmp_path / "h", ARGPARSE_SCRIPT, WRAPPED, 4, "help real [0, 1] [0.5]\n")
    check = run_cli("check", str(helped), cwd=tmp_path / "h")
    assert "PCS parameter help becomes --help, which argparse takes for its help" in " ".join(
        check.stderr.split()
    ), check.stderr
    unbalanced = project(tmp_path / "q", ARGPARSE_SCRIPT, 'python "train.py', 4, X_AND_LR)
    check = run_cli("check", str(unbalanced), cwd=tmp_path)
    assert check.returncode == 1 and ":1: algo: unbalanced double quote" in check.stderr


def test_partial_qualities_better_than_every_finished_run_and_resume(tmp_path: Path) -> None:
    """The MNIST example died this way: a run reached the cutoff with a partial quality
    better than every SAT run, which turned SMAC3's cost encoding into NaN; resume too."""
    scenario = project(
        tmp_path, PARTIAL_TARGET, f"{sys.executable} train.py", 12, "x real [-5, 10] [2.5]\n"
    )
    done = launch(scenario, "--parallel", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    group = RunGroup(tmp_path / "out" / "tune")
    records = group.records()
    assert {"SAT", "TIMEOUT"} <= {r["status"] for r in records}
    assert all(w["state"] == "done" for w in group.workers())
    best = min((r for r in records if r["status"] == "SAT"), key=lambda r: r["quality"])
    assert f"run {best['run_id']} (best)" in done.stdout  # the TIMEOUT run's 0.0001 does not win
    assert ": TIMEOUT quality 0.0001 (partial) in " in done.stdout, done.stdout
    more = launch(scenario, "--parallel", "2", "--resume", "--set", "runcount_limit=16")
    assert more.returncode == 0, more.stdout + more.stderr
    assert len(group.records()) == 16


# A classic solver that runs out of memory for x > 3 (SMAC3's MEMOUT word).
MEMOUT_SOLVER = """
import sys
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
status = "MEMOUT" if float(params["-x"]) > 3 else "SAT"
print(f"Result of this algorithm run: {status}, 0.2, 0, 0, {sys.argv[5]}")
"""


def solver_project(folder: Path, solver: str) -> Path:
    """A runtime scenario (cutoff 3 s, PAR10) of 6 runs over x in [0, 10] for a classic
    SOLVER that prints its own result line."""
    scenario = project(
        folder,
        solver,
        f"{sys.executable} train.py",
        6,
        "x real [0, 10] [1]\n",
        "run_obj = runtime\ncutoff_time = 3\noverall_obj = mean10\n",
    )
    scenario.write_text(scenario.read_text().replace("run_obj = quality\n", ""))
    return scenario


def test_a_resume_refuses_another_par_factor(tmp_path: Path) -> None:
    """Costs are fixed when a run is recorded: a resume with overall_obj = MEAN charged the
    new runs' timeouts 1 x the cutoff beside the earlier runs' 10 x, and the incumbent moved
    to a configuration whose timeouts were charged less. Nothing said so."""
    scenario = solver_project(tmp_path, MEMOUT_SOLVER)
    assert launch(scenario, "--parallel", "1").returncode == 0
    group = RunGroup(tmp_path / "out" / "tune")
    again = ["--resume", "--set", "runcount_limit=8", "--set", "overall_obj=MEAN"]
    done = launch(scenario, *again)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "were made with overall_obj = MEAN10, and this scenario says MEAN" in done.stderr
    assert len(group.records()) == 6 and group.launch_info()["overall_obj"] == "MEAN10"
    quality = tmp_path / "quality"  # whose costs have no PAR factor: nothing to refuse
    scenario = project(quality, "print(0.5)\n", WRAPPED, 1, "x [0, 1] [1]\n")
    assert launch(scenario).returncode == 0
    done = launch(scenario, "--resume", "--set", "runcount_limit=2", "--set", "overall_obj=MEAN10")
    assert "were made with overall_obj" not in done.stderr, done.stderr


def test_a_memout_of_a_classic_solver_costs_par10_in_a_runtime_scenario(tmp_path: Path) -> None:
    """Read as UNSAT, a MEMOUT would cost its 0.2 s: a runtime scenario counts UNSAT as
    solved, so the solver that runs out of memory would look the fastest."""
    done = launch(solver_project(tmp_path, MEMOUT_SOLVER), "--parallel", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    records = RunGroup(tmp_path / "out" / "tune").records()
    memout = [r for r in records if r["config"]["x"] > 3]
    assert memout, records
    for record in records:
        if record["config"]["x"] > 3:
            assert (record["status"], record["cost"]) == ("CRASHED", 30.0), record
            assert record["reason"] == "the target reported MEMOUT (out of memory)", record
        else:
            assert (record["status"], record["cost"]) == ("SAT", 0.2), record


# A classic target whose SAT lines carry qualities that are none: inf, -inf and 1e9.
NO_QUALITY_TARGET = """
import sys
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
quality = {"ok": "0.5", "inf": "Infinity", "ninf": "-Infinity", "big": "1.0E9"}[params["-mode"]]
print(f"Result of this algorithm run: SAT, 0.1, 0, {quality}, {sys.argv[5]}")
"""


def classic_design(folder: Path, target: str, modes: list[str]) -> subprocess.CompletedProcess:
    """`doe` of the classic TARGET, one run per value of its `-mode` in MODES, in order."""
    space = f"mode {{{', '.join(modes)}}} [{modes[0]}]\n"
    scenario = project(folder, target, f"{sys.executable} train.py", len(modes), space)
    (folder / "rows.csv").write_text("mode\n" + "".join(f"{m}\n" for m in modes), "utf-8")
    return run_cli("doe", str(scenario), "--design", "rows.csv", "--gpus", "none", cwd=folder)


def test_a_classic_sat_without_a_quality_says_why_it_counts_as_failed(tmp_path: Path) -> None:
    """SAT with the quality inf, -inf or 1e9 is listed with the failed runs (no quality), and
    it had no reason: `status` listed failed runs with none, against the docs."""
    done = classic_design(tmp_path, NO_QUALITY_TARGET, ["ok", "inf", "ninf", "big"])
    assert done.returncode == 0, done.stdout + done.stderr
    for row in json.loads(run_cli("results", str(tmp_path / "out"), "--json").stdout):
        mode = row["config"]["mode"]
        if mode == "ok":
            assert (row["quality"], row["reason"]) == (0.5, ""), row
            continue
        printed = {"inf": "Infinity", "ninf": "-Infinity", "big": "1.0E9"}[mode]
        assert row["status"] == "SAT" and row["cost"] == 1e9, row
        assert row["reason"] == f"the target reported SAT with the quality {printed}, which is none"


# A classic target whose failed and timed-out runs all print the quality 1.0, as many do.
ONE_FOR_FAILURES = """
import sys
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
results = {"unsat": ("UNSAT", 1.0), "timeout": ("TIMEOUT", 1.0), "partial": ("TIMEOUT", 0.3)}
status, quality = results[params["-mode"]]
print(f"Result of this algorithm run: {status}, 0.1, 0, {quality}, {sys.argv[5]}")
"""


def test_a_launch_line_says_a_classic_runs_quality_as_results_does(tmp_path: Path) -> None:
    """The quality failed runs of a classic target share is theirs for no quality: a TIMEOUT
    with it has none. The launch's line judged each run alone and said `quality 1 (partial)`
    where `results` said `no quality`."""
    done = classic_design(tmp_path, ONE_FOR_FAILURES, ["unsat", "timeout", "partial"])
    said = done.stdout + done.stderr
    assert "run 00002 (worker 1): TIMEOUT no quality" in said, said
    assert "run 00003 (worker 1): TIMEOUT quality 0.3 (partial)" in said, said
    rows = json.loads(run_cli("results", str(tmp_path / "out"), "--json").stdout)
    partial = {row["run_id"]: row["partial"] for row in rows}
    assert partial == {"00001": False, "00002": False, "00003": True}, rows


# A classic solver whose progress output runs into its result line through a form feed.
FORM_FEED_SOLVER = """
import sys
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
before = "done\\f" if float(params["-x"]) > 5 else ""
print(f"{before}Result of this algorithm run: SAT, 0.2, 0, 0, {sys.argv[5]}")
"""


def test_a_classic_result_line_is_a_line_as_java_smac_reads_one(tmp_path: Path) -> None:
    """Java SMAC breaks a solver's output into lines at \\n and \\r only: `done\\fResult of
    ...` is no result line there, and the run is CRASHED. str.splitlines() found one."""
    done = launch(solver_project(tmp_path, FORM_FEED_SOLVER), "--parallel", "1")
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert any(r["config"]["x"] > 5 for r in records), records
    for record in records:
        wanted = "CRASHED" if record["config"]["x"] > 5 else "SAT"
        assert record["status"] == wanted, (record, done.stdout + done.stderr)


# A classic solver on an unsatisfiable instance: every run UNSAT, fastest at x = 2.
UNSAT_SOLVER = """
import sys
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
seconds = 0.1 + abs(float(params["-x"]) - 2) / 10
print(f"Result of this algorithm run: UNSAT, {seconds}, 0, 0, {sys.argv[5]}")
"""


def test_unsat_runs_are_solves_that_compete_in_a_runtime_scenario(tmp_path: Path) -> None:
    """With run_obj = runtime an UNSAT run solved its instance: the fastest one is the best
    run, no run counts as failed, and the launch found something (exit 0)."""
    done = launch(solver_project(tmp_path, UNSAT_SOLVER), "--parallel", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert len(records) == 6 and all(r["status"] == "UNSAT" for r in records), records
    fastest = min(records, key=lambda r: (r["cost"], r["run_id"]))
    best = run_cli("best", str(tmp_path / "out"), "--json", cwd=tmp_path)
    assert best.returncode == 0, best.stderr
    assert json.loads(best.stdout)["record"]["run_id"] == fastest["run_id"]
    table = json.loads(run_cli("results", str(tmp_path / "out"), "--json").stdout)
    assert [row["run_id"] for row in table if row["best"]] == [fastest["run_id"]]
    assert all(row["solved"] and not row["reason"] for row in table), table
    status = run_cli("status", str(tmp_path / "out"), "--json", cwd=tmp_path)
    assert json.loads(status.stdout)["rungroups"][0]["failed"] == 0, status.stdout


def test_a_json_paramfile_as_smac3_reads_it_is_launched(tmp_path: Path) -> None:
    """`paramfile = space.json` (ConfigSpace's JSON, SMAC3 1.x's format): the launch runs on
    its space, and the rungroup keeps it as PCS."""
    from smac_bridge.pcs import parse_pcs, to_json

    space = "x real [-5, 10] [2.5]\nkind {a, b} [a]\nx | kind == a\n"
    script = "import sys\nprint(len(sys.argv))\n"  # any flags: the values are not its point
    scenario = project(tmp_path, script, WRAPPED, 3, space)
    (tmp_path / "space.json").write_text(to_json(parse_pcs(space)))
    (tmp_path / "space.pcs").unlink()
    scenario.write_text(scenario.read_text().replace("space.pcs", "space.json"))
    done = launch(scenario, "--parallel", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    records = RunGroup(tmp_path / "out" / "tune").records()
    assert len(records) == 3 and all(r["status"] == "SAT" for r in records), records
    assert {"kind"} <= set(records[0]["config"])
    saved = (tmp_path / "out" / "tune" / "space.pcs").read_text()
    assert "x | kind == a" in saved


def test_stop_waits_as_long_as_the_wrappers_grace(tmp_path: Path) -> None:
    group = RunGroup(tmp_path / "g")
    run = group.run("00001")
    run.path.mkdir(parents=True)
    assert monitor.stop_wait(group, "00001") == monitor.DEFAULT_GRACE + monitor.STOP_MARGIN
    run.command.write_text(json.dumps({"argv": ["x"], "grace": 60}))
    assert monitor.stop_wait(group, "00001") == 60 + monitor.STOP_MARGIN
