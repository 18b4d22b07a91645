"""The one incumbent rule: which configuration a launch found best, and its best run.

Every view (the launcher's summary and live view, `status`, `best`, `results`, `plot`, the
report, a worker's trajectory and heartbeat) asks this module, so they always name the same
run. The rule:

- only configurations with at least one solved run (SAT; UNSAT too in a runtime scenario)
  whose quality is a finite number (for SAT, not SMAC's crash quality 1e9) qualify: a
  timed-out, stopped or failed run may show a better partial quality, but it did not finish;
- a configuration whose (instance, seed) pairs are all among those of another qualifying one,
  which ran on more, has not finished its race and does not compete, as in SMAC's racing, where a
  challenger replaces the incumbent only once it ran on the incumbent's instances and seeds:
  one lucky run on an easy instance (or fold) does not outrank a mean over several. Runs on
  pairs of their own (a design's rows, each with its seed) are no race: a row repeated twice
  at 4.0 outranked a row run once at 1.0 while the rule was "the most pairs first";
- of those that compete, the lowest mean cost over all of the configuration's runs wins (one
  run each for a deterministic scenario; several seeds or instances otherwise, failures included;
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
from collections.abc import Iterable, Sequence
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
    run_order,
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
    classic line gave its TIMEOUT, as the tables show it ("partial") and SMAC3 is told it.
    Under a runtime objective a TIMEOUT's cost is the penalty of the cutoff (PAR-k), as is."""
    if record.get("run_obj") == "runtime":
        return False
    return not is_solved(record) and (is_partial(record) or record.get("status") == "TIMEOUT")


def _cost(record: RunRecord) -> float:
    return finite_or(float(record["cost"]), math.inf)


Pair = tuple[Any, Any]
"""An (instance, seed) pair a run ran on."""


def _pairs(runs: Iterable[RunRecord]) -> frozenset[Pair]:
    return frozenset((r.get("instance"), r.get("seed")) for r in runs)


class _PairSets:
    """The distinct (instance, seed) pair sets of the configurations that qualify (a finished
    run each), the configurations of each, and for each pair the sets that hold it: whether a
    set is outraced is then looked up among the sets of its rarest pair, not all of them."""

    def __init__(self) -> None:
        self.members: dict[frozenset[Pair], set[str]] = {}
        self._holding: dict[Pair, set[frozenset[Pair]]] = {}

    def add(self, pairs: frozenset[Pair], key: str) -> None:
        if pairs not in self.members:
            self.members[pairs] = set()
            for pair in pairs:
                self._holding.setdefault(pair, set()).add(pairs)
        self.members[pairs].add(key)

    def remove(self, pairs: frozenset[Pair], key: str) -> None:
        self.members[pairs].discard(key)
        if not self.members[pairs]:
            del self.members[pairs]
            for pair in pairs:
                self._holding[pair].discard(pairs)

    def within(self, pairs: frozenset[Pair]) -> set[frozenset[Pair]]:
        """The sets whose pairs are all among PAIRS, and fewer."""
        return {other for pair in pairs for other in self._holding[pair] if other < pairs}

    def outraced(self, pairs: frozenset[Pair]) -> bool:
        """Whether another configuration ran on every pair of PAIRS and on more."""
        rarest = min(pairs, key=lambda pair: len(self._holding[pair]))
        return any(len(other) > len(pairs) and pairs < other for other in self._holding[rarest])


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
    qualified = {key: group for key, group in runs.items() if any(map(_finished, group))}
    racing = _PairSets()
    for key, group in qualified.items():
        racing.add(_pairs(group), key)
    best: tuple[tuple[float, tuple[int, str]], list[RunRecord]] | None = None
    for group in qualified.values():
        if racing.outraced(_pairs(group)):
            continue
        rank = _rank(group)
        if best is None or rank < best[0]:
            best = (rank, group)
    return None if best is None else _incumbent_of(best[1], best[0][0])


def _rank(group: list[RunRecord]) -> tuple[float, tuple[int, str]]:
    """How one qualified configuration's runs GROUP compete: (its mean cost, its first run
    id), lowest best."""
    mean = mean_cost(group)
    assert mean is not None, "a qualified configuration has a finished run"
    return mean, min(run_order(r["run_id"]) for r in group)


def mean_cost(runs: Sequence[RunRecord]) -> float | None:
    """A configuration's cost as this rule counts it, over RUNS (its runs at one budget);
    None while none of them finished. The views compare the default configuration with the
    incumbent so: its first run alone, on an easy instance, looked 90 % worse than itself."""
    if not any(map(_finished, runs)):
        return None
    worst = max(_cost(r) for r in runs if _finished(r))
    return _mean([max(_cost(r), worst) if _stopped_early(r) else _cost(r) for r in runs])


def _mean(costs: list[float]) -> float:
    """The mean of COSTS, exact whatever order the runs ended in (math.fsum); costs near the
    largest float (a diverged training's 1e308, twice) overflow their sum: divided first."""
    try:
        return math.fsum(costs) / len(costs)
    except OverflowError:
        return math.fsum(cost / len(costs) for cost in costs)


