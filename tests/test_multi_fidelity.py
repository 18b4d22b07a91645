"""Multi-fidelity launches: budgets as a script flag, Hyperband across workers, promotions that
continue from the previous trial's checkpoint, and a global budget in budget units."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, smac_bridge_env, start_launch

from smac_bridge.rundata import RunGroup, trained_steps

pytestmark = pytest.mark.slow

# Branin that "trains" EPOCHS epochs (better with more), continuing from a checkpoint: the
# artifacts of the run it was promoted from hold the epochs trained so far.
TARGET = """
import argparse, json, math, os, sys
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, required=True)
p.add_argument("--y", type=float, required=True)
p.add_argument("--epochs", type=int, required=True)
a = p.parse_args()
start = 0
resume = os.environ.get("SMAC_BRIDGE_RESUME_FROM")
if resume and os.path.exists(os.path.join(resume, "epochs.txt")):
    start = int(open(os.path.join(resume, "epochs.txt")).read())
artifacts = os.environ["SMAC_BRIDGE_ARTIFACTS"]
os.makedirs(artifacts, exist_ok=True)
open(os.path.join(artifacts, "epochs.txt"), "w").write(str(a.epochs))
b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
value = (a.y - b * a.x**2 + c * a.x - 6) ** 2 + 10 * (1 - t) * math.cos(a.x) + 10
print(json.dumps({"trained": [start, a.epochs], "argv": sys.argv[1:]}))
if os.path.exists("zero-based.txt"):  # a curve whose steps count epochs from 0
    from smac_bridge import report
    for epoch in range(start, a.epochs):
        report(value + 20.0 / (epoch + 1), step=epoch, partial=True)
