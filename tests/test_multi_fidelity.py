"""Multi-fidelity launches: budgets as a script flag, Hyperband across workers, promotions that
continue from the previous trial's checkpoint, and a global budget in budget units."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import smac_bridge_env

from smac_bridge.rundata import RunGroup

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
print(value + 20.0 / a.epochs)
"""


def launch(folder: Path, budget_limit: int, runs: int, parallel: int = 2) -> tuple[int, str]:
    (folder / "train.py").write_text(TARGET, encoding="utf-8")
    (folder / "space.pcs").write_text("x real [-5, 10] [2.5]\ny real [0, 15] [7.5]\n")
    scenario = folder / "mf.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} train.py"\nexecdir = {folder}\n'
        f"paramfile = space.pcs\nrun_obj = quality\nruncount_limit = {runs}\n"
        "budget-flag = epochs\nmin-budget = 1\nmax-budget = 9\neta = 3\n"
        f"budget-limit = {budget_limit}\nshared-model-mode = true\n"
        "check-sat-consistency = false\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
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
    epochs = 0
    for record in records:
        seen = trained(group, record["run_id"])
        assert seen["trained"][1] == int(record["budget"])  # the budget, as --epochs
        assert "--epochs" in seen["argv"]
        epochs += int(record["budget"])
        if record["promoted_from"] is not None:  # it continued where the lower budget ended
            lower = next(r for r in records if r["run_id"] == record["promoted_from"])
            assert lower["config"] == record["config"] and lower["budget"] < record["budget"]
            assert seen["trained"][0] == int(lower["budget"])
    assert any(r["promoted_from"] for r in records)
    assert 60 - 9 < epochs <= 60  # the budget in epochs is kept, up to one trial's worth
    assert group.units_used() == epochs
    assert "budget-limit used up" in json.dumps([w.get("message") for w in group.workers()])
    best = [line for line in output.splitlines() if "(best)" in line]
    assert best, output
