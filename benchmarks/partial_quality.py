"""How a timed-out run's partial quality is told to SMAC3: `partial-quality = capped | reported`.

The target (`targets/cutoff_region.py`) is a training stand-in whose widest nets cannot
finish within the cutoff although their partial error beats most nets that finish, as the
large CNNs of scenarios/mnist-quick.txt on a CPU. Told as reported (SMAC 2.10's way), those
partial errors draw the proposals to configurations that never finish and never become the
incumbent; `capped` tells them no better than the worst finished run.

Per mode it prints, over the repetitions, the median number of runs that reached the cutoff,
the median best finished error (the incumbent's) and the median wall time.

    .venv/bin/python benchmarks/partial_quality.py --reps 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from launching import exit_on_sigterm, run_launch

from smac_bridge.rundata import RunGroup

TARGETS = Path(__file__).resolve().parent / "targets"
MODES = ("reported", "capped")
SCENARIO = """\
algo = smac-bridge wrap --cmd "{python} {script}"
paramfile = {pcs}
execdir = .
run_obj = quality
cutoff_time = 2
runcount_limit = {runs}
deterministic = true
shared-model-mode = true
"""


def write_scenario(folder: Path, runs: int) -> Path:
    scenario = folder / "cutoff-region.txt"
    script, pcs = TARGETS / "cutoff_region.py", TARGETS / "cutoff_region.pcs"
    scenario.write_text(SCENARIO.format(python=sys.executable, script=script, pcs=pcs, runs=runs))
    return scenario


def one_launch(scenario: Path, mode: str, rep: int) -> dict[str, float]:
    """Runs that timed out, the best finished error and the wall time of one launch."""
    outdir = scenario.parent / f"{mode}-{rep}"
    options = ["--parallel", "2", "--seed-offset", str(100 * rep)]
    wall = run_launch(
        scenario, outdir, [*options, "--set", f"partial-quality={mode}"], lambda _: None
    )
    records = RunGroup(outdir / scenario.stem).records()
    finished = [r["quality"] for r in records if r["status"] == "SAT"]
    return {
        "timeouts": sum(r["status"] == "TIMEOUT" for r in records),
        "best": min(finished),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30, help="runs per launch (default 30)")
    args = parser.parse_args()
    exit_on_sigterm()
    rows: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        scenario = write_scenario(Path(tmp), args.runs)
        for rep in range(1, args.reps + 1):
            for mode in MODES:
                rows[mode].append(one_launch(scenario, mode, rep))
                print(f"repetition {rep}, {mode}: {rows[mode][-1]}", flush=True)
    print(f"\n{args.runs} runs, 2 shared workers, {args.reps} repetitions (median; per rep)\n")
    print("| partial-quality | runs at the cutoff | best finished error | wall s |")
    print("|---|---|---|---|")
    for mode, found in rows.items():
        timeouts = [int(r["timeouts"]) for r in found]
        best = [r["best"] for r in found]
        print(
            f"| {mode} | {statistics.median(timeouts):g} ({', '.join(map(str, timeouts))})"
            f" | {statistics.median(best):.4f} ({', '.join(f'{b:.4f}' for b in best)})"
            f" | {statistics.median(r['wall'] for r in found):.0f} |"
        )


if __name__ == "__main__":
    main()
