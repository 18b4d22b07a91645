"""`report(quality, step=k)`: each call appends one point of the run's learning curve to
progress.jsonl, as a training script inside the wrapper makes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from smac_bridge.layout import RunDir
from smac_bridge.protocol import parse_result_line

EPOCHS = """
from smac_bridge import report
for epoch, error in enumerate([0.5, 0.25, float("nan")], start=1):
    report(error, partial=True, step=epoch, lr=0.1, time="extra values cannot replace it")
report(0.2, step=4, test_error=0.3, grad_norm=float("inf"))
"""


def run_script(code: str, run_dir: Path | None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SMAC_BRIDGE_RUN_DIR"}
    if run_dir is not None:
        env["SMAC_BRIDGE_RUN_DIR"] = str(run_dir)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_each_step_appends_one_line_and_partial_steps_print_no_result(tmp_path):
    before = time.time()
    done = run_script(EPOCHS, tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()  # only the final report prints a result line
    assert parse_result_line(line).quality == 0.2
    text = RunDir(tmp_path).progress.read_text(encoding="utf-8")
    assert text.endswith("\n")
    points = [json.loads(line, parse_constant=pytest.fail) for line in text.splitlines()]
    assert [(p["step"], p["quality"]) for p in points] == [(1, 0.5), (2, 0.25), (3, None), (4, 0.2)]
    assert all(before <= p["time"] <= time.time() for p in points)
    assert [p.get("lr") for p in points] == [0.1, 0.1, 0.1, None]
    assert points[-1]["test_error"] == 0.3
    assert points[-1]["grad_norm"] is None  # standard JSON for jq and the dashboard
    result = json.loads(RunDir(tmp_path).result.read_text(encoding="utf-8"))
    assert result["quality"] == 0.2 and result["partial"] is False  # the last report wins


def test_the_curves_point_is_written_before_the_result_it_may_replace(tmp_path):
    """A pruning rule's SIGTERM between the two writes ends a script without a handler:
    with the result first, the record held a quality of a step its curve lacked, and the
    budget-limit, which charges the epochs the curve shows, one epoch too few. Here the
    result cannot be written (its name is a folder), and the point is there all the same."""
    RunDir(tmp_path).result.mkdir()
    done = run_script(
        "from smac_bridge import report\nreport(0.5, partial=True, step=1)\n", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "smac_bridge.report(): not written:" in done.stderr
    (point,) = [json.loads(line) for line in RunDir(tmp_path).progress.read_text().splitlines()]
    assert (point["step"], point["quality"]) == (1, 0.5)


THREADS_REPORTING = """
import threading
from smac_bridge import report

def fold(number):
    for step in range(100):
        report(0.5 + number, partial=True, step=step, fold=number)

folds = [threading.Thread(target=fold, args=(n,)) for n in range(8)]
for thread in folds:
    thread.start()
for thread in folds:
    thread.join()
report(0.25)
"""


def test_reports_from_several_threads_keep_every_point_and_never_fail_the_training(tmp_path):
    """A thread per fold, each reporting its own curve: the threads shared one temporary
    file for result.json, so one thread's rename found it gone and the FileNotFoundError
    ended the training (its run UNSAT), and the curves lost the points of the dead threads."""
    done = run_script(THREADS_REPORTING, tmp_path)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert parse_result_line(line).quality == 0.25
    lines = RunDir(tmp_path).progress.read_text(encoding="utf-8").splitlines()
    points = {(p["fold"], p["step"]) for p in map(json.loads, lines)}
    assert len(lines) == len(points) == 800
    result = json.loads(RunDir(tmp_path).result.read_text(encoding="utf-8"))
    assert result["quality"] == 0.25 and result["partial"] is False
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


SIGNALLED_REPORTS = """
import os, signal, threading, time
from smac_bridge import report

calls = [0]
inside = [False]
by_handler = []

def on_signal(signum, frame):  # as a script's SIGTERM handler that reports where it got to
    if inside[0]:  # a signal comes once; these come every millisecond
        return
    inside[0] = True
    calls[0] += 1
    by_handler.append(calls[0])
    report(0.5, status="TIMEOUT", partial=True, calls=calls[0])
    inside[0] = False

