"""What a worker's incumbent costs after each run, as the runs it knows grow.

After every run it learns, a worker writes its trajectory row, for which it needs the
incumbent of every run it knows. `incumbent.incumbent` reads all of them again (O(n) per run,
O(n^2) over a launch); `incumbent.BestRunSoFar` updates one configuration's sums per run and
reads only the incumbent's own runs. Both give the same incumbent (tests/test_incumbent.py).

    .venv/bin/python benchmarks/worker_incumbent.py --runs 100 1000 4000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from history import PCS, history

from smac_bridge.incumbent import BestRunSoFar, incumbent


def per_run_ms(records: list, every: int) -> tuple[float, float]:
    """Milliseconds per run at the history's end: reading all of them again, and the
    incremental incumbent (its add and its answer), each averaged over EVERY runs."""
    start = time.perf_counter()
    for n in range(len(records) - every, len(records)):
        incumbent(records[: n + 1])
    full = (time.perf_counter() - start) / every * 1000
    so_far = BestRunSoFar()
    for record in records[:-every]:
        so_far.add(record)
    start = time.perf_counter()
    for record in records[-every:]:
        so_far.add(record)
        so_far.incumbent()
    incremental = (time.perf_counter() - start) / every * 1000
    return full, incremental


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000, 4000])
    args = parser.parse_args()
    print("| runs known | all runs again, ms per run | incremental, ms per run |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        pcs = Path(scratch) / "space.pcs"
        pcs.write_text(PCS)
        for runs in args.runs:
            records = history(pcs, Path(scratch), runs, workers=2, runtime=0.1)
            full, incremental = per_run_ms(records, every=min(50, runs))
            print(f"| {runs} | {full:.2f} | {incremental:.3f} |")


if __name__ == "__main__":
    main()
