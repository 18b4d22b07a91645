"""What a worker's incumbent costs after each run, as the runs it knows grow.

After every run it learns, a worker writes its trajectory row, for which it needs the
incumbent of every run it knows. `incumbent.incumbent` reads all of them again (O(n) per run,
O(n^2) over a launch); `incumbent.BestRunSoFar` updates one configuration's sums per run and
reads only the incumbent's own runs. Both give the same incumbent (tests/test_incumbent.py).

    .venv/bin/python benchmarks/worker_incumbent.py --runs 100 1000 4000
    .venv/bin/python benchmarks/worker_incumbent.py --runs 1000 4000 --design

`--design`: the runs of a non-deterministic design instead, each row on a seed of its own and
every configuration in two rows, so that no configuration races another (every pair set is
one of its own): the incumbent rule then compares all of them by their means.
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


def design_rows(records: list) -> list:
    """RECORDS as rows of a non-deterministic design: run k on seed k, each configuration
    in two rows (the second with a cost a little higher)."""
    rows = []
    for number, record in enumerate(records[: len(records) // 2], start=1):
        for repeat in (0, 1):
            seed = 2 * number - 1 + repeat
            cost = float(record["cost"]) * (1 + repeat / 10)
            rows.append({**record, "run_id": f"{seed:05d}", "seed": seed, "cost": cost})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000, 4000])
    parser.add_argument("--design", action="store_true", help="a design's rows instead")
    args = parser.parse_args()
    print("| runs known | all runs again, ms per run | incremental, ms per run |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        pcs = Path(scratch) / "space.pcs"
        pcs.write_text(PCS)
        for runs in args.runs:
            records = history(pcs, Path(scratch), runs, workers=2, runtime=0.1)
            if args.design:
                records = design_rows(records)
            full, incremental = per_run_ms(records, every=min(50, runs))
            print(f"| {runs} | {full:.2f} | {incremental:.3f} |")


if __name__ == "__main__":
    main()
