"""The one incumbent rule: which configuration a launch found best, and its best run.

Every view (the launcher's summary and live view, `status`, `best`, `results`, `plot`, the
report, a worker's trajectory and heartbeat) asks this module, so they always name the same
run. The rule:

- only configurations with at least one solved run (SAT; UNSAT too in a runtime scenario)
  whose quality is a finite number (for SAT, not SMAC's crash quality 1e9) qualify: a
  timed-out, stopped or failed run may show a better partial quality, but it did not finish;
- among them, only those run on the most (instance, seed) pairs compete, as in SMAC's racing,
  where a challenger replaces the incumbent only once it ran on the incumbent's instances and
  seeds: one lucky run on an easy instance (or fold) does not outrank a mean over several;
- of those, the lowest mean cost over all of the configuration's runs wins (one run each
  for a deterministic scenario; several seeds or instances otherwise, failures included;
  a run stopped with a partial quality counts no better than the configuration's worst
  finished run, so that it cannot make its configuration look better than it finished; a
  mean summed exactly, so that the order of the runs cannot break a tie); ties go to the
  configuration that ran first;
- its best run is its solved run with the lowest cost (ties: the lower run id);
- with multi-fidelity budgets, only runs at the highest budget any solved run reached compete
  (a quality after one epoch is no match for one after nine).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from smac_bridge.protocol import CRASHED_QUALITY
from smac_bridge.records import (
    Incumbent,
    RunRecord,
    config_key,
    finite_or,
    is_partial,
    is_solved,
)


def _finished(record: RunRecord) -> bool:
    """Solved with a quality: a SAT run's quality of exactly SMAC's crash quality (1e9) is the
    failure a classic target printed, "no quality" in every table (outcomes.kind), not a
    result that may make its configuration the incumbent."""
    if not is_solved(record) or not math.isfinite(quality := record["quality"]):
        return False
    return not (record.get("status") == "SAT" and quality == CRASHED_QUALITY)


def _stopped_early(record: RunRecord) -> bool:
    """A run stopped before it finished (the cutoff, a user's stop, a pruning rule: TIMEOUT),
    whose cost may be a quality reported before the stop: flagged partial, or any quality a
    classic line gave its TIMEOUT, as the tables show it ("partial") and SMAC3 is told it."""
    return not is_solved(record) and (is_partial(record) or record.get("status") == "TIMEOUT")


def _cost(record: RunRecord) -> float:
    return finite_or(float(record["cost"]), math.inf)


def incumbent(records: Iterable[RunRecord]) -> Incumbent | None:
    """The incumbent of RECORDS (reused records are no runs and are skipped); None before any
    run succeeded."""
    runs: dict[str, list[RunRecord]] = {}
    counted = [record for record in records if not record.get("reused_from")]
    budgets = [float(r["budget"] or 0) for r in counted if _finished(r) and r.get("budget")]
    for record in counted:
        if budgets and float(record.get("budget") or 0) != max(budgets):
            continue
        runs.setdefault(config_key(record["config"]), []).append(record)
    best: tuple[tuple[int, float, str], list[RunRecord]] | None = None
    for group in runs.values():
        rank = _rank(group)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, group)
    return None if best is None else _incumbent_of(best[1], best[0][1])


def _rank(group: list[RunRecord]) -> tuple[int, float, str] | None:
    """How one configuration's runs GROUP compete: (minus its (instance, seed) pairs, its mean
    cost, its first run id), lowest best; None when none of them finished."""
    finished = [r for r in group if _finished(r)]
    if not finished:
        return None
    pairs = len({(r.get("instance"), r.get("seed")) for r in group})
    worst = max(_cost(r) for r in finished)
    total = math.fsum(max(_cost(r), worst) if _stopped_early(r) else _cost(r) for r in group)
    return -pairs, total / len(group), min(r["run_id"] for r in group)


def _incumbent_of(group: list[RunRecord], mean: float) -> Incumbent:
    top = min((r for r in group if _finished(r)), key=lambda r: (float(r["cost"]), r["run_id"]))
    return Incumbent(
        config=dict(top["config"]),
        cost=mean,
        run_id=top["run_id"],
        run_ids=sorted(r["run_id"] for r in group),
    )


def best_run(records: Iterable[RunRecord]) -> RunRecord | None:
    """The incumbent's best run (the record `best` shows and `best --copy-to` copies)."""
    found = incumbent_and_best_run(records)
    return None if found is None else found[1]


