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
from smac_bridge.records import (
    Incumbent,
    RunRecord,
    finite_or,
    record_cost,
    shown_budget,
    tuner_time_used,
)

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


class ClassicOutput:
    """Writes one worker's trajectory, runs_and_results and paramstrings files."""

    def __init__(
        self,
        layout: GroupLayout,
        seed: int,
        parameters: Mapping[str, Any],
        first: Mapping[str, Any],
        instance_ids: Mapping[str, int],
        started: float,
        *,
        run_obj: str,
    ) -> None:
        """PARAMETERS: every parameter's default value; FIRST: the initial incumbent;
        STARTED: when the worker started (time.time()), where the wall-clock column starts;
        RUN_OBJ: the scenario's, for the response value."""
        self._trajectory = layout.trajectory(seed)
        self._runs = layout.runs_and_results(seed)
        self._paramstrings = layout.paramstrings(seed)
        self._parameters = dict(parameters)
        self._first = dict(first)
        self._instance_ids = dict(instance_ids)
        self._run_obj = run_obj
        self._ids: dict[str, int] = {}
        self._row_ids: list[int] = []  # the configuration id of each row runs_and_results has
        self._last: tuple[int, float] | None = None
        self._started = started
        self._cpu_before = 0.0  # the configurator's CPU time of earlier sessions
        self.runs = 0
        self.runtime = 0.0  # runs_and_results' cumulative runtime
        self.tuner_time = 0.0  # the trajectory's: each run at least MIN_RUNTIME, as tunerTimeout

    def config_id(self, config: Mapping[str, Any]) -> int:
        """This worker's id of a configuration (1 for the initial incumbent, then 2, 3, ...);
        a new one is written to the paramstrings file."""
        text = self.config_text(config)
        found = self._ids.get(text)
        if found is None:
            found = max(self._ids.values(), default=0) + 1
            self._remember(text, found)
        return found

    def _adopt(self, text: str, config_id: int) -> None:
        """Take an id the other files give a configuration that paramstrings lacks, unless
        either is known already (files from before paramstrings numbered each session anew)."""
        if text not in self._ids and config_id not in self._ids.values():
            self._remember(text, config_id)

    def _remember(self, text: str, config_id: int) -> None:
        self._ids[text] = config_id
        with open(self._paramstrings, "a", encoding="utf-8") as handle:
            handle.write(f"{config_id}:{text}\n")

    def config_text(self, config: Mapping[str, Any]) -> str:
        """SMAC 2.10's ` name='value', ...` with every parameter (inactive: its default)."""
        parts = []
        for name in sorted(self._parameters, key=protocol.java_order):
            value = config.get(name, self._parameters[name])
            parts.append(f" {name}='{protocol.format_value(value)}'")
        return ",".join(parts)

    def start(self) -> None:
        """Go on with the files of an earlier session of this worker, or begin them (the
        trajectory's first row is SMAC 2.10's: the initial incumbent, no estimate yet). A line
        a killed worker left unfinished is dropped, and ids missing from paramstrings are
        taken back from the trajectory (runs_and_results' rows get theirs in `count`)."""
        for line in _complete_lines(self._paramstrings):
            number, _, text = line.partition(":")
            if number.strip().isdigit() and text not in self._ids:
                self._ids[text] = int(number)
        trajectory = list(csv.reader(_complete_lines(self._trajectory)))[1:]
        for row in trajectory:
            if len(row) >= len(TRAJ_HEADER) and row[3].isdigit():
                self._adopt(row[5], int(row[3]))
        runs = csv.reader(_complete_lines(self._runs))
        self._row_ids = [int(row[1]) for row in runs if len(row) > 1 and row[0].isdigit()]
        last = _numbers(trajectory[-1]) if trajectory else None
        if last is not None:
            self._started = time.time() - last[2]
            self._cpu_before = last[4] - time.process_time()
            self._last = (int(last[3]), last[1])
            return
        first_id = str(self.config_id(self._first))  # 1, unless a lost trajectory is begun again
        first = ("0.0", protocol.java_double(protocol.DOUBLE_MAX), "0.0", first_id, "0.0")
        with open(self._trajectory, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator=",\n")
            writer.writerow(TRAJ_HEADER)
            writer.writerow((*first, self.config_text(self._first), ""))

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
            protocol.java_double(self.tuner_time),
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
        """Count one of the worker's own runs replayed at a restart: its row is there (its
        configuration keeps that row's id), or is written now when the worker that recorded
        the run died before writing it."""
        self._add(record)
        if self.runs > len(self._row_ids):
            self._write_row(record)
            return
        self._adopt(self.config_text(record["config"]), self._row_ids[self.runs - 1])

    def run(self, record: RunRecord) -> None:
        """Count one of the worker's own finished runs and write its row."""
        self._add(record)
        self._write_row(record)

    def _add(self, record: RunRecord) -> None:
        self.runs += 1
        self.runtime += float(record["runtime"])
        self.tuner_time += tuner_time_used([record])

    def _write_row(self, record: RunRecord) -> None:
        new = not self._runs.exists() or not self._runs.stat().st_size  # a header first
        # the budget the trial got (3 epochs), not SMAC3's (3.3333)
        cutoff, budget, quality = record["cutoff"], shown_budget(record), record["quality"]
        if record["status"] == "CRASHED":
            crashed = protocol.CRASHED_QUALITY  # SMAC 2.10 writes at least this much
            quality = max(finite_or(quality, crashed), crashed)
        config_id = self.config_id(record["config"])
        censored = bool(record.get("stopped_by_user")) or is_pruned(record)  # a KILLED run
        response, runtime = record["cost"], float(record["runtime"])
        if self._run_obj == "runtime" and censored:
            response = runtime
        elif self._run_obj == "runtime":  # SMAC 2.10 applies PAR-k as it averages, not here
            status = record["status"]
            response = record_cost("runtime", status, runtime, quality, cutoff=cutoff, par_factor=1)
        row = (
            self.runs,
            config_id,
            self._instance_ids.get(record["instance"], 1),
            protocol.java_double(response),
            int(censored),
            protocol.java_double(protocol.DOUBLE_MAX if cutoff is None else cutoff),
            record["seed"],
            protocol.java_double(record["runtime"]),
            protocol.java_double(record["runlength"] if budget is None else budget),
            RESULT_CODES[record["status"]],
            protocol.java_double(quality),
            self.runs - 1,
            protocol.java_double(self.runtime),
            record["status"],
            _plain_cell(str(record["additional"])),
            protocol.java_double(record["wall_time"]),
        )
        with open(self._runs, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator=",\n")
            if new:
                writer.writerow(RUNS_HEADER)
            writer.writerow(row)
        self._row_ids.append(config_id)


def _plain_cell(text: str) -> str:
    """TEXT as one CSV cell that needs no quoting: SMAC 2.10's additional run data holds no
    commas, quotes or line breaks."""
    return " ".join(text.replace(",", ";").replace('"', "'").split())


def _complete_lines(path: Path) -> list[str]:
    """The lines of PATH; an unfinished last line (a worker killed while writing it) is cut
    off the file, so that the next write starts a line of its own."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text, encoding="utf-8")
    return text.splitlines()


def _numbers(row: list[str]) -> list[float] | None:
    """A trajectory row's first five cells as numbers, or None for a row that is no row."""
    try:
        return [float(cell) for cell in row[:5]] if len(row) >= len(TRAJ_HEADER) else None
    except ValueError:
        return None
