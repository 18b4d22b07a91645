"""Designs of experiments: a fixed list of configurations to run instead of SMAC's proposals.

A design is a list of configurations (dicts of typed values; inactive parameters absent),
either drawn at random from the search space (`monte_carlo`) or read from a CSV file
(`read_design`), which is checked row by row against the space as strictly as a PCS file is:
a design row that SMAC could never propose would make results that no later launch can use.
`smac-bridge doe` (doe.py) saves the design in the rungroup, where the workers read it.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ConfigSpace import (
    Configuration,
    Constant,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.exceptions import ActiveHyperparameterNotSetError, InactiveHyperparameterSetError
from ConfigSpace.hyperparameters import Hyperparameter

from smac_bridge.errors import InputError, decode_text, refuse_device
from smac_bridge.layout import GroupLayout, write_text_once
from smac_bridge.pcs import (
    SearchSpace,
    choices_of,
    format_forbidden,
    plain_value,
    plain_values,
    read_pcs,
    rounded_real,
    write_pcs,
)
from smac_bridge.protocol import DECIMAL
from smac_bridge.records import RunRecord
from smac_bridge.scenario import INITIAL_DESIGNS, Scenario

Design = list[dict[str, Any]]
DESIGN_BUDGET_USED = "budget-limit used up before the design's last row"
"""Why a design's worker ended; the design's launch names the rows not run (doe.py)."""


def monte_carlo(space: SearchSpace, n: int, seed: int, distinct: bool = False) -> Design:
    """`n` random configurations allowed by every forbidden clause, reproducible by `seed`.

    DISTINCT (a deterministic scenario, where a repeat measures nothing new) drops repeats and
    draws more in their place, 10 n at a time, until a draw of 10 n finds no new one: fewer
    than `n` rows then means a space that holds few more, if any (a rare value of a small
    log-scaled integer may still be missed).
    """
    if n < 1:
        raise InputError(None, None, f"--sample must be at least 1, got {n}")
    rows = [plain_values(config) for config in space.sample(n, seed)]
    if not distinct:
        return rows
    unique: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    while True:
        found = len(unique)
        for row in rows:
            unique.setdefault(tuple(sorted(row.items())), row)
        if len(unique) >= n or len(unique) == found:
            return list(unique.values())[:n]
        seed = (seed + 1) % 2**32  # SMAC3 takes seeds up to 2^32 - 1
        rows = [plain_values(config) for config in space.sample(10 * n, seed)]


# ---------------------------------------------------------------------------- reading a CSV


def _expected(hp: Hyperparameter) -> str:
    """What a cell of this parameter's column must hold, for error messages."""
    if isinstance(hp, UniformFloatHyperparameter):
        return f"a real in [{hp.lower!r}, {hp.upper!r}]"
    if isinstance(hp, UniformIntegerHyperparameter):
        return f"an integer in [{hp.lower}, {hp.upper}]"
    choices = choices_of(hp)
    if choices is not None:
        return "one of {" + ", ".join(str(c) for c in choices) + "}"
    if isinstance(hp, Constant):
        return f"the constant {hp.value}"
    return f"a value of {type(hp).__name__}"


def _number(text: str) -> float:
    if not DECIMAL.fullmatch(text):
        raise ValueError(text)
    return float(text)


def _parse_cell(hp: Hyperparameter, text: str) -> Any:
    """The typed value of a non-empty cell, a real rounded as ConfigSpace will round it (the
    conditions must judge what the run gets); ValueError when it is not a legal value."""
    if isinstance(hp, UniformFloatHyperparameter):
        value = rounded_real(_number(text))
        if not math.isfinite(value) or not hp.lower <= value <= hp.upper:
            raise ValueError(text)
        return value
    if isinstance(hp, UniformIntegerHyperparameter):
        number = _number(text)  # "3.0" as a spreadsheet may write it
        if not number.is_integer() or not hp.lower <= number <= hp.upper:
            raise ValueError(text)
        return int(number)
    choices = choices_of(hp) or ((hp.value,) if isinstance(hp, Constant) else ())
    for choice in choices:
        if str(choice) == text:
            return plain_value(choice)
    for choice in choices:  # the same letters, composed otherwise (a spreadsheet's é as e + ́)
        if unicodedata.normalize("NFC", str(choice)) == unicodedata.normalize("NFC", text):
            return plain_value(choice)
    raise ValueError(text)


def _active(space: SearchSpace, name: str, values: Mapping[str, Any]) -> bool:
    """True when every condition on `name` holds for `values` (parents decided before)."""
    for condition in space.space.parent_conditions_of[name]:
        try:
            if not condition.satisfied_by_value(dict(values)):
                return False
        except (KeyError, ValueError, TypeError):  # a parent is inactive itself
            return False
    return True


