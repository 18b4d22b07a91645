"""`smac-bridge report --html`: one self-contained HTML page per output directory.

The page needs no network and no files next to it (CSS and JS inline, plots as base64 PNG),
so it can be mailed or archived with the model. Per rungroup it shows a summary, the
incumbent, the plots, and a table of all runs that sorts when a header is clicked; the URL
hash `#sort=<column>` (or `#sort=-<column>` for descending) sorts it on load, which makes a
sorted view linkable.
"""

from __future__ import annotations

import base64
import html
import math
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

from smac_bridge import plots, results
from smac_bridge.layout import read_json_object
from smac_bridge.rundata import RunGroup

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table.runs { border-collapse: collapse; font-size: 0.9em; }
table.runs th, table.runs td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.runs th { background: #f2f2f2; cursor: pointer; user-select: none; position: sticky; top: 0; }
table.runs th.asc::after { content: " \\25B2"; } table.runs th.desc::after { content: " \\25BC"; }
tr.best { font-weight: bold; background: #fff6d5; }
td.SAT { color: #17702a; } td.UNSAT, td.TIMEOUT { color: #9a6700; }
td.CRASHED, td.ABORT { color: #b3261e; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dt { font-weight: bold; } dd { margin: 0; }
code { background: #f5f5f5; padding: 1px 4px; word-break: break-all; }
.plots img { max-width: 48%; margin: 0.5%; border: 1px solid #eee; }
"""

# Cells carry their sort key in data-v; numbers compare as numbers, empty cells go last.
_JS = """
function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const index = [...table.tHead.rows[0].cells].findIndex(th => th.dataset.col === column);
  if (index < 0) return;
  const key = row => row.cells[index].dataset.v;
  const rows = [...body.rows];
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === "" || y === "") return (x === "") - (y === "");
    const nx = Number(x), ny = Number(y);
    const c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
    return (descending ? -c : c) || a.dataset.run.localeCompare(b.dataset.run);
  });
  rows.forEach(row => body.appendChild(row));
  for (const th of table.tHead.rows[0].cells) th.classList.remove("asc", "desc");
  table.tHead.rows[0].cells[index].classList.add(descending ? "desc" : "asc");
  table.dataset.sorted = (descending ? "-" : "") + column;
}
document.querySelectorAll("table.runs").forEach(table => {
  for (const th of table.tHead.rows[0].cells) {
    th.addEventListener("click", () => {
      const descending = table.dataset.sorted === th.dataset.col;
      sortTable(table, th.dataset.col, descending);
      history.replaceState(null, "", "#sort=" + table.dataset.sorted);
    });
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get("sort");
  if (wanted) sortTable(table, wanted.replace(/^-/, ""), wanted.startsWith("-"));
});
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _sort_value(x: Any) -> str:
    """A cell's sort key as the page's script reads it (JS Number() or text; "" sorts last)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, float) and math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return str(x)


def _runs_table(records: list[dict[str, Any]], best_id: str | None) -> str:
    params = plots.parameters(records)
    test_error = results.has_test_error(records)
    columns: list[tuple[str, str, Any]] = [
        ("run_id", "run", lambda r: r.get("run_id")),
        ("worker", "worker", lambda r: r.get("worker")),
        ("status", "status", lambda r: r.get("status")),
        ("quality", "quality", lambda r: r.get("quality")),
    ]
    if test_error:
        columns.append(
            ("test_error", "test error", lambda r: (r.get("extra") or {}).get("test_error"))
        )
    columns += [
        ("runtime", "runtime s", lambda r: r.get("runtime")),
        ("started", "started", lambda r: r.get("started")),
    ]
    columns += [(p, p, lambda r, p=p: (r.get("config") or {}).get(p)) for p in params]
    head = "".join(f'<th data-col="{_e(col)}">{_e(title)}</th>' for col, title, _ in columns)
    rows = []
    for record in results.sort_runs(records):
        cells = []
        for col, _, get in columns:
            v = get(record)
            shown = results.format_time(v) if col == "started" else results.format_number(v)
            if col == "status" and record.get("stopped_by_user"):
                shown += " (stopped)"
            css = f' class="{_e(v)}"' if col == "status" else ""
            cells.append(f'<td data-v="{_e(_sort_value(v))}"{css}>{_e(shown)}</td>')
        best = ' class="best"' if record.get("run_id") == best_id else ""
        rows.append(f'<tr data-run="{_e(record.get("run_id"))}"{best}>{"".join(cells)}</tr>')
    return (
        f'<table class="runs" data-sorted="quality"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _summary(group: RunGroup, records: list[dict[str, Any]]) -> str:
    info = group.launch_info()
    counts = Counter(str(r.get("status")) for r in records)
    items = {
        "folder": str(group.path),
        "runs": f"{len(records)} finished of {info.get('budget', '?')} budgeted",
        "statuses": ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none",
        "workers": len({r.get("worker") for r in records}),
    }
    if records:
        first = min(r.get("started") or math.inf for r in records)
        last = max(r.get("ended") or 0 for r in records)
        items["first run started"] = results.format_time(first if first < math.inf else None)
        items["last run ended"] = results.format_time(last or None)
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items()) + "</dl>"


def _incumbent(group: RunGroup, best: dict[str, Any] | None) -> str:
    if best is None:
        return "<p>No run has succeeded yet.</p>"
    items = {
        "run": best["run_id"],
        "worker": best.get("worker"),
        "quality": results.format_number(best.get("quality")),
    }
    items.update({k: results.format_number(v) for k, v in (best.get("extra") or {}).items()})
    items.update({f"{k}": results.format_number(v) for k, v in (best.get("config") or {}).items()})
    text = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items())
    command = read_json_object(group.run(best["run_id"]).command)
    if command and command.get("argv"):
        text += f"<dt>command</dt><dd><code>{_e(shlex.join(command['argv']))}</code></dd>"
    return f"<dl>{text}</dl>"


def _plots(records: list[dict[str, Any]], title: str) -> str:
    images = []
    for stem, figure in plots.figures(records, title).items():
        data = base64.b64encode(plots.png_bytes(figure)).decode("ascii")
        images.append(f'<img alt="{_e(stem)}" src="data:image/png;base64,{data}">')
    return f'<div class="plots">{"".join(images)}</div>'


def render(groups: list[RunGroup]) -> str:
    """The whole report page for GROUPS (each rungroup its own section)."""
    sections = []
    for group in groups:
        records = group.records()
        best = results.best_run(records)
        best_id = best["run_id"] if best else None
        name = group.path.name
        sections.append(
            f'<section id="{_e(name)}"><h2>Rungroup {_e(name)}</h2>'
            f"{_summary(group, records)}<h3>Incumbent (best run)</h3>{_incumbent(group, best)}"
            f"<h3>Plots</h3>{_plots(records, name)}"
            f"<h3>All runs</h3><p>Click a column header to sort (again to reverse).</p>"
            f"{_runs_table(records, best_id)}</section>"
        )
    title = "smac-bridge report: " + ", ".join(g.path.name for g in groups)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"
        f"<p>Written {_e(results.format_time(time.time()))}.</p>{''.join(sections)}"
        f"<script>{_JS}</script></body></html>\n"
    )


def write(groups: list[RunGroup], out_file: Path) -> Path:
    """Write the report of GROUPS to OUT_FILE (folders created as needed)."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(render(groups), encoding="utf-8")
    return out_file