print(value + 20.0 / a.epochs)
"""


def write_mf(folder: Path, budget_limit: int, runs: int, max_budget: int = 9) -> Path:
    """The Branin-with-epochs project: Hyperband over 1, 3 and 9 epochs (by default); the
    scenario."""
    (folder / "train.py").write_text(TARGET, encoding="utf-8")
    (folder / "space.pcs").write_text("x real [-5, 10] [2.5]\ny real [0, 15] [7.5]\n")
    scenario = folder / "mf.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} train.py"\nexecdir = {folder}\n'
        f"paramfile = space.pcs\nrun_obj = quality\nruncount_limit = {runs}\n"
        f"budget-flag = epochs\nmin-budget = 1\nmax-budget = {max_budget}\neta = 3\n"
        f"budget-limit = {budget_limit}\nshared-model-mode = true\n"
        "check-sat-consistency = false\n",
        encoding="utf-8",
    )
    return scenario


def launch(
    folder: Path,
    budget_limit: int,
    runs: int,
    parallel: int = 2,
    command: str = "launch",
    max_budget: int = 9,
) -> tuple[int, str]:
    scenario = write_mf(folder, budget_limit, runs, max_budget)
    extra = ["--sample", "3"] if command == "doe" else []
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", command, str(scenario), "--quiet", *extra]
        + ["--parallel", str(parallel), "--gpus", "none", "--outdir", str(folder / "out")],
        cwd=folder,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


def trained(group: RunGroup, run_id: str) -> dict:
    lines = group.run(run_id).script_log.read_text().splitlines()
    return next(json.loads(line) for line in lines if line.startswith("{"))


def test_hyperband_budgets_promotions_and_a_budget_in_epochs(tmp_path: Path) -> None:
    code, output = launch(tmp_path, budget_limit=60, runs=200)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "mf")
    records = group.records()
    budgets = {r["budget"] for r in records}
    assert budgets <= {1.0, 3.0, 9.0} and {1.0, 3.0} <= budgets  # Hyperband's, eta 3
    epochs = twice_promoted = 0
    for record in records:
        seen = trained(group, record["run_id"])
        assert seen["trained"][1] == int(record["budget"])  # the budget, as --epochs
        assert "--epochs" in seen["argv"]
        epochs += int(record["budget"])
        command = json.loads(group.run(record["run_id"]).command.read_text(encoding="utf-8"))
        env = command["env_added"]  # what reruns the trial as it ran
        assert float(env["SMAC_BRIDGE_BUDGET"]) == record["budget"]
        assert env["SMAC_BRIDGE_BUDGET_FLAG"] == "epochs"  # which a Checkpoint leaves out
        assert env.get("SMAC_BRIDGE_RESUME_RUN") == record["promoted_from"]
        if record["promoted_from"] is not None:  # it continued where the lower budget ended
            lower = next(r for r in records if r["run_id"] == record["promoted_from"])
            assert lower["config"] == record["config"] and lower["budget"] < record["budget"]
            assert seen["trained"][0] == int(lower["budget"])
            before = [  # the same configuration's runs at lower budgets before this one
                r["budget"]
                for r in records
                if r["config"] == record["config"]
                and r["budget"] < record["budget"]
                and r["ended"] <= record["started"]
            ]
            assert lower["budget"] == max(before)  # the furthest-trained checkpoint
            twice_promoted += len(before) > 1
    assert any(r["promoted_from"] for r in records)
    assert twice_promoted  # a 9-epoch run that had a 1- and a 3-epoch run before it
    # SMAC 2.10's runs_and_results carries each run's budget in its Run Length column
    for seed in (1, 2):
        own = [r for r in records if r["worker"] == seed]
        rows = list(csv.reader(group.layout.runs_and_results(seed).open()))[1:]
        assert [float(row[8]) for row in rows] == [r["budget"] for r in own]
        # SMAC3's own state, for its tools, holds the worker's runs: it was written at most
        # every 10 s and not at the end (a short launch's held one run)
        smac3 = group.layout.smac3 / "mf" / str(seed) / "runhistory.json"
        assert json.loads(smac3.read_text())["stats"]["finished"] >= len(own)
    assert 60 - 9 < epochs <= 60  # the budget in epochs is kept, up to one trial's worth
    assert group.units_used() == epochs
    assert f"budget-limit: {epochs} of 60 units used" in output  # why the launch ended
    status = run_cli("status", str(group.path)).stdout
    assert f"{len(records)} of 200 runs done, {epochs} of 60 budget units used" in status
    assert "budget-limit used up" in json.dumps([w.get("message") for w in group.workers()])
    best = [line for line in output.splitlines() if "(best)" in line]
    assert best, output
    shown = run_cli("results", str(group.path))
    assert "(promoted from " in shown.stdout
    header = next(line for line in shown.stdout.splitlines() if " run " in f" {line} ")
    assert header.split()[:4] == ["run", "worker", "status", "budget"], header
    page = tmp_path / "report.html"
    assert run_cli("report", str(group.path), "--html", str(page)).returncode == 0
    assert '<th data-col="budget">budget</th>' in page.read_text(encoding="utf-8")
    rows = json.loads(run_cli("results", str(group.path), "--json").stdout)
    order = [(-r["budget"], r["quality"]) for r in rows]  # trained models first, best first
    assert order == sorted(order) and len(rows) == len(records)
    resumed = run_cli(  # with the units all used: it runs nothing, and says so
        "launch", str(tmp_path / "mf.txt"), "--resume", "--quiet", "--gpus", "none",
        "--outdir", str(tmp_path / "out"), "--set", f"budget-limit={epochs}", cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"budget-limit = {epochs} is already used by {epochs} units" in resumed.stderr
    assert len(group.records()) == len(records)


def test_a_resume_with_other_budgets_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    """Budgets 1, 3, 9 resumed at eta 2 (1.125, 2.25, 4.5, 9): every new trial ran one epoch
    again as a "promotion" of a one-epoch run, and spent the extended budget learning nothing."""
    code, output = launch(tmp_path, budget_limit=20, runs=200)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "mf")
    made = len(group.records())
    argv = ["launch", str(tmp_path / "mf.txt"), "--resume", "--quiet", "--gpus", "none"]
    argv += ["--outdir", str(tmp_path / "out"), "--set", "budget-limit=40"]
    changed = run_cli(*argv, "--set", "eta=2", "--set", "max-budget=9", cwd=tmp_path)
    assert changed.returncode == 1, changed.stderr
    said = " ".join(changed.stderr.split())
    assert "were made with the budgets 1" in said, said  # 3 too, where a stage promoted
    assert "eta = 2 give 1, 2, 5, 9 (SMAC3's 1.125, 2.25, 4.5, 9)" in said, said
    assert "resume with the min-budget, max-budget and eta they were made with" in said, said
    assert len(group.records()) == made
    # the script failed on --foo, and every later resume kept it
    renamed = run_cli(*argv, "--set", "budget-flag=foo", cwd=tmp_path)
    assert renamed.returncode == 1, renamed.stderr
    said = " ".join(renamed.stderr.split())
    assert "were made with budget-flag = epochs, and this scenario says foo" in said, said
    assert len(group.records()) == made
    wider = run_cli(*argv, "--set", "max-budget=27", cwd=tmp_path)  # 1, 3, 9 are still stages
    assert wider.returncode == 0, wider.stderr
    assert len(group.records()) > made


def test_workers_started_by_hand_keep_their_budget_flag_too(tmp_path: Path) -> None:
    """The launch.json of a rungroup that workers started by hand made lacked the budget
    flag: a worker, or a resume, with another one was not refused, and its script failed on
    the unknown flag."""
    scenario = write_mf(tmp_path, budget_limit=6, runs=200)
    worker = ["worker", str(scenario), "--seed", "1", "--outdir", str(tmp_path / "out")]
    first = run_cli(*worker, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    group = RunGroup(tmp_path / "out" / "mf")
    made = len(group.records())
    assert made and group.launch_info()["budget_flag"] == "epochs"
    worker[3] = "2"  # another seed
    renamed = run_cli(*worker, "--set", "budget-flag=foo", "--set", "budget-limit=12", cwd=tmp_path)
    assert renamed.returncode == 1, renamed.stdout + renamed.stderr
    said = " ".join(renamed.stderr.split())
    assert "were made with budget-flag = epochs, and this scenario says foo" in said, said
    assert len(group.records()) == made


def test_a_finished_trial_keeps_its_budget_whatever_its_steps_count_from(tmp_path: Path):
    """A curve counting epochs from 0 ends one short of the budget: a finished trial was
    charged one epoch less than it trained, and a one-epoch trial nothing at all."""
    (tmp_path / "zero-based.txt").write_text("")
    code, output = launch(tmp_path, budget_limit=30, runs=200, parallel=1)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "mf")
    records = group.records()
    assert records and all(r["status"] == "SAT" for r in records)
    spans = [trained(group, r["run_id"])["trained"] for r in records]
    epochs = sum(end - start for start, end in spans)  # what the script trained
    continued = sum(1 for start, _ in spans if start)
    # a continued curve from 0 starts at the epoch its checkpoint holds: read as counting
    # from 1, one epoch more than trained is charged, never less
    assert epochs <= group.units_used() <= epochs + continued, (group.units_used(), spans)


def test_a_budget_limit_new_to_a_rungroup_says_its_earlier_epochs_do_not_count(tmp_path):
    scenario = write_mf(tmp_path, budget_limit=0, runs=3)
    scenario.write_text(scenario.read_text().replace("budget-limit = 0\n", ""))
    argv = ["launch", str(scenario), "--quiet", "--gpus", "none"]
    first = run_cli(*argv, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    again = run_cli(*argv, "--resume", "--set", "budget-limit=30", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    said = " ".join(again.stderr.split())
    assert (
        "budget-limit = 30 counts the budget units of the trials that start under it: 3"
        " earlier runs of this rungroup were made without one" in said
    ), again.stderr


def test_a_budget_limit_back_after_a_session_without_it_says_that_session_does_not_count(
    tmp_path,
):
    """A session without the limit between two with it trained epochs that no view counted
    (32 epochs under a limit of 12, "12 of 12 units used"), and the resume said nothing,
    because the first session had left unit claims."""
    limited = write_mf(tmp_path, budget_limit=60, runs=3).read_text()
    scenario = tmp_path / "mf.txt"
    argv = ["launch", str(scenario), "--quiet", "--gpus", "none", "--parallel", "1"]
    first = run_cli(*argv, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    scenario.write_text(limited.replace("budget-limit = 60\n", ""))
    unlimited = run_cli(*argv, "--resume", "--set", "runcount_limit=5", cwd=tmp_path)
    assert unlimited.returncode == 0, unlimited.stdout + unlimited.stderr
    scenario.write_text(limited)
    again = run_cli(*argv, "--resume", "--set", "runcount_limit=7", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    said = " ".join(again.stderr.split())
    assert (
        "budget-limit = 60 counts the budget units of the trials that start under it: 2"
        " earlier runs of this rungroup were made without one" in said
    ), again.stderr


def test_a_best_run_short_of_max_budget_says_it_is_no_fully_trained_model(tmp_path: Path):
    """A budget-limit of 12 epochs ends the first bracket (9 runs of 1 epoch, 3 of 3, ...)
    before any configuration reaches 9: the best run trained 3 epochs, and every view that
    names it as the model to take says so."""
    code, output = launch(tmp_path, budget_limit=12, runs=200, parallel=1)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "mf")
    note = "budget 3 of max-budget 9: no configuration has been trained to max-budget yet"
    assert note in output and ", budget 3; files:" in output
    best = run_cli("best", str(group.path)).stdout
    assert "  budget: 3\n" in best and f"  warning: {note}" in best
    page = tmp_path / "report.html"
    assert run_cli("report", str(group.path), "--html", str(page)).returncode == 0
    assert note in page.read_text(encoding="utf-8")


def test_views_show_the_epochs_a_run_trained_not_smac3s_fraction(tmp_path: Path) -> None:
    # Hyperband over 1..10 epochs, eta 3, asks for 1.11 and 3.33 epochs: the script trains 1
    # and 3, and that is what a user must read next to the quality.
    code, output = launch(tmp_path, budget_limit=20, runs=200, parallel=1, max_budget=10)
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "mf")
    records = group.records()
    assert {round(r["budget"], 3) for r in records} >= {1.111, 3.333}, records
    for record in records:
        assert record["trained_budget"] == trained(group, record["run_id"])["trained"][1]
    assert {r["trained_budget"] for r in records} >= {1, 3}
    said = [line for line in output.splitlines() if line.startswith("run ")]
    assert said and all(re.search(r", budget (1|3|10)[,)]", line) for line in said), said
    assert any("promoted from" in line for line in said), said
    table = run_cli("results", str(group.path)).stdout
    assert "1.11111" not in table and "3.33333" not in table, table
    table_csv = tmp_path / "runs.csv"
    run_cli("results", str(group.path), "--csv", str(table_csv))
    rows = list(csv.DictReader(table_csv.open(encoding="utf-8")))
    budgets = {row["budget"] for row in rows}
    assert budgets <= {"1", "3", "10"} and {"1", "3"} <= budgets, budgets
    best = [row["run_id"] for row in rows if row["best"] == "True"]
    assert best == [
        json.loads(run_cli("best", str(group.path), "--json").stdout)["record"]["run_id"]
    ]
    # SMAC 2.10's runs_and_results too: its Run Length is the budget the trial got
    classic = list(csv.reader(group.layout.runs_and_results(1).open()))[1:]
    assert [float(row[8]) for row in classic] == [r["trained_budget"] for r in records]


def test_a_design_on_a_multi_fidelity_scenario_trains_each_row_with_the_whole_budget(
    tmp_path: Path,
) -> None:
    """`doe` of a scenario with a budget flag: a design is no race, so each row gets
    max-budget (its worker died telling SMAC3 a run without a budget)."""
    code, output = launch(tmp_path, budget_limit=1000, runs=10, command="doe")
    assert code == 0, output
    assert "may end the launch" not in output  # no Hyperband bracket to warn of
    group = RunGroup(tmp_path / "out" / "mf-doe")
    records = group.records()
    assert len(records) == 3 and {r["budget"] for r in records} == {9.0}
    assert all(trained(group, r["run_id"])["trained"][1] == 9 for r in records)


def test_check_warns_of_a_run_budget_that_ends_before_any_full_budget(tmp_path: Path) -> None:
    scenario = write_mf(tmp_path, budget_limit=1000, runs=12)  # a bracket is 9 + 3 + 1 runs
    checked = run_cli("check", str(scenario), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "runcount_limit = 12 may end the launch before any configuration reaches" in (
        checked.stderr
    )
    assert "the first bracket of a worker takes 13 runs and 27 budget units each" in (
        checked.stderr
    )
    scenario.write_text(scenario.read_text().replace("runcount_limit = 12", "runcount_limit = 13"))
    assert "may end the launch" not in run_cli("check", str(scenario), cwd=tmp_path).stderr
    scenario.write_text(scenario.read_text() + "eta = 10\n")  # 9 / 1 < 10: one stage
    single = run_cli("check", str(scenario), cwd=tmp_path).stderr
    assert "eta = 10 is more than max-budget / min-budget (9 / 1): every trial trains" in single
    scenario.write_text(scenario.read_text() + "budget-flag = x\n")  # a parameter's name
    clash = run_cli("check", str(scenario), cwd=tmp_path)
    assert clash.returncode == 1
    assert "budget-flag: 'x' is also a parameter of" in clash.stderr
    scenario.write_text(scenario.read_text() + "budget-flag = nepochs\n")  # not the script's
    checked = run_cli("check", str(scenario), cwd=tmp_path)
    assert "--help does not mention --nepochs (the budget flag)" in checked.stderr


def test_a_stage_promotes_before_a_new_bracket_starts(tmp_path: Path) -> None:
    """Hyperband over 1, 3 and 9 epochs, one worker: its first bracket runs 9 configurations
    for 1 epoch, then continues the best 3 for 3 epochs and the best of those for 9, before
    any new configuration; asked while the stage's last trial ran, SMAC3 started the next
    bracket instead, and the first 9-epoch training came a whole bracket later."""
    code, output = launch(tmp_path, budget_limit=1000, runs=13, parallel=1)
    assert code == 0, output
    records = sorted(RunGroup(tmp_path / "out" / "mf").records(), key=lambda r: r["run_id"])
    assert [r["budget"] for r in records] == [1.0] * 9 + [3.0] * 3 + [9.0]
    assert all(r["promoted_from"] for r in records[9:])


def curve_group(folder: Path, curves: dict[str, list[float]], finished: set[str]) -> RunGroup:
    """A rungroup whose runs reported these learning curves; FINISHED ones have records."""
    group = RunGroup(folder)
    group.create()
    for run_id, values in curves.items():
        add_run(group, run_id, values, run_id in finished)
    return group


def add_run(
    group: RunGroup,
    run_id: str,
    values: list[float],
    finished: bool,
    first: int = 1,
    every: int = 1,
    promoted_from: str | None = None,
) -> None:
    """A run that reported the learning curve VALUES at steps FIRST, FIRST + EVERY, ...:
    finished (a record) or running; PROMOTED_FROM: the earlier run it continued."""
    from smac_bridge.layout import append_line
    from smac_bridge.rundata import this_process

    run = group.run(run_id)
    run.path.mkdir(parents=True)
    steps = range(first, first + every * len(values), every)
    for step, value in zip(steps, values, strict=True):
        append_line(run.progress, (json.dumps({"step": step, "quality": value}) + "\n").encode())
    record = {"run_id": run_id, "worker": 1, "config": {}, "instance": "i", "seed": -1}
    if finished:
        ended = {"status": "SAT", "quality": values[-1], "cost": 0.0}
        group.append_record(1, {**record, **ended, "promoted_from": promoted_from})
    else:
        host, pid, pid_start = this_process()
        continued = first - 1 if promoted_from else None
        group.mark_running(
            {**record, "host": host, "pid": pid, "pid_start": pid_start,
             "continued_from": continued}
        )  # fmt: skip


def test_the_median_rule_prunes_a_curve_worse_than_the_others_at_its_step(tmp_path):
    from smac_bridge.pruning import Pruner

    others = {f"0000{n}": [0.5, 0.3, 0.2] for n in range(1, 4)}
    group = curve_group(tmp_path / "g", {**others, "00009": [0.6, 0.5]}, set(others))
    pruner = Pruner(group, "median", warmup=2)
    verdict = pruner.verdict("00009")
    assert verdict is not None and verdict.startswith("pruned: median rule at step 2")
    assert Pruner(group, "median", warmup=3).verdict("00009") is None  # still warming up
    good = curve_group(tmp_path / "h", {**others, "00009": [0.6, 0.25]}, set(others))
    assert Pruner(good, "median", warmup=2).verdict("00009") is None
    tie = curve_group(tmp_path / "t", {**others, "00009": [0.6, 0.3]}, set(others))
    assert Pruner(tie, "median", warmup=2).verdict("00009") is None  # as good as the median
    last = curve_group(tmp_path / "l", {**others, "00009": [0.6, 0.5, 0.4]}, set(others))
    assert Pruner(last, "median", warmup=2).verdict("00009") is None  # its training is over
    few = curve_group(tmp_path / "f", {"00001": [0.1, 0.1], "00009": [0.9, 0.9]}, {"00001"})
    assert Pruner(few, "median", warmup=1).verdict("00009") is None  # too few to compare


@pytest.mark.parametrize("rule", ["median", "asha"])
def test_runs_of_smaller_budgets_do_not_keep_a_larger_ones_from_being_judged(tmp_path, rule):
    """Under Hyperband with a pruning rule, the first runs to end are 1-epoch ones: the pruner
    took their end for the end of training, and judged no 9-epoch trial until a max-budget
    run had ended, which comes last."""
    from smac_bridge.pruning import Pruner

    ones = {f"{n:05d}": [0.5 + n / 100] for n in range(1, 10)}
    running = {"00010": [0.1] * 4, "00011": [0.11] * 4, "00012": [0.12] * 4, "00013": [0.9] * 4}
    group = curve_group(tmp_path / "g", {**ones, **running}, set(ones))
    verdict = Pruner(group, rule, warmup=1, eta=3).verdict("00013", 9.0)
    assert verdict is not None and verdict.startswith("pruned: "), verdict
    assert Pruner(group, rule, warmup=1, eta=3).verdict("00010", 9.0) is None  # the best
    assert Pruner(group, rule, warmup=1, eta=3).verdict("00013", 4.0) is None  # its budget


def test_a_pruned_run_does_not_mark_the_end_of_training(tmp_path):
    """A run the rule stopped at step 2 was taken for one whose training ends there: no
    trial was judged at step 2 or later until a run had trained to its end."""
    from smac_bridge.pruning import Pruner

    group = RunGroup(tmp_path / "g")
    group.create()
    for run_id in ("00001", "00002", "00003"):
        add_run(group, run_id, [0.5, 0.4], finished=False)
        pruned = {"status": "TIMEOUT", "quality": 0.4, "cost": 0.4, "partial": True}
        record = {"run_id": run_id, "worker": 1, "config": {}, "instance": "i", "seed": -1}
        group.append_record(1, {**record, **pruned, "reason": "pruned: median rule at step 2"})
    add_run(group, "00009", [0.9, 0.9], finished=False)
    verdict = Pruner(group, "median", warmup=1).verdict("00009")
    assert verdict is not None and verdict.startswith("pruned: median rule at step 2"), verdict


@pytest.mark.parametrize("rule", ["median", "asha"])
def test_a_diverged_curve_is_pruned_without_waiting_for_others(tmp_path, rule):
    """A training whose loss went NaN at its first step trained its whole budget: with no
    finite quality to compare, neither rule ever judged it."""
    from smac_bridge.pruning import Pruner

    nan, inf = float("nan"), float("inf")
    group = curve_group(tmp_path / "g", {"00009": [nan, inf], "00008": [nan, 0.5]}, set())
    verdict = Pruner(group, rule, warmup=1).verdict("00009")
    step = 2 if rule == "median" else 1  # ASHA judges at its rung: 1, 3, 9, ...
    assert verdict == f"pruned: no finite quality up to step {step} (NaN or inf)", verdict
    assert Pruner(group, rule, warmup=3).verdict("00009") is None  # still warming up
    if rule == "median":  # ASHA judges 00008 at rung 1 too, where it had NaN alone
        assert Pruner(group, rule, warmup=1).verdict("00008") is None  # 0.5: too few runs


def test_a_verdict_counts_the_runs_finished_since_the_last_one(tmp_path):
    """The pruner keeps what it read of finished curves between verdicts: runs that finish
    later, at steps it already judged at, count in the next verdict."""
    from smac_bridge.pruning import Pruner

    others = {f"0000{n}": [0.5, 0.3, 0.2] for n in range(1, 4)}
    group = curve_group(tmp_path / "g", {**others, "00009": [0.6, 0.25]}, set(others))
    pruner = Pruner(group, "median", warmup=1)
    assert pruner.verdict("00009") is None  # 0.25 against the median 0.3 at step 2
    for n in range(4, 7):
        add_run(group, f"0000{n}", [0.2, 0.1, 0.1], finished=True)
    add_run(group, "00007", [0.6, 0.2], finished=False)  # running: read at each verdict
    verdict = pruner.verdict("00009")  # the median at step 2 is now 0.2
    assert verdict is not None and "median 0.2 of 7 runs" in verdict


def test_asha_keeps_the_best_third_at_each_rung(tmp_path):
    from smac_bridge.pruning import Pruner

    curves = {f"0000{n}": [0.9, 0.8, 0.1 * n, 0.1 * n] for n in range(1, 6)}
    group = curve_group(tmp_path / "g", {**curves, "00009": [0.9, 0.8, 0.35]}, set(curves))
    verdict = Pruner(group, "asha", warmup=1, eta=3).verdict("00009")  # rung 3: 6 runs, keep 2
    assert verdict is not None and "rung 3" in verdict
    best = curve_group(tmp_path / "h", {**curves, "00009": [0.9, 0.8, 0.05]}, set(curves))
    assert Pruner(best, "asha", warmup=1, eta=3).verdict("00009") is None
    # 5 runs at the rung keep 5 // 3 = 1, as Optuna's and Ray Tune's rungs round down
    four = {run_id: curves[run_id] for run_id in sorted(curves)[:4]}
    second = curve_group(tmp_path / "s", {**four, "00009": [0.9, 0.8, 0.15]}, set(four))
    verdict = Pruner(second, "asha", warmup=1, eta=3).verdict("00009")
    assert verdict is not None and "best 1/3 of 5 runs" in verdict, verdict


def test_asha_judges_a_run_once_per_rung(tmp_path):
    """Past a rung, a run trains on to the next one: better runs that reach the rung later do
    not throw away the epochs it spent beyond it (as in Optuna's and Ray Tune's ASHA)."""
    from smac_bridge.layout import append_line
    from smac_bridge.pruning import Pruner

    finished = {f"0000{n}": [0.9, 0.8, 0.2 + 0.1 * n] + [0.1] * 6 for n in range(1, 4)}
    group = curve_group(tmp_path / "g", {**finished, "00009": [0.9, 0.8, 0.25]}, set(finished))
    pruner = Pruner(group, "asha", warmup=1, eta=3)
    assert pruner.verdict("00009") is None  # rung 3: 0.25 is the best of 4
    for n in range(4, 7):
        add_run(group, f"0000{n}", [0.9, 0.8, 0.1] + [0.05] * 6, finished=True)
    append_line(group.run("00009").progress, b'{"step": 4, "quality": 0.25}\n')
    assert pruner.verdict("00009") is None  # judged at rung 3 already; next judged at 9
    verdict = Pruner(group, "asha", warmup=1, eta=3).verdict("00009")
    assert verdict is not None and "rung 3" in verdict  # its first look at rung 3 would stop it


def test_asha_judges_every_rung_a_curve_passed_since_its_last_look(tmp_path):
    """Epochs of a few milliseconds pass rungs 1 and 3 between two looks of the worker: the
    run was judged at rung 3 alone, on its better value there, and a run the documented rule
    stops at rung 1 (as Optuna and Ray Tune, called at each report, stop it) trained on."""
    from smac_bridge.pruning import Pruner

    finished = {f"0000{n}": [0.5, 0.4, 0.3, 0.2] for n in range(1, 4)}
    group = curve_group(tmp_path / "g", {**finished, "00009": [0.9, 0.3, 0.2]}, set(finished))
    verdict = Pruner(group, "asha", warmup=1, eta=3).verdict("00009")
    assert verdict is not None and verdict.startswith("pruned: successive halving at rung 1,")
    assert "best 0.9 is not in the best 1/3 of 4 runs" in verdict, verdict
    good = curve_group(tmp_path / "h", {**finished, "00009": [0.45, 0.35, 0.25]}, set(finished))
    assert Pruner(good, "asha", warmup=1, eta=3).verdict("00009") is None  # best at 1 and 3


@pytest.mark.parametrize(
    ("first", "every", "rung"), [(50, 50, 27), (4, 1, 3)], ids=["batch steps", "continued"]
)
def test_asha_judges_a_curve_that_steps_past_a_rung_at_its_first_step_beyond(
    tmp_path, first, every, rung
):
    """Steps that count batches (50, 100, ...), or a promoted trial that continues from epoch
    3 and reports from 4, have no point at their rung: ASHA took that for a diverged training
    and stopped every such run, `no finite quality up to step 27 (NaN or inf)`."""
    from smac_bridge.pruning import Pruner

    group = RunGroup(tmp_path / "g")
    group.create()
    for n in range(1, 4):
        add_run(group, f"0000{n}", [0.5, 0.4, 0.3, 0.2, 0.1, 0.1], True, first, every)
    add_run(group, "00008", [0.45], False, first, every)
    add_run(group, "00009", [0.9], False, first, every)
    assert Pruner(group, "asha", warmup=1, eta=3).verdict("00008") is None  # the best of 4
    verdict = Pruner(group, "asha", warmup=1, eta=3).verdict("00009")
    assert verdict is not None and verdict.startswith(f"pruned: successive halving at rung {rung},")
    assert "best 0.9 is not in the best 1/3 of 5 runs" in verdict, verdict
    add_run(group, "00007", [math.nan], False, first, every)
    diverged = Pruner(group, "asha", warmup=1, eta=3).verdict("00007")
    assert diverged == f"pruned: no finite quality up to step {first} (NaN or inf)"  # its own


def test_a_re_run_is_judged_once_it_reports_a_step_of_its_own(tmp_path):
    """A re-run whose curve held only its stopped attempt's points was pruned before it
    trained, and recorded with no quality (it had reported none) at its whole budget."""
    from smac_bridge.layout import append_line
    from smac_bridge.pruning import Pruner

    finished = {f"0000{n}": [0.1] * 9 for n in range(1, 4)}
    group = curve_group(tmp_path / "g", finished, set(finished))
    add_run(group, "00009", [], False)
    for step, quality in ((1, 0.9), (2, 0.9)):
        line = json.dumps({"step": step, "quality": quality, "carried": True}) + "\n"
        append_line(group.run("00009").progress, line.encode())
    assert Pruner(group, "median").verdict("00009") is None  # its attempt's points alone
    append_line(group.run("00009").progress, b'{"step": 3, "quality": 0.9}\n')
    verdict = Pruner(group, "median").verdict("00009")
    assert verdict is not None and "median rule at step 3" in verdict, verdict


def test_asha_counts_a_continued_curve_from_the_rung_it_started_at(tmp_path):
    """Two promotions that continued from epoch 3 and reported 0.16 and 0.30 at epoch 4 were
    counted at rung 1, where their earlier runs had reported theirs: the third best of nine
    runs at epoch 1 was pruned as not in the best third of 11."""
    from smac_bridge.pruning import Pruner

    group = RunGroup(tmp_path / "g")
    group.create()
    for n, value in enumerate([0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99], start=1):
        add_run(group, f"0000{n}", [value, value, value], True)  # epochs 1 to 3
    add_run(group, "00010", [0.16] * 6, True, first=4)  # continued 00001 and 00002 to 9
    add_run(group, "00011", [0.30] * 6, True, first=4)
    add_run(group, "00012", [0.65], False)
    assert Pruner(group, "asha", warmup=1, eta=3).verdict("00012") is None  # 3rd of 9 at rung 1
    add_run(group, "00013", [0.55], False, first=4)  # steps of its own from 4: counts from 3 on
    verdict = Pruner(group, "asha", warmup=1, eta=3).verdict("00013")
    assert verdict is not None and "rung 3" in verdict and "of 11 runs" in verdict, verdict


def test_asha_counts_a_promotion_once_at_the_rung_its_earlier_run_reached(tmp_path):
    """A promotion continued from epoch 3 counted at rung 3 beside its earlier run, the same
    configuration twice: the second best of six was pruned as the third of eight."""
    from smac_bridge.pruning import Pruner

    group = RunGroup(tmp_path / "g")
    group.create()
    for n, value in enumerate([0.1, 0.09, 0.3, 0.4, 0.5], start=1):
        add_run(group, f"0000{n}", [value] * 3, True)  # budget 3
    add_run(group, "00006", [0.1] * 6, True, first=4, promoted_from="00001")
    add_run(group, "00007", [0.09] * 6, False, first=4, promoted_from="00002")
    add_run(group, "00009", [0.095] * 3, False)
    assert Pruner(group, "asha", warmup=1, eta=3).verdict("00009") is None  # 2nd of 6 at rung 3


def judged_trial(
    scenario_text: str, folder: Path, config: dict, budget: float | None, rule: str
) -> dict:
    """Run CONFIG (at BUDGET) as run 00009 of the rungroup FOLDER/g, whose three finished
    runs trained 3 epochs at 0.1, the way a worker runs a trial under the pruning RULE; its
    record."""
    from smac_bridge import trials
    from smac_bridge.executors import make_executor
    from smac_bridge.proposal import Proposal
    from smac_bridge.pruning import Pruner
    from smac_bridge.scenario import read_scenario

    scenario_file = folder / "scenario.txt"
    scenario_file.write_text(
        f"execdir = {folder}\nrun_obj = quality\ncutoff_time = 60\n{scenario_text}",
        encoding="utf-8",
    )
    scenario = read_scenario(scenario_file)
    others = {f"0000{n}": [0.1, 0.1, 0.1] for n in range(1, 4)}
    group = curve_group(folder / "g", others, set(others))
    runner = trials.TrialRunner(
        scenario, group, make_executor(scenario=scenario), worker=1, gpu=None, task_id=0
    )
    trial = runner.start("00009", Proposal(config, None, 0, budget), "i", "0", -1)
    try:
        runner.wait(trial, lambda: False, Pruner(group, rule, warmup=1, eta=3))
    finally:
        trial.handle.request_stop("interrupt")  # a no-op once it ended; never an orphan
        assert trial.thread is not None
        trial.thread.join(60)
    return dict(runner.record(trial))


def test_a_running_trial_is_judged_when_its_curve_grows(tmp_path, monkeypatch):
    """A trial is judged at each step it reports, not only every PRUNE_EVERY seconds: with
    short epochs a hopeless run was judged only once it had trained past its first rungs.
    The period is an hour here, so only the new step can bring the verdict."""
    from smac_bridge import trials

    monkeypatch.setattr(trials, "PRUNE_EVERY", 3600.0)
    target = REPO / "scripts" / "learning_curve_target.py"
    scenario = (
        f'algo = smac-bridge wrap --cmd "{sys.executable} {target} --epochs 3'
        f' --epoch-seconds 2"\nparamfile = {REPO / "pcs" / "learning_curve.pcs"}\n'
    )
    config = {"lr": 0.0001, "width": 4, "optimizer": "adam"}  # about 0.9 after one epoch
    record = judged_trial(scenario, tmp_path, config, None, "asha")
    assert record["status"] == "TIMEOUT", record
    assert (record["reason"] or "").startswith("pruned: successive halving at rung 1,"), record
    assert record["trained_budget"] is None
    assert len(RunGroup(tmp_path / "g").progress("00009")) < 3  # stopped before its end


EVALUATES_AFTER_TRAINING = """
import argparse, time
from smac_bridge import report
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--x", type=float, required=True)
args = parser.parse_args()
for epoch in range(1, args.epochs + 1):
    report(0.9, step=epoch, partial=True)
