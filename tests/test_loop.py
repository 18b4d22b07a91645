"""The whole loop on generated search spaces and outcomes: real launches, kills and resumes.

Hypothesis builds PCS files with every kind of parameter (categoricals with plain,
numeric-looking, unicode and odd values, ordinals, integers, log and linear reals, conditions
with `in`, `&&` and `||`, classic and advanced forbidden clauses), and a target whose outcome
per configuration is drawn at random: SAT, UNSAT, timed out or stopped by the user with a
partial quality below or above every finished one, crashed, NaN and inf, no output at all.
Each example is a real `smac-bridge launch` with 1-3 workers, shared or independent, killed
with SIGKILL part-way and resumed in some examples. Whatever happens: no worker dies, the
budget is exact, every recorded configuration is one of the space's, SMAC3 was told finite
costs only, and the launch summary, `status`, `best`, `results` and `report` name the same
incumbent. SMAC_BRIDGE_LOOP_EXAMPLES sets the number of examples (default 5).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from ConfigSpace import Configuration
from conftest import run_cli, smac_bridge_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smac.runhistory.enumerations import StatusType

from smac_bridge.incumbent import best_run
from smac_bridge.pcs import read_pcs
from smac_bridge.rundata import RunGroup

pytestmark = pytest.mark.slow

TARGET = r"""
import hashlib, json, os, sys, time
from pathlib import Path

spec = json.load(open("loop.json"))
argv = sys.argv[1:]
pairs = argv[5:] if spec["classic"] else argv
config, i = {}, 0
while i < len(pairs):  # the wrapper joins a value that starts with "-" to its flag: --k=-v
    if not spec["classic"] and "=" in pairs[i]:
        name, value = pairs[i].split("=", 1)
        config[name.lstrip("-")], i = value, i + 1
    else:
        config[pairs[i].lstrip("-")], i = pairs[i + 1], i + 2
with open("received.jsonl", "a", encoding="utf-8") as received:
    received.write(json.dumps(config) + "\n")
digest = hashlib.sha256((spec["salt"] + json.dumps(sorted(config.items()))).encode()).digest()
outcome = spec["outcomes"][digest[0] % len(spec["outcomes"])]
quality = 1.0 + digest[1] / 25.6  # every finished run: 1 or worse
low, high = 0.001, 50.0  # partial qualities below and above every finished one

def line(status, value):
    print(f"Result of this algorithm run: {status}, 0.1, 0, {value}, {argv[4]}", flush=True)

if spec["classic"]:
    if outcome == "sat":
        line("SAT", quality)
    elif outcome == "unsat":
        line("UNSAT", quality + 100)
    elif outcome == "timeout_low":
        line("TIMEOUT", low)
    elif outcome == "timeout_high":
        line("TIMEOUT", high)
    elif outcome == "crashed":
        line("CRASHED", quality)
    elif outcome == "nan":
        line("SAT", "NaN")
    elif outcome == "inf":
        line("SAT", "Infinity")
    sys.exit(0)  # "nothing": no output at all

from smac_bridge import report
if outcome == "sat":
    report(quality, test_error=quality * 1.1, grad_norm=float("inf"))
elif outcome == "unsat":
    report(status="UNSAT", reason="infeasible here")
elif outcome in ("timeout_low", "timeout_high", "stopped_low", "stopped_high"):
    report(low if outcome.endswith("low") else high, partial=True)
    if outcome.startswith("stopped"):
        Path(os.environ["SMAC_BRIDGE_RUN_DIR"], "stop-requested").touch()
    time.sleep(60)
elif outcome == "nan":
    report(float("nan"))
elif outcome == "inf":
    print("the loss: inf")
elif outcome == "crashed":
    raise ValueError("the training fell over")
