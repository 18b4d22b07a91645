"""`smac-bridge check`: read scenario and PCS files the way a launch would, and summarise them.

Every file is checked even when an earlier one fails, so one call lists every problem; the
summary shows what smac-bridge understood (types, ranges, defaults, conditions, forbiddens),
which is where a misread PCS line becomes visible before hours of training are spent.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

from ConfigSpace import (
    CategoricalHyperparameter,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from rich.console import Console
from rich.table import Table

from smac_bridge.errors import InputError
from smac_bridge.pcs import SearchSpace, format_condition, format_forbidden, read_pcs

_KEY = re.compile(r"\s*([^\s=:]+)\s*(?P<separator>[=:]|\s)")


def looks_like_scenario(path: Path) -> bool:
    """A `.pcs` file is a PCS file; otherwise a file setting `algo` or `paramfile` is a scenario."""
    if path.suffix.lower() == ".pcs":
        return False
    from smac_bridge.scenario import KEYS

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return False  # the PCS reader reports the unreadable file
    for line in lines:
        match = _KEY.match(line)
        if match is None or KEYS.get(match[1]) not in ("algo", "paramfile"):
            continue
        # `algo {a, b} [a]` is a PCS declaration of a parameter named algo, not a scenario key.
        if match["separator"] in "=:" or not re.search(r"[\[{|]", line):
            return True
    return False


def _kind(hp: object) -> str:
    if isinstance(hp, UniformIntegerHyperparameter):
        return "integer"
    if isinstance(hp, UniformFloatHyperparameter):
        return "real"
    if isinstance(hp, OrdinalHyperparameter):
        return "ordinal"
    if isinstance(hp, CategoricalHyperparameter):
        return "categorical"
    return type(hp).__name__


def _domain(hp: object) -> str:
    if isinstance(hp, OrdinalHyperparameter):
        return "{" + ", ".join(map(str, hp.sequence)) + "}"
    if isinstance(hp, CategoricalHyperparameter):
        return "{" + ", ".join(map(str, hp.choices)) + "}"
    if isinstance(hp, UniformIntegerHyperparameter | UniformFloatHyperparameter):
        return f"[{hp.lower}, {hp.upper}]"
    return ""


def summarise_space(space: SearchSpace, console: Console) -> None:
    """Print the parameters, conditions and forbidden clauses as smac-bridge understood them."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("parameter", "type", "range / values", "default", "log"):
        table.add_column(column)
    for hp in space.space.values():
        log = "log" if getattr(hp, "log", False) else ""
        table.add_row(hp.name, _kind(hp), _domain(hp), str(hp.default_value), log)
    console.print(table)
    lines = [line for c in space.space.conditions for line in format_condition(c, "new")]
    if lines:
        console.print("conditions:")
        for line in lines:
            console.print(f"  {line}")
    forbidden = [format_forbidden(clause) for clause in space.space.forbidden_clauses]
    forbidden += ["{ " + expression.text + " }" for expression in space.expressions]
    if forbidden:
        console.print("forbidden:")
        for line in forbidden:
            console.print(f"  {line}")


def _check_pcs(path: Path, console: Console) -> None:
    space = read_pcs(path)
    count = len(space.space)
    console.print(f"{path}: PCS file, {count} parameter{'s' if count != 1 else ''}", style="bold")
    summarise_space(space, console)


def _check_scenario(path: Path, console: Console, err: Console) -> None:
    from smac_bridge.instances import read_features, read_instances
    from smac_bridge.scenario import read_scenario

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario = read_scenario(path)
    for warning in caught:
        err.print(f"warning: {warning.message}")
    console.print(f"{path}: scenario file", style="bold")
    console.print(f"  algo: {scenario.algo}")
    console.print(f"  run_obj: {scenario.run_obj}  paramfile: {scenario.paramfile}")
    training: list[str] = []
    for label, instance_file in (
        ("instances", scenario.instance_file),
        ("test instances", scenario.test_instance_file),
    ):
        if instance_file is not None:
            instances = read_instances(instance_file)
            if label == "instances":
                training = [instance.name for instance in instances]
            console.print(f"  {label}: {len(instances)} in {instance_file}")
    if scenario.feature_file is not None:
        # SMAC 2.10 needs a feature row for every training instance.
        features = read_features(scenario.feature_file, training)
        console.print(f"  features: {len(features)} rows in {scenario.feature_file}")
    _check_pcs(scenario.paramfile, console)


def check_files(
    paths: Sequence[Path], console: Console | None = None, err: Console | None = None
) -> int:
    """Check each file (scenario or PCS); print a summary or the error; 0 if all are fine."""
    console = console or Console(markup=False, highlight=False, soft_wrap=True)
    err = err or Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
    failed = 0
    for path in paths:
        try:
            if looks_like_scenario(path):
                _check_scenario(path, console, err)
            else:
                _check_pcs(path, console)
        except InputError as error:
            err.print(f"error: {error}")
            failed += 1
            continue
        console.print(f"{path}: OK", style="green")
    if len(paths) > 1:
        console.print(f"{len(paths) - failed} of {len(paths)} files OK")
    return 1 if failed else 0
