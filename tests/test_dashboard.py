"""`smac-bridge dashboard`: the page in headless Chromium during a real launch (the table
grows, a run's log streams, the stop button stops the run), on a finished and on a killed
folder; its HTTP checks (token, Host, origin, run ids); and the JSON views under it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    branin_scenario,
    default_sigint,
    group_made_by_hand,
    run_cli,
    smac_bridge_env,
    start_launch,
)
from test_monitor import kill_launch_and_workers, kill_trials_under, wait_for

from smac_bridge import dashboard_data, monitor, plots, results
from smac_bridge.group_setup import GroupSetup
from smac_bridge.incumbent import best_run
from smac_bridge.layout import write_json_atomic
from smac_bridge.recovery import kill_trial
from smac_bridge.rundata import RunGroup, this_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


# ---- the dashboard as a user starts it ------------------------------------------------------


TOKENS: dict[str, str] = {}
"""The token of each dashboard's base URL, which `request` and `open_page` send."""


@contextmanager
def dashboard(
    outdir: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`smac-bridge dashboard OUTDIR --port 0 OPTIONS` in its own process group: the base of
    the URL it printed (its token kept in TOKENS), and the process (ended, with anything it
    started, on leaving)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "dashboard", str(outdir), "--port", "0"]
        + list(options),
        env={**smac_bridge_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    try:
        lines = []
        while not any("http://" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"the dashboard ended: {''.join(lines)}"
            lines.append(line)
        printed = next(w for w in lines[-1].split() if w.startswith("http://"))
        url, token = printed.split("?token=")
        TOKENS[url] = token
        yield url, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def open_page(browser, url: str, fragment: str = "") -> None:
    """Open the page of the dashboard at URL as its printed address does, with its token."""
    browser.get(f"{url}?token={TOKENS[url]}{fragment}")


def request(
    url: str, body: Any = None, headers: dict[str, str] | None = None, token: bool = True
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, JSON or text) of one real HTTP request, with the dashboard's TOKEN
    as the page sends it (unless HEADERS carry one, or a cookie); a JSON BODY makes it a POST
    of application/json."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json"} if body is not None else {}
    base = next((base for base in TOKENS if url.startswith(base)), None)
    if token and base is not None and not {"X-Token", "Cookie"} & set(headers or {}):
        sent["X-Token"] = TOKENS[base]
    req = urllib.request.Request(url, data=data, headers={**sent, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            status, got, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, got, raw = error.code, dict(error.headers), error.read()
    text = raw.decode("utf-8")
    is_json = got.get("Content-Type", "").startswith("application/json")
    return status, got, json.loads(text) if is_json else text


# ---- HTTP: what the server refuses ------------------------------------------------------------


@pytest.mark.slow
def test_run_ids_and_rungroups_are_checked_before_any_path_is_made(finished_launch):
    with dashboard(finished_launch) as (url, _):
        status, _, body = request(url + "api/log?group=branin&run=../../etc/passwd")
        assert status == 400
        assert body["error"] == "'../../etc/passwd' is not a run id (5 digits, such as 00007)"
        status, _, body = request(url + "api/log?group=branin&run=00077")
        assert status == 400 and body["error"] == "no run '00077' in this rungroup"
        for name in ("..", "../out", "/etc"):
            status, _, body = request(url + f"api/runs?group={name}")
            assert status == 400 and body["error"] == f"no rungroup {name!r}"
        status, _, body = request(url + "api/stop", {"group": "branin", "run": "../../x"})
        assert status == 400 and "is not a run id" in body["error"]
        status, _, body = request(url + "api/stop", {"group": "branin", "run": "00002"})
        assert status == 400 and body["error"] == "run 00002 has already finished"
        for offset in ("-5", "%C2%B2", "9" * 5000):  # ² is a digit to str.isdigit; 5000 digits
            # are more than int() reads, and answered 500
            status, _, body = request(url + f"api/log?group=branin&run=00002&offset={offset}")
            assert status == 400 and body["error"].startswith("offset must be a number")
        status, _, body = request(url + "static/..%2f..%2fdashboard.py")
        assert status in (403, 404) and "def serve" not in str(body)
        status, _, body = request(url + "api/log?group=branin&run=00002")
        assert status == 200 and "log of run 00002: \ufffd\ufffd not UTF-8\n" in body["text"]
    assert not list(Path(finished_launch).rglob("stop-requested"))


@pytest.mark.slow
def test_the_dashboard_sums_a_rungroup_up_as_status_does(finished_launch):
    """The page built its own copy of status's line, which fell behind it (queued runs)."""
    with dashboard(finished_launch) as (url, _):
        status, _, body = request(url + "api/status")
    assert status == 200
    line = f"branin (not running): {body['rungroups'][0]['summary']}"
    assert line.startswith("branin (not running): 8 of 8 runs done"), line
    shown = run_cli("status", str(finished_launch)).stdout
    assert " ".join(line.split()) in " ".join(shown.split()), shown


def test_a_dashboard_started_before_the_launch_waits_for_its_folder(tmp_path):
    """Started first, as "while it runs" suggests: the folder the launch will make does not
    exist yet, and the page says there is nothing yet instead of the command refusing."""
    with dashboard(tmp_path / "not-yet") as (url, _):
        status, _, body = request(url + "api/status")
        assert status == 200 and body["rungroups"] == [] and body["outdir_exists"] is False
        port = url.split(":")[2].split("/")[0]
        taken = run_cli("dashboard", str(tmp_path / "not-yet"), "--port", port)
    assert taken.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: " in taken.stderr
    assert "another program listens there; choose another --port" in taken.stderr


def test_the_address_printed_at_start_can_be_opened():
    """An IPv6 address needs brackets in a URL (`http://::1:8080/` opens nothing), and a
    wildcard address is no address to open: the machine's name is."""
    from smac_bridge.dashboard import url

    assert url("::1", 8080, "abc") == "http://[::1]:8080/?token=abc"
    assert url("127.0.0.1", 8080, "abc") == "http://127.0.0.1:8080/?token=abc"
    assert url("0.0.0.0", 80, "abc") == f"http://{socket.gethostname()}:80/?token=abc"


@pytest.mark.slow
def test_a_loopback_dashboard_answers_only_loopback_hosts_and_its_own_page(finished_launch):
    with dashboard(finished_launch) as (url, _):
        assert url.startswith("http://127.0.0.1:")
        for path in ("", "api/status", "static/dashboard.js"):  # another user of the machine
            status, _, body = request(url + path, token=False)
            assert status == 403 and "token" in body["error"], path
        status, headers, _ = request(url + "api/status")
        assert status == 200 and headers["Cache-Control"] == "no-store"  # always the live state
        port = url.split(":")[2].rstrip("/")
        assert request(url + "api/status", headers={"Host": f"localhost:{port}"})[0] == 200
        # a page of another site that rebinds its name to 127.0.0.1
        status, _, body = request(url + "api/status", headers={"Host": f"evil.example:{port}"})
        assert status == 403 and "loopback" in body["error"]
        stop = {"group": "branin", "run": "00002"}
        status, _, body = request(url + "api/stop", stop, {"Origin": "http://evil.example"})
        assert status == 403 and "evil.example" in body["error"]
        status, _, body = request(url + "api/stop", stop, {"Content-Type": "text/plain"})
        assert status == 415  # what a form on another site can send
        status, headers, page = request(url)
        assert status == 200 and "<title>smac-bridge dashboard</title>" in page
        assert headers["X-Frame-Options"] == "DENY"
        assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self'


def test_open_hands_the_browser_a_private_page_not_the_token(tmp_path, finished_launch):
    """`--open` put the URL with its token on the browser's command line, which every user
    of the machine can read (`ps`). The page it opens instead goes when the dashboard does."""
    seen = tmp_path / "browser-args.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$@" > {seen}\n')
    browser.chmod(0o755)
    outdir = tmp_path / "out"
    shutil.copytree(finished_launch, outdir)
    with dashboard(outdir, "--open", env={"BROWSER": str(browser)}) as (url, process):
        given = wait_for(lambda: seen.exists() and seen.read_text().strip(), what="a browser")
        assert TOKENS[url] not in given and given.startswith(f"file://{outdir}/"), given
        page = Path(urllib.parse.unquote(given.removeprefix("file://")))
        assert f"{url}?token={TOKENS[url]}" in page.read_text()
        assert page.stat().st_mode & 0o777 == 0o600
        process.send_signal(signal.SIGTERM)  # a closed terminal's, SMAC's: not only Ctrl-C
        process.wait(timeout=30)
    assert not page.exists()


@pytest.mark.slow
def test_any_other_address_needs_the_token_printed_at_start(finished_launch):
    with dashboard(finished_launch, "--host", "0.0.0.0") as (url, _):
        token = TOKENS[url]
        assert len(token) >= 32
        wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # one that ends in x, too
        local = f"http://127.0.0.1:{url.split(':')[2].split('/')[0]}/"
        for path in ("", "api/status", "static/dashboard.js", "api/runs?group=branin"):
            status, _, body = request(local + path)
            assert status == 403 and "token" in body["error"], path
            assert request(local + path, headers={"X-Token": wrong})[0] == 403
        status, headers, _ = request(f"{local}?token={token}")
        assert status == 200
        cookie = headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert request(local + "static/dashboard.js", headers={"Cookie": cookie})[0] == 200
        assert request(local + "api/status", headers={"X-Token": token})[0] == 200


@pytest.mark.slow
def test_ctrl_c_stops_the_dashboard(finished_launch):
    with dashboard(finished_launch) as (url, process):
        assert request(url + "api/status")[0] == 200
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0 and "dashboard stopped" in output
    # while it starts (imports, reads the rungroups): click's "Aborted!" and exit code 1
    starting = subprocess.Popen(
        [sys.executable, "-m", "smac_bridge.cli", "dashboard", str(finished_launch), "--port", "0"],
        env=smac_bridge_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_sigint,
    )
    time.sleep(1.0)  # its start-up takes seconds; either way, the same stop
    starting.send_signal(signal.SIGINT)
    output, _ = starting.communicate(timeout=30)
    assert starting.returncode == 0 and output.endswith("dashboard stopped\n"), output


# ---- the page in a real browser ---------------------------------------------------------------


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium driven through its chromium-driver (Selenium)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs chromium and chromium-driver (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument("--window-size=1400,1600")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


#: What the runs table shows, read from the page's DOM in one go: the table redraws itself.
ROWS_SHOWN = """
return [...document.querySelectorAll("#runs .tabulator-row[data-run]")].map((row) => [
  row.dataset.run,
  Object.fromEntries([["state", row.dataset.state], ...[...row.querySelectorAll(
    ".tabulator-cell[tabulator-field]")].map((c) => [c.getAttribute("tabulator-field"),
    c.textContent])]),
]);
"""
ROW = "#runs .tabulator-row[data-run='{}']"
CELL = ROW + " .tabulator-cell[tabulator-field='{}']"


def page_rows(browser) -> dict[str, dict[str, str]]:
    """The runs table as the page shows it: run id -> state and the text of each cell."""
    return dict(browser.execute_script(ROWS_SHOWN))


def row_in(browser, run_id: str, state: str) -> dict[str, str] | None:
    """RUN_ID's row once the page shows it in STATE (running, finished, lost)."""
    row = page_rows(browser).get(run_id)
    return row if row is not None and row["state"] == state else None


def click(browser, css: str) -> bool:
    """Click the element CSS selects, as a user does; False while it is missing or redrawn."""
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        NoSuchElementException,
        StaleElementReferenceException,
    )

    try:
        browser.find_element("css selector", css).click()
        return True
    except (
        NoSuchElementException,
        StaleElementReferenceException,
        ElementClickInterceptedException,
    ):
        return False


def log_text(browser, run_id: str) -> str:
    """The log panel's text while it shows RUN_ID, else ''."""
    pre = browser.find_element("id", "log")
    return pre.get_attribute("textContent") if pre.get_attribute("data-run") == run_id else ""


@pytest.mark.slow
def test_the_page_follows_a_live_launch_and_its_stop_button_stops_a_run(tmp_path, browser):
    outdir = tmp_path / "out"
    # One worker trains run 00002 for minutes; the other holds at run 00005 until released,
    # so the table can only grow after the page has shown it, however slow the machine.
    scenario = branin_scenario(tmp_path, runs=10, slow_run="00002", held_run="00005")
    launch = start_launch(scenario, outdir, parallel=2)
    try:
        wait_for(lambda: outdir.is_dir(), what="the launch to create its folder")
        with dashboard(outdir) as (url, _):
            open_page(browser, url)

            def finished() -> set[str]:
                return {k for k, row in page_rows(browser).items() if row["state"] == "finished"}

            # the table grows while the launch runs
            wait_for(lambda: row_in(browser, "00005", "running"), what="run 00005 to run")
            seen = finished()
            assert seen and "00005" not in seen
            (tmp_path / "release").touch()
            wait_for(lambda: "00005" in finished(), what="the table to grow")
            assert launch.poll() is None

            # run 00002 prints an epoch every 0.1 s: its log streams into the page
            wait_for(lambda: row_in(browser, "00002", "running"), what="run 00002 to run")
            wait_for(lambda: click(browser, CELL.format("00002", "run_id")), what="a click")
            text = wait_for(
                lambda: "epoch " in (shown := log_text(browser, "00002")) and shown,
                what="the epochs of run 00002 in its log",
            )
            wait_for(lambda: len(log_text(browser, "00002")) > len(text), what="the log to grow")
            assert log_text(browser, "00002").startswith(text)  # appended, not redrawn

            # the stop button stops it through the stop request `smac-bridge stop` makes
            from selenium.webdriver.support import expected_conditions
            from selenium.webdriver.support.ui import WebDriverWait

            stop = "#runs button.stop[data-run='00002']"
            wait_for(lambda: click(browser, stop), what="a click on run 00002's stop button")
            WebDriverWait(browser, 10).until(expected_conditions.alert_is_present()).accept()
            stopped = wait_for(lambda: row_in(browser, "00002", "finished"), what="the stop")
            assert stopped["status_text"] == "TIMEOUT (stopped)"
            assert not browser.find_elements("css selector", stop)
            # A refresh already under way when the stop was asked shows the row first; the
            # next one says it stopped.
            said = "Run 00002 has stopped: TIMEOUT (stopped), 0.001 (partial)."
            wait_for(lambda: browser.find_element("id", "notice").text == said, what="the notice")
        output, _ = launch.communicate(timeout=180)  # the optimisation went on to its end
        assert launch.returncode == 0, output
    finally:
        if launch.poll() is None:  # the launcher stops its workers on SIGTERM
            launch.terminate()
            try:
                launch.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                launch.kill()
                launch.communicate()
        kill_trials_under(tmp_path)
    records = {r["run_id"]: r for r in results.one_group(outdir).records()}
    assert len(records) == 10
    assert records["00002"]["stopped_by_user"] and records["00002"]["status"] == "TIMEOUT"


@pytest.mark.slow
def test_a_finished_launch_shows_every_run_its_best_and_its_logs(finished_launch, browser):
    records = results.one_group(finished_launch).records()
    best = best_run(records)
    with dashboard(finished_launch) as (url, _):
        open_page(browser, url)
        rows = wait_for(lambda: len(page_rows(browser)) == 8 and page_rows(browser))
        assert set(rows) == {r["run_id"] for r in records}
        assert {row["state"] for row in rows.values()} == {"finished"}
        unsat = next(r["run_id"] for r in records if r["status"] == "UNSAT")
        assert rows[unsat]["status_text"] == "UNSAT" and rows[unsat]["quality_text"] == "no quality"
        assert rows[unsat]["reason"] == "script reported UNSAT"
        assert rows[best["run_id"]]["quality_text"] == results.format_number(best["quality"])
        best_row = browser.find_element("css selector", ROW.format(best["run_id"]))
        assert "best" in best_row.get_attribute("class").split()
        assert not browser.find_elements("css selector", "button.stop")  # nothing runs
        assert "(not running): 8 of 8 runs done, 1 failed" in browser.find_element(
            "id", "summary"
        ).get_attribute("textContent")

        def charted() -> list[str]:  # drawn after the rows, once the curves have come too
            charts = browser.find_elements("css selector", "#parameter-charts canvas")
            return [chart.get_attribute("data-parameter") for chart in charts]

        wait_for(lambda: len(charted()) == 2, what="the parameter charts")
        assert charted() == ["x", "y"]

        wait_for(lambda: click(browser, CELL.format("00002", "worker")), what="a click")
        text = wait_for(lambda: log_text(browser, "00002"), what="the log of run 00002")
        assert "log of run 00002: \ufffd\ufffd not UTF-8\n" in text
        assert "Result of this algorithm run: SAT" in text
        assert browser.find_element("id", "log").get_attribute("data-running") == "false"


def test_a_log_shows_as_a_terminal_shows_it_and_damaged_records_are_named(
    finished_launch, browser, tmp_path
):
    """A Keras or tqdm progress bar (\\r), colour codes and \\b showed raw, one huge line of
    escape glyphs; record lines `status` and `results` leave out with a warning went
    unmentioned on the page."""
    copy = tmp_path / "out"
    shutil.copytree(finished_launch, copy)
    group = results.one_group(copy)
    log = group.run("00002").script_log
    raw = "\x1b[32mINFO\x1b[0m start\r\n" + "".join(f"\r{k}/20 [{'=' * k}>" for k in range(21))
    log.write_text(raw + "\nloss 0.4\x08\x08\x0835 done\n", encoding="utf-8")
    with open(group.layout.records(1), "a", encoding="utf-8") as records:
        records.write("edited by hand\n")
    with dashboard(copy) as (url, _):
        open_page(browser, url)
        wait_for(lambda: page_rows(browser), what="the runs")
        wait_for(lambda: click(browser, CELL.format("00002", "worker")), what="a click")
        text = wait_for(lambda: log_text(browser, "00002"), what="the log of run 00002")
        assert text == f"INFO start\n20/20 [{'=' * 20}>\nloss 35 done\n", repr(text)
        summary = browser.find_element("id", "summary").get_attribute("textContent")
        assert "Warning: 1 line(s) of the runs-*.jsonl files are not run records" in summary


@pytest.mark.slow
def test_a_killed_launch_shows_its_run_as_lost_without_a_stop_button(tmp_path, browser):
    outdir = tmp_path / "out"
    launch = start_launch(branin_scenario(tmp_path, runs=2, slow_run="00001"), outdir, 1)
    group = None
    try:
        wait_for(
            lambda: [m for g in dashboard_data.groups(outdir) for m in g.running()],
            what="run 00001 to start",
        )
        group = results.one_group(outdir)
        kill_launch_and_workers(launch, group)
        with dashboard(outdir) as (url, _):
            open_page(browser, url)
            lost = wait_for(lambda: row_in(browser, "00001", "lost"), what="run 00001 as lost")
            assert lost["status_text"] == "LOST"
            assert lost["reason"] == "its worker is no longer alive"
            assert not browser.find_elements("css selector", "button.stop")
            workers = browser.find_element("id", "workers").text
            assert "lost" in workers and "00001 (lost)" in workers
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.communicate()
        for marker in group.running() if group else []:
            kill_trial(marker)
        kill_trials_under(tmp_path)


def axes_group(root: Path, crash_reason: str = "exit code 1: MemoryError") -> Path:
    """An outdir whose PCS has a categorical, a log-scaled float and a log-scaled integer, with
    finished runs, a run stopped with a partial quality and a crashed one."""
    pcs = "opt {adam, sgd, rmsprop} [adam]\nlr [1e-4, 1e-1] [1e-2]l\nunits [16, 512] [64]il\n"
    group = group_made_by_hand(root, "axes", pcs)
    runs = [
        ("SAT", 0.3, "sgd", 0.001, 32, None, False),
        ("SAT", 0.2, "rmsprop", 0.05, 256, None, False),
        ("SAT", 0.25, "adam", 0.01, 64, None, False),
        ("SAT", 0.5, "adam", 0.0002, 16, "stopped by user", True),
        ("CRASHED", 1e9, "sgd", 0.09, 512, crash_reason, False),
    ]
    for number, (status, quality, opt, lr, units, reason, stopped) in enumerate(runs, start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "instance": "no_instance", "seed": -1,
             "config": {"opt": opt, "lr": lr, "units": units}, "status": status,
             "quality": quality, "cost": quality, "runtime": 1.0, "reason": reason,
             "extra": {"partial": 1} if stopped else {}, "additional": "",
             "stopped_by_user": stopped, "reused_from": None,
             "started": 10.0 * number, "ended": 10.0 * number + 5},
        )  # fmt: skip
    return root / "out"


#: The x axis of each parameter's chart, and the rows of its band of failed runs.
AXES_SHOWN = """
return [...document.querySelectorAll("#parameter-charts canvas")].map((canvas) => {
  const chart = Chart.getChart(canvas);
  const labels = (id) => chart.scales[id].ticks.map((tick) => tick.label).filter((l) => l !== "");
  return [canvas.dataset.parameter, chart.scales.x.type, labels("x"), labels("band")];
});
"""


def test_each_parameter_is_drawn_on_its_pcs_axis_and_failures_by_reason(tmp_path, browser):
    with dashboard(axes_group(tmp_path / "made")) as (url, _):
        open_page(browser, url)
        rows = wait_for(lambda: len(page_rows(browser)) == 5 and page_rows(browser))
        axes = wait_for(lambda: len(browser.execute_script(AXES_SHOWN)) == 3 and
                        browser.execute_script(AXES_SHOWN))  # fmt: skip
    assert rows["00004"]["status_text"] == "SAT (stopped)"
    assert rows["00004"]["quality_text"] == "0.5 (partial)"
    assert rows["00005"]["quality_text"] == "no quality"
    band = ["CRASHED: exit code 1: MemoryError"]
    assert axes == [
        ["lr", "logarithmic", ["0.0001", "0.001", "0.01", "0.1"], band],
        ["opt", "linear", ["adam", "sgd", "rmsprop"], band],  # by name, in the PCS's order
        ["units", "logarithmic", ["16", "32", "64", "128", "256", "512"], band],
    ]


#: What each chart of the page explains: its datasets' labels and its y axis's title.
def add_record(group: RunGroup, number: int, worker: int = 1, x: float | None = None, **fields):
    """Append run NUMBER of WORKER at X (default: NUMBER), a successful run of quality 0.5
    unless FIELDS say otherwise, as a worker would record it."""
    quality = fields.get("quality", 0.5)
    record = {
        "run_id": f"{number:05d}", "worker": worker,
        "config": {"x": float(number if x is None else x)}, "instance": "no_instance",
        "seed": -1, "status": "SAT", "quality": quality, "cost": quality, "runtime": 1.0,
        "extra": {}, "reason": None, "additional": "", "stopped_by_user": False,
        "reused_from": None, "started": 1.0, "ended": 2.0,
    }  # fmt: skip
    group.append_record(worker, {**record, **fields})


CHARTS_SHOWN = """
return [...document.querySelectorAll("canvas")].filter((c) => Chart.getChart(c)).map((c) => {
  const chart = Chart.getChart(c);
  return [c.id || c.dataset.parameter, chart.data.datasets.map((d) => d.label),
          chart.options.scales.y.title.text];
});
"""


def test_a_runtime_rungroup_is_shown_by_cost_and_budgets_by_colour(tmp_path, browser):
    """The rungroup's button said "best 0" of a solver (its quality), the runs cut at their
    cutoff were drawn as finished ones at their PAR10 cost, and a multi-fidelity launch's
    1-epoch runs looked like its 9-epoch runs, where `plot` colours them by budget."""
    solver_group(tmp_path)
    budgets = group_made_by_hand(tmp_path, "hb", "x [0, 10] [1]\n", runs=3)
    for number, (budget, quality) in enumerate([(1, 0.5), (1, 0.6), (9, 0.2)], start=1):
        add_record(budgets, number, quality=quality, budget=budget)
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        buttons = wait_for(
            lambda: (
                len(found := browser.find_elements("css selector", "#groups button")) == 2
                and [button.text for button in found]
            )
        )
        assert any("best cost 0.5 (run 00003)" in text for text in buttons), buttons
        assert any("best 0.2 (run 00003)" in text for text in buttons), buttons
        shown: dict[str, dict] = {}
        for name, label in (("solver", "timed out: PAR-k cost"), ("hb", "finished at budget 9")):
            button = f"#groups button[data-group='{name}']"
            wait_for(lambda button=button: click(browser, button), what=f"a click on {name}")

            def drawn(label: str = label) -> dict | None:
                charts = browser.execute_script(CHARTS_SHOWN)
                by_id = {chart_id: (labels, y) for chart_id, labels, y in charts}
                return by_id if label in by_id.get("x", ([], ""))[0] else None

            shown[name] = wait_for(drawn, what=f"the charts of {name}")
            captions = [c.text for c in browser.find_elements("css selector", "figcaption")]
            word = "cost" if name == "solver" else "quality"
            assert f"Best {word} over runs" in captions, captions
            if name == "solver":
                solved = wait_for(lambda: row_in(browser, "00002", "finished"), what="a row")
                assert solved["quality_text"] == "30 (PAR-k cost)"
    assert shown["solver"]["best-runs"][1] == "best cost so far (lower is better)"
    assert shown["hb"]["best-runs"][1] == "best quality so far (lower is better)"
    assert shown["hb"]["x"][0][:2] == ["finished at budget 1", "finished at budget 9"]


#: Holds the page's requests whose address starts with arguments[0] until window.release().
HOLD_REQUESTS = """
const fetched = window.fetch;
const held = new Promise((resolve) => { window.release = resolve; });
window.holding = false;
window.fetch = async (path, options) => {
  const answer = fetched(path, options);
  if (String(path).startsWith(arguments[0])) {
    window.holding = true;
    await held;
  }
  return answer;
};
"""
#: The qualities the parameter chart of x draws, lowest first.
QUALITIES_CHARTED = """
const canvas = document.querySelector("#parameter-charts canvas[data-parameter='x']");
const chart = canvas && Chart.getChart(canvas);
return chart ? chart.data.datasets[0].data.map((p) => p.y).sort() : null;
"""


def test_a_rungroup_chosen_while_the_page_waits_for_another_gets_its_own_charts(tmp_path, browser):
    """The page had asked for the first rungroup's runs when the second was clicked: it drew
    the first's runs under the second's name, and as both have the same runs and parameters
    the second's charts never came."""
    for name, qualities in (("first", (0.1, 0.2, 0.3)), ("second", (0.7, 0.8, 0.9))):
        group = group_made_by_hand(tmp_path, name, "x [0, 10] [1]\n", runs=3)
        for number, quality in enumerate(qualities, start=1):
            add_record(group, number, quality=quality)
    log_run = "return document.getElementById('log-run').textContent"
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url, "#group=first")  # not the one made last, which it opens on
        wait_for(
            lambda: browser.execute_script(QUALITIES_CHARTED) == [0.1, 0.2, 0.3], what="charts"
        )
        wait_for(lambda: browser.execute_script(log_run) != "–", what="the first's log")
        browser.execute_script(HOLD_REQUESTS, "api/runs?group=first")
        wait_for(lambda: browser.execute_script("return window.holding"), what="a look")
        wait_for(lambda: click(browser, "#groups button[data-group='second']"), what="a click")
        wait_for(lambda: browser.execute_script(log_run) == "–", what="the second chosen")
        assert browser.execute_script("return location.hash") == "#group=second"  # a reload
        browser.execute_script("window.release()")  # the first's runs come now
        charted = wait_for(
            lambda: browser.execute_script(QUALITIES_CHARTED) == [0.7, 0.8, 0.9],
            what="the second rungroup's charts",
        )
        rows = page_rows(browser)
        summary = browser.find_element("id", "summary").text
    assert charted and summary.startswith("second ")
    assert {run: row["quality_text"] for run, row in rows.items()} == {
        "00001": "0.7", "00002": "0.8", "00003": "0.9"
    }  # fmt: skip


def test_the_best_charts_name_only_workers_with_a_successful_run(tmp_path, browser):
    """Worker 1's runs had all crashed: the charts' legend named it, with no line."""
    group = group_made_by_hand(tmp_path, "g", "x [0, 10] [1]\n", runs=3)
    for number, (worker, status) in enumerate([(1, "CRASHED"), (2, "SAT"), (1, "CRASHED")], 1):
        add_record(group, number, worker=worker, status=status)
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)

        def legends() -> dict | None:
            charts = {c[0]: c[1] for c in browser.execute_script(CHARTS_SHOWN)}
            return charts if "best-runs" in charts and "best-time" in charts else None

        shown = wait_for(legends, what="the best charts")
    assert shown["best-runs"] == shown["best-time"] == ["rungroup", "worker 2"]


