"""What the optimiser hands the worker, importable without SMAC3.

A worker starts its first trial (the default configuration) while SMAC3 is still being
imported (worker.py, `Worker._start_default`), so the trial it runs and the errors of asking
live here, apart from optimizer.py, the one module that imports SMAC3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smac.runhistory.dataclasses import TrialInfo

N_TRIALS = 10**9
"""SMAC3's n_trials: never reached; it only enters SMAC3's own bookkeeping."""


@dataclass(frozen=True)
class Proposal:
    """A trial to run: plain configuration values, SMAC3's instance and seed, and SMAC3's
    handle of it (None for a trial started before the optimiser existed, the default's:
    `Optimizer.adopt` makes one before the first ask)."""

    config: dict[str, Any]
    instance: str | None
    smac_seed: int | None
    budget: float | None
    info: TrialInfo | None = None


class NothingToPropose(Exception):
    """SMAC3 has no configuration left to propose (the message says why)."""
