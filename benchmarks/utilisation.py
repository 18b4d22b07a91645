"""Slot utilisation and idle gaps of a launch whose trials sleep: does a slot ever wait?

`--workers` workers (default 4) tune a script that sleeps `--sleep` seconds (default 2) and
prints Branin's value, through `smac-bridge wrap`, on a rungroup that already holds a history
of `--history` runs (default 500: written as the records of an earlier launch and replayed by
every worker at its start, as `--resume` does), and run `--runs` more (default 100). From the
records of those new runs (`started`, `ended`, `worker`):

- idle gap: for each slot (worker), the time from a run's end to that slot's next start;
- slot utilisation: busy slot-seconds / (slots x the window), the window being the time during
  which every slot had started its first new run and none had run out of work, so that worker
  start-up (importing SMAC3, replaying the history, the first ask) and the end of the budget
  are left out.

The model is what `smac-facade = auto` takes for this budget (the random forest above 200
runs). Prints a table; the launch's own output goes to the rungroup's worker logs.

    .venv/bin/python benchmarks/utilisation.py               # 500 + 100 runs, about 2 min
    .venv/bin/python benchmarks/utilisation.py --quick       # 100 + 24 runs
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

from history import PCS, history

from smac_bridge.records import RunRecord
from smac_bridge.rundata import RunGroup

SCRIPT = """import argparse, math, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=float)
parser.add_argument("--sleep", type=float)
args = parser.parse_args()
time.sleep(args.sleep)
b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
print((args.y - b * args.x**2 + c * args.x - 6) ** 2 + 10 * (1 - t) * math.cos(args.x) + 10)
"""


def write_project(folder: Path, args: argparse.Namespace) -> Path:
    (folder / "sleeper.py").write_text(SCRIPT)
    (folder / "space.pcs").write_text(PCS)
    scenario = folder / "sleep.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{sys.executable} sleeper.py --sleep {args.sleep}"'
        " --gpus none\n"
        f"execdir = {folder}\nparamfile = space.pcs\nrun_obj = quality\ndeterministic = true\n"
        f"runcount_limit = {args.history + args.runs}\nshared-model-mode = true\n"
        f"outdir = {folder / 'out'}\nsmac-facade = {args.facade}\n"
    )
    return scenario


def fill_history(folder: Path, args: argparse.Namespace) -> None:
    """Records and claims of ARGS.history earlier runs (history.py)."""
    group = RunGroup(folder / "out" / "sleep")
    group.create()
    for record in history(
        folder / "space.pcs", folder / "history-smac3", args.history, args.workers, args.sleep
    ):
        assert group.claim_slot(args.history + args.runs, record["worker"]) == record["run_id"]
        group.append_record(record["worker"], record)


def analyse(records: list[RunRecord], workers: int) -> dict[str, float]:
    by_slot: dict[int, list[RunRecord]] = {}
    for record in records:
        by_slot.setdefault(record["worker"], []).append(record)
    for runs in by_slot.values():
        runs.sort(key=lambda record: record["started"])
    gaps = [
        b["started"] - a["ended"]
        for runs in by_slot.values()
        for a, b in zip(runs, runs[1:], strict=False)
    ]
    begin = max(runs[0]["started"] for runs in by_slot.values())
    end = min(runs[-1]["ended"] for runs in by_slot.values())
    busy = sum(
        max(0.0, min(r["ended"], end) - max(r["started"], begin))
        for runs in by_slot.values()
        for r in runs
    )
    durations = [r["ended"] - r["started"] for r in records]
    return {
        "slots": len(by_slot),
        "runs": len(records),
        "utilisation": busy / (workers * (end - begin)) if end > begin else float("nan"),
        "window": end - begin,
        "gap_median": statistics.median(gaps),
        "gap_p90": statistics.quantiles(gaps, n=10)[-1] if len(gaps) > 1 else gaps[0],
        "gap_max": max(gaps),
        "trial_median": statistics.median(durations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=2.0, help="seconds each trial sleeps")
    parser.add_argument("--history", type=int, default=500, help="runs already in the group")
    parser.add_argument("--runs", type=int, default=100, help="runs this launch makes")
    parser.add_argument("--quick", action="store_true", help="--history 100 --runs 24")
    parser.add_argument(
        "--facade", default="auto", help="smac-facade (default auto: the forest at 600 runs)"
    )
    args = parser.parse_args()
    if args.quick:
        args.history, args.runs = 100, 24
    load = os.getloadavg()
    print(
        f"{args.workers} workers, trials sleep {args.sleep:g} s, history {args.history} + "
        f"{args.runs} runs, smac-facade = {args.facade}; {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scenario = write_project(folder, args)
        fill_history(folder, args)
        started = time.monotonic()
        launch = [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        done = subprocess.run(
            [*launch, "--parallel", str(args.workers), "--gpus", "none"]
            + (["--resume"] if args.history else []),
            cwd=folder, env=env, capture_output=True, text=True,
        )  # fmt: skip
        wall = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"the launch failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        group = RunGroup(folder / "out" / "sleep")
        new = [r for r in group.records() if int(r["run_id"]) > args.history]
        result = analyse(new, args.workers)
    load = os.getloadavg()
    print(f"launch wall time {wall:.1f} s; load average {load[0]:.1f} at the end\n")
    print("| runs | slots | slot utilisation | window s | idle gap median ms | p90 ms | max ms |"
          " trial median s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {result['runs']} | {result['slots']} | {result['utilisation']:.1%} | "
        f"{result['window']:.1f} | {result['gap_median'] * 1e3:.0f} | "
        f"{result['gap_p90'] * 1e3:.0f} | {result['gap_max'] * 1e3:.0f} | "
        f"{result['trial_median']:.3f} |"
    )


if __name__ == "__main__":
    main()
