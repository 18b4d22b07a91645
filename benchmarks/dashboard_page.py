"""What the dashboard's page costs as a rungroup grows.

For rungroups of finished runs (`history.py`'s records, as `views.py` uses), the dashboard is
started and its page opened in headless Chromium (Selenium and chromium-driver, as the
browser tests use): the seconds until the table of runs shows, and the median seconds
between two refreshes of the page (it asks for news every 1.5 s once the last refresh is
drawn, so 1.5 s plus the server's answers is the floor); plus the seconds of each API
answer, by curl-like requests while no page is open.

    .venv/bin/python benchmarks/dashboard_page.py --runs 300 3000
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from worker_startup import groups_of_sizes

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ENDPOINTS = ("status", "runs?group=probe", "log?group=probe&run=00001")
REFRESHES = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_times(url: str, profile: Path) -> tuple[float, float]:
    """Seconds until the table shows rows, and the median seconds between refreshes; the
    browser keeps its profile in PROFILE (else its temporary one is left behind)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1600"):
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_script_timeout(600)  # a page busy drawing answers late
    try:
        start = time.perf_counter()
        driver.get(url)
        shown = "return document.querySelectorAll('#runs .tabulator-row').length"
        while not driver.execute_script(shown):
            time.sleep(0.1)
        drawn = time.perf_counter() - start
        stamps: list[float] = []
        last = None
        updated = "return document.getElementById('updated').textContent"
        while len(stamps) <= REFRESHES and time.perf_counter() - start < 900:
            text = driver.execute_script(updated)  # "updated HH:MM:SS": one per refresh
            if text != last:
                stamps.append(time.perf_counter())
                last = text
            time.sleep(0.05)
        gaps = [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]
        return drawn, statistics.median(gaps) if gaps else float("nan")
    finally:
        driver.quit()


def answer_seconds(base: str, token: str, endpoint: str) -> float:
    start = time.perf_counter()
    asked = urllib.request.Request(f"{base}api/{endpoint}", headers={"X-Token": token})
    with urllib.request.urlopen(asked, timeout=600) as answer:
        answer.read()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[300, 3000])
    args = parser.parse_args()
    heads = ["table shown s", "refresh every s", *(f"api/{e.split('?')[0]} s" for e in ENDPOINTS)]
    with tempfile.TemporaryDirectory() as tmp:
        for runs, folder in groups_of_sizes(Path(tmp), args.runs, heads):
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "smac_bridge.cli", "dashboard", str(folder / "out")]
                + ["--port", str(port)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            try:
                assert server.stdout is not None
                printed = server.stdout.readline().split()  # the URL line: it listens
                address = next(word for word in printed if word.startswith("http://"))
                base, token = address.split("?token=")
                answers = [answer_seconds(base, token, endpoint) for endpoint in ENDPOINTS]
                drawn, refresh = page_times(address, Path(tmp) / f"chromium-profile-{runs}")
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait()
            cells = [f"{drawn:.1f}", f"{refresh:.1f}", *(f"{s:.2f}" for s in answers)]
            print(f"| {runs} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