time.sleep(2)  # a final evaluation on the test split
report(0.9)
"""


def test_a_trial_that_trained_its_own_budget_is_not_pruned(tmp_path):
    """Finished runs trained 3 epochs; a 1-epoch trial worse than they were at step 1 was
    stopped during its final evaluation, recorded TIMEOUT as pruned, and SMAC3 was told a
    capped cost for a finished training."""
    (tmp_path / "train.py").write_text(EVALUATES_AFTER_TRAINING)
    (tmp_path / "space.pcs").write_text("x [0, 1] [0.5]\n")
    scenario = (
        f'algo = smac-bridge wrap --cmd "{sys.executable} train.py"\nparamfile = space.pcs\n'
        "budget-flag = epochs\nmin-budget = 1\nmax-budget = 3\n"
    )
    record = judged_trial(scenario, tmp_path, {"x": 0.5}, 1.0, "median")
    assert (record["status"], record["quality"], record["reason"]) == ("SAT", 0.9, None), record
    assert record["trained_budget"] == 1


def test_pruned_trials_stop_early_and_are_recorded_as_such(tmp_path: Path) -> None:
    scenario = tmp_path / "lc.txt"
    repo = Path(__file__).resolve().parent.parent
    target = repo / "scripts" / "learning_curve_target.py"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} {target} --epochs 12'
        ' --epoch-seconds 0.1"\n'
        f"execdir = {tmp_path}\nparamfile = {repo / 'pcs' / 'learning_curve.pcs'}\n"
        "run_obj = quality\nruncount_limit = 12\ncutoff_time = 60\nshared-model-mode = true\n"
        "check-sat-consistency = false\npruning = median\npruning-warmup = 2\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", "2", "--gpus", "none", "--outdir", str(tmp_path / "out")],
        cwd=tmp_path,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    group = RunGroup(tmp_path / "out" / "lc")
    records = group.records()
    assert len(records) == 12
    pruned = [r for r in records if (r["reason"] or "").startswith("pruned: median rule")]
    assert pruned, done.stdout
    for record in pruned:
        steps = [p["step"] for p in group.progress(record["run_id"])]
        assert record["status"] == "TIMEOUT" and not record["stopped_by_user"]
        # judged after the warm-up and before the last epoch; the stop takes the wrapper's
        # poll to land, in which an epoch of 0.1 s may still end (the last one too)
        judged_at = float(re.search(r"at step (\S+),", record["reason"]).group(1))
        assert 2 <= judged_at < 12 and judged_at <= max(steps)
        # its last partial report: the curve's last point, or the one before when the stop
        # came between the point and the result report() writes after it
        curve = [p["quality"] for p in group.progress(record["run_id"])]
        assert record["quality"] in curve[-2:] and record["partial"]
        assert "partial" not in record["extra"]  # the wrapper's flag is no value of the script
    # runs_and_results marks a pruned run censored, as SMAC 2.10 does a run it killed
    rows = [
        row for seed in (1, 2) for row in csv.reader(group.layout.runs_and_results(seed).open())
    ]
    censored = {row[4] for row in rows[1:] if row[0] != "Run Number"}
    assert len([row for row in rows if row[4] == "1"]) == len(pruned) and censored == {"0", "1"}
    # a run whose last epoch ended before the stop landed finished: SAT, like the others
    finished = [r for r in records if r["status"] == "SAT"]
    assert finished and all(len(group.progress(r["run_id"])) == 12 for r in finished)
    # status: pruned runs are no failures, and do not push failures out of its list
    (picture,) = json.loads(run_cli("status", str(group.path), "--json").stdout)["rungroups"]
    assert (picture["pruned"], picture["failed"], picture["failures"]) == (len(pruned), 0, [])
    assert f", {len(pruned)} pruned," in run_cli("status", str(group.path)).stdout

    # the learning curves are visible: a CSV of every point, a plot, the table and the report
    curves = tmp_path / "curves.csv"
    shown = run_cli("results", str(group.path), "--curves", str(curves))
    assert shown.returncode == 0 and "TIMEOUT (pruned)" in shown.stdout
    rows = curves.read_text().splitlines()
    assert rows[0] == "rungroup,run_id,step,quality"
    assert len(rows) - 1 == sum(len(group.progress(r["run_id"])) for r in records)
    with_curves = sum(bool(group.progress(r["run_id"])) for r in records)
    assert f"wrote {curves}: {len(rows) - 1} points of {with_curves} runs" in shown.stderr
    none = run_cli("results", str(group.path), "--status", "CRASHED", "--curves", str(curves))
    assert f"wrote {curves}: no run of the table reported per step" in none.stderr
    sat = curves.with_name("sat.csv")  # the table's filters choose the curves' runs too
    assert (
        run_cli("results", str(group.path), "--status", "SAT", "--curves", str(sat)).returncode == 0
    )
    assert {row.split(",")[1] for row in sat.read_text().splitlines()[1:]} == {
        r["run_id"] for r in finished if group.progress(r["run_id"])
    }
    plotted = run_cli("plot", str(group.path), "--out", str(tmp_path / "plots"))
    assert plotted.returncode == 0 and (tmp_path / "plots" / "lc" / "learning_curves.png").exists()
    page = tmp_path / "report.html"
    assert run_cli("report", str(group.path), "--html", str(page)).returncode == 0
    assert 'alt="learning_curves"' in page.read_text() and "(pruned)" in page.read_text()
    assert f" with a partial quality, {len(pruned)} pruned)" in page.read_text()  # its summary


def test_the_real_curve_benchmark_target_continues_a_promoted_training(tmp_path: Path) -> None:
    """benchmarks/targets/mlp_curve.py trains for real: its error falls, and a promotion that
    continues from the 3-epoch checkpoint ends where 5 epochs in one go end."""
    script = [sys.executable, str(REPO / "benchmarks" / "targets" / "mlp_curve.py")]
    script += ["--solver", "sgd", "--momentum", "0.9", "--learning_rate_init", "0.01"]
    script += ["--epoch-seconds", "0"]

    def train(epochs: int, artifacts: str, resume: str = "") -> list[str]:
        env = {**smac_bridge_env(), "SMAC_BRIDGE_ARTIFACTS": str(tmp_path / artifacts)}
        if resume:
            env["SMAC_BRIDGE_RESUME_FROM"] = str(tmp_path / resume)
        done = subprocess.run(
            [*script, "--epochs", str(epochs)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    first, promoted, straight = train(3, "a"), train(5, "b", resume="a"), train(5, "c")
    assert promoted[0] == "training epochs 4..5 (resumed after 3)"
    assert promoted[-1].endswith("epochs_trained=2")
    errors = [float(line.split()[-1]) for line in straight if line.startswith("epoch ")]
    assert errors[-1] < errors[0] < 0.9
    assert first[-1].split(",")[3] != straight[-1].split(",")[3]
    assert promoted[-1].split(",")[3] == straight[-1].split(",")[3]


def launch_learning_curve(
    tmp_path: Path, epoch_seconds: float, options: str, target=None, max_budget: float = 9
):
    """One worker on the learning-curve target (or TARGET), Hyperband to MAX_BUDGET epochs
    with OPTIONS: the finished process and its rungroup."""
    target = target or REPO / "scripts" / "learning_curve_target.py"
    scenario = tmp_path / "lc.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} {target} --epoch-seconds'
        f' {epoch_seconds}"\nexecdir = {tmp_path}\n'
        f"paramfile = {REPO / 'pcs' / 'learning_curve.pcs'}\n"
        "run_obj = quality\nruncount_limit = 200\nshared-model-mode = true\n"
        f"check-sat-consistency = false\nbudget-flag = epochs\nmax-budget = {max_budget}\n"
        f"eta = 3\n{options}",
        encoding="utf-8",
    )
    return launch_in(tmp_path, scenario, parallel=1)


def launch_in(folder: Path, scenario: Path, parallel: int) -> tuple[Any, RunGroup]:
    """Launch SCENARIO with PARALLEL workers into FOLDER/out: the finished process and its
    rungroup."""
    done = run_cli(
        "launch", str(scenario), "--quiet", "--parallel", str(parallel), "--gpus", "none",
        "--outdir", str(folder / "out"), cwd=folder, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done, RunGroup(folder / "out" / scenario.stem)


# A classic target that saves its epoch in SMAC_BRIDGE_ARTIFACTS and continues from
# SMAC_BRIDGE_RESUME_FROM, which it requires to exist whenever it is set.
CLASSIC_CHECKPOINTS = """
import os, sys
from pathlib import Path
params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
epochs = int(params["-epochs"])
start = 0
if "SMAC_BRIDGE_RESUME_FROM" in os.environ:
    start = int((Path(os.environ["SMAC_BRIDGE_RESUME_FROM"]) / "epoch").read_text())
