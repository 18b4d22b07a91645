"""`smac-bridge wrap` end to end: real wrapper processes, real targets, real signals."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import assert_no_survivors
from hypothesis import given, settings
from hypothesis import strategies as st

from smac_bridge.protocol import CRASHED_QUALITY, RunResult, parse_additional, parse_result_line
from smac_bridge.verdict import Decision, RunFacts, decide

TARGET = Path(__file__).parent / "targets" / "target.py"
CUSTOM = Path(__file__).parents[1] / "scripts" / "custom_wrapper_example.py"


def _smac_bridge() -> list[str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("smac-bridge", path=path)
    return [found] if found else [sys.executable, "-m", "smac_bridge.cli"]


SMAC_BRIDGE = _smac_bridge()


def wrap_argv(mode: str, *options: str, cutoff: str = "10.0", x: str = "0.25") -> list[str]:
    cmd = f'"{sys.executable}" "{TARGET}"'
    call = ["no_instance", "0", cutoff, "2147483647", "-1", "-mode", mode, "-x", x]
    return [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--grace", "1", "--gpus", "none", *options, *call]


def env_for(run_dir: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMAC_BRIDGE", "AEATK"))}
    env.update(SMAC_BRIDGE_RUN_DIR=str(run_dir), **more)
    return env


def one_result(stdout: str) -> RunResult:
    """The wrapper's stdout must be exactly one valid result line."""
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout[:2000]
    result = parse_result_line(lines[0])
    assert result is not None
    return result


def wrap(
    tmp_path: Path,
    mode: str,
    *options: str,
    cutoff: str = "10.0",
    x: str = "0.25",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[RunResult, dict[str, object], Path]:
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        wrap_argv(mode, *options, cutoff=cutoff, x=x),
        env=env or env_for(run_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    result = one_result(proc.stdout)
    assert_no_survivors(run_dir)
    return result, parse_additional(result.additional), run_dir


def test_success_reads_the_number_on_the_last_line(tmp_path: Path) -> None:
    result, data, run_dir = wrap(tmp_path, "success", x="0.125")
    assert (result.status, result.quality, result.seed) == ("SAT", 0.125, -1)
    assert "cpu_time" in data and "peak_rss_mb" in data
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["status"] == "SAT" and saved["quality"] == 0.125 and saved["exit_code"] == 0
    command = json.loads((run_dir / "command.json").read_text())
    assert command["argv"][-4:] == ["--mode", "success", "--x", "0.125"]
    assert command["env_added"]["SMAC_BRIDGE_SEED"] == "-1"
    assert command["env_added"]["SMAC_BRIDGE_GRACE"] == "1.0"  # wrap_argv's --grace 1
    assert (run_dir / "artifacts").is_dir()
    log = (run_dir / "process_output.log").read_bytes()
    assert log.index(b"the CPU") < log.index(b"training with")


@pytest.mark.parametrize(
    ("last_line", "options"),
    [
        ("\x1b[1m0.456\x1b[0m", ()),
        ("\x1b[1mval_loss: 0.456\x1b[0m", ("--metric", r"val_loss: (\S+)")),
        ("\x1b]0;epoch 5\x070.456", ()),  # a progress bar's window title: not 50.456
        ("\x1b]8;;file:///m.h5\x1b\\0.456\x1b]8;;\x1b\\", ()),  # a number as a link
    ],
)
def test_a_number_in_colour_is_read_as_a_terminal_shows_it(tmp_path, last_line, options) -> None:
    """A colour code around the number (FORCE_COLOR, a library that colours its logs) made
    the run UNSAT, though a result line in colour was read."""
    env = env_for(tmp_path / "run", TARGET_TEXT=last_line)
    result, _, _ = wrap(tmp_path, "print", *options, env=env)
    assert (result.status, result.quality) == ("SAT", 0.456)


def test_the_run_length_a_scripts_result_line_gives_is_passed_on(tmp_path) -> None:
    """A solver's own result line reported 123 flips as its run length; the wrapper's line,
    result.json and runs_and_results said 0."""
    env = env_for(tmp_path / "run", TARGET_TEXT="Result for ParamILS: SAT, 1.5, 123, 0.3, 7")
    result, _, run_dir = wrap(tmp_path, "print", env=env)
    assert (result.status, result.runlength, result.quality) == ("SAT", 123, 0.3)
    assert json.loads((run_dir / "result.json").read_text())["runlength"] == 123


def test_a_last_line_that_is_no_number_is_quoted_in_the_reason(tmp_path) -> None:
    """`0,5` (a comma decimal) made the run UNSAT with no word of what the line held."""
    env = env_for(tmp_path / "run", TARGET_TEXT="val_loss 0,5")
    _, _, run_dir = wrap(tmp_path, "print", env=env)
    reason = json.loads((run_dir / "result.json").read_text())["reason"]
    assert reason == (
        "no result: no result line or report() and no number on the last output line"
        ", which ends with '0,5' (a comma in it shows as a blank)"
    )


@pytest.mark.parametrize(
    "last_line",
    [
        "result of this algorithm run: SAT, 1, 0, 0.5, -1",
        "Result for smac: SAT, 0.1, 0, 0.74, -1",
        "RESULT OF THIS ALGORITHM RUN: UNSAT, 1, 0, 0.5, 42",
        "Final result: SAT, 0.1, 0, 0.74, -1",
        "Result of this algorithm run SAT, 1, 0, 0.5, -1",
    ],
)
def test_a_result_line_smac_does_not_read_is_no_result(tmp_path, last_line) -> None:
    """A result line with a typo SMAC 2.10 does not read was taken for a last number: the
    seed, -1, became every run's quality and the incumbent's."""
    env = env_for(tmp_path / "run", TARGET_TEXT=last_line)
    result, data, _ = wrap(tmp_path, "print", env=env)
    assert (result.status, result.quality) == ("UNSAT", CRASHED_QUALITY), result
    reason = str(data["reason"])  # its commas show as blanks on the result line
    assert "the last line looks like a result line that SMAC does not read" in reason, reason
    assert last_line.split(",")[0] in reason and "write it as 'Result of this algorithm" in reason


@pytest.mark.parametrize(
    "last_line", ["the best result of SMAC: 0.4", "Final result: 0.4", "result: SAT 0.4"]
)
def test_prose_about_a_result_is_read_for_its_last_number(tmp_path, last_line) -> None:
    env = env_for(tmp_path / "run", TARGET_TEXT=last_line)
    result, _, _ = wrap(tmp_path, "print", env=env)
    assert (result.status, result.quality) == ("SAT", 0.4), result


@pytest.mark.parametrize("last_line", ["1_000", "\u0661\u0662", "loss\u00a01_5"])
def test_a_last_line_only_python_reads_as_a_number_is_no_quality(tmp_path, last_line) -> None:
    """float() takes `1_000` and Arabic-Indic digits; Java SMAC and a spreadsheet do not."""
    env = env_for(tmp_path / "run", TARGET_TEXT=last_line)
    result, data, _ = wrap(tmp_path, "print", env=env)
    assert result.status == "UNSAT", result
    assert "no number on the last output line" in str(data["reason"])


def test_report_keeps_extra_values(tmp_path: Path) -> None:
    result, data, run_dir = wrap(tmp_path, "report", x="0.5")
    assert (result.status, result.quality) == ("SAT", 0.5)
    assert data["test_error"] == 0.04
    assert json.loads((run_dir / "result.json").read_text())["extra"]["test_error"] == 0.04


@pytest.mark.parametrize("status", ["UNSAT", "ABORT"])
def test_report_of_a_failure_keeps_its_reason(tmp_path: Path, status: str) -> None:
    result, data, _ = wrap(tmp_path, f"report_{status.lower()}", "--failure-quality", "7")
    assert (result.status, result.quality) == (status, 7)
    assert data["reason"] == "diverged loss nan"


def test_extra_keys_the_line_cannot_hold_are_recorded_once_as_reported(tmp_path: Path) -> None:
    result, data, run_dir = wrap(tmp_path, "report_odd_keys")
    assert result.status == "SAT" and data["val_acc"] == 0.9  # the line's safe spelling
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["extra"] == {"val acc": 0.9, "k,ey": 1}


def test_a_nan_report_keeps_its_extra_values_whole(tmp_path: Path) -> None:
    """report() prints a NaN quality as UNSAT; the line's values lose their commas (the
    classic format's separator), the run's record must not."""
    result, data, run_dir = wrap(tmp_path, "report_nan")
    assert (result.status, data["reason"]) == ("UNSAT", "quality is nan")
    assert "," not in str(data["optimizer"])
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["extra"]["optimizer"] == "adam, then sgd"
    assert saved["reason"] == "quality is nan"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("fail", "exit code 1: training with x=0.25"),
        ("raise", "exit code 1: ValueError: bad value really"),
        ("nan", "quality is nan"),
    ],
)
def test_failed_training_is_unsat_with_the_failure_quality(
    tmp_path: Path, mode: str, reason: str
) -> None:
    result, data, _ = wrap(tmp_path, mode, "--failure-quality", "100")
    assert (result.status, result.quality) == ("UNSAT", 100)
    assert data["reason"] == reason


@pytest.mark.parametrize(
    ("mode", "status", "quality"),
    [("nan", "SAT", 0.0), ("success", "SAT", 0.0), ("fail", "CRASHED", 100.0)],
)
def test_a_runtime_objective_judges_the_exit_not_the_output(
    tmp_path: Path, mode: str, status: str, quality: float
) -> None:
    """Under Java SMAC as in a launch: a solver that exits 0 succeeded whatever it printed,
    and a failed one is CRASHED, which a runtime scenario charges PAR-k (not solved)."""
    result, _, _ = wrap(tmp_path, mode, "--failure-quality", "100", "--runtime-objective")
    assert (result.status, result.quality) == (status, quality)
    assert result.runtime > 0


def test_hang_past_the_cutoff_is_timeout(tmp_path: Path) -> None:
    result, data, _ = wrap(tmp_path, "hang", cutoff="1.0")
    assert (result.status, result.quality) == ("TIMEOUT", 1e9)
    assert data["reason"] == "wall_time limit reached"