def _check_row(
    space: SearchSpace,
    columns: Sequence[str],
    cells: Sequence[str],
    where: tuple[Path, int],
    label: str = "column",
) -> dict[str, Any]:
    """One CSV row as a configuration, or InputError naming the column (LABEL) and what was
    expected."""
    path, line = where
    raw = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
    values: dict[str, Any] = {}
    for hp in space.space.values():  # topological order: parents come before their children
        text = raw[hp.name]
        if not _active(space, hp.name, values):
            if text:
                raise InputError(
                    path, line, f"{label} {hp.name!r}: must be empty (inactive here), got {text!r}"
                )
            continue
        if not text:
            raise InputError(
                path, line, f"{label} {hp.name!r}: expected {_expected(hp)} (active here), got ''"
            )
        try:
            values[hp.name] = _parse_cell(hp, text)
        except ValueError:
            raise InputError(
                path, line, f"{label} {hp.name!r}: expected {_expected(hp)}, got {text!r}"
            ) from None
    for clause in space.space.forbidden_clauses:
        try:
            forbidden = clause.is_forbidden_value(values)
        except (KeyError, ValueError, TypeError):  # names an inactive parameter
            forbidden = False
        if forbidden:
            raise InputError(
                path, line, f"the configuration is forbidden by {format_forbidden(clause)}"
            )
    for expression in space.expressions:
        if expression.is_forbidden(values):
            raise InputError(
                path, line, "the configuration is forbidden by { " + expression.text + " }"
            )
    try:
        config = Configuration(space.space, values=values)
    except (ValueError, KeyError) as error:  # what the checks above missed, in ConfigSpace words
        raise InputError(path, line, f"not a configuration of the space: {error}") from None
    # as the run gets them: ConfigSpace rounds reals (to 13 decimals), and the saved design
    # must say what each run ran
    return {name: plain_value(config[name]) for name in values}


def _unquoted(word: str) -> str:
    """WORD without one pair of single or double quotes around it."""
    quoted = len(word) >= 2 and word[0] == word[-1] and word[0] in "'\""
    return word[1:-1] if quoted else word


def read_configuration(text: str, space: SearchSpace, where: tuple[Path, int | None]) -> dict:
    """A configuration written as SMAC 2.10 writes one (`-x '0.5' -opt 'adam'`, the scenario's
    `initial-incumbent`), checked as a design row is; an active parameter it leaves out takes
    its default."""
    path, line = where
    # PCS values hold no blanks: the words are the blanks' pieces, each value in one pair of
    # quotes or none, as SMAC writes it, so that `-opt 'a'b'` and `-opt a\b` are `a'b`, `a\b`
    words = [_unquoted(word) for word in text.split()]
    names = [word[1:] for word in words[::2]]
    if len(words) % 2 or not all(word.startswith("-") for word in words[::2]):
        raise InputError(
            path, line, f"initial-incumbent: expected -name 'value' pairs, got {text!r}"
        )
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise InputError(
            path,
            line,
            f"initial-incumbent: expected each parameter once, got -{repeated[0]} more than once",
        )
    given = dict(zip(names, words[1::2], strict=True))
    known = list(space.space)
    for name in given:
        if name not in known:
            raise InputError(
                path,
                line,
                f"initial-incumbent: unknown parameter {name!r}; parameters: " + ", ".join(known),
            )
    values: dict[str, Any] = {}
    cells = []
    for hp in space.space.values():  # topological order: parents come before their children
        text_value = given.get(hp.name)
        if text_value is None and _active(space, hp.name, values):
            text_value = str(plain_value(hp.default_value))
        cells.append(text_value or "")
        try:
            if text_value:
                values[hp.name] = _parse_cell(hp, text_value)
        except ValueError:
            pass  # _check_row says what was expected
    try:
        return _check_row(space, list(space.space.keys()), cells, (path, line or 0), "parameter")
    except InputError as error:
        raise InputError(path, line, f"initial-incumbent: {error.message}") from None


def initial_configuration(scenario: Scenario, space: SearchSpace) -> dict[str, Any] | None:
    """The scenario's `initial-incumbent` when it is a configuration (else None), checked."""
    if scenario.initial_incumbent in INITIAL_DESIGNS:
        return None
    where = scenario.path or Path("the scenario"), scenario.source_lines.get("initial_incumbent")
    return read_configuration(scenario.initial_incumbent, space, where)


def _column_name(cell: str, names: Sequence[str]) -> str:
    """The parameter of NAMES a header CELL names, composed otherwise too (a spreadsheet's é
    as e + ́, which `unknown column 'é'` named as if it were the same); else CELL."""
    if cell in names:
        return cell
    composed = unicodedata.normalize("NFC", cell)
    return next((name for name in names if unicodedata.normalize("NFC", name) == composed), cell)