(Path(os.environ["SMAC_BRIDGE_ARTIFACTS"]) / "epoch").write_text(str(epochs))
line = f"SAT, 0.1, 0, {float(params['-lr']) / epochs}, {sys.argv[5]}, trained={epochs - start}"
print(f"Result of this algorithm run: {line}")
"""


def test_a_classic_target_gets_an_artifacts_folder_that_a_promotion_continues_from(tmp_path):
    """A classic target was told SMAC_BRIDGE_RESUME_FROM, the artifacts folder of the earlier
    run, which no one had made, and no SMAC_BRIDGE_ARTIFACTS to save a checkpoint in."""
    (tmp_path / "target.py").write_text(CLASSIC_CHECKPOINTS, encoding="utf-8")
    scenario = tmp_path / "lc.txt"
    scenario.write_text(
        f"algo = {sys.executable} target.py\nexecdir = {tmp_path}\n"
        f"paramfile = {REPO / 'pcs' / 'learning_curve.pcs'}\n"
        "run_obj = quality\nruncount_limit = 13\ncheck-sat-consistency = false\n"
        "budget-flag = epochs\nmin-budget = 1\nmax-budget = 9\neta = 3\n",
        encoding="utf-8",
    )
    _, group = launch_in(tmp_path, scenario, parallel=1)
    records = group.records()
    assert all(r["status"] == "SAT" for r in records), records
    promoted = [r for r in records if r["promoted_from"]]
    assert promoted, records
    for record in promoted:
        earlier = next(r for r in records if r["run_id"] == record["promoted_from"])
        trained = record["trained_budget"] - earlier["trained_budget"]
        assert record["extra"]["trained"] == trained, record


def test_budget_limit_counts_the_epochs_a_continued_training_adds(tmp_path: Path) -> None:
    """A promotion from 3 to 9 epochs that continues from its checkpoint trains 6: with 40
    epochs in all, the launch must train 40, not give up after fewer because each promoted
    trial was charged its whole budget."""
    done, group = launch_learning_curve(tmp_path, 0, "min-budget = 1\nbudget-limit = 40\n")
    records = group.records()
    continued = [r for r in records if r["promoted_from"]]
    assert continued and all(r["extra"]["epochs_trained"] < r["trained_budget"] for r in continued)
    trained = sum(int(r["extra"]["epochs_trained"]) for r in records)
    assert group.units_used() == trained  # what the script trained, epoch for epoch
    assert 40 - 9 < trained <= 40
    assert f"budget-limit: {trained} of 40 units used" in done.stdout


def test_budget_limit_counts_continued_epochs_of_budgets_that_are_no_whole_numbers(tmp_path):
    """Budgets 0.5, 1.5 and 4.5 take 1, 2 and 5 units. A promoted trial that continued from
    its checkpoint gave back nothing when the earlier run's budget was no whole number: the
    launch ended with 30 of 30 units used after 24 epochs trained."""
    target = tmp_path / "fractional.py"
    target.write_text(
        "import argparse, json, math, os\nfrom pathlib import Path\n"
        "from smac_bridge import report\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--lr', type=float)\nparser.add_argument('--epochs', type=float)\n"
        "args, _ = parser.parse_known_args()\n"
        "artifacts = Path(os.environ['SMAC_BRIDGE_ARTIFACTS'])\n"
        "artifacts.mkdir(parents=True, exist_ok=True)\n"
        "earlier = Path(os.environ.get('SMAC_BRIDGE_RESUME_FROM') or artifacts) / 'done'\n"
        "start = int(earlier.read_text()) if earlier.exists() else 0\n"
        "for epoch in range(start + 1, math.ceil(args.epochs) + 1):\n"
        "    (artifacts / 'done').write_text(str(epoch))\n"
        "    report(args.lr / epoch, step=epoch, partial=True)\n"
        "print('trained', math.ceil(args.epochs) - start)\n"
        "report(args.lr / math.ceil(args.epochs))\n",
        encoding="utf-8",
    )
    options = "min-budget = 0.5\nbudget-limit = 30\n"
    done, group = launch_learning_curve(tmp_path, 0, options, target=target, max_budget=4.5)
    records = group.records()
    assert any(r["promoted_from"] for r in records), done.stdout
    trained = sum(
        int(line.split()[1])
        for r in records
        for line in group.run(r["run_id"]).script_log.read_text().splitlines()
        if line.startswith("trained ")
    )
    assert group.units_used() == trained, done.stdout


def test_budget_limit_keeps_the_budget_of_a_curve_whose_steps_are_not_epochs(tmp_path: Path):
    """A script that numbers its steps in batches (100 per epoch) and starts every trial
    from scratch: a promoted trial's first step lay past the earlier run's budget, so it
    gave back the earlier run's epochs, which it trained again, and the launch trained
    more epochs than its budget-limit."""
    target = tmp_path / "batches.py"
    target.write_text(
        "import argparse, time\nfrom smac_bridge import report\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--lr', type=float)\nparser.add_argument('--epochs', type=int)\n"
        "parser.add_argument('--epoch-seconds', type=float)\n"
        "args, _ = parser.parse_known_args()\n"
        "for epoch in range(1, args.epochs + 1):  # no checkpoint: from scratch every time\n"
        "    time.sleep(args.epoch_seconds)\n"
        "    report(args.lr / epoch, step=100 * epoch, partial=True)\n"
        "report(args.lr / args.epochs)\n",
        encoding="utf-8",
    )
    options = "min-budget = 1\nbudget-limit = 30\n"
    done, group = launch_learning_curve(tmp_path, 0, options, target=target)
    records = group.records()
    assert any(r["promoted_from"] for r in records), done.stdout
    trained = sum(len(group.progress(r["run_id"])) for r in records)  # a step per epoch
    assert group.units_used() == trained <= 30, done.stdout


def test_budget_limit_gives_back_the_epochs_a_pruned_trial_did_not_train(tmp_path: Path):
    """A trial the median rule stopped after 1 of 3 epochs held all 3 units: pruning saved
    the time but not the budget-limit, which ended the launch two epochs early per trial."""
    options = "min-budget = 3\nbudget-limit = 60\npruning = median\n"
    done, group = launch_learning_curve(tmp_path, 0.05, options)
    records = group.records()
    pruned = [r for r in records if (r["reason"] or "").startswith("pruned")]
    assert pruned, done.stdout

    def epochs(record: dict) -> int:  # what its curve shows it trained
        steps = [point["step"] for point in group.progress(record["run_id"])]
        earlier = next((r for r in records if r["run_id"] == record["promoted_from"]), None)
        skipped = (
            earlier["trained_budget"] if earlier and min(steps) > earlier["trained_budget"] else 0
        )
        return int(max(steps)) - skipped

    assert any(epochs(r) < r["trained_budget"] for r in pruned)
    assert group.units_used() == sum(epochs(r) for r in records)


XY_EPOCHS = """
import argparse, os, time
from pathlib import Path
from smac_bridge import report
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=float)
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
"""


def write_sh(folder: Path, script: str, settings: str) -> Path:
    """A successive-halving project over SCRIPT (epochs its budget, eta 3) with SETTINGS;
    the scenario."""
    (folder / "train.py").write_text(script, encoding="utf-8")
    (folder / "space.pcs").write_text("x real [-5, 10] [2.5]\ny real [0, 15] [7.5]\n")
    scenario = folder / "sh.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} train.py"\nexecdir = {folder}\n'
        "paramfile = space.pcs\nrun_obj = quality\nbudget-flag = epochs\neta = 3\n"
        f"multi-fidelity = successive-halving\n{settings}",
        encoding="utf-8",
    )
    return scenario


CONTINUES = (  # from the epoch its earlier run saved (start), when promoted
    XY_EPOCHS
    + """