LEGENDS_SHOWN = """
return ["best-runs", "best-time"].map((id) => Chart.getChart(document.getElementById(id)))
  .filter((chart) => chart).map((chart) => [
    chart.legend.legendItems.map((item) => item.text),
    chart.data.datasets.filter((d) => d.label.startsWith("each of")).map((d) => d.borderColor),
  ]);
"""


HIDE_BY_LEGEND = """
const chart = Chart.getChart(document.getElementById("best-runs"));
const item = chart.legend.legendItems.find((i) => i.text === arguments[0]);
chart.options.plugins.legend.onClick(null, item, chart.legend);
return chart.data.datasets.map((d, i) => !chart.isDatasetVisible(i));
"""


def test_the_best_charts_of_many_workers_share_one_colour_and_one_legend_entry(tmp_path, browser):
    """Beyond ten workers the colours repeat (a legend entry would name another worker's
    line) and the legend fills the chart: as `plot`, one style and one entry for them all."""
    group = group_made_by_hand(tmp_path, "g", "x [0, 10] [1]\n", runs=24)
    for number in range(1, 25):
        add_record(
            group, number, worker=1 + number % 12, x=number / 3, quality=1 / number,
            started=float(number), ended=number + 0.5,
        )  # fmt: skip
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        shown = wait_for(
            lambda: (found := browser.execute_script(LEGENDS_SHOWN)) and len(found) == 2 and found,
            what="the best charts",
        )
        hidden = browser.execute_script(HIDE_BY_LEGEND, "each of the 12 workers")
        shown_again = browser.execute_script(HIDE_BY_LEGEND, "each of the 12 workers")
    assert hidden == [False] + [True] * 12 + [False]  # its entry hides every worker's curve
    assert shown_again == [False] * 14  # and a second click shows them again
    for legend, colours in shown:
        assert legend == ["rungroup", "each of the 12 workers", "default configuration"], legend
        assert len(colours) == 12 and len(set(colours)) == 1