def wrap_script(
    tmp_path: Path, name: str, body: str, *options: str, cutoff: str = "10"
) -> tuple[RunResult, Path]:
    """`smac-bridge wrap` of a script BODY under a call whose seed is 7."""
    script = tmp_path / f"{name}.py"
    script.write_text(body, encoding="utf-8")
    call = ["no_instance", "0", cutoff, "2147483647", "7", "-x", "1"]
    run_dir = tmp_path / name
    proc = subprocess.run(
        [*SMAC_BRIDGE, "wrap", "--cmd", f'"{sys.executable}" "{script}"', "--gpus", "none"]
        + [*options, *call],
        env=env_for(run_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return one_result(proc.stdout), run_dir


def test_a_run_folder_removed_while_the_script_ran_is_no_failure_of_the_script(
    tmp_path: Path,
) -> None:
    """The script printed 0.5 and exited 0, but its run folder was gone: the run was UNSAT,
    "no number on the last output line", blaming the script for what the wrapper lost."""
    body = "import os, shutil\nshutil.rmtree(os.environ['SMAC_BRIDGE_RUN_DIR'])\nprint(0.5)\n"
    result, run_dir = wrap_script(tmp_path, "tidy", body)
    assert result.status == "CRASHED", result
    reason = parse_additional(result.additional)["reason"]
    assert reason == (
        f"the run folder {run_dir} or its log was removed while the script ran: its output"
        " and any result in it were lost"
    )


def test_an_orphaned_guard_wakes_a_stopped_script_for_its_sigterm(tmp_path: Path) -> None:
    """`smac-bridge wrap` killed with -9 (Java SMAC's SIGKILL, a killed worker): its guard
    stops the tree itself, and a script stopped with SIGSTOP ran its SIGTERM handler only at
    the SIGKILL after the whole grace, its checkpoint never saved."""
    done = tmp_path / "handler ran"
    body = (
        "import os, pathlib, signal, sys, time\n"
        f"def on_term(*_):\n    pathlib.Path({str(done)!r}).write_text('saved')\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        f"pathlib.Path({str(tmp_path / 'started')!r}).write_text(str(os.getpid()))\n"
        "os.kill(os.getpid(), signal.SIGSTOP)\n"
        "time.sleep(120)\n"
    )
    script = tmp_path / "stops.py"
    script.write_text(body)
    call = ["no_instance", "0", "100", "2147483647", "7", "-x", "1"]
    command = f'"{sys.executable}" "{script}"'
    wrapper = subprocess.Popen(
        [*SMAC_BRIDGE, "wrap", "--cmd", command, "--gpus", "none", "--grace", "60", *call],
        env=env_for(tmp_path / "run"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    started = tmp_path / "started"
    while not (started.exists() and started.read_text()):
        assert time.monotonic() < deadline, "the script never started"
        time.sleep(0.05)
    script_pid = int(started.read_text())
    try:
        time.sleep(0.3)  # stopped by now
        wrapper.kill()
        wrapper.wait()
        deadline = time.monotonic() + 20  # well within the grace of 60 s
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), "the stopped script never ran its SIGTERM handler"
    finally:
        with contextlib.suppress(OSError):
            os.kill(script_pid, signal.SIGKILL)


def test_a_stopped_script_gets_its_sigterm_at_the_cutoff(tmp_path: Path) -> None:
    """A script stopped (SIGSTOP: a debugger, a job control key) when the cutoff came never
    ran its SIGTERM handler: its report in the handler was lost, and the run ended only at
    the SIGKILL after the whole grace. SIGCONT follows the SIGTERM, as systemd sends it."""
    body = (
        "import os, signal, sys\n"
        "from smac_bridge import report\n"
        "def on_term(*_):\n"
        "    report(0.2, partial=True, step=2)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        "report(0.3, partial=True, step=1)\n"
        "os.kill(os.getpid(), signal.SIGSTOP)\n"
    )
    result, _ = wrap_script(tmp_path, "stopped", body, "--grace", "20", cutoff="2")
    assert (result.status, result.quality) == ("TIMEOUT", 0.2), result
    assert result.runtime < 12, result  # not at the grace's end


def test_a_result_line_followed_by_a_flood_of_warnings_counts(tmp_path: Path) -> None:
    """A result line read only in the output's last 16 MiB: one before 30 MB of shutdown
    warnings was missed, and the last warning's number (0) became a SAT quality and the
    incumbent. A last line longer than 16 MiB was dropped whole: UNSAT, no number."""
    flood = (
        "print('Result of this algorithm run: SAT, 1, 0, 0.3, -1', flush=True)\n"
        "for i in range(500000):\n"
        "    print('W tensorflow: 5 out of the last 5 calls triggered retracing, 0')\n"
    )
    result, _ = wrap_script(tmp_path, "flood", flood)
    assert (result.status, result.quality) == ("SAT", 0.3), result
    long_line = "import sys\nsys.stdout.write('y' * (17 << 20) + ' 0.33\\n')\n"
    result, _ = wrap_script(tmp_path, "long_line", long_line)
    assert (result.status, result.quality) == ("SAT", 0.33), result


def test_a_script_that_ends_after_partial_reports_is_finished(tmp_path: Path) -> None:
    """Its final number counts, not its last partial report, and its quality is no partial
    one: the partial 0.01 was taken as a finished run's and became the incumbent."""
    for last, quality in (("0.5", 0.5), ("done", 0.01)):  # no number: its last report
        body = (
            f"from smac_bridge import report\nreport(0.01, partial=True, step=1)\nprint({last!r})\n"
        )
        result, run_dir = wrap_script(tmp_path, f"train_{last}", body)
        assert (result.status, result.quality) == ("SAT", quality), result
        assert "partial" not in parse_additional(result.additional)
        assert json.loads((run_dir / "result.json").read_text())["extra"].get("partial") is None


@pytest.mark.parametrize(
    "final",
    [
        "report(0.5)\nreport(0.3, partial=True)",
        'print("Result of this algorithm run: SAT, 1.0, 0, 0.5, 7")',
        'print("Result of this algorithm run: SAT, 1.0, 0, 0.5, 7, acc=0.9")',
        "import sys\nsys.stdout.close()\nreport(0.5)\nreport(0.3, partial=True)",  # no line
    ],
)
def test_a_partial_report_does_not_replace_a_final_result_line(tmp_path: Path, final) -> None:
    """A Keras script reporting each epoch as partial (ReportOnSigterm) and ending with its
    own result line: the partial report was taken as the line's, and its quality then as the
    number ending the output, which is the line's seed: every run scored 7 (-1 when
    deterministic)."""
    body = f"from smac_bridge import report\nreport(0.3, partial=True, step=1)\n{final}\n"
    result, _ = wrap_script(tmp_path, "train", body)
    assert (result.status, result.quality) == ("SAT", 0.5), result
    assert "partial" not in parse_additional(result.additional)


def test_a_result_line_printed_after_a_report_is_the_result(tmp_path: Path) -> None:
    """The last report wins: the script's own line after report(0.5) was taken for that
    report, whose quality it then kept."""
    body = "from smac_bridge import report\nreport(0.5)\n"
    body += 'print("Result of this algorithm run: SAT, 0, 0, 0.7, 42")\n'
    result, _ = wrap_script(tmp_path, "train", body)
    assert (result.status, result.quality) == ("SAT", 0.7), result
    assert parse_additional(result.additional)["result_lines"] == 2


LATE_REPORTER = """
import os, signal, time
from smac_bridge import report
if os.fork() == 0:  # a helper that outlives the script, and reports while it is stopped
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(1)
    report(77.0, who="late helper")
    time.sleep(30)
    os._exit(0)
report(0.5, who="script")
"""


def test_a_report_of_a_helper_left_behind_is_no_result(tmp_path: Path) -> None:
    result, _ = wrap_script(tmp_path, "late", LATE_REPORTER, "--grace", "3")
    assert (result.status, result.quality) == ("SAT", 0.5), result
    assert parse_additional(result.additional)["who"] == "script"


FORKED_WORKERS_REPORT_ON_SIGTERM = """
import os, signal, sys, time
from smac_bridge import report
best = 9.0  # what the workers copy: the quality before any training

def on_sigterm(signum, frame):
    if os.getpid() != script:
        time.sleep(0.5)  # a worker reports after the script: the last write
    report(best, "TIMEOUT", partial=True, who=os.getpid() == script and "script" or "worker")
    os._exit(0)

script = os.getpid()
signal.signal(signal.SIGTERM, on_sigterm)
for _ in range(3):  # a data loader's workers, forked, with the script's handler
    if os.fork() == 0:
        while True:
            time.sleep(1)
best = 0.4
report(best, partial=True, step=1)
while True:  # until the cutoff
    time.sleep(1)
"""


def test_forked_workers_reporting_in_the_scripts_sigterm_handler_are_no_result(
    tmp_path: Path,
) -> None:
    """A script's SIGTERM handler reports its best quality; a data loader's workers, forked,
    run the same handler at the cutoff with the value they copied at the fork: the last of
    them to report replaced the script's 0.4 with 9.0."""
    result, run_dir = wrap_script(tmp_path, "loader", FORKED_WORKERS_REPORT_ON_SIGTERM)
    assert (result.status, result.quality) == ("TIMEOUT", 0.4), result
    assert parse_additional(result.additional)["who"] == "script"
    assert b"a forked copy of process" in (run_dir / "process_output.log").read_bytes()


TRAINS_IN_A_FORKED_CHILD = """
import multiprocessing
from smac_bridge import report

def train():
    report(0.25, epochs=3)

report(0.9, partial=True, step=0)  # before any training
context = multiprocessing.get_context("fork")
child = context.Process(target=train)
child.start()
child.join()
"""


def test_a_final_report_from_a_forked_child_that_trains_is_the_result(tmp_path: Path) -> None:
    """Only a forked copy's partial reports are left out (a stale SIGTERM handler's): its
    final report is the training's result."""
    result, _ = wrap_script(tmp_path, "child", TRAINS_IN_A_FORKED_CHILD)
    assert (result.status, result.quality) == ("SAT", 0.25), result
    assert parse_additional(result.additional)["epochs"] == 3


NAN_THEN_STOPPED = """
import os, time
from pathlib import Path
from smac_bridge import report
report(float("nan"), partial=True, step=1)  # a diverged first epoch
Path(os.environ["SMAC_BRIDGE_RUN_DIR"], "stop-requested").touch()  # as `smac-bridge stop`
time.sleep(30)
"""


def test_a_stopped_run_whose_partial_report_was_nan_has_no_partial_quality(tmp_path):
    """Its quality is the failure quality, which no view may show as a quality it reached:
    the run was flagged partial, and `results`, the report and the plots drew 100."""
    result, run_dir = wrap_script(tmp_path, "nan", NAN_THEN_STOPPED, "--failure-quality", "100")
    assert (result.status, result.quality) == ("TIMEOUT", 100.0), result
    assert "partial" not in parse_additional(result.additional)
    assert not json.loads((run_dir / "result.json").read_text())["extra"].get("partial")


def test_timeout_keeps_a_partial_report(tmp_path: Path) -> None:
    result, data, _ = wrap(tmp_path, "partial_hang", cutoff="4", x="0.3")
    assert (result.status, result.quality) == ("TIMEOUT", 0.3)
    assert data["partial"] == 1 and data["epoch"] == 1


@pytest.mark.parametrize(
    ("mode", "options", "status"),
    [
        ("final_hang", (), "SAT"),
        ("final_hang", ("--runtime-objective",), "TIMEOUT"),  # the cutoff is what it cost
        ("report_on_term", (), "TIMEOUT"),  # a report on SIGTERM is the quality reached
    ],
)
def test_a_final_report_before_the_cutoff_is_a_finished_run(
    tmp_path: Path, mode: str, options: tuple[str, ...], status: str
) -> None:
    """A script that reported its final result and then hung at its exit (a thread, a
    logger's upload) until the cutoff was TIMEOUT, ranked as a partial quality no better
    than the worst finished run, where a user's stop at that moment made it SAT."""
    result, data, _ = wrap(tmp_path, mode, *options, cutoff="3", x="0.4")
    assert result.status == status, data
    if status == "SAT":
        assert result.quality == 0.4
        assert data["reason"] == "wall_time limit reached after its final report"
    elif not options:
        assert (result.quality, data["reason"]) == (0.4, "wall_time limit reached")


def test_the_cutoff_keeps_the_last_metric_match_as_the_quality_reached(tmp_path: Path) -> None:
    """A script read through --metric that printed its validation accuracy each epoch and
    then reached the cutoff was recorded with the failure quality: to SMAC3, the worst
    configuration there is, where a report(partial=True) kept its quality."""
    options = ("--metric", r"val_acc: (\S+)", "--maximize")
    result, data, _ = wrap(tmp_path, "metric_hang", *options, cutoff="2", x="0.8")
    assert (result.status, result.quality) == ("TIMEOUT", -0.8), data
    assert data["negated_metric"] == 1 and data["reason"] == "wall_time limit reached"


@pytest.mark.parametrize("mode", ["line_on_term", "timeout_line_on_term"])
def test_result_line_printed_on_sigterm_is_the_partial_result(tmp_path: Path, mode: str) -> None:
    """A TIMEOUT line printed on SIGTERM, as SMAC 2.10 wrappers say it, holds the quality
    reached as a SAT one does; it got the failure quality."""
    result, _, _ = wrap(tmp_path, mode, cutoff="4", x="0.4")
    assert (result.status, result.quality) == ("TIMEOUT", 0.4)


def test_target_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    result, _, _ = wrap(tmp_path, "ignore_term", cutoff="1")
    assert result.status == "TIMEOUT"


def test_grandchild_in_a_new_session_is_killed(tmp_path: Path) -> None:
    result, _, run_dir = wrap(tmp_path, "grandchild", x="0.7")
    assert (result.status, result.quality) == ("SAT", 0.7)
    assert len((run_dir / "pids.txt").read_text().split()) == 2


def test_what_a_helper_left_behind_says_when_stopped_is_no_result(tmp_path: Path) -> None:
    """The script printed its quality and ended; a helper it left behind prints a line with
    a number when the wrapper stops it. That line was read as the last line of stdout: a
    wrong quality, recorded SAT. It stays in the log."""
    result, _, run_dir = wrap(tmp_path, "chatty_child", x="0.125")
    assert (result.status, result.quality) == ("SAT", 0.125)
    assert b"workers left: 7" in (run_dir / "process_output.log").read_bytes()


def test_memory_limit(tmp_path: Path) -> None:
    result, data, _ = wrap(tmp_path, "memory", "--memory-limit", "100", cutoff="30")
    assert result.status == "UNSAT"
    assert "memory" in str(data["reason"]) or "MemoryError" in str(data["reason"])


def test_50_mb_of_output_stays_in_the_log(tmp_path: Path) -> None:
    result, _, run_dir = wrap(tmp_path, "flood", x="0.6")
    assert (result.status, result.quality) == ("SAT", 0.6)
    assert (run_dir / "process_output.log").stat().st_size > 50 * 2**20


def test_a_flooding_script_fills_no_disk_and_is_still_read(tmp_path: Path) -> None:
    """Past --log-limit, the log and the stdout copy keep their start (the command) and
    their end (the result), so that a script flooding its output until its cutoff does not
    fill the disk of a long optimisation; the result is read as before."""
    result, _, run_dir = wrap(tmp_path, "flood", "--log-limit", "4", x="0.6")
    assert (result.status, result.quality) == ("SAT", 0.6)
    log = (run_dir / "process_output.log").read_bytes()
    stdout = (run_dir / "process_stdout.log").read_bytes()
    assert len(log) <= 4_000_000 and len(stdout) <= 4_000_000
    assert log.startswith(b"smac-bridge wrap: running on") and log.endswith(b"x\n0.6\n")
    assert stdout.startswith(b"training with x=0.6\n") and stdout.endswith(b"x\n0.6\n")
    for kept in (log, stdout):  # the output was 50 MiB and 4 bytes
        assert b"bytes of output left out here" in kept
    wrap(tmp_path, "flood", "--log-limit", "0", x="0.6")
    assert (run_dir / "process_output.log").stat().st_size > 50 * 2**20


def test_another_writer_of_the_log_loses_nothing(tmp_path: Path) -> None:
    """A `smac-bridge wrap` inside the script, in the same run directory, writes the same
    log: the limit's first version wrote at its own idea of the end, over the other's lines."""
    script = tmp_path / "two_writers.py"
    script.write_text(
        "import os, sys\n"
        "log = os.path.join(os.environ['SMAC_BRIDGE_RUN_DIR'], 'process_output.log')\n"
        "for i in range(200):\n"
        "    print(f'outer {i}', flush=True)\n"
        "    with open(log, 'a') as inner:\n"
        "        inner.write(f'inner {i}\\n')\n"
        "print(0.5)\n"
    )
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", f'"{sys.executable}" "{script}"', "--gpus", "none"]
    call = ["no_instance", "0", "30", "2147483647", "-1"]
    done = subprocess.run(
        [*argv, *call], env=env_for(tmp_path / "run"), capture_output=True, text=True, timeout=60
    )
    assert one_result(done.stdout).status == "SAT", done.stderr
    log = (tmp_path / "run" / "process_output.log").read_text()
    for who in ("outer", "inner"):  # unbuffered, print writes a line's newline on its own
        assert re.findall(who + r" \d+", log) == [f"{who} {i}" for i in range(200)]


def test_a_log_limit_below_one_mb_is_refused(tmp_path: Path) -> None:
    one_mb = wrap_argv("success", "--log-limit", "1")
    done = subprocess.run(one_mb, env=env_for(tmp_path / "ok"), capture_output=True, text=True)
    assert one_result(done.stdout).status == "SAT", done.stderr  # 1 MB is enough
    done = subprocess.run(
        wrap_argv("success", "--log-limit", "0.5"),
        env=env_for(tmp_path / "run"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one_result(done.stdout).status == "CRASHED"  # the wrapper's call is wrong
    assert "--log-limit: expected a number of MB >= 1 (or 0: none), got '0.5'" in done.stderr


def test_a_flood_of_short_lines_is_answered_from_its_end(tmp_path: Path) -> None:
    """With a --metric the wrapper read 20 million lines one by one after the script ended,
    for about a minute (a script that floods its output until its cutoff: many minutes, with
    SIGTERM unheard); it reads the end, where the result is."""
    metric = ("--metric", r"val_loss (\S+)", "--abort-pattern", "zz")
    # the call returns by cutoff + grace + about a second: 10 + 1 + 1, and a margin
    result, data, run_dir = wrap(tmp_path, "chatter", *metric, x="0.75", timeout=16)
    assert (result.status, result.quality) == ("SAT", 0.75), data
    assert (run_dir / "process_output.log").stat().st_size > 100 * 2**20  # kept whole


@pytest.mark.parametrize("module", ["smac_bridge.cli", "smac_bridge"])
def test_the_wrapper_imports_nothing_heavy(tmp_path: Path, module: str) -> None:
    """`smac-bridge wrap` starts once per trial: SMAC3, ConfigSpace, Dask, rich, click and
    numpy stay off its import path, and with `--gpus none` so does the GPU lease; so as
    `python -m smac_bridge wrap` (which was no command)."""
    call = wrap_argv("success", cutoff="30")[len(SMAC_BRIDGE) :]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, *call],
        env=env_for(tmp_path / "run"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one_result(done.stdout).status == "SAT", done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    heavy = ("smac", "ConfigSpace", "dask", "distributed", "rich", "click", "numpy")
    assert not {name for name in imported if name.split(".")[0] in heavy}
    assert "smac_bridge.gpus" not in imported and "smac_bridge.wrapper" in imported


def test_two_result_lines_take_the_last_and_say_so(tmp_path: Path) -> None:
    result, data, _ = wrap(tmp_path, "two_lines", x="0.2")
    assert (result.status, result.quality) == ("SAT", 0.2)
    assert data["result_lines"] == 2 and data["note"] == "second"


def test_a_result_line_after_a_loggers_prefix_is_read(tmp_path: Path) -> None:
    """`INFO:root:Result of this algorithm run: SAT, 1.2, 0, 0.3, 42` matched no result line,
    and the number ending the last line, the seed field 42, became every configuration's
    quality."""
    result, data, _ = wrap(tmp_path, "logged_result", x="0.3")
    assert (result.status, result.quality) == ("SAT", 0.3), data
    assert "result_lines" not in data
    # logging's default stream is stderr, which is not read: the reason says where it went
    result, data, _ = wrap(tmp_path, "logged_to_stderr", x="0.3")
    assert result.status == "UNSAT", data
    assert "a result line on stderr is not read: print it on stdout" in str(data["reason"])
    # a log line that quotes the result line after it is no second, broken one
    result, data, _ = wrap(tmp_path, "quoted_result", x="0.3")
    assert (result.status, result.quality) == ("SAT", 0.3), data


def test_stderr_is_not_read_for_the_result(tmp_path: Path) -> None:
    """SMAC reads stdout only: a number ending a warning on stderr is not the quality, and a
    result line on stderr is none; the log still shows both streams."""
    result, _, run_dir = wrap(tmp_path, "stderr_tail", x="0.25")
    assert (result.status, result.quality) == ("SAT", 0.25)
    log = (run_dir / "process_output.log").read_text()
    assert "val_loss 0.25" in log and "threads still alive: 3" in log
    result, data, _ = wrap(tmp_path, "stderr_result", x="0.5")
    assert (result.status, result.quality) == ("SAT", 0.5) and "result_lines" not in data


OUTPUT_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"",
                b"   ",
                b"epoch 3/9 - loss: 0.25",
                b"val_loss 0.125",
                b"ValueError: bad x",
                b"  raise KeyError(name)",
                b"KeyboardInterrupt",
                b"torch.OutOfMemoryError: CUDA",
                b"Result of this algorithm run: SAT, 1, 0, 0.5, -1",
                b"Result for SMAC: UNSAT, 2, 0, 0.75, -1",
                b"\x1b[1mResult\x1b[0m of this algorithm run: SAT, 1, 0, 0.25, -1",  # bold
                b"Re\x1b[1msult of this algorithm run: SAT, 1, 0, 0.625, -1",
                b"Res\x1b]8;;http://x\x1b\\ult for SMAC: SAT, 2, 0, 0.75, -1",  # a link
                b"\xef\xbb\xbfResult of this algorithm run: SAT, 1, 0, 0.375, -1",  # a BOM
                b"INFO:root:Result of this algorithm run: SAT, 3, 0, 0.125, -1",
                b"no Result here",
                b"\xff\xfe binary",
            ]
        ),
        st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b),
        st.integers(1, 120_000).map(lambda n: b"x" * n + b" 0.5"),  # across read chunks
    ),
    max_size=40,
)


