"""CPU cost of the supervisor's polling loop, per second of supervised run, as a table.

The target sleeps (it uses no CPU itself), so the supervising process's own CPU time over the
run is what polling costs. Rows vary the poll interval and the size of the supervised tree;
the last column is the number of processes on the machine, which each tree scan walks.

    .venv/bin/python benchmarks/supervisor_poll.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

import psutil

from smac_bridge.supervisor import Supervisor

TREE = """\
import subprocess, sys, time
kids = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        for _ in range(int(sys.argv[1]))]
time.sleep(float(sys.argv[2]))
for kid in kids:
    kid.kill()
    kid.wait()
"""


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(script: Path, log: Path, children: int, seconds: float, interval: float) -> float:
    """Supervisor CPU seconds per second of run."""
    sup = Supervisor(
        [sys.executable, str(script), str(children), str(seconds)],
        log_path=log,
        poll_interval=interval,
    )
    before = own_cpu()
    outcome = sup.run()
    return (own_cpu() - before) / outcome.wall_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "tree.py"
        script.write_text(TREE)
        log = Path(folder) / "out.log"
        print(
            "| poll s | processes in the tree | CPU ms per s | CPU % | processes on the machine |"
        )
        print("|---|---|---|---|---|")
        for interval in (0.05, 0.1, 0.5, 1.0):
            for children in (0, 8):
                cost = measure(script, log, children, args.seconds, interval)
                procs = len(psutil.pids())
                print(
                    f"| {interval:.2f} | {children + 1} | {cost * 1000:.2f} | {cost * 100:.2f} "
                    f"| {procs} |"
                )


if __name__ == "__main__":
    main()
