"""A run's verdict: the rules (docs/wrappers.md's, in order) that turn what a run left,
`RunFacts`, into its status, quality and reason. Pure, so that each rule can be tested
without running a script.
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from typing import cast

from smac_bridge.protocol import CRASHED_QUALITY, RESULT_PREFIX, STATUS_NOTES, Status


@dataclass(frozen=True)
class RunFacts:
    """What one run left, as `decide` needs it: how the supervisor ended it, what the script
    reported (a result line or `smac_bridge.report()`), and what its output says."""

    stopped_by: str | None  # the supervisor's: wall_time, cpu_time, interrupt, stop_request, memory
    exit_code: int | None
    stop_note: str = ""  # why a stop was requested: "" by a user, "pruned: ..." by a rule
    report_status: str | None = None  # the script's own report, if it made one
    report_quality: float | None = None
    report_word: str | None = None  # the status word as written (MEMOUT stays MEMOUT)
    report_error: str | None = None  # an unreadable result line
    report_reason: str | None = None  # report(None, "UNSAT", reason=...)
    report_partial: bool = False  # the last report was partial: the training had not finished
    final_before_limit: bool = False  # that report, final, came before a time limit's stop
    metric: float | None = None  # --metric, or the number ending the last line
    metric_option: str | None = None
    # what --metric captured in its last match, or else the last word of stdout
    metric_text: str | None = None
    near_result_line: str | None = None  # the last line, a result line SMAC does not read
    last_words: str = ""  # the last error line, or else the last line of output
    abort_line: str | None = None  # the first line matching an --abort-pattern
    failure_quality: float = CRASHED_QUALITY
    memory_limit: float | None = None
    runtime_objective: bool = False  # --runtime-objective
    result_on_stderr: bool = False  # a result line the script printed on stderr, not read


@dataclass(frozen=True)
class Decision:
    """The result the wrapper reports for a run."""

    status: Status
    quality: float
    reason: str = ""
    by_user: bool = False


def decide(facts: RunFacts) -> Decision:
    """What a run's facts mean (docs/wrappers.md has the rules, in this order).

    A script that ends with exit code 0 after partial reports only finished: the number it
    ended with (--metric, the last line) is its result, else its last partial report.
    A stopped run keeps the good partial quality it reported, or else its last `--metric`
    match (TIMEOUT, or SAT when the stop, a user's, a pruning rule's or a time limit's,
    landed after its final report); a run over its memory, a failed report, a script that
    exited with an error (also after a partial report: its training did not finish) or
    printed no number are UNSAT with the failure quality; a matching abort pattern turns a
    failure of the run's own into ABORT (not a stop: a timed-out, stopped or pruned run says
    nothing of the next). With --runtime-objective a script that exits 0 is SAT (quality 0)
    and the failures decided here are CRASHED, as a runtime scenario needs.
    """
    failure = facts.failure_quality
    quality = facts.report_quality
    finite = quality is not None and math.isfinite(quality)
    good = facts.report_status == "SAT" and finite
    # a TIMEOUT line printed on SIGTERM holds the quality reached, as a SAT one does
    kept = finite and facts.report_status in ("SAT", "TIMEOUT")
    partial = quality if kept and quality is not None else failure
    stopped = facts.stopped_by
    reached = partial  # of a stopped run: also its last --metric match (an epoch's, say)
    metric = facts.metric
    if not kept and facts.metric_option and metric is not None and math.isfinite(metric):
        reached = metric
    decision = Decision("UNSAT", failure)
    finished_first = good and facts.final_before_limit and not facts.runtime_objective
    if stopped in ("wall_time", "cpu_time") and finished_first:
        # trained and reported, then hung at its exit (a thread, a logger's upload): finished;
        # with runtime as the objective the cutoff is what it cost, a TIMEOUT
        decision = Decision("SAT", partial, f"{stopped} limit reached after its final report")
    elif stopped in ("wall_time", "cpu_time", "interrupt"):
        reason = "interrupted" if stopped == "interrupt" else f"{stopped} limit reached"
        decision = Decision("TIMEOUT", reached, reason)
    elif stopped == "stop_request":  # unfinished unless its final report came before the stop
        finished = good and not facts.report_partial
        status: Status = "SAT" if finished else "TIMEOUT"
        if facts.stop_note.startswith("pruned"):  # a pruning rule's: no reason once finished
            decision = Decision(status, reached, "" if finished else facts.stop_note)
        else:
            decision = Decision(status, reached, "stopped by user", True)
    elif stopped == "memory":
        limit = f"{facts.memory_limit:g} MB " if facts.memory_limit is not None else ""
        decision = Decision("UNSAT", failure, f"memory limit {limit}exceeded")
    elif facts.report_error is not None:
        decision = Decision("UNSAT", failure, facts.report_error)
    elif facts.report_partial and facts.exit_code != 0:  # crashed in the middle of training
        reason = f"{_exit_text(facts.exit_code)} after a partial result"
        if facts.last_words:
            reason += f": {facts.last_words[:200]}"
        decision = Decision("UNSAT", failure, reason)
    elif facts.report_partial and facts.report_status == "TIMEOUT":
        # stopped by its own account (a SIGTERM from elsewhere): what it printed after, such
        # as Keras's training loss, is no result
        decision = _reported(facts, good, partial)
    elif facts.report_partial and facts.metric is not None:
        # a partial report is no final one: the number the script ended with is its result
        decision = _from_metric(facts)
    elif facts.report_status is not None:
        decision = _reported(facts, good, partial)
    elif facts.exit_code != 0:
        reason = _exit_text(facts.exit_code)
        if facts.last_words:
            reason += f": {facts.last_words[:200]}"
        decision = Decision("UNSAT", failure, reason)
    elif facts.runtime_objective:
        decision = Decision("SAT", 0.0)  # it ran to its end: its runtime is its cost
    elif facts.metric is None:
        captured = (facts.metric_text or "")[:60]
        shown = " (a comma in it shows as a blank)" if "," in captured else ""
        if facts.near_result_line is not None:
            what = (
                f"the last line looks like a result line that SMAC does not read"
                f" ({facts.near_result_line[:80]!r}): write it as '{RESULT_PREFIX} <status>,"
                " <runtime>, <runlength>, <quality>, <seed>'"
            )
        elif not facts.metric_option:
            what = "no result line or report() and no number on the last output line"
            if captured:  # `0,5`, `done.`: what it read there
                what += f", which ends with {captured!r}{shown}"
        elif facts.metric_text is None:
            what = f"--metric '{facts.metric_option}' did not match"
        else:  # `val_acc: (\S+)` on `val_acc: 0.98, val_loss: 0.07` took the comma along
            what = (
                f"--metric '{facts.metric_option}' captured {captured!r}{shown} and that is no"
                " number: let its group capture the number alone, as ([-+.\\w]+)"
            )
        if facts.result_on_stderr:  # Python's logging writes to stderr unless told otherwise
            what += "; a result line on stderr is not read: print it on stdout"
        decision = Decision("UNSAT", failure, f"no result: {what}")
    else:
        decision = _from_metric(facts)
    failed_by_itself = stopped not in ("wall_time", "cpu_time", "interrupt", "stop_request")
    if decision.status != "SAT" and failed_by_itself and facts.abort_line is not None:
        reason = f"abort pattern matched: {facts.abort_line[:200]}"
        return Decision("ABORT", decision.quality, reason, decision.by_user)
    answered_unsat = facts.report_status == "UNSAT" and not facts.report_partial
    if facts.runtime_objective and decision.status == "UNSAT" and not answered_unsat:
        # a runtime scenario counts UNSAT as solved (SMAC 2.10: the instance is unsatisfiable):
        # only the script's own final UNSAT is one, not a failure after a partial report
        return Decision("CRASHED", decision.quality, decision.reason, decision.by_user)
    return decision


def _from_metric(facts: RunFacts) -> Decision:
    """The decision for a run that ended with exit code 0 and a `--metric` match or a
    number ending its last line."""
    assert facts.metric is not None
    if not math.isfinite(facts.metric):
        return Decision("UNSAT", facts.failure_quality, f"quality is {facts.metric}")
    return Decision("SAT", facts.metric)


def _reported(facts: RunFacts, good: bool, partial: float) -> Decision:
    """The decision for a run that finished and reported through a line or report()."""
    status, quality = facts.report_status, facts.report_quality
    if status == "SAT":
        if good:
            return Decision("SAT", partial)
        return Decision("UNSAT", partial, facts.report_reason or f"quality is {quality}")
    if status == "TIMEOUT" and quality is not None and math.isfinite(quality):
        # out of time by its own account, with the quality reached: a partial result, as a
        # line printed on SIGTERM is (SMAC 2.10 uses a reported quality for every status)
        return Decision("TIMEOUT", quality, facts.report_reason or "script reported TIMEOUT")
    if status == "CRASHED":  # the script's crash is a failed training, not a wrapper fault
        reason = f"script reported CRASHED ({_exit_text(facts.exit_code)})"
    elif facts.report_word in STATUS_NOTES:  # MEMOUT is stored as UNSAT; the reason says why
        reason = f"script reported {facts.report_word} ({STATUS_NOTES[facts.report_word]})"
    else:
        reason = f"script reported {status}"
    if facts.runtime_objective and (status == "CRASHED" or facts.report_word == "MEMOUT"):
        # a runtime scenario would count UNSAT as solved; a failed run costs PAR-k
        return Decision("CRASHED", partial, facts.report_reason or reason)
    final = "UNSAT" if status == "CRASHED" else cast(Status, status)
    return Decision(final, partial, facts.report_reason or reason)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
