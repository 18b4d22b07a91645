"""How plots lay out a rungroup's runs, decided without matplotlib: the axis each parameter
gets (from its PCS declaration, else from the values), the parameters runs set, and a failed
run's label in the band above a plot. The dashboard draws the same axes in the browser, so it
shares these without importing matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ConfigSpace import (
    CategoricalHyperparameter,
    ConfigurationSpace,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)

from smac_bridge import outcomes
from smac_bridge.records import RunRecord

REASON_CHARS = 48
"""A failed run's label in a plot's band, at most."""


@dataclass(frozen=True)
class Axis:
    """How one parameter is laid out along x."""

    log: bool = False
    integer: bool = False
    categories: tuple[str, ...] = ()  # categorical or ordinal values, in axis order
    bounds: tuple[float, float] | None = None  # the PCS range

    def position(self, value: Any) -> float:
        return float(self.categories.index(str(value))) if self.categories else float(value)


def axis_for(name: str, values: Sequence[Any], space: ConfigurationSpace | None = None) -> Axis:
    """The axis of parameter NAME: from its PCS declaration in SPACE, else guessed from VALUES
    (text: categories in sorted order; whole numbers: integer; log as `log_sampled` says)."""
    hp = space[name] if space is not None and name in space else None
    if isinstance(hp, CategoricalHyperparameter | OrdinalHyperparameter):
        declared = hp.choices if isinstance(hp, CategoricalHyperparameter) else hp.sequence
        categories = tuple(str(c) for c in declared)
        extra = sorted({str(v) for v in values} - set(categories))  # from an older PCS
        return Axis(categories=categories + tuple(extra))
    if isinstance(hp, UniformFloatHyperparameter | UniformIntegerHyperparameter):
        integer = isinstance(hp, UniformIntegerHyperparameter)
        return Axis(log=hp.log, integer=integer, bounds=(float(hp.lower), float(hp.upper)))
    if any(isinstance(v, str | bool) for v in values):
        return Axis(categories=tuple(sorted({str(v) for v in values})))
    return Axis(
        log=log_sampled([float(v) for v in values]),
        integer=bool(values) and all(isinstance(v, int) for v in values),
    )


def log_sampled(values: Sequence[float]) -> bool:
    """Whether values look drawn on a log scale: positive, spanning more than two decades, and
    crowded at the low end (most below a tenth of the largest), as log-uniform samples are;
    uniform samples of a range like [0, 15] span decades too, but spread evenly."""
    if not log_scale(values):
        return False
    tenth = max(values) / 10
    return sum(v < tenth for v in values) > len(values) / 2


def log_scale(values: Sequence[float]) -> bool:
    """Log axes help when positive values span more than two decades."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 100


def failure_label(record: RunRecord) -> str:
    """A failed run's row in the band: its status and reason, shortened."""
    reason = outcomes.reason(record) or "no reason given"
    return shortened(f"{record.get('status')}: {' '.join(reason.split())}", REASON_CHARS)


def shortened(text: str, chars: int) -> str:
    """TEXT cut to CHARS characters, the cut marked."""
    return text if len(text) <= chars else text[: chars - 1] + "…"


def parameters(records: Sequence[RunRecord]) -> list[str]:
    """Every parameter name any run set, in first-seen order."""
    names: list[str] = []
    for record in records:
        names += [k for k in record.get("config") or {} if k not in names]
    return names
