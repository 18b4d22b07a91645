"""SMAC 2.10's output files of one worker: the trajectory, runs_and_results, paramstrings.

`traj-run-<seed>.csv` has the columns of SMAC 2.10's detailed trajectory and gets a row
whenever the worker's incumbent (incumbent.py, over the runs the worker knows) or its cost
changes, and once more at the worker's end; `runs_and_results-<seed>.csv` has a row per run
the worker finished. Configuration ids are the worker's own, in order of first appearance,
the initial incumbent (the default configuration, or the scenario's `initial-incumbent`)
being 1 as in SMAC 2.10; `paramstrings-<seed>.txt` says which configuration each id is. A
restarted worker (a resume) reads the ids back from it and goes on with its trajectory, so
the three files read as one optimisation. Stdlib only: the values come in as plain dicts.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smac_bridge import protocol
from smac_bridge.layout import GroupLayout
from smac_bridge.outcomes import is_pruned
from smac_bridge.records import Incumbent, RunRecord, finite_or

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
    """Writes one worker's trajectory, runs_and_results and paramstrings files."""

    def __init__(
        self,
        layout: GroupLayout,
        seed: int,
        parameters: Mapping[str, Any],
        first: Mapping[str, Any],
        instance_ids: Mapping[str, int],
    ) -> None:
        """PARAMETERS: every parameter's default value; FIRST: the initial incumbent."""
        self._trajectory = layout.trajectory(seed)
        self._runs = layout.runs_and_results(seed)
        self._paramstrings = layout.paramstrings(seed)
        self._parameters = dict(parameters)
        self._first = dict(first)
        self._instance_ids = dict(instance_ids)
        self._ids: dict[str, int] = {}
        self._last: tuple[int, float] | None = None
        self._started = time.time()
        self._cpu_before = 0.0  # the configurator's CPU time of earlier sessions
        self.runs = 0
        self.runtime = 0.0

    def config_id(self, config: Mapping[str, Any]) -> int:
        """This worker's id of a configuration (1 for the initial incumbent, then 2, 3, ...);
        a new one is written to the paramstrings file."""
        text = self.config_text(config)
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = len(self._ids) + 1
            with open(self._paramstrings, "a", encoding="utf-8") as handle:
                handle.write(f"{found}:{text}\n")
        return found

    def config_text(self, config: Mapping[str, Any]) -> str:
        """SMAC 2.10's ` name='value', ...` with every parameter (inactive: its default)."""
        parts = []
        for name in sorted(self._parameters, key=_java_order):
            value = config.get(name, self._parameters[name])
            parts.append(f" {name}='{protocol.format_value(value)}'")
        return ",".join(parts)

    def start(self) -> None:
        """Go on with the files of an earlier session of this worker, or begin them: the
        trajectory's first row is SMAC 2.10's (the initial incumbent, no estimate yet)."""
        for line in _lines(self._paramstrings):
            number, _, text = line.partition(":")
            if number.isdigit():
                self._ids[text] = int(number)
        last = _last_trajectory_row(self._trajectory)
        if last is not None and self._ids:
            self._started -= float(last[2])
            self._cpu_before = float(last[4]) - time.process_time()
            self._last = (int(last[3]), float(last[1]))
            return
        self._paramstrings.unlink(missing_ok=True)
        self._ids = {}
        self.config_id(self._first)
        first = ("0.0", protocol.java_double(protocol.DOUBLE_MAX), "0.0", "1", "0.0")
        with open(self._trajectory, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator=",\n")
            writer.writerow(TRAJ_HEADER)
            writer.writerow((*first, self.config_text(self._first), ""))
        self._last = None

    def incumbent(self, found: Incumbent | None, *, again: bool = False) -> None:
        """Append a trajectory row when the incumbent or its cost changed (or AGAIN: SMAC
        2.10's last row, written at the end)."""
        if found is None:
            return
        config_id = self.config_id(found["config"])
        if (config_id, found["cost"]) == self._last and not again:
            return
        self._last = (config_id, found["cost"])
        row = (
            protocol.java_double(self.runtime),
            protocol.java_double(found["cost"]),
            protocol.java_double(time.time() - self._started),
            str(config_id),
            protocol.java_double(self._cpu_before + time.process_time()),
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
        cutoff, budget, quality = record["cutoff"], record.get("budget"), record["quality"]
        if record["status"] == "CRASHED":
            crashed = protocol.CRASHED_QUALITY  # SMAC 2.10 writes at least this much
            quality = max(finite_or(quality, crashed), crashed)
        row = (
            self.runs,
            self.config_id(record["config"]),
            self._instance_ids.get(record["instance"], 1),
            protocol.java_double(record["cost"]),
            int(bool(record.get("stopped_by_user")) or is_pruned(record)),
            protocol.java_double(protocol.DOUBLE_MAX if cutoff is None else cutoff),
            record["seed"],
            protocol.java_double(record["runtime"]),
            protocol.java_double(record["runlength"] if budget is None else budget),
            RESULT_CODES[record["status"]],
            protocol.java_double(quality),
            self.runs - 1,
            protocol.java_double(self.runtime),
            record["status"],
            " ".join(str(record["additional"]).replace(",", ";").split()),  # one plain cell
            protocol.java_double(record["wall_time"]),
        )
        with open(self._runs, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator=",\n")
            if new:
                writer.writerow(RUNS_HEADER)
            writer.writerow(row)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def _last_trajectory_row(path: Path) -> list[str] | None:
    """The last complete row of a trajectory file (its 7 cells), or None."""
    rows = [row for row in csv.reader(_lines(path)) if len(row) >= len(TRAJ_HEADER)]
    if len(rows) < 2:
        return None
    try:
        [float(rows[-1][i]) for i in (1, 2, 3, 4)]
    except ValueError:
        return None
    return rows[-1]