"""

WRAPPED = (
    "sat",
    "unsat",
    "timeout_low",
    "timeout_high",
    "stopped_low",
    "stopped_high",
    "nan",
    "inf",
    "nothing",
    "crashed",
)
CLASSIC = ("sat", "unsat", "timeout_low", "timeout_high", "crashed", "nan", "inf", "nothing")
VALUES = st.sampled_from(
    ["relu", "tanh", "adam", "1", "2.5", "-1", "1e3", "007", "ä", "日本", "ñandú", "μ"]
    + ["a-b", "x.y", "A+B", "-x", "a:b", "_", "~", "--", "%s", "$HOME", ";rm", "--config"]
)


@dataclass
class Case:
    pcs: str
    classic: bool
    outcomes: list[str]
    salt: str
    workers: int
    shared: bool
    budget: int
    kill: bool


@st.composite
def spaces(draw: st.DrawFn) -> str:
    """PCS text: a categorical first, then other kinds, maybe a conditional child and
    forbidden clauses that leave the default allowed."""
    lines = []
    cat = draw(st.lists(VALUES, min_size=2, max_size=4, unique=True))
    lines.append(f"c0 {{{', '.join(cat)}}} [{cat[0]}]")
    kinds = draw(
        st.lists(st.sampled_from(["ord", "int", "intlog", "real", "reallog", "top"]), max_size=3)
    )
    ints = []
    for i, kind in enumerate(kinds, 1):
        if kind == "ord":
            lines.append(f"p{i} ordinal {{low, mid, high}} [mid]")
        elif kind == "int":
            lines.append(f"p{i} integer [1, 100] [10]")
            ints.append(f"p{i}")
        elif kind == "intlog":
            lines.append(f"p{i} [1, 1000] [10]il")
        elif kind == "real":
            lines.append(f"p{i} real [-5, 5] [0]")
        elif kind == "reallog":
            lines.append(f"p{i} [0.0001, 1] [0.01]l")
        else:  # a default its vector gives back as 999.9999999999998
            lines.append(f"p{i} [0.001, 1000] [1000]l")
    condition = draw(st.sampled_from(["none", "in", "and", "or"]))
    if condition != "none":
        lines.append("child real [0, 1] [0.5]")
        chosen = ", ".join(cat[: draw(st.integers(1, len(cat)))])
        if condition == "in" or not ints:
            lines.append(f"child | c0 in {{{chosen}}}")
        else:
            joint = "&&" if condition == "and" else "||"
            lines.append(f"child | c0 == {cat[-1]} {joint} {ints[0]} > 20")
    value = {"ord": "high", "int": "99", "intlog": "999", "real": "4.5"}.get(
        kinds[0] if kinds else ""
    )
    if value is not None and draw(st.booleans()):
        lines.append(f"{{c0={cat[1]}, p1={value}}}")  # cat[0] is the default: still allowed
    if ints and draw(st.booleans()):
        lines.append(f"{{ {ints[0]} > 90 }}")
    return "\n".join(lines) + "\n"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    classic = draw(st.booleans())
    pool = CLASSIC if classic else WRAPPED
    return Case(
        pcs=draw(spaces()),
        classic=classic,
        outcomes=draw(st.lists(st.sampled_from(pool), min_size=3, max_size=6)),
        salt=draw(st.text("abcdef", min_size=4, max_size=4)),
        workers=draw(st.integers(1, 3)),
        shared=draw(st.booleans()),
        budget=draw(st.integers(8, 12)),
        kill=draw(st.booleans()),
    )


def write_case(folder: Path, case: Case) -> Path:
    folder.mkdir(parents=True)
    (folder / "target.py").write_text(TARGET, encoding="utf-8")
    spec = {"classic": case.classic, "outcomes": case.outcomes, "salt": case.salt}
    (folder / "loop.json").write_text(json.dumps(spec), encoding="utf-8")
    (folder / "space.pcs").write_text(case.pcs, encoding="utf-8")
    target = f"{sys.executable} target.py"
    algo = target if case.classic else f'smac-bridge wrap --cmd "{target}" --grace 1'
    scenario = folder / "loop.txt"
    scenario.write_text(
        f"algo = {algo}\nexecdir = {folder}\nparamfile = space.pcs\nrun_obj = quality\n"
        f"deterministic = true\ncutoff_time = 1\nruncount_limit = {case.budget}\n"
        f"shared-model-mode = {str(case.shared).lower()}\nshared-model-mode-frequency = 0.2\n"
        "check-sat-consistency = false\nabort-on-first-run-crash = false\n"
        "broken-script-runs = 0\n",
        encoding="utf-8",
    )
    return scenario


def launch(scenario: Path, workers: int, *more: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--parallel", str(workers), "--gpus", "none", "--outdir", "out", *more],
        cwd=scenario.parent,
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_part_way(process: subprocess.Popen[str], group: RunGroup, budget: int) -> None:
    """SIGKILL the launcher and every worker once a third of the budget is recorded."""
    deadline = time.monotonic() + 120
    while len(group.records()) < budget // 3 and process.poll() is None:
        assert time.monotonic() < deadline, "the launch made no progress"
        time.sleep(0.1)
    for info in group.workers():
        try:
            os.killpg(int(info["pid"]), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, KeyError):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate(timeout=30)


def cli_json(*args: str) -> object:
    done = run_cli(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def check_views_agree(group: RunGroup, summary: str) -> None:
    """The launch summary, status, best, results and report name the rule's incumbent."""
    expected = best_run(group.records())
    status = cli_json("status", str(group.path), "--json")
    rows = cli_json("results", str(group.path), "--json")
    best = run_cli("best", str(group.path), "--json")
    page_file = group.path.parent / "report.html"
    assert run_cli("report", str(group.path), "--html", str(page_file)).returncode == 0
    page = page_file.read_text(encoding="utf-8")
    marked = re.findall(r'<tr data-run="(\d+)" class="best">', page)
    named = re.findall(r"run (\d+) \(best\)", summary)
    assert isinstance(status, dict) and isinstance(rows, list)
    flagged = [row["run_id"] for row in rows if row["best"]]
    if expected is None:
        assert status["rungroups"][0]["best"] is None and best.returncode == 1
        assert flagged == [] and marked == [] and named == []
        assert "no run succeeded" in summary
        return
    run_id = expected["run_id"]
    assert status["rungroups"][0]["best"]["run_id"] == run_id
    assert best.returncode == 0 and json.loads(best.stdout)["record"]["run_id"] == run_id
    assert flagged == [run_id] and marked == [run_id] and named == [run_id]