#: The best charts' legends: each entry's text and the colour of its line.
LEGEND_COLOURS = """
return ["best-runs", "best-time"].map((id) => Chart.getChart(document.getElementById(id)))
  .filter((chart) => chart)
  .map((chart) => chart.legend.legendItems.map((item) => [item.text, item.strokeStyle]));
"""


@pytest.mark.parametrize("workers", [10, 11])
def test_the_best_charts_give_each_of_ten_workers_its_own_colour_and_entry(
    tmp_path, browser, workers: int
):
    """The page has ten colours: ten workers each keep their line's colour and legend entry,
    and only an eleventh would repeat a colour, so from then on they share one."""
    group = group_made_by_hand(tmp_path, "g", "x [0, 10] [1]\n", runs=workers)
    for number in range(1, workers + 1):  # run 00003 is at x = 1, the default configuration
        add_record(group, number, worker=number, x=number / 3, quality=1 / number)
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        shown = wait_for(
            lambda: (found := browser.execute_script(LEGEND_COLOURS)) and len(found) == 2 and found,
            what="the best charts",
        )
    for legend in shown:
        texts = [text for text, _ in legend]
        if workers <= 10:
            named = [f"worker {w}" for w in range(1, workers + 1)]
            assert texts == ["rungroup", *named, "default configuration"], texts
            assert len({colour for text, colour in legend if text in named}) == workers
        else:
            assert texts == ["rungroup", f"each of the {workers} workers", "default configuration"]


