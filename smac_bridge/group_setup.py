"""What a rungroup was launched with, read back for plots and the report: the search space
(parameter kinds for the axes, the default configuration) and the wrapper's failure quality.

The search space is the rungroup's own `space.pcs`, as its first launch read it: a later edit
of the project's PCS file, or its move, changes no earlier rungroup's plots. `launch.json`
names the scenario file, whose `algo` holds the failure quality (which launch.json notes too,
for a folder read where that file is not); relative paths in it are found from the trials'
working directory (the scenario's `execdir`) or from here, as at launch time. When the files
have moved or cannot be read, `problem` says why, and callers infer what they can from the
runs themselves.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ConfigSpace import ConfigurationSpace

from smac_bridge.algo_call import script_call
from smac_bridge.errors import InputError
from smac_bridge.layout import read_json_object
from smac_bridge.pcs import SearchSpace, plain_values, read_pcs
from smac_bridge.rundata import RunGroup
from smac_bridge.scenario import read_scenario
from smac_bridge.wrap_options import algo_failure_quality


@dataclass(frozen=True)
class GroupSetup:
    """The search space and failure quality of a rungroup; None where they are unknown."""

    space: ConfigurationSpace | None = None
    failure_quality: float | None = None
    problem: str | None = None
    run_obj: str = "quality"  # runtime: the plots draw each run's cost, a timeout at PAR-k

    def default_config(self) -> dict[str, object] | None:
        """The PCS defaults of the active parameters, as a run record's `config` holds them."""
        if self.space is None:
            return None
        return plain_values(self.space.get_default_configuration())


def read_setup(group: RunGroup) -> GroupSetup:
    """The setup of GROUP from its space.pcs, its launch.json and the scenario file that
    names (or else the PCS file the scenario names). What launch.json noted of the launch
    (its objective, its wrapper's failure quality) wins over the scenario file, which the
    user may have edited since for their next rungroup."""
    saved = _saved_space(group)
    info = group.launch_info()
    run_obj = str(info.get("run_obj") or "quality")  # as the launch noted it
    noted = _noted_failure_quality(info)
    if not info.get("scenario"):
        if saved is not None:
            return GroupSetup(saved.space, noted, run_obj=run_obj)
        return GroupSetup(problem=f"{group.layout.launch} names no scenario file")
    problem = "no working directory to look in"
    for folder in _search_folders(group):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scenario = read_scenario(info["scenario"], info.get("overrides"), cwd=folder)
            space = saved if saved is not None else read_pcs(scenario.paramfile)
            call = script_call(scenario, space)
        except InputError as error:
            problem = f"cannot read the search space: {error}"
            continue
        failure = noted if "failure_quality" in info else call.failure_quality
        return GroupSetup(
            space.space, failure, run_obj=str(info.get("run_obj") or scenario.run_obj)
        )
    if saved is not None:  # the scenario moved (another machine, a moved project)
        return GroupSetup(saved.space, noted, run_obj=run_obj)
    return GroupSetup(failure_quality=noted, problem=problem)


def _noted_failure_quality(info: dict[str, Any]) -> float | None:
    """The wrapper's --failure-quality as the launch noted it; from a launch that did not note
    it (an older smac-bridge's), as its noted algo gives it."""
    if "failure_quality" in info:
        return info["failure_quality"]
    algo = info.get("algo") or (info.get("overrides") or {}).get("algo")
    return algo_failure_quality(algo) if isinstance(algo, str) else None


def _saved_space(group: RunGroup) -> SearchSpace | None:
    """The rungroup's own copy of its search space; None when it has none or it is damaged."""
    try:
        return read_pcs(group.layout.space) if group.layout.space.is_file() else None
    except InputError:
        return None


def _search_folders(group: RunGroup) -> list[Path]:
    """Where the launch may have run: the launcher's working directory (launch.json), a
    trial's, then the current one."""
    launched = group.launch_info().get("cwd")
    folders = [Path(launched)] if launched else []
    for record in group.records()[:1]:
        command = read_json_object(group.run(record["run_id"]).command) or {}
        if command.get("cwd"):
            folders.append(Path(command["cwd"]))
    return [*folders, Path.cwd()]
