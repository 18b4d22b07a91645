"""What a worker does before its first trial, and what each step costs.

First table: in a fresh interpreter per case (as `smac-bridge worker` starts): import the
worker module (which imports SMAC3, ConfigSpace, scipy, scikit-learn), set up (read the PCS,
build the SMAC3 facade, replay the rungroup's records), and the first ask; for rungroups that
already hold 0, 100 and 500 runs (records of random configurations of a 2-parameter space,
replayed as `--resume` and shared-model mode replay them). Wall and CPU seconds, medians.

Second table: whole launches of 1 and 4 workers, each worker running one trial of a no-op
script, with the workers forked from the launcher (which imported the worker's stack once)
and, for comparison, started as `smac-bridge worker` processes that each import it: the time
from the launch's start to the launch's first trial (the default configuration, which the
first worker starts before it imports SMAC3) and to each worker's first trial, and the CPU
time of the whole launch.

    .venv/bin/python benchmarks/worker_startup.py --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from history import PCS, history

from smac_bridge.rundata import RunGroup

PROBE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    def now():
        return time.perf_counter(), time.process_time()

    marks = [now()]
    import smac_bridge.optimizer  # SMAC3: the worker imports it in its set-up
    from smac_bridge.pcs import read_pcs
    from smac_bridge.scenario import read_scenario
    from smac_bridge.worker import Worker

    marks.append(now())
    worker = Worker(read_scenario(sys.argv[1]), 1)
    worker._setup(read_pcs(worker.scenario.paramfile))
    marks.append(now())
    worker._ask()
    marks.append(now())
    steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(marks, marks[1:])]
    print(json.dumps(steps))
    """
)


def write_scenario(folder: Path, name: str, algo: str, budget: int, outdir: Path) -> Path:
    """A shared-model scenario NAME.txt in FOLDER over the benchmarks' 2-parameter space."""
    (folder / "space.pcs").write_text(PCS)
    scenario = folder / f"{name}.txt"
    scenario.write_text(
        f"algo = {algo}\nexecdir = {folder}\nparamfile = space.pcs\nrun_obj = quality\n"
        f"deterministic = true\nruncount_limit = {budget}\nshared-model-mode = true\n"
        f"outdir = {outdir}\n"
    )
    return scenario


def groups_of_sizes(tmp: Path, sizes: list[int], heads: list[str]) -> Iterator[tuple[int, Path]]:
    """Print the machine's load and a table's head (a `runs` column, then HEADS); then for
    each size a folder in TMP whose rungroup (under `out/`) holds that many finished runs."""
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the start\n")
    print("| runs | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for runs in sizes:
        folder = tmp / f"r{runs}"
        folder.mkdir()
        write_group(folder, runs)
        yield runs, folder


def write_group(folder: Path, runs: int) -> Path:
    """A scenario and a rungroup that holds RUNS finished runs."""
    scenario = write_scenario(folder, "probe", "true", runs + 100, folder / "out")
    group = RunGroup(folder / "out" / "probe")
    group.create()
    records = history(folder / "space.pcs", folder / "history-smac3", runs, 1, 1.0)
    lines = [json.dumps(record, sort_keys=True) + "\n" for record in records]
    group.layout.records(1).write_text("".join(lines))
    return scenario


NOOP = "print(0.5)\n"
LAUNCH = textwrap.dedent(
    """
    import sys
    from smac_bridge import launcher
    from smac_bridge.cli import main

    launcher.FORK_WORKERS = sys.argv[1] == "fork"
    main(sys.argv[2:])
    """
)


def first_trials(folder: Path, workers: int, way: str) -> tuple[list[float], float]:
    """Seconds from a launch's start to each worker's first trial, and the launch's CPU."""
    (folder / "noop.py").write_text(NOOP)
    algo = f'smac-bridge wrap --cmd "{sys.executable} noop.py"'
    scenario = write_scenario(folder, "first", algo, workers, folder / way)
    argv = ["launch", str(scenario), "--parallel", str(workers), "--quiet", "--gpus", "none"]
    started = time.time()
    before = os.times()
    subprocess.run(
        [sys.executable, "-c", LAUNCH, way, *argv],
        cwd=folder, capture_output=True, check=True,
    )  # fmt: skip
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    records = RunGroup(folder / way / "first").records()
    firsts: dict[int, float] = {}
    for record in records:
        worker = record["worker"]
        firsts[worker] = min(firsts.get(worker, record["started"]), record["started"])
    return [first - started for first in firsts.values()], cpu


def launches(reps: int) -> None:
    print(
        "\n| workers | workers started | first trial after s | each worker's first trial after s"
        " (median, latest) | launch CPU s |"
    )
    print("|---|---|---|---|---|")
    for workers in (1, 4):
        for way in ("fork", "process"):
            delays: list[float] = []
            earliest: list[float] = []
            latest: list[float] = []
            cpus: list[float] = []
            for _ in range(reps):
                with tempfile.TemporaryDirectory() as tmp:
                    firsts, cpu = first_trials(Path(tmp), workers, way)
                delays += firsts
                earliest.append(min(firsts))
                latest.append(max(firsts))
                cpus.append(cpu)
            how = "forked from the launcher" if way == "fork" else "as processes"
            print(
                f"| {workers} | {how} | {statistics.median(earliest):.2f} "
                f"| {statistics.median(delays):.2f}, "
                f"{statistics.median(latest):.2f} | {statistics.median(cpus):.1f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="fresh interpreters per case")
    parser.add_argument("--histories", type=int, nargs="+", default=[0, 100, 500])
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start\n"
    )
    print("| history | import the worker (SMAC3) s | set up and replay s | first ask s | total s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for history in args.histories:
            folder = Path(tmp) / f"h{history}"
            folder.mkdir()
            scenario = write_group(folder, history)
            runs = []
            for _ in range(args.reps):
                done = subprocess.run(
                    [sys.executable, "-c", PROBE, str(scenario)],
                    cwd=folder, env=env, capture_output=True, text=True, check=True,
                )  # fmt: skip
                runs.append(json.loads(done.stdout.splitlines()[-1]))
            cells = []
            for step in range(3):
                wall = statistics.median(run[step][0] for run in runs)
                cpu = statistics.median(run[step][1] for run in runs)
                cells.append(f"{wall:.2f} ({cpu:.2f} CPU)")
            total = statistics.median(sum(step[0] for step in run) for run in runs)
            print(f"| {history} | {' | '.join(cells)} | {total:.2f} |")
    launches(args.reps)
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end")


if __name__ == "__main__":
    main()
