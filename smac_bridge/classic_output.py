"""SMAC 2.10's output files of one worker: the trajectory and runs_and_results.

`traj-run-<seed>.csv` has the columns of SMAC 2.10's detailed trajectory and gets a row
whenever the worker's incumbent (incumbent.py, over the runs the worker knows) or its cost
changes; `runs_and_results-<seed>.csv` has a row per run the worker finished. Configuration
ids are this file's own, in order of first appearance, the default configuration being 1
as in SMAC 2.10. Stdlib only: the values come in as plain dicts.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from typing import Any

from smac_bridge import protocol
from smac_bridge.layout import GroupLayout
from smac_bridge.records import Incumbent, RunRecord, config_key

TRAJ_HEADER = (
    "CPU Time Used",
    "Estimated Training Performance",
    "Wallclock Time",
    "Incumbent ID",
    "Automatic Configurator (CPU) Time",
    "Full Configuration",
    "Predicted Performance (if available)",
)
RUNS_HEADER = (
    "Run Number",
    "Run History Configuration ID",
    "Instance ID",
    "Response Value (y)",
    "Censored?",
    "Cutoff Time Used",
    "Seed",
    "Runtime",
    "Run Length",
    "Run Result Code",
    "Run Quality",
    "SMAC Iteration",
    "SMAC Cumulative Runtime",
    "Run Result",
    "Additional Algorithm Run Data",
    "Wall Clock Time",
)
RESULT_CODES = {"SAT": 1, "UNSAT": 2, "TIMEOUT": 0, "CRASHED": -1, "ABORT": -2}


def _java_order(name: str) -> bytes:
    return name.encode("utf-16-be")  # Java compares strings by UTF-16 code units


class ClassicOutput:
    """Writes one worker's trajectory and runs_and_results files."""

    def __init__(
        self,
        layout: GroupLayout,
        seed: int,
        parameters: Mapping[str, Any],
        default: Mapping[str, Any],
        instance_ids: Mapping[str, int],
    ) -> None:
        """PARAMETERS: every parameter's default value; DEFAULT: the default configuration."""
        self._trajectory = layout.trajectory(seed)
        self._runs = layout.runs_and_results(seed)
        self._parameters = dict(parameters)
        self._default = dict(default)
        self._instance_ids = dict(instance_ids)
        self._ids: dict[str, int] = {config_key(self._default): 1}
        self._last: tuple[int, float] | None = None
        self._started = time.time()
        self.runs = 0
        self.runtime = 0.0

    def config_id(self, config: Mapping[str, Any]) -> int:
        """This worker's id of a configuration (1 for the default, then 2, 3, ...)."""
        return self._ids.setdefault(config_key(dict(config)), len(self._ids) + 1)

    def config_text(self, config: Mapping[str, Any]) -> str:
        """SMAC 2.10's ` name='value', ...` with every parameter (inactive: its default)."""
        parts = []
        for name in sorted(self._parameters, key=_java_order):
            value = config.get(name, self._parameters[name])
            parts.append(f" {name}='{protocol.format_value(value)}'")
        return ",".join(parts)

    def start(self) -> None:
        """A new trajectory with SMAC 2.10's first row (the default, no estimate yet)."""
        first = ("0.0", protocol.java_double(protocol.DOUBLE_MAX), "0.0", "1", "0.0")
        with open(self._trajectory, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator=",\n")
            writer.writerow(TRAJ_HEADER)
            writer.writerow((*first, self.config_text(self._default), ""))
        self._last = None

    def incumbent(self, found: Incumbent | None) -> None:
        """Append a trajectory row when the incumbent or its cost changed."""
        if found is None:
            return
        config_id = self.config_id(found["config"])
        if (config_id, found["cost"]) == self._last:
            return
        self._last = (config_id, found["cost"])
        row = (
            repr(self.runtime),
            repr(found["cost"]),
            repr(time.time() - self._started),
            str(config_id),
            repr(time.process_time()),
            self.config_text(found["config"]),
            "",
        )
        with open(self._trajectory, "a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator=",\n").writerow(row)

    def count(self, record: RunRecord) -> None:
        """Count one of the worker's own runs (one replayed at a restart has its row already)."""
        self.runs += 1
        self.runtime += float(record["runtime"])

    def run(self, record: RunRecord) -> None:
        """Count one of the worker's own finished runs and write its row."""
        self.count(record)
        new = not self._runs.exists()
        cutoff = record["cutoff"]
        row = (
            self.runs,
            self.config_id(record["config"]),
            self._instance_ids.get(record["instance"], 1),
            repr(record["cost"]),
            0,
            protocol.java_double(protocol.DOUBLE_MAX if cutoff is None else cutoff),
            record["seed"],
            repr(record["runtime"]),
            repr(record["runlength"]),
            RESULT_CODES[record["status"]],
            repr(record["quality"]),
            self.runs - 1,
            repr(self.runtime),
            record["status"],
            record["additional"],
            repr(record["wall_time"]),
        )
        with open(self._runs, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator=",\n")
            if new:
                writer.writerow(RUNS_HEADER)
            writer.writerow(row)