def test_learning_curves_of_runs_that_ended_early_are_dashed_and_say_why(tmp_path, browser):
    """A pruned run's curve, and one cut at its cutoff, were drawn as the finished runs'
    were: they looked like trainings that had converged where they stopped."""
    group = group_made_by_hand(tmp_path, "lc", "x [0, 10] [1]\n", runs=3)
    ended = [("SAT", "", 0.2), ("TIMEOUT", "pruned at step 2: worse than the median", 0.6)]
    ended.append(("TIMEOUT", "wall_time limit reached", 0.4))
    for number, (status, reason, quality) in enumerate(ended, start=1):
        run_id = f"{number:05d}"
        group.run(run_id).path.mkdir(parents=True)
        group.run(run_id).progress.write_text(
            "".join(json.dumps({"step": s, "quality": quality + 0.1 * (3 - s), "time": s}) + "\n"
                    for s in (1, 2))
        )  # fmt: skip
        add_record(
            group, number, status=status, quality=quality, reason=reason or None,
            partial=status == "TIMEOUT",
        )  # fmt: skip
    shown = """
    const chart = Chart.getChart(document.getElementById("curves"));
    return chart ? chart.data.datasets.map((d) => [d.label, d.borderDash.length > 0]) : null;
    """
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        curves = wait_for(lambda: browser.execute_script(shown), what="the learning curves")
    assert curves == [
        ["run 00001, best run", False],
        ["run 00002: TIMEOUT (pruned)", True],
        ["run 00003: TIMEOUT", True],
    ]


def test_a_promoted_runs_curve_continues_its_earlier_run_and_the_best_stands_out(tmp_path, browser):
    """A promoted run (multi-fidelity) was a piece of line of its own colour, apart from the
    run it continued, and nothing told the best run's curve apart, where `plot` joins them
    from a circle and draws the best run bold."""
    group = group_made_by_hand(tmp_path, "mf", "x [0, 10] [1]\n", runs=3)
    runs = [(1, 1.0, range(1, 4), 0.5, None), (2, 2.0, range(1, 4), 0.3, None)]
    runs.append((3, 1.0, range(4, 10), 0.2, "00001"))  # run 00001's configuration, on to 9
    for number, x, steps, quality, earlier in runs:
        budget = steps[-1]
        run_id = f"{number:05d}"
        group.run(run_id).path.mkdir(parents=True)
        group.run(run_id).progress.write_text(
            "".join(json.dumps({"step": s, "quality": quality + 0.3 / s, "time": s}) + "\n"
                    for s in steps)
        )  # fmt: skip
        add_record(group, number, x=x, quality=quality, promoted_from=earlier, budget=budget)
    shown = """
    const chart = Chart.getChart(document.getElementById("curves"));
    return chart && chart.data.datasets.map((d) => [d.label, d.borderColor, d.data[0].x,
                                                    d.data.length]);
    """
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        curves = wait_for(lambda: browser.execute_script(shown), what="the learning curves")
    (first, colour, *_), second, promoted = curves
    assert first == "run 00001" and second[0] == "run 00002" and second[1] != colour
    assert promoted == ["run 00003, best run, promoted", "black", 3, 7]  # from step 3 on


def test_the_page_opens_on_the_latest_launch_and_says_why_a_launch_was_aborted(tmp_path, browser):
    """The page opened on the first rungroup by name, not the one running, a reload forgot
    the one chosen, and a launch that a run aborted showed its workers `aborted` without a
    word of why (`status` says it)."""
    older = group_made_by_hand(tmp_path, "a-older", "x [0, 10] [1]\n")
    newer = group_made_by_hand(tmp_path, "b-newer", "x [0, 10] [1]\n")
    for group, started in ((older, 2000.0), (newer, 1000.0)):  # the older name sorts first
        group.write_launch_info({**group.launch_info(), "session_started": started})
        add_record(group, 1)
    older.request_abort("the target signalled ABORT: CUDA <b>gone</b>", 2, "00002", 255)
    newer.write_launch_info({**newer.launch_info(), "session_started": 3000.0})
    chosen = """
    const name = document.querySelector("#groups button.selected .name");
    return name && [name.textContent, document.getElementById("worker-errors").textContent];
    """
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        assert wait_for(lambda: browser.execute_script(chosen)) == ["b-newer", ""]
        open_page(browser, url, "#group=a-older")
        browser.refresh()

        def older_shown() -> list[str] | None:
            shown = browser.execute_script(chosen)
            return shown if shown and shown[0] == "a-older" else None

        aborted = (
            "launch aborted by worker 2 (run 00002): the target signalled ABORT: CUDA <b>gone</b>"
        )
        assert wait_for(older_shown) == ["a-older", aborted]


