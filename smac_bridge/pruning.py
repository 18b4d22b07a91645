"""Early stopping inside a trial: stop a hopeless training before its budget is spent.

Scripts stream their learning curve (`smac_bridge.report(quality, step=epoch)`, one line of
`progress.jsonl` per step). While a trial runs, its worker asks a `Pruner` at each new step
whether the curve so far is hopeless compared with the other runs' curves at the same step:

- `median` (the median stopping rule): prune at step k when the run's best quality up to k
  is worse than the median of the other runs' best qualities up to k;
- `asha` (asynchronous successive halving): at each rung (steps warmup, warmup * eta,
  warmup * eta^2, ...), prune when the run's best quality is not in the best 1/eta of the
  runs that reached that rung. A run is judged once per rung, at its first step there, as
  Optuna's and Ray Tune's ASHA judge it: once past a rung it trains on to the next one, so
  the epochs it spent beyond a rung are not thrown away when better runs reach that rung
  later. A curve that steps past a rung (steps that count batches, or a promoted trial that
  continues from epoch k and reports from k + 1) reaches it at its first step beyond it.

Either waits for `pruning-warmup` steps and for at least `MIN_RUNS` other runs at that step,
and leaves alone a run at the furthest step a finished run reached, or at its own budget
under multi-fidelity: its training is over.
A pruned trial is stopped the way `smac-bridge stop` stops one (its stop-request file, which
the wrapper polls), with the reason written in the file; it is recorded TIMEOUT with its last
partial quality and the reason `pruned: ...`, counts toward the budget, and SMAC3 is told it
as any timed-out run (`partial-quality`: no better than the worst finished run by default).
"""

from __future__ import annotations

import math
import statistics

from smac_bridge.records import ProgressPoint, is_partial, is_solved
from smac_bridge.rundata import GrowingCurves, RecordReader, RunGroup, trained_steps

MIN_RUNS = 3
"""Other runs that must have reached a step before a run is compared at it."""
RULES = ("median", "asha")


def best_up_to(points: list[ProgressPoint], step: float) -> float | None:
    """The best (lowest) finite quality of a curve at steps up to STEP."""
    values = [p["quality"] for p in points if p["step"] <= step and p["quality"] is not None]
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else None


def reached_best(points: list[ProgressPoint], step: float) -> float | None:
    """The best quality of a curve up to STEP if it reached STEP, else None."""
    if not points or max(p["step"] for p in points) < step:
        return None
    return best_up_to(points, step)


def best_on_reaching(points: list[ProgressPoint], rung: float) -> float | None:
    """ASHA's value of a curve at RUNG: its best quality up to its first step at or past
    RUNG; None when it has not reached RUNG (or has no finite quality there)."""
    past = [p["step"] for p in points if p["step"] >= rung]
    return best_up_to(points, min(past)) if past else None