artifacts = Path(os.environ["SMAC_BRIDGE_ARTIFACTS"])
artifacts.mkdir(parents=True, exist_ok=True)
earlier = os.environ.get("SMAC_BRIDGE_RESUME_FROM")
start = int((Path(earlier) / "done").read_text()) if earlier else 0
"""
)
SLOW_PROMOTIONS = (
    CONTINUES
    + """
for epoch in range(start + 1, args.epochs + 1):
    time.sleep(1.5 if earlier else 0.05)  # a promotion trains long
    (artifacts / "done").write_text(str(epoch))
    report((args.x - 1) ** 2 + args.y / epoch, step=epoch, partial=True)
report((args.x - 1) ** 2 + args.y / args.epochs)
"""
)


def test_a_trial_that_does_not_fit_waits_for_the_units_running_trials_give_back(tmp_path):
    """Successive halving over 1 and 3 epochs, 11 epochs and 8 runs in all: once the two
    workers' first stages have taken 6 epochs, one worker's promotion takes 3 (it gives 1
    back, as it continues), and the other worker's promotion finds 2 free. It waits for the
    running promotion to give its unit back, instead of ending its worker for good with its
    best configuration never trained to 3 epochs."""
    scenario = write_sh(
        tmp_path,
        SLOW_PROMOTIONS,
        "runcount_limit = 8\nmin-budget = 1\nmax-budget = 3\nbudget-limit = 11\n"
        "shared-model-mode = true\ncheck-sat-consistency = false\n",
    )
    done, group = launch_in(tmp_path, scenario, parallel=2)
    records = group.records()
    promoted = [r for r in records if r["promoted_from"]]
    assert len(records) == 8 and {r["worker"] for r in promoted} == {1, 2}, done.stdout
    assert group.units_used() == 6 + 2 + 2  # each promotion trained 2 more epochs
    assert "budget-limit used up" not in json.dumps([w["message"] for w in group.workers()])


STOPPED_SHORT = (
    CONTINUES
    + """