def test_every_failure_reason_of_the_band_is_labelled(tmp_path, browser):
    """Of four reasons the band of failed runs labelled two: Chart.js skipped the others."""
    group = group_made_by_hand(tmp_path, "failing", "x [0, 10] [1]\n", runs=5)
    reasons = ["exit code 1: ValueError", "script reported UNSAT", "out of memory", "diverged"]
    for number, reason in enumerate(reasons, start=1):
        add_record(group, number, status="UNSAT", quality=1e9, reason=reason)
    add_record(group, 5)
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        axes = wait_for(lambda: browser.execute_script(AXES_SHOWN), what="the parameter chart")
    ((_, _, _, band),) = axes
    assert sorted(band) == sorted(f"UNSAT: {reason}" for reason in reasons)


@pytest.mark.parametrize("runs", [10, 11])
def test_the_learning_curves_legend_names_runs_while_each_has_its_own_colour(
    tmp_path, browser, runs: int
):
    """The page has ten colours: the legend named eleven or twelve curves, two of them in one
    colour. Beyond ten, the curves' tooltips name their runs."""
    group = group_made_by_hand(tmp_path, "lc", "x [0, 10] [1]\n", runs=runs)
    for number in range(1, runs + 1):
        run_id = f"{number:05d}"
        group.run(run_id).path.mkdir(parents=True)
        point = {"step": 1, "quality": 1 / number, "time": 1}
        group.run(run_id).progress.write_text(json.dumps(point) + "\n")
        add_record(group, number, quality=1 / number)
    shown = """
    const chart = Chart.getChart(document.getElementById("curves"));
    return chart && chart.data.datasets.length === arguments[0]
      ? [chart.options.plugins.legend.display, chart.data.datasets.map((d) => d.borderColor)]
      : null;
    """
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        legend, colours = wait_for(
            lambda: browser.execute_script(shown, runs), what="the learning curves"
        )
    assert legend is (runs <= 10)
    if legend:
        assert len(set(colours)) == runs


def test_by_quality_a_partial_quality_never_outranks_a_finished_run(tmp_path, browser):
    """The table opened with a stopped run's partial 0.01 above the incumbent; and a failed
    worker's heartbeat whose message is no text stopped the page from drawing it at all."""
    group = group_made_by_hand(tmp_path / "made", "partial", "lr [1e-4, 1e-1] [1e-2]l\n")
    runs = [
        ("SAT", 0.3, False),
        ("SAT", 0.2, False),
        ("TIMEOUT", 0.01, True),
        ("CRASHED", 1e9, False),
    ]
    for number, (status, quality, partial) in enumerate(runs, start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "instance": "no_instance", "seed": -1,
             "config": {"lr": 0.001 * number}, "status": status, "quality": quality,
             "cost": quality, "runtime": 1.0, "reason": None, "extra": {}, "partial": partial,
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": 10.0 * number, "ended": 10.0 * number + 5},
        )  # fmt: skip
    # a heartbeat edited by hand whose message is a number blanked the whole page
    group.write_worker(1, {"seed": 1, "host": "h", "state": "failed", "message": 42})  # type: ignore[typeddict-item]
    with dashboard(tmp_path / "made" / "out") as (url, _):
        open_page(browser, url)
        rows = wait_for(lambda: len(page_rows(browser)) == 4 and page_rows(browser))
    assert list(rows) == ["00002", "00001", "00003", "00004"]


def test_by_quality_the_highest_budget_comes_first_as_in_results(tmp_path, browser, cli):
    """Multi-fidelity: two one-epoch screenings with lower errors than two nine-epoch
    trainings sat above them on the page, where `results` lists the trained models first."""
    group = group_made_by_hand(tmp_path / "made", "budgets", "lr [1e-4, 1e-1] [1e-2]l\n")
    for number, (budget, quality) in enumerate([(1, 0.1), (1, 0.15), (9, 0.2), (9, 0.3)], 1):
        add_record(group, number, budget=float(budget), quality=quality, ended=10.0 + number)
    listed = json.loads(cli("results", str(group.path), "--json").stdout)
    assert [row["run_id"] for row in listed] == ["00003", "00004", "00001", "00002"]
    with dashboard(tmp_path / "made" / "out") as (url, _):
        open_page(browser, url)
        rows = wait_for(lambda: len(page_rows(browser)) == 4 and page_rows(browser))
    assert list(rows) == ["00003", "00004", "00001", "00002"]


SORT_BY = """
const title = [...document.querySelectorAll("#runs .tabulator-col")].find(
  (col) => col.querySelector(".tabulator-col-title")?.textContent === arguments[0]);
title.querySelector(".tabulator-col-title").click();
return title.getAttribute("tabulator-field");
"""
COLUMN_SHOWN = """
return [...document.querySelectorAll("#runs .tabulator-row[data-run]")].map((row) =>
  row.querySelector(`.tabulator-cell[tabulator-field='${arguments[0]}']`).textContent);
"""


def test_parameters_sort_and_filter_as_results_and_the_cells_show_them(tmp_path, browser):
    """A categorical of numbers sorted 128 < 16 and an ordinal by name, unlike `results
    --sort`; an inactive value came first; and a real typed into its filter as its cell shows
    it (0.641495) found nothing. `results --sort` sorts the same columns the same way."""
    pcs = (
        "size categorical {128, 16, 32} [32]\nlevel ordinal {small, medium, large} [medium]\n"
        "opt categorical {sgd, rmsprop, adam} [sgd]\n"  # declared out of the alphabet's order
        "mix categorical {relu, 128, 16} [relu]\n"  # numbers, then words, either way
        "x real [0, 1] [0.5]\nmom real [0, 1] [0.5]\nmom | level == large\n"
    )
    group = group_made_by_hand(tmp_path / "made", "sorts", pcs)
    configs = [
        {"size": "128", "level": "small", "opt": "sgd", "mix": "128", "x": 0.6414948515594},
        {"size": "16", "level": "large", "opt": "adam", "mix": "relu", "x": 0.2, "mom": 0.3},
        {"size": "32", "level": "medium", "opt": "rmsprop", "mix": "16", "x": 0.9},
        {"size": "16", "level": "large", "opt": "adam", "mix": "relu", "x": 0.1, "mom": 0.7},
    ]
    for number, config in enumerate(configs, start=1):
        group.append_record(
            1,
            {"run_id": f"{number:05d}", "worker": 1, "instance": "no_instance", "seed": -1,
             "config": config, "status": "SAT", "quality": 0.1 * number,
             "cost": 0.1 * number, "runtime": 1.0, "reason": None, "extra": {},
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "started": 10.0 * number, "ended": 10.0 * number + 5},
        )  # fmt: skip
    with dashboard(tmp_path / "made" / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 4)
        shown = {}
        for name in ("size", "level", "opt", "mix", "mom"):
            for direction in ("asc", "desc"):  # a second click turns the order round
                field = browser.execute_script(SORT_BY, name)
                shown[name, direction] = browser.execute_script(COLUMN_SHOWN, field)
        field = browser.execute_script(SORT_BY, "x")
        box = browser.find_element(
            "css selector", f"#runs .tabulator-col[tabulator-field='{field}'] input"
        )
        box.send_keys("0.641495")
        filtered = wait_for(lambda: list(page_rows(browser)) == ["00001"] and ["00001"])
    assert shown == {
        ("size", "asc"): ["16", "16", "32", "128"],
        ("size", "desc"): ["128", "32", "16", "16"],
        ("level", "asc"): ["small", "medium", "large", "large"],
        ("level", "desc"): ["large", "large", "medium", "small"],
        ("opt", "asc"): ["adam", "adam", "rmsprop", "sgd"],  # a categorical by name
        ("opt", "desc"): ["sgd", "rmsprop", "adam", "adam"],
        ("mix", "asc"): ["16", "128", "relu", "relu"],
        ("mix", "desc"): ["128", "16", "relu", "relu"],
        ("mom", "asc"): ["0.3", "0.7", "", ""],  # inactive last, as in `results`
        ("mom", "desc"): ["0.7", "0.3", "", ""],
    }
    orders = results.ordinal_orders(dashboard_data.read_setup(group).space)
    for (name, direction), values in shown.items():
        ordered = results.sort_runs(
            group.records(), name, direction == "desc", None, orders.get(name)
        )
        assert [str(r["config"].get(name, "")) for r in ordered] == values, name
    assert filtered == ["00001"]