# --metric and --abort-pattern values as users write them: anchored to a line's ends or to
# the text's (which only a line alone has), spanning blanks that a run of lines has between
# its lines, matching nothing, or matching in several places on one line.
PATTERNS = st.sampled_from(
    [r"val_loss (\S+)", r"^epoch", r"(\d\.\d+)$", r"\A\s*Result", r"bad x\Z", r"0\.5\s+\S",
     r"loss:\s*(\d\.\d+)", r"binary", r"zz", r"(?i)VALUEERROR", r"(?<!\S)0\.5",
     r"(?<![\s\S])epoch", r"loss: (\S+)(?![\s\S])", r"(?-m:^)epoch", r"(?s)0\.5(?!.)"]
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(OUTPUT_LINES, OUTPUT_LINES, st.sampled_from([b"\n", b"\r", b"\r\n"]), PATTERNS, PATTERNS)
def test_the_output_scan_finds_what_reading_line_by_line_finds(
    tmp_path_factory, out, err, end, metric, abort
):
    """The scan searches whole runs of lines and decodes only candidates; it must agree with
    the plain reading of each line: the last words, the last error, the last --metric match
    and the first --abort-pattern line (as a terminal shows them), the result lines and the
    last line of stdout."""
    from smac_bridge.protocol import script_result_line, without_terminal_codes
    from smac_bridge.script_output import _is_error_line, scan_log

    folder = tmp_path_factory.mktemp("scan")
    both, stdout = folder / "both.log", folder / "stdout.log"
    both.write_bytes(b"header line\n" + end.join(out + err) + end)
    stdout.write_bytes(end.join(out))

    def lines(data: bytes) -> list[str]:
        return [t.decode("utf-8", "replace") for t in re.split(rb"[\r\n]", data) if t.strip()]

    def last(data: bytes) -> str:  # shown without its trailing blanks
        found = [t.rstrip() for t in re.split(rb"[\r\n]", data) if t.strip()]
        return found[-1].decode("utf-8", "replace") if found else ""

    everything, printed = lines(end.join(out + err)), lines(end.join(out))
    scan = scan_log(both, len(b"header line\n"), stdout, re.compile(metric), [re.compile(abort)])
    shown = [without_terminal_codes(line) for line in everything]
    found = [m for line in shown for m in re.finditer(metric, line)]
    assert scan.metric == (
        (found[-1].group(1) if found[-1].groups() else found[-1].group(0)) if found else None
    )
    aborting = [line.strip() for line in shown if re.search(abort, line)]
    assert scan.abort_line == (aborting[0] if aborting else None)
    assert scan.last_words == last(end.join(out + err))
    errors = [line.strip() for line in everything if _is_error_line(line)]
    assert scan.last_error == (errors[-1] if errors else "")
    results = [found for line in printed if (found := script_result_line(line)) is not None]
    assert (scan.result_lines, scan.last_result) == (len(results), results[-1] if results else None)
    assert scan.last_line == without_terminal_codes(last(end.join(out)))


def test_the_scan_of_an_outputs_end_starts_at_a_whole_line(tmp_path: Path, monkeypatch) -> None:
    """Of an output longer than the scan's tail, the lines that start inside the tail are
    read whole, wherever the tail starts (a line that began exactly there was dropped), and
    the one it starts in the middle of from there, after a mark, for the last words alone:
    it may be the last line (a 17 MiB last line's number was not read, and the run was
    UNSAT), but a --metric there could match what its start would have ruled out
    (`\bloss=` in the end of `val_loss=0.9`)."""
    from smac_bridge import script_output

    lines = [b"header", b"loss=0.5", b"loss=0.25 val_loss=0.9", b"done 7"]
    data = b"\n".join(lines) + b"\n"
    log = tmp_path / "out.log"
    log.write_bytes(data)
    for tail in range(1, len(data) + 3):
        monkeypatch.setattr(script_output, "_SCAN_TAIL", tail)
        metric = re.compile(r"\bloss=(\S+)")
        scan = script_output.scan_log(log, 0, log, metric, [re.compile("=")])
        start = max(len(data) - tail, 0)
        starts = _line_starts(data)
        cut = [
            b"\xe2\x80\xa6" + line[start - at :]
            for at, line in starts
            if at < start < at + len(line)
        ]
        whole = [line for at, line in _line_starts(data) if at >= start]
        text = [line.decode() for line in whole]
        found = [found for line in text for found in metric.findall(line)]
        assert scan.metric == (found[-1] if found else None), tail
        assert scan.abort_line == next((line for line in text if "=" in line), None), tail
        shown = [line.decode() for line in cut + whole]
        assert scan.last_words == (shown[-1] if shown else ""), tail
    endless = tmp_path / "endless.log"  # one line without its end (a progress bar, `yes`)
    endless.write_bytes(b"header\n" + b"x" * 300 + b" 0.5")
    for tail in range(4, 300):  # the number ending it is read however little of it is read
        monkeypatch.setattr(script_output, "_RESULT_TAIL", tail)
        assert script_output.scan_log(endless, 0, endless, None, []).last_line.endswith(" 0.5")


def _line_starts(data: bytes) -> list[tuple[int, bytes]]:
    """(where it starts, line) of each line of DATA."""
    starts, at = [], 0
    for line in data.split(b"\n")[:-1]:
        starts.append((at, line))
        at += len(line) + 1
    return starts


def test_non_utf8_output(tmp_path: Path) -> None:
    result, _, _ = wrap(tmp_path, "binary", x="0.9")
    assert (result.status, result.quality) == ("SAT", 0.9)


def test_metric_regex_and_maximize(tmp_path: Path) -> None:
    options = ("--metric", r"training with x=(\S+)", "--maximize", "--maximize-from", "1")
    result, _, _ = wrap(tmp_path, "success", *options, x="0.75")
    assert (result.status, result.quality) == ("SAT", 0.25)
    # --maximize-from alone maximises too: accuracy 0.75 is not minimised as 0.75
    result, _, _ = wrap(tmp_path, "success", *options[:2], *options[3:], x="0.75")
    assert (result.status, result.quality) == ("SAT", 0.25)
    # --maximize alone reports minus the metric, and marks the run so that the views say so;
    # a script's own result line is not negated, nor marked
    result, data, _ = wrap(tmp_path, "success", *options[:3], x="0.75")
    assert (result.status, result.quality, data.get("negated_metric")) == ("SAT", -0.75, 1)
    result, data, _ = wrap(tmp_path, "logged_result", "--maximize", x="0.75")
    assert (result.status, result.quality, data.get("negated_metric")) == ("SAT", 0.75, None)
    # a pattern that matched, but took more than the number: it is the group to fix
    result, data, _ = wrap(tmp_path, "success", "--metric", r"training (\S+ \S+)", x="0.75")
    assert result.status == "UNSAT" and "captured 'with x=0.75' and that is" in data["reason"]


def test_the_documented_metric_pattern_takes_a_diverged_epoch_as_no_result(tmp_path):
    """The README's `val_acc: ([-+0-9.eE]+)` could not match `nan`: a training that diverged
    after epoch 1 was SAT with epoch 1's accuracy. The group that the docs give now takes
    signs, dots and word characters, and stops at what loggers put after a number (a blank,
    `,`, `;`, `]`, `)`, `%`)."""
    lines = "epoch 1 - val_acc: 0.91, val_loss: 0.3\nepoch 2 - [val_acc: nan] val_loss: nan"
    env = env_for(tmp_path / "run", TARGET_TEXT=lines)
    metric = ("--metric", r"val_acc: ([-+.\w]+)", "--maximize")
    result, data, _ = wrap(tmp_path, "print", *metric, env=env)
    assert (result.status, data["reason"]) == ("UNSAT", "quality is nan")
    for number in ("0.93", "9.3e-1"):
        env = env_for(tmp_path / "run", TARGET_TEXT=lines.replace("nan", number, 1))
        result, _, _ = wrap(tmp_path, "print", *metric, env=env)
        assert (result.status, result.quality) == ("SAT", -0.93)


def test_values_reach_the_script_literally(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    run_dir = tmp_path / "run"
    argv = wrap_argv(
        "success",
        "--prefix",
        "--",
        "--rename",
        "x=x",
        "--pass-seed",
        "--pass-instance",
        "--inst",
        "--pass-run-dir",
        "--run",
    )
    argv[argv.index("-1")] = "17"
    argv += ["-evil", f"$(touch {marker})", "-h", "'3'"]
    proc = subprocess.run(argv, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    one_result(proc.stdout)
    got = json.loads((run_dir / "argv.json").read_text())
    assert got[1:] == [
        "--mode",
        "success",
        "--x",
        "0.25",
        "--evil",
        f"$(touch {marker})",
        "--h",
        "3",
        "--seed",
        "17",
        "--inst",
        "no_instance",
        "--run",
        str(run_dir),
    ]
    assert not marker.exists()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (("--switch", "x=--no-x", "--switch", "x"), "--switch 'x': x is a --switch twice"),
        (("--rename", "x=rate", "--rename", "x=lr"), "--rename 'x=lr': x is renamed twice"),
    ],
)
def test_an_option_given_twice_for_one_parameter_is_refused(
    tmp_path: Path, options: tuple[str, ...], reason: str
) -> None:
    """The last --switch of a parameter won without a word: `--switch augment=--no-augment
    --switch augment` passed nothing for false, and the augmentation stayed on."""
    result, data, _ = wrap(tmp_path, "success", *options, x="1")
    assert result.status == "CRASHED" and reason in str(data["reason"]), result


def test_rename_and_prefix(tmp_path: Path) -> None:
    result, _, run_dir = wrap(tmp_path, "success", "--rename", "x=learning_rate", x="1")
    assert json.loads((run_dir / "argv.json").read_text())[-2:] == ["--learning_rate", "1"]
    assert (result.status, result.quality) == ("SAT", 0.25)  # the target's default x


@pytest.mark.parametrize(
    ("argv_tail", "reason", "seed"),
    [
        (["no_instance", "0", "abc", "2147483647", "7"], "argument 3 (cutoff time)", 7),
        (["no_instance", "0", "5.0"], "(missing: cutoff length seed)", -1),
        (["no_instance", "0", "5.0", "0", "1.5"], "argument 5 (seed)", -1),
        (["no_instance", "0", "5.0", "0", "7", "-a"], "-a", 7),  # a parameter without value
        (["no_instance", "0", "5.0", "0", "9" * 20], "an integer of 64 bits", -1),  # unreadable
    ],
)
def test_unparseable_call_is_crashed_with_its_seed(
    tmp_path: Path, argv_tail: list[str], reason: str, seed: int
) -> None:
    """SMAC checks that a result line echoes the seed it passed, where one can be read."""
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", "true", *argv_tail]
    proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
    result = one_result(proc.stdout)
    assert (result.status, result.seed) == ("CRASHED", seed)
    assert reason in str(parse_additional(result.additional)["reason"])


def test_options_that_do_not_parse_echo_only_a_seed_smac_reads(tmp_path: Path) -> None:
    """The seed of a call cut after bad wrapper options is echoed only where Java's
    Long.valueOf reads it: a 20-digit one gave a result line no reader accepts."""
    call = ["no_instance", "0", "5.0", "2147483647", "9" * 20, "-x", "1"]
    argv = [*SMAC_BRIDGE, "wrap", "--bogus", "1", "--cmd", "true", *call]
    proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
    assert (one_result(proc.stdout).status, one_result(proc.stdout).seed) == ("CRASHED", -1)


def test_an_aclib_call_is_answered_with_one_json_line(tmp_path: Path) -> None:
    """An AClib 2 caller (SMAC3's AClib runner, GenericWrapper4AC's callers) decodes the
    JSON after the line's first colon: the classic fields were an answer it cannot read."""
    cmd = f'"{sys.executable}" "{TARGET}"'
    wrap = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none"]
    call = ["--cutoff", "10", "--seed", "9", "--config", "-mode", "success", "-x", "0.125"]
    bad_option = ["--slots-per-gpu", "abc", *call]  # the call's start is not known then
    cases = [(call, "SAT", 0.125), ([call[0], "x", *call[2:]], "CRASHED", 1e9)]
    for tail, status, cost in [*cases, (bad_option, "CRASHED", 1e9)]:
        proc = subprocess.run(
            [*wrap, *tail], env=env_for(tmp_path / "run"), capture_output=True, text=True
        )
        prefix, colon, payload = proc.stdout.strip().partition(":")
        assert (prefix, colon) == ("Result of this algorithm run", ":"), proc.stdout
        answer = json.loads(payload)
        word = "SUCCESS" if status == "SAT" else status  # as the generic wrapper answers
        assert (answer["status"], answer["cost"]) == (word, cost), answer
        assert answer["runtime"] >= 0 and isinstance(answer["misc"], str)
        assert one_result(proc.stdout).status == status  # smac-bridge reads it back
    assert "--slots-per-gpu" in answer["misc"]


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        (["--failure-quality", "inf"], "--failure-quality: expected a finite number, got 'inf'"),
        (["--failure-quality", "nan"], "--failure-quality: expected a finite number, got 'nan'"),
        (["--grace", "-1"], "--grace: expected a number of seconds >= 0, got '-1'"),
        (["--memory-limit", "0"], "--memory-limit: expected a number > 0, got '0'"),
        (["--bogus", "1"], "unknown wrapper option '--bogus'"),
        (["--gpus="], "--gpus: expects auto, none or ids like 0,1; got ''"),
        (["--slots-per-gpu", "0"], "--slots-per-gpu: expected a whole number >= 1, got '0'"),
    ],
)
def test_a_bad_number_among_the_options_is_one_crashed_line(
    tmp_path: Path, option: list[str], reason: str
) -> None:
    """A failure quality of inf once passed the options and broke the result line."""
    call = ["no_instance", "0", "5.0", "2147483647", "7", "-x", "1"]
    if option == ["--bogus", "1"]:  # `true no_instance 0 5 2147483647`, with -7 a parameter?
        call[2], call[4] = "5", "-7"
    argv = [*SMAC_BRIDGE, "wrap", *option, "--cmd", "true", *call]
    proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
    result = one_result(proc.stdout)
    assert result.status == "CRASHED" and result.quality == 1e9
    assert result.seed == int(call[4])  # SMAC checks that the line echoes its seed
    # the line cannot hold commas or semicolons (they split its fields and its key=value
    # pairs); stderr has the reason whole
    in_line = re.sub(r",(?=\S)", " ", reason).replace(",", "").replace(";", " ")
    assert in_line in str(parse_additional(result.additional)["reason"])
    assert proc.stderr.startswith("smac-bridge wrap: ") and reason in proc.stderr


