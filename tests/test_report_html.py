"""`report --html`: what it says about a hand-made rungroup (partial and failed runs, a failed
worker, the default against the best run), and a real launch's report opened in headless
Chromium: every run shown, sorting works."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import group_made_by_hand, run_cli, smac_bridge_env

from smac_bridge import html_report, plots, results
from smac_bridge.group_setup import read_setup
from smac_bridge.rundata import RunGroup, this_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)


class Rows(HTMLParser):
    """The run ids of the table rows, in document order, and the sorted header's class."""

    def __init__(self) -> None:
        super().__init__()
        self.run_ids: list[str] = []
        self.header_classes: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get("data-run"):
            self.run_ids.append(values["data-run"] or "")
        if tag == "th" and values.get("data-col"):
            self.header_classes[values["data-col"] or ""] = values.get("class") or ""


def rows_of(page: str) -> Rows:
    parser = Rows()
    parser.feed(page)
    return parser


def dump_dom(page: Path, tmp_path: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran, as headless Chromium sees it."""
    done = subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu"]
        + [f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=2000"]
        + ["--dump-dom", page.as_uri() + fragment],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def report_page(finished_launch, tmp_path_factory) -> Path:
    from conftest import run_cli

    page = tmp_path_factory.mktemp("report") / "report.html"
    done = run_cli("report", str(finished_launch), "--html", str(page))
    assert done.returncode == 0, done.stderr
    return page


def test_report_without_html_writes_its_page_in_the_current_folder(finished_launch, tmp_path):
    """`report OUTDIR` refused to run without --html ("Missing option"), where `plot`
    writes to a default folder."""
    from conftest import run_cli

    done = run_cli("report", str(finished_launch), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "smac-bridge-report.html"
    assert done.stdout.strip() == "wrote smac-bridge-report.html"  # as plot names its files
    assert "<table" in page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_page_is_self_contained(report_page, finished_launch):
    text = report_page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", text)
    assert "<link" not in text and "<script src" not in text
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', text)
    assert images == ["best_over_time", "best_over_runs", "quality_vs_x", "quality_vs_y"]
    best = results.best_run(results.one_group(finished_launch).records())
    assert "Incumbent" in text and f"<dd>{best['run_id']}</dd>" in text
    assert f"<dt>x</dt><dd>{best['config']['x']!r}</dd>" in text  # in full, not 6 digits
    assert "branin_target.py" in text  # the incumbent's command line


@pytest.mark.slow
def test_the_table_lists_every_run_best_first(report_page, finished_launch):
    records = results.one_group(finished_launch).records()
    order = [r["run_id"] for r in results.sort_runs(records, "quality")]
    assert rows_of(report_page.read_text(encoding="utf-8")).run_ids == order
    assert len(order) == 8


@pytest.mark.slow
@needs_chromium
def test_a_hash_sorts_the_table_on_load(report_page, finished_launch, tmp_path):
    records = results.one_group(finished_launch).records()
    dom = rows_of(dump_dom(report_page, tmp_path, "#sort=-x"))
    expected = [r["run_id"] for r in results.sort_runs(records, "x", descending=True)]
    assert dom.run_ids == expected
    assert dom.header_classes["config.x"] == "desc"  # "#sort=-x" still names the parameter


def with_clicks(page: Path, out: Path, *columns: str) -> Path:
    """A copy of PAGE that clicks the headers of COLUMNS, in order, once it has loaded."""
    clicks = "".join(f"document.querySelector('th[data-col={c}]').click();" for c in columns)
    text = page.read_text(encoding="utf-8")
    out.write_text(text.replace("</body>", f"<script>{clicks}</script></body>"), "utf-8")
    return out


@pytest.mark.slow
@needs_chromium
def test_clicking_a_header_sorts_and_clicking_again_reverses(
    report_page, finished_launch, tmp_path
):
    records = results.one_group(finished_launch).records()
    once = rows_of(dump_dom(with_clicks(report_page, tmp_path / "a.html", "run_id"), tmp_path))
    assert once.run_ids == sorted(r["run_id"] for r in records)
    assert once.header_classes["run_id"] == "asc"
    # numbers sort as numbers: the UNSAT run's 1e+09 comes first when descending
    twice = with_clicks(report_page, tmp_path / "b.html", "run_id", "quality", "quality")
    dom = rows_of(dump_dom(twice, tmp_path))
    expected = [r["run_id"] for r in results.sort_runs(records, "quality", descending=True)]
    assert dom.run_ids == expected and dom.run_ids[0] == "00003"
    assert dom.header_classes["quality"] == "desc" and dom.header_classes["run_id"] == ""


# ---- what the page says: a hand-made rungroup -----------------------------------------------

TRACEBACK = """Traceback (most recent call last):
  File "smac_bridge/cli.py", line 90, in worker_command
    run_worker()
  File "smac_bridge/worker.py", line 380, in run
    self.main()
  File "smac_bridge/worker.py", line 400, in main
    self.loop()
RuntimeError: SMAC3 could not fit its model"""


def made_group(root: Path, default_run: bool = True, pcs: bool = True) -> RunGroup:
    """An MNIST-like rungroup (error rates, failure quality 1.0): the default configuration's
    run (99.1 % accuracy), the best run (99.4 %), an UNSAT run, a run stopped at its cutoff
    with a partial quality, one without, and a worker that failed."""
    space = "lr [1e-4, 1e-1] [1e-2]l\nlayers integer [1, 4] [2]\n"
    group = group_made_by_hand(root, "task", space, " --failure-quality 1.0", runs=6)
    if not pcs:
        (root / "space.pcs").unlink()
    runs = [
        ("SAT", 0.009, {"test_error": 0.011}, None, {"lr": 0.01, "layers": 2}),
        ("SAT", 0.006, {"test_error": 0.008}, None, {"lr": 0.003, "layers": 3}),
        ("UNSAT", 1.0, {}, "exit code 2: t.py: error: unrecognized arguments", {"lr": 0.1}),
        ("TIMEOUT", 0.05, {"partial": 1}, "wall_time limit reached", {"lr": 0.0002}),
        ("TIMEOUT", 1.0, {}, "wall_time limit reached", {"lr": 0.0001}),
    ]
    for number, (status, quality, extra, reason, config) in enumerate(runs, start=1):
        if number == 1 and not default_run:
            config = {"lr": 0.02, "layers": 2}
        config = {"layers": 1, **config}
        group.append_record(
            1 + number % 2,
            {"run_id": f"{number:05d}", "worker": 1 + number % 2, "config": config,
             "instance": "no_instance", "seed": -1, "status": status, "quality": quality,
             "cost": quality, "runtime": 10.0, "extra": extra, "reason": reason,
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": 100.0 * number, "ended": 100.0 * number + 50},
        )  # fmt: skip
    group.write_worker(
        1, {"seed": 1, "host": "h", "state": "done", "message": "run budget used up"}
    )
    group.write_worker(2, {"seed": 2, "host": "h", "state": "failed", "message": TRACEBACK})
    return group


class Page(HTMLParser):
    """The tables of a report page, by class: rows of (row attributes, [(cell attributes,
    text)]); and the text of each element with a class, by class."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[tuple[dict, str]]]]] = {}
        self.texts: dict[str, list[str]] = {}
        self._table: str | None = None
        self._cell: tuple[dict, list[str]] | None = None
        self._open: list[tuple[str, str | None, list[str]]] = []
        self.text = text
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = values.get("class", "")
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append((values, []))
        elif tag in ("td", "th") and self._table is not None:
            self._cell = (values, [])
        if tag not in ("br", "img", "meta"):
            self._open.append((tag, values.get("class"), []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            attrs, parts = self._cell
            self.tables[self._table][-1][1].append((attrs, "".join(parts)))
            self._cell = None
        if tag == "table":
            self._table = None
        while self._open:
            opened, css, parts = self._open.pop()
            if css:
                self.texts.setdefault(css, []).append("".join(parts))
            if self._open:
                self._open[-1][2].extend(parts)
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1].append(data)
        if self._open:
            self._open[-1][2].append(data)


def runs_by_id(page: Page) -> dict[str, dict[str, tuple[dict, str]]]:
    """The runs table: run id -> column -> (cell attributes, text)."""
    (head, *rows) = page.tables["runs"]
    columns = [attrs["data-col"] for attrs, _ in head[1]]
    return {attrs["data-run"]: dict(zip(columns, cells, strict=True)) for attrs, cells in rows}


@pytest.fixture
def made_page(tmp_path) -> Page:
    return Page(html_report.render([made_group(tmp_path / "made")]))


def test_the_default_configuration_is_compared_with_the_best_run(made_page):
    (head, *rows) = made_page.tables["compare"]
    assert [text for _, text in head[1]] == [
        "",
        "run",
        "validation error",
        "test error",
        "configuration",
    ]
    shown = {row["data-row"]: [text for _, text in cells[1:]] for row, cells in rows}
    assert shown == {
        "default configuration": ["00001", "0.009", "0.011", "layers=2 lr=0.01"],
        "best run": ["00002", "0.006", "0.008", "layers=3 lr=0.003"],
    }
    (gain,) = made_page.texts["gain"]
    assert "validation error 0.9 % → 0.6 % (accuracy 99.1 % → 99.4 %)" in gain
    assert "test error 1.1 % → 0.8 % (accuracy 98.9 % → 99.2 %)" in gain


def test_the_runs_table_gives_reasons_and_marks_partial_and_missing_qualities(made_page):
    runs = runs_by_id(made_page)
    assert runs["00003"]["reason"][1] == "exit code 2: t.py: error: unrecognized arguments"
    assert runs["00004"]["reason"][1] == runs["00005"]["reason"][1] == "wall_time limit reached"
    assert runs["00002"]["reason"][1] == ""
    assert runs["00002"]["quality"] == ({"data-v": "0.006", "data-g": "0"}, "0.006")
    partial = {"data-v": "0.05", "data-g": "1", "class": "partial"}
    assert runs["00004"]["quality"] == (partial, "0.05 (partial)")
    failed = {"data-v": "1.0", "data-g": "2", "class": "failed"}
    for run in ("00003", "00005"):  # their 1.0 is the failure quality: no quality
        assert runs[run]["quality"] == (failed, "no quality")
    assert "<dd>2 SAT, 2 TIMEOUT (1 with a partial quality), 1 UNSAT</dd>" in made_page.text


def test_a_failed_worker_is_shown_with_its_error(made_page):
    (alert,) = made_page.texts["alert"]
    assert alert == "Worker 2 failed: RuntimeError: SMAC3 could not fit its model"
    (head, *rows) = made_page.tables["workers"]
    shown = {row["data-worker"]: (row.get("class"), [t for _, t in cells]) for row, cells in rows}
    assert shown["1"][0] is None and shown["1"][1][:2] == ["1", "done"]
    css, cells = shown["2"]
    assert css == "bad-worker" and cells[1] == "failed"
    assert cells[-1].endswith("self.loop()\nRuntimeError: SMAC3 could not fit its model")
    assert "cli.py" not in cells[-1]  # a long traceback's end: where the error is


def test_the_summary_gives_the_first_start_and_the_last_end(made_page):
    """The runs ended at 150 s to 550 s after the epoch, in that order but not in the order
    of the files (two workers)."""
    first, last = results.format_time(100.0), results.format_time(550.0)
    assert f"<dt>first run started</dt><dd>{first}</dd>" in made_page.text
    assert f"<dt>last run ended</dt><dd>{last}</dd>" in made_page.text


def test_a_gain_over_a_stopped_default_says_its_quality_is_partial(tmp_path):
    """The default's run was stopped at its cutoff: its quality is a partial one, and the
    gain is no comparison of two finished trainings."""
    group = made_group(tmp_path / "made")
    for _, path in group.layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            if record["run_id"] == "00001":
                record |= {"status": "TIMEOUT", "quality": 0.05, "cost": 0.05, "partial": True}
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    (gain,) = Page(html_report.render([group])).texts["gain"]
    assert "validation error 5.0 % → 0.6 %" in gain
    assert "the default's quality is partial: its run was stopped" in gain
    (gain,) = Page(html_report.render([made_group(tmp_path / "finished")])).texts["gain"]
    assert "partial" not in gain


def test_a_worker_killed_with_sigkill_is_lost_not_running(tmp_path):
    """Its heartbeat still says running; its process is gone, as `status` shows."""
    group = made_group(tmp_path / "made")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host, _, _ = this_process()
    group.write_worker(1, {"seed": 1, "host": host, "pid": int(gone.stdout), "state": "running",
                           "pid_start": "gone", "message": "trial 00005"})  # fmt: skip
    page = Page(html_report.render([group]))
    (head, *rows) = page.tables["workers"]
    states = {row["data-worker"]: (row.get("class"), cells[1][1]) for row, cells in rows}
    assert states == {"1": ("bad-worker", "lost"), "2": ("bad-worker", "failed")}
    assert "Worker 1 lost: trial 00005" in page.texts["alert"]
    assert "<dt>workers</dt><dd>2 (1 failed, 1 lost)</dd>" in page.text  # not "2 failed"
    assert "still running" not in page.text


def test_a_report_written_while_the_launch_runs_says_which_runs_it_lacks(tmp_path):
    """Its tables are of finished runs: a page written mid-run read as the whole launch."""
    group = made_group(tmp_path / "made")
    host, pid, pid_start = this_process()
    group.write_worker(1, {"seed": 1, "host": host, "pid": pid, "pid_start": pid_start,
                           "state": "running", "message": ""})  # fmt: skip
    group.mark_running({"run_id": "00006", "worker": 1, "config": {}, "instance": "i",
                        "seed": -1, "host": host, "pid": pid, "pid_start": pid_start,
                        "started": 1.0})  # fmt: skip
    text = Page(html_report.render([group])).text
    assert "<dt>still running</dt><dd>yes: run 00006 is not in the tables yet</dd>" in text


def test_a_parameter_named_like_a_run_column_shows_its_own_value(tmp_path):
    """A parameter called `status` showed each run's status, one called `started` its value
    as a date, and clicking its header sorted the run column."""
    group = made_group(tmp_path / "made")
    for _, path in group.layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            record["config"] |= {"status": "fast", "started": 3}
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    page = Page(html_report.render([group]))
    for run in runs_by_id(page).values():
        assert (run["config.status"][1], run["config.started"][1]) == ("fast", "3")
        assert run["status"][1] != "fast" and run["started"][1] != "3"


def test_a_nan_test_error_is_no_change_in_percent(tmp_path):
    group = made_group(tmp_path / "made")
    for _, path in group.layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            if "test_error" in record["extra"]:
                record["extra"]["test_error"] = math.nan
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    page = Page(html_report.render([group]))
    (gain,) = page.texts["gain"]
    assert "validation error" in gain and "test error" not in gain and "nan" not in gain


def test_a_default_and_a_best_run_of_different_budgets_say_so(tmp_path):
    """Multi-fidelity: a default trained 3 epochs against a best run trained 9 is no
    like-for-like gain, and the report said "78 % lower" without a word."""
    group = made_group(tmp_path / "made")
    for _, path in group.layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            record["budget"] = {"00001": 3, "00002": 9}.get(record["run_id"], 1)
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    (gain,) = Page(html_report.render([group])).texts["gain"]
    assert "validation error 0.9 % → 0.6 %" in gain
    assert "the default was trained with budget 3, the best run with 9" in gain


def test_a_runtime_objective_is_compared_by_cost_and_shows_instances(tmp_path):
    """A solver's runs over an easy and a hard instance: the comparison said "quality 0" of
    both runs, the incumbent showed no cost, and the table did not say which instance a run
    was on. A value the script reported under a parameter's name hid behind the parameter."""
    group = made_group(tmp_path / "made")
    group.write_launch_info({**group.launch_info(), "run_obj": "runtime"})
    costs = {"00001": 4.0, "00002": 1.0, "00003": 50.0, "00004": 50.0, "00005": 50.0}
    for _, path in group.layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            record |= {"quality": 0, "cost": costs[record["run_id"]], "runtime": 1.0}
            record["instance"] = "hard" if record["run_id"] == "00002" else "easy"
            record["gpu"] = "0" if record["run_id"] == "00002" else None
            record["extra"] = {"layers": "shadow"} if record["run_id"] == "00002" else {}
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    page = Page(html_report.render([group]))
    (head, *rows) = page.tables["compare"]
    assert [text for _, text in head[1]][2] == "cost"
    shown = {row["data-row"]: [text for _, text in cells[1:3]] for row, cells in rows}
    assert shown == {"default configuration": ["00001", "4"], "best run": ["00002", "1"]}
    (gain,) = page.texts["gain"]
    assert "cost 4 → 1" in gain, gain
    incumbent = page.text.split("<h3>Incumbent (best run)</h3>")[1].split("</dl>")[0]
    assert "<dt>cost</dt><dd>1</dd>" in incumbent, incumbent
    assert "<dt>layers</dt><dd>shadow</dd>" in incumbent, incumbent
    assert "<dt>layers</dt><dd>3</dd>" in incumbent, incumbent
    runs = runs_by_id(page)
    assert runs["00002"]["instance"][1] == "hard" and runs["00001"]["instance"][1] == "easy"
    assert runs["00002"]["gpu"][1] == "0" and runs["00001"]["gpu"][1] == "cpu"


def test_on_several_instances_the_default_and_the_incumbent_are_compared_by_their_means(
    tmp_path,
):
    """The default's first run (an easy instance, 0.1) was set beside the incumbent's best
    run: "cost 1 → 0.1 (90% lower)" when the default was the incumbent itself, on its mean of
    0.55, and the plots drew its line below the incumbent's curve."""
    default, other, third = {"lr": 0.01, "layers": 2}, {"lr": 0.003, "layers": 3}, {"lr": 0.1}
    changes = {  # run: (config, instance, cost); the rest ran once on the easy instance
        "00001": (default, "easy", 0.1),
        "00002": (default, "hard", 1.0),
        "00003": (other, "easy", 0.05),
    }

    def page_of(changes: dict) -> tuple[Page, RunGroup]:
        group = made_group(tmp_path / str(len(list(tmp_path.iterdir()))))
        group.write_launch_info({**group.launch_info(), "run_obj": "runtime"})
        for _, path in group.layout.record_files():
            records = [json.loads(line) for line in path.read_text().splitlines()]
            for record in records:
                config, instance, cost = changes.get(record["run_id"], (third, "easy", 50.0))
                record |= {"status": "SAT", "quality": 0, "cost": cost, "runtime": cost}
                record |= {"config": config, "instance": instance}
            path.write_text("".join(json.dumps(record) + "\n" for record in records))
        return Page(html_report.render([group])), group

    page, group = page_of(changes)
    (head, *rows) = page.tables["compare"]
    assert [text for _, text in head[1]][1:3] == ["runs", "mean cost"]
    shown = {row["data-row"]: [text for _, text in cells[1:3]] for row, cells in rows}
    assert shown == {"default configuration": ["2", "0.55"], "incumbent": ["2", "0.55"]}
    assert "The default configuration is the incumbent." in page.text
    changes["00004"] = (other, "hard", 0.5)  # the other one's mean: 0.275
    page, group = page_of(changes)
    (gain,) = page.texts["gain"]
    runs = "over 2 and 2 runs of their seeds or instances"
    assert gain == f"mean cost 0.55 → 0.275 (50% lower), {runs}."
    figure = plots.figures(group.records(), "t", read_setup(group))  # the curve's mean, too
    lines = {line.get_label(): line for line in figure["best_over_runs"].axes[0].get_lines()}
    assert list(lines["default configuration"].get_ydata()) == [0.55, 0.55]


def test_reported_lists_and_dicts_are_shown_as_json_as_the_csv_writes_them(tmp_path):
    """A script may report structured values (a per-class error list, a dict of settings):
    the report and `best` showed Python's repr ({'amp': True, 'note': None})."""
    group = made_group(tmp_path / "made")
    structured = {"per_class": [0.5, 0.25], "settings": {"amp": True, "note": None}}
    for _, path in group.layout.record_files():
        records = [json.loads(line) for line in path.read_text().splitlines()]
        for record in records:
            record["extra"] |= structured if record["run_id"] == "00002" else {}
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    incumbent = Page(html_report.render([group])).text.split("<h3>Incumbent")[1]
    assert "<dt>per_class</dt><dd>[0.5, 0.25]</dd>" in incumbent, incumbent
    assert "<dt>settings</dt><dd>{&quot;amp&quot;: true, &quot;note&quot;: null}</dd>" in incumbent
    shown = run_cli("best", str(group.path)).stdout
    assert '  per_class: [0.5, 0.25]\n  settings: {"amp": true, "note": null}\n' in shown, shown


def test_the_summary_counts_runs_and_budget_units_as_status_does(tmp_path):
    """The page said "5 finished of 6 budgeted": no budget units for a multi-fidelity
    launch, and "? budgeted" without a run budget."""
    group = made_group(tmp_path / "made")
    assert "5 of 6 runs done</dd>" in Page(html_report.render([group])).text
    group.write_launch_info({"scenario": "task.txt", "overrides": {}, "budget_limit": 40})
    assert group.claim_units("00006", 9, 40)
    assert "5 runs done, 9 of 40 budget units used</dd>" in html_report.render([group])


def test_a_change_across_zero_gets_no_percentage():
    """A negative metric: 0.45 to -7.05 was "1667% lower"."""
    from smac_bridge.html_report import _change

    assert _change("quality", 0.45, -7.05, error_rate=False) == "quality 0.45 → -7.05"
    assert _change("quality", -2.0, -3.0, error_rate=False) == "quality -2 → -3 (50% lower)"
    assert _change("quality", 0.4, 0.1, error_rate=False) == "quality 0.4 → 0.1 (75% lower)"
    assert _change("quality", 12.0, 0.0, error_rate=False) == "quality 12 → 0 (100% lower)"
    assert _change("quality", 0.51, 1e300, error_rate=False) == (
        "quality 0.51 → 1e+300 (1.96e+300 × the default's)"
    )


def test_a_default_that_was_not_run_or_cannot_be_known_is_said(tmp_path):
    page = html_report.render([made_group(tmp_path / "a", default_run=False)])
    assert "The default configuration was not evaluated: no run has its values" in page
    assert "layers=2 lr=0.01" in page
    page = html_report.render([made_group(tmp_path / "b", pcs=False)])
    assert "The default configuration is unknown: cannot read the search space" in page
    assert "space.pcs" in page


@needs_chromium
def test_the_reason_column_sorts_in_the_browser(tmp_path):
    page = tmp_path / "made.html"
    html_report.write([made_group(tmp_path / "made")], page)
    dom = rows_of(dump_dom(with_clicks(page, tmp_path / "clicked.html", "reason"), tmp_path))
    # "exit code ..." before "wall_time ..." (ties by run id), runs without a reason last
    assert dom.run_ids == ["00003", "00004", "00005", "00001", "00002"]
    assert dom.header_classes["reason"] == "asc"


@needs_chromium
def test_a_column_of_numbers_and_text_sorts_numbers_first_as_results_does(tmp_path):
    """Two cells compared as numbers when both were, else as text: "1a" < "9" < "10" < "1a"
    is a cycle, and the column's order depended on the rows' order."""
    space = "tag {1a, 10, b, 9, 2} [b]\n"
    group = group_made_by_hand(tmp_path / "made", "task", space, runs=5)
    for number, tag in enumerate(["1a", "10", "b", "9", "2"], start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"tag": tag},
             "instance": "no_instance", "seed": -1, "status": "SAT", "quality": 0.1,
             "cost": 0.1, "runtime": 1.0, "extra": {}, "started": 1.0 * number,
             "ended": 1.0 * number + 0.5},
        )  # fmt: skip
    page = tmp_path / "made.html"
    html_report.write([group], page)
    records = group.records()
    for descending in (False, True):
        hash_ = "#sort=" + "-" * descending + "tag"
        expected = [r["run_id"] for r in results.sort_runs(records, "tag", descending)]
        assert rows_of(dump_dom(page, tmp_path, hash_)).run_ids == expected
    assert expected == ["00002", "00004", "00005", "00003", "00001"]  # 10 9 2 b 1a


