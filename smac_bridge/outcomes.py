"""What a run record says at a glance: a quality, a partial quality, or none, and why.

A run stopped at its cutoff or by `smac-bridge stop` may carry the quality its script reported
so far; a failed run carries the wrapper's failure quality, which is no quality at all but a
number large enough to keep SMAC away. Plots and the report must tell these apart, so the
rules live here, once, on plain run records (docs/architecture.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from smac_bridge.protocol import CRASHED_QUALITY, NEGATED_METRIC, parse_additional
from smac_bridge.records import RunRecord, is_partial, is_solved, same_config

Kind = Literal["ok", "partial", "failed"]

#: SMAC 2.10's crashed quality, which classic wrappers print for a failed run: no quality,
#: whatever the wrapper was told. A larger one a script reports (a squared error in raw units)
#: is a quality.
NO_QUALITY = CRASHED_QUALITY
#: Statuses of runs that ended without any quality of their own.
FAILED_STATUSES = ("UNSAT", "CRASHED", "ABORT")


def reason(record: RunRecord) -> str | None:
    """Why a run failed or was stopped: the record's `reason`, else the `reason=` (or, for a
    failed run, the free text) of its additional data, which older records only have."""
    if record.get("reason"):
        return str(record["reason"])
    data = parse_additional(str(record.get("additional") or ""))
    found = data.get("reason") or (data.get("info") if record.get("status") != "SAT" else None)
    return str(found) if found else None


def is_pruned(record: RunRecord | None) -> bool:
    """Whether a pruning rule stopped the run (its reason says so): no failure of the run."""
    return bool(record and (record.get("reason") or "").startswith("pruned"))


def status_label(record: RunRecord) -> str:
    """The status as tables show it: stopped by a user, pruned by a rule, or promoted from a
    smaller budget (multi-fidelity) is said next to it."""
    label = str(record.get("status", ""))
    if record.get("stopped_by_user"):
        label += " (stopped)"
    elif is_pruned(record):
        label += " (pruned)"
    if record.get("promoted_from"):
        label += f" (promoted from {record['promoted_from']})"
    return label


def failure_quality(records: Iterable[RunRecord], configured: float | None = None) -> float:
    """The quality that means "no quality" in these runs.

    CONFIGURED (the wrapper's `--failure-quality`, read from the scenario) when known; else the
    quality most outright failures (UNSAT, CRASHED, ABORT) share other than 1e9, which is what
    the wrapper gave them; else SMAC's 1e9.
    """
    if configured is not None:
        return configured
    return most_common_failure(failed_qualities(records))


def failed_qualities(records: Iterable[RunRecord]) -> Counter[float]:
    """How many outright failures of RECORDS had each quality other than 1e9 (a launch counts
    them as runs come in, for `failure_quality`'s guess); a worker's copy of another's run
    (`reused_from`) is none of its own."""
    return Counter(
        float(r["quality"])
        for r in records
        if r.get("status") in FAILED_STATUSES
        and not r.get("reused_from")
        and is_finite_number(r.get("quality"))
        and r["quality"] != NO_QUALITY
    )


def most_common_failure(counted: Counter[float]) -> float:
    """`failure_quality`'s guess from the COUNTED qualities of failed runs."""
    return counted.most_common(1)[0][0] if counted else NO_QUALITY


def kind(record: RunRecord, failure: float) -> Kind:
    """ "ok" for a finished run with a quality (also one whose stop came after its final
    report: SAT), or a runtime objective's solve (an UNSAT one too: an unsatisfiable instance
    solved, whose cost is its result); "partial" for a timed-out or stopped run whose quality
    is what its script reported before the stop (flagged `partial`, or any quality that is
    not FAILURE); "failed" for everything else."""
    quality = record.get("quality")
    real = is_quality(quality)
    flagged = is_partial(record)
    unfinished = record.get("stopped_by_user") and (flagged or not is_solved(record))
    if record.get("status") == "TIMEOUT" or unfinished:
        return "partial" if real and (flagged or float(quality) != failure) else "failed"
    solved_by_its_time = record.get("status") == "UNSAT"  # solved: a runtime objective's
    return "ok" if is_solved(record) and (real or solved_by_its_time) else "failed"


def shown_quality(record: RunRecord, failure: float) -> float | None:
    """The number to draw for a run: what SMAC minimised (`cost`) for a finished run, the
    quality reached so far for a partial one, None for a failed one."""
    found = kind(record, failure)
    if found == "failed":
        return None
    value = record.get("cost", record.get("quality")) if found == "ok" else record.get("quality")
    return float(value)


def is_error_rate(records: Iterable[RunRecord], failure: float) -> bool:
    """Whether the qualities read as error rates: the failure quality and every quality shown
    lie in [0, 1]. A user who sets `--failure-quality 1.0` says so, as the MNIST scenarios do."""
    shown = [shown_quality(r, failure) for r in records]
    values = [v for v in shown if v is not None]
    return 0 <= failure <= 1 and bool(values) and all(0 <= v <= 1 for v in values)


def run_of_config(
    records: Iterable[RunRecord], config: dict[str, Any], failure: float
) -> RunRecord | None:
    """The run that evaluated CONFIG at the highest budget it reached (multi-fidelity: its
    1-epoch run is no match for a best run trained 27): its first finished run, else its
    first run; None if no run did."""
    matching = runs_of_config(records, config)
    finished = [r for r in matching if kind(r, failure) == "ok"]
    found = finished or matching
    return found[0] if found else None


def runs_of_config(records: Iterable[RunRecord], config: dict[str, Any]) -> list[RunRecord]:
    """The runs of CONFIG at the highest budget it reached, on each seed or instance."""
    matching = [r for r in records if same_config(r.get("config") or {}, config)]
    top = max((float(r.get("budget") or 0) for r in matching), default=0.0)
    return [r for r in matching if float(r.get("budget") or 0) == top]


def on_several_pairs(runs: Iterable[RunRecord]) -> bool:
    """Whether RUNS ran on more than one (instance, seed) pair: a configuration's cost is then
    its mean over them, as the incumbent rule ranks it, not any one run's."""
    return len({(r.get("instance"), r.get("seed")) for r in runs}) > 1


def negated_metric(records: Iterable[RunRecord]) -> bool:
    """Whether the qualities of RECORDS are minus the script's metric (the wrapper's
    --maximize, which a script's own result line or report() does not go through)."""
    return any((record.get("extra") or {}).get(NEGATED_METRIC) for record in records)


def quality_name(negated: bool) -> str:
    """What the views call a run's quality: under the wrapper's --maximize (NEGATED), minus
    the script's metric, as an accuracy of 0.99 shows as -0.99."""
    return "quality (−metric)" if negated else "quality"


def is_quality(x: Any) -> bool:
    """Whether a run's quality X is one: a finite number, not the 1e9 that means none."""
    return is_finite_number(x) and float(x) != NO_QUALITY


def is_finite_number(x: Any) -> bool:
    """A finite int or float from JSON, not a bool."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
