"""All runs of an output directory: rows to sort, filter, export as CSV/JSON, and the best run.

Everything here only reads, through `rundata`, so it is safe on a directory that a launch is
still writing to. The rest of this module works on plain run records (the dicts of
`docs/architecture.md`), which keeps the table, the plots and the HTML report consistent.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from smac_bridge.errors import InputError
from smac_bridge.incumbent import best_run, incumbent_and_best_run
from smac_bridge.layout import json_text, read_json_object, write_text_atomic
from smac_bridge.outcomes import (
    NO_QUALITY,
    failure_quality,
    kind,
    negated_metric,
    reason,
    status_label,
)
from smac_bridge.protocol import DECIMAL, NEGATED_METRIC
from smac_bridge.records import RunRecord, run_order, shown_budget
from smac_bridge.rundata import RunGroup

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace

#: The record fields every JSON row carries, in this order.
JSON_FIELDS = (
    "run_id",
    "worker",
    "status",
    "quality",
    "runtime",
    "config",
    "extra",
    "started",
    "ended",
)
#: Top-level record fields a user can sort on (besides parameters and extra values).
SORTABLE = (
    "run_id",
    "worker",
    "status",
    "quality",
    "cost",
    "runtime",
    "started",
    "ended",
    "elapsed",
    "instance",
    "reason",
    "budget",
    "gpu",
    "seed",
    "cpu_time",
    "peak_rss_mb",
)
#: The fields above that a parameter of the same name hides: the record's own are shown as
#: columns too, but a parameter called `gpu` (a count) or `seed` is what a user sorts by.
PARAMETER_FIRST = ("reason", "budget", "gpu", "seed", "cpu_time", "peak_rss_mb")
QUALITY_GROUPS = {"ok": 0, "partial": 1, "failed": 2}
"""By quality, finished runs come first, then partial qualities, then failed runs."""

_CSV_FIELDS = (
    "rungroup",
    "run_id",
    "worker",
    "gpu",
    "instance",
    "seed",
    "status",
    "reason",
    "quality",
    "cost",
    "runtime",
    "started",
    "ended",
    "best",
    "stopped_by_user",
    "partial",
    "reused_from",
    "budget",
    "promoted_from",
    "run_dir",
)


@dataclass
class GroupRuns:
    """The finished runs of one rungroup, as read at one moment, and its best run (of all its
    runs, whichever are shown)."""

    name: str
    path: Path
    records: list[RunRecord]
    best_id: str | None
    failure: float | None = None
    """The quality that means "no quality" (the wrapper's --failure-quality); None: told by
    the runs (outcomes.failure_quality)."""
    result: str = "quality"
    """The record field that is a run's result (RunGroup.result_field): `cost` for a runtime
    objective."""
    orders: dict[str, list[str]] = field(default_factory=dict)
    """The declared order of each ordinal parameter (ordinal_orders)."""
    negated: bool = False
    """The wrapper's --maximize: a quality is minus the script's metric."""

    def sort_column(self, sort: str) -> str:
        """The column that SORT means here: by quality, a runtime objective sorts by cost
        (only the quality column: `extra.solution_quality` stays the script's value)."""
        return sort.replace("quality", self.result) if sort.lstrip("-") == "quality" else sort


def find_groups(path: str | Path) -> list[RunGroup]:
    """PATH itself when it is a rungroup folder, else the rungroup folders directly in it.

    Users pass either the outdir of `launch` or one `<outdir>/<rungroup>` inside it; an
    InputError says so when PATH is neither.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(path, None, "no such output directory")
    group = RunGroup(root)
    if group.holds_launch_or_records():
        return [group]
    groups = [RunGroup(p) for p in sorted(root.iterdir()) if _readable_rungroup(p)]
    if not groups and group.is_rungroup():  # a rungroup that holds nothing yet
        return [group]
    if not groups:
        expected = "expected a smac-bridge output directory (from `launch`)"
        inside = [p for p in sorted(root.iterdir()) if p.is_dir() and _holds_rungroups(p)]
        if inside:  # `results .` where the launch wrote ./smac-bridge-output
            expected += "; it holds " + ", ".join(str(p) for p in inside[:3]) + ": pass that"
        raise InputError(path, None, expected)
    return groups


_UNREADABLE_WARNED: set[Path] = set()  # said once per process: the dashboard looks each second


def _readable_rungroup(folder: Path) -> bool:
    """Whether FOLDER is a rungroup this user can read; one that is not readable (another
    user's, made under umask 077) is left out with a warning, not the whole outdir's view."""
    try:
        return folder.is_dir() and RunGroup(folder).is_rungroup()
    except OSError as error:
        if folder not in _UNREADABLE_WARNED:
            _UNREADABLE_WARNED.add(folder)
            why = error.strerror or str(error)
            print(f"warning: {folder}: left out, it cannot be read ({why})", file=sys.stderr)
        return False


def _holds_rungroups(folder: Path) -> bool:
    try:
        return any(p.is_dir() and RunGroup(p).is_rungroup() for p in folder.iterdir())
    except OSError:  # a folder this user may not read
        return False


def skipped_text(where: Sequence[str], unreadable: Mapping[Path, str] | None = None) -> str:
    """What every view says of a rungroup's record lines that are no records (WHERE: their
    file:line) and of its record files this user cannot read (UNREADABLE: why); "" for none."""
    said = []
    if where:
        named = ", ".join(where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
        said.append(
            f"{len(where)} line(s) of the runs-*.jsonl files are not run records (damaged, or"
            f" edited by hand) and are left out: {named}"
        )
    if unreadable:
        files = ", ".join(f"{path.name} ({why})" for path, why in sorted(unreadable.items()))
        said.append(f"record files that cannot be read, their runs left out: {files}")
    return "; ".join(said)


def warn_of_skipped_lines(group: RunGroup) -> None:
    """Say on stderr what GROUP's last records() left out, if anything."""
    if text := skipped_text(group.skipped_lines, group.unreadable_records):
        print(f"warning: {group.path}: {text}", file=sys.stderr)


def load(path: str | Path) -> list[GroupRuns]:
    """The runs of every rungroup under PATH (an outdir) or of PATH itself (a rungroup), with
    the failure quality its scenario's wrapper gives (MNIST's 1.0 is no quality)."""
    from smac_bridge.group_setup import read_setup

    loaded = []
    for group in find_groups(path):
        records = group.records()
        warn_of_skipped_lines(group)
        best = best_run(records)
        best_id = best["run_id"] if best else None
        setup = read_setup(group)
        failure = failure_quality(records, setup.failure_quality)
        result = group.result_field()
        orders = ordinal_orders(setup.space)
        loaded.append(
            GroupRuns(
                group.path.name,
                group.path,
                records,
                best_id,
                failure,
                result,
                orders,
                negated_metric(records),
            )
        )
    return loaded


def ordinal_orders(space: ConfigurationSpace | None) -> dict[str, list[str]]:
    """The values of each ordinal parameter of SPACE (a ConfigurationSpace, or None) in their
    declared order: small < medium < large sorts so, not by the alphabet."""
    from ConfigSpace import OrdinalHyperparameter

    return {
        hp.name: [str(v) for v in hp.sequence]
        for hp in (space.values() if space is not None else ())
        if isinstance(hp, OrdinalHyperparameter)
    }


def value(record: RunRecord, column: str) -> Any:
    """A record's value for COLUMN as `--sort` reads it: a parameter named `seed` or `gpu`
    is the parameter, not the record's field (see `field_value`)."""
    config = record.get("config") or {}
    if column in PARAMETER_FIRST and column in config:
        return config[column]
    return field_value(record, column)


def field_value(record: RunRecord, column: str) -> Any:
    """A record's value for COLUMN: a field the table shows, else a parameter, else an extra
    value."""
    config = record.get("config") or {}
    if column == "reason":
        return reason(record)
    if column == "budget":
        return shown_budget(record)
    if column == "elapsed":
        started, ended = record.get("started"), record.get("ended")
        return ended - started if started is not None and ended is not None else None
    if column in SORTABLE and column in record:
        return record[column]  # type: ignore[literal-required]
    if column in config:
        return config[column]
    extra = record.get("extra") or {}
    # `config.NAME` and `extra.NAME`, as the CSV names them: a parameter or an extra value
    # named like a field (`quality`, `status`) is reached so
    kind, _, name = column.partition(".")
    if kind == "config" and name in config:
        return config[name]
    if kind == "extra" and column not in extra:
        return extra.get(name)
    return extra.get(column)


def columns(records: Iterable[RunRecord]) -> list[str]:
    """Every column a user may sort on: record fields, parameters, extra values."""
    names = list(SORTABLE)
    for record in records:
        for key in [*(record.get("config") or {}), *(record.get("extra") or {})]:
            if key not in names:
                names.append(key)
    return names


_DECIMAL = re.compile(rf"\s*(?:{DECIMAL.pattern})\s*")
"""Text that is a number. Not Python's float: a category named `nan` or `inf` is a word."""


def _sort_key(x: Any) -> tuple[int, Any]:
    """Numbers before text, missing values (and NaN) last, so mixed columns still sort; text
    that is a number (a categorical's `{16, 32, 128}`) sorts as that number, not as 128 < 16."""
    if isinstance(x, str):
        if not _DECIMAL.fullmatch(x):
            return (1, x)
        x = float(x)
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return (2, 0)
    if isinstance(x, bool | int | float):
        return (0, float(x))
    return (1, str(x))


def sort_runs(
    records: Sequence[RunRecord],
    column: str = "quality",
    descending: bool = False,
    failure: float | None = None,
    order: Sequence[str] | None = None,
) -> list[RunRecord]:
    """The records ordered by COLUMN (ties by run id), those without it last; ORDER: the
    declared order of an ordinal parameter's values (values outside it after). By quality, the
    finished runs come first, then the partial qualities of stopped runs, then the failed
    runs: a partial quality never outranks a trained model (outcomes.kind). Qualities of a
    multi-fidelity launch sort within each budget, the highest budget first: a quality after
    one epoch is no trained model to rank among nine-epoch ones either. FAILURE: the quality
    that means "no quality" (None: told by the runs)."""
    ordered = sorted(records, key=lambda r: run_order(str(r.get("run_id"))))
    present = [r for r in ordered if value(r, column) is not None]
    missing = [r for r in ordered if value(r, column) is None]
    rank = {v: i for i, v in enumerate(order or ())}

    def key(record: RunRecord) -> tuple[int, Any]:
        found = value(record, column)
        if str(found) in rank:
            return (0, rank[str(found)])
        group, sortable = _sort_key(found)
        return (group + 1, sortable) if rank else (group, sortable)  # after the declared ones

    present.sort(key=key, reverse=descending)
    present.sort(key=lambda r: key(r)[0])  # NaN last either way
    if column == "quality":
        failure = failure_quality(records, failure)
        present.sort(key=lambda r: QUALITY_GROUPS[kind(r, failure)], reverse=descending)
    if column == "quality" and len({r.get("budget") for r in records}) > 1:
        for runs in (present, missing):  # stable: the quality order stays within a budget
            runs.sort(key=lambda r: -float(shown_budget(r) or math.inf))
    return present + missing


def filter_status(records: Iterable[RunRecord], statuses: Iterable[str]) -> list[RunRecord]:
    """Only the records whose status is one of STATUSES (case-insensitive)."""
    wanted = {s.strip().upper() for s in statuses if s.strip()}
    return [r for r in records if str(r.get("status", "")).upper() in wanted]


def space_parameters(groups: Iterable[GroupRuns]) -> list[str]:
    """The parameters of the GROUPS' search spaces (space.pcs), whether or not a run set them:
    a conditional parameter no run has activated yet is still one to sort by."""
    from smac_bridge.pcs import read_pcs

    names: list[str] = []
    for group in groups:
        path = RunGroup(group.path).layout.space
        try:
            space = read_pcs(path).space if path.exists() else None
        except InputError:
            continue  # a damaged copy: the runs' own parameters still sort
        names += [name for name in (space or []) if name not in names]
    return names


def check_sort_column(sort: str, records: Iterable[RunRecord], also: Iterable[str] = ()) -> None:
    """ValueError unless SORT (`-col` for descending) names a column some run of RECORDS has,
    or one of ALSO (all rungroups shown: a column one of them lacks sorts its runs last)."""
    known = columns(records)
    known += [name for name in also if name not in known]
    kind, _, name = sort.removeprefix("-").partition(".")
    if kind in ("config", "extra") and name in known:  # as the CSV names them
        return
    if sort.removeprefix("-") not in known:
        column = sort.removeprefix("-")
        raise ValueError(f"unknown column {column!r}; expected one of: {', '.join(known)}")


def select(
    records: Sequence[RunRecord],
    sort: str = "quality",
    top: int | None = None,
    statuses: str | None = None,
    failure: float | None = None,
    orders: Mapping[str, Sequence[str]] | None = None,
) -> list[RunRecord]:
    """What `results` shows: filtered by comma-separated STATUSES, sorted by SORT (`-col` for
    descending; FAILURE and an ordinal's ORDERS as for sort_runs), the first TOP."""
    chosen = filter_status(records, statuses.split(",")) if statuses else list(records)
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    chosen = sort_runs(chosen, column, descending, failure, (orders or {}).get(column))
    return chosen[:top] if top is not None else chosen


def has_test_error(records: Iterable[RunRecord]) -> bool:
    """Whether any run reported a test error next to its validation quality."""
    return any("test_error" in (r.get("extra") or {}) for r in records)


def json_rows(shown: GroupRuns) -> list[dict[str, Any]]:
    """The runs of SHOWN as the JSON objects `results --json` prints: the fixed fields
    first, `best` true on the incumbent's best run (incumbent.py), and `partial` as the
    table's mark and the CSV say it (not the flag of a run that crashed after a partial
    report, which has no quality)."""
    failure = failure_quality(shown.records, shown.failure)
    rows = []
    for record in shown.records:
        row: dict[str, Any] = {"rungroup": shown.name}
        row.update({name: record.get(name) for name in JSON_FIELDS})
        row["reason"] = reason(record) or ""
        row["best"] = record.get("run_id") == shown.best_id
        row["partial"] = kind(record, failure) == "partial"
        row.update({k: v for k, v in record.items() if k not in row})
        rows.append(row)
    return rows


def write_csv(groups: Sequence[GroupRuns], stream: IO[str]) -> None:
    """One CSV row per run: record fields, then `config.<name>` and `extra.<key>` columns. The
    parameters are those of the search spaces, whichever runs are written (`--top`), then any
    only earlier runs have (a PCS changed since)."""
    params = space_parameters(groups)
    extras: list[str] = []
    for group in groups:
        for record in group.records:
            params += [k for k in record.get("config") or {} if k not in params]
            extras += [k for k in record.get("extra") or {} if k not in extras]
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(
        [*_CSV_FIELDS, *(f"config.{p}" for p in params), *(f"extra.{e}" for e in extras)]
    )
    for group in groups:
        failure = failure_quality(group.records, group.failure)
        for record in group.records:
            row = [_csv_field(group, record, f, failure) for f in _CSV_FIELDS]
            row += [(record.get("config") or {}).get(p) for p in params]
            row += [(record.get("extra") or {}).get(e) for e in extras]
            writer.writerow(["" if x is None else _csv_value(x) for x in row])


def write_curves_csv(groups: Sequence[GroupRuns], stream: IO[str]) -> tuple[int, int]:
    """The learning curves of the runs GROUPS hold (the table's rows, filtered and sorted as
    it is) that reported per step: one row per point (rungroup, run_id, step, quality), for a
    spreadsheet or a plot of one's own. Returns how many points and runs it wrote."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["rungroup", "run_id", "step", "quality"])
    points = runs = 0
    for group in groups:
        curves = RunGroup(group.path).curves()
        for run_id in (record["run_id"] for record in group.records):
            curve = curves.get(run_id, [])
            runs += bool(curve)
            points += len(curve)
            for point in curve:
                quality = "" if point["quality"] is None else repr(point["quality"])
                writer.writerow([group.name, run_id, _csv_value(point["step"]), quality])
    return points, runs


def _csv_field(group: GroupRuns, record: RunRecord, name: str, failure: float) -> Any:
    if name == "rungroup":
        return group.name
    if name == "best":
        return record["run_id"] == group.best_id
    if name == "partial":  # as the table's "(partial)": not a failed run's last report
        return kind(record, failure) == "partial"
    if name in ("reason", "budget"):  # the record's, whatever parameter shares the name
        return field_value(record, name)
    return record.get(name)


def _csv_value(x: Any) -> str:
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, dict | list):
        return json.dumps(x)
    return str(x)


def format_value(x: Any) -> str:
    """A parameter's value in full, as the script got it (a table's 6 digits would retrain
    another configuration): a real as Python writes it back exactly; the rest as
    format_number."""
    if isinstance(x, float):
        return repr(x)
    return format_number(x)


def best_quality(record: RunRecord, group: RunGroup) -> str | None:
    """The best run's quality as `best` and the report show it; None for a runtime
    objective's solve that has no quality of its own (an UNSAT one, which the wrapper gave
    SMAC's crash quality): its cost is its result."""
    quality = record.get("quality")
    if group.result_field() == "cost" and quality == NO_QUALITY:
        return None
    return format_number(quality)


def format_number(x: Any) -> str:
    """Numbers short enough for a table cell; a reported list or dict as JSON, as the CSV
    writes it (not Python's repr); anything else as text, missing as empty."""
    if x is None:
        return ""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, dict | list):
        return json.dumps(x)
    return str(x)