def _incumbent_of(group: list[RunRecord], mean: float) -> Incumbent:
    top = min(
        (r for r in group if _finished(r)), key=lambda r: (float(r["cost"]), run_order(r["run_id"]))
    )
    return Incumbent(
        config=dict(top["config"]),
        cost=mean,
        run_id=top["run_id"],
        run_ids=sorted((r["run_id"] for r in group), key=run_order),
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

    first: str = ""  # its lowest run id
    pairs: frozenset[Pair] = frozenset()
    costs: list[float] = field(default_factory=list)  # of its runs but those stopped early
    partial_costs: list[float] = field(default_factory=list)  # of those, capped at `worst`
    worst: float = -math.inf  # its worst finished cost
    top: RunRecord | None = None  # its best solved run: None while it does not qualify
    records: list[RunRecord] = field(default_factory=list)

    def add(self, record: RunRecord) -> None:
        self.records.append(record)
        self.first = min(self.first or record["run_id"], record["run_id"], key=run_order)
        self.pairs = self.pairs | {(record.get("instance"), record.get("seed"))}
        if _stopped_early(record):
            self.partial_costs.append(_cost(record))
        else:
            self.costs.append(_cost(record))
        if _finished(record):
            self.worst = max(self.worst, _cost(record))
        if _finished(record) and (
            self.top is None
            or (float(record["cost"]), run_order(record["run_id"]))
            < (float(self.top["cost"]), run_order(self.top["run_id"]))
        ):
            self.top = record

    def rank(self) -> tuple[float, tuple[int, str]]:
        capped = [max(cost, self.worst) for cost in self.partial_costs]
        return (_mean(self.costs + capped), run_order(self.first))


@dataclass
class _Level:
    """The configurations of one budget level (or of every run), their pair sets, the best
    of each pair set and the best of all, kept as runs come."""

    candidates: dict[str, _Candidate] = field(default_factory=dict)
    racing: _PairSets = field(default_factory=_PairSets)
    set_best: dict[frozenset[Pair], str] = field(default_factory=dict)
    best_key: str | None = None
    stale: bool = False  # best_key must be looked for among all pair sets

    def add(self, key: str, record: RunRecord) -> None:
        candidate = self.candidates.setdefault(key, _Candidate())
        before = candidate.pairs if candidate.top is not None else None
        candidate.add(record)
        if before is not None:
            self.racing.remove(before, key)
            if self.set_best[before] == key:  # it may have been demoted, or left the set
                self._rescan(before)
        if candidate.top is not None:
            self.racing.add(candidate.pairs, key)
            best = self.set_best.get(candidate.pairs)
            if best is None or candidate.rank() < self.candidates[best].rank():
                self.set_best[candidate.pairs] = key
        self._follow_best(key, before)

    def _follow_best(self, key: str, before: frozenset[Pair] | None) -> None:
        """Keep the best of all after KEY's run (its pairs were BEFORE): only a change of the
        best itself or its pairs outraced need a look at every pair set. Else KEY may win,
        and so may the best of a set that BEFORE outraced, when BEFORE is gone (its only
        configuration ran on more pairs)."""
        best = self.best_key
        if (
            self.stale
            or best == key
            or (best is not None and self.racing.outraced(self.candidates[best].pairs))
        ):
            self.stale = True
            return
        contenders = [key]
        if before is not None and before not in self.racing.members:
            contenders += [self.set_best[freed] for freed in self.racing.within(before)]
        for contender in contenders:
            candidate = self.candidates[contender]
            if (
                candidate.top is not None
                and not self.racing.outraced(candidate.pairs)
                and (
                    self.best_key is None
                    or candidate.rank() < self.candidates[self.best_key].rank()
                )
            ):
                self.best_key = contender

    def _rescan(self, pairs: frozenset[Pair]) -> None:
        members = self.racing.members.get(pairs)
        if members:
            self.set_best[pairs] = min(members, key=lambda k: self.candidates[k].rank())
        else:
            del self.set_best[pairs]

    def best(self) -> _Candidate | None:
        """The incumbent's configuration: the best of the pair sets that are not outraced."""
        if self.stale:
            found = [key for pairs, key in self.set_best.items() if not self.racing.outraced(pairs)]
            self.best_key = min(found, key=lambda k: self.candidates[k].rank(), default=None)
            self.stale = False
        return None if self.best_key is None else self.candidates[self.best_key]


class BestRunSoFar:
    """The incumbent's best run after each record added in turn, as `best_run` of the records
    so far gives it, without reading them all again: a curve of the best quality over 2000
    runs took minutes that way. Each record updates its configuration's sums at its budget."""

    def __init__(self) -> None:
        # level None holds every run; a budget level the runs at that budget (0: none)
        self._levels: dict[float | None, _Level] = {None: _Level()}
        self._top_budget: float | None = None

    def add(self, record: RunRecord) -> None:
        if record.get("reused_from"):
            return
        budget = float(record.get("budget") or 0)
        if _finished(record) and record.get("budget"):
            self._top_budget = max(budget, self._top_budget or budget)
        key = config_key(record["config"])
        for level in (None, budget):
            self._levels.setdefault(level, _Level()).add(key, record)

    def incumbent(self) -> Incumbent | None:
        """`incumbent` of the records added so far, from its configuration's runs alone: a
        worker's trajectory row after each run took all of them again, 37 ms at 4000 runs."""
        best = self._levels[self._top_budget].best()
        if best is None:
            return None
        return _incumbent_of(best.records, _rank(best.records)[0])

    def best_run(self) -> RunRecord | None:
        """The incumbent's best run of the records added so far; None before any success."""
        best = self._levels[self._top_budget].best()
        return None if best is None else best.top
