"""`smac_bridge.report()`: how a training script hands its result to SMAC.

It prints the classic result line (so the script also works as a target of plain Java SMAC)
and, under the wrapper, writes `$SMAC_BRIDGE_RUN_DIR/result.json` so that extra values and
partial results survive a timeout, and, for a report with a `step`, appends a point of the
run's learning curve to `progress.jsonl`. Stdlib only: training scripts import it.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import threading
import time

from smac_bridge.layout import (
    RunDir,
    append_line,
    json_default,
    json_text,
    plain_data,
    process_start_ticks,
    write_json_atomic,
)
from smac_bridge.protocol import (
    CRASHED_QUALITY,
    STATUSES,
    RunResult,
    format_additional,
    format_result_line,
)
from smac_bridge.script_env import RUN_DIR_ENV, SEED_ENV


def _process_runtime() -> float:
    """Seconds since this process started (from /proc where available, else since import)."""
    try:
        start_ticks = int(process_start_ticks("self"))
        with open("/proc/uptime", "rb") as uptime:
            now = float(uptime.read().split()[0])
        return max(0.0, now - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()
_WRITING = threading.RLock()
"""One thread's report at a time writes the run's files; reentrant, as a report from a
signal handler (SIGTERM: a partial result) may interrupt one under way in the same thread."""
_REPORTS = itertools.count()
_reported: dict[int, dict[str, object]] = {}
"""The result.json data of reports called, by number; the newest is the one kept."""
_final_made = False
"""Whether a final report was made: the wrapper may not have its line (a closed stdout)."""


_forked_from: frozenset[int] = frozenset()
"""The processes this one is a forked copy of (their pids): it inherited their memory, so the
values their signal handlers report are theirs, as of the fork."""


def _forget_other_threads() -> None:
    """In a forked child (a data loader's worker): a thread of the parent that was reporting
    held _WRITING, and does not exist here to let it go."""
    global _WRITING, _forked_from
    _WRITING = threading.RLock()
    _reported.clear()
    _forked_from = _forked_from | {os.getppid()}


def _copy_of_the_reporter(run_dir: RunDir) -> int | None:
    """The pid of the process whose report result.json holds, where this process is a forked
    copy of it. A data loader's worker inherits the script's SIGTERM handler and the values it
    reports as they were at the fork: on a stop, its stale partial report replaced the
    script's. (A final report counts from any process: training in a forked child.)"""
    if not _forked_from:
        return None
    try:
        with open(run_dir.result, "rb") as file:
            writer = json.load(file).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return writer if writer in _forked_from else None


os.register_at_fork(after_in_child=_forget_other_threads)


def report(
    quality: float | None = None,
    status: str = "SAT",
    *,
    partial: bool = False,
    step: float | None = None,
    **extra: object,
) -> None:
    """Report this run's quality (lower is better) and any extra values, e.g. test_error=0.04.

    Call it again to replace an earlier report (under the wrapper: Java SMAC running the
    script itself reads one result line, and a second final report prints a second);
    `partial=True` marks an intermediate result (say, after each epoch), which the wrapper
    uses if the run is stopped before it ends, and which never replaces a final report.
    A partial report only writes result.json: SMAC 2.10 aborts on a second result line, so
    only the final report prints one. A status other than SAT may come without a quality
    (UNSAT: infeasible, ABORT: stop SMAC).

    With `step` (say, the epoch), the quality is also one point of the run's learning curve:
    `{"step", "quality", "time", **extra}` is appended to `progress.jsonl` in the run
    directory, where the dashboard draws it (a non-finite quality is written as null).
    """
    status = status.upper()
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if quality is not None:
        quality = _quality_number(quality)
    if status == "SAT" and quality is None:
        raise ValueError("report(): status SAT needs a quality")
    if step is not None and quality is None:
        raise ValueError("report(): a step needs a quality")
    if step is not None:
        step = _step_number(step)
    seed_text = os.environ.get(SEED_ENV, "")
    seed = int(seed_text) if seed_text.lstrip("-").isdigit() else -1
    line_quality = quality if quality is not None and math.isfinite(quality) else CRASHED_QUALITY
    line_status, line_extra = status, extra
    if quality is not None and not math.isfinite(quality):  # a failed training says why
        line_status, line_extra = "UNSAT", {**extra, "reason": f"quality is {quality}"}
    line = format_result_line(
        RunResult(
            line_status,
            round(_process_runtime(), 3),
            0,
            line_quality,
            seed,
            format_additional(line_extra),
        )
    )
    global _final_made
    run_dir = os.environ.get(RUN_DIR_ENV)
    reporter = _copy_of_the_reporter(RunDir(run_dir)) if run_dir and partial else None
    if reporter is not None:
        _say(
            f"smac_bridge.report() in process {os.getpid()}, a forked copy of process"
            f" {reporter}, which reported: left out, as that process's report stands"
        )
        return
    if not partial:
        _print_line(line)
    if run_dir:
        data = {"status": status, "quality": quality, "extra": extra, "partial": partial}
        data["pid"] = os.getpid()  # whose report it is: _copy_of_the_reporter
        with _WRITING:
            try:
                # The curve's point first: a pruning rule's SIGTERM between the two writes
                # (a script without a handler ends at once) leaves a result of an earlier
                # point, while the other order left a result of a step the curve lacks, and
                # the budget-limit charges what the curve shows trained.
                if step is not None and quality is not None:
                    _append_point(RunDir(run_dir), step, quality, extra)
                if not (partial and _final_made):  # a partial never replaces a final report
                    _keep_newest(RunDir(run_dir), plain_data(data))
                _final_made = _final_made or not partial
            except OSError as error:
                # a full or read-only disk must not end the training: the final report's line
                # on stdout still carries the result, and the wrapper says what was lost
                _say(f"smac_bridge.report(): not written: {error}")


def _quality_number(quality: object) -> float:
    """QUALITY as a float. A bool (numpy's too, known by its type's name: `bool`, `bool_` in
    numpy 1; no numpy import here) is a comparison reported by mistake, not a quality of 1 or
    0; an integer too large for a float is refused with the reason, not an OverflowError."""
    if type(quality).__name__ in ("bool", "bool_"):
        raise ValueError(f"report(): quality must be a number, got {quality!r}")
    try:
        return float(quality)  # type: ignore[arg-type]
    except OverflowError:
        raise ValueError(f"report(): quality {quality} is too large for a float") from None


def _step_number(step: object) -> float:
    """STEP as a number (a tensor's or numpy's value too): the learning curve's readers skip
    a point whose step is none."""
    plain = step if isinstance(step, int | float) else json_default(step)
    if not isinstance(plain, int | float) and not isinstance(step, str):
        try:  # a Decimal, a Fraction
            plain = float(step)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    if isinstance(plain, bool) or not isinstance(plain, int | float) or not math.isfinite(plain):
        raise ValueError(f"report(): step must be a finite number, got {step!r}")
    return plain


def _print_line(line: str) -> None:
    """Print the result line. A stdout that cannot take it (closed, or without a character of
    it) does not fail a training: under the wrapper, result.json holds the report too."""
    try:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        print(line.encode(encoding, "backslashreplace").decode(encoding), flush=True)
    except (OSError, ValueError) as error:  # ValueError: a closed file
        _say(f"smac_bridge.report(): no result line printed: {error}")


def _say(message: str) -> None:
    """MESSAGE on stderr, where the run's log keeps it; a closed stderr does not fail training."""
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _keep_newest(run_dir: RunDir, data: dict[str, object]) -> None:
    """Write DATA as result.json; should a report in a signal handler land meanwhile, write
    that newer one again, which this write's rename would otherwise have replaced. (Each
    report's own number and entry; a handler's report may drop older entries at any step
    here, and then its own, newer one is there to write.)"""
    path = run_dir.result
    _reported[next(_REPORTS)] = data
    while True:
        newest = max(_reported)
        chosen = _reported.get(newest)
        if chosen is None:  # dropped by a handler's newer report since
            continue
        write_json_atomic(path, chosen)
        if max(_reported) == newest:
            for number in [n for n in list(_reported) if n < newest]:
                _reported.pop(number, None)
            return


def _append_point(run_dir: RunDir, step: float, quality: float, extra: dict[str, object]) -> None:
    """One line of progress.jsonl; its own fields win over extra values of the same name, so
    that every line can be read the same way. A NaN or infinity, the quality's or an extra
    value's, is written as null: standard JSON, which jq and the dashboard read."""
    point: dict[str, object] = {"step": step, "quality": quality, "time": time.time()}
    point.update((key, value) for key, value in extra.items() if key not in point)
    line = json_text(plain_data(point)) + "\n"
    append_line(run_dir.progress, line.encode("utf-8"))
