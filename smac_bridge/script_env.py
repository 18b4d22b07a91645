"""The environment variables through which a trial's worker, wrapper and script talk: one
place for their names, which docs/wrappers.md promises users. Standard library only: the
wrapper and a user's script import it."""

from __future__ import annotations

RUN_DIR_ENV = "SMAC_BRIDGE_RUN_DIR"
"""The trial's run directory (the worker sets it; a wrapper under Java SMAC makes one)."""
ARTIFACTS_ENV = "SMAC_BRIDGE_ARTIFACTS"
"""Where the script saves its model and files."""
SEED_ENV = "SMAC_BRIDGE_SEED"
"""SMAC's seed of the run, which `report()` prints in the result line."""
GRACE_ENV = "SMAC_BRIDGE_GRACE"
"""Seconds from the stopping SIGTERM to the SIGKILL."""
GPU_ENV = "SMAC_BRIDGE_GPU"
"""The GPU id of the worker's slot ("" = the CPU)."""
BUDGET_ENV = "SMAC_BRIDGE_BUDGET"
"""A multi-fidelity trial's budget."""
BUDGET_FLAG_ENV = "SMAC_BRIDGE_BUDGET_FLAG"
"""The script flag that takes the budget."""
RESUME_FROM_ENV = "SMAC_BRIDGE_RESUME_FROM"
"""The artifacts folder of the earlier trial a promoted or re-run trial continues from."""
RESUME_RUN_ENV = "SMAC_BRIDGE_RESUME_RUN"
"""The run id of that earlier trial."""

LAUNCH_SET = (BUDGET_ENV, BUDGET_FLAG_ENV, RESUME_FROM_ENV, RESUME_RUN_ENV)
"""What a launch sets for one trial beyond the wrapper's own: command.json keeps them, so
that it reruns the trial as it ran."""
