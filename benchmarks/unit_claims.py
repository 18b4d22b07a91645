"""What taking units of a `budget-limit` costs as the limit grows.

Each unit is one claim file (smac_bridge/rundata.py, `RunGroup.claim_units`), so a limit in
small units (iterations, batches) means many files. Measured per limit: filling it with claims
of 100 units, a claim refused because the limit is used up (what a waiting worker repeats),
and a claim of 50 units after a run gave its 100 back. Then, per limit of `--early-limits`,
the claims early in a launch, when few units are held: 20 claims of 9 units (Hyperband's
trials under a large limit, such as 10^6 for "no limit"). Reproduce with:

    .venv/bin/python benchmarks/unit_claims.py --limits 1000 10000 30000 \
        --early-limits 1000 100000 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time

from smac_bridge.rundata import RunGroup, format_run_id

UNITS_PER_RUN = 100


def measure(limit: int) -> tuple[float, float, float]:
    """Seconds per claim while filling LIMIT, for a refused claim, and for a claim that
    takes units a run gave back."""
    with tempfile.TemporaryDirectory() as folder:
        group = RunGroup(folder)
        group.create()
        start = time.perf_counter()
        runs = 0
        while group.claim_units(format_run_id(runs + 1), UNITS_PER_RUN, limit):
            runs += 1
        filling = (time.perf_counter() - start) / max(runs, 1)
        start = time.perf_counter()
        assert not group.claim_units(format_run_id(runs + 1), 1, limit)
        refused = time.perf_counter() - start
        group.release_units(format_run_id(runs // 2))
        start = time.perf_counter()
        assert group.claim_units(format_run_id(runs + 2), UNITS_PER_RUN // 2, limit)
        given_back = time.perf_counter() - start
    return filling, refused, given_back


def measure_early(limit: int, claims: int = 20, units: int = 9) -> float:
    """Seconds per claim of UNITS while the first CLAIMS claims fill a group of LIMIT."""
    with tempfile.TemporaryDirectory() as folder:
        group = RunGroup(folder)
        group.create()
        start = time.perf_counter()
        for run in range(1, claims + 1):
            assert group.claim_units(format_run_id(run), units, limit)
        return (time.perf_counter() - start) / claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limits", type=int, nargs="+", default=[1000, 10000, 30000])
    parser.add_argument("--early-limits", type=int, nargs="+", default=[1000, 100000, 1000000])
    args = parser.parse_args()
    claims = ["claim while filling", "refused claim", "claim of given-back units"]
    print("| budget-limit | " + " | ".join(f"{claim} (ms)" for claim in claims) + " |")
    print("|---|---|---|---|")
    for limit in args.limits:
        filling, refused, given_back = measure(limit)
        print(f"| {limit} | {filling * 1e3:.1f} | {refused * 1e3:.1f} | {given_back * 1e3:.1f} |")
    print()
    print("| budget-limit | early claim of 9 units (ms) |")
    print("|---|---|")
    for limit in args.early_limits:
        print(f"| {limit} | {measure_early(limit) * 1e3:.2f} |")


if __name__ == "__main__":
    main()