for epoch in range(start + 1, args.epochs + 1):
    if epoch == 3 and not earlier:
        time.sleep(60)  # a first stage stops short of its 3 epochs: cut at the cutoff
    (artifacts / "done").write_text(str(epoch))
    report((args.x - 1) ** 2 + args.y / epoch, step=epoch, partial=True)
print("trained", args.epochs - start)
report((args.x - 1) ** 2 + args.y / args.epochs)
"""
)


def test_a_promotion_of_a_run_stopped_short_counts_only_the_epochs_it_adds(tmp_path):
    """A first-stage run cut after 2 of its 3 epochs (pruned, stopped, at the cutoff) was
    promoted on its partial quality, and its promotion went on from epoch 3: it was charged
    all 9 epochs, as if the earlier run had trained 3 and the promotion started over, so
    `budget-limit` counted epochs nobody trained (177 units for 167 epochs)."""
    settings = (  # 3 first stages of 3 epochs, then the best of them promoted to 9
        "runcount_limit = 4\nmin-budget = 3\nmax-budget = 9\nbudget-limit = 100\n"
        "cutoff_time = 4\ncheck-sat-consistency = false\n"  # room for a loaded machine
    )
    done, group = launch_in(tmp_path, write_sh(tmp_path, STOPPED_SHORT, settings), parallel=1)
    records = group.records()
    (promoted,) = [r for r in records if r["promoted_from"]]
    assert promoted["status"] == "SAT" and promoted["trained_budget"] == 9, done.stdout
    assert [r["status"] for r in records if r is not promoted] == ["TIMEOUT"] * 3, done.stdout
    log = group.run(promoted["run_id"]).script_log.read_text()
    assert "trained 7" in log  # epochs 3 to 9, on top of the 2 its earlier run trained
    assert group.units_used() == 3 * 2 + 7


def worker_beside_a_starting_trial(
    folder: Path,
) -> tuple[RunGroup, str, subprocess.Popen[str]]:
    """Worker 1 of a successive-halving launch with `budget-limit = 3`, started by hand after
    this test took all 3 units for a trial of worker 2 that has not yet written its running
    marker: the rungroup, that trial's run id and the worker process."""
    scenario = write_mf(folder, budget_limit=3, runs=20, max_budget=3)
    group = RunGroup(folder / "out" / "mf")
    group.create()
    starting = group.claim_slot(20, worker=2)
    assert starting is not None and group.claim_units(starting, 3, 3)
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
    worker = subprocess.Popen(
        [*argv, "--outdir", str(folder / "out"), "--set", "multi-fidelity=successive-halving"],
        cwd=folder, env=smac_bridge_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    return group, starting, worker


def test_a_trial_that_does_not_fit_waits_for_one_that_took_its_units_and_is_starting(tmp_path):
    """Another worker took the last units for its trial and has not yet written its running
    marker (this test holds that claim): a worker that looked only at the markers gave up
    at once, and, under load, left its promotion untrained while the other's was about to
    give a unit back. It waits until those units come back, runs, and ends once the other
    trial is gone."""
    group, starting, worker = worker_beside_a_starting_trial(tmp_path)
    try:
        time.sleep(8)  # its start-up, then its wait
        assert worker.poll() is None and group.records() == []
        group.release_units(starting, 2)  # the starting trial continues a training
        deadline = time.monotonic() + 60
        while not group.records() and time.monotonic() < deadline:
            time.sleep(0.2)
        group.release_slot(starting)  # it did not finish after all
        _, stderr = worker.communicate(timeout=120)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    assert group.worker(1)["message"] == "budget-limit used up"
    assert len(group.records()) >= 2 and group.units_used() == 3


def test_a_ctrl_c_while_a_trial_waits_for_units_stops_its_worker(tmp_path):
    """A Ctrl-C that reaches a worker while its trial waits for `budget-limit` units stops
    it as at any other moment: exit 130, "stopped", its slot given back for a resume. It
    does not end as if the limit were used up, which would tell the user that nothing is
    left to run."""
    group, starting, worker = worker_beside_a_starting_trial(tmp_path)
    try:
        deadline = time.monotonic() + 120
        while len(group.claimed()) < 2:  # its trial's slot: the wait for units begins
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)
        worker.send_signal(signal.SIGINT)
        _, stderr = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 130, stderr
    assert group.worker(1)["state"] == "stopped" and group.records() == []
    assert group.claimed() == [starting]


