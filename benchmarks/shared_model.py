"""Shared-model mode against independent workers and one worker, with real launches, as a table.

For Branin and Hartmann-6, each repetition runs three real `smac-bridge launch --quiet`
processes with the same run budget: 4 workers in shared-model mode, 4 independent workers,
and 1 worker. The target is a tiny classic script that sleeps a fixed time (so every trial
costs the same) and prints a SMAC 2.10 result line. Everything is read back from the
run-data directory: the final regret (best quality found minus the known optimum), the
slot utilisation (busy slot-seconds / (slots x launch wall time), from the records' started
and ended), the median idle gap between a run's end and the same worker's next start (what
an `ask()` that does not fit beside the trial costs), and the wall time.

    .venv/bin/python benchmarks/shared_model.py [--quick] [--reps 5] [--budget 24]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from launching import exit_on_sigterm, run_launch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from targets.functions import BRANIN_OPTIMUM, HARTMANN6_OPTIMUM

from smac_bridge.rundata import RunGroup

TARGETS = Path(__file__).resolve().parent / "targets"
OPTIMUM = {"branin": BRANIN_OPTIMUM, "hartmann6": HARTMANN6_OPTIMUM}
WORKERS = 4


@dataclass(frozen=True)
class Mode:
    name: str
    parallel: int
    shared: bool


MODES = (
    Mode("shared, 4 workers", WORKERS, True),
    Mode("independent, 4 workers", WORKERS, False),
    Mode("1 worker", 1, True),
)


@dataclass
class Outcome:
    regret: float
    utilisation: float
    gaps: list[float]
    wall: float
    runs: int


def write_scenario(folder: Path, function: str, budget: int, sleep: float) -> Path:
    """The scenario of FUNCTION in FOLDER (target and PCS from benchmarks/targets); its path."""
    scenario = folder / f"{function}.txt"
    scenario.write_text(
        f"algo = python classic_function.py {function} {sleep}\n"
        f"execdir = {TARGETS}\nparamfile = {TARGETS / function}.pcs\n"
        "run_obj = quality\ndeterministic = true\ncutoff_time = 60\n"
        f"runcount_limit = {budget}\ncheck-sat-consistency = false\n",
        encoding="utf-8",
    )
    return scenario


def launch(
    scenario: Path, outdir: Path, mode: Mode, seed_offset: int, progress: Progress, task: int
) -> float:
    """Run one `smac-bridge launch` to its end, updating TASK with the runs done; its wall time."""
    options = ["--parallel", str(mode.parallel), "--seed-offset", str(seed_offset)]
    options += ["--set", f"shared-model-mode={'true' if mode.shared else 'false'}"]
    return run_launch(scenario, outdir, options, lambda done: progress.update(task, completed=done))


def measure(group: RunGroup, function: str, parallel: int, wall: float) -> Outcome:
    """What one finished launch achieved, from its run records."""
    records = group.records()
    best = min(r["quality"] for r in records if r["status"] == "SAT")
    busy = sum(r["ended"] - r["started"] for r in records)
    gaps = []
    per_worker: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        per_worker[record["worker"]].append(record)
    for runs in per_worker.values():
        runs.sort(key=lambda r: r["started"])
        gaps += [b["started"] - a["ended"] for a, b in zip(runs, runs[1:], strict=False)]
    return Outcome(best - OPTIMUM[function], busy / (parallel * wall), gaps, wall, len(records))


def mean_std(values: Sequence[float], digits: str) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):{digits}} ± {std:{digits}}"


def table(results: dict[tuple[str, str], list[Outcome]]) -> str:
    lines = [
        "| function | mode | final regret | slot utilisation | median idle gap s | wall s | runs |",
        "|---|---|---|---|---|---|---|",
    ]
    for (function, mode), outcomes in results.items():
        gaps = [gap for outcome in outcomes for gap in outcome.gaps]
        lines.append(
            f"| {function} | {mode} | {mean_std([o.regret for o in outcomes], '.4f')}"
            f" | {mean_std([o.utilisation for o in outcomes], '.2f')}"
            f" | {statistics.median(gaps) if gaps else float('nan'):.2f}"
            f" | {mean_std([o.wall for o in outcomes], '.1f')}"
            f" | {statistics.mean(o.runs for o in outcomes):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions of 12 runs")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--budget", type=int, default=24, help="runs per launch (default 24)")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds per trial")
    args = parser.parse_args()
    exit_on_sigterm()
    reps, budget = (2, 12) if args.quick else (args.reps, args.budget)
    results: dict[tuple[str, str], list[Outcome]] = {
        (function, mode.name): [] for function in OPTIMUM for mode in MODES
    }
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with tempfile.TemporaryDirectory() as tmp, Progress(*columns, TimeElapsedColumn()) as progress:
        folder = Path(tmp)
        scenarios = {
            function: write_scenario(folder, function, budget, args.sleep) for function in OPTIMUM
        }
        overall = progress.add_task("launches", total=reps * len(OPTIMUM) * len(MODES))
        current = progress.add_task("runs", total=budget)
        for rep in range(reps):  # interleaved, so that drifting load hits every mode alike
            for function, scenario in scenarios.items():
                for mode in MODES:
                    outdir = folder / f"{function}-{mode.parallel}-{mode.shared}-{rep}"
                    progress.update(
                        current, completed=0, description=f"{function}, {mode.name}, rep {rep + 1}"
                    )
                    wall = launch(scenario, outdir, mode, 100 * rep, progress, current)
                    group = RunGroup(outdir / scenario.stem)
                    results[(function, mode.name)].append(
                        measure(group, function, mode.parallel, wall)
                    )
                    progress.advance(overall)
    print(
        f"{reps} repetitions, {budget} runs per launch, trials sleep {args.sleep} s, "
        f"{os.cpu_count()} CPUs\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
