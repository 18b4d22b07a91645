"""What the guard (smac_bridge/guard.py) costs per trial.

Every command a Supervisor runs starts under the guard, a `python -I -S` process. Measured,
interleaved so that load drifts hit every case: `true` started directly, `true` under the guard
alone, and a whole `Supervisor(["true"]).run()` (guard, command, scans, reaping); plus the
guard's own memory. Reproduce with:

    .venv/bin/python benchmarks/guard_cost.py --runs 30
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from smac_bridge.supervisor import Supervisor, guard_argv


def direct() -> None:
    subprocess.run(["true"], check=True)


def guard_alone() -> None:
    ours, theirs = socket.socketpair()
    with ours:
        argv = guard_argv(["true"], theirs.fileno(), 5.0)
        subprocess.run(argv, pass_fds=(theirs.fileno(),), check=True)
        theirs.close()


def supervised(log: Path) -> Callable[[], None]:
    def run() -> None:
        Supervisor(["true"], log_path=log).run()

    return run


def guard_footprint() -> tuple[float, float]:
    """The guard's CPU time (ms, with `sleep`'s tiny share) from wait4, which load does not
    inflate as it does wall time, and its resident memory (MB) while its command runs (VmRSS:
    its maximum RSS would count the pages of this process that the fork shared)."""
    ours, theirs = socket.socketpair()
    with ours:
        argv = guard_argv(["sleep", "0.2"], theirs.fileno(), 5.0)
        process = subprocess.Popen(argv, pass_fds=(theirs.fileno(),))
        theirs.close()
        ours.recv(64)  # `started PID`: the guard is up and its command runs
        status = Path(f"/proc/{process.pid}/status").read_text()
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return (usage.ru_utime + usage.ru_stime) * 1e3, int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per case (default 30)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "true (started directly)": direct,
            "true under the guard alone": guard_alone,
            "Supervisor(['true']).run()": supervised(Path(tmp) / "log"),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, case in cases.items():
                start = time.perf_counter()
                case()
                times[name].append(time.perf_counter() - start)
        footprints = [guard_footprint() for _ in range(10)]
    base = statistics.median(times["true (started directly)"])
    print(f"{args.runs} runs each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    print("| case                          | median ms | p90 ms | vs true   |")
    print("|-------------------------------|-----------|--------|-----------|")
    for name, values in times.items():
        values.sort()
        median, p90 = statistics.median(values), values[int(0.9 * (len(values) - 1))]
        print(
            f"| {name:<29} | {median * 1e3:9.1f} | {p90 * 1e3:6.1f} | "
            f"{(median - base) * 1e3:+8.1f} |"
        )
    cpu = statistics.median(f[0] for f in footprints)
    rss = statistics.median(f[1] for f in footprints)
    print(f"\nthe guard: {cpu:.0f} ms of CPU time per start, {rss:.1f} MB resident (medians of 10)")


if __name__ == "__main__":
    main()