def test_quality_sorts_as_results_does_either_way_with_running_runs_last(tmp_path, browser):
    """A descending sort by quality put the running runs first and the 1-epoch runs above
    the 3-epoch ones: Tabulator turns the whole order round, where `results --sort -quality`
    keeps the highest budget first and runs without a quality last."""
    group = running_group(tmp_path)
    add_record(group, 2, quality=0.3, budget=3)
    add_record(group, 3, status="TIMEOUT", quality=0.1, partial=True, budget=3)
    add_record(group, 4, quality=0.2, budget=1)
    add_record(group, 5, status="CRASHED", quality=1e9, reason="exit code 1", budget=3)
    add_record(group, 6, quality=0.05, budget=1)
    add_record(group, 7, quality=0.4, budget=3)
    shown = {}
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 7)
        for direction in ("desc", "asc"):  # the table opens sorted by quality, ascending
            browser.execute_script(SORT_BY, "quality")
            shown[direction] = browser.execute_script(COLUMN_SHOWN, "run_id")
    for direction, ids in shown.items():
        ordered = results.sort_runs(group.records(), "quality", direction == "desc")
        assert ids == [r["run_id"] for r in ordered] + ["00001"], (direction, shown)
    assert shown["desc"][:3] == ["00005", "00003", "00007"]  # failed, partial, then the worst


def test_the_run_column_sorts_run_ids_by_number(tmp_path, browser):
    """Run ids grow a sixth digit at run 100,000: the column sorted them as text, 100000
    before 00007."""
    group = running_group(tmp_path)
    for number in (100000, 7, 99999):
        add_record(group, number)
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 4)
        browser.execute_script(SORT_BY, "run")
        shown = browser.execute_script(COLUMN_SHOWN, "run_id")
    assert shown == ["00001", "00007", "99999", "100000"]


def test_runs_filter_by_status_and_the_count_says_how_many_of_all_are_shown(tmp_path, browser):
    """The status column has its filter box (the crashed runs among many), and the count
    by the table's title says how many of all the runs the filter leaves, as the user types
    (it waited for the page's next look, which a dashboard that is gone never makes)."""
    group = group_made_by_hand(tmp_path, "g", "x [0, 10] [1]\n", runs=6)
    for number, status in enumerate(["SAT", "SAT", "CRASHED", "SAT", "TIMEOUT", "SAT"], 1):
        add_record(group, number, status=status, quality=1e9 if status != "SAT" else 0.1 * number)
    from selenium.webdriver.common.keys import Keys

    count = "return document.getElementById('runs-count').textContent"
    box = "#runs .tabulator-col[tabulator-field='status_text'] input"
    with dashboard(tmp_path / "out") as (url, process):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 6, what="the six runs")
        wait_for(lambda: browser.execute_script(count) == "(6)", what="the count of all")
        found = browser.find_elements("css selector", box)  # built with the table's header
        assert found, "the status column has no filter box"
        found[0].send_keys("CRASHED")
        rows = wait_for(lambda: len(page_rows(browser)) == 1 and page_rows(browser), what="1 run")
        said = wait_for(
            lambda: (text := browser.execute_script(count)) != "(6)" and text,
            what="the count to follow the filter",
        )
        assert list(rows) == ["00003"] and rows["00003"]["status_text"] == "CRASHED"
        assert said == "(1 of 6 shown)"
        found[0].send_keys(*[Keys.BACKSPACE] * len("CRASHED"))  # typed away, as a user does
        wait_for(lambda: browser.execute_script(count) == "(6)", what="the count of all again")
        os.killpg(process.pid, signal.SIGKILL)  # no look of the page's can count from now on
        process.wait()
        found[0].send_keys("TIMEOUT")
        wait_for(lambda: browser.execute_script(count) == "(1 of 6 shown)", what="the count")


def fidelity_group(root: Path) -> Path:
    """A multi-fidelity rungroup: a run at 3 epochs, one pruned there, the first promoted to
    9, and a run at 27 whose launch was killed (its worker last wrote at time 150)."""
    group = group_made_by_hand(root, "fidelity", "lr [1e-4, 1e-1] [1e-2]l\n")
    runs = [
        ("00001", 0.4, 0.01, 3, None, None),
        ("00002", 0.6, 0.05, 3, "pruned: median rule at step 3", None),
        ("00003", 0.3, 0.01, 9, None, "00001"),
    ]
    for number, (run_id, quality, lr, budget, reason, promoted_from) in enumerate(runs, 1):
        group.append_record(
            1,
            {"run_id": run_id, "worker": 1, "instance": "no_instance", "seed": -1,
             "config": {"lr": lr}, "status": "SAT", "quality": quality, "cost": quality,
             "runtime": 1.0, "reason": reason, "extra": {"partial": 1} if reason else {},
             "additional": "", "stopped_by_user": False, "reused_from": None,
             "budget": budget, "promoted_from": promoted_from,
             "started": 10.0 * number, "ended": 10.0 * number + 5},
        )  # fmt: skip
    host, _, _ = this_process()
    group.mark_running(  # a pid beyond pid_max: the launch is gone
        {"run_id": "00004", "worker": 1, "config": {"lr": 0.02}, "instance": "no_instance",
         "seed": -1, "budget": 27, "started": 100.0, "run_dir": "runs/00004", "log": "",
         "host": host, "pid": 2**22 + 1, "pid_start": "gone", "trial_pid": None, "marker": None}
    )  # fmt: skip
    heartbeat = {"seed": 1, "state": "running", "host": host, "pid": 2**22 + 1}
    write_json_atomic(group.layout.heartbeat(1), {**heartbeat, "updated": 100.0})
    log = group.run("00004").path / "algo_output.log"  # the run trained until 140
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("epoch 4\n")
    os.utime(log, (140.0, 140.0))
    return root / "out"


def test_budgets_promotions_pruned_and_lost_runs_are_shown_as_results_shows_them(tmp_path, browser):
    outdir = fidelity_group(tmp_path / "made")
    group = results.one_group(outdir)
    data = dashboard_data.runs(group, dashboard_data.read_setup(group), now=1000.0)
    rows = {row["run_id"]: row for row in data["rows"]}
    assert data["budgets"] is True
    assert [rows[r]["budget"] for r in ("00001", "00002", "00003", "00004")] == [3, 3, 9, 27]
    assert rows["00002"]["label"] == "SAT (pruned)"
    assert rows["00003"]["label"] == "SAT (promoted from 00001)"
    # a lost run's time ends at its last sign of life (its log), not at each look (900) nor
    # at its worker's heartbeat, written as the trial started (0)
    assert (rows["00004"]["state"], rows["00004"]["duration"]) == ("lost", 40.0)
    (lost,) = monitor.group_status(group, now=1000.0)["lost"]
    assert lost["elapsed"] == 40.0
    with dashboard(outdir) as (url, _):
        open_page(browser, url)
        shown = wait_for(lambda: len(page_rows(browser)) == 4 and page_rows(browser))
    assert {run: row["budget"] for run, row in shown.items()} == {
        "00001": "3", "00002": "3", "00003": "9", "00004": "27"
    }  # fmt: skip
    assert shown["00002"]["status_text"] == "SAT (pruned)"
    assert shown["00003"]["status_text"] == "SAT (promoted from 00001)"
    assert (shown["00004"]["status_text"], shown["00004"]["duration"]) == ("LOST", "0:40")


def test_a_reason_in_its_tooltip_is_text_not_markup(tmp_path, browser):
    """A script's error message may hold markup (`got <class 'str'>`, or worse): hovering
    the cut reason shows it as written and makes no element of it."""
    from selenium.webdriver.common.action_chains import ActionChains

    reason = "exit code 1: <img src=x id=injected> got <class 'str'>"
    with dashboard(axes_group(tmp_path / "made", reason)) as (url, _):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 5)

        cell = browser.find_element("css selector", CELL.format("00005", "reason"))
        ActionChains(browser).move_to_element(cell).move_by_offset(3, 0).perform()
        shown = wait_for(lambda: browser.find_elements("css selector", ".tabulator-tooltip"))
        assert shown[0].get_attribute("textContent") == reason
        assert browser.execute_script("return document.getElementById('injected')") is None


def test_a_folder_that_does_not_exist_is_told_apart_from_an_empty_one(tmp_path, browser):
    """A mistyped path looked like a folder waiting for its launch, forever."""
    groups_text = "return document.getElementById('groups').textContent"
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        shown = wait_for(lambda: browser.execute_script(groups_text))
        assert "does not exist yet" in shown and "check the path" in shown, shown
        (tmp_path / "out").mkdir()
        wait_for(lambda: "No rungroup here yet" in browser.execute_script(groups_text))


def test_the_page_says_when_the_dashboard_is_gone_and_goes_on_when_it_is_back(tmp_path, browser):
    """A dashboard restarted (a closed terminal, a new SSH tunnel) on the same port: the
    page said nothing while it showed old data, or kept its error, or stopped asking. The
    restarted one has a new token: the page says to open its URL, and that URL works."""
    running_group(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    problem = "const p = document.getElementById('problem'); return p.hidden ? null : p.textContent"
    with dashboard(tmp_path / "out", "--port", port) as (url, process):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 1)
        os.killpg(process.pid, signal.SIGKILL)
        shown = wait_for(lambda: browser.execute_script(problem))
        assert shown.startswith("dashboard: "), shown
    with dashboard(tmp_path / "out", "--port", port) as (url, _):
        shown = wait_for(lambda: "token" in (browser.execute_script(problem) or "") and
                         browser.execute_script(problem))  # fmt: skip
        assert shown == "dashboard: a token is needed: use the URL the dashboard printed"
        open_page(browser, url)
        wait_for(lambda: browser.execute_script(problem) is None)
        wait_for(lambda: len(page_rows(browser)) == 1)


