"""`smac-bridge doe`: run a design of experiments through the launcher and workers of `launch`.

The design (design.py: Monte Carlo samples or a CSV file) is saved as
`<outdir>/<rungroup>/design.csv`, the run budget is its number of rows, and the worker that
claims run slot `00007` evaluates row 7. So a resume re-runs exactly the rows whose slots
were not finished.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from smac_bridge.design import (
    DESIGN_BUDGET_USED,
    check_saved_space,
    monte_carlo,
    read_design,
    write_design,
)
from smac_bridge.errors import RUN_BUDGET_USED, InputError
from smac_bridge.launcher import Launch, LaunchOptions, counted
from smac_bridge.pcs import read_pcs
from smac_bridge.records import config_key, same_config
from smac_bridge.results import format_config
from smac_bridge.scenario import KEYS, MAX_SEED, rungroup_folder


@dataclasses.dataclass
class DesignSource:
    """Where `smac-bridge doe` takes its design from: a sample, a CSV, or (resume) the saved."""

    sample: int | None = None
    seed: int = 1
    csv: Path | None = None


def _repeats(design: list[dict[str, Any]]) -> str:
    """A note naming the rows of DESIGN that repeat an earlier one ("" when none): in a
    deterministic scenario each runs again with the same seed, and measures nothing new
    (`--sample` draws none there)."""
    first: dict[str, int] = {}
    repeats = []
    for row, config in enumerate(design, start=1):
        earlier = first.setdefault(config_key(config), row)
        if earlier != row:
            repeats.append(f"{row} (= {earlier})")
    if not repeats:
        return ""
    shown = ", ".join(repeats[:5]) + (f" and {len(repeats) - 5} more" if len(repeats) > 5 else "")
    rows, repeat = ("row", "repeats") if len(repeats) == 1 else ("rows", "repeat")
    return (
        f"; {rows} {shown} {repeat} an earlier row, which a deterministic scenario runs again"
        " with the same seed"
    )


def _difference(saved: list[dict[str, Any]], design: list[dict[str, Any]]) -> str:
    """Where DESIGN first differs from the SAVED one, in words."""
    for row, (was, now) in enumerate(zip(saved, design, strict=False), start=1):
        if was != now:
            names = [name for name in {**was, **now} if was.get(name) != now.get(name)]
            return f"row {row} differs in {', '.join(names)}"
    return f"{counted(len(saved), 'row')} there, {len(design)} here"


class DesignLaunch(Launch):
    """A launch whose workers run a design: budget = rows (capped by runcount_limit)."""

    RUNS_BRACKETS = False
    ASKS_THE_MODEL = False

    def __init__(self, options: LaunchOptions, source: DesignSource) -> None:
        if not any(KEYS.get(key) == "rungroup" for key in options.overrides):
            # Not the rungroup of a launch of the same scenario: `<rungroup>-doe`.
            # read as a resume finds it: a required key may come from the earlier --set
            rungroup = rungroup_folder(options.scenario, options.overrides).name
            options = dataclasses.replace(
                options, overrides={**options.overrides, "rungroup": f"{rungroup}-doe"}
            )
        super().__init__(options)
        space = read_pcs(self.scenario.paramfile)
        self.names = [hp.name for hp in space.space.values()]
        path = self.group.layout.design
        if options.resume and path.exists():  # a changed PCS is named as such, not as a bad row
            check_saved_space(self.group.layout, self.scenario.paramfile)
        saved = read_design(path, space) if options.resume and path.exists() else None
        if source.sample is not None:
            self.design = monte_carlo(
                space, source.sample, source.seed, distinct=self.scenario.deterministic
            )
        elif source.csv is not None:
            self.design = read_design(source.csv, space)
        elif saved is not None:
            self.design = saved
        elif options.resume:
            raise InputError(
                path, None, "nothing to resume: no design here (check --outdir and the rungroup)"
            )
        else:
            raise InputError(None, None, "give --sample N or --design FILE.csv")
        if saved is not None and self.design[: len(saved)] != saved:  # added rows run
            given = source.csv if source.csv is not None else f"--sample {source.sample}"
            raise InputError(
                None,
                None,
                f"{given}: not the design of the run being resumed ({path}:"
                f" {_difference(saved, self.design)}); resume without --sample/--design to"
                " continue it (rows added at its end run), or choose another --outdir or"
                " --set rungroup=NAME",
            )
        if saved is not None:
            self._check_rows_that_ran(path)
        rows = self.rows = len(self.design)
        offset = self.scenario.seed_offset
        if not self.scenario.deterministic and offset + rows > MAX_SEED:  # row k: offset + k
            raise InputError(
                None,
                None,
                f"seed-offset {offset} + the design's {rows} rows is more than {MAX_SEED}, the"
                " largest seed a row's run can get",
            )
        limit = self.scenario.runcount_limit
        self.budget = min(rows, limit) if limit else rows
        self.note = f"design: {counted(rows, 'row')}"
        if saved is not None and rows > len(saved):
            self.note += f" ({counted(rows - len(saved), 'row')} added at its end)"
        if source.sample is not None and rows < source.sample:
            self.note += " (random draws found no more distinct configurations in the space)"
        if source.csv is not None and self.scenario.deterministic:
            self.note += _repeats(self.design)
        if self.budget < rows:
            capped = counted(self.budget, "row")
            self.note += f"; runcount_limit = {limit} caps the run budget at {capped}"
        # Workers and the live view read the budget from the scenario, as for a launch.
        self.overrides["runcount_limit"] = str(self.budget)
        self.scenario = dataclasses.replace(self.scenario, runcount_limit=self.budget)
        self.source = source

    def check_files(self) -> None:
        """As a launch's, and the design's rows still to run against the command: a row that
        leaves a parameter inactive that a `${name}` of the command needs would only fail."""
        super().check_files()
        ran = {int(record["run_id"]) for record in self.group.records()}
        for number, row in enumerate(self.design[: self.budget], start=1):
            unfilled = [name for name in self.call.conditional_templates if name not in row]
            if unfilled and number not in ran:
                sampled = self.source.sample is not None
                raise InputError(
                    None if sampled else self.source.csv or self.group.layout.design,
                    None,
                    f"row {number} of the design ({format_config(row)}) leaves"
                    f" {', '.join(unfilled)} inactive, and the command's"
                    f" {', '.join(f'${{{name}}}' for name in unfilled)} needs a value: its run"
                    " could only fail; pass the parameter as a flag instead (an inactive one is"
                    " left out)" + ("" if sampled else ", or drop the row"),
                )

    def _check_rows_that_ran(self, path: Path) -> None:
        """InputError when a row of the design (its saved design.csv, edited) is not what its
        run ran: run k is row k, so a row inserted before the end would never run, and the
        results would name values their runs never had. Rows added at the end run."""
        for record in self.group.records():
            row = int(record["run_id"])
            if row > len(self.design) or not same_config(record["config"], self.design[row - 1]):
                raise InputError(
                    path,
                    None,
                    f"row {row} of the design is not what run {record['run_id']} ran"
                    f" ({format_config(record['config'])}): the rows that ran must stay as they"
                    " are; add new rows at the end, or run them as a design of their own",
                )

    def _refuse_another_kind(self) -> None:
        """InputError for the rungroup of a SMAC launch: a design there would take its runs
        for its first rows, which would never run."""
        group = self.group
        if not group.layout.design.exists() and not group.holds_nothing():
            raise InputError(
                group.path,
                None,
                "holds runs but no design.csv (a SMAC launch's, or a design whose design.csv"
                " is gone): a design there would count them as its first rows; choose another"
                " --outdir or --set rungroup=NAME",
            )

    def _run_budget_text(self) -> str:
        if self.budget < self.rows:  # runcount_limit caps it
            return super()._run_budget_text()
        return f"the design's {counted(self.rows, 'row')}"

    def _run_budget_used(self, limit: int, claimed: int) -> str:
        """As a launch's, but a design whose every row has run says so: its run budget is its
        rows, which no runcount_limit raises."""
        if self.budget < self.rows:  # runcount_limit caps it: raising the limit helps
            return super()._run_budget_used(limit, claimed)
        return f"every row of the design ({counted(self.rows, 'row')}) has run: nothing is left"

    def _used_up(self) -> list[tuple[str, str]]:
        """As a launch's; a design whose every row has run ended as its workers say it."""
        finished = self.budget >= self.rows
        return [
            ("design finished" if finished and why == RUN_BUDGET_USED else why, warning)
            for why, warning in super()._used_up()
        ]

    def _ended(self) -> list[str]:
        """As a launch's; when the budget-limit ended the design, the rows not run are named
        once (from the records: each worker stopped before a row of its own)."""
        lines = super()._ended()
        if not any(DESIGN_BUDGET_USED in line for line in lines):
            return lines
        ran = {int(record["run_id"]) for record in self.group.records()}
        left = [str(row) for row in range(1, self.budget + 1) if row not in ran]
        if not left:
            return lines
        shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        return [
            *lines,
            f"not run: {'row' if len(left) == 1 else 'rows'} {shown} of the design's"
            f" {self.rows}; a resume with a larger budget-limit runs them",
        ]

    def prepare(self) -> None:
        """As a launch; then save the design, which marks the rungroup as a design for
        its workers (also ones started by hand with `smac-bridge worker`)."""
        super().prepare()
        write_design(self.design, self.group.layout.design, self.names)
        self._warn_of_another_seed_offset()

    def _warn_of_another_seed_offset(self) -> None:
        """Row k runs with seed seed-offset + k (a non-deterministic scenario): a resume at
        another --seed-offset gives the rows left seeds the earlier rows' offset would not
        have, which the user should hear of, as replicates are told apart by their seeds."""
        if self.scenario.deterministic:
            return
        offset = self.scenario.seed_offset
        records = self.group.records()
        seeded = [r for r in records if int(r["seed"]) > 0]  # not a deterministic session's
        earlier = {int(r["seed"]) - int(r["run_id"]) for r in seeded} - {offset}
        ran = {int(r["run_id"]) for r in records}
        if not earlier or len(ran) >= self.budget:
            return
        print(
            f"warning: the rows that ran in {self.group.path} got their seeds from"
            f" --seed-offset {', '.join(map(str, sorted(earlier)))} (seed = offset + row), the"
            f" rows left get theirs from --seed-offset {offset}; resume with --seed-offset"
            f" {min(earlier)} to keep the earlier one",
            file=sys.stderr,
            flush=True,
        )