def read_design(path: str | Path, space: SearchSpace) -> Design:
    """The rows of a design CSV (header: parameter names) as configurations, each checked."""
    path = Path(path)
    refuse_device(path, "the design")
    try:
        text = decode_text(path, path.read_bytes(), "the design")
    except OSError as error:
        raise InputError(path, None, f"cannot read the design: {error}") from None
    # a comment line (`# ...`, as numpy and pandas skip them) reads as a blank one, so that
    # line numbers stay those of the file
    lines = ["\n" if line.lstrip().startswith("#") else line for line in text.splitlines(True)]
    reader = csv.reader(lines)
    header: list[str] | None = []
    while header is not None and not any(cell.strip() for cell in header):  # blank lines
        header = _next_row(reader, path, reader.line_num + 1)
    if header is None:
        raise InputError(path, 1, "expected a header line of parameter names")
    at = reader.line_num
    names = [hp.name for hp in space.space.values()]
    _check_separator(header, names, (path, at))
    columns = [_column_name(cell.strip(), names) for cell in header]
    if "" in columns:  # `unknown column ''` said nothing of where it came from
        hint = " (a trailing comma?)" if not columns[-1] else ""
        raise InputError(path, at, f"the header has an empty column name{hint}")
    for column in columns:
        if column not in names:
            raise InputError(path, at, f"unknown column {column!r}; parameters: {', '.join(names)}")
        if columns.count(column) > 1:
            raise InputError(path, at, f"column {column!r} appears twice")
    missing = [name for name in names if name not in columns]
    if missing:
        raise InputError(path, at, f"missing columns: {', '.join(missing)}")
    design: Design = []
    while True:
        line = reader.line_num + 1  # where the row starts: a quoted cell may span lines
        cells = _next_row(reader, path, line)
        if cells is None:
            break
        if not any(cell.strip() for cell in cells):
            continue
        hint = ""
        if _unclosed_quote(lines[line - 1 : reader.line_num]):
            hint = f' (a quoted cell runs on to line {reader.line_num}: a missing closing "?)'
        if len(cells) != len(columns):
            message = f"expected {len(columns)} cells, got {len(cells)}"
            raise InputError(path, line, message + hint)
        try:
            design.append(_check_row(space, columns, cells, (path, line)))
        except InputError as error:  # one column: the unclosed cell has the right count
            raise InputError(error.path, error.line, error.message + hint) from None
        if hint:  # the last cell of the last row: its value read well, the file's end with it
            raise InputError(path, line, "the quoted last cell is never closed" + hint)
    if not design:
        raise InputError(path, None, "the design has no rows")
    return design


def _check_separator(header: Sequence[str], names: Sequence[str], where: tuple[Path, int]) -> None:
    """Refuse a header that is one column holding `;` or a tab when the space has several
    parameters: a spreadsheet of a European locale writes `;` between cells, which read as
    one column named `lr;layers;optimizer`, unknown."""
    if len(header) != 1 or len(names) < 2:
        return
    for separator, shown in ((";", "';'"), ("\t", "tabs")):
        if separator in header[0]:
            raise InputError(
                *where,
                f"the file seems to be separated by {shown}: a design's columns are"
                " separated by commas",
            )


def _unclosed_quote(row_lines: Sequence[str]) -> bool:
    """Whether a row's lines end inside a quoted cell: a quote left open takes in the rest
    of the file, which a value spread over lines on purpose does not (nor does a closed one
    with text after it, which the strict reader refuses for another reason)."""
    try:
        list(csv.reader(row_lines, strict=True))
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _next_row(reader: Iterator[list[str]], path: Path, line: int) -> list[str] | None:
    """The next row of a design, None at its end; a row the csv module cannot read at all
    (a quote left open over more than its cell limit) as an InputError at LINE."""
    try:
        return next(reader, None)
    except csv.Error as error:
        hint = 'a quoted cell runs on from here: a missing closing "?'
        raise InputError(path, line, f"cannot read the row ({error}; {hint})") from None


def write_design(
    configs: Sequence[Mapping[str, Any]], path: str | Path, names: Sequence[str] | None = None
) -> None:
    """Write a design CSV that `read_design` reads back to the same values (floats exactly).

    Columns: `names` (e.g. the space's parameters) or every name used, in order of first use;
    an inactive parameter's cell is empty.
    """
    if names is None:
        names = list(dict.fromkeys(name for config in configs for name in config))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for config in configs:
            writer.writerow([_cell(config.get(name)) for name in names])
    tmp.replace(path)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def saved_design(layout: GroupLayout, paramfile: str | Path) -> Design | None:
    """The design of a rungroup that `smac-bridge doe` made (None for an optimisation)."""
    path = layout.design
    if not path.exists():
        return None
    return read_design(path, read_pcs(paramfile))


