"""What a pruning verdict costs as a rungroup's finished runs grow.

A running trial is judged each time its learning curve grows, so with short epochs a worker
asks for a verdict several times a second. This builds a rungroup of N finished runs of 27
reported steps and one running run at step 5 (`--steps`: at each of those steps, as a script
that reports per batch), then times the first verdict (which reads every finished curve) and
the mean of the next ones, for both rules.

    .venv/bin/python benchmarks/pruner_cost.py --runs 200 2000
    .venv/bin/python benchmarks/pruner_cost.py --runs 20 --steps 1000 10000 100000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from smac_bridge.layout import append_line
from smac_bridge.pruning import RULES, Pruner
from smac_bridge.rundata import RunGroup, this_process

STEPS = 27
REPEATS = 20


def build_group(folder: Path, finished: int, running_steps: int = 5, seed: int = 1) -> str:
    """N finished runs with random 27-step curves and one running run at RUNNING_STEPS; its
    id."""
    group = RunGroup(folder)
    group.create()
    host, pid, pid_start = this_process()
    rng = random.Random(seed)
    for number in range(1, finished + 2):
        run_id = f"{number:05d}"
        run = group.run(run_id)
        run.path.mkdir(parents=True)
        steps = STEPS if number <= finished else running_steps
        lines = (
            json.dumps({"step": s, "quality": rng.random()}) + "\n" for s in range(1, steps + 1)
        )
        append_line(run.progress, "".join(lines).encode())
        record = {"run_id": run_id, "worker": 1, "config": {}, "instance": "i", "seed": -1}
        if number <= finished:
            group.append_record(1, {**record, "status": "SAT", "quality": 0.5, "cost": 0.5})
        else:
            group.mark_running({**record, "host": host, "pid": pid, "pid_start": pid_start})
    return f"{finished + 1:05d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--steps", type=int, nargs="+", default=[5], help="the running curve's")
    args = parser.parse_args()
    print(f"{REPEATS} verdicts after the first, Python {sys.version.split()[0]}\n")
    print("| finished runs | running curve's steps | rule | first verdict ms | next verdicts ms |")
    print("|---|---|---|---|---|")
    for finished, steps in [(f, s) for f in args.runs for s in args.steps]:
        with tempfile.TemporaryDirectory() as scratch:
            running = build_group(Path(scratch) / "g", finished, steps)
            for rule in RULES:
                pruner = Pruner(RunGroup(Path(scratch) / "g"), rule)
                start = time.perf_counter()
                pruner.verdict(running)
                first = time.perf_counter() - start
                start = time.perf_counter()
                for _ in range(REPEATS):
                    pruner.verdict(running)
                each = (time.perf_counter() - start) / REPEATS
                print(f"| {finished} | {steps} | {rule} | {first * 1000:.0f} | {each * 1000:.1f} |")


if __name__ == "__main__":
    main()