@needs_chromium
def test_by_quality_a_partial_quality_never_outranks_a_finished_run(tmp_path):
    """A stopped run's partial 0.001 came first, above the incumbent, on the page and when
    its quality header was clicked."""
    group = made_group(tmp_path / "made")
    group.append_record(
        1,
        {"run_id": "00006", "worker": 1, "config": {"layers": 1, "lr": 0.05},
         "instance": "no_instance", "seed": -1, "status": "TIMEOUT", "quality": 0.001,
         "cost": 0.001, "runtime": 10.0, "extra": {}, "partial": True,
         "reason": "wall_time limit reached", "additional": "", "stopped_by_user": False,
         "reused_from": None, "started": 600.0, "ended": 650.0},
    )  # fmt: skip
    page = tmp_path / "made.html"
    html_report.write([group], page)
    ascending = ["00002", "00001", "00006", "00004", "00003", "00005"]
    assert rows_of(page.read_text(encoding="utf-8")).run_ids == ascending
    clicked = with_clicks(page, tmp_path / "a.html", "run_id", "quality")
    assert rows_of(dump_dom(clicked, tmp_path)).run_ids == ascending
    clicked = with_clicks(page, tmp_path / "b.html", "run_id", "quality", "quality")
    descending = ["00003", "00005", "00004", "00006", "00001", "00002"]
    assert rows_of(dump_dom(clicked, tmp_path)).run_ids == descending
    records = group.records()
    assert [r["run_id"] for r in results.sort_runs(records, "quality", True)] == descending


