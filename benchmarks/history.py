"""A rungroup's history for the benchmarks: finished runs as an earlier launch left them.

The configurations are uniform draws from the 2-parameter Branin box (asking SMAC3 for them
costs O(n^2) in its intensifier: minutes at 500 runs); the trial seed is the one SMAC3 gives
every trial of a deterministic scenario, so that a worker replaying them races nothing again.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from smac_bridge.layout import format_run_id
from smac_bridge.optimizer import Optimizer, Setting
from smac_bridge.pcs import read_pcs
from smac_bridge.records import RunRecord, new_record

PCS = "x [-5, 10] [2.5]\ny [0, 15] [7.5]\n"


def branin(x: float, y: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def trial_seed(pcs: Path, scratch: Path) -> int:
    """The seed SMAC3 gives the trials of the deterministic scenario whose space is PCS."""
    optimizer = Optimizer(
        Setting(
            space=read_pcs(pcs),
            seed=1,
            name="history",
            output_directory=scratch,
            deterministic=True,
            run_obj="quality",
            crash_cost=1e9,
            facade="random",
        )
    )
    proposal = optimizer.ask()
    assert proposal is not None
    return proposal.smac_seed


def history(pcs: Path, scratch: Path, runs: int, workers: int, runtime: float) -> list[RunRecord]:
    """RUNS successful Branin runs of PCS's space, spread over WORKERS, an hour ago."""
    seed = trial_seed(pcs, scratch)
    draw = random.Random(1)
    records = []
    for n in range(1, runs + 1):
        config = {"x": draw.uniform(-5, 10), "y": draw.uniform(0, 15)}
        quality = branin(config["x"], config["y"])
        records.append(
            new_record(
                run_id=format_run_id(n),
                worker=(n - 1) % workers + 1,
                config=config,
                instance="no_instance",
                instance_info="0",
                seed=-1,
                smac_seed=seed,
                cutoff=None,
                run_obj="quality",
                status="SAT",
                runtime=runtime,
                runlength=0.0,
                quality=quality,
                cost=quality,
                reason=None,
                additional="",
                extra={},
                started=1e9 + n,
                wall_time=runtime,
                stopped_by_user=False,
                exit_code=0,
                cpu_time=0.05,
                peak_rss_mb=10.0,
                gpu=None,
                budget=None,
                trained_budget=None,
            )  # fmt: skip
        )
    return records
