"""What the commands that look at a finished rungroup cost as it grows.

For rungroups of finished runs (records of random configurations of a 2-parameter space, as
`history.py` writes them), each command as a user runs it, in a fresh process: `results`
(the table), `status`, `best`, `plot` (the PNG files) and `report` (the HTML page, which
holds the plots). Wall seconds, medians.

    .venv/bin/python benchmarks/views.py --runs 500 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from worker_startup import groups_of_sizes

COMMANDS = {
    "results": lambda out, tmp: ["results", str(out)],
    "status": lambda out, tmp: ["status", str(out)],
    "best": lambda out, tmp: ["best", str(out)],
    "plot": lambda out, tmp: ["plot", str(out), "--out", str(tmp / "plots")],
    "report": lambda out, tmp: ["report", str(out), "--html", str(tmp / "report.html")],
}


def timed(argv: list[str]) -> float:
    """Wall seconds of one `smac-bridge ARGV` process."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", *argv], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"smac-bridge {' '.join(argv)} failed:\n{done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--reps", type=int, default=1, help="processes per command and size")
    args = parser.parse_args()
    heads = [f"{name} s" for name in COMMANDS]
    with tempfile.TemporaryDirectory() as tmp:
        for runs, folder in groups_of_sizes(Path(tmp), args.runs, heads):
            cells = []
            for command in COMMANDS.values():
                walls = [timed(command(folder / "out", folder)) for _ in range(args.reps)]
                cells.append(f"{statistics.median(walls):.2f}")
            print(f"| {runs} | " + " | ".join(cells) + " |")
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} at the end")


if __name__ == "__main__":
    main()
