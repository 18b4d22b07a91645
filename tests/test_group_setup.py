"""The search space and failure quality of a rungroup, read back from its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smac_bridge.algo_call import script_call
from smac_bridge.errors import InputError
from smac_bridge.group_setup import read_setup
from smac_bridge.pcs import parse_pcs
from smac_bridge.rundata import RunGroup
from smac_bridge.scenario import Scenario

PCS = "lr [1e-4, 1e-1] [1e-2]l\nlayers integer [1, 4] [2]\nact categorical {relu, tanh} [relu]\n"


@pytest.mark.parametrize(
    ("algo", "expected"),
    [
        ('smac-bridge wrap --cmd "python t.py" --failure-quality 1.0', 1.0),
        ('smac-bridge wrap --failure-quality=0.5 --cmd "python t.py"', 0.5),
        # the training command's own flag of that name is not the wrapper's
        ('smac-bridge wrap --cmd "python t.py --failure-quality 7"', 1e9),
        ("python -m smac_bridge.cli wrap --cmd train.py", 1e9),
        ("python my_wrapper.py --failure-quality 3", None),
    ],
)
def test_the_wrappers_failure_quality_comes_from_the_algo_line(algo, expected):
    scenario = Scenario(algo=algo, run_obj="quality", paramfile=Path("space.pcs"))
    assert script_call(scenario, parse_pcs(PCS)).failure_quality == expected


def test_an_unreadable_algo_line_is_an_input_error():
    scenario = Scenario(
        algo='smac-bridge wrap --cmd "unclosed', run_obj="quality", paramfile=Path("s")
    )
    with pytest.raises(InputError, match="unbalanced double quote"):
        script_call(scenario, parse_pcs(PCS))


def launched_group(root: Path, pcs_text: str = PCS) -> RunGroup:
    """A rungroup whose scenario names its PCS relative to the launch folder, as the shipped
    scenarios do, with one finished run whose wrapper ran in that folder."""
    project = root / "project"
    (project / "pcs").mkdir(parents=True)
    (project / "scenarios").mkdir()
    (project / "pcs" / "space.pcs").write_text(pcs_text)
    scenario = project / "scenarios" / "task.txt"
    scenario.write_text(
        'algo = smac-bridge wrap --cmd "python train.py" --failure-quality 1.0\n'
        "execdir = .\nparamfile = pcs/space.pcs\nrun_obj = quality\nruncount_limit = 4\n"
    )
    group = RunGroup(root / "out" / "task")
    group.create()
    group.write_launch_info({"scenario": str(scenario), "overrides": {}, "budget": 4})
    record = {"run_id": "00001", "worker": 1, "config": {"lr": 0.01}, "status": "SAT"}
    run = {**record, "quality": 0.1, "cost": 0.1, "instance": "i", "seed": -1, "ended": 1.0}
    group.append_record(1, run)
    group.run("00001").path.mkdir(parents=True)
    command = {"argv": ["python", "train.py"], "cwd": str(project), "env_added": {}}
    group.run("00001").command.write_text(json.dumps(command))
    return group


def test_the_space_is_found_from_the_runs_working_directory(tmp_path, monkeypatch):
    group = launched_group(tmp_path)
    monkeypatch.chdir(tmp_path)  # not the launch folder: pcs/space.pcs is not here
    setup = read_setup(group)
    assert setup.problem is None and setup.space is not None
    assert setup.space["lr"].log and setup.space["layers"].lower == 1
    assert setup.default_config() == {"lr": 0.01, "layers": 2, "act": "relu"}
    types = {name: type(value) for name, value in setup.default_config().items()}
    assert types == {"lr": float, "layers": int, "act": str}  # as JSON records hold them
    assert setup.failure_quality == 1.0


def test_the_objective_and_the_options_the_launch_set_are_read_back(tmp_path):
    """The plots and the report of a runtime scenario draw each run's PAR-k cost, not its
    quality; an option given to the launch (`--set`) is the scenario's as much as its file's."""
    group = launched_group(tmp_path)
    assert read_setup(group).run_obj == "quality"
    scenario = group.launch_info()["scenario"]
    overrides = {"run_obj": "runtime", "cutoff_time": "5", "algo": "python train.py"}
    group.write_launch_info({"scenario": scenario, "overrides": overrides, "budget": 4})
    setup = read_setup(group)
    assert setup.problem is None and setup.run_obj == "runtime"
    assert setup.failure_quality is None  # not smac-bridge's wrapper: no quality of its own


def test_the_rungroups_own_space_outlives_an_edit_or_a_move_of_the_projects_pcs(tmp_path):
    """The plots of an earlier rungroup changed when the user edited the project's PCS file
    for a new launch (a category its runs never had, a log axis made linear), and guessed
    the kinds once the project folder moved: its own space.pcs, as launched, now holds."""
    group = launched_group(tmp_path)
    group.layout.space.write_text(PCS)  # as a launch writes it
    edited = PCS.replace("[1e-2]l", "[1e-2]").replace("{relu, tanh}", "{relu, tanh, elu}")
    (tmp_path / "project" / "pcs" / "space.pcs").write_text(edited)
    setup = read_setup(group)
    assert setup.problem is None and setup.failure_quality == 1.0
    assert setup.space is not None and setup.space["lr"].log
    assert list(setup.space["act"].choices) == ["relu", "tanh"]
    (tmp_path / "project").rename(tmp_path / "moved")
    group.write_launch_info({**group.launch_info(), "run_obj": "quality"})
    setup = read_setup(group)
    assert setup.problem is None and setup.space is not None and setup.space["lr"].log
    assert setup.default_config() == {"lr": 0.01, "layers": 2, "act": "relu"}
    assert setup.failure_quality is None  # the algo line moved with the scenario
    # an older smac-bridge noted the algo, not the failure quality: its timeouts that reported
    # nothing showed as partial qualities of 1
    algo = 'smac-bridge wrap --failure-quality 1.0 --cmd "python train.py"'
    group.write_launch_info({**group.launch_info(), "algo": algo})
    assert read_setup(group).failure_quality == 1.0
    # a launch notes it: a TIMEOUT at the failure quality showed as a partial quality
    group.write_launch_info({**group.launch_info(), "failure_quality": 1.0})
    assert read_setup(group).failure_quality == 1.0


def test_what_the_launch_noted_outlives_an_edit_of_the_scenario_file(tmp_path):
    """A user edited the scenario for their next rungroup (another --failure-quality, another
    objective): the earlier rungroup's timeouts turned into partial qualities, and its plot
    into one of PAR-k costs, though launch.json noted what its launch ran with."""
    group = launched_group(tmp_path)
    info = {**group.launch_info(), "run_obj": "quality", "failure_quality": 1.0}
    group.write_launch_info(info)
    scenario = Path(info["scenario"])
    edited = scenario.read_text().replace("1.0", "2.0").replace("= quality", "= runtime")
    scenario.write_text(edited + "cutoff_time = 5\n")
    setup = read_setup(group)
    assert (setup.problem, setup.run_obj, setup.failure_quality) == (None, "quality", 1.0)


def test_a_moved_pcs_is_a_problem_not_an_error(tmp_path):
    group = launched_group(tmp_path)
    (tmp_path / "project" / "pcs" / "space.pcs").unlink()
    setup = read_setup(group)
    assert setup.space is None and setup.default_config() is None
    assert "space.pcs" in setup.problem and "not found" in setup.problem


def test_a_rungroup_without_launch_json(tmp_path):
    group = RunGroup(tmp_path / "out" / "task")
    group.create()
    setup = read_setup(group)
    assert setup.space is None and setup.failure_quality is None
    assert "names no scenario file" in setup.problem
