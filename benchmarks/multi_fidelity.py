"""Full fidelity against multi-fidelity (Hyperband) and pruning, with the same workers.

For each repetition, a full-fidelity launch (every trial trains the maximum number of epochs)
runs its run budget and sets the bar: its final best quality and its wall time W. Then a
Hyperband launch (`budget-flag = epochs`) and two pruned launches (`pruning = median` and
`asha`) run with `wallclock-limit = W`. The table shows, per mode, the wall time to reach
the full-fidelity launch's final best quality (a best quality only counts from runs at the
maximum budget: a quality after one epoch is no trained model) and the best quality at W.

    .venv/bin/python benchmarks/multi_fidelity.py --problem curve --reps 3
    .venv/bin/python benchmarks/multi_fidelity.py --problem mlp --reps 3     # the bench extra
    .venv/bin/python benchmarks/multi_fidelity.py --problem mnist-small --reps 1  # TensorFlow
    .venv/bin/python benchmarks/multi_fidelity.py --problem mnist --reps 1   # hours on 2 CPUs
    .venv/bin/python benchmarks/multi_fidelity.py --modes hyperband --wall 110 --reps 6

`--wall SECONDS` skips the full-fidelity launch and runs the modes for that long: the best
quality at W, per repetition, to compare two versions of the code or settings of one mode
(`--set KEY=VALUE`, any scenario option, for every launch; e.g. `--set pruning-warmup=3`).

`curve` is scripts/learning_curve_target.py (27 epochs of 0.2 s, formula curves that cross,
ranked at low budgets about as real ones are); `mlp` is benchmarks/targets/mlp_curve.py (real
training curves of a small network on the digits data, 27 epochs padded to 0.2 s); `mnist` is
the Keras MNIST CNN of scenarios/mnist-hyperband.txt (9 epochs on 6000 images); `mnist-small`
is the same network, space and budgets on 600 training images (validated on 500, tested on
1000), which fits a 2-CPU machine in under an hour.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smac_bridge.rundata import RunGroup

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Problem:
    scenario: str
    max_epochs: int
    runs: int
    rungroup: str
    settings: tuple[str, ...] = ()
    """Scenario options (KEY=VALUE) every launch of this problem overrides."""


PROBLEMS = {
    "curve": Problem("scenarios/learning-curve.txt", 27, 40, "learning-curve"),
    "mlp": Problem("benchmarks/targets/mlp_curve.txt", 27, 40, "mlp_curve"),
    "mnist": Problem("scenarios/mnist-hyperband.txt", 9, 20, "mnist-hyperband"),
    "mnist-small": Problem(
        "scenarios/mnist-hyperband.txt",
        9,
        20,
        "mnist-hyperband",
        (
            'algo=smac-bridge wrap --cmd "python scripts/mnist_train.py --epochs 9'
            ' --train_size 600 --validation_size 500 --test_size 1000"'
            " --failure-quality 1.0 --grace 60",
        ),
    ),
}
MODES = {
    "full": ["--set", "budget-flag=", "--set", "pruning=none"],
    "hyperband": ["--set", "budget-flag=epochs", "--set", "pruning=none"],
    "pruned": ["--set", "budget-flag=", "--set", "pruning=median"],
    "asha": ["--set", "budget-flag=", "--set", "pruning=asha"],
}
COMPARED = [mode for mode in MODES if mode != "full"]
"""The modes that run for the full-fidelity launch's wall time."""


