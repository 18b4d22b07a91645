"""What the dashboard's page costs as a rungroup grows.

For rungroups of finished runs (`history.py`'s records, as `views.py` uses), the dashboard is
started and its page opened in headless Chromium (Selenium and chromium-driver, as the
browser tests use): the seconds until the table of runs shows, and the median seconds
between two refreshes of the page (it asks for news every 1.5 s once the last refresh is
drawn, so 1.5 s plus the server's answers is the floor); plus the seconds of each API
answer, by curl-like requests while no page is open. With `--parameters P` each run's
configuration is widened to P parameters (a wide space: a gradient-boosting or solver
configuration), each a column of the table.

    .venv/bin/python benchmarks/dashboard_page.py --runs 300 3000
    .venv/bin/python benchmarks/dashboard_page.py --runs 40 --parameters 24 96 144
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from worker_startup import write_group

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ENDPOINTS = ("status", "runs?group=probe", "log?group=probe&run=00001")
REFRESHES = 5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_times(url: str, profile: Path) -> tuple[float, float, float]:
    """Seconds until the table shows rows, until the refresh after the first drawing, and
    the median seconds between the later refreshes; the browser keeps its profile in PROFILE
    (else its temporary one is left behind)."""
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
        second = stamps[1] - stamps[0] if len(stamps) > 1 else float("nan")
        return drawn, second, statistics.median(gaps) if gaps else float("nan")
    finally:
        driver.quit()


def widen(folder: Path, parameters: int) -> None:
    """Give each run of FOLDER's rungroup PARAMETERS parameters: its own two and made-up ones."""
    records = folder / "out" / "probe" / "runs-1.jsonl"
    lines = []
    for line in records.read_text().splitlines():
        record = json.loads(line)
        extra = {f"p{n:03d}": random.random() for n in range(len(record["config"]), parameters)}
        lines.append(json.dumps({**record, "config": {**record["config"], **extra}}) + "\n")
    records.write_text("".join(lines))


def answer_seconds(base: str, token: str, endpoint: str) -> float:
    start = time.perf_counter()
    asked = urllib.request.Request(f"{base}api/{endpoint}", headers={"X-Token": token})
    with urllib.request.urlopen(asked, timeout=600) as answer:
        answer.read()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--parameters", type=int, nargs="+", default=[2])
    args = parser.parse_args()
    heads = ["runs", "parameters", "table shown s", "second look after s", "refresh every s"]
    heads += [f"api/{e.split('?')[0]} s" for e in ENDPOINTS]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start\n")
    print("| " + " | ".join(heads) + " |\n|" + "---|" * len(heads))
    with tempfile.TemporaryDirectory() as tmp:
        for runs, parameters in [(r, p) for r in args.runs for p in args.parameters]:
            folder = Path(tmp) / f"r{runs}-p{parameters}"
            folder.mkdir()
            write_group(folder, runs)
            widen(folder, parameters)
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
                drawn, second, refresh = page_times(address, folder / "chromium-profile")
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait()
            cells = [str(runs), str(parameters), f"{drawn:.1f}", f"{second:.1f}", f"{refresh:.1f}"]
            cells += [f"{s:.2f}" for s in answers]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