def test_missing_command_and_bad_run_dir_are_crashed(tmp_path: Path) -> None:
    call = ["no_instance", "0", "5.0", "2147483647", "-1"]
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", "no-such-command-xyz", "--gpus", "none", *call]
    proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
    assert one_result(proc.stdout).status == "CRASHED"
    (tmp_path / "file").write_text("")
    proc = subprocess.run(
        argv, env=env_for(tmp_path / "file" / "run"), capture_output=True, text=True
    )
    result = one_result(proc.stdout)
    assert result.status == "CRASHED" and "not writable" in result.additional
    proc = subprocess.run([*SMAC_BRIDGE, "wrap", "--bogus", *call], capture_output=True, text=True)
    assert one_result(proc.stdout).status == "CRASHED"


def test_help_is_long_only(tmp_path: Path) -> None:
    proc = subprocess.run([*SMAC_BRIDGE, "wrap", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--maximize-from" in proc.stdout
    assert "-h," not in proc.stdout


def test_abort_pattern_when_a_gpu_is_assigned(tmp_path: Path) -> None:
    env = env_for(tmp_path / "run", SMAC_BRIDGE_GPU="0")
    result, data, run_dir = wrap(tmp_path, "cuda", env=env)
    assert result.status == "ABORT"
    assert "CUDA driver version is insufficient" in str(data["reason"])
    assert (
        json.loads((run_dir / "command.json").read_text())["env_added"]["CUDA_VISIBLE_DEVICES"]
        == "0"
    )
    env = env_for(tmp_path / "run2", SMAC_BRIDGE_GPU="")
    result, _, _ = wrap(tmp_path, "cuda", env=env)
    assert result.status == "UNSAT"


def catches(pid: int, signum: int) -> bool:
    """Whether process PID has a handler for SIGNUM (its SigCgt mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt")), 16
    )
    return bool(mask >> (signum - 1) & 1)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_stop_while_the_wrapper_starts_gives_its_line_and_no_script(tmp_path, signum):
    """A SIGTERM in the wrapper's first 0.1 s, while it imported, killed it without its
    line (Java SMAC counts that as a crash). From the moment the command runs (Python's own
    start-up, some 40 ms, is before it), the stop is kept: TIMEOUT, the script not started.
    The wrapper is held at the first moment it handles the signal, and Python's import log
    must not yet show the wrapper's module there."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        wrap_argv("hang", cutoff="60"), env=env_for(run_dir, PYTHONPROFILEIMPORTTIME="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not catches(proc.pid, signum):
        assert proc.poll() is None
    proc.send_signal(signal.SIGSTOP)
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    imported = proc.stderr.read() or ""
    os.set_blocking(proc.stderr.fileno(), True)
    assert "smac_bridge.cli" in imported and "smac_bridge.wrapper" not in imported
    proc.send_signal(signum)
    proc.send_signal(signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=30)
    result = one_result(stdout)
    assert (result.status, parse_additional(result.additional)["reason"]) == (
        "TIMEOUT",
        "interrupted",
    ), stderr
    assert not (run_dir / "pids.txt").exists()  # the script never started


def wait_until_started(run_dir: Path, mode: str, proc: subprocess.Popen[str]) -> None:
    """Wait for the target's pid file (and, for partial_hang, its partial report)."""
    path = run_dir / ("result.json" if mode == "partial_hang" else "pids.txt")
    deadline = time.monotonic() + 30
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the target never started"
        time.sleep(0.05)


def started_wrap(
    run_dir: Path, mode: str, cutoff: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    """`smac-bridge wrap` of the target in MODE at x = 0.3, once its script has started."""
    proc = subprocess.Popen(
        wrap_argv(mode, cutoff=cutoff, x="0.3"),
        env=env_for(run_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )
    wait_until_started(run_dir, mode, proc)
    return proc


def assert_timed_out(proc: subprocess.Popen[str], run_dir: Path, reason: str) -> None:
    """PROC's one result line is TIMEOUT for REASON, and its script's tree is gone."""
    stdout, _ = proc.communicate(timeout=30)
    result = one_result(stdout)
    assert result.status == "TIMEOUT", result
    assert parse_additional(result.additional)["reason"] == reason
    assert_no_survivors(run_dir)


@pytest.mark.parametrize(
    ("mode", "status", "quality"), [("hang", "TIMEOUT", 1e9), ("partial_hang", "TIMEOUT", 0.3)]
)
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["TERM", "INT", "HUP"]
)
def test_sigterm_to_the_wrapper(
    tmp_path: Path, mode: str, status: str, quality: float, signum: int
) -> None:
    """SMAC's SIGTERM, a Ctrl-C and a closed terminal (SIGHUP, which gave no line) alike."""
    run_dir = tmp_path / "run"
    proc = started_wrap(run_dir, mode, cutoff="60")
    proc.send_signal(signum)
    stdout, _ = proc.communicate(timeout=30)
    result = one_result(stdout)
    assert (result.status, result.quality) == (status, quality)
    assert parse_additional(result.additional)["reason"] == "interrupted"
    assert_no_survivors(run_dir)


def test_a_stop_signal_that_reaches_the_script_first_still_interrupts(tmp_path: Path) -> None:
    """systemd, Slurm and a container's stop signal every process at once: the script, dead
    of the SIGTERM before the wrapper began its stop, made the run UNSAT "killed by SIGTERM",
    a failure of its configuration, where the wrapper's own stop says interrupted."""
    run_dir = tmp_path / "run"
    proc = started_wrap(run_dir, "hang", cutoff="60")
    for child in psutil.Process(proc.pid).children(recursive=True):  # the script first
        with contextlib.suppress(psutil.NoSuchProcess):  # a guard whose script has ended
            child.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    assert_timed_out(proc, run_dir, "interrupted")


def _as_under_nohup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def test_a_wrapper_under_nohup_goes_on_after_a_closed_terminal(tmp_path: Path) -> None:
    """Java SMAC started with nohup ignores SIGHUP, and its wrappers inherit that: they took
    it all the same, and a closed terminal stopped the trial running then as interrupted."""
    run_dir = tmp_path / "run"
    proc = started_wrap(run_dir, "hang", cutoff="2", preexec_fn=_as_under_nohup)
    proc.send_signal(signal.SIGHUP)
    assert_timed_out(proc, run_dir, "wall_time limit reached")


@pytest.mark.parametrize(
    ("mode", "status", "quality", "note"),
    [
        ("hang", "TIMEOUT", 1e9, ""),
        ("partial_hang", "TIMEOUT", 0.3, ""),
        ("partial_hang", "TIMEOUT", 0.3, "interrupted"),
    ],
)
def test_stop_request(tmp_path: Path, mode: str, status: str, quality: float, note: str) -> None:
    """A user's stop (no note) is recorded as theirs; the note `interrupted` is a launch's
    Ctrl-C reaching a Dask trial through a shared filesystem, which a resume runs again: it
    was recorded as stopped by user, its slot spent."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        wrap_argv(mode, cutoff="60", x="0.3"),
        env=env_for(run_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_started(run_dir, mode, proc)
    (run_dir / "stop-requested").write_text(note)
    stdout, _ = proc.communicate(timeout=30)
    result = one_result(stdout)
    assert (result.status, result.quality) == (status, quality)
    saved = json.loads((run_dir / "result.json").read_text())
    if note:
        assert saved["reason"] == "interrupted" and not saved.get("stopped_by_user"), saved
    else:
        assert parse_additional(result.additional)["stopped_by_user"] == 1
        assert saved["stopped_by_user"] is True
    assert_no_survivors(run_dir)


def test_a_gpu_found_after_the_cutoff_or_a_lock_that_cannot_be_taken_is_one_line(
    tmp_path: Path,
) -> None:
    """A hung nvidia-smi took the cutoff, then the script was started with 1 ms left, to be
    killed at once; a lock folder that takes no lock file gave a traceback and a reason
    that named no file."""
    tools = tmp_path / "bin"
    tools.mkdir()
    smi = tools / "nvidia-smi"
    smi.write_text("#!/bin/sh\nsleep 2\necho 'GPU 0: NVIDIA H200 (UUID: GPU-1111)'\n")
    smi.chmod(0o755)
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    call = ["no_instance", "0", "1.0", "2147483647", "-1", "-mode", "success", "-x", "0.25"]
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", f'"{sys.executable}" "{TARGET}"', *call]
    path = f"{tools}:{os.environ['PATH']}"
    env = env_for(tmp_path / "run", PATH=path, SMAC_BRIDGE_GPU_LOCK_DIR=str(locks))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    result = one_result(proc.stdout)
    reason = str(parse_additional(result.additional)["reason"])
    assert result.status == "TIMEOUT" and result.runtime >= 1.0, result
    assert reason == "finding a GPU took the whole cutoff (1 s): not run", reason
    assert not (tmp_path / "run" / "argv.json").exists()  # the script never started
    locks = tmp_path / "broken-locks"
    locks.mkdir(mode=0o700)
    (locks / "gpu-0-slot-0.lock").mkdir()  # no file can be opened there
    env = env_for(tmp_path / "run", SMAC_BRIDGE_FAKE_GPUS="1", SMAC_BRIDGE_GPU_LOCK_DIR=str(locks))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    result = one_result(proc.stdout)
    reason = str(parse_additional(result.additional)["reason"])
    assert result.status == "CRASHED" and "Traceback" not in proc.stderr, proc.stderr
    assert reason == f"cannot lease a GPU slot: {locks / 'gpu-0-slot-0.lock'}: Is a directory"


def test_two_wrappers_never_share_a_gpu_slot(tmp_path: Path) -> None:
    procs = []
    for name in ("a", "b"):
        env = env_for(
            tmp_path / name,
            SMAC_BRIDGE_FAKE_GPUS="1",
            SMAC_BRIDGE_GPU_LOCK_DIR=str(tmp_path / "locks"),
        )
        argv = wrap_argv("gpu")
        argv[argv.index("none")] = "auto"
        argv[argv.index("--grace") : argv.index("--grace")] = ["--slots-per-gpu", "1"]
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True))
    for proc in procs:
        stdout, _ = proc.communicate(timeout=60)
        assert one_result(stdout).status == "SAT"
    a, b = (json.loads((tmp_path / n / "gpu.json").read_text()) for n in ("a", "b"))
    assert a["gpu"] == b["gpu"] == "0"
    for name in ("a", "b"):  # the lease is named in result.json: the run's record takes it
        assert json.loads((tmp_path / name / "result.json").read_text())["gpu"] == "0"
    assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)


def test_the_wait_for_a_gpu_slot_counts_toward_the_cutoff(tmp_path: Path) -> None:
    """A wrapper that waited 3 s for the one slot then gave its script the whole 4 s cutoff,
    and returned after 2 x cutoff + grace, where the docs say cutoff + grace."""
    procs = []
    for name, cutoff in (("a", "6.0"), ("b", "8.0")):
        env = env_for(tmp_path / name, SMAC_BRIDGE_FAKE_GPUS="1",
                      SMAC_BRIDGE_GPU_LOCK_DIR=str(tmp_path / "locks"))  # fmt: skip
        argv = wrap_argv("hang", cutoff=cutoff)
        argv[argv.index("none")] = "auto"
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True))
        if name == "a":  # a's script holds the slot, for 6 s from a's start, before b asks
            wait_until_started(tmp_path / "a", "hang", procs[0])
    (a, b) = (one_result(proc.communicate(timeout=90)[0]) for proc in procs)
    assert (a.status, b.status) == ("TIMEOUT", "TIMEOUT")
    # b waited for the rest of a's 6 s (all but b's start-up), and its script got what was
    # left of its 8 s after the wait
    assert b.runtime < 7.0, b


def test_a_killed_wrapper_holds_its_gpu_until_its_script_is_gone(tmp_path: Path) -> None:
    """kill -9 of a wrapper ended its lease at once, while its script still trained for the
    guard's grace: the next trial started on the same GPU beside it (out of memory on a real
    one). The script's tree now holds the lease too."""
    from smac_bridge.gpus import lease_gpu

    locks = tmp_path / "locks"
    env = env_for(tmp_path / "run", SMAC_BRIDGE_FAKE_GPUS="1", SMAC_BRIDGE_GPU_LOCK_DIR=str(locks))
    argv = wrap_argv("ignore_term", cutoff="60")  # SIGTERM ignored: SIGKILL after the grace
    argv[argv.index("none")] = "auto"
    argv[argv.index("--grace") + 1] = "3"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    wait_until_started(tmp_path / "run", "ignore_term", proc)
    proc.kill()
    proc.communicate(timeout=30)
    with pytest.raises(TimeoutError):  # the script still runs on GPU 0
        with lease_gpu(["0"], lock_dir=locks, timeout=0):
            pass
    with lease_gpu(["0"], lock_dir=locks, timeout=30) as lease:  # free once the tree is gone
        assert lease.gpu == "0"
    assert_no_survivors(tmp_path / "run")


def test_a_wrapper_killed_during_its_grace_leaves_no_helper_of_its_script(
    tmp_path: Path,
) -> None:
    """Java SMAC's SIGTERM, then SIGKILL 3 s later, with a grace of 5: the script dies of the
    SIGTERM and leaves a SIGTERM-deaf helper, which the wrapper's SIGKILL at the end of the
    grace would never reach. The guard ends it itself."""
    argv = wrap_argv("deaf_child", cutoff="60")
    argv[argv.index("--grace") + 1] = "4"
    proc = subprocess.Popen(argv, env=env_for(tmp_path / "run"), stdout=subprocess.PIPE)
    pids = tmp_path / "run" / "pids.txt"
    wait_until_started(tmp_path / "run", "deaf_child", proc)
    while len(pids.read_text().split()) < 2:  # the script's pid, then its helper's
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)  # the script is gone, its helper is not
    proc.kill()
    proc.communicate(timeout=30)
    helper = int(pids.read_text().split()[1])
    deadline = time.monotonic() + 4 + 5  # the grace, and a margin
    while psutil.pid_exists(helper) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_no_survivors(tmp_path / "run")


def test_custom_wrapper_example(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    argv = [
        sys.executable,
        str(CUSTOM),
        "--gpus",
        "none",
        "no_instance",
        "0",
        "10.0",
        "2147483647",
        "-1",
        "-x",
        "2.0",
        "-y",
        "3.0",
    ]
    proc = subprocess.run(argv, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    result = one_result(proc.stdout)
    assert (result.status, result.quality) == ("SAT", pytest.approx(6.115426298669772))
    assert parse_additional(result.additional)["loss_source"] == "stdout"


BROKEN_CUSTOM = """
import argparse, math, os, sys, time
from pathlib import Path
import numpy as np
from smac_bridge.protocol import RunResult
from smac_bridge.wrapper import Wrapper

class Broken(Wrapper):
    def build_command(self, call):
        if os.environ["MODE"] == "string":
            return f"{sys.executable} -c print(1)"
        if os.environ["MODE"] == "path":  # pathlib words are words
            return [sys.executable, "-c", "print(0.5)", Path("x")]
        if os.environ["MODE"] == "argparse":  # a value its own parser refuses
            parser = argparse.ArgumentParser()
            parser.add_argument("--x", type=int)
            parser.parse_args(["--x", "abc"])
        if os.environ["MODE"] in ("extras", "failed"):  # a quality the wrapper finds
            return [sys.executable, "-c", "print(0.5)"]
        if os.environ["MODE"] in ("cut", "cut_slow"):  # cut off at the cutoff
            return [sys.executable, "-c", "import time; print('at 1', flush=True); time.sleep(60)"]
        if os.environ["MODE"] == "cut_partial":  # cut off after a partial report
            code = "import time, smac_bridge; smac_bridge.report(0.4, step=1, partial=True); "
            return [sys.executable, "-c", code + "time.sleep(60)"]
        if os.environ["MODE"] == "maximized":  # an accuracy the wrapper's --maximize negates
            return [sys.executable, "-c", "print('accuracy: 0.8')"]
        if os.environ["MODE"] in ("own_reason", "no_quality"):
            return [sys.executable, "-c", "import sys; sys.exit('training diverged')"]
        if os.environ["MODE"] == "prints":
            print("building the command")
        if os.environ["MODE"] == "runlength":  # a solver's own line: 123 flips
            line = "Result for ParamILS: SAT, 1.5, 123, 0.3, 7"
            return [sys.executable, "-c", f"print({line!r})"]
        return [sys.executable, "-c", "print('done')"]

    def read_result(self, run):
        if os.environ["MODE"] == "bug":
            return {"quality": 1 / 0}
        if os.environ["MODE"] == "exit":
            sys.exit(4)
        if os.environ["MODE"] == "prints":  # as a wrapper written for Java SMAC did
            print("Result of this algorithm run: SAT, 0, 0, 123, 1")
            os.system("echo 'Result of this algorithm run: SAT, 0, 0, 456, 1'")  # its helper
        if os.environ["MODE"] in ("slow", "cut_slow"):  # a metrics file that never comes
            (run.run_dir / "reading").touch()
            try:
                time.sleep(60)
            except Exception:  # a hook's broad except does not keep it from ending
                pass
            return {"quality": 0.1}
        if os.environ["MODE"] == "retry":  # waits for it in its except block
            (run.run_dir / "reading").touch()
            for _ in range(600):
                try:
                    return {"quality": float((run.run_dir / "metrics.txt").read_text())}
                except FileNotFoundError:
                    time.sleep(0.1)
        return {
            "nan": RunResult("SAT", 1.0, 0, math.nan, 0, ""),
            "comma": RunResult("SAT", 1.0, 0, 0.5, 0, "a=1,b=2"),
            "nan_runlength": RunResult("SAT", 1.0, math.nan, 0.5, 0),
            "negative_runlength": RunResult("SAT", 1.0, -5, 0.5, 0),
            "long_seed": RunResult("SAT", 1.0, 0, 0.5, 2**70),
            "fraction_seed": RunResult("SAT", 1.0, 0, 0.5, 1.5),
            "runtime": {"quality": 0.5, "runtime": "abc"},
            "negative": {"quality": 0.5, "runtime": -1},
            "memout": {"status": "memout"},
            "unknown": {"status": "OOM"},
            "numpy": {"quality": np.float32(0.25), "epochs": np.int64(10), "model": Path("m.pt")},
            "numpy_result": RunResult("SAT", np.float64(1.5), 0, np.float32(0.5), np.int64(3)),
            "extras": {"note": "hi"},
            "runlength": {"note": "hi"},
            "quality": {"quality": 0.3},
            "cut": {"quality": 0.3},
            "cut_partial": {"status": "SAT", "quality": 0.3},  # its final checkpoint's
            "maximized": {"quality": 0.25},  # an error rate of its own
            "failed": {"status": "UNSAT"},  # a failure the wrapper could not see
            "instant": {"quality": 0.1, "runtime": 0},
            "prints": {"quality": 0.3},
            "own_reason": {"status": "UNSAT", "reason": "diverged at epoch 3"},
            "no_quality": {"quality": None},
            "complete": RunResult("SAT", 1.0, 0, 0.25, 0, "test_error=0.2;source=custom"),
            "text": "SAT",  # a result line's word, not one of the answers read_result may give
        }.get(os.environ["MODE"])

Broken.main()
"""


def run_broken(
    tmp_path: Path, mode: str, *options: str, cutoff: str = "10"
) -> subprocess.CompletedProcess[str]:
    """BROKEN_CUSTOM in MODE, called the classic way."""
    script = tmp_path / "broken_wrapper.py"
    script.write_text(BROKEN_CUSTOM)
    argv = [
        sys.executable,
        str(script),
        "--gpus",
        "none",
        *options,
        "no_instance",
        "0",
        cutoff,
        "0",
    ]
    env = {**env_for(tmp_path / "run"), "MODE": mode}
    return subprocess.run([*argv, "-1"], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "mode",
    ["nan", "comma", "runtime", "negative", "unknown", "text"]
    + ["nan_runlength", "negative_runlength", "long_seed", "fraction_seed"],
)
def test_a_custom_wrapper_answering_what_smac_cannot_read_still_prints_one_line(
    tmp_path: Path, mode: str
) -> None:
    """A read_result that returns a NaN quality, commas in the additional data, a runtime
    that is no number, a run length SMAC 2.10 refuses (NaN, negative but -1), a seed beyond
    Long.valueOf or with a fraction (printed cut to an integer), or no RunResult or dict at
    all is the wrapper's fault: one CRASHED line
    saying so, not a traceback and no line (which SMAC 2.10 reads as a crash of its first
    run, aborting), nor the AttributeError of a string's missing .items()."""
    proc = run_broken(tmp_path, mode)
    assert proc.returncode == 0, proc.stderr
    result = one_result(proc.stdout)
    assert result.status == "CRASHED" and "read_result returned" in result.additional
    assert "Traceback" not in proc.stderr
    if mode == "text":
        saved = json.loads((tmp_path / "run" / "result.json").read_text())
        assert saved["reason"] == "read_result returned 'SAT': expected a RunResult, a dict or None"


SIGNALLED_WHILE_FAILING = """
import os, signal
from smac_bridge.wrapper import Wrapper
from smac_bridge.wrap_options import WrapperError

class Failing(Wrapper):
    def build_command(self, call):
        raise WrapperError("no command for these values")

    def _warn(self, text):  # SMAC's SIGTERM lands while the wrapper handles its error
        os.kill(os.getpid(), signal.SIGTERM)
        super()._warn(text)

Failing.main()
"""


def test_a_stop_signal_while_the_wrapper_handles_its_own_error_still_gives_one_line(
    tmp_path: Path,
) -> None:
    """Before any script exists, a SIGTERM ends the wrapper at once by an exception; raised
    inside the handling of an error, it escaped it: a traceback, exit code 1 and no result
    line, which SMAC 2.10 reads as a crash of the run."""
    script = tmp_path / "failing_wrapper.py"
    script.write_text(SIGNALLED_WHILE_FAILING)
    call = ["--gpus", "none", "no_instance", "0", "10", "0", "5", "-x", "1"]
    proc = subprocess.run(
        [sys.executable, str(script), *call],
        env=env_for(tmp_path / "run"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    result = one_result(proc.stdout)
    assert (result.status, result.seed) == ("CRASHED", 5)
    assert "no command for these values" in str(parse_additional(result.additional)["reason"])


def test_a_custom_wrapper_may_answer_with_numpy_numbers_and_paths(tmp_path: Path) -> None:
    """A metric's np.float32, a count's np.int64 or a Path from read_result ended the wrapper
    in a traceback writing result.json, with no result line at all."""
    proc = run_broken(tmp_path, "numpy")
    result = one_result(proc.stdout)
    assert (result.status, result.quality) == ("SAT", 0.25), proc.stderr
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["extra"] == {"epochs": 10, "model": "m.pt"} and saved["quality"] == 0.25
    proc = run_broken(tmp_path, "numpy_result")
    assert one_result(proc.stdout) == RunResult("SAT", 1.5, 0, 0.5, 3), proc.stderr
    assert json.loads((tmp_path / "run" / "result.json").read_text())["seed"] == 3


@pytest.mark.parametrize(
    ("mode", "status", "quality", "reason"),
    [
        ("extras", "SAT", 0.5, ""),  # extra values only: the wrapper's decision stays
        ("quality", "SAT", 0.3, ""),  # the quality the wrapper could not find
        ("cut", "TIMEOUT", 0.3, "wall_time limit reached"),  # a run cut off stays cut off
        # a failure gets the failure quality, not the script's, and a reason
        ("failed", "UNSAT", 1e9, "read_result reported UNSAT"),
        ("own_reason", "UNSAT", 1e9, "diverged at epoch 3"),  # its own reason, not the exit's
        # no quality of a run that failed anyway: the exit's reason says more
        ("no_quality", "UNSAT", 1e9, "exit code 1: training diverged"),
    ],
)
def test_what_a_custom_wrappers_dict_leaves_out_keeps_the_default(
    tmp_path, mode, status, quality, reason
) -> None:
    """A dict without a status made every run SAT, one cut off at its cutoff too (its
    reason still saying so), and a dict of extra values alone made a solved run UNSAT."""
    proc = run_broken(tmp_path, mode, "--grace", "1", cutoff="2")
    result = one_result(proc.stdout)
    assert (result.status, result.quality) == (status, quality), proc.stdout
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert (saved["status"], saved["reason"]) == (status, reason), saved
    assert parse_additional(result.additional).get("reason", "") == reason


def test_a_custom_wrappers_dict_keeps_the_run_length_of_the_scripts_line(tmp_path) -> None:
    """A dict of extra values alone replaced the run length the script's line gave by 0."""
    result = one_result(run_broken(tmp_path, "runlength").stdout)
    assert (result.status, result.runlength, result.quality) == ("SAT", 123, 0.3), result
    assert json.loads((tmp_path / "run" / "result.json").read_text())["runlength"] == 123


def test_what_a_custom_wrappers_hooks_print_goes_to_stderr(tmp_path: Path) -> None:
    """A wrapper written for Java SMAC printed its own result line in read_result: two lines
    on stdout, on which SMAC (and a launch) aborted."""
    proc = run_broken(tmp_path, "prints")
    assert (one_result(proc.stdout).status, one_result(proc.stdout).quality) == ("SAT", 0.3)
    assert "building the command" in proc.stderr and "SAT, 0, 0, 123, 1" in proc.stderr
    assert "SAT, 0, 0, 456, 1" in proc.stderr  # a child process's too


@pytest.mark.parametrize(("mode", "grace"), [("slow", "1"), ("cut_slow", "0")])
def test_a_custom_hook_past_the_cutoff_ends_in_time(tmp_path: Path, mode, grace) -> None:
    """A read_result that hung (a metrics file that never came) kept the wrapper past the
    cutoff and grace for as long as it hung: SMAC's run got no line in time (also after a
    run that used its cutoff under `--grace 0`, whose timer of 0 s was none)."""
    started = time.monotonic()
    proc = run_broken(tmp_path, mode, "--grace", grace, cutoff="2")
    assert time.monotonic() - started < 30
    result = one_result(proc.stdout)
    assert result.status == "TIMEOUT"
    reason = parse_additional(result.additional)["reason"]
    assert reason.startswith("read_result took longer than the cutoff and grace left it"), reason
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["cpu_time"] > 0  # what the script's run was
    assert (saved["exit_code"] == 0) is (mode == "slow")  # else killed at the cutoff


@pytest.mark.parametrize("mode", ["slow", "retry"])
def test_a_stop_signal_ends_a_custom_hook(tmp_path: Path, mode: str) -> None:
    """SIGTERM (SMAC stopping the run) while read_result ran was ignored until it returned,
    also in a hook that waits in its except block."""
    script = tmp_path / "broken_wrapper.py"
    script.write_text(BROKEN_CUSTOM)
    argv = [sys.executable, str(script), "--gpus", "none", "no_instance", "0", "100", "0", "-1"]
    env = {**env_for(tmp_path / "run"), "MODE": mode}
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 30
        while not (tmp_path / "run" / "reading").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=10)
    result = one_result(stdout)
    assert result.status == "TIMEOUT" and result.additional.startswith("reason=interrupted")


def test_a_custom_quality_drops_what_the_default_said_of_its_own(tmp_path: Path) -> None:
    """read_result's own error rate under `--maximize` was shown as minus the metric, and
    its SAT of a run cut off after a partial report stayed flagged partial."""
    proc = run_broken(tmp_path, "maximized", "--metric", r"accuracy: (\S+)", "--maximize")
    result = one_result(proc.stdout)
    assert (result.status, result.quality) == ("SAT", 0.25)
    assert "negated_metric" not in result.additional
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert "negated_metric" not in saved["extra"], saved
    proc = run_broken(tmp_path, "cut_partial", "--grace", "1", cutoff="3")
    result = one_result(proc.stdout)
    assert (result.status, result.quality) == ("SAT", 0.3), proc.stderr
    assert "partial" not in parse_additional(result.additional)
    assert "partial" not in json.loads((tmp_path / "run" / "result.json").read_text())["extra"]


MISNAMED_CUSTOM = """
import sys
from smac_bridge.wrapper import Wrapper

class Scored(Wrapper):
    def __init__(self):  # forgets super().__init__()
        self.command = [sys.executable, "-c", "print(0.5)"]

    def build_command(self, call):
        return self.command

    def read_results(self, run):  # read_result misspelt
        return {"quality": 0.125}

Scored.main()
"""


def test_a_misspelt_hook_is_named(tmp_path: Path) -> None:
    """`read_results` for read_result was ignored without a word (the default's quality
    stood), and an __init__ that skipped Wrapper's printed two tracebacks and no result
    line. A warning, not a failure: a helper of the wrapper's may be named so."""
    script = tmp_path / "misnamed_wrapper.py"
    script.write_text(MISNAMED_CUSTOM)
    argv = [sys.executable, str(script), "no_instance", "0", "10", "0", "7"]
    proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
    result = one_result(proc.stdout)
    assert (result.status, result.quality, result.seed) == ("SAT", 0.5, 7)
    expected = "Scored defines read_results but Wrapper has no such hook: a misspelt read_result?"
    assert proc.stderr.startswith(f"misnamed_wrapper.py: warning: {expected}"), proc.stderr
    script.write_text(MISNAMED_CUSTOM.replace("read_results", "read_result"))
    proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
    assert (one_result(proc.stdout).status, one_result(proc.stdout).quality) == ("SAT", 0.125)


def test_a_custom_wrappers_complete_result_is_the_records_too(tmp_path: Path) -> None:
    """The record (and so `results`) kept the values the script reported, not those of the
    RunResult that replaced them in the result line."""
    proc = run_broken(tmp_path, "complete")
    assert one_result(proc.stdout) == RunResult(
        "SAT", 1.0, 0, 0.25, 0, "test_error=0.2;source=custom"
    )
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["extra"] == {"test_error": 0.2, "source": "custom"}, saved


def test_a_custom_wrapper_may_answer_with_a_runtime_of_zero(tmp_path: Path) -> None:
    """A run too short to time (a cached result) took 0 s: no crash for it."""
    result = one_result(run_broken(tmp_path, "instant").stdout)
    assert (result.status, result.runtime, result.quality) == ("SAT", 0.0, 0.1), result


def test_a_bug_in_a_custom_wrapper_is_shown_with_its_traceback(tmp_path: Path) -> None:
    """An exception in read_result gave only `wrapper error: ZeroDivisionError(...)`: its
    author had no file and no line to look at."""
    proc = run_broken(tmp_path, "bug")
    result = one_result(proc.stdout)
    assert result.status == "CRASHED" and "ZeroDivisionError" in result.additional
    assert "Traceback (most recent call last)" in proc.stderr
    line = BROKEN_CUSTOM.splitlines().index('            return {"quality": 1 / 0}') + 1
    script = tmp_path / "broken_wrapper.py"
    assert f'File "{script}", line {line}, in read_result' in proc.stderr, proc.stderr


def test_a_custom_build_command_must_answer_with_words(tmp_path: Path) -> None:
    """A string from build_command was run letter by letter: `cannot start 'p'`."""
    result = one_result(run_broken(tmp_path, "string").stdout)
    assert result.status == "CRASHED"
    assert "build_command returned" in result.additional and "list of words" in result.additional
    result = one_result(run_broken(tmp_path, "path").stdout)
    assert (result.status, result.quality) == ("SAT", 0.5)


@pytest.mark.parametrize("mode", ["argparse", "exit"])
def test_a_custom_wrapper_hook_that_exits_still_prints_one_line(tmp_path, mode) -> None:
    """sys.exit() in a hook, or argparse refusing a value in build_command, ended the wrapper
    with no result line, which SMAC reads as a crash of the whole run."""
    proc = run_broken(tmp_path, mode)
    assert proc.returncode == 0, proc.stderr
    result = one_result(proc.stdout)
    assert result.status == "CRASHED" and "SystemExit" in result.additional
    assert json.loads((tmp_path / "run" / "result.json").read_text())["status"] == "CRASHED"


@pytest.mark.parametrize(
    ("options", "status"), [([], "UNSAT"), (["--runtime-objective"], "CRASHED")]
)
def test_a_custom_wrappers_memout_is_what_a_scripts_memout_is(tmp_path, options, status):
    """A status word a result line may use (MEMOUT) is one read_result may return: it was a
    wrapper fault (CRASHED) there and an infeasible configuration (UNSAT) from the script."""
    proc = run_broken(tmp_path, "memout", *options)
    result = one_result(proc.stdout)
    assert result.status == status
    assert (
        parse_additional(result.additional)["reason"]
        == "read_result reported MEMOUT (out of memory)"
    )


def test_runs_of_a_nested_smac_each_have_their_own_directory_and_tree(tmp_path: Path) -> None:
    """A SMAC inside another SMAC's run gives each run AEATK_EXECUTION_UUID_SUB_0 and keeps
    the outer AEATK_EXECUTION_UUID: runs at once shared one run directory, and the one
    that ended first killed the other's script as its own."""
    (tmp_path / "train.py").write_text(
        "import sys, time\ntime.sleep(float(sys.argv[2]))\nprint('loss', sys.argv[1])\n"
    )
    runs: dict[str, subprocess.Popen[str]] = {}
    for name, loss, seconds in (("slow", "0.1", "4"), ("fast", "0.9", "0")):
        env = env_for(tmp_path, AEATK_EXECUTION_UUID="outer", AEATK_EXECUTION_UUID_SUB_0=name)
        del env["SMAC_BRIDGE_RUN_DIR"]
        cmd = f'"{sys.executable}" train.py {loss} {seconds}'
        argv = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none", "--runs-dir", "runs"]
        argv += ["no_instance", "0", "30", "0", "1", "-x", "1"]
        runs[name] = subprocess.Popen(
            argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.5)
    shown = {name: one_result(run.communicate(timeout=60)[0]) for name, run in runs.items()}
    assert (shown["slow"].status, shown["slow"].quality) == ("SAT", 0.1), shown
    assert (shown["fast"].status, shown["fast"].quality) == ("SAT", 0.9), shown
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["fast", "slow"]


def test_run_dir_named_by_the_execution_uuid(tmp_path: Path) -> None:
    env = env_for(tmp_path / "unused", AEATK_EXECUTION_UUID="exec-1")
    del env["SMAC_BRIDGE_RUN_DIR"]
    argv = wrap_argv("success", "--runs-dir", str(tmp_path / "runs"))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert one_result(proc.stdout).status == "SAT"
    run_dir = tmp_path / "runs" / "exec-1"
    assert json.loads((run_dir / "result.json").read_text())["status"] == "SAT"
    assert_no_survivors(run_dir)
    env["AEATK_EXECUTION_UUID"] = "../outside"  # no UUID: a fresh name, inside the runs
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert one_result(proc.stdout).status == "SAT" and not (tmp_path / "outside").exists()
    assert len(list((tmp_path / "runs").glob("*/result.json"))) == 2


# ---- ${name} templates in --cmd -------------------------------------------------------------


def wrap_template(
    tmp_path: Path, cmd_tail: str, params: list[str], *options: str
) -> tuple[RunResult, list[str]]:
    """Run the wrapper on the target with `--cmd "target CMD_TAIL"`; the result and the argv
    the target got (after its own path)."""
    run_dir = tmp_path / "run"
    cmd = f'"{sys.executable}" "{TARGET}" {cmd_tail}'
    call = ["no_instance", "0", "10.0", "2147483647", "-1", *params]
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none", *options, *call]
    proc = subprocess.run(argv, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    result = one_result(proc.stdout)
    got = run_dir / "argv.json"
    return result, json.loads(got.read_text())[1:] if got.exists() else []


def test_template_values_replace_their_flags(tmp_path: Path) -> None:
    params = ["-mode", "success", "-x", "0.5", "-y", "7"]
    result, argv = wrap_template(tmp_path, '--mode=${mode} "data/${x} v.csv" cost$$5', params)
    assert argv == ["--mode=success", "data/0.5 v.csv", "cost$5", "--y", "7"]
    assert (result.status, result.quality) == ("SAT", 0.25)  # x went to the file name only
    result, argv = wrap_template(tmp_path, "--mode=${mode}", params, "--no-flags")
    assert argv == ["--mode=success"]


def test_template_values_arrive_literally(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"$(touch {marker}) ${{mode}} $$"
    result, argv = wrap_template(
        tmp_path, "--mode ${mode} --name=${evil}", ["-mode", "success", "-evil", evil]
    )
    assert result.status == "SAT"
    assert argv == ["--mode", "success", f"--name={evil}"]
    assert not marker.exists()


def test_a_small_negative_number_in_a_template_reaches_argparse_as_a_number(tmp_path) -> None:
    """SMAC writes -0.0001 as `-1.0E-4`, which argparse takes for an option after `--x
    ${x}` ("expected one argument"): the run failed, and the model learnt that the region
    below zero is hopeless. It comes in plain decimals; a word that only starts with `-`
    stays as it is, and so does a value no double has (`-1e999999` came as a million
    digits)."""
    result, argv = wrap_template(
        tmp_path, "--mode ${mode} --x ${x}", ["-mode", "success", "-x", "-1.0E-4"]
    )
    assert argv == ["--mode", "success", "--x", "-0.00010"]
    assert (result.status, result.quality) == ("SAT", -0.0001)
    from smac_bridge.wrap_options import expand_templates

    values = {"a": "-O2", "b": "-0.5", "c": "1.0E-4", "d": "-1.5E3", "e": "-Infinity"}
    words, _ = expand_templates(["${a}", "${b}", "${c}", "${d}", "${e}"], values)
    assert words == ["-O2", "-0.5", "1.0E-4", "-1500", "-Infinity"]
    words, _ = expand_templates(["--d=${d}", "runs/d${d}/model.h5", "${d}$$"], values)
    assert words == ["--d=-1.5E3", "runs/d-1.5E3/model.h5", "-1.5E3$"]  # within a word: as given
    for value in ("-1_000", "-1e999999", "-1.0E99999", "-1e", "-e5"):  # no double of SMAC's
        assert expand_templates(["${v}"], {"v": value})[0] == [value]
    assert expand_templates(["${v}"], {"v": "-4.9E-324"})[0][0].startswith("-0.000000")
    assert expand_templates(["${v}"], {"v": "-1e-05"})[0] == ["-0.00001"]  # SMAC3's form


def test_template_of_an_absent_parameter_is_crashed(tmp_path: Path) -> None:
    result, argv = wrap_template(
        tmp_path, "--mode=${mode} --depth=${depth} --w=${width}", ["-mode", "success"]
    )
    assert result.status == "CRASHED" and argv == []  # the script never ran
    reason = str(parse_additional(result.additional)["reason"])
    assert "${depth} ${width}" in reason and "inactive or unknown" in reason
    assert "passed: mode" in reason


# ---- the decision, rule by rule -----------------------------------------------------------

FAIL = 1e9
DECISIONS = [
    ("a number on the last line", RunFacts(None, 0, metric=0.3), Decision("SAT", 0.3)),
    (
        "no number",
        RunFacts(None, 0),
        Decision(
            "UNSAT",
            FAIL,
            "no result: no result line or report() and no number on the last output line",
        ),
    ),
    (
        "--metric did not match",
        RunFacts(None, 0, metric_option="acc=(.*)"),
        Decision("UNSAT", FAIL, "no result: --metric 'acc=(.*)' did not match"),
    ),
    (  # as the user wrote it, not as Python's repr doubles its backslashes
        "--metric with a backslash did not match",
        RunFacts(None, 0, metric_option="val: (\\S+)"),
        Decision("UNSAT", FAIL, "no result: --metric 'val: (\\S+)' did not match"),
    ),
    (
        "--metric captured no number",
        RunFacts(None, 0, metric_option="acc: (\\S+)", metric_text="0.98,"),
        Decision(
            "UNSAT",
            FAIL,
            "no result: --metric 'acc: (\\S+)' captured '0.98,' (a comma in it shows as a"
            " blank) and that is no number: let its group capture the number alone, as"
            " ([-+.\\w]+)",
        ),
    ),
    (
        "an infinite number",
        RunFacts(None, 0, metric=float("inf")),
        Decision("UNSAT", FAIL, "quality is inf"),
    ),
    (
        "an error exit says the last words",
        RunFacts(None, 2, last_words="t.py: error: unrecognized arguments: --lr 0.1"),
        Decision("UNSAT", FAIL, "exit code 2: t.py: error: unrecognized arguments: --lr 0.1"),
    ),
    ("killed by a signal", RunFacts(None, -9), Decision("UNSAT", FAIL, "killed by SIGKILL")),
    (
        "a SAT report",
        RunFacts(None, 0, report_status="SAT", report_quality=0.2),
        Decision("SAT", 0.2),
    ),
    (
        "a SAT report of NaN",
        RunFacts(None, 0, report_status="SAT", report_quality=float("nan")),
        Decision("UNSAT", FAIL, "quality is nan"),
    ),
    (
        "an UNSAT report with its reason",
        RunFacts(None, 0, report_status="UNSAT", report_reason="diverged"),
        Decision("UNSAT", FAIL, "diverged"),
    ),
    (
        "MEMOUT says memory",
        RunFacts(None, 0, report_status="UNSAT", report_word="MEMOUT"),
        Decision("UNSAT", FAIL, "script reported MEMOUT (out of memory)"),
    ),
    (
        "the script's own TIMEOUT keeps the quality it reached",
        RunFacts(None, 0, report_status="TIMEOUT", report_quality=0.35),
        Decision("TIMEOUT", 0.35, "script reported TIMEOUT"),
    ),
    (
        "the script's own TIMEOUT without a finite quality",
        RunFacts(None, 0, report_status="TIMEOUT", report_quality=float("inf")),
        Decision("TIMEOUT", FAIL, "script reported TIMEOUT"),
    ),
    (
        "the script's CRASHED is a failed training",
        RunFacts(None, 1, report_status="CRASHED"),
        Decision("UNSAT", FAIL, "script reported CRASHED (exit code 1)"),
    ),
    (
        "a crash after a partial report is a failed training",
        RunFacts(
            None,
            3,
            report_status="SAT",
            report_quality=0.3,
            report_partial=True,
            last_words="RuntimeError: out of data",
        ),
        Decision("UNSAT", FAIL, "exit code 3 after a partial result: RuntimeError: out of data"),
    ),
    (
        "a clean exit after partial reports keeps the last one",
        RunFacts(None, 0, report_status="SAT", report_quality=0.3, report_partial=True),
        Decision("SAT", 0.3),
    ),
    (  # the partial report was 0.01 better than every finished run, and was taken
        "a clean exit after partial reports takes the number it ended with",
        RunFacts(
            None, 0, report_status="SAT", report_quality=0.01, report_partial=True, metric=0.5
        ),
        Decision("SAT", 0.5),
    ),
    (  # Keras printed its training loss after the stop: it was taken as a SAT result
        "a partial TIMEOUT report (stopped by a SIGTERM from elsewhere) is no finished run",
        RunFacts(
            None,
            0,
            report_status="TIMEOUT",
            report_quality=0.04,
            report_partial=True,
            metric=0.2874,
            report_reason="stopped by a signal",
        ),
        Decision("TIMEOUT", 0.04, "stopped by a signal"),
    ),
    (
        "a clean exit after partial reports ending with NaN",
        RunFacts(
            None, 0, report_status="SAT", report_quality=0.01, report_partial=True, metric=math.nan
        ),
        Decision("UNSAT", FAIL, "quality is nan"),
    ),
    (
        "an unreadable result line",
        RunFacts(None, 0, report_error="invalid result line: seed: expected an integer"),
        Decision("UNSAT", FAIL, "invalid result line: seed: expected an integer"),
    ),
    (
        "the cutoff keeps a good partial quality",
        RunFacts("wall_time", -15, report_status="SAT", report_quality=0.4),
        Decision("TIMEOUT", 0.4, "wall_time limit reached"),
    ),
    (
        "a final report before the CPU-time limit: it finished, then hung",
        RunFacts("cpu_time", -15, report_status="SAT", report_quality=0.4, final_before_limit=True),
        Decision("SAT", 0.4, "cpu_time limit reached after its final report"),
    ),
    (
        "a final report before the cutoff is a TIMEOUT of a runtime objective",
        RunFacts(
            "wall_time",
            -15,
            report_status="SAT",
            report_quality=0.4,
            final_before_limit=True,
            runtime_objective=True,
        ),
        Decision("TIMEOUT", 0.4, "wall_time limit reached"),
    ),
    (
        "the cutoff keeps the last --metric match as the quality reached",
        RunFacts("wall_time", -15, metric=0.3, metric_option="acc: (\\S+)"),
        Decision("TIMEOUT", 0.3, "wall_time limit reached"),
    ),
    (
        "a user's stop too, but not a number that merely ends the last line",
        RunFacts("stop_request", -15, metric=0.3),
        Decision("TIMEOUT", FAIL, "stopped by user", True),
    ),
    (
        "a report made wins over the metric",
        RunFacts(
            "wall_time",
            -15,
            report_status="TIMEOUT",
            report_quality=0.2,
            metric=0.3,
            metric_option="acc: (\\S+)",
        ),
        Decision("TIMEOUT", 0.2, "wall_time limit reached"),
    ),
    (
        "a failure keeps the failure quality whatever the metric said",
        RunFacts(None, 1, metric=0.3, metric_option="acc: (\\S+)"),
        Decision("UNSAT", FAIL, "exit code 1"),
    ),
    (
        "the cutoff without a report",
        RunFacts("wall_time", -15),
        Decision("TIMEOUT", FAIL, "wall_time limit reached"),
    ),
    (
        "a user's stop of a run with a good partial quality: it did not finish",
        RunFacts("stop_request", -15, report_status="SAT", report_quality=0.1, report_partial=True),
        Decision("TIMEOUT", 0.1, "stopped by user", True),
    ),
    (
        "a user's stop that landed after the final report",
        RunFacts("stop_request", -15, report_status="SAT", report_quality=0.1),
        Decision("SAT", 0.1, "stopped by user", True),
    ),
    (
        "a user's stop without a report",
        RunFacts("stop_request", -15),
        Decision("TIMEOUT", FAIL, "stopped by user", True),
    ),
    (
        "a pruned run keeps its partial quality but is never SAT",
        RunFacts(
            "stop_request",
            -15,
            stop_note="pruned: median rule at step 3",
            report_status="SAT",
            report_quality=0.3,
            report_partial=True,
        ),
        Decision("TIMEOUT", 0.3, "pruned: median rule at step 3"),
    ),
    (
        "a run whose final report came before the pruning rule's stop landed finished",
        RunFacts(
            "stop_request",
            -15,
            stop_note="pruned: median rule at step 3",
            report_status="SAT",
            report_quality=0.2,
        ),
        Decision("SAT", 0.2),
    ),
    (
        "over the memory limit",
        RunFacts("memory", -9, memory_limit=300.0),
        Decision("UNSAT", FAIL, "memory limit 300 MB exceeded"),
    ),
    (
        "an abort pattern turns a failure into ABORT",
        RunFacts(None, 1, abort_line="CUDA driver version is insufficient"),
        Decision("ABORT", FAIL, "abort pattern matched: CUDA driver version is insufficient"),
    ),
    (
        "but not a success",
        RunFacts(None, 0, metric=0.5, abort_line="CUDA driver version is insufficient"),
        Decision("SAT", 0.5),
    ),
    (
        "nor a run the cutoff stopped: the pattern says nothing of the next run",
        RunFacts("wall_time", -15, abort_line="file not found, using defaults"),
        Decision("TIMEOUT", FAIL, "wall_time limit reached"),
    ),
    (
        "nor a run stopped by hand",
        RunFacts("stop_request", -15, abort_line="no CUDA-capable device is detected"),
        Decision("TIMEOUT", FAIL, "stopped by user", True),
    ),
    (
        "nor a run interrupted by the launch's stop",
        RunFacts("interrupt", -15, abort_line="no CUDA-capable device is detected"),
        Decision("TIMEOUT", FAIL, "interrupted"),
    ),
    (
        "the failure quality is the user's",
        RunFacts(None, 3, failure_quality=1.0),
        Decision("UNSAT", 1.0, "exit code 3"),
    ),
    (
        "runtime objective: a clean exit is a success whatever it printed",
        RunFacts(None, 0, metric=None, runtime_objective=True),
        Decision("SAT", 0.0),
    ),
    (
        "runtime objective: a failed run is CRASHED, never solved",
        RunFacts(None, 2, last_words="segfault", runtime_objective=True),
        Decision("CRASHED", FAIL, "exit code 2: segfault"),
    ),
    (
        "runtime objective: over the memory limit is CRASHED",
        RunFacts("memory", -9, memory_limit=100, runtime_objective=True),
        Decision("CRASHED", FAIL, "memory limit 100 MB exceeded"),
    ),
    (
        "runtime objective: the cutoff is a TIMEOUT",
        RunFacts("wall_time", -15, runtime_objective=True),
        Decision("TIMEOUT", FAIL, "wall_time limit reached"),
    ),
    (
        "runtime objective: the script's own UNSAT is its answer",
        RunFacts(
            None, 0, report_status="UNSAT", report_reason="unsatisfiable", runtime_objective=True
        ),
        Decision("UNSAT", FAIL, "unsatisfiable"),
    ),
    (
        "runtime objective: a failure after a partial report is CRASHED, never solved",
        RunFacts(
            None,
            1,
            report_status="SAT",
            report_quality=0.3,
            report_partial=True,
            last_words="ValueError: nan loss",
            runtime_objective=True,
        ),
        Decision("CRASHED", FAIL, "exit code 1 after a partial result: ValueError: nan loss"),
    ),
    (
        "runtime objective: and so is one over the memory limit after a partial report",
        RunFacts(
            "memory",
            -9,
            report_status="SAT",
            report_quality=0.3,
            report_partial=True,
            memory_limit=100,
            runtime_objective=True,
        ),
        Decision("CRASHED", FAIL, "memory limit 100 MB exceeded"),
    ),
    (
        "runtime objective: the script's own CRASHED stays a failure, never solved",
        RunFacts(None, 0, report_status="CRASHED", report_word="CRASHED", runtime_objective=True),
        Decision("CRASHED", FAIL, "script reported CRASHED (exit code 0)"),
    ),
    (
        "runtime objective: the script's MEMOUT is a failure, never solved",
        RunFacts(None, 0, report_status="UNSAT", report_word="MEMOUT", runtime_objective=True),
        Decision("CRASHED", FAIL, "script reported MEMOUT (out of memory)"),
    ),
    (
        "runtime objective: a failed run matching an abort pattern still aborts",
        RunFacts(None, 1, abort_line="CUDA driver version is insufficient", runtime_objective=True),
        Decision("ABORT", FAIL, "abort pattern matched: CUDA driver version is insufficient"),
    ),
]


@pytest.mark.parametrize(
    ("facts", "expected"), [c[1:] for c in DECISIONS], ids=[c[0] for c in DECISIONS]
)
def test_decide(facts: RunFacts, expected: Decision) -> None:
    assert decide(facts) == expected


def test_values_that_start_with_a_dash_reach_an_argparse_script(tmp_path: Path) -> None:
    """argparse reads `--opt -O2` (a categorical value) and `--shift -1.0E-4` (a Java double)
    as two options and failed every such run; they go as `--opt=-O2`, while a plain negative
    number keeps the classic `--scale -0.5`."""
    script = tmp_path / "train.py"
    script.write_text(
        "import argparse\np = argparse.ArgumentParser()\np.add_argument('--opt')\n"
        "p.add_argument('--shift', type=float)\np.add_argument('--scale', type=float)\n"
        "a = p.parse_args()\nprint(a.shift + a.scale + (0 if a.opt == '-O2' else 10))\n"
    )
    call = ["no_instance", "0", "10.0", "2147483647", "-1"]
    call += ["-opt", "-O2", "-shift", "-1.0E-4", "-scale", "-0.5"]
    cmd = f'"{sys.executable}" "{script}"'
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none", *call]
    run_dir = tmp_path / "run"
    proc = subprocess.run(argv, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    result = one_result(proc.stdout)
    assert (result.status, result.quality) == ("SAT", pytest.approx(-0.5001)), result
    command = json.loads((run_dir / "command.json").read_text())["argv"]
    assert command[2:] == ["--opt=-O2", "--shift=-1.0E-4", "--scale", "-0.5"]
    # SMAC's own pairs for a target that reads them (a solver): as they came
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--prefix=-", "--gpus", "none", *call]
    subprocess.run(argv, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    command = json.loads((run_dir / "command.json").read_text())["argv"]
    assert command[2:] == ["-opt", "-O2", "-shift", "-1.0E-4", "-scale", "-0.5"]
    # a whole-flag rename to a SMAC-style target's own name: still a pair
    renamed = [*argv[: -len(call)], "--rename", "opt=-o", *call]
    subprocess.run(renamed, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    command = json.loads((run_dir / "command.json").read_text())["argv"]
    assert command[2:] == ["-o", "-O2", "-shift", "-1.0E-4", "-scale", "-0.5"]
    # a one-letter flag joins its value as getopt and click read it too: -o-O2, not -o=-O2
    renamed = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none", "--rename", "opt=-o", *call]
    subprocess.run(renamed, env=env_for(run_dir), capture_output=True, text=True, timeout=60)
    assert json.loads((run_dir / "command.json").read_text())["argv"][2] == "-o-O2"


@pytest.mark.parametrize("cutoff", ["0", "0.0", "-5.0", "-Infinity"])
def test_a_cutoff_of_zero_or_less_is_a_timeout_that_never_starts_the_script(
    tmp_path: Path, cutoff: str
) -> None:
    """SMAC 2.10 records such runs as TIMEOUT without running them; the wrapper does not
    start the script only to kill it at once."""
    result, data, run_dir = wrap(tmp_path, "success", cutoff=cutoff)
    assert result.status == "TIMEOUT" and "not run" in str(data["reason"]), result
    assert not (run_dir / "argv.json").exists()


def test_commands_that_cannot_start_say_why(tmp_path: Path) -> None:
    """A script without a shebang line (Exec format error) is named with the error, not
    blamed on the wrapper; a --cmd of blanks is no command (its first flag was run). A #!
    interpreter that /usr/bin/env finds nowhere was UNSAT, every run of the budget alike;
    CRASHED, as for a missing absolute one, lets Java SMAC stop at the first run."""
    script = tmp_path / "train.sh"
    script.write_text("echo 0.5\n")
    script.chmod(0o755)
    lost = tmp_path / "lost.py"  # the kernel says ENOENT, as if the script were missing
    lost.write_text("#!/nonexistent/bin/python3\nprint(0.5)\n")
    lost.chmod(0o755)
    nowhere = tmp_path / "nowhere.py"  # /usr/bin/env runs, finds nothing and exits 127
    nowhere.write_text("#!/usr/bin/env python3-nowhere\nprint(0.5)\n")
    nowhere.chmod(0o755)
    call = ["no_instance", "0", "5.0", "2147483647", "-1", "-x", "1"]
    for cmd, reason in [
        (str(script), f"cannot start '{script}': Exec format error"),
        ("   ", "--cmd is required"),
        (str(lost), "its #! line names '/nonexistent/bin/python3' which does not exist"),
        (str(nowhere), "its #! line names 'python3-nowhere' which is not in PATH"),
    ]:
        argv = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none", *call]
        proc = subprocess.run(argv, env=env_for(tmp_path / "run"), capture_output=True, text=True)
        result = one_result(proc.stdout)
        assert result.status == "CRASHED", result
        assert reason in str(parse_additional(result.additional)["reason"]), result


def test_a_program_or_script_missing_behind_a_launcher_is_crashed(tmp_path: Path) -> None:
    """`env prog`, `nice prog`, `timeout 9 prog` or `python3 trian.py` with a typo: the
    launcher runs and says that what it was to run is missing, which was UNSAT, so Java
    SMAC burnt its whole budget on it; CRASHED lets it stop at the first run. A script that
    exits 127 or 2 with an error of its own is still the configuration's failure."""
    call = ["no_instance", "0", "5.0", "2147483647", "-1", "-x", "1"]
    said = '\\"No such file or directory\\"'  # a quote in --cmd, as SMAC 2.10 splits it
    own = f'"{sys.executable}" -c "import sys; print({said}); sys.exit(%d)"'
    for cmd, status, reason in [
        ("/usr/bin/env nosuch-program", "CRASHED", "cannot start '/usr/bin/env nosuch-program'"),
        ("nice nosuch-program", "CRASHED", "cannot start 'nice nosuch-program': "),
        ("timeout 9 nosuch-program", "CRASHED", "failed to run command"),
        ("bash trian.sh", "CRASHED", "cannot start 'bash trian.sh'"),
        (f'"{sys.executable}" trian.py', "CRASHED", "can't open file"),
        (own % 127, "UNSAT", "exit code 127: No such file or directory"),
        (own % 2, "UNSAT", "exit code 2: No such file or directory"),
    ]:
        argv = [*SMAC_BRIDGE, "wrap", "--cmd", cmd, "--gpus", "none", *call]
        env = env_for(tmp_path / "run")
        proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True)
        result = one_result(proc.stdout)
        assert result.status == status, (cmd, result)
        assert reason in str(parse_additional(result.additional)["reason"]), (cmd, result)


def test_report_on_a_latin1_stdout_keeps_an_extra_it_cannot_print(tmp_path: Path) -> None:
    """report(0.1, note="é€") on a Latin-1 stdout raised UnicodeEncodeError in the script:
    a training that had finished was UNSAT for a reporting detail."""
    script = tmp_path / "train.py"
    script.write_text('from smac_bridge import report\nreport(0.1, note="\\u00e9\\u20ac")\n')
    call = ["no_instance", "0", "5.0", "2147483647", "3"]
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", f'"{sys.executable}" "{script}"', "--gpus", "none"]
    env = env_for(tmp_path / "run", PYTHONIOENCODING="latin-1")
    proc = subprocess.run([*argv, *call], env=env, capture_output=True)
    result = one_result(proc.stdout.decode("latin-1"))
    assert (result.status, result.quality) == ("SAT", 0.1), result
    saved = json.loads((tmp_path / "run" / "result.json").read_text(encoding="utf-8"))
    assert saved["extra"]["note"] == "\u00e9\u20ac"


def test_one_result_line_on_an_ascii_stdout(tmp_path: Path) -> None:
    """A failure message with a byte that is not UTF-8 becomes U+FFFD in the reason; on an
    ASCII stdout (a C locale) the result line raised UnicodeEncodeError and never came out."""
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\nsys.stderr.buffer.write(b'ValueError: Gr\\xf6\\xdfe \\xff\\n')\nsys.exit(1)\n"
    )
    call = ["no_instance", "0", "5.0", "2147483647", "3"]
    argv = [*SMAC_BRIDGE, "wrap", "--cmd", f'"{sys.executable}" "{script}"', "--gpus", "none"]
    env = env_for(tmp_path / "run", PYTHONIOENCODING="ascii")
    proc = subprocess.run([*argv, *call], env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    result = one_result(proc.stdout.decode("ascii"))
    assert (result.status, result.seed) == ("UNSAT", 3)
    assert "ValueError: Gr" in str(parse_additional(result.additional)["reason"])