def check_saved_space(
    layout: GroupLayout, paramfile: str | Path, records: Sequence[RunRecord] = ()
) -> None:
    """The runs of a rungroup were made in the search space saved beside them: a launch that
    resumes it, or a worker that joins it, must search that space, since every worker replays
    their configurations to its model. Compared as written back, so comments and layout of
    the PCS file may change; InputError otherwise. Without a saved space (removed), each of
    RECORDS must be a configuration of PARAMFILE's."""
    saved = layout.space
    if not saved.exists():
        _check_records_fit(layout, paramfile, records)
        return
    try:
        then_space = read_pcs(saved)
        then = write_pcs(then_space)  # as written back: a copy of the user's file fits too
    except InputError as error:  # the user's PCS file is not what is wrong
        raise InputError(
            saved,
            error.line,
            f"{error.message}: the search space saved beside the runs is damaged; write the"
            f" PCS file the runs were made with over it (if it is {paramfile}: cp"
            f" {paramfile} {saved})",
        ) from None
    now_space = read_pcs(paramfile)
    now = write_pcs(now_space)
    if then != now and _comparable(then_space) != _comparable(now_space):
        old_lines = [line for line in then.splitlines() if line.strip()]
        new_lines = [line for line in now.splitlines() if line.strip()]
        gone = [line for line in old_lines if line not in new_lines]
        added = [line for line in new_lines if line not in old_lines]
        differs = (
            "; ".join(
                [f"the runs have '{line}'" for line in gone[:3]]
                + [f"the file has '{line}'" for line in added[:3]]
            )
            or "the same declarations, in another order or number"
        )
        raise InputError(
            paramfile,
            None,
            f"not the search space of the runs in {layout.path} (saved in {saved.name}"
            f" there: {differs}); restore the PCS file to resume, or launch into another"
            " --outdir or --set rungroup=NAME",
        )


def _comparable(space: SearchSpace) -> tuple[list[str], list[str]]:
    """SPACE as `check_saved_space` compares it: its PCS lines, sorted, with the values of a
    condition's `in` set and the pairs of a classic clause sorted, and its expressions by
    their trees, so that how the user spells one space (`in {rms, sgd}`, `layers>5`) does not
    count."""
    expressions = {"{ " + expression.text + " }" for expression in space.expressions}
    lines = []
    for line in write_pcs(space).splitlines():
        if not line.strip() or line in expressions:
            continue
        if line.startswith("{") or " | " in line:  # a clause, a condition: no declared order
            line = _SET.sub(lambda found: "{" + ", ".join(sorted(found[1].split(", "))) + "}", line)
        lines.append(line)
    return sorted(lines), sorted(expression.shape for expression in space.expressions)


_SET = re.compile(r"\{([^{}]*)\}")


def _check_records_fit(
    layout: GroupLayout, paramfile: str | Path, records: Sequence[RunRecord]
) -> None:
    if not records:
        return
    searched = read_pcs(paramfile)
    for record in records:
        try:
            Configuration(searched.space, values=record["config"])
            if searched.is_forbidden(record["config"]):
                raise ValueError("an advanced forbidden clause of the file forbids it")
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(
                paramfile,
                None,
                f"not the search space of the runs in {layout.path} ({layout.space.name}, the"
                f" space saved there, is gone): run {record['run_id']}'s configuration is none"
                f" of this file's ({_misfit(error)}); restore the PCS file to resume, or"
                " launch into another --outdir or --set rungroup=NAME",
            ) from None


def _misfit(error: Exception) -> str:
    """Why a run's configuration is none of a space's, naming the parameter: ConfigSpace's
    message names it only on a second line where a parameter was added or made active."""
    if isinstance(error, ActiveHyperparameterNotSetError):
        return f"it has no value of {error.hyperparameter.name}, which the file declares"
    if isinstance(error, InactiveHyperparameterSetError):
        return f"it sets {error.hyperparameter.name}, which the file's conditions leave inactive"
    return str(error).splitlines()[0]


def save_space(layout: GroupLayout, paramfile: str | Path) -> None:
    """Save the search space beside a new rungroup's runs (check_saved_space reads it), by one
    hard link that never replaces a saved one: of two workers that start a rungroup at the
    same moment with different PCS files, the second is refused, as a resume would be (both
    ran, one of them proposing from a space the runs were not made in)."""
    if layout.space.exists():
        return
    layout.space.parent.mkdir(parents=True, exist_ok=True)
    if not write_text_once(layout.space, write_pcs(read_pcs(paramfile))):
        check_saved_space(layout, paramfile)  # saved meanwhile by another worker: this space?