@needs_chromium
def test_qualities_of_several_budgets_and_infinite_values_sort_as_results_sorts(tmp_path):
    """A multi-fidelity rungroup sorted by quality in the page mixed one-epoch runs in among
    nine-epoch ones, and an infinite test error sorted after every number either way."""
    group = group_made_by_hand(tmp_path / "made", "task", "x real [0, 1] [0.5]\n", runs=8)
    runs = [  # budget, status, quality, partial, test error
        (1, "SAT", 0.2, False, 0.3),
        (9, "SAT", 0.5, False, math.inf),
        (3, "SAT", 0.1, False, 0.2),
        (9, "TIMEOUT", 0.05, True, None),
        (1, "CRASHED", 1e9, False, -math.inf),
        (3, "SAT", 0.4, False, 0.25),
        (9, "SAT", 0.3, False, 0.35),
        (None, "SAT", 0.6, False, 0.1),
    ]
    for number, (budget, status, quality, partial, test_error) in enumerate(runs, start=1):
        extra = {} if test_error is None else {"test_error": test_error}
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "config": {"x": number / 10},
             "instance": "no_instance", "seed": -1, "status": status, "quality": quality,
             "cost": quality, "runtime": 1.0, "extra": extra,
             "partial": partial, "budget": budget, "started": 1.0 * number,
             "ended": 1.0 * number + 0.5},
        )  # fmt: skip
    page = tmp_path / "made.html"
    html_report.write([group], page)
    records = group.records()
    for column in ("quality", "test_error"):
        for descending in (False, True):
            hash_ = "#sort=" + "-" * descending + column
            expected = [r["run_id"] for r in results.sort_runs(records, column, descending)]
            assert rows_of(dump_dom(page, tmp_path, hash_)).run_ids == expected, hash_
    by_quality = [r["run_id"] for r in results.sort_runs(records, "quality")]
    assert by_quality == ["00008", "00007", "00002", "00004", "00003", "00006", "00001", "00005"]


