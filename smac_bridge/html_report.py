"""`smac-bridge report --html`: one self-contained HTML page per output directory.

The page needs no network and no files next to it (CSS and JS inline, plots as base64 PNG),
so it can be mailed or archived with the model. Per rungroup it shows a summary (with any
failed worker), the default configuration against the best run, the incumbent, the workers,
the plots, and a table of all runs that sorts when a header is clicked; the URL hash
`#sort=<column>` (or `#sort=-<column>` for descending) sorts it on load, which makes a sorted
view linkable. Partial qualities and failure qualities are marked as such, never shown as
plain results.
"""

from __future__ import annotations

import base64
import html
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from smac_bridge import monitor, outcomes, plot_axes, plots, protocol, results
from smac_bridge.group_setup import GroupSetup, read_setup
from smac_bridge.incumbent import Incumbent, incumbent_and_best_run, mean_cost
from smac_bridge.layout import write_user_file
from smac_bridge.records import RunRecord, WorkerInfo, run_order, same_config, shown_budget
from smac_bridge.rundata import RunGroup

#: Worker states that mean the worker stopped before the budget was used up.
_BAD_WORKER_STATES = ("failed", "lost")
_MESSAGE_LINES = 6

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
td.partial { color: #8250df; } td.failed { color: #888; font-style: italic; }
p.warning { color: #9a6700; }
table.runs td.reason { text-align: left; max-width: 32em; }
table.compare { border-collapse: collapse; margin-bottom: 0.5em; }
table.compare th, table.compare td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
table.compare td.number { text-align: right; }
table.workers { border-collapse: collapse; }
table.workers th, table.workers td { border: 1px solid #ddd; padding: 3px 8px; text-align: left;
  vertical-align: top; }
tr.bad-worker { background: #fde7e6; }
pre { margin: 0; white-space: pre-wrap; font-size: 0.85em; }
.alert { background: #fde7e6; border-left: 4px solid #b3261e; padding: 0.5em 1em; }
"""

# Cells carry their sort key in data-v; numbers compare as numbers and come before text, empty
# cells go last;
# ties keep the order of run ids. A quality cell's data-g ranks finished, partial and failed
# runs before their qualities compare, as `results` sorts them.
_JS = r"""
function sortTable(table, column, descending) {
  const body = table.tBodies[0];
  const heads = [...table.tHead.rows[0].cells];
  let index = heads.findIndex(th => th.dataset.col === column);
  if (index < 0) index = heads.findIndex(th => th.dataset.col === "config." + column);
  if (index < 0) return;
  column = heads[index].dataset.col;
  const key = row => row.cells[index].dataset.v;
  // numbers as `results` reads them (not "Infinity" or "0x10")
  const number = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
  const group = row => Number(row.cells[index].dataset.g || 0);
  const budget = row => Number(row.cells[index].dataset.b || 0);
  const rows = [...body.rows];
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    const byRun = a.dataset.run.localeCompare(b.dataset.run);
    // as `results` sorts: missing values last, then the highest budget first, either way
    const byMissing = (x === "") - (y === "");
    if (byMissing) return byMissing;
    const byBudget = budget(b) - budget(a);
    if (byBudget) return byBudget;
    if (x === "") return byRun;
    const byGroup = group(a) - group(b);
    if (byGroup) return descending ? -byGroup : byGroup;
    // numbers before text either way, as `results` sorts: "1a" < "9" < "10" < "1a" had no order
    const mx = number.test(x), my = number.test(y);
    if (mx !== my) return mx ? -1 : 1;
    const c = mx ? Number(x) - Number(y) : x.localeCompare(y);
    return (descending ? -c : c) || byRun;
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
    if isinstance(x, float) and math.isinf(x):  # a number to the script, as to `results`
        return "1e999" if x > 0 else "-1e999"
    return str(x)


def _quality_cell(record: RunRecord, failure: float) -> tuple[str, str]:
    """A run's quality as the table shows it, and the cell's class: a partial quality says
    so, and a failure quality is shown as what it means, no quality."""
    kind = outcomes.kind(record, failure)
    return results.quality_text(record, failure), kind if kind != "ok" else ""


def _runs_table(
    records: list[RunRecord],
    best_id: str | None,
    failure: float,
    result: str,
    orders: dict[str, list[str]],
) -> str:
    """Every run, best first by RESULT, the record field that SMAC minimised
    (RunGroup.result_field); an ordinal parameter sorts in its declared ORDERS."""
    params = plot_axes.parameters(records)
    test_error = results.has_test_error(records)
    budgets = len({record.get("budget") for record in records}) > 1  # sorted apart by quality
    columns: list[tuple[str, str, Any]] = [
        ("run_id", "run", lambda r: r.get("run_id")),
        ("worker", "worker", lambda r: r.get("worker")),
        ("status", "status", lambda r: r.get("status")),
        ("reason", "reason", outcomes.reason),
    ]
    if any(record.get("gpu") for record in records):  # a slow or failing card shows here
        columns.append(("gpu", "gpu", lambda r: r.get("gpu") or "cpu"))
    if len({record.get("instance") for record in records}) > 1:  # an easy fold is no match
        columns.append(("instance", "instance", lambda r: r.get("instance")))
    if any(record.get("budget") is not None for record in records):
        columns.append(("budget", "budget", shown_budget))
    columns.append((result, result, lambda r: r.get(result)))
    if test_error:
        columns.append(
            ("test_error", "test error", lambda r: (r.get("extra") or {}).get("test_error"))
        )
    columns += [
        ("runtime", "runtime s", lambda r: r.get("runtime")),
        ("started", "started", lambda r: r.get("started")),
    ]
    # `config.NAME`, as in the CSV: a parameter may be called status, started or quality
    columns += [(f"config.{p}", p, lambda r, p=p: (r.get("config") or {}).get(p)) for p in params]
    head = "".join(f'<th data-col="{_e(col)}">{_e(title)}</th>' for col, title, _ in columns)
    rows = []
    for record in results.sort_runs(records, result, failure=failure):
        cells = []
        for col, _, get in columns:
            v = get(record)
            shown = results.format_time(v) if col == "started" else results.format_number(v)
            css = v if col == "status" else col if col == "reason" else ""
            group = ""
            if col == "status":
                shown = outcomes.status_label(record)
            if col == "quality":
                shown, css = _quality_cell(record, failure)
                group = f' data-g="{results.QUALITY_GROUPS[outcomes.kind(record, failure)]}"'
                if budgets:
                    budget = shown_budget(record)
                    group += f' data-b="{_sort_value(math.inf if budget is None else budget)}"'
            css = f' class="{_e(css)}"' if css else ""
            order = orders.get(col.removeprefix("config."), []) if col.startswith("config.") else []
            key = order.index(str(v)) if str(v) in order else _sort_value(v)
            cells.append(f'<td data-v="{_e(key)}"{group}{css}>{_e(shown)}</td>')
        best = ' class="best"' if record.get("run_id") == best_id else ""
        rows.append(f'<tr data-run="{_e(record.get("run_id"))}"{best}>{"".join(cells)}</tr>')
    return (
        f'<table class="runs" data-sorted="{result}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _statuses(records: list[RunRecord], failure: float) -> str:
    """E.g. "14 SAT, 6 TIMEOUT (5 with a partial quality, 4 pruned)"."""
    counts = Counter(str(r.get("status")) for r in records)
    partial = Counter(
        str(r.get("status")) for r in records if outcomes.kind(r, failure) == "partial"
    )
    pruned = Counter(str(r.get("status")) for r in records if outcomes.is_pruned(r))
    parts = []
    for status, n in sorted(counts.items()):
        said = [f"{partial[status]} with a partial quality"] if partial[status] else []
        said += [f"{pruned[status]} pruned"] if pruned[status] else []
        parts.append(f"{n} {status}" + (f" ({', '.join(said)})" if said else ""))
    return ", ".join(parts) or "none"


def _heartbeats(group: RunGroup) -> list[WorkerInfo]:
    """The workers' heartbeats, with "lost" for a worker that claims to work but is dead (a
    launch killed with SIGKILL), as `status` and the dashboard say."""
    return [{**info, "state": monitor.worker_state(info)} for info in group.workers()]


def _bad_workers(workers: list[WorkerInfo]) -> list[WorkerInfo]:
    return [w for w in workers if w.get("state") in _BAD_WORKER_STATES]


def _bad_counts(bad: list[WorkerInfo]) -> str:
    """ " (1 failed, 2 lost)": how many workers ended in each bad state."""
    counts = Counter(str(w.get("state")) for w in bad)
    return f" ({', '.join(f'{n} {state}' for state, n in sorted(counts.items()))})" if bad else ""


def _summary(group: RunGroup, records: list[RunRecord], failure: float) -> str:
    info = group.launch_info()
    workers = _heartbeats(group)
    bad = _bad_workers(workers)
    count = len(workers) or len({r.get("worker") for r in records})
    items = {
        "folder": str(group.path),
        "runs": monitor.runs_done_text(len(records), info.get("budget"))
        + monitor.units_text(group.units_used(), info.get("budget_limit")),
        "statuses": _statuses(records, failure),
        "workers": f"{count}" + _bad_counts(bad),
    }
    running, _ = monitor.running_runs(group)
    if monitor.launch_active(group):  # a report written mid-run: its table is of finished runs
        ids = ", ".join(sorted((str(m["run_id"]) for m in running), key=run_order))
        which = f"run {ids} is" if len(running) == 1 else f"runs {ids} are"
        items["still running"] = f"yes: {which} not in the tables yet" if running else "yes"
    if records:
        first = min(r.get("started") or math.inf for r in records)
        last = max(r.get("ended") or 0 for r in records)
        items["first run started"] = results.format_time(first if first < math.inf else None)
        items["last run ended"] = results.format_time(last or None)
    text = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items())
    alerts = "".join(
        f'<p class="alert">Worker {_e(w.get("seed"))} {_e(w.get("state"))}: '
        f"{_e(_headline(w.get('message')))}</p>"
        for w in bad
    )
    return f"{alerts}<dl>{text}</dl>"


def _message_lines(text: Any) -> list[str]:
    """The lines of a worker's message worth showing: the first ones, but the last ones of a
    Python traceback, where the error is."""
    lines = str(text or "").strip().splitlines()
    if lines and lines[0].startswith("Traceback"):
        return lines[-_MESSAGE_LINES:]
    return lines[:_MESSAGE_LINES]


def _headline(text: Any) -> str:
    """The one line that says what went wrong: a traceback's last, else the first."""
    lines = str(text or "").strip().splitlines()
    if not lines:
        return "no message"
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def _workers(group: RunGroup) -> str:
    """Every worker's last heartbeat; failed and lost ones stand out, with the start of their
    message."""
    workers = _heartbeats(group)
    if not workers:
        return "<p>No worker has written a heartbeat.</p>"
    head = "".join(
        f"<th>{h}</th>" for h in ("worker", "state", "host", "runs done", "last heartbeat")
    )
    rows = []
    for worker in workers:
        message = "\n".join(_message_lines(worker.get("message")))
        bad = ' class="bad-worker"' if worker in _bad_workers(workers) else ""
        cells = [
            worker.get("seed"),
            worker.get("state"),
            worker.get("host"),
            worker.get("runs_done"),
            results.format_time(worker.get("updated")),
        ]
        rows.append(
            f'<tr data-worker="{_e(worker.get("seed"))}"{bad}>'
            + "".join(f"<td>{_e('' if c is None else c)}</td>" for c in cells)
            + f"<td><pre>{_e(message)}</pre></td></tr>"
        )
    return (
        f'<table class="workers"><thead><tr>{head}<th>message</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _change(what: str, before: float, after: float, error_rate: bool, negated: bool = False) -> str:
    """How a value changed from the default to the best run, e.g. as accuracies for errors;
    NEGATED (the wrapper's --maximize): as the script's metric, which rose."""
    if negated:
        metric = _change("the metric", -before, -after, False)
        return f"{what} {before:.6g} → {after:.6g}: {metric}"
    if error_rate:
        digits = 1 if f"{before:.3f}" != f"{after:.3f}" else 2
        return (
            f"{what} {100 * before:.{digits}f} % → {100 * after:.{digits}f} % "
            f"(accuracy {100 * (1 - before):.{digits}f} % → {100 * (1 - after):.{digits}f} %)"
        )
    text = f"{what} {before:.6g} → {after:.6g}"
    if before != 0 and before * after >= 0 and before != after:  # across zero: meaningless
        lower = (before - after) / abs(before)
        if abs(lower) < 10:
            text += f" ({abs(lower):.0%} {'lower' if lower > 0 else 'higher'})"
        else:  # as a factor: a change of 1e300 took 300 digits of percent
            text += f" ({after / before:.3g} × the default's)"
    return text


def _default_vs_best(
    records: list[RunRecord],
    setup: GroupSetup,
    failure: float,
    found: Incumbent | None,
    best: RunRecord | None,
    result: str,
) -> str:
    """The default configuration's run beside the best run (FOUND's, the incumbent's):
    validation quality and test error side by side, and what the search gained; by cost for
    a runtime objective (RESULT is the record field SMAC minimised, RunGroup.result_field)."""
    config = setup.default_config()
    if config is None:
        return f"<p>The default configuration is unknown: {_e(setup.problem)}.</p>"
    default = outcomes.run_of_config(records, config, failure)
    if default is None:
        return (
            "<p>The default configuration was not evaluated: no run has its values "
            f"(<code>{_e(results.format_config(config))}</code>).</p>"
        )
    test = results.has_test_error(records)
    by_cost = result == "cost"
    negated = outcomes.negated_metric(records) and not by_cost
    error_rate = not by_cost and outcomes.is_error_rate(records, failure)
    quality_name = (
        "cost"
        if by_cost
        else outcomes.quality_name(True)
        if negated
        else "validation error"
        if test and error_rate
        else "validation"
        if test
        else "quality"
    )
    head = ["", "run", quality_name] + (["test error"] if test else []) + ["configuration"]
    default_runs = outcomes.runs_of_config(records, config)
    incumbent_runs = [r for r in records if found and r["run_id"] in found["run_ids"]]
    if outcomes.on_several_pairs(default_runs) or outcomes.on_several_pairs(incumbent_runs):
        head[1:3] = ["runs", f"mean {quality_name}"]
        compared = _means(config, default_runs, found, head)
        return compared + _mean_gain(config, default_runs, found, quality_name, error_rate, negated)
    rows = []
    for title, run in (("default configuration", default), ("best run", best)):
        value, test_error, config_text = "no run has succeeded yet", "", ""
        if run is not None:
            value, css = _quality_cell(run, failure)
            if by_cost:
                value, css = results.format_number(run.get("cost")), ""
            if css == "failed":
                value = f"{run.get('status')}: {outcomes.reason(run) or 'no quality'}"
            test_error = results.format_number((run.get("extra") or {}).get("test_error"))
            config_text = results.format_config(run.get("config"))
        numbers = [value, test_error] if test else [value]
        rows.append(
            f'<tr data-row="{_e(title)}"><th>{_e(title)}</th>'
            f"<td>{_e(run.get('run_id') if run else '')}</td>"
            + "".join(f'<td class="number">{_e(n)}</td>' for n in numbers)
            + f"<td>{_e(config_text)}</td></tr>"
        )
    table = (
        '<table class="compare"><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return table + _gain(default, best, failure, error_rate, quality_name, by_cost, negated)


def _means(
    config: dict[str, Any], default_runs: list[RunRecord], found: Incumbent | None, head: list[str]
) -> str:
    """The default configuration beside the incumbent when either ran on several seeds or
    instances: each one's mean cost over its runs, as the incumbent rule ranks them (one
    run on an easy instance against another on a hard one told nothing)."""
    entries: list[tuple[str, int, float | None, dict[str, Any] | None]] = [
        ("default configuration", len(default_runs), mean_cost(default_runs), config),
        ("incumbent", 0, None, None),
    ]
    if found is not None:
        entries[1] = ("incumbent", len(found["run_ids"]), found["cost"], found["config"])
    rows = []
    for title, count, mean, chosen in entries:
        value = "no finished run yet" if mean is None else results.format_number(mean)
        cells = [str(count) if count else "", value]
        cells += [""] * (len(head) - 4)  # no test error: its runs' differ by instance
        shown = results.format_config(chosen) if chosen is not None else ""
        rows.append(
            f'<tr data-row="{_e(title)}"><th>{_e(title)}</th>'
            + "".join(f'<td class="number">{_e(c)}</td>' for c in cells)
            + f"<td>{_e(shown)}</td></tr>"
        )
    return (
        '<table class="compare"><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _mean_gain(
    config: dict[str, Any],
    default_runs: list[RunRecord],
    found: Incumbent | None,
    quality_name: str,
    error_rate: bool,
    negated: bool,
) -> str:
    """What the search gained over the default, mean against mean."""
    if found is None:
        return ""
    if same_config(found["config"], config):
        return "<p>The default configuration is the incumbent.</p>"
    before = mean_cost(default_runs)
    if before is None:
        return "<p>The default configuration has no finished run to compare with.</p>"
    change = _change(f"mean {quality_name}", before, found["cost"], error_rate, negated)
    runs = f"over {len(default_runs)} and {len(found['run_ids'])} runs of their seeds or instances"
    return f'<p class="gain">{_e(f"{change}, {runs}")}.</p>'


def _gain(
    default: RunRecord,
    best: RunRecord | None,
    failure: float,
    error_rate: bool,
    quality_name: str,
    by_cost: bool,
    negated: bool = False,
) -> str:
    """What the search gained over the default; BY_COST: a runtime objective, every run has a
    cost (PAR-k for an unsolved one); NEGATED: the wrapper's --maximize."""
    if best is None:
        return ""
    if best.get("run_id") == default.get("run_id"):
        return "<p>The default configuration is the best run.</p>"
    before, after = (
        float(r["cost"]) if by_cost else outcomes.shown_quality(r, failure) for r in (default, best)
    )
    if before is None or after is None:
        return "<p>The default configuration has no quality to compare with.</p>"
    changes = [_change(quality_name, before, after, error_rate, negated)]
    tests = [(r.get("extra") or {}).get("test_error") for r in (default, best)]
    finite = [float(t) for t in tests if isinstance(t, int | float) and math.isfinite(t)]
    if len(finite) == 2:  # a NaN test error has nothing to compare
        changes.append(_change("test error", finite[0], finite[1], error_rate))
    if outcomes.kind(default, failure) == "partial":
        changes.append("the default's quality is partial: its run was stopped")
    budgets = [shown_budget(r) for r in (default, best)]
    if budgets[0] != budgets[1]:  # multi-fidelity: the default may never have been promoted
        shown = [results.format_number(b) for b in budgets]
        changes.append(
            f"the default was trained with budget {shown[0]}, the best run with {shown[1]}:"
            " the gain is partly the budget's"
        )
    return f'<p class="gain">{_e("; ".join(changes))}.</p>'


def _incumbent(group: RunGroup, best: RunRecord | None) -> str:
    """The best run's numbers, what its script reported and its configuration, as `best`
    prints them: a reported value named like a parameter is shown beside it, not over it."""
    if best is None:
        return "<p>No run has succeeded yet.</p>"
    items: list[tuple[str, Any]] = [("run", best["run_id"]), ("worker", best.get("worker"))]
    if group.result_field() == "cost":  # what was minimised; the quality is the target's
        items.append(("cost", results.format_number(best.get("cost"))))
    if (quality := results.best_quality(best, group)) is not None:
        items.append(("quality", quality))
    if best.get("budget") is not None:
        items.append(("budget", results.format_number(shown_budget(best))))
    items += [(k, results.format_number(v)) for k, v in results.reported_values(best).items()]
    items += [(k, results.format_value(v)) for k, v in (best.get("config") or {}).items()]
    text = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    command = results.read_command(group.run(best["run_id"]).command)
    if command and command.get("argv"):
        text += (
            f"<dt>command</dt><dd><code>{_e(protocol.shell_command(command['argv']))}</code></dd>"
        )
    note = results.short_of_max_budget(best, group)
    return f"<dl>{text}</dl>" + (f'<p class="warning">{_e(note)}.</p>' if note else "")


def _plots(group: RunGroup, records: list[RunRecord], title: str, setup: GroupSetup) -> str:
    images = []
    curves = group.curves()
    for stem, figure in plots.figures(records, title, setup, curves).items():
        data = base64.b64encode(plots.png_bytes(figure)).decode("ascii")
        images.append(f'<img alt="{_e(stem)}" src="data:image/png;base64,{data}">')
    return f'<div class="plots">{"".join(images)}</div>'


def render(groups: list[RunGroup]) -> str:
    """The whole report page for GROUPS (each rungroup its own section)."""
    sections = []
    for group in groups:
        records = group.records()
        results.warn_of_skipped_lines(group)
        setup = read_setup(group)
        failure = outcomes.failure_quality(records, setup.failure_quality)
        found = incumbent_and_best_run(records)
        chosen, best = found if found is not None else (None, None)
        best_id = best["run_id"] if best else None
        name = group.path.name
        orders = results.ordinal_orders(setup.space)
        sections.append(
            f'<section id="{_e(name)}"><h2>Rungroup {_e(name)}</h2>'
            f"{_summary(group, records, failure)}"
            f'<h3>Default against best</h3><div class="default-vs-best">'
            f"{_default_vs_best(records, setup, failure, chosen, best, group.result_field())}"
            "</div>"
            f"<h3>Incumbent (best run)</h3>{_incumbent(group, best)}"
            f'<h3>Workers</h3><div class="workers">{_workers(group)}</div>'
            f"<h3>Plots</h3>{_plots(group, records, name, setup)}"
            f"<h3>All runs</h3><p>Click a column header to sort (again to reverse). "
            f"{_what_failed_runs_cost(setup, failure)}</p>"
            f"{_runs_table(records, best_id, failure, group.result_field(), orders)}</section>"
        )
    title = "smac-bridge report: " + ", ".join(g.path.name for g in groups)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"
        f"<p>Written {_e(results.format_time(time.time()))}.</p>{''.join(sections)}"
        f"<script>{_JS}</script></body></html>\n"
    )


def _what_failed_runs_cost(setup: GroupSetup, failure: float) -> str:
    """The note above the runs table: what the optimiser was told of runs without a result."""
    if setup.run_obj == "runtime":  # the cost column says it: PAR-k of the cutoff
        return (
            "The cost is what the optimiser minimised: the runtime of a solved run, the"
            " overall objective's penalty (PAR-k of the cutoff) for a timed-out or failed one."
        )
    if setup.failure_quality is None:  # a classic target's lines said what each run cost
        told = "what its result line said, at least 1e9 for a crash: the cost in the CSV"
    else:
        told = f"a failure quality instead, here {_e(results.format_number(failure))}"
    return (
        "A partial quality is what a stopped or timed-out run reached; a failed run has no"
        f" quality (the optimiser was given {told})."
    )


def write(groups: list[RunGroup], out_file: Path) -> Path:
    """Write the report of GROUPS to OUT_FILE (folders created as needed). Under a locale
    that cannot decode a folder's name, the name stands as its own bytes (surrogateescape)."""
    page = render(groups).encode("utf-8", errors="surrogateescape")
    write_user_file(out_file, page)  # a full disk: an earlier one whole
    return out_file
