"""Plots of one rungroup's runs (matplotlib, no display needed): how the best quality improved
over wall time and over runs, and how the quality depends on each parameter.

The plots must not mislead. Each parameter is drawn on the axis its PCS declares: log for
`log` parameters, whole-number ticks for integers, the categories by name (ordinals in their
order). A run stopped at its cutoff or by the user is drawn at the quality it reached, with a
marker of its own. Failed runs have no quality: they sit in a band above the plot, one row per
reason, so that their failure quality (1e9) never squashes the axis.

Figures are built without pyplot, so that nothing depends on a GUI backend or global state;
`write_pngs` saves them for `smac-bridge plot` and `png_bytes` feeds the HTML report.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib import colormaps, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

from smac_bridge import outcomes, results
from smac_bridge.group_setup import GroupSetup
from smac_bridge.incumbent import BestRunSoFar, mean_cost
from smac_bridge.layout import write_bytes_atomic
from smac_bridge.plot_axes import (
    Axis,
    axis_for,
    failure_label,
    log_scale,
    parameters,
    shortened,
)
from smac_bridge.records import ProgressPoint, RunRecord, config_key, run_order

_SIZE = (7.0, 4.2)
# The rungroup's curve is drawn first, wide and light, so the workers' curves stay visible on it.
_GROUP_STYLE = {"color": "black", "linewidth": 4, "alpha": 0.35}
_WORKER_STYLE = {"marker": ".", "linewidth": 1.2}
_MANY_WORKERS = 10
"""More workers than matplotlib has colours: their curves share one thin style and one legend
entry (repeated colours would pair a label with another worker's line, and 64 entries would
fill the figure)."""
_MANY_WORKERS_STYLE = {"color": "C0", "linewidth": 0.8, "alpha": 0.5}
_DEFAULT_STYLE = {"color": "gray", "linestyle": "--", "linewidth": 1}
_FINISHED = {"s": 24, "alpha": 0.8, "color": "C0"}
_PARTIAL = {"s": 30, "facecolors": "none", "edgecolors": "C1", "linewidths": 1.4}
_STATUS_COLOURS = {"UNSAT": "#9a6700", "TIMEOUT": "#8250df", "CRASHED": "#b3261e"}
_BAND_ROWS = 6  # reasons shown one per row; the rest share the last row
_CATEGORY_CHARS = 20  # a categorical value on the x axis


def _best_so_far(records: Sequence[RunRecord]) -> tuple[list[int], list[float]]:
    """(index, cost of the incumbent) after each record once there is one; index from 1.

    The incumbent is `incumbent.incumbent` of the runs so far, the rule every command shares;
    its cost is its mean over its seeds or instances (its best run alone would make the curve
    rise when a configuration of several runs takes over from one of a lucky single run).
    """
    xs, ys = [], []
    so_far = BestRunSoFar()
    for index, record in enumerate(records, start=1):
        so_far.add(record)
        found = so_far.incumbent()
        if found is not None:
            xs.append(index)
            ys.append(found["cost"])
    return xs, ys


def _new_figure(title: str) -> tuple[Figure, Any]:
    figure = Figure(figsize=_SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _no_data(axes: Any, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="gray")


def _worker_styles(axes: Any, workers: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    """The style and legend label of each worker's curve; beyond _MANY_WORKERS one shared
    style, named once in the legend."""
    if len(workers) <= _MANY_WORKERS:
        return {worker: {**_WORKER_STYLE, "label": f"worker {worker}"} for worker in workers}
    axes.plot([], [], **_MANY_WORKERS_STYLE, label=f"each of the {len(workers)} workers")
    return {worker: {**_MANY_WORKERS_STYLE, "label": "_nolegend_"} for worker in workers}


def _by_worker(records: Sequence[RunRecord]) -> dict[Any, list[RunRecord]]:
    workers: dict[Any, list[RunRecord]] = {}
    for record in records:
        workers.setdefault(record.get("worker"), []).append(record)
    return dict(sorted(workers.items(), key=lambda item: str(item[0])))


def _word(runtime: bool, negated: bool = False) -> str:
    """What the plots call the number minimised: a runtime scenario's cost is no quality, and
    under the wrapper's --maximize a quality is minus the script's metric."""
    return "cost" if runtime else outcomes.quality_name(negated)


def best_over_time(
    records: Sequence[RunRecord],
    title: str,
    default: float | None = None,
    runtime: bool = False,
    negated: bool = False,
) -> Figure:
    """Best quality (RUNTIME: cost; NEGATED: minus the script's metric) so far against wall
    time since the first run started, group and workers; DEFAULT, the default
    configuration's, as a dashed line."""
    records = sorted(records, key=lambda r: r.get("ended") or 0)
    figure, axes = _new_figure(f"{title}: best {_word(runtime, negated)} over wall time")
    if results.best_run(records) is None:
        _no_data(axes, "no successful run yet")
        return figure
    start = min(r.get("started") or r.get("ended") or 0 for r in records)
    span = max((r.get("ended") or start) - start for r in records)
    unit, scale = ("min", 60.0) if span > 600 else ("s", 1.0)

    def curve(runs: Sequence[RunRecord], **style: Any) -> list[float]:
        indices, best = _best_so_far(runs)
        times = [((runs[i - 1].get("ended") or start) - start) / scale for i in indices]
        axes.step(times, best, where="post", **style)
        return best

    shown = curve(records, **_GROUP_STYLE, label="rungroup")
    workers = _by_worker(records)
    styles = _worker_styles(axes, list(workers))
    for worker, runs in workers.items():
        if results.best_run(runs) is not None:
            shown += curve(runs, **styles[worker])
    axes.set_xlabel(f"wall time since the first run started ({unit})")
    _finish_best(axes, records, shown, default, _word(runtime, negated))
    return figure


def _finish_best(
    axes: Any,
    records: Sequence[RunRecord],
    shown: list[float],
    default: float | None,
    word: str,
) -> None:
    """The default's line, the axis label and scale, the legend (below the plot: inside, it
    hid a stretch of a worker's line). In a multi-fidelity launch
    the best run is the best at the highest budget reached, so the curve may rise when the
    first run of a higher budget ends; the label says so."""
    if default is not None:
        axes.axhline(default, **_DEFAULT_STYLE, label="default configuration")
        shown = [*shown, default]
    budgets = any(r.get("budget") is not None for r in records)
    axes.set_ylabel(
        f"best {word} so far (lower is better)"
        + ("\n(at the highest budget reached)" if budgets else "")
    )
    if log_scale(shown):
        axes.set_yscale("log")
    axes.figure.legend(loc="outside lower center", ncols=3, fontsize="small")


def best_over_runs(
    records: Sequence[RunRecord],
    title: str,
    default: float | None = None,
    runtime: bool = False,
    negated: bool = False,
) -> Figure:
    """Best quality (RUNTIME: cost; NEGATED: minus the script's metric) so far against the
    number of finished runs, group and workers; DEFAULT, the default configuration's, as a
    dashed line."""
    records = sorted(records, key=lambda r: r.get("ended") or 0)
    figure, axes = _new_figure(f"{title}: best {_word(runtime, negated)} over runs")
    if results.best_run(records) is None:
        _no_data(axes, "no successful run yet")
        return figure
    xs, shown = _best_so_far(records)
    axes.step(xs, shown, where="post", **_GROUP_STYLE, label="rungroup (all workers)")
    workers = _by_worker(records)
    styles = _worker_styles(axes, list(workers))
    for worker, runs in workers.items():
        xs, ys = _best_so_far(runs)
        if xs:
            axes.step(xs, ys, where="post", **styles[worker])
            shown = shown + ys
    axes.set_xlabel("runs finished (of the worker, or of the rungroup)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _finish_best(axes, records, shown, default, _word(runtime, negated))
    return figure


def _band_rows(failed: Sequence[RunRecord]) -> dict[str, int]:
    """Row of each failure label, the most frequent first; the rare rest share the last row."""
    ranked = [label for label, _ in Counter(map(failure_label, failed)).most_common()]
    if len(ranked) <= _BAND_ROWS:
        return {label: row for row, label in enumerate(ranked)}
    rows = {label: row for row, label in enumerate(ranked[: _BAND_ROWS - 1])}
    return rows | {label: _BAND_ROWS - 1 for label in ranked[_BAND_ROWS - 1 :]}


_LISTED_ABOVE = 3
"""Values above the plot at one x written one by one; more are written as their range."""

_LARGEST_SHOWN = 1e300
"""The largest magnitude a quality axis reaches, and (_LARGEST_LOG) the largest quality a log
axis is drawn for: matplotlib's tick locators overflow near the largest float."""
_LARGEST_LOG = 1e200


def _y_limits(finished: list[float], partial: list[float]) -> tuple[float, float, bool] | None:
    """(bottom, top, log) of the quality axis: the finished runs' range, widened down to any
    better partial quality; worse partial qualities do not stretch it (they are drawn on the
    top edge instead). None when there is nothing to draw."""
    top_value = max(finished) if finished else max(partial, default=None)
    if top_value is None:
        return None
    values = finished + [q for q in partial if q <= top_value]
    values = [min(max(q, -_LARGEST_SHOWN), _LARGEST_SHOWN) for q in values]
    low, high = min(values), max(values)
    if log_scale(values) and high <= _LARGEST_LOG:  # padded in decades: a ratio overflows
        first, last = math.log10(low), math.log10(high)
        pad = 0.06 * (last - first)
        return 10.0 ** (first - pad) or low, 10.0 ** (last + pad), True
    pad = 0.08 * high - 0.08 * low or 0.08 * abs(high) or 0.1  # high - low may overflow
    return low - pad, high + pad, False


def _lay_out_x(axes: Any, axis: Axis) -> None:
    if axis.categories:
        # a 200-character value would squash the plot to nothing
        labels = [shortened(" ".join(c.split()), _CATEGORY_CHARS) for c in axis.categories]
        axes.set_xticks(range(len(axis.categories)), labels)
        axes.set_xlim(-0.5, len(axis.categories) - 0.5)
        if sum(len(label) for label in labels) > 40:
            axes.tick_params(axis="x", labelrotation=30)
        return
    if axis.log:
        axes.set_xscale("log")
        if axis.integer:  # powers of two: whole numbers at any zoom, unlike 10^x minor ticks
            axes.xaxis.set_major_locator(LogLocator(base=2, numticks=10))
            axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            axes.xaxis.set_minor_locator(NullLocator())
    elif axis.integer:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis.bounds is not None:
        low, high = axis.bounds
        if axis.log:
            factor = (high / low) ** 0.03
            axes.set_xlim(low / factor, high * factor)
        else:
            pad = 0.03 * (high - low)
            axes.set_xlim(low - pad, high + pad)


def quality_vs_parameter(
    records: Sequence[RunRecord],
    name: str,
    title: str,
    axis: Axis | None = None,
    failure: float | None = None,
    default: RunRecord | None = None,
    runtime: bool = False,
    negated: bool = False,
) -> Figure:
    """Quality of each run against parameter NAME on AXIS (default: guessed from the values).

    FAILURE is the quality that means "no quality" (default: `outcomes.failure_quality`).
    Finished runs are dots (coloured by budget when runs have several), stopped and
    timed-out runs with a partial quality are hollow diamonds (triangles on the top edge
    when worse than every finished run, value written beside), the incumbent is a star,
    DEFAULT (the default configuration's run) is ringed, and failed runs are crosses in the
    band above, one row per reason. RUNTIME (a runtime scenario) draws each run's cost, a
    timed-out run's at its PAR-k cost; NEGATED (the wrapper's --maximize) says that a quality
    is minus the script's metric. Runs in which NAME was inactive are counted under the axis.
    """
    runs = [r for r in records if name in (r.get("config") or {})]
    failure = outcomes.failure_quality(records) if failure is None else failure
    axis = axis or axis_for(name, [r["config"][name] for r in runs])
    by_kind: dict[str, list[RunRecord]] = {"ok": [], "partial": [], "failed": []}
    for record in runs:
        cost = record.get("cost")
        timed_out = (
            runtime and record.get("status") == "TIMEOUT" and outcomes.is_finite_number(cost)
        )
        by_kind["partial" if timed_out else outcomes.kind(record, failure)].append(record)
    word = _word(runtime, negated)
    rows = _band_rows(by_kind["failed"])
    count = len(set(rows.values()))
    # The band's reasons take room on the left: the figure grows so the plot keeps its size.
    size = (_SIZE[0] + (2.0 if rows else 0.0), _SIZE[1] + 0.6 + 0.2 * count)
    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    if rows:
        band, axes = figure.subplots(2, 1, sharex=True, height_ratios=[0.3 + 0.2 * count, 3.0])
        band.set_title(f"{title}: {word} against {name}")
    else:
        axes = figure.add_subplot()
        axes.set_title(f"{title}: {word} against {name}")
    axes.grid(True, alpha=0.3)

    def x(record: RunRecord) -> float:
        return axis.position(record["config"][name])

    def y(record: RunRecord) -> float:
        if runtime:
            return float(record["cost"])
        value = outcomes.shown_quality(record, failure)
        assert value is not None  # only finished and partial runs go on the quality axis
        return value

    drawn = [r for r in runs if r not in by_kind["failed"]]
    best = results.best_run(records)
    if drawn:
        marked = {
            "best (incumbent)": best if best in drawn else None,
            "default configuration": default if default in drawn else None,
        }
        _draw_qualities(axes, by_kind, x, y, marked, runtime)
        figure.legend(loc="outside lower center", ncols=2, fontsize="small")  # hides no run
    else:
        _no_data(axes, "no run of this parameter has a quality" if rows else f"no run set {name}")
    if rows:
        _draw_band(band, by_kind["failed"], rows, x)
    _lay_out_x(axes, axis)
    inactive = len(records) - len(runs)  # a conditional parameter's parent turned it off
    axes.set_xlabel(
        name
        + (" (log scale)" if axis.log else "")
        + (f"\n(inactive, so not shown, in {inactive} of {len(records)} runs)" if inactive else "")
    )
    axes.set_ylabel(f"{word} (lower is better)")
    return figure


def _draw_qualities(
    axes: Any,
    by_kind: dict[str, list[RunRecord]],
    x: Callable[[RunRecord], float],
    y: Callable[[RunRecord], float],
    marked: dict[str, RunRecord | None],
    runtime: bool,
) -> None:
    """Finished and partial runs at their qualities, the finished ones coloured by budget
    when they have several (a 1-epoch run is no match for a 9-epoch one); MARKED runs (the
    best, the default) get a star and a ring."""
    finished = [y(r) for r in by_kind["ok"]]
    partial = [y(r) for r in by_kind["partial"]]
    limits = _y_limits(finished, partial)
    assert limits is not None  # the caller has a finished or partial run
    bottom, top, log = limits
    if log:
        axes.set_yscale("log")
    axes.set_ylim(bottom, top)

    def at(runs: list[RunRecord]) -> tuple[list[float], list[float]]:
        return [x(r) for r in runs], [min(y(r), top) for r in runs]

    budgets = sorted({float(r.get("budget") or 0) for r in by_kind["ok"]})
    if len(budgets) > 1:
        colours = colormaps["viridis"]
        for index, budget in enumerate(budgets):
            at_budget = [r for r in by_kind["ok"] if float(r.get("budget") or 0) == budget]
            style = {**_FINISHED, "color": colours(0.9 * index / (len(budgets) - 1))}
            axes.scatter(*at(at_budget), **style, label=f"finished at budget {budget:g}")
    elif by_kind["ok"]:
        axes.scatter(*at(by_kind["ok"]), **_FINISHED, label="finished")
    partial_label = "timed out: PAR-k cost" if runtime else "stopped / timed out: partial quality"
    above_label = "PAR-k cost" if runtime else "partial quality"
    inside = [r for r in by_kind["partial"] if y(r) <= top]
    above = sorted((r for r in by_kind["partial"] if y(r) > top), key=x)
    if inside:
        axes.scatter(*at(inside), marker="D", **_PARTIAL, label=partial_label)
    if above:
        axes.scatter(
            *at(above),
            marker="^",
            clip_on=False,
            zorder=3,
            **_PARTIAL,
            label=f"{above_label} above the plot (value beside)",
        )
    at_x: dict[float, list[float]] = {}  # one label per x, so that none runs into the data
    for record in above:
        at_x.setdefault(x(record), []).append(y(record))
    for index, (where, values) in enumerate(at_x.items()):
        values.sort()
        label = (
            ", ".join(f"{v:.3g}" for v in values)
            if len(values) <= _LISTED_ABOVE
            else f"{len(values)} runs: {values[0]:.3g}–{values[-1]:.3g}"
        )
        axes.annotate(
            label,
            (where, top),
            xytext=(0, -10 - 9 * (index % 2)),  # neighbours' alternate
            ha="center",
            textcoords="offset points",
            fontsize="x-small",
            color="C1",
        )
    styles = {
        "best (incumbent)": {"marker": "*", "color": "gold", "edgecolor": "black", "zorder": 4},
        "default configuration": {
            "facecolors": "none",
            "edgecolors": "black",
            "linewidths": 1.2,
            "zorder": 5,
        },
    }
    for label, run in marked.items():
        if run is not None:
            axes.scatter(*at([run]), s=150, **styles[label], label=label)


def _draw_band(band: Any, failed: list[RunRecord], rows: dict[str, int], x: Any) -> None:
    """Failed runs as crosses, one row per reason (the row's label), coloured by status; a
    cross that stands for several runs (a categorical value, a repeated configuration) says
    how many."""
    labels = {row: label for label, row in rows.items()}
    if len(set(rows.values())) < len(rows):
        shared = sum(1 for label in rows if rows[label] == _BAND_ROWS - 1)
        labels[_BAND_ROWS - 1] = f"{shared} other reasons"
    count = max(labels) + 1
    band.scatter(
        [x(r) for r in failed],
        [rows[failure_label(r)] for r in failed],
        marker="x",
        s=40,
        color=[_STATUS_COLOURS.get(str(r.get("status")), "black") for r in failed],
    )
    crosses = Counter((x(r), rows[failure_label(r)]) for r in failed)
    for (where, row), runs in crosses.items():
        if runs > 1:
            band.annotate(
                f"×{runs}",
                (where, row),
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
                fontsize="x-small",
            )
    band.set_ylim(count - 0.5, -0.5)  # the most frequent reason on top
    band.set_yticks(range(count), [labels[row] for row in range(count)], fontsize="x-small")
    band.set_facecolor("#f6f6f6")
    band.grid(True, axis="x", alpha=0.3)
    band.text(
        1.0,
        1.0,
        f"{len(failed)} failed, no quality",
        transform=band.transAxes,
        ha="right",
        va="bottom",
        fontsize="x-small",
        color="gray",
    )


def learning_curves(
    records: Sequence[RunRecord],
    curves: Mapping[str, list[ProgressPoint]],
    title: str,
    negated: bool = False,
) -> Figure:
    """Quality against step for every run that reported per step, one colour per
    configuration. A pruned run's curve is dashed and ends in a cross, a run stopped at its
    cutoff or by hand is dotted and ends in a square (it did not finish); a promoted run's
    (multi-fidelity) continues its earlier run's line from a circle where it took over; the
    incumbent's best run is drawn bold."""
    figure, axes = _new_figure(f"{title}: learning curves")
    axes.set_xlabel("step (epoch)")
    axes.set_ylabel(f"{_word(False, negated)} (lower is better)")
    by_id = {record["run_id"]: record for record in records}
    best = results.best_run(records)
    colours: dict[str, str] = {}
    shown: set[str] = set()  # what the legend explains
    drawn = False
    for run_id, points in sorted(curves.items(), key=lambda item: run_order(item[0])):
        steps, values = _finite(points)
        if not steps:
            continue
        record = by_id.get(run_id)
        style: dict[str, Any] = {"linewidth": 0.9, "alpha": 0.7}
        if record is not None:
            key = config_key(record.get("config") or {})
            style["color"] = colours.setdefault(key, f"C{len(colours) % 10}")
        earlier = record.get("promoted_from") if record else None
        before = _finite(curves.get(earlier, [])) if earlier else ([], [])
        if before[0] and before[0][-1] < steps[0]:  # one line from the first epoch on
            steps, values = before[0][-1:] + steps, before[1][-1:] + values
            axes.scatter(steps[:1], values[:1], marker="o", facecolors="none", edgecolors="C2")
            shown.add("promoted")
        pruned = outcomes.is_pruned(record)
        if pruned:
            style.update(linestyle="--", alpha=0.5)
            axes.scatter(steps[-1:], values[-1:], marker="x", color="C3", zorder=3)
            shown.add("pruned")
        elif record is not None and record.get("status") == "TIMEOUT":
            style.update(linestyle=":", alpha=0.6)
            axes.scatter(
                steps[-1:], values[-1:], marker="s", facecolors="none", edgecolors="C1", zorder=3
            )
            shown.add("stopped")
        if best is not None and run_id == best["run_id"]:
            style.update(linewidth=2.4, alpha=1.0, color="black", zorder=4)
            shown.add("best")
        if len(steps) == 1:  # a one-epoch run (Hyperband's first rung): a line would not show
            style.update(marker=".")
        axes.plot(steps, values, **style)
        drawn = True
    if not drawn:
        _no_data(axes, "no run reported per step")
        return figure
    legend = {
        "best": Line2D([], [], color="black", linewidth=2.4, label="best run (incumbent)"),
        "pruned": Line2D([], [], color="gray", linestyle="--", marker="x", label="pruned"),
        "stopped": Line2D(
            [],
            [],
            color="gray",
            linestyle=":",
            marker="s",
            mfc="none",
            mec="C1",
            label="stopped (cutoff, or by hand)",
        ),
        "promoted": Line2D(
            [], [], color="C2", marker="o", linestyle="", mfc="none", label="promoted (continues)"
        ),
    }
    handles = [handle for what, handle in legend.items() if what in shown]
    if handles:
        axes.legend(handles=handles, loc="upper right", fontsize="small")
    if all(float(p["step"]).is_integer() for points in curves.values() for p in points):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: no tick at 1.25
    return figure


def _finite(points: Sequence[ProgressPoint]) -> tuple[list[float], list[float]]:
    """The steps and qualities of a curve's points that have a quality."""
    kept = [(p["step"], p["quality"]) for p in points if p["quality"] is not None]
    return [step for step, _ in kept], [quality for _, quality in kept]


def figures(
    records: Sequence[RunRecord],
    title: str,
    setup: GroupSetup | None = None,
    curves: Mapping[str, list[ProgressPoint]] | None = None,
) -> dict[str, Figure]:
    """Every plot of a rungroup, by file stem. SETUP (`group_setup.read_setup`) gives the
    parameters' axes, the failure quality and the default configuration; without it they are
    guessed from the runs. CURVES (`RunGroup.curves`) add the learning curves."""
    # A `$` in a value, a name or a failure's reason is text: as matplotlib's math, "$$"
    # raised and "$x$" was drawn as an italic x. Each text reads this as it is made.
    with rc_context({"text.parse_math": False}):
        setup = setup or GroupSetup()
        failure = outcomes.failure_quality(records, setup.failure_quality)
        default_config = setup.default_config()
        default_run = (
            outcomes.run_of_config(records, default_config, failure) if default_config else None
        )
        runtime = setup.run_obj == "runtime"
        negated = outcomes.negated_metric(records)
        default = outcomes.shown_quality(default_run, failure) if default_run else None
        if runtime and default_run and outcomes.is_finite_number(default_run.get("cost")):
            default = float(default_run["cost"])  # what SMAC minimised: a timeout's PAR-k too
        default_runs = outcomes.runs_of_config(records, default_config) if default_config else []
        if outcomes.on_several_pairs(default_runs):  # its mean, as the incumbent's curve
            default = mean_cost(default_runs)
        found = {
            "best_over_time": best_over_time(records, title, default, runtime, negated),
            "best_over_runs": best_over_runs(records, title, default, runtime, negated),
        }
        for name in parameters(records):
            values = [r["config"][name] for r in records if name in (r.get("config") or {})]
            axis = axis_for(name, values, setup.space)
            stem = _unused_stem("quality_vs_" + _file_name_part(name), found)
            found[stem] = quality_vs_parameter(
                records, name, title, axis, failure, default_run, runtime, negated
            )
        if curves:
            found["learning_curves"] = learning_curves(records, curves, title, negated)
        return found


LONGEST_NAME_PART = 100
"""Bytes of a parameter's name a plot's file name keeps: a file name has at most 255, and a
parameter's name has no limit."""


def _file_name_part(name: str) -> str:
    """NAME as part of a file name: only word characters, dots and dashes, at most
    LONGEST_NAME_PART bytes (a longer name stopped `plot` with "File name too long")."""
    safe = re.sub(r"[^\w.-]", "_", name)
    return safe.encode()[:LONGEST_NAME_PART].decode(errors="ignore")


def _unused_stem(stem: str, taken: Mapping[str, object]) -> str:
    """STEM, or STEM_2, STEM_3, ... when another plot has it: `a b` and `a_b` (or names in
    two scripts) are two parameters, and neither plot may replace the other."""
    found, number = stem, 1
    while found in taken:
        number += 1
        found = f"{stem}_{number}"
    return found


def write_pngs(
    records: Sequence[RunRecord],
    title: str,
    out_dir: Path,
    setup: GroupSetup | None = None,
    curves: Mapping[str, list[ProgressPoint]] | None = None,
) -> list[Path]:
    """Save every plot as `<out_dir>/<stem>.png`; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, figure in figures(records, title, setup, curves).items():
        path = out_dir / f"{stem}.png"
        write_bytes_atomic(path, png_bytes(figure))  # a full disk leaves no half a picture
        paths.append(path)
    return paths


def png_bytes(figure: Figure) -> bytes:
    """A figure as PNG bytes, for embedding."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