def test_a_damaged_command_file_of_the_best_run_leaves_its_command_out(tmp_path):
    """An argv holding a number ended `report --html` and `best` in a TypeError."""
    from conftest import run_cli

    group = made_group(tmp_path / "made")
    folder = group.run("00002")
    folder.path.mkdir(parents=True)
    folder.command.write_text('{"argv": ["python", 1, null], "cwd": "/tmp"}')
    page = Page(html_report.render([group]))
    assert "<dt>command</dt>" not in page.text and "00002" in page.text
    done = run_cli("best", str(group.path))
    assert done.returncode == 0 and "best run 00002" in done.stdout, done.stderr
    assert "command:" not in done.stdout


@pytest.mark.slow
def test_a_real_launch_has_the_new_sections(report_page, finished_launch):
    page = Page(report_page.read_text(encoding="utf-8"))
    records = results.one_group(finished_launch).records()
    runs = runs_by_id(page)
    unsat = next(r["run_id"] for r in records if r["status"] == "UNSAT")
    assert runs[unsat]["reason"][1] == "script reported UNSAT"
    assert runs[unsat]["quality"][1] == "no quality"
    workers = {
        row["data-worker"]: [t for _, t in cells] for row, cells in page.tables["workers"][1:]
    }
    assert {seed: cells[1] for seed, cells in workers.items()} == {"1": "done", "2": "done"}
    assert "alert" not in page.texts
    default = [r for r in records if r["config"] == {"x": 2.5, "y": 7.5}]  # pcs/quickstart.pcs
    if default:
        (head, *rows) = page.tables["compare"]
        shown = {row["data-row"]: [text for _, text in cells[1:3]] for row, cells in rows}
        best = results.best_run(records)
        assert shown["default configuration"][0] == default[0]["run_id"]
        assert shown["best run"] == [best["run_id"], results.format_number(best["quality"])]
    else:
        assert "The default configuration was not evaluated" in report_page.read_text()


