"""What an `ask()` costs with each SMAC3 facade, at the history sizes `smac-facade = auto` allows.

A worker asks for its next trial while the current one runs; the ask stays hidden as long as
it is shorter than the trial. The Gaussian process (BlackBox facade) refits at every ask and
its cost grows with the history, so `auto` caps its budget (optimizer.GP_MAX_BUDGET) and its
dimension (GP_MAX_PARAMETERS). For each facade, space and history size, a fresh optimiser
(the worker's own, optimizer.Optimizer) is told that many random finished runs, then asked
and told ASKS times, on one BLAS thread as in a worker; the table shows the median and the
largest ask.

    .venv/bin/python benchmarks/facade_ask_cost.py [--sizes 50 100 200 400] [--asks 8]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from smac_bridge.optimizer import Optimizer, Setting
from smac_bridge.pcs import parse_pcs, plain_values

SPACES = {
    "Hartmann-6 (6 reals)": "\n".join(f"x{i} real [0, 1] [0.5]" for i in range(6)),
    "10 mixed": "\n".join(
        [f"r{i} real [0.0001, 1] [0.01] log" for i in range(4)]
        + [f"i{i} integer [1, 100] [10]" for i in range(3)]
        + [f"c{i} {{a, b, c}} [a]" for i in range(3)]
    ),
}


def objective(values: dict[str, Any]) -> float:
    """A smooth cost with a little structure in every parameter (values are plain)."""
    total = 0.0
    for name, value in sorted(values.items()):
        number = float(value) if not isinstance(value, str) else "abc".index(value) / 2
        total += math.sin(3 * number + len(name)) + number**2 / 100
    return total


def record(run_id: int, config: dict[str, Any], seed: int) -> dict[str, Any]:
    cost = objective(config)
    return {
        "run_id": f"{run_id:05d}",
        "worker": 2,
        "config": config,
        "smac_seed": seed,
        "status": "SAT",
        "quality": cost,
        "cost": cost,
        "runtime": 1.0,
        "started": 0.0,
        "ended": 1.0,
    }


def measure(facade: str, pcs: str, size: int, asks: int, folder: Path) -> tuple[float, float]:
    """Median and largest ask in seconds after SIZE told runs."""
    space = parse_pcs(pcs)
    smac = Optimizer(
        Setting(
            space=space,
            seed=1,
            name=f"{facade}-{size}",
            output_directory=folder,
            deterministic=True,
            run_obj="quality",
            crash_cost=1e9,
            budget=4,  # an initial design of one configuration: the first ask
            facade=facade,
            with_default=False,
        )
    )
    first = smac.ask()
    assert first is not None
    space.space.seed(size)
    for n, config in enumerate(space.space.sample_configuration(size), 1):
        smac.tell_record(record(n, plain_values(config), first.smac_seed), None)
    times = []
    for n in range(asks):
        started = time.perf_counter()
        proposal = smac.ask()
        times.append(time.perf_counter() - started)
        assert proposal is not None
        smac.tell(proposal, record(size + n + 1, proposal.config, proposal.smac_seed))
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--asks", type=int, default=8)
    args = parser.parse_args()
    np.seterr(all="ignore")
    print(f"{args.asks} asks per cell, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    print("| space | facade | history | median ask s | largest ask s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(limits=1):  # as a worker
        for name, pcs in SPACES.items():
            for facade in ("blackbox", "hpo"):
                for size in args.sizes:
                    median, largest = measure(facade, pcs, size, args.asks, Path(folder))
                    print(
                        f"| {name} | {facade} | {size} | {median:.2f} | {largest:.2f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