signal.signal(signal.SIGUSR1, on_signal)
done = threading.Event()

def signaller():
    while not done.is_set():
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.001)

threading.Thread(target=signaller, daemon=True).start()
for step in range(1000):
    calls[0] += 1
    report(0.25, partial=True, step=step, calls=calls[0])
done.set()
time.sleep(0.05)
print("handler", *by_handler)
print("calls", calls[0], flush=True)
"""


def test_a_report_from_a_signal_handler_that_interrupts_one_lands_and_is_kept(tmp_path):
    """A SIGTERM handler that reports its partial result can interrupt a report under way:
    the two shared a temporary file (the interrupted rename failed, or wrote into the
    handler's file), or, one at a time, the handler waited for the report it interrupted for
    good. The newest report is the one result.json keeps: the last one called, or the one
    its handlers interrupted before it took its turn (on a loaded machine, more than one
    handler's), which then ended last."""
    done = run_script(SIGNALLED_REPORTS, tmp_path, timeout=300)  # thousands of fsyncs: slow disks
    assert done.returncode == 0, done.stderr
    handler_line, calls_line = done.stdout.splitlines()[-2:]
    calls = int(calls_line.split()[-1])
    by_handler = {int(number) for number in handler_line.split()[1:]}
    result = json.loads(RunDir(tmp_path).result.read_text(encoding="utf-8"))
    kept = result["extra"]["calls"]
    later = set(range(kept + 1, calls + 1))  # only handlers that interrupted the kept one
    assert later <= by_handler and (kept not in by_handler or not later), (kept, calls)
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_a_torn_last_line_is_ended_before_the_next_point(tmp_path):
    progress = RunDir(tmp_path).progress
    progress.write_bytes(b'{"step": 1, "quality": 0.5}\n{"step": 2, "qua')  # killed mid-write
    done = run_script("from smac_bridge import report; report(0.4, partial=True, step=3)", tmp_path)
    assert done.returncode == 0, done.stderr
    lines = progress.read_bytes().split(b"\n")
    assert lines[1] == b'{"step": 2, "qua' and json.loads(lines[2])["step"] == 3


def test_without_a_run_directory_or_a_step_nothing_is_appended(tmp_path):
    done = run_script("from smac_bridge import report; report(0.4, step=1)", None)
    assert done.returncode == 0 and parse_result_line(done.stdout.strip()).quality == 0.4
    done = run_script("from smac_bridge import report; report(0.4, partial=True)", tmp_path)
    assert done.returncode == 0, done.stderr
    assert not RunDir(tmp_path).progress.exists()


def test_a_step_needs_a_quality():
    from smac_bridge import report

    with pytest.raises(ValueError, match="a step needs a quality"):
        report(None, "UNSAT", step=1)


def test_a_bool_or_a_huge_integer_is_no_quality():
    """report(acc > 0.9) was recorded as a quality of 1.0; report(10**400) raised an
    OverflowError that named nothing."""
    import numpy as np

    from smac_bridge import report

    for flag in (True, np.bool_(False)):
        with pytest.raises(ValueError, match="quality must be a number, got"):
            report(flag)
    with pytest.raises(ValueError, match="is too large for a float"):
        report(10**400)


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_non_finite_final_report_says_why_it_failed(tmp_path, value):
    """The line is UNSAT (a failed training); its reason names the quality, where the wrapper
    said 'script reported UNSAT', which the script never did."""
    done = run_script(f"from smac_bridge import report\nreport(float({value!r}))\n", tmp_path)
    (line,) = done.stdout.splitlines()
    result = parse_result_line(line)
    assert result.status == "UNSAT" and result.quality == 1e9
    assert result.additional == f"reason=quality is {value}"


NUMPY_VALUES = """
import numpy as np
from smac_bridge import report
report(np.float32(0.25), partial=True, step=np.int64(1), epochs=np.int64(12), pixels=np.zeros(2))
per_class = np.array([[0.5, 0.75], [0.25, 1.0]], dtype=np.float32)
report(0.2, epochs=np.int64(100), ok=np.bool_(True), name=np.str_("adam"), per_class=per_class)
"""


def test_numpy_values_stay_numbers_in_the_runs_files(tmp_path):
    """A script's np.int64 extra was written as the text "100": `results --sort epochs`
    then put 100 before 9; an array was written as numpy's text ("[0. 0.]"), where a list
    is written as its values."""
    done = run_script(NUMPY_VALUES, tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(RunDir(tmp_path).result.read_text(encoding="utf-8"))
    assert result["extra"] == {
        "epochs": 100,
        "ok": True,
        "name": "adam",
        "per_class": [[0.5, 0.75], [0.25, 1.0]],
    }
    (point,) = [json.loads(line) for line in RunDir(tmp_path).progress.read_text().splitlines()]
    assert (point["step"], point["quality"], point["epochs"]) == (1, 0.25, 12)
    assert point["pixels"] == [0.0, 0.0]


FORKED_WHILE_A_THREAD_REPORTS = """
import os, sys, threading
from smac_bridge import report
from smac_bridge import reporting
held, forked = threading.Event(), threading.Event()

def reporting_thread():  # a thread's report under way, as the fork happens
    with reporting._WRITING:
        held.set()
        forked.wait()

threading.Thread(target=reporting_thread).start()
held.wait()
pid = os.fork()
if pid == 0:  # a data loader's worker: it reports, and ends
    report(0.3, partial=True, step=1)
    os._exit(0)
forked.set()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_child_forked_while_a_thread_reports_can_report(tmp_path):
    """The child inherits the reporting lock held by a thread it does not have: its report
    waited forever."""
    try:
        done = run_script(FORKED_WHILE_A_THREAD_REPORTS, tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child's report never ended")
    assert done.returncode == 0, done.stderr
    (point,) = [json.loads(line) for line in RunDir(tmp_path).progress.read_text().splitlines()]
    assert (point["step"], point["quality"]) == (1, 0.3)


@pytest.mark.parametrize("close", ["sys.stdout.close()", "os.close(1)"])
def test_a_closed_stdout_does_not_lose_the_final_report(tmp_path, close):
    code = f"import os, sys\nfrom smac_bridge import report\n{close}\nreport(0.5)\n"
    done = run_script(code + "print('ok', file=sys.stderr)\n", tmp_path)
    assert done.returncode == 0 and done.stderr.endswith("ok\n"), done.stderr
    assert "no result line printed" in done.stderr
    saved = json.loads(RunDir(tmp_path).result.read_text(encoding="utf-8"))
    assert (saved["status"], saved["quality"], saved["partial"]) == ("SAT", 0.5, False)


class OneValueTensor:
    """A tensor as TensorFlow's eager one is to report(): float() and numpy(), no item()."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return float(self.value)

    def numpy(self):
        import numpy as np

        return np.asarray(self.value)

    def __repr__(self) -> str:
        return f"tf.Tensor({self.value}, shape=(), dtype=float32)"


def test_tensor_steps_and_extras_are_numbers_and_a_step_that_is_none_is_refused(
    tmp_path, monkeypatch
):
    """A tensor step was written as its text, and the curve's readers skipped the point
    without a word: pruning never judged the run."""
    from smac_bridge import report

    monkeypatch.setenv("SMAC_BRIDGE_RUN_DIR", str(tmp_path))
    report(OneValueTensor(0.25), partial=True, step=OneValueTensor(3), acc=OneValueTensor(0.9))
    (point,) = [json.loads(line) for line in RunDir(tmp_path).progress.read_text().splitlines()]
    assert (point["step"], point["quality"], point["acc"]) == (3, 0.25, 0.9)
    for step in ("3", True, float("nan"), object()):
        with pytest.raises(ValueError, match="step must be a finite number"):
            report(0.2, partial=True, step=step)
    report(0.2, partial=True, step=Fraction(9, 2))  # what used to be written is still
    report(0.1, partial=True, step=Decimal("5.5"))
    points = [json.loads(line) for line in RunDir(tmp_path).progress.read_text().splitlines()]
    assert [point["step"] for point in points] == [3, 4.5, 5.5]
