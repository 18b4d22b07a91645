"""When one run must stop the whole launch.

SMAC 2.10's rules (docs/compatibility.md): a run that signals ABORT, a first run that CRASHED
(`abort-on-first-run-crash`), and SAT and UNSAT on the same instance
(`check-sat-consistency`) stop everything with exit code 255; with
`check-sat-consistency-exception = false` the discrepancy is only logged, once per instance.

smac-bridge's own: a script that never works. When the first `broken-script-runs` runs of a
launch all failed the same way before reporting anything (the script cannot start, exits
with an error, or prints nothing to read), every further run would fail too: the launch stops
with exit code 1 instead of burning the budget, and shows the command and the script's last
words (say, argparse's "unrecognized arguments"). `broken-script-runs = 0` keeps running.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from smac_bridge.executors import is_cluster_fault
from smac_bridge.protocol import NO_RESULT_LINE
from smac_bridge.records import RunRecord, is_partial, is_solved, over_memory
from smac_bridge.scenario import Scenario

BROKEN = (
    "cannot start",
    "exit code",
    "killed by",
    "no result",
    NO_RESULT_LINE.removeprefix("ERROR: "),
)
"""Reasons that mean the script failed before it reported anything (the last: a classic
target's, which printed no result line)."""


def failure_class(record: RunRecord) -> str | None:
    """How a run failed before reporting anything ("exit code 2", "cannot start"); None for
    a run that succeeded or reported (even a failure, a partial quality or an infeasible
    configuration)."""
    if is_solved(record) or is_partial(record):
        return None
    reason = record.get("reason") or ""
    if not reason.startswith(BROKEN):
        return None
    return reason.split(":", 1)[0].strip()


def broken_script(first_runs: Sequence[RunRecord], needed: int) -> str | None:
    """The common failure of the first NEEDED runs of a launch, when they all failed the
    same way before reporting; None otherwise (or while fewer runs have finished)."""
    if needed <= 0 or len(first_runs) < needed:
        return None
    classes = {failure_class(record) for record in first_runs[:needed]}
    return classes.pop() if len(classes) == 1 else None


class SmacRules:
    """SMAC 2.10's abort rules over the runs a worker ran and knows."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.executed = 0
        self._statuses: dict[str, dict[str, str]] = {}  # instance -> status -> its first run
        self._logged: set[str] = set()

    def seen(self, record: RunRecord) -> None:
        """Note a run of another worker (for the SAT/UNSAT consistency check)."""
        self._statuses.setdefault(record["instance"], {}).setdefault(
            record["status"], record["run_id"]
        )

    def check(self, record: RunRecord) -> Verdict | None:
        """Why this worker's new run must abort the launch, else None. A trial the Dask
        cluster lost never ran the target to its end: it is not the first run."""
        if is_cluster_fault(record.get("reason")):
            return None
        self.executed += 1
        status = record["status"]
        if status == "ABORT":
            return Verdict("the target signalled ABORT", keep_run=False)
        # the safety kill (10 x the cutoff), or over its memory: this configuration's fault
        limited = record["additional"].startswith("Run Exceeded Captime") or over_memory(
            record.get("reason")
        )
        first = self.executed == 1
        if status == "CRASHED" and first and not limited and self.scenario.abort_on_first_run_crash:
            return Verdict(
                "the first run crashed (abort_on_first_run_crash; to record such runs and go"
                " on, --resume with --set abort_on_first_run_crash=false)",
                keep_run=False,
            )
        if self.scenario.check_sat_consistency and status in ("SAT", "UNSAT"):
            other = "UNSAT" if status == "SAT" else "SAT"
            instance = record["instance"]
            earlier = self._statuses.get(instance, {}).get(other)
            if earlier is not None:
                problem = (
                    f"SAT/UNSAT discrepancy on instance {instance}: run {record['run_id']} is"
                    f" {status}, run {earlier} was {other}"
                )
                if self.scenario.run_obj == "quality":  # a solver's UNSAT is a real answer
                    problem += (
                        " (where UNSAT means a failed training, set check-sat-consistency = false)"
                    )
                if self.scenario.options.get("check_sat_consistency_exception", True):
                    return Verdict(problem, keep_run=True)  # a result: recorded, not re-run
                if instance not in self._logged:
                    self._logged.add(instance)
                    print(f"error: {problem}", file=sys.stderr)
        self.seen(record)
        return None


@dataclass(frozen=True)
class Verdict:
    """Why a run aborts the launch, and whether the run is kept: a run whose result is sound
    (one side of a SAT/UNSAT discrepancy) is recorded; an ABORT or a crashed first run is
    not, and a resume runs its slot again."""

    problem: str
    keep_run: bool