def quality_text(record: RunRecord, failure: float) -> str:
    """A run's quality as tables show it: a partial one says so, and a failure quality (1e9,
    or the wrapper's --failure-quality) is shown as what it means, no quality."""
    found = kind(record, failure)
    if found == "failed":
        return "no quality"
    shown = format_number(record.get("quality"))
    return shown + " (partial)" if found == "partial" else shown


def format_time(epoch: float | None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An epoch as local date and time, the way a user reads a log."""
    if epoch is None:
        return ""
    return time.strftime(pattern, time.localtime(epoch))


def format_config(config: dict[str, Any] | None, between: str = " ") -> str:
    """A configuration as `name=value` pairs, the way the table shows it."""
    return between.join(printable(f"{k}={format_number(v)}") for k, v in (config or {}).items())


def reported_values(record: RunRecord) -> dict[str, Any]:
    """What a run's script (and its wrapper) reported beside its quality, less the wrapper's
    `negated_metric` mark, which the quality's label says (`minus the metric`)."""
    return {k: v for k, v in (record.get("extra") or {}).items() if k != NEGATED_METRIC}


def printable(text: str) -> str:
    """TEXT with what a terminal would act on escaped as Python writes it (`\\x1b`, `\\n`,
    `\\u202e`): a script's colour codes in a reason, a value from a hand-edited file, so that
    no cell recolours the terminal, moves its cursor or turns its text around."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def table(
    records: Sequence[RunRecord],
    title: str,
    best_id: str | None = None,
    compact: bool = False,
    failure: float | None = None,
    result: str = "quality",
) -> Any:
    """A rich Table of the runs; the best run's row is bold, failed statuses are coloured and
    carry their reason. COMPACT, for narrow terminals, leaves out the start time and gives
    each parameter of a configuration a line of its own, so that none is cut in two. FAILURE:
    the quality that means "no quality" (None: told by the runs). RESULT: the record field
    that is a run's result, `cost` for a runtime objective (RunGroup.result_field)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    test_error = has_test_error(records)
    failure = failure_quality(records, failure)
    reasons = any(reason(record) for record in records)
    budgets = any(record.get("budget") is not None for record in records)
    gpus = any(record.get("gpu") for record in records)
    instances = len({record.get("instance") for record in records}) > 1
    view = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("run", "worker", "status"):
        view.add_column(name, justify="left" if name == "status" else "right", no_wrap=True)
    if gpus:  # which card ran it: a slow or failing GPU shows in its runs
        view.add_column("gpu", no_wrap=True)
    if instances:  # a quality on an easy instance is no match for one on a hard one
        view.add_column("instance", overflow="fold", max_width=24)
    if budgets:  # multi-fidelity: a quality after 1 epoch is no match for one after 27
        view.add_column("budget", justify="right", no_wrap=True)
    by_cost = result == "cost"
    title = "cost" if by_cost else "validation" if test_error else "quality"
    view.add_column(title, justify="right", no_wrap=True)
    if test_error:
        view.add_column("test error", justify="right", no_wrap=True)
    view.add_column("runtime", justify="right", no_wrap=True)
    if not compact:
        view.add_column("started", no_wrap=True)
    if reasons:
        view.add_column("reason", overflow="fold", max_width=40)
    view.add_column("configuration", overflow="fold", min_width=12 if compact else 24)
    colours = {"SAT": "green", "UNSAT": "yellow", "TIMEOUT": "yellow", "CRASHED": "red"}
    for record in records:
        status = status_label(record)
        cells: list[str | Text] = [
            str(record.get("run_id", "")),
            str(record.get("worker", "")),
            Text(status, style=colours.get(str(record.get("status")), "red")),
        ]
        if gpus:
            cells.append(str(record.get("gpu") or "cpu"))
        if instances:
            cells.append(Text(printable(str(record.get("instance", "")))))
        if budgets:
            cells.append(format_number(shown_budget(record)))
        cells.append(
            format_number(record.get("cost")) if by_cost else quality_text(record, failure)
        )
        if test_error:
            cells.append(format_number((record.get("extra") or {}).get("test_error")))
        cells.append(format_number(record.get("runtime")))
        if not compact:
            cells.append(format_time(record.get("started"), "%H:%M:%S"))
        if reasons:
            cells.append(Text(printable(reason(record) or "")))
        cells.append(Text(format_config(record.get("config"), "\n" if compact else " ")))
        view.add_row(*cells, style="bold" if record.get("run_id") == best_id else None)
    return view


def last_launched(group: RunGroup) -> tuple[float, str]:
    """What orders rungroups by their newest launch (or resume): its start, then its name."""
    info = group.launch_info()
    started = info.get("session_started") or info.get("started")
    if not isinstance(started, int | float):
        try:
            started = group.path.stat().st_mtime
        except OSError:
            started = 0.0
    return float(started), group.path.name


def one_group(path: str | Path) -> RunGroup:
    """The rungroup a one-group command (tail, stop, best) works on: PATH itself when it is a
    rungroup folder, else its rungroup launched last (pass the rungroup's folder,
    `<outdir>/<rungroup>`, to choose another)."""
    return max(find_groups(path), key=last_launched)


def short_of_max_budget(record: RunRecord, group: RunGroup) -> str | None:
    """What to say of a best run of a multi-fidelity rungroup that trained less than
    max-budget (a budget-limit or a stop ended the launch before any configuration got
    there): its model is not a fully trained one. None otherwise."""
    budget, top = shown_budget(record), group.launch_info().get("max_budget")
    if budget is None or not isinstance(top, int | float) or budget >= top:
        return None
    return (
        f"budget {budget:g} of max-budget {top:g}: no configuration has been trained to"
        " max-budget yet, so the best run's model is not a fully trained one"
    )


def read_command(path: Path) -> dict[str, Any] | None:
    """A run's command.json (the wrapper's argv and cwd), or None when it is missing or
    damaged: an argv that is not a list of words, or a cwd that is not text."""
    command = read_json_object(path)
    if command is None:
        return None
    argv, cwd = command.get("argv"), command.get("cwd")
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        return None
    return command if cwd is None or isinstance(cwd, str) else None


def best_details(group: RunGroup) -> dict[str, Any]:
    """The best run's record, its configuration's mean cost and runs (the incumbent's), its
    command line and artifacts folder; InputError when none succeeded."""
    found_best = incumbent_and_best_run(group.records())
    if found_best is None:
        raise InputError(group.path, None, "no run has succeeded yet")
    found, best = found_best
    folder = group.run(best["run_id"])
    return {
        "rungroup": group.path.name,
        "record": best,
        "mean_cost": found["cost"],
        "run_ids": found["run_ids"],
        "command": read_command(folder.command),
        "artifacts": str(folder.artifacts) if folder.artifacts.is_dir() else None,
    }


def refuse_a_path_inside(path: str | Path, folders: Iterable[Path]) -> None:
    """InputError when PATH, a file or folder a command is about to write, lies inside one of
    FOLDERS (the rungroups it reads): `results --csv out/g/runs-1.jsonl` replaced a
    worker's records, `report --html out/g/launch.json` the launch's options."""
    target = Path(path).resolve()
    for folder in folders:
        if target.is_relative_to(folder.resolve()):
            raise InputError(
                path,
                None,
                f"the path is inside the rungroup {folder}, whose own files it could replace:"
                " choose a path outside it",
            )


def copy_best(details: dict[str, Any], dest: Path) -> list[Path]:
    """Copy the best run's artifacts into DEST and write `best_run.json` (record and command)
    next to them, so the folder alone says how the files were made. Returns the files written.
    DEST must be new or empty: another run's files beside these would pass for the best's."""
    if dest.is_dir() and any(dest.iterdir()):
        raise InputError(dest, None, "the folder is not empty: copy into a new or empty one")
    # A full disk must leave no cut-off model files that pass for the best run's, nor files
    # that a second try would find "not empty": a new folder is copied beside DEST and renamed
    # at the end; an empty one the user made (a mount point, a link to one, `.`) is filled
    # and emptied again should the copy fail.
    made = not dest.is_dir()
    target = Path(os.path.abspath(dest))
    if made:
        target.parent.mkdir(parents=True, exist_ok=True)
        target = target.with_name(f".{target.name}.{os.getpid()}.partial")
        target.mkdir()
    try:
        _copy_run_files(details, target)
        if made:
            os.replace(target, dest)
    except shutil.Error as error:  # a list of (source, copy, why): the first says enough
        source, _, why = error.args[0][0]
        raise OSError(f"cannot copy {source} into {dest}: {why}") from None
    except OSError as error:
        if not error.filename:
            raise
        name = os.fsdecode(error.filename).replace(str(target), str(dest), 1)
        raise OSError(error.errno, error.strerror, name) from None  # as the user knows it
    finally:
        if made:
            shutil.rmtree(target, ignore_errors=True)
        elif dest.is_dir() and not (dest / "best_run.json").exists():  # the copy failed
            for leftover in dest.iterdir():
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    return sorted(
        Path(top) / name
        for top, _, names in os.walk(dest)
        for name in names
        if not (Path(top) / name).is_symlink()
    )


def _say_what_was_not_copied(links: list[Path], left_out: list[Path]) -> None:
    """Name on stderr the links kept as links and the special files left out of a copy."""
    if links:
        shown = ", ".join(f"{link} -> {link.resolve()}" for link in links[:5])
        more = f" and {len(links) - 5} more" if len(links) > 5 else ""
        print(
            f"kept as links (out of the run, or to a folder that holds them): {shown}{more}",
            file=sys.stderr,
        )
    if left_out:
        shown = ", ".join(map(str, left_out[:5]))
        more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
        print(f"left out, neither files nor folders: {shown}{more}", file=sys.stderr)


def _copy_run_files(details: dict[str, Any], folder: Path) -> None:
    """The best run's artifacts and `best_run.json` into FOLDER. A link to a file or folder
    of the run is copied as what it names; one that leads out of the run's folder (a dataset,
    /etc), or to a folder that holds it (`run -> ..`, copied without end), stays a link to
    the same place, and what is no file or folder (a named pipe, a link
    that leads nowhere, such as one to where the run's files were before its outdir moved) is
    left out: `best --copy-to` copied whole trees from outside the run, and stopped at a
    pipe. Both are said on stderr."""
    if details["artifacts"]:
        artifacts = Path(details["artifacts"])
        run_folder = artifacts.parent.resolve()
        outside: list[Path] = []
        left_out: list[Path] = []

        def leave(directory: str, names: list[str]) -> set[str]:
            skipped = set()
            for name in names:
                path = Path(directory) / name
                if not (path.is_file() or path.is_dir()):
                    left_out.append(path)
                elif path.is_symlink() and (
                    not path.resolve().is_relative_to(run_folder)
                    or path.parent.resolve().is_relative_to(path.resolve())  # a loop: `run -> ..`
                ):
                    outside.append(path)
                else:
                    continue
                skipped.add(name)
            return skipped

        shutil.copytree(artifacts, folder, dirs_exist_ok=True, ignore=leave)
        for link in outside:
            (folder / link.relative_to(artifacts)).symlink_to(link.resolve())
        _say_what_was_not_copied(outside, left_out)
    summary = folder / "best_run.json"
    write_text_atomic(summary, json_text(details, indent=2, sort_keys=True) + "\n")