def test_a_file_where_an_output_folder_is_needed_is_named(tmp_path):
    """`report --html afile/x.html` said "afile: File exists", and `results --csv afile/x.csv`
    "Not a directory": neither said that the user's file stands in the way."""
    group = made_group(tmp_path / "made")
    (tmp_path / "afile").write_text("mine\n")
    for command in (
        ["report", "--html", "afile/x.html"],
        ["results", "--csv", "afile/x.csv"],
        ["best", "--copy-to", "afile/best"],
        ["plot", "--out", "afile/plots"],
    ):
        done = run_cli(*command, str(group.path), cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "afile is a file, not a folder" in done.stderr or (
            "a file stands where a folder is needed" in done.stderr
        ), done.stderr
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_the_note_on_failed_runs_says_what_the_optimiser_was_given():
    """A runtime report said failed runs were given "a failure quality, here 1e+09", where
    the optimiser got their PAR-k cost, which the table shows; a classic target's report
    named the quality most failed runs printed, where each run cost what its line said."""
    from smac_bridge.group_setup import GroupSetup
    from smac_bridge.html_report import _what_failed_runs_cost

    runtime = _what_failed_runs_cost(GroupSetup(run_obj="runtime"), 1e9)
    assert "PAR-k of the cutoff" in runtime and "1e+09" not in runtime
    assert "here 1" in _what_failed_runs_cost(GroupSetup(failure_quality=1.0), 1.0)
    classic = _what_failed_runs_cost(GroupSetup(), 0.001)  # guessed from a CRASHED line's 0.001
    assert "0.001" not in classic and "what its result line said" in classic


def test_a_folder_name_the_locale_cannot_decode_is_written_as_its_bytes(tmp_path):
    """Under LC_ALL=C without UTF-8 mode a rungroup under `prøj/` ended the report in a
    UnicodeEncodeError traceback (the summary names the folder). The folder is reached
    through a link, so that the files the launch recorded keep names of ASCII alone."""
    group = made_group(tmp_path / "a")
    (tmp_path / "prøj").symlink_to(tmp_path / "a")
    env = {**smac_bridge_env(), "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    page = tmp_path / "r.html"
    shown = tmp_path / "prøj" / group.path.relative_to(tmp_path / "a")
    argv = ["report", str(shown), "--html", str(page)]
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", *argv], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert str(shown) in page.read_text(encoding="utf-8")
