"""Instance files (the four SMAC 2.10 layouts) and instance feature files.

SMAC 2.10 reads an instance file as CSV and, failing that, as whitespace-separated columns, and
takes its layout from the first line: `name`, `seed,name`, `name,info` or `seed,name,info`.
Seeds given for a name are used in file order; the instance-specific info defaults to `0`.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smac_bridge.errors import InputError, decode_text, refuse_device, text_lines

_INTEGER = re.compile(r"[+-]?\d+")


def _is_long(cell: str) -> bool:
    """Whether CELL is a seed as Java SMAC reads one: an integer of 64 bits (a longer number
    makes the first cell a name, as there)."""
    return bool(_INTEGER.fullmatch(cell)) and -(2**63) <= int(cell) < 2**63


_WHITESPACE_CELL = re.compile(r'"((?:[^"]|"")*)"|(\S+)')
_LAYOUTS = {
    (1, False): "name",
    (2, True): "seed,name",
    (2, False): "name,info",
    (3, True): "seed,name,info",
}


@dataclass(frozen=True)
class Instance:
    """One instance: its name, its instance-specific info, the seeds given for it (if any)
    and the instance file's line that first lists it (for errors about it)."""

    name: str
    info: str = "0"
    seeds: tuple[int, ...] = ()
    line: int = field(default=0, compare=False)


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of every line; trailing blank lines dropped, inner ones an error."""
    refuse_device(path, "the file")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except (IsADirectoryError, PermissionError) as error:
        raise InputError(path, None, f"cannot read the file: {error}") from None
    text = decode_text(path, data, "the file")
    lines = text_lines(text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputError(path, None, "the file is empty")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise InputError(path, number, "blank line inside the file (SMAC 2.10 rejects it)")
    return list(enumerate(lines, start=1))


def _csv_cells(line: str, path: Path, number: int) -> list[str]:
    """The cells of one line; InputError for a quote that is never closed (it took the rest
    of the line into one cell: `"a.cnf,info` was the instance `a.cnf,info`)."""
    try:
        cells = next(csv.reader([line], strict=True))
    except csv.Error as error:  # other quirks (`"a b" info`, blank-separated) read as before
        if "unexpected end of data" in str(error):
            raise InputError(path, number, f"a double quote is never closed: {line!r}") from None
        cells = next(csv.reader([line]))
    return [cell.strip() for cell in cells]


def _whitespace_cells(line: str) -> list[str]:
    return [quoted.replace('""', '"') or bare for quoted, bare in _WHITESPACE_CELL.findall(line)]


def read_instances(path: str | Path) -> list[Instance]:
    """Read an instance file in any of the four SMAC 2.10 layouts; instances in file order."""
    lines = _read_lines(Path(path))
    rows = [(number, _csv_cells(line, Path(path), number)) for number, line in lines]
    # A single CSV column holding blanks means the file is whitespace-separated (SMAC's fallback).
    if all(len(cells) == 1 for _, cells in rows) and any(
        len(_whitespace_cells(line)) > 1 for _, line in lines
    ):
        rows = [(number, _whitespace_cells(line)) for number, line in lines]

    first = rows[0][1]
    has_seed = len(first) > 1 and _is_long(first[0])
    layout = _LAYOUTS.get((len(first), has_seed))
    if layout is None:
        raise InputError(
            path,
            rows[0][0],
            f"expected name, seed,name, name,info or seed,name,info; got {len(first)} columns"
            " (quote an info that holds commas or blanks)",
        )

    order: list[str] = []
    info: dict[str, tuple[str, int]] = {}
    seeds: dict[str, list[int]] = {}
    for number, cells in rows:
        if len(cells) != len(first) or (has_seed and not _INTEGER.fullmatch(cells[0])):
            raise InputError(path, number, f"expected {layout} like line 1, got {cells!r}")
        if has_seed and not _is_long(cells[0]):
            raise InputError(path, number, f"expected a seed of 64 bits, got {cells[0]}")
        name = cells[1] if has_seed else cells[0]
        text = cells[-1] if layout.endswith("info") else "0"
        if not name:
            raise InputError(path, number, "empty instance name")
        if name in info and not has_seed:
            raise InputError(path, number, f"instance '{name}' listed again (line {info[name][1]})")
        if name in info and info[name][0] != text:
            raise InputError(
                path,
                number,
                f"info {text!r} of '{name}' differs from {info[name][0]!r} (line {info[name][1]})",
            )
        if name not in info:
            order.append(name)
            info[name] = (text, number)
            seeds[name] = []
        if has_seed:
            seeds[name].append(int(cells[0]))
    return [Instance(name, info[name][0], tuple(seeds[name]), info[name][1]) for name in order]


def unused_seeds(
    path: str | Path, instances: Sequence[Instance], deterministic: bool
) -> str | None:
    """A warning when the instance file gives seeds that the calls will not get: with a
    deterministic scenario an instance's calls get its first seed, else SMAC3 chooses."""
    if deterministic:
        if any(len(instance.seeds) > 1 for instance in instances):
            return (
                f"{path}: a deterministic scenario runs each instance once, with its first"
                " seed; the other seeds are not used"
            )
        return None
    if not any(instance.seeds for instance in instances):
        return None
    return (
        f"{path}: the seeds in this instance file are not passed to the target: with"
        " deterministic = false SMAC3 chooses each call's seed (docs/compatibility.md)"
    )


def read_features(
    path: str | Path,
    instances: Sequence[Instance] = (),
    instance_file: str | Path | None = None,
) -> dict[str, dict[str, float]]:
    """Read a feature file: a header row, then `instance,value,...` rows.

    Returns every row (name -> feature -> value). Each of `instances` (read from
    `instance_file`) must have a row; rows for other instances are allowed (one file often
    covers train and test sets). A missing row is named at its instance file's line.
    """
    lines = _read_lines(Path(path))
    header = _csv_cells(lines[0][1], Path(path), lines[0][0])[1:]
    if not header:
        raise InputError(path, 1, "expected a header row: instance column, then feature names")
    seen: set[str] = set()
    for feature in header:
        if not feature or _is_number(feature):
            raise InputError(path, 1, f"feature names must be non-numeric text, got {feature!r}")
        if feature in seen:
            raise InputError(path, 1, f"feature '{feature}' named twice")
        seen.add(feature)

    features: dict[str, dict[str, float]] = {}
    rows: dict[str, int] = {}
    for number, line in lines[1:]:
        cells = _csv_cells(line, Path(path), number)
        if len(cells) != len(header) + 1:
            raise InputError(
                path, number, f"expected an instance name and {len(header)} values, got {cells!r}"
            )
        name = cells[0]
        if name in rows:
            raise InputError(path, number, f"second row for '{name}' (line {rows[name]})")
        values: dict[str, float] = {}
        for feature, cell in zip(header, cells[1:], strict=True):
            if not _is_number(cell) or math.isinf(float(cell)):  # SMAC3's model fails on inf
                raise InputError(
                    path,
                    number,
                    f"{feature}: expected a finite number (nan for a missing value), got {cell!r}",
                )
            values[feature] = float(cell)
        features[name] = values
        rows[name] = number
    missing = [instance for instance in instances if instance.name not in features]
    if missing:
        shown = ", ".join(repr(instance.name) for instance in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            instance_file,
            missing[0].line or None,
            f"no row in the feature file {path} for instance {shown}{more}",
        )
    return features


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