def test_a_stop_waits_for_the_users_yes_and_is_asked_once(tmp_path, browser):
    """Cancel in the confirmation leaves the trial running; after a yes the button says
    "stopping…" and takes no second click."""
    group = running_group(tmp_path)
    asked = group.run("00001").stop_request
    button = ROW.format("00001") + " button.stop"
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: browser.find_elements("css selector", button))
        browser.execute_script("window.confirm = () => false")
        updated = "return document.getElementById('updated').textContent"
        before = browser.execute_script(updated)
        browser.find_element("css selector", button).click()
        wait_for(lambda: browser.execute_script(updated) != before)  # a poll since the click
        assert not asked.exists()
        browser.execute_script("window.confirm = () => true")
        browser.find_element("css selector", button).click()
        wait_for(lambda: asked.exists())
        shown = "const b = document.querySelector(arguments[0]); return [b.textContent, b.disabled]"
        assert wait_for(lambda: browser.execute_script(shown, button) == ["stopping…", True])


def test_a_clicked_runs_log_stays_while_follow_is_off_and_follow_moves_to_the_newest(
    tmp_path, browser
):
    """A click on a run turns "follow" off: the log the user reads stays when a newer run
    starts; ticked again, the panel shows the newest running run's log."""
    group = running_group(tmp_path)
    group.run("00001").script_log.write_text("log of run 00001\n")
    updated = "return document.getElementById('updated').textContent"
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: "log of run 00001" in log_text(browser, "00001"), what="its log")
        wait_for(lambda: click(browser, CELL.format("00001", "run_id")), what="a click")
        assert not browser.find_element("id", "follow").is_selected()
        (marker,) = group.running()
        group.run("00002").path.mkdir()
        group.run("00002").script_log.write_text("log of run 00002\n")
        group.mark_running({**marker, "run_id": "00002", "started": 200.0, "run_dir": "runs/00002"})
        wait_for(lambda: row_in(browser, "00002", "running"), what="the newer run")
        for _ in range(2):  # two looks since: either would have followed the newer run
            before = browser.execute_script(updated)
            wait_for(lambda b=before: browser.execute_script(updated) != b, what="a look")
        assert "log of run 00001" in log_text(browser, "00001")
        browser.find_element("id", "follow").click()
        wait_for(lambda: "log of run 00002" in log_text(browser, "00002"), what="the newest log")


def test_a_runs_status_stands_out_in_its_colour(tmp_path, browser):
    """Running in blue, failed in red, a partial quality's in amber: the style sheet named
    the status cell by a field the table does not have, so running and lost runs were not
    coloured at all."""
    group = running_group(tmp_path)
    add_record(group, 2, status="CRASHED", quality=1e9, reason="exit code 1")
    add_record(group, 3, status="TIMEOUT", quality=0.4, partial=True, stopped_by_user=True)
    colour = "return getComputedStyle(document.querySelector(arguments[0])).color"
    with dashboard(tmp_path / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 3)
        shown = {
            run: browser.execute_script(colour, CELL.format(run, "status_text"))
            for run in ("00001", "00002", "00003")
        }
    assert shown == {
        "00001": "rgb(9, 105, 218)",
        "00002": "rgb(179, 38, 30)",
        "00003": "rgb(154, 103, 0)",
    }


def test_a_parameter_name_or_value_is_text_not_markup(tmp_path, browser):
    """PCS names and categorical values may hold any character but blanks and a few
    separators: a name written as markup became an element of the page's table header."""
    name, value = "a<img/id=injected>b", "<img/id=injcat>"
    pcs = f"{name} [0, 1] [0.5]\nkind {{plain, {value}}} [plain]\n"
    group = group_made_by_hand(tmp_path / "made", "names", pcs)
    add_record(group, 1, config={name: 0.5, "kind": value}, quality=0.2)
    titles = "return [...document.querySelectorAll('.tabulator-col-title')].map(e => e.textContent)"
    with dashboard(tmp_path / "made" / "out") as (url, _):
        open_page(browser, url)
        wait_for(lambda: len(page_rows(browser)) == 1)
        assert name in browser.execute_script(titles)
        cells = "return [...document.querySelectorAll('#runs .tabulator-cell')]"
        assert value in browser.execute_script(cells + ".map((e) => e.textContent)")
        for planted in ("injected", "injcat"):  # each would be an element if read as HTML
            assert browser.execute_script(f"return document.getElementById('{planted}')") is None


def test_the_page_loads_only_files_that_ship_in_the_package():
    from smac_bridge.dashboard import STATIC

    page = (STATIC / "index.html").read_text(encoding="utf-8")
    loaded = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert len(loaded) == 6 and all(path.startswith("static/") for path in loaded)
    assert all((STATIC / path.removeprefix("static/")).is_file() for path in loaded)
    for ours in ("dashboard.js", "dashboard.css"):  # no address outside the server
        assert not re.search(r"https?:|//[a-z]", (STATIC / ours).read_text(encoding="utf-8"))
    for vendored in ("chart.js.LICENSE.md", "tabulator.LICENSE"):
        assert "MIT License" in (STATIC / "vendor" / vendored).read_text(encoding="utf-8")


# ---- the JSON views ---------------------------------------------------------------------------


def running_group(root: Path) -> RunGroup:
    """A rungroup with run 00001 running in this very process (so that it counts as alive)."""
    group = RunGroup(root / "out" / "made")
    group.create()
    host, pid, pid_start = this_process()
    group.mark_running(
        {"run_id": "00001", "worker": 1, "config": {"x": 1.0}, "instance": "no_instance",
         "seed": -1, "started": 100.0, "run_dir": "runs/00001", "log": "", "host": host,
         "pid": pid, "pid_start": pid_start, "trial_pid": None, "marker": None}
    )  # fmt: skip
    group.run("00001").path.mkdir(parents=True)
    return group


def test_the_log_is_read_by_offset_and_never_splits_a_character(tmp_path):
    group = running_group(tmp_path)
    log = group.run("00001").script_log
    log.write_bytes("epoch 1 \u2713".encode()[:-1])  # the check mark's last byte is not written
    chunk = dashboard_data.log_chunk(group, "00001")
    assert (chunk["text"], chunk["file"], chunk["running"]) == ("epoch 1 ", log.name, True)
    assert chunk["next"] == len(b"epoch 1 ") and chunk["size"] == len(b"epoch 1 ") + 2
    with open(log, "ab") as out:
        out.write("\u2713".encode()[-1:] + b"\n\xff\n")
    later = dashboard_data.log_chunk(group, "00001", chunk["next"], log.name)
    assert later["text"] == "\u2713\n\ufffd\n" and later["next"] == log.stat().st_size
    # caught up with a quiet run: nothing new, not the tail again (the page would redraw it)
    quiet = dashboard_data.log_chunk(group, "00001", later["next"], log.name)
    assert (quiet["text"], quiet["offset"], quiet["next"]) == ("", later["next"], later["next"])
    # another file than the page asked for (the algo's log was replaced): from the start
    again = dashboard_data.log_chunk(group, "00001", later["next"], "algo_output.log")
    assert again["offset"] == 0 and again["text"].startswith("epoch 1 ")


def test_a_log_begun_again_shorter_is_shown_from_its_start(tmp_path):
    """The page had read 400 bytes of the run's log; the run was run again (a resume) and its
    new log is shorter: asking on from byte 400 showed nothing until it grew past it."""
    group = running_group(tmp_path)
    log = group.run("00001").script_log
    log.write_text("re-run after --resume: epoch 1\n")
    chunk = dashboard_data.log_chunk(group, "00001", 400, log.name)
    assert (chunk["text"], chunk["next"]) == ("re-run after --resume: epoch 1\n", 31)


def test_a_trial_queued_on_a_cluster_has_no_running_time_yet(tmp_path):
    group = running_group(tmp_path)
    (marker,) = group.running()
    assert dashboard_data.runs(group, GroupSetup(), now=1000.0)["rows"][0]["duration"] == 900.0
    group.mark_running({**marker, "queued": True})
    (row,) = dashboard_data.runs(group, GroupSetup(), now=1000.0)["rows"]
    assert (row["state"], row["duration"]) == ("queued", None)


def test_a_setup_problem_goes_once_the_files_are_back(tmp_path):
    """The scenario file was moved away while the dashboard ran; put back, the page still
    said it could not read the search space until the dashboard was started again."""
    group = group_made_by_hand(tmp_path, "task", "x [0, 1] [0.5]\n")
    scenario = tmp_path / "task.txt"
    kept = scenario.read_text()
    scenario.unlink()
    views = dashboard_data.Views(tmp_path / "out")
    assert "scenario file not found" in views.setup(group).problem
    scenario.write_text(kept)
    assert views.setup(group).problem is None


def test_best_so_far_starts_over_when_an_earlier_run_is_read_late(tmp_path):
    """Worker 2's run (ended at 12 s) was read before worker 1's (ended at 11 s, the best):
    the curve kept going from the runs it had, and never showed the best run."""
    group = RunGroup(tmp_path / "g")
    group.create()
    add_record(group, 1, ended=10.0, quality=0.9)
    add_record(group, 3, worker=2, ended=12.0, quality=0.8)
    curves = dashboard_data.BestSoFar()
    curves.update(group.records())
    add_record(group, 2, ended=11.0, quality=0.1)
    grown = curves.update(group.records())
    assert grown == dashboard_data.BestSoFar().update(group.records())
    assert [p["run_id"] for p in grown["rungroup"]] == ["00001", "00002", "00002"]