class Pruner:
    """Decides for a rungroup's running trials whether to stop them early."""

    def __init__(self, group: RunGroup, rule: str, warmup: int = 1, eta: int = 3) -> None:
        if rule not in RULES:
            raise ValueError(f"pruning rule must be one of {RULES}, got {rule!r}")
        self.group = group
        self.rule = rule
        self.warmup = max(warmup, 1)
        self.eta = max(eta, 2)
        self._reader = RecordReader(group)
        self._finished: dict[str, list[ProgressPoint]] = {}
        self._reached: dict[str, float] = {}
        """The furthest step of each run that trained to its end (not one pruned, stopped or
        failed on the way) and reported a curve."""
        self._best_at: dict[float, dict[str, float]] = {}
        """For each step judged at: the best quality up to it of each finished run that
        reached it. Finished curves do not change, so a verdict with thousands of finished
        runs reads each of their curves once, not at every step of every running trial."""
        self._judged_rung: dict[str, float] = {}
        """For `asha`: the last rung each running trial was judged at."""
        self._continued: set[str] = set()
        """Finished runs that continued a promoted configuration's earlier run."""
        self._running = GrowingCurves()
        """The running trials' curves, read as they grow."""

    def _running_curve(self, run_id: str) -> list[ProgressPoint]:
        return self._running.read(self.group.run(run_id).progress)

    def _read_finished(self) -> None:
        """Read the curves of the runs finished since the last call (each once)."""
        for record in self._reader.poll():
            if record.get("reused_from"):
                continue
            run_id = record["run_id"]
            self._running.forget(self.group.run(run_id).progress)
            curve = self._finished[run_id] = self.group.progress(run_id)
            if curve and is_solved(record) and not is_partial(record):
                self._reached[run_id] = max(p["step"] for p in curve)
            if record.get("promoted_from"):
                self._continued.add(run_id)
            for step, bests in self._best_at.items():
                if (value := self._value_at(curve, step, run_id in self._continued)) is not None:
                    bests[run_id] = value

    def _value_at(
        self, points: list[ProgressPoint], step: float, continued: bool = False
    ) -> float | None:
        """A curve's value at STEP under this rule, None when it has none there. Under
        `asha` STEP is a rung, and a curve that starts past the next rung (steps of batches,
        a trial that continues from epoch k) has none there, as it is first judged itself at
        the highest rung at or below its first step; nor has one that CONTINUED an earlier
        run of its configuration (a promotion) at a rung below its first step: that rung was
        the earlier run's, which counts there already."""
        if self.rule == "median":
            return reached_best(points, step)
        if not points:
            return None
        first = min(p["step"] for p in points)
        if self._rung_at(first) > step or (continued and first > step):
            return None
        return best_on_reaching(points, step)

    def _finished_bests(self, step: float) -> dict[str, float]:
        """The value at STEP of each finished run that reached it."""
        if step not in self._best_at:
            self._best_at[step] = {
                run_id: value
                for run_id, curve in self._finished.items()
                if (value := self._value_at(curve, step, run_id in self._continued)) is not None
            }
        return self._best_at[step]

    def _others_at(self, run_id: str, step: float) -> list[float]:
        """The value at STEP of every other run that reached it: the finished ones as last
        read, a running run's curve read now."""
        values = [v for other, v in self._finished_bests(step).items() if other != run_id]
        for marker in self.group.running():
            if marker["run_id"] != run_id and marker["run_id"] not in self._finished:
                curve = self._running_curve(marker["run_id"])
                continued = marker.get("continued_from") is not None
                if (value := self._value_at(curve, step, continued)) is not None:
                    values.append(value)
        return values

    def _last_step(self, run_id: str) -> float:
        """The furthest step of a run that trained to its end (the end of training, once one
        run got there); infinite before any did."""
        return max((s for other, s in self._reached.items() if other != run_id), default=math.inf)

    def verdict(self, run_id: str, budget: float | None = None) -> str | None:
        """Why RUN_ID should stop now (`pruned: ...`), or None to let it train on. A
        multi-fidelity trial whose curve reached its own BUDGET has trained it: what is left
        (a final evaluation, saving the model) is no training to save. Without budgets, so has
        one as far as a run that trained to its end; with them, the runs of smaller budgets
        that ended say nothing of where this one's training ends (a 1-epoch run's end kept
        every 9-epoch trial from being judged until a max-budget run had ended)."""
        points = self._running_curve(run_id)
        if not trained_steps(points)[0]:  # none, or only its stopped attempt's: no result yet
            return None
        step = max(p["step"] for p in points)
        if step < self.warmup or (budget is not None and step >= budget):
            return None
        self._read_finished()
        if budget is None and step >= self._last_step(run_id):
            return None  # as far as a finished run trained: stopping it saves nothing
        if self.rule == "median":
            return self._median_verdict(run_id, points, step)
        return self._asha_verdict(run_id, points, step)

    def _median_verdict(self, run_id: str, points: list[ProgressPoint], step: float) -> str | None:
        mine = best_up_to(points, step)
        if mine is None:
            return _diverged(step)
        theirs = self._others_at(run_id, step)
        if len(theirs) < MIN_RUNS:
            return None
        median = statistics.median(theirs)
        if mine > median:
            return (
                f"pruned: median rule at step {step:g}, best {mine:.6g} is worse than the"
                f" median {median:.6g} of {len(theirs)} runs"
            )
        return None

    def _asha_verdict(self, run_id: str, points: list[ProgressPoint], step: float) -> str | None:
        """Judge each rung the curve reached since the last look, lowest first: a curve with
        short epochs (or batches) passes several between two looks, and a run the lower one
        stops must not be judged only at the higher one, on its better value there. A curve
        that starts past a rung (a promotion continuing from epoch k) is judged first at the
        highest rung at or below its first step; the rungs under that one were its earlier
        run's."""
        rung = self._rung_at(min(p["step"] for p in points))
        while rung <= step:
            if self._judged_rung.get(run_id, 0) < rung:
                self._judged_rung[run_id] = rung
                if (why := self._judge_at_rung(run_id, points, rung)) is not None:
                    return why
            rung *= self.eta
        return None

    def _rung_at(self, step: float) -> float:
        """The highest rung at or below STEP (the first rung, `warmup`, below it)."""
        rung = self.warmup
        while rung * self.eta <= step:
            rung *= self.eta
        return rung

    def _judge_at_rung(self, run_id: str, points: list[ProgressPoint], rung: float) -> str | None:
        reached = min(p["step"] for p in points if p["step"] >= rung)  # its look at RUNG
        mine = best_up_to(points, reached)
        if mine is None:
            return _diverged(reached)
        theirs = self._others_at(run_id, rung)
        if len(theirs) < MIN_RUNS:
            return None
        ranked = sorted([*theirs, mine])
        keep = max(1, len(ranked) // self.eta)
        if mine > ranked[keep - 1]:
            return (
                f"pruned: successive halving at rung {rung:g}, best {mine:.6g} is not in the"
                f" best 1/{self.eta} of {len(ranked)} runs"
            )
        return None


def _diverged(step: float) -> str:
    """NaN or inf at every step up to STEP: a diverged training, as Optuna's pruners see it."""
    return f"pruned: no finite quality up to step {step:g} (NaN or inf)"