def check_smac3_state_holds_finite_costs_of_what_ran(group: RunGroup) -> None:
    """SMAC3's saved run history, read by SMAC3's own tools, holds the recorded runs and the
    proposals the forbidden clauses rejected (told as crashed), each with a finite cost; no
    belief about a trial then running, no trial asked and never run."""
    run_ids = {record["run_id"] for record in group.records()}
    for path in group.layout.smac3.rglob("runhistory.json"):
        rows = json.loads(path.read_text(encoding="utf-8"))["data"]
        assert all(math.isfinite(float(row["cost"])) for row in rows), path
        for row in rows:
            ran = (row["additional_info"] or {}).get("run_id") in run_ids
            assert ran or row["status"] == StatusType.CRASHED, (path, row)


@settings(
    max_examples=int(os.environ.get("SMAC_BRIDGE_LOOP_EXAMPLES", "5")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_the_loop_holds_on_generated_spaces_and_outcomes(case: Case) -> None:
    folder = Path(tempfile.mkdtemp(prefix="loop-")) / "case"
    scenario = write_case(folder, case)
    group = RunGroup(folder / "out" / "loop")
    process = launch(scenario, case.workers)
    if case.kill:
        kill_part_way(process, group, case.budget)
        process = launch(scenario, case.workers, "--resume")
    summary, _ = process.communicate(timeout=600)
    context = f"{case}\n{summary}"
    found = best_run(group.records()) is not None
    assert process.returncode == (0 if found else 1), context  # 1: no run succeeded
    for info in group.workers():
        assert info["state"] == "done", f"{info}\n{context}"
    records = group.records()
    ids = sorted(r["run_id"] for r in records)
    assert ids == [f"{n:05d}" for n in range(1, len(ids) + 1)], context  # none lost or twice
    assert group.claimed() == ids, context
    if len(ids) < case.budget:  # a small finite space can run out of configurations
        assert all("left to propose" in info["message"] for info in group.workers()), context
    else:
        assert len(ids) == case.budget, context
    space = read_pcs(folder / "space.pcs")
    for record in records:
        Configuration(space.space, values=record["config"])  # raises if not of the space
        assert not space.is_forbidden(record["config"]), record
    check_records_hold_what_the_script_got(folder, records)
    check_record_extras_are_standard_json(group)
    check_smac3_state_holds_finite_costs_of_what_ran(group)
    check_views_agree(group, summary)


def check_record_extras_are_standard_json(group: RunGroup) -> None:
    """The script's extra values in each line of runs-<seed>.jsonl, as a strict JSON parser (a
    browser's, jq's, Go's) reads them: an extra value of inf was written as Python's bare
    `Infinity`, which they refuse."""
    for path in group.path.glob("runs-*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            json.dumps(json.loads(line).get("extra"), allow_nan=False)  # raises on NaN, inf


def check_records_hold_what_the_script_got(folder: Path, records: list) -> None:
    """Each recorded configuration is one the script was called with, value for value."""
    lines = (folder / "received.jsonl").read_text(encoding="utf-8").splitlines()
    received = [json.loads(line) for line in lines]

    def same(recorded: object, got: str) -> bool:
        return got == recorded if isinstance(recorded, str) else float(got) == recorded

    for record in records:
        config = record["config"]
        assert any(
            set(got) == set(config) and all(same(config[k], got[k]) for k in config)
            for got in received
        ), (config, received)