EPOCH_LOOP = """  # from epoch START + 1 on, saving a checkpoint in ARTIFACTS
if os.path.exists("deaf.txt"):  # trains on through its wrapper's grace
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
for epoch in range(start + 1, args.epochs + 1):
    time.sleep(float(Path("pace.txt").read_text()) if os.path.exists("pace.txt") else 0.4)
    (artifacts / "done").write_text(str(epoch))
    report((args.x - 1) ** 2 + args.y / epoch, step=epoch, partial=True)
report((args.x - 1) ** 2 + args.y / args.epochs)
"""
NO_CHECKPOINT = "artifacts, start = Path('.'), 0  # where the script saves no checkpoint\n"
EPOCH_BY_EPOCH = XY_EPOCHS + NO_CHECKPOINT + EPOCH_LOOP


@pytest.mark.parametrize("ctrl_cs", [1, 2])
@pytest.mark.parametrize("continues", [False, True], ids=["afresh", "continues"])
def test_the_epochs_a_trial_trained_before_a_ctrl_c_stay_counted(tmp_path, ctrl_cs, continues):
    """A Ctrl-C gave back every unit of the trial it stopped, epochs trained included, and
    the resume ran its slot again: the launch trained more epochs than budget-limit while
    every view said the limit was exact. The epochs its learning curve shows stay counted,
    also when a second Ctrl-C kills the worker while its trial trains on in its grace.
    The re-run continues from the stopped trial's checkpoint (it trained afresh, and the
    epochs it had trained were trained again); one that does not is charged in full."""
    scenario = write_sh(
        tmp_path,
        CONTINUES + EPOCH_LOOP if continues else EPOCH_BY_EPOCH,
        "runcount_limit = 2\nmin-budget = 9\nmax-budget = 27\nbudget-limit = 60\n",
    )
    if ctrl_cs == 2:
        (tmp_path / "deaf.txt").touch()
    launch = start_launch(scenario, tmp_path / "out", parallel=1)
    group = RunGroup(tmp_path / "out" / "sh")
    deadline = time.monotonic() + 120
    while len(group.progress("00001")) < 2:
        assert launch.poll() is None and time.monotonic() < deadline, launch.communicate()
        time.sleep(0.1)
    shown = [""]  # the second Ctrl-C once the launcher took the first (two at once are one)
    for _ in range(ctrl_cs):
        launch.send_signal(signal.SIGINT)
        while launch.stdout and not shown[-1].startswith("stopping the workers"):
            shown.append(launch.stdout.readline())
            assert shown[-1], "".join(shown)
    output = "".join(shown) + launch.communicate(timeout=120)[0]
    assert launch.returncode == 130 and group.records() == [], output
    curve = next(group.layout.runs.glob("00001*/progress.jsonl"))  # kept aside when lost
    reported = len(curve.read_text().splitlines())
    trained = group.units_used()
    assert 2 <= trained <= reported < 9  # the rest went back
    assert group.claimed() == []  # its slot is run again
    done = run_cli("launch", str(scenario), "--resume", "--quiet", "--gpus", "none",
                   "--outdir", str(tmp_path / "out"), cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    records = group.records()
    assert [r["budget"] for r in records] == [9.0, 9.0]  # each trained its 9 epochs
    steps = [point["step"] for point in group.progress("00001")]
    if not continues:
        assert steps[0] == 1
        assert group.units_used() == trained + 18
        return
    (left,) = group.layout.runs.glob("00001.*")  # kept aside, stopped or lost
    saved = int((left / "artifacts" / "done").read_text())
    own, _ = trained_steps(group.progress("00001"))
    assert saved >= reported and own == list(range(saved + 1, 10))
    assert steps[: -len(own)] == list(range(1, reported + 1))  # its whole curve, as it trained
    assert (trained, group.units_used()) == (reported, 18)  # 9 epochs per slot, as trained


@pytest.mark.parametrize("parallel", [1, 2])
def test_an_owed_re_run_larger_than_the_units_left_lets_smaller_trials_run(tmp_path, parallel):
    """A Ctrl-C stopped a promoted 9-epoch trial near the end of budget-limit: its re-run
    takes 9 units again (its script may train all 9) and 7 were left, so on the resume every
    worker gave up at once, running nothing, not even the 3-epoch trials that fit. (With two
    workers, one waited on it while the other's trials ran, though it could never fit.)"""
    scenario = write_sh(
        tmp_path,
        CONTINUES + EPOCH_LOOP,
        "runcount_limit = 6\nmin-budget = 3\nmax-budget = 9\nbudget-limit = 18\n",
    )
    group = RunGroup(tmp_path / "out" / "sh")
    launch = start_launch(scenario, tmp_path / "out", parallel=1)
    deadline = time.monotonic() + 120
    while len(trained_steps(group.progress("00004"))[0]) < 2:  # 3 runs of 3, then 9 units
        assert launch.poll() is None and time.monotonic() < deadline, launch.communicate()
        time.sleep(0.05)
    launch.send_signal(signal.SIGINT)
    assert launch.wait(timeout=120) == 130, launch.communicate()
    assert (
        9 + 2 <= group.units_used() <= 9 + 3 and [r["budget"] for r in group.records()] == [3.0] * 3
    )
    done = run_cli("launch", str(scenario), "--resume", "--quiet", "--gpus", "none",
                   "--parallel", str(parallel), "--outdir", str(tmp_path / "out"),
                   cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    records = group.records()
    assert "00004" not in {r["run_id"] for r in records}  # still owed, for a larger limit
    assert [r["budget"] for r in records[3:]] == [3.0] * (len(records) - 3) and len(records) > 3
    assert group.units_used() <= 18
    said = [" ".join(group.worker(seed)["message"].split()) for seed in range(1, parallel + 1)]
    assert all("run 00004, left unfinished (stopped or lost), needed more" in s for s in said)
    if parallel == 2:  # each worker ran trials: none idled on the re-run
        assert {r["worker"] for r in records[3:]} == {1, 2}, records


def test_an_aborted_trial_keeps_the_epochs_it_trained_counted(tmp_path):
    """A trial that reported ABORT after 4 epochs stopped the launch and gave back every
    unit, as a Ctrl-C did: "budget-limit: 0 of 60 units used" for 4 epochs trained."""
    aborts = XY_EPOCHS + (
        "for epoch in range(1, 5):\n"
        "    report(float(epoch), step=epoch, partial=True)\n"
        'report(None, status="ABORT")\n'
    )
    scenario = write_sh(
        tmp_path, aborts, "runcount_limit = 2\nmin-budget = 9\nmax-budget = 27\nbudget-limit = 60\n"
    )
    done = run_cli("launch", str(scenario), "--quiet", "--gpus", "none",
                   "--outdir", str(tmp_path / "out"), cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 255, done.stdout + done.stderr
    assert RunGroup(tmp_path / "out" / "sh").units_used() == 4, done.stdout


def test_the_cleanup_of_a_dead_workers_trial_keeps_its_epochs_once(tmp_path):
    """Two cleanups of one dead worker's trial (workers started by hand each clean up as
    they start, the launcher beside a worker) keep its trained epochs once, not twice; and a
    marker without `continued_from` (written before markers had it) keeps none, so that a
    continued promotion's earlier epochs are not counted again."""
    group = RunGroup(tmp_path / "group")
    group.create()
    worker = ("a-host", 4242, "boot:1")
    for run_id, marker in (("00001", {"continued_from": 3.0}), ("00002", {})):
        assert group.claim_slot(10, worker=1) == run_id and group.claim_units(run_id, 9, 100)
        group.run(run_id).path.mkdir(parents=True)
        steps = "".join(json.dumps({"step": s, "quality": 1.0}) + "\n" for s in (4, 5, 6))
        group.run(run_id).progress.write_text(steps)
        group.mark_running(
            {"run_id": run_id, "worker": 1, "host": worker[0], "pid": worker[1],
             "pid_start": worker[2], **marker}
        )  # fmt: skip
    group.keep_units_trained("00001", 3.0, worker)  # its worker's own stop, killed after it
    assert group.units_used() == 18
    assert group.release_stale_claims(workers_stopped=True) == ["00001", "00002"]
    assert group.units_used() == 3  # epochs 4 to 6 of run 00001, continued from 3


def test_a_trial_that_does_not_fit_waits_for_no_trial_without_a_known_end(tmp_path):
    """A marker left by a worker of another host, in a scenario without cutoff_time, has no
    end this host can know: the worker waited for its units for good."""
    scenario = write_mf(tmp_path, budget_limit=5, runs=20, max_budget=3)
    group = RunGroup(tmp_path / "out" / "mf")
    group.create()
    group.mark_running(
        {"host": "another-host", "pid": 4242, "pid_start": "1", "worker": 2, "run_id": "00099",
         "config": {"x": 1.0, "y": 1.0}, "instance": "no_instance", "seed": -1,
         "smac_seed": 0, "budget": 1.0, "trained_budget": 1, "started": time.time() - 1e5,
         "run_dir": "", "log": "", "trial_pid": None, "marker": None, "queued": False}
    )  # fmt: skip
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
    done = subprocess.run(
        [*argv, "--outdir", str(tmp_path / "out"), "--set", "multi-fidelity=successive-halving"],
        cwd=tmp_path,
        env=smac_bridge_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert group.worker(1)["message"] == "budget-limit used up"
    assert group.units_used() <= 5


SMAC_2_10_WRAPPER = """
import sys
# as GenericWrapper4AC 2.0 reads SMAC 2.10's call: the run length with int()
instance, info, cutoff, length, seed, *params = sys.argv[1:]
config = dict(zip(params[::2], params[1::2]))
assert int(config["-epochs"]) == int(length), (config, length)
quality = (float(config["-x"]) - 1) ** 2 + 1 / int(length)
print(f"Result for ParamILS: SAT, 0.1, {int(length)}, {quality}, {seed}")
"""


def test_a_wrapper_written_for_smac_2_10_reads_the_budget_in_the_run_length_field(tmp_path):
    """A whole-number budget came as `1.0` in the run-length field, and a wrapper that parses
    it with int(), as those written for SMAC 2.10 do, crashed the launch's first run."""
    settings = "runcount_limit = 5\nmin-budget = 1\nmax-budget = 9\ncheck-sat-consistency = false\n"
    scenario = write_sh(tmp_path, SMAC_2_10_WRAPPER, settings)
    wrapped = f'smac-bridge wrap --cmd "{sys.executable} train.py"'
    scenario.write_text(scenario.read_text().replace(wrapped, f"{sys.executable} train.py"))
    done, group = launch_in(tmp_path, scenario, parallel=1)
    records = group.records()
    assert len(records) == 5 and {r["status"] for r in records} == {"SAT"}, done.stdout
    assert {r["budget"] for r in records} <= {1.0, 3.0, 9.0}


def test_a_re_run_stopped_before_it_saved_continues_from_the_attempt_before(tmp_path):
    """A second Ctrl-C before the re-run's first epoch left its artifacts empty: the third
    attempt trained from epoch 1, the first attempt's checkpoint forgotten."""
    scenario = write_sh(
        tmp_path,
        CONTINUES + EPOCH_LOOP,
        "runcount_limit = 1\nmin-budget = 9\nmax-budget = 27\nbudget-limit = 30\n",
    )
    group = RunGroup(tmp_path / "out" / "sh")

    def stopped_launch(*args: str, epochs: int) -> None:
        launch = start_launch(scenario, tmp_path / "out", parallel=1, more=args)
        deadline = time.monotonic() + 120
        while len(group.progress("00001")) < epochs or not group.running():
            assert launch.poll() is None and time.monotonic() < deadline, launch.communicate()
            time.sleep(0.1)
        time.sleep(0.5)  # into the next epoch
        launch.send_signal(signal.SIGINT)
        assert launch.wait(timeout=120) == 130, launch.communicate()

    stopped_launch(epochs=2)  # saves epochs 1 and 2
    (tmp_path / "pace.txt").write_text("30")
    stopped_launch("--resume", epochs=2)  # its 2 carried points: stopped before its epoch 3
    (tmp_path / "pace.txt").unlink()
    done = run_cli("launch", str(scenario), "--resume", "--quiet", "--gpus", "none",
                   "--outdir", str(tmp_path / "out"), cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    own, carried = trained_steps(group.progress("00001"))
    assert carried and own[0] > 2, own  # it continued after epoch 2
    assert group.units_used() == 9  # epoch by epoch, as trained


def test_a_resume_after_a_kill_9_counts_what_is_left_once_the_lost_runs_gave_it_back(tmp_path):
    """The launcher and its workers killed while two trials trained: the resume warned that
    budget-limit had 42 units left (the two trials' 18 taken), then gave back what the lost
    trials had not trained and ran on with more."""
    scenario = write_sh(
        tmp_path,
        EPOCH_BY_EPOCH,
        "runcount_limit = 2\nmin-budget = 9\nmax-budget = 27\nbudget-limit = 60\n",
    )
    launch = start_launch(scenario, tmp_path / "out", parallel=2)
    group = RunGroup(tmp_path / "out" / "sh")
    deadline = time.monotonic() + 120
    while not (
        len(group.running()) == 2 and all(group.progress(m["run_id"]) for m in group.running())
    ):
        assert launch.poll() is None and time.monotonic() < deadline, launch.communicate()
        time.sleep(0.1)
    lost = [m["run_id"] for m in group.running()]
    os.kill(launch.pid, signal.SIGKILL)
    for seed in (1, 2):
        os.killpg(group.worker(seed)["pid"], signal.SIGKILL)
    launch.communicate(timeout=30)
    time.sleep(1)  # the trials' guards stop their scripts
    assert group.units_used() == 18  # the lost trials' claims, until a resume cleans up
    done = run_cli("launch", str(scenario), "--resume", "--quiet", "--gpus", "none",
                   "--outdir", str(tmp_path / "out"), cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    curves = [next(group.layout.runs.glob(f"{run_id}.lost-*/progress.jsonl")) for run_id in lost]
    trained = sum(len(curve.read_text().splitlines()) for curve in curves)
    said = " ".join(done.stderr.split())
    assert f"budget-limit = 60 ({60 - trained} left) may end the launch" in said, said
    assert len(group.records()) == 2 and group.units_used() == trained + 18
