"""`report --html` of a real launch, opened in headless Chromium: every run shown, sorting works."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from smac_bridge import results

pytestmark = pytest.mark.slow

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


def test_the_page_is_self_contained(report_page, finished_launch):
    text = report_page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", text)
    assert "<link" not in text and "<script src" not in text
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', text)
    assert images == ["best_over_time", "best_over_runs", "quality_vs_x", "quality_vs_y"]
    best = results.best_run(results.one_group(finished_launch).records())
    assert "Incumbent" in text and f"<dd>{best['run_id']}</dd>" in text
    assert "branin_target.py" in text  # the incumbent's command line


def test_the_table_lists_every_run_best_first(report_page, finished_launch):
    records = results.one_group(finished_launch).records()
    order = [r["run_id"] for r in results.sort_runs(records, "quality")]
    assert rows_of(report_page.read_text(encoding="utf-8")).run_ids == order
    assert len(order) == 8


@needs_chromium
def test_a_hash_sorts_the_table_on_load(report_page, finished_launch, tmp_path):
    records = results.one_group(finished_launch).records()
    dom = rows_of(dump_dom(report_page, tmp_path, "#sort=-x"))
    expected = [r["run_id"] for r in results.sort_runs(records, "x", descending=True)]
    assert dom.run_ids == expected
    assert dom.header_classes["x"] == "desc"


def with_clicks(page: Path, out: Path, *columns: str) -> Path:
    """A copy of PAGE that clicks the headers of COLUMNS, in order, once it has loaded."""
    clicks = "".join(f"document.querySelector('th[data-col={c}]').click();" for c in columns)
    text = page.read_text(encoding="utf-8")
    out.write_text(text.replace("</body>", f"<script>{clicks}</script></body>"), "utf-8")
    return out


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