def incumbent_and_best_run(records: Iterable[RunRecord]) -> tuple[Incumbent, RunRecord] | None:
    """The incumbent and its best run, for a view that shows both (one pass over RECORDS)."""
    records = list(records)
    found = incumbent(records)
    if found is None:
        return None
    top = next(r for r in records if r["run_id"] == found["run_id"] and not r.get("reused_from"))
    return found, top


@dataclass
class _Candidate:
    """One configuration's runs at one budget, summed up as `incumbent` compares them."""

    runs: int = 0
    first: str = ""  # its lowest run id
    pairs: set[tuple[Any, Any]] = field(default_factory=set)
    costs: list[float] = field(default_factory=list)  # of its runs but those stopped early
    partial_costs: list[float] = field(default_factory=list)  # of those, capped at `worst`
    worst: float = -math.inf  # its worst finished cost
    top: RunRecord | None = None  # its best solved run
    records: list[RunRecord] = field(default_factory=list)

    def add(self, record: RunRecord) -> None:
        self.records.append(record)
        self.runs += 1
        self.first = min(self.first or record["run_id"], record["run_id"])
        self.pairs.add((record.get("instance"), record.get("seed")))
        if _stopped_early(record):
            self.partial_costs.append(_cost(record))
        else:
            self.costs.append(_cost(record))
        if _finished(record):
            self.worst = max(self.worst, _cost(record))
        if _finished(record) and (
            self.top is None
            or (float(record["cost"]), record["run_id"])
            < (float(self.top["cost"]), self.top["run_id"])
        ):
            self.top = record

    def rank(self) -> tuple[int, float, str]:
        capped = [max(cost, self.worst) for cost in self.partial_costs]
        total = math.fsum(self.costs + capped)  # exact: the order runs ended in cannot matter
        return (-len(self.pairs), total / self.runs, self.first)


class BestRunSoFar:
    """The incumbent's best run after each record added in turn, as `best_run` of the records
    so far gives it, without reading them all again: a curve of the best quality over 2000
    runs took minutes that way. Each record updates its configuration's sums at its budget."""

    def __init__(self) -> None:
        # level None holds every run; a budget level the runs at that budget (0: none)
        self._levels: dict[float | None, dict[str, _Candidate]] = {None: {}}
        self._best: dict[float | None, str | None] = {None: None}
        self._top_budget: float | None = None

    def add(self, record: RunRecord) -> None:
        if record.get("reused_from"):
            return
        budget = float(record.get("budget") or 0)
        if _finished(record) and record.get("budget"):
            self._top_budget = max(budget, self._top_budget or budget)
        key = config_key(record["config"])
        for level in (None, budget):
            candidates = self._levels.setdefault(level, {})
            candidate = candidates.setdefault(key, _Candidate())
            candidate.add(record)
            self._rank(level, key)

    def _rank(self, level: float | None, changed: str) -> None:
        """Keep LEVEL's best configuration: a change to the best one itself may demote it."""
        candidates, best = self._levels[level], self._best.get(level)
        if best == changed:
            qualified = [(c.rank(), k) for k, c in candidates.items() if c.top is not None]
            self._best[level] = min(qualified)[1] if qualified else None
        elif candidates[changed].top is not None and (
            best is None or candidates[changed].rank() < candidates[best].rank()
        ):
            self._best[level] = changed

    def incumbent(self) -> Incumbent | None:
        """`incumbent` of the records added so far, from its configuration's runs alone: a
        worker's trajectory row after each run took all of them again, 37 ms at 4000 runs."""
        best = self._best.get(self._top_budget)
        if best is None:
            return None
        group = self._levels[self._top_budget][best].records
        rank = _rank(group)
        assert rank is not None  # the best has a finished run
        return _incumbent_of(group, rank[1])

    def best_run(self) -> RunRecord | None:
        """The incumbent's best run of the records added so far; None before any success."""
        level = self._top_budget
        best = self._best.get(level)
        return None if best is None else self._levels[level][best].top