def test_a_long_log_is_shown_from_its_tail_then_in_chunks(tmp_path):
    group = running_group(tmp_path)
    group.run("00001").script_log.write_bytes(b"x" * (dashboard_data.LOG_TAIL + 10))
    first = dashboard_data.log_chunk(group, "00001")
    assert first["offset"] == 10 and len(first["text"]) == dashboard_data.LOG_TAIL
    part = dashboard_data.log_chunk(group, "00001", 0, "process_output.log", limit=4)
    assert (part["text"], part["next"]) == ("xxxx", 4)


def test_a_tail_starts_at_a_character_and_a_planted_log_link_is_refused(tmp_path):
    """The tail of a log of three-byte characters began inside one (a stray U+FFFD); a
    `process_output.log` linked to a file outside the output folder served that file."""
    from smac_bridge.errors import InputError

    group = running_group(tmp_path)
    log = group.run("00001").script_log
    log.write_text("\u20ac" * (dashboard_data.LOG_TAIL // 3 + 10), encoding="utf-8")
    tail = dashboard_data.log_chunk(group, "00001")
    assert tail["text"] and set(tail["text"]) == {"\u20ac"}, tail["text"][:3]
    assert tail["offset"] % 3 == 0
    secret = tmp_path / "secret.txt"
    secret.write_text("not the run's\n")
    log.unlink()
    log.symlink_to(secret)
    with pytest.raises(InputError, match="leads outside the rungroup"):
        dashboard_data.log_chunk(group, "00001")
    log.unlink()
    log.mkdir()  # an answer that says so, not a server error with its traceback
    with pytest.raises(InputError, match="cannot read the log: Is a directory"):
        dashboard_data.log_chunk(group, "00001")


def test_learning_curves_skip_lines_that_are_not_points(tmp_path):
    group = running_group(tmp_path)
    group.run("00001").progress.write_bytes(
        b'{"step": 1, "quality": 0.5, "time": 1.0}\nnot json\n{"quality": 0.1}\n'
        b'{"step": 2, "quality": null}\n{"step": 3, "qua'
    )
    (group.layout.runs / "notes").mkdir()
    group.run("00002").path.mkdir()
    assert dashboard_data.progress(group) == {
        "00001": [{"step": 1, "quality": 0.5}, {"step": 2, "quality": None}]
    }


def test_the_page_gets_each_new_step_of_a_curve_it_asked_for_before(tmp_path):
    """The dashboard keeps the curves it read (reading every file at each request held the
    server for a second): a running trial's next step still shows, and a run's folder set
    aside and begun again shows its new curve."""
    group = running_group(tmp_path)
    views = dashboard_data.Views(tmp_path / "out")
    curve = group.run("00001").progress
    curve.write_text('{"step": 1, "quality": 0.5}\n')
    assert views.progress("made") == {"00001": [{"step": 1, "quality": 0.5}]}
    with open(curve, "a", encoding="utf-8") as out:
        out.write('{"step": 2, "quality": 0.25}\n')
    assert views.progress("made")["00001"][-1] == {"step": 2, "quality": 0.25}
    curve.rename(tmp_path / "set-aside.jsonl")
    curve.write_text('{"step": 7, "quality": 0.75}\n')
    assert views.progress("made") == {"00001": [{"step": 7, "quality": 0.75}]}


@pytest.mark.slow
def test_best_so_far_grows_with_the_runs_and_follows_the_incumbent_rule(finished_launch):
    records = sorted(
        results.one_group(finished_launch).records(), key=lambda r: (r["ended"], r["run_id"])
    )
    curves = dashboard_data.BestSoFar()
    curves.update(records[:5])
    grown = curves.update(records)
    assert grown == dashboard_data.BestSoFar().update(records)
    expected = [best_run(records[:n]) for n in range(1, len(records) + 1)]
    shown = [(p["runs"], p["run_id"]) for p in grown["rungroup"]]
    assert shown == [(n, b["run_id"]) for n, b in enumerate(expected, start=1) if b]
    # each worker's curve ends at its last run (both have an incumbent of their own by then)
    last = {seed: points[-1]["runs"] for seed, points in grown["workers"].items()}
    assert last == {str(w): sum(r["worker"] == w for r in records) for w in (1, 2)}


def solver_group(root: Path) -> RunGroup:
    """A runtime objective's rungroup: two solved runs and one cut at its cutoff (PAR10)."""
    group = group_made_by_hand(root, "solver", "x [0, 10] [1]\n", runs=3)
    group.write_launch_info({**group.launch_info(), "run_obj": "runtime"})
    runs = [("SAT", 1.5, 1.0), ("TIMEOUT", 30.0, 5.0), ("SAT", 0.5, 2.0)]
    for number, (status, cost, x) in enumerate(runs, start=1):
        add_record(group, number, x=x, status=status, quality=0, cost=cost, runtime=min(cost, 3.0))
    return group


def test_a_runtime_objective_is_shown_by_cost(tmp_path):
    """A solver's runs: the table said "quality 0" of a solved run and "no quality" of one cut
    at its cutoff, where results and the report show each run's cost (PAR10 when unsolved);
    and the run cut at its cutoff was then drawn as a finished one at its PAR10 cost, where
    `plot` draws it as a timed-out run."""
    group = solver_group(tmp_path)
    data = dashboard_data.runs(group, dashboard_data.read_setup(group), now=1000.0)
    assert data["result"] == "cost"
    shown = {row["run_id"]: (row["kind"], row["quality"], row["par_k"]) for row in data["rows"]}
    assert shown == {
        "00001": ("ok", 1.5, False),
        "00002": ("partial", 30.0, True),
        "00003": ("ok", 0.5, False),
    }
    assert data["default_quality"] == 1.5 and data["best"] == "00003"
    # on a second instance the default's line is its mean, as the incumbent's curve is
    add_record(group, 4, x=1.0, quality=0, cost=3.5, runtime=3.0, instance="hard")
    data = dashboard_data.runs(group, dashboard_data.read_setup(group), now=1000.0)
    assert data["default_quality"] == 2.5
    group.write_launch_info({**group.launch_info(), "run_obj": "quality"})
    data = dashboard_data.runs(group, dashboard_data.read_setup(group), now=1000.0)
    assert data["result"] == "quality" and data["rows"][1]["kind"] != "ok"


def test_a_runtime_objectives_unsat_solve_is_a_result_not_a_failure(tmp_path, cli):
    """With `run_obj = runtime` an UNSAT run solved its instance (SMAC 2.10): `results` and
    `best` named it the best run, while the dashboard and the plots drew it in the failure
    band as "no quality", without the incumbent's star, and `best` and the report printed
    the crash quality the wrapper gave it as its quality."""
    group = group_made_by_hand(tmp_path, "solver", "x [0, 10] [1]\n", runs=2)
    group.write_launch_info({**group.launch_info(), "run_obj": "runtime"})
    add_record(group, 1, status="SAT", quality=0, cost=1.5, runtime=1.5, solved=True)
    add_record(group, 2, status="UNSAT", quality=1e9, cost=0.2, runtime=0.2, solved=True)
    data = dashboard_data.runs(group, dashboard_data.read_setup(group), now=1000.0)
    shown = {row["run_id"]: (row["kind"], row["quality"]) for row in data["rows"]}
    assert shown == {"00001": ("ok", 1.5), "00002": ("ok", 0.2)} and data["best"] == "00002"
    figures = plots.figures(group.records(), "solver", dashboard_data.read_setup(group), {})
    labels = [
        label for ax in figures["quality_vs_x"].axes for label in ax.get_legend_handles_labels()[1]
    ]
    assert "best (incumbent)" in labels
    best = cli("best", str(group.path))
    assert "best run 00002" in best.stdout and "cost: 0.2" in best.stdout
    assert "quality" not in best.stdout
    report = tmp_path / "report.html"
    assert cli("report", str(group.path), "--html", str(report)).returncode == 0
    incumbent = report.read_text().split("Incumbent (best run)")[1].split("</dl>")[0]
    assert "<dt>cost</dt><dd>0.2</dd>" in incumbent and "quality" not in incumbent


def test_a_quality_rungroups_timeouts_are_no_par_k_penalties(tmp_path):
    """Only a runtime objective's run at its cutoff is a PAR-k cost: in a quality rungroup a
    run cut off with nothing reported is a failed run, one with a report a partial one."""
    group = group_made_by_hand(tmp_path, "q", "x [0, 10] [1]\n", runs=3)
    for number, (quality, partial) in enumerate([(1e9, False), (0.4, True)], start=1):
        add_record(
            group, number, status="TIMEOUT", quality=quality, runtime=5.0,
            reason="wall_time limit reached", partial=partial,
        )  # fmt: skip
    data = dashboard_data.runs(group, dashboard_data.read_setup(group), now=10.0)
    rows = {row["run_id"]: (row["kind"], row["par_k"]) for row in data["rows"]}
    assert rows == {"00001": ("failed", False), "00002": ("partial", False)}
