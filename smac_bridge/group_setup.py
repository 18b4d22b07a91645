"""What a rungroup was launched with, read back for plots and the report: the search space
(parameter kinds for the axes, the default configuration) and the wrapper's failure quality.

Only `launch.json` lives with the runs. It names the scenario file, whose `paramfile` and
`algo` hold the rest; relative paths in it are found from the trials' working directory (the
scenario's `execdir`) or from here, as at launch time. When the files have moved or cannot be
read, `problem` says why, and callers infer what they can from the runs themselves.
"""

from __future__ import annotations

import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

from ConfigSpace import ConfigurationSpace

from smac_bridge.errors import InputError
from smac_bridge.protocol import CRASHED_QUALITY
from smac_bridge.rundata import RunGroup, run_command


@dataclass(frozen=True)
class GroupSetup:
    """The search space and failure quality of a rungroup; None where they are unknown."""

    space: ConfigurationSpace | None = None
    failure_quality: float | None = None
    problem: str | None = None

    def default_config(self) -> dict[str, object] | None:
        """The PCS defaults of the active parameters, as a run record's `config` holds them."""
        if self.space is None:
            return None
        default = self.space.get_default_configuration()
        return {name: _plain(value) for name, value in default.items()}


def read_setup(group: RunGroup) -> GroupSetup:
    """The setup of GROUP from its launch.json, the scenario file and the PCS file it names."""
    from smac_bridge.pcs import read_pcs
    from smac_bridge.scenario import read_scenario

    info = group.launch_info()
    if not info.get("scenario"):
        return GroupSetup(problem=f"{group.path / 'launch.json'} names no scenario file")
    problem = "no working directory to look in"
    for folder in _search_folders(group):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scenario = read_scenario(info["scenario"], info.get("overrides"), cwd=folder)
            space = read_pcs(scenario.paramfile).space
        except InputError as error:
            problem = f"cannot read the search space: {error}"
            continue
        return GroupSetup(space, wrapper_failure_quality(scenario.algo))
    return GroupSetup(problem=problem)


def wrapper_failure_quality(algo: str) -> float | None:
    """The `--failure-quality` a `smac-bridge wrap` algo line gives its runs (1e9 when it gives
    none); None for another algo, whose failure quality only its runs can tell."""
    try:
        words = shlex.split(algo)
    except ValueError:
        return None
    if "wrap" not in words:
        return None
    for word, after in zip(words, [*words[1:], ""], strict=True):
        text = after if word == "--failure-quality" else None
        if word.startswith("--failure-quality="):
            text = word.partition("=")[2]
        if text is not None:
            try:
                return float(text)
            except ValueError:
                return None
    return CRASHED_QUALITY


def _search_folders(group: RunGroup) -> list[Path]:
    """Where the launch may have run: a trial's working directory, then the current one."""
    folders = []
    for record in group.records()[:1]:
        command = run_command(group, record["run_id"]) or {}
        if command.get("cwd"):
            folders.append(Path(command["cwd"]))
    return [*folders, Path.cwd()]


def _plain(value: object) -> object:
    """ConfigSpace's numpy scalars as the int, float or str that JSON records hold."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