def launch(problem: Problem, mode: str, rep: int, folder: Path, wall: float | None) -> Path:
    """One launch; the rungroup folder."""
    outdir = folder / f"{mode}-{rep}"
    scenario = REPO / problem.scenario
    if wall is not None:  # as many runs as the wall time allows: a scenario without a run limit
        text = scenario.read_text()
        scenario = folder / f"{mode}-{rep}-scenario" / scenario.name  # the same rungroup name
        scenario.parent.mkdir(parents=True)
        lines = [line for line in text.splitlines() if not line.startswith("runcount_limit")]
        scenario.write_text("\n".join(lines) + "\n")
    argv = [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
    argv += ["--parallel", "2", "--gpus", "none", "--outdir", str(outdir)]
    argv += ["--seed-offset", str(100 * rep), *MODES[mode]]
    for setting in problem.settings:
        argv += ["--set", setting]
    argv += ["--set", "budget-limit=1000000"]  # no epoch limit
    if wall is None:
        argv += ["--set", f"runcount_limit={problem.runs}"]
    else:
        argv += ["--set", f"wallclock-limit={wall:.0f}"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(argv, cwd=REPO, env=env, check=True, capture_output=True)
    return outdir / problem.rungroup


def best_over_time(group: RunGroup, max_epochs: int) -> tuple[list[tuple[float, float]], float]:
    """(seconds since the launch, best quality so far) at each improvement by a finished run
    at the maximum budget, and the launch's wall time."""
    records = group.records()
    start = float(group.launch_info()["session_started"])
    points, best = [], math.inf
    for record in sorted(records, key=lambda r: r["ended"]):
        budget = record.get("budget")
        full = budget is None or round(float(budget)) >= max_epochs
        if record["status"] == "SAT" and full and record["quality"] < best:
            best = record["quality"]
            points.append((record["ended"] - start, best))
    wall = max((r["ended"] for r in records), default=start) - start
    return points, wall


def time_to(points: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, q in points if q <= target + 1e-12), None)


def best_at(points: list[tuple[float, float]], seconds: float) -> float | None:
    found = [q for t, q in points if t <= seconds]
    return found[-1] if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=sorted(PROBLEMS), default="curve")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=COMPARED, default=COMPARED)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", type=Path, help="launch into this folder and keep it")
    parser.add_argument("--wall", type=float, help="no full-fidelity launch: run this long")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a scenario option"
    )
    args = parser.parse_args()
    problem = PROBLEMS[args.problem]
    problem = replace(problem, settings=(*problem.settings, *args.set))
    if args.wall:
        fixed_wall(problem, args)
        return
    rows: dict[str, list[dict[str, Any]]] = {mode: [] for mode in ["full", *args.modes]}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        for rep in range(1, args.reps + 1):
            started = time.monotonic()
            full, wall = best_over_time(
                RunGroup(launch(problem, "full", rep, Path(tmp), None)), problem.max_epochs
            )
            target = full[-1][1] if full else math.inf
            rows["full"].append({"reach": time_to(full, target), "at_wall": target, "wall": wall})
            for mode in args.modes:
                group = RunGroup(launch(problem, mode, rep, Path(tmp), wall))
                points, _ = best_over_time(group, problem.max_epochs)
                rows[mode].append(
                    {"reach": time_to(points, target), "at_wall": best_at(points, wall)}
                )
            print(f"repetition {rep} took {time.monotonic() - started:.0f} s", flush=True)
    print(f"\n{args.problem}: 2 workers, {args.reps} repetitions, {os.cpu_count()} CPUs\n")
    print(
        "| mode | reached the full-fidelity best in s | speed-up where reached "
        "| best at W (median) | best at W per repetition |"
    )
    print("|---|---|---|---|---|")
    for mode, found in rows.items():
        reach = ", ".join("-" if r["reach"] is None else f"{r['reach']:.0f}" for r in found)
        speedups = ", ".join(  # per repetition: the full-fidelity launch's time over this mode's
            f"{full['reach'] / r['reach']:.1f}x"
            for full, r in zip(rows["full"], found, strict=True)
            if r["reach"]
        )
        at_wall = [r["at_wall"] for r in found]
        reached = [q for q in at_wall if q is not None]
        quality = f"{statistics.median(reached):.4f}" if reached else "-"
        per_rep = ", ".join("-" if q is None else f"{q:.4f}" for q in at_wall)
        print(f"| {mode} | {reach} | {speedups or '-'} | {quality} | {per_rep} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def fixed_wall(problem: Problem, args: argparse.Namespace) -> None:
    """Each mode for ARGS.wall seconds per repetition: the best quality at W."""
    rows: dict[str, list[float | None]] = {mode: [] for mode in args.modes}
    with tempfile.TemporaryDirectory() as scratch:
        for rep in range(1, args.reps + 1):
            for mode in args.modes:
                group = RunGroup(launch(problem, mode, rep, Path(args.keep or scratch), args.wall))
                points, _ = best_over_time(group, problem.max_epochs)
                rows[mode].append(best_at(points, args.wall))
            print(f"repetition {rep}: {rows}", flush=True)
    print(f"\n{args.problem}: 2 workers, W = {args.wall:.0f} s, {args.reps} repetitions\n")
    print("| mode | best at W (median) | best at W per repetition |")
    print("|---|---|---|")
    for mode, found in rows.items():
        median = statistics.median(q for q in found if q is not None) if any(found) else None
        per_rep = ", ".join("-" if q is None else f"{q:.4f}" for q in found)
        print(f"| {mode} | {'-' if median is None else f'{median:.4f}'} | {per_rep} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
