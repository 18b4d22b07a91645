"""Plots of one rungroup's runs (matplotlib, no display needed): how the best quality improved
over wall time and over runs, and how the quality depends on each parameter.

Figures are built without pyplot, so that nothing depends on a GUI backend or global state;
`write_pngs` saves them for `smac-bridge plot` and `png_bytes` feeds the HTML report.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from smac_bridge.results import INFEASIBLE

_SIZE = (7.0, 4.2)
# The rungroup's curve is drawn first, wide and light, so the workers' curves stay visible on it.
_GROUP_STYLE = {"color": "black", "linewidth": 4, "alpha": 0.35}
_WORKER_STYLE = {"marker": ".", "linewidth": 1.2}


def _ok(record: dict[str, Any]) -> bool:
    quality = record.get("cost", record.get("quality"))
    return (
        record.get("status") == "SAT"
        and isinstance(quality, int | float)
        and math.isfinite(quality)
    )


def _cost(record: dict[str, Any]) -> float:
    return float(record.get("cost", record.get("quality")))


def _best_so_far(records: Sequence[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """(index, best cost) after each record that has a best yet; index counts from 1."""
    xs, ys, best = [], [], math.inf
    for index, record in enumerate(records, start=1):
        if _ok(record):
            best = min(best, _cost(record))
        if best < math.inf:
            xs.append(index)
            ys.append(best)
    return xs, ys


def _log_scale(values: Sequence[float]) -> bool:
    """Log axes help when positive qualities span more than two decades."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 100


def _new_figure(title: str) -> tuple[Figure, Any]:
    figure = Figure(figsize=_SIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _no_data(axes: Any, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="gray")


def _by_worker(records: Sequence[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    workers: dict[Any, list[dict[str, Any]]] = {}
    for record in records:
        workers.setdefault(record.get("worker"), []).append(record)
    return dict(sorted(workers.items(), key=lambda item: str(item[0])))


def best_over_time(records: Sequence[dict[str, Any]], title: str) -> Figure:
    """Best quality so far against wall time since the first run started, group and workers."""
    records = sorted(records, key=lambda r: r.get("ended") or 0)
    figure, axes = _new_figure(f"{title}: best quality over wall time")
    if not any(_ok(r) for r in records):
        _no_data(axes, "no successful run yet")
        return figure
    start = min(r.get("started") or r.get("ended") or 0 for r in records)
    span = max((r.get("ended") or start) - start for r in records)
    unit, scale = ("min", 60.0) if span > 600 else ("s", 1.0)

    def curve(runs: Sequence[dict[str, Any]], **style: Any) -> list[float]:
        indices, best = _best_so_far(runs)
        times = [((runs[i - 1].get("ended") or start) - start) / scale for i in indices]
        axes.step(times, best, where="post", **style)
        return best

    shown = curve(records, **_GROUP_STYLE, label="rungroup")
    for worker, runs in _by_worker(records).items():
        if any(_ok(r) for r in runs):
            shown += curve(runs, **_WORKER_STYLE, label=f"worker {worker}")
    axes.set_xlabel(f"wall time since the first run started ({unit})")
    _finish_best(axes, shown)
    return figure


def _finish_best(axes: Any, shown: list[float]) -> None:
    axes.set_ylabel("best quality so far")
    if _log_scale(shown):
        axes.set_yscale("log")
    axes.legend(fontsize="small")


def best_over_runs(records: Sequence[dict[str, Any]], title: str) -> Figure:
    """Best quality so far against the number of finished runs, group and workers."""
    records = sorted(records, key=lambda r: r.get("ended") or 0)
    figure, axes = _new_figure(f"{title}: best quality over runs")
    if not any(_ok(r) for r in records):
        _no_data(axes, "no successful run yet")
        return figure
    xs, shown = _best_so_far(records)
    axes.step(xs, shown, where="post", **_GROUP_STYLE, label="rungroup (all workers)")
    for worker, runs in _by_worker(records).items():
        xs, ys = _best_so_far(runs)
        if xs:
            axes.step(xs, ys, where="post", **_WORKER_STYLE, label=f"worker {worker}")
            shown = shown + ys
    axes.set_xlabel("runs finished (of the worker, or of the rungroup)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    _finish_best(axes, shown)
    return figure


def quality_vs_parameter(records: Sequence[dict[str, Any]], name: str, title: str) -> Figure:
    """Quality of each run against one parameter; infeasible runs are red crosses along the top
    (their quality is the failure quality, which would squash the axis)."""
    figure, axes = _new_figure(f"{title}: quality against {name}")
    runs = [r for r in records if name in (r.get("config") or {})]
    values = [r["config"][name] for r in runs]
    categorical = any(isinstance(v, str) for v in values)
    categories = sorted({str(v) for v in values}) if categorical else []

    def position(v: Any) -> float:
        return float(categories.index(str(v))) if categorical else float(v)

    good = [r for r in runs if _ok(r)]
    bad = [r for r in runs if r.get("status") in INFEASIBLE]
    qualities = [_cost(r) for r in good]
    if good:
        axes.scatter(
            [position(r["config"][name]) for r in good],
            qualities,
            s=24,
            alpha=0.8,
            label="SAT",
        )
        best = min(good, key=_cost)
        axes.scatter(
            [position(best["config"][name])],
            [_cost(best)],
            s=120,
            marker="*",
            color="gold",
            edgecolor="black",
            zorder=3,
            label="best",
        )
    log = _log_scale(qualities)
    if log:
        axes.set_yscale("log")
    if bad:
        if qualities:
            top = (
                max(qualities) * 1.5
                if log
                else max(qualities) + 0.08 * (max(qualities) - min(qualities) or 1)
            )
        else:
            top = 1.0
        axes.scatter(
            [position(r["config"][name]) for r in bad],
            [top] * len(bad),
            s=40,
            marker="x",
            color="red",
            label="UNSAT / CRASHED / TIMEOUT",
        )
    if not runs:
        _no_data(axes, f"no run set {name}")
    if categorical:
        axes.set_xticks(range(len(categories)), categories)
    axes.set_xlabel(name)
    axes.set_ylabel("quality")
    if good or bad:
        axes.legend(fontsize="small")
    return figure


def parameters(records: Sequence[dict[str, Any]]) -> list[str]:
    """Every parameter name any run set, in first-seen order."""
    names: list[str] = []
    for record in records:
        names += [k for k in record.get("config") or {} if k not in names]
    return names


def figures(records: Sequence[dict[str, Any]], title: str) -> dict[str, Figure]:
    """Every plot of a rungroup, by file stem."""
    found = {
        "best_over_time": best_over_time(records, title),
        "best_over_runs": best_over_runs(records, title),
    }
    for name in parameters(records):
        found["quality_vs_" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)] = quality_vs_parameter(
            records, name, title
        )
    return found


def write_pngs(records: Sequence[dict[str, Any]], title: str, out_dir: Path) -> list[Path]:
    """Save every plot as `<out_dir>/<stem>.png`; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, figure in figures(records, title).items():
        path = out_dir / f"{stem}.png"
        figure.savefig(path)
        paths.append(path)
    return paths


def png_bytes(figure: Figure) -> bytes:
    """A figure as PNG bytes, for embedding."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
