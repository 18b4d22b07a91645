"""One worker: real SMAC3, real trial processes of a tiny classic target, real files."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import run_cli, smac_bridge_env

from smac_bridge.classic_output import RUNS_HEADER, TRAJ_HEADER, ClassicOutput
from smac_bridge.errors import EXIT_ABORT, EXIT_DONE
from smac_bridge.pcs import read_pcs
from smac_bridge.proposal import Proposal
from smac_bridge.protocol import java_double
from smac_bridge.records import TrialKey, new_record, record_cost, trial_key
from smac_bridge.rundata import RunGroup
from smac_bridge.scenario import read_scenario
from smac_bridge.trials import trial_environment
from smac_bridge.worker import Worker

# A classic target (it prints its own result line). What it does is read from behaviour.json
# in its working directory: {"mode": ok|crash|stderr|abort_at|unsat_at, "sleep": s, "at": n,
# "peer": w, "ignore_term": bool}; with a peer, a trial waits (up to 60 s) until worker w has
# claimed a run, so that a test of two workers sharing runs does not depend on how fast the
# second one starts.
TARGET = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    here = os.getcwd()
    b = json.load(open(os.path.join(here, "behaviour.json")))
    if b.get("peer"):
        slots = Path(os.environ["SMAC_BRIDGE_RUN_DIR"]).parents[1] / "slots"
        deadline = time.time() + 60
        while time.time() < deadline and not any(
            json.loads(p.read_text()).get("worker") == b["peer"] for p in slots.glob("*.claim")
        ):
            time.sleep(0.05)
    os.makedirs(os.path.join(here, "pids"), exist_ok=True)
    open(os.path.join(here, "pids", str(os.getpid())), "w").close()
    with open(os.path.join(here, "calls.log"), "a") as log:
        log.write(json.dumps({"argv": sys.argv[1:], "env": {k: os.environ.get(k, "") for k in (
            "AEATK_CONCURRENT_TASK_ID", "AEATK_EXECUTION_UUID", "SMAC_BRIDGE_RUN_DIR",
            "SMAC_BRIDGE_GPU", "PATH")}}) + "\\n")
    calls = sum(1 for _ in open(os.path.join(here, "calls.log")))
    params = dict(zip(sys.argv[6::2], sys.argv[7::2]))
    x, y = float(params["-x"]), float(params["-y"])
    quality = (x - 1) ** 2 + (y - 2) ** 2
    mode = b["mode"]
    if b.get("ignore_term"):  # a training that takes its grace to stop
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if mode == "abort_at" and calls >= b["at"]:
        print("Result of this algorithm run: ABORT, 0, 0, 0, 0, licence server gone")
        sys.exit(0)
    time.sleep(b.get("sleep", 0.05))
    if mode == "short":
        print("Result of this algorithm run: SAT, 0.05")
        sys.exit(0)
    if mode == "crash":
        print("boom: the target fell over")
        sys.exit(3)
    status = "UNSAT" if mode == "unsat_at" and calls >= b["at"] else "SAT"
    runtime = 0.05 if status == "SAT" else 0.01  # in a runtime scenario the UNSAT run is best
    line = f"Result of this algorithm run: {status}, {runtime}, 0, {quality}, {sys.argv[5]}"
    print(line, file=sys.stderr if mode == "stderr" else sys.stdout)
    """
)


def write_project(
    root: Path,
    *,
    budget: int = 6,
    mode: str = "ok",
    sleep: float = 0.05,
    at: int = 0,
    peer: int | None = None,
    options: str = "",
    pcs: str = "x [-5, 10] [2.5]\ny [0, 15] [7.5]\n",
) -> Path:
    """A scenario in `root` whose algo is the tiny target; returns the scenario path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "target.py").write_text(TARGET)
    behaviour = {"mode": mode, "sleep": sleep, "at": at, "peer": peer}
    (root / "behaviour.json").write_text(json.dumps(behaviour))
    (root / "space.pcs").write_text(pcs)
    scenario = root / "demo.txt"
    scenario.write_text(
        f"algo = {sys.executable} target.py\n"
        f"execdir = {root}\n"
        "paramfile = space.pcs\n"
        "run_obj = quality\n"
        "deterministic = true\n"
        f"runcount_limit = {budget}\n"
        f"outdir = {root / 'out'}\n"
        "shared-model-mode = true\n"
        "shared-model-mode-frequency = 0.01\n" + options
    )
    return scenario


def run_worker(scenario: Path, seed: int = 1, **overrides: str) -> tuple[int, Worker]:
    worker = Worker(read_scenario(scenario, overrides), seed, gpu="7", task_id=3)
    return worker.run(), worker


def first_proposal(scenario: Path) -> tuple[Worker, Proposal, TrialKey]:
    """Worker 1 of SCENARIO, set up, with its first proposal and that trial's key."""
    worker = Worker(read_scenario(scenario), 1)
    worker._setup(read_pcs(worker.scenario.paramfile))
    proposal = worker._ask()
    instance, _, seed = worker._describe(proposal)
    return (
        worker,
        proposal,
        trial_key({"config": proposal.config, "instance": instance, "seed": seed}),
    )


def calls(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "calls.log").read_text().splitlines()]


def test_a_worker_says_cannot_write_only_of_a_file_it_could_not_write(tmp_path):
    """Dask's lost connection (an OSError naming no file) and a missing file were told as
    "cannot write" of the rungroup folder, without the traceback that says what failed."""
    worker = Worker(read_scenario(write_project(tmp_path, budget=1)), 1)
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "runs.jsonl"))
    assert worker._why_failed(full) == f"error: cannot write {full.filename}: {full.strerror}"
    for not_written in (
        OSError("Timed out trying to connect to tcp://10.0.0.1:8786 after 30 s"),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
        FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/train.csv"),
    ):
        try:
            raise not_written
        except OSError as raised:  # as the worker's loop meets it
            said = worker._why_failed(raised)
        assert "cannot write" not in said and said.startswith("Traceback"), said


def test_worker_runs_the_classic_call_and_writes_records_and_smac_files(tmp_path):
    scenario = write_project(tmp_path, budget=5)
    code, worker = run_worker(scenario)
    assert code == EXIT_DONE
    group = RunGroup(tmp_path / "out" / "demo")
    records = group.records()
    assert [r["run_id"] for r in records] == ["00001", "00002", "00003", "00004", "00005"]
    first = records[0]
    assert first["status"] == "SAT" and first["cost"] == first["quality"]
    assert first["seed"] == -1 and first["instance"] == "no_instance" and first["worker"] == 1
    assert {"x", "y"} == set(first["config"])
    assert first["quality"] == pytest.approx(
        (first["config"]["x"] - 1) ** 2 + (first["config"]["y"] - 2) ** 2
    )
    # the classic argv and the environment the target saw
    call = calls(tmp_path)[0]
    assert call["argv"][:5] == ["no_instance", "0", "1.7976931348623157E308", "2147483647", "-1"]
    assert call["argv"][5::2] == ["-x", "-y"]
    env = call["env"]
    assert env["AEATK_CONCURRENT_TASK_ID"] == "3" and env["SMAC_BRIDGE_GPU"] == "7"
    assert env["SMAC_BRIDGE_RUN_DIR"] == str(group.run("00001").path)
    assert env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)
    assert len({c["env"]["AEATK_EXECUTION_UUID"] for c in calls(tmp_path)}) == 5
    # SMAC 2.10 files of the worker
    traj = group.layout.trajectory(1).read_text().splitlines()
    assert traj[0] == ",".join(f'"{c}"' for c in TRAJ_HEADER) + ","
    assert traj[1].startswith(
        '"0.0","1.7976931348623157E308","0.0","1","0.0"," x=\'2.5\', y=\'7.5\'"'
    )
    best = min(r["cost"] for r in records)
    assert float(traj[-1].split('","')[1]) == pytest.approx(best)
    rows = group.layout.runs_and_results(1).read_text().splitlines()
    assert rows[0] == ",".join(RUNS_HEADER) + ","
    assert len(rows) == 6 and rows[1].startswith("1,") and ",SAT," in rows[1]
    # tuner time counts each run at least 0.1 s, as SMAC 2.10's does; the cumulative runtime
    # of runs_and_results is the runtimes' plain sum
    assert {r["runtime"] for r in records} == {0.05}  # the target's own result lines
    assert float(traj[-1].split('","')[0].strip('"')) == pytest.approx(5 * 0.1)
    assert float(rows[-1].split(",")[12]) == pytest.approx(5 * 0.05)
    info = group.worker(1)
    assert info["state"] == "done" and info["runs_done"] == 5 and info["message"]
    assert info["incumbent"]["cost"] == pytest.approx(best)
    assert group.running() == [] and group.claimed() == [r["run_id"] for r in records]


def check_classic_files(group: RunGroup, seed: int, runs: int) -> list[list[str]]:
    """What a reader of SMAC 2.10's files relies on: a runs_and_results row per run of the
    worker, in order; every configuration id named once in paramstrings, as the runs'
    configurations; trajectory rows of 7 cells whose times never go back. The trajectory."""
    layout = group.layout
    ids: dict[int, str] = {}
    for line in layout.paramstrings(seed).read_text().splitlines():
        number, _, text = line.partition(":")
        assert int(number) not in ids, line
        ids[int(number)] = text
    assert len(set(ids.values())) == len(ids)
    records = [r for r in group.records() if r["worker"] == seed]
    rows = list(csv.reader(layout.runs_and_results(seed).open()))
    assert rows[0] == [*RUNS_HEADER, ""] and len(records) == runs
    assert [int(row[0]) for row in rows[1:]] == list(range(1, runs + 1))
    for record, row in zip(records, rows[1:], strict=True):
        config = record["config"]
        assert (
            ids[int(row[1])] == f" x='{java_double(config['x'])}', y='{java_double(config['y'])}'"
        )
    traj = list(csv.reader(layout.trajectory(seed).open()))
    assert traj[0] == [*TRAJ_HEADER, ""] and all(len(row) == 8 for row in traj)
    for row in traj[1:]:
        assert ids[int(row[3])] == row[5]
    for column in (0, 2, 4):  # tuner time, wall clock, the configurator's CPU time
        times = [float(row[column]) for row in traj[1:]]
        assert times == sorted(times), (column, times)
    return traj


def test_a_restarted_worker_goes_on_with_its_smac_files_and_configuration_ids(tmp_path):
    """A resume (the same seed started again on its rungroup) keeps the trajectory it had,
    with its times going on, and numbers configurations as before: paramstrings names every
    id of runs_and_results, one id per configuration over both sessions. Each run sleeps
    0.15 s: the trajectory counts a run as at least 0.1 s (SMAC 2.10's tunerTime), which a
    run of 0.05 s on an idle machine undercut, putting the wall clock behind it."""
    scenario = write_project(tmp_path, budget=4, sleep=0.15)
    assert run_worker(scenario)[0] == EXIT_DONE
    group = RunGroup(tmp_path / "out" / "demo")
    before = group.layout.trajectory(1).read_text().splitlines()
    assert run_worker(scenario, runcount_limit="8")[0] == EXIT_DONE
    traj = check_classic_files(group, 1, 8)
    assert group.layout.trajectory(1).read_text().splitlines()[: len(before)] == before
    assert len(traj) > len(before)
    # the wall clock starts with the worker, so it is never behind the runs' time
    assert all(float(row[2]) >= float(row[0]) for row in traj[1:]), traj
    # SMAC 2.10 writes the incumbent once more at the end: the best run's configuration
    best = min(group.records(), key=lambda r: r["cost"])
    assert float(traj[-1][1]) == pytest.approx(best["cost"])
    assert (traj[-1][1], traj[-1][3]) == (traj[-2][1], traj[-2][3])  # again, not new


@pytest.mark.parametrize("damage", ["killed while writing", "files removed", "emptied"])
def test_smac_files_a_killed_worker_left_are_mended_on_restart(tmp_path, damage):
    """A worker killed between recording a run and writing its row (`kill -9`), or in the
    middle of a line, or files removed by hand: the restarted worker writes the missing rows,
    drops unfinished lines and keeps every configuration's id, as the files that remain say."""
    scenario = write_project(tmp_path, budget=4)
    assert run_worker(scenario)[0] == EXIT_DONE
    layout = RunGroup(tmp_path / "out" / "demo").layout
    if damage == "killed while writing":
        rows = layout.runs_and_results(1).read_text().splitlines(keepends=True)
        layout.runs_and_results(1).write_text("".join(rows[:-1]))  # the last run has no row
        for path in (layout.paramstrings(1), layout.trajectory(1)):
            path.write_text(path.read_text()[:-9])  # half a line
    elif damage == "emptied":  # killed before its first row's bytes reached the disk
        layout.runs_and_results(1).write_text("")
    else:
        for path in (layout.paramstrings(1), layout.trajectory(1), layout.runs_and_results(1)):
            path.unlink()
    assert run_worker(scenario, runcount_limit="7")[0] == EXIT_DONE
    check_classic_files(RunGroup(tmp_path / "out" / "demo"), 1, 7)


def test_result_line_on_stderr_only_is_a_crash_and_crash_quality_is_transformed(tmp_path):
    scenario = write_project(
        tmp_path, budget=2, mode="stderr", options="abort-on-first-run-crash = false\n"
    )
    code, _ = run_worker(scenario)
    assert code == EXIT_DONE
    records = RunGroup(tmp_path / "out" / "demo").records()
    assert [r["status"] for r in records] == ["CRASHED", "CRASHED"]
    assert all(r["cost"] == 1e9 and r["additional"].startswith("ERROR") for r in records)
    # no line to read a runtime from: the time the run took (it sleeps 0.05 s), its seed
    assert all(r["runtime"] >= 0.05 and r["seed"] == -1 for r in records), records
    # runs_and_results writes SMAC 2.10's crashed quality in both columns, Java's notation
    rows = list(csv.reader(RunGroup(tmp_path / "out" / "demo").layout.runs_and_results(1).open()))
    assert [(row[3], row[9], row[10]) for row in rows[1:]] == [("1.0E9", "-1", "1.0E9")] * 2


@pytest.mark.parametrize("run_obj", ["runtime", "quality"])
def test_runs_and_results_gives_the_response_and_censors_runs_that_did_not_end_on_their_own(
    tmp_path, run_obj
):
    """The Response Value is the run's objective value as SMAC 2.10 stored it: a runtime
    objective's run at the cutoff, or crashed, has the cutoff there (PAR-k is applied as
    SMAC 2.10 averages; a reader that applies it got 100 times the cutoff), a run of a quality
    objective its quality. A censored run is one cut short: stopped by the user, or pruned,
    keeps its partial quality."""
    layout = RunGroup(tmp_path / "group").layout
    layout.runs_and_results(1).parent.mkdir(parents=True)
    output = ClassicOutput(layout, 1, {"x": 1.0}, {"x": 1.0}, {}, time.time(), run_obj=run_obj)
    output.start()
    same = {
        "worker": 1, "config": {"x": 2.0}, "instance": "no_instance", "instance_info": "0",
        "seed": -1, "smac_seed": 1, "budget": None, "trained_budget": None, "cutoff": 10.0,
        "runlength": 0.0, "additional": "", "extra": {}, "started": time.time(),
        "wall_time": 1.0, "exit_code": None, "cpu_time": 0.0, "peak_rss_mb": 0.0, "gpu": None,
    }  # fmt: skip
    runs = [  # status, runtime, quality, reason, stopped by the user
        ("TIMEOUT", 10.4, 0.0, "cutoff_time reached", False),
        ("CRASHED", 2.0, 1e9, "exit code 1", False),
        ("SAT", 12.0, 0.0, None, False),  # past the cutoff: SMAC 2.10 penalises it as it averages
        ("SAT", 3.0, 0.5, None, False),
        ("TIMEOUT", 3.0, 0.25, "stopped by the user", True),
    ]
    for number, (status, runtime, quality, reason, by_user) in enumerate(runs, start=1):
        cost = record_cost(run_obj, status, runtime, quality, cutoff=10.0, par_factor=10)
        output.run(new_record(
            run_id=f"{number:05d}", run_obj=run_obj, status=status, runtime=runtime,
            quality=quality, cost=cost, reason=reason, stopped_by_user=by_user, **same,
        ))  # fmt: skip
    rows = list(csv.reader(layout.runs_and_results(1).open()))[1:]
    responses = ["10.0", "10.0", "12.0", "3.0", "3.0"]  # a KILLED run: its time, censored
    if run_obj == "quality":
        responses = ["0.0", "1.0E9", "0.0", "0.5", "0.25"]
    assert [row[3] for row in rows] == responses
    assert [row[4] for row in rows] == ["0", "0", "0", "0", "1"]


def test_runs_and_results_columns_are_smac_2_10s(tmp_path):
    """Each column as SMAC 2.10 fills it: the instance's number in the instance file (1 with
    none), no cutoff as Java's largest double, the run's budget as its Run Length, a crashed
    run's quality at least SMAC 2.10's crash quality, a pruned run censored, and the SMAC
    iteration counting from 0."""
    layout = RunGroup(tmp_path / "group").layout
    layout.runs_and_results(1).parent.mkdir(parents=True)
    output = ClassicOutput(
        layout, 1, {"x": 1.0}, {"x": 1.0}, {"fold-1": 1, "fold-2": 2}, 0.0, run_obj="quality"
    )
    output.start()
    same = {
        "worker": 1, "config": {"x": 2.0}, "instance_info": "0", "seed": 5, "smac_seed": 1,
        "cutoff": None, "run_obj": "quality", "runlength": 0.0, "additional": "", "extra": {},
        "started": 1.0, "wall_time": 1.0, "stopped_by_user": False, "exit_code": None,
        "cpu_time": 0.0, "peak_rss_mb": 0.0, "gpu": None,
    }  # fmt: skip
    runs = [
        ("no_instance", None, "SAT", 0.5, None),
        ("fold-2", 3.0, "SAT", 0.4, None),
        ("fold-1", 9.0, "CRASHED", 1.0, "diverged"),  # a failure quality of 1.0 (MNIST's)
        ("fold-1", 9.0, "TIMEOUT", 0.3, "pruned: worse than the median at step 2"),
    ]
    for n, (instance, budget, status, quality, reason) in enumerate(runs, start=1):
        cost = record_cost("quality", status, 1.0, quality, cutoff=None, par_factor=10)
        output.run(new_record(
            run_id=f"{n:05d}", instance=instance, budget=budget, trained_budget=budget,
            status=status, runtime=1.0, quality=quality, cost=cost, reason=reason, **same,
        ))  # fmt: skip
    rows = list(csv.reader(layout.runs_and_results(1).open()))[1:]
    column = {name: index for index, name in enumerate(RUNS_HEADER)}

    def cells(name: str) -> list[str]:
        return [row[column[name]] for row in rows]

    assert cells("Instance ID") == ["1", "2", "1", "1"]
    assert set(cells("Cutoff Time Used")) == {"1.7976931348623157E308"}
    assert cells("Run Length") == ["0.0", "3.0", "9.0", "9.0"]
    assert cells("Run Quality") == ["0.5", "0.4", "1.0E9", "0.3"]
    assert cells("Censored?") == ["0", "0", "0", "1"]
    assert cells("SMAC Iteration") == ["0", "1", "2", "3"]


def test_runs_and_results_keeps_a_note_with_commas_in_one_plain_cell(tmp_path):
    """A result line that does not parse is CRASHED with an `ERROR: ...` note that holds
    commas; runs_and_results (read by tools that split on commas, as SMAC 2.10's additional
    data never holds one) gets the note without them, each run on one line."""
    options = "abort-on-first-run-crash = false\n"
    code, _ = run_worker(write_project(tmp_path, budget=2, mode="short", options=options))
    assert code == EXIT_DONE
    group = RunGroup(tmp_path / "out" / "demo")
    assert all("," in r["additional"] for r in group.records())  # the record keeps it whole
    lines = group.layout.runs_and_results(1).read_text().splitlines()
    assert len(lines) == 3 and all(line.count(",") == len(RUNS_HEADER) for line in lines)
    assert lines[1].split(",")[14].startswith("ERROR: expected 5 fields")


def test_tuner_timeout_counts_each_run_at_least_a_tenth_of_a_second(tmp_path):
    """tunerTimeout is the sum of the runs' runtimes, each at least 0.1 s (SMAC 2.10): the
    target reports 0.05 s per run, so 0.35 s end the worker after 4 runs, not 7."""
    scenario = write_project(tmp_path, budget=20, options="tunerTimeout = 0.35\n")
    code, worker = run_worker(scenario)
    assert code == EXIT_DONE
    assert len(RunGroup(tmp_path / "out" / "demo").records()) == 4
    assert worker.message == "tunerTimeout reached"


def test_first_run_crash_aborts_with_the_command_and_the_log_tail(tmp_path):
    scenario = write_project(tmp_path, budget=4, mode="crash")
    code, worker = run_worker(scenario)
    assert code == EXIT_ABORT
    group = RunGroup(tmp_path / "out" / "demo")
    reason = group.abort_info()["reason"]
    assert "first run crashed" in reason and "boom: the target fell over" in reason
    assert "target.py" in reason and f"cd {tmp_path}" in reason
    assert group.records() == [] and group.claimed() == []  # the slot is free for a resume
    assert group.worker(1)["state"] == "aborted"


def test_abort_result_stops_the_worker(tmp_path):
    scenario = write_project(tmp_path, budget=6, mode="abort_at", at=3)
    code, _ = run_worker(scenario)
    assert code == EXIT_ABORT
    group = RunGroup(tmp_path / "out" / "demo")
    assert len(group.records()) == 2
    assert "signalled ABORT" in group.abort_info()["reason"]
    assert "licence server gone" in group.abort_info()["reason"]


def test_a_deterministic_call_gets_its_instances_first_seed_from_the_instance_file(tmp_path):
    """SMAC 2.10's instance-seed file: `seed,name` lines; deterministic runs get each
    instance's first seed instead of -1."""
    options = "instance_file = instances.txt\n"
    scenario = write_project(tmp_path, budget=4, options=options)
    (tmp_path / "instances.txt").write_text("11,inst_a\n22,inst_a\n33,inst_b\n")
    code, _ = run_worker(scenario)
    assert code == EXIT_DONE
    seen = {(call["argv"][0], call["argv"][4]) for call in calls(tmp_path)}
    assert seen <= {("inst_a", "11"), ("inst_b", "33")} and len(seen) == 2, seen
    records = RunGroup(tmp_path / "out" / "demo").records()
    assert {(r["instance"], r["seed"]) for r in records} == {("inst_a", 11), ("inst_b", 33)}


def test_another_seed_offset_gives_a_nondeterministic_target_other_seeds(tmp_path):
    """Java SMAC derives its seeds from the seed offset: launches that differ in it are
    independent repetitions, not the same trial seeds whatever the offset."""
    seeds = []
    for offset in (0, 10):
        scenario = write_project(tmp_path / str(offset), budget=4)
        overrides = {"deterministic": "false", "seed-offset": str(offset)}
        code, _ = run_worker(scenario, seed=offset + 1, **overrides)
        assert code == EXIT_DONE
        seeds.append({int(call["argv"][4]) for call in calls(tmp_path / str(offset))})
    assert all(seed >= 0 for seed in seeds[0] | seeds[1]), seeds
    assert seeds[0].isdisjoint(seeds[1]), seeds


def test_an_initial_incumbent_configuration_is_the_first_run(tmp_path):
    """SMAC 2.10's `initial-incumbent = -x '0.2' -y '3'`: the run starts from it instead of
    the default; y left out would take its default."""
    options = "initial-incumbent = -x '0.2' -y '3'\n"
    code, _ = run_worker(write_project(tmp_path / "a", budget=3, options=options))
    assert code == EXIT_DONE
    records = RunGroup(tmp_path / "a" / "out" / "demo").records()
    assert records[0]["config"] == {"x": 0.2, "y": 3.0}
    assert all(r["config"] != {"x": 2.5, "y": 7.5} for r in records)  # not the default
    code, _ = run_worker(
        write_project(tmp_path / "b", budget=1, options="initial-incumbent = -x 0.2\n")
    )
    assert code == EXIT_DONE
    assert RunGroup(tmp_path / "b" / "out" / "demo").records()[0]["config"] == {"x": 0.2, "y": 7.5}
    # the initial incumbent is SMAC 2.10's configuration 1, the trajectory's first row
    layout = RunGroup(tmp_path / "a" / "out" / "demo").layout
    assert layout.paramstrings(1).read_text().splitlines()[0] == "1: x='0.2', y='3.0'"
    assert list(csv.reader(layout.trajectory(1).open()))[1][3:6] == [
        "1",
        "0.0",
        " x='0.2', y='3.0'",
    ]


def test_sat_and_unsat_on_one_instance_abort_unless_the_exception_is_off(tmp_path, capsys):
    """SMAC 2.10's check-sat-consistency: the discrepancy aborts the launch; with
    check-sat-consistency-exception = false it is only logged, and the budget is run."""
    scenario = write_project(tmp_path / "a", budget=5, mode="unsat_at", at=3)
    code, _ = run_worker(scenario)
    assert code == EXIT_ABORT
    group = RunGroup(tmp_path / "a" / "out" / "demo")
    assert (
        "SAT/UNSAT discrepancy on instance no_instance: run 00003 is UNSAT, run 00001 was SAT"
        " (where UNSAT means a failed training, set check-sat-consistency = false)"
        in (group.abort_info()["reason"])
    )
    # the run that showed the discrepancy has a sound result: it is recorded, not run again
    assert [r["status"] for r in group.records()] == ["SAT", "SAT", "UNSAT"]
    assert sorted(p.stem for p in group.layout.slots.glob("*.claim")) == ["00001", "00002", "00003"]
    rows = list(csv.reader(group.layout.runs_and_results(1).open()))[1:]
    assert [(row[0], row[13]) for row in rows] == [("1", "SAT"), ("2", "SAT"), ("3", "UNSAT")]
    options = "check-sat-consistency-exception = false\n"
    scenario = write_project(tmp_path / "b", budget=5, mode="unsat_at", at=3, options=options)
    capsys.readouterr()
    code, _ = run_worker(scenario)
    assert code == EXIT_DONE
    records = RunGroup(tmp_path / "b" / "out" / "demo").records()
    assert [r["status"] for r in records] == ["SAT", "SAT", "UNSAT", "UNSAT", "UNSAT"]
    logged = capsys.readouterr().err
    assert logged.count("error: SAT/UNSAT discrepancy on instance no_instance: run 00003") == 1


def test_the_run_that_aborts_a_launch_with_its_result_is_in_the_trajectory(tmp_path):
    """In a runtime scenario the UNSAT run that showed a SAT/UNSAT discrepancy was the best,
    and `best` named it, but the trajectory still ended at the earlier incumbent: the run was
    recorded and never told to the incumbent's bookkeeping."""
    options = "run_obj = runtime\ncutoff_time = 5\n"
    code, _ = run_worker(write_project(tmp_path, budget=5, mode="unsat_at", at=3, options=options))
    assert code == EXIT_ABORT
    layout = RunGroup(tmp_path / "out" / "demo").layout
    rows = list(csv.reader(layout.trajectory(1).open()))[1:]
    assert float(rows[-1][1]) == 0.01, rows  # its estimated performance: run 00003's runtime
    reason = RunGroup(tmp_path / "out" / "demo").abort_info()["reason"]
    assert "run 00003 is UNSAT, run 00001 was SAT" in reason  # a solver's answer: no advice
    assert "failed training" not in reason and "check-sat-consistency = false" not in reason


def test_run_over_ten_times_the_cutoff_is_killed_and_recorded_crashed(tmp_path):
    """A program that ignores the cutoff is killed at 10 x the cutoff, as by SMAC 2.10, but
    not before the cutoff, the grace a wrapper gives and 5 s more (here 0.5 + 5 + 5 s)."""
    scenario = write_project(tmp_path, budget=1, sleep=30, options="cutoff_time = 0.5\n")
    code, _ = run_worker(scenario)
    assert code == EXIT_DONE
    (record,) = RunGroup(tmp_path / "out" / "demo").records()
    assert record["status"] == "CRASHED" and 10.5 <= record["wall_time"] < 15
    assert record["additional"].startswith("Run Exceeded Captime")
    assert calls(tmp_path)[0]["argv"][2] == "0.5"
    assert record["reason"].startswith("killed after 10.5 s (the longer of 10 x the"), record


def test_forbidden_proposals_are_told_without_running(tmp_path):
    pcs = "x [-5, 10] [0]\ny [0, 15] [1]\n{x + y > 4}\n"
    scenario = write_project(tmp_path, budget=4, pcs=pcs)
    code, worker = run_worker(scenario)
    assert code == EXIT_DONE
    records = RunGroup(tmp_path / "out" / "demo").records()
    assert len(records) == 4
    assert all(r["config"]["x"] + r["config"]["y"] <= 4 for r in records)
    assert worker.optimizer.forbidden_told > 0


def test_foreign_runs_are_told_and_identical_trials_reused(tmp_path):
    scenario = write_project(tmp_path, budget=3)
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    foreign = {
        "run_id": "00001",
        "worker": 9,
        "config": {"x": 1.0, "y": 2.0},
        "instance": "no_instance",
        "seed": -1,
        "smac_seed": 1,
        "status": "SAT",
        "runtime": 0.1,
        "quality": 0.0,
        "cost": 0.0,
        "started": 1.0,
        "ended": 2.0,
        "reused_from": None,
    }
    assert group.claim_slot(3, 9) == "00001"
    group.append_record(9, foreign)
    worker = Worker(read_scenario(scenario), 1)
    worker._setup(read_pcs(worker.scenario.paramfile))
    assert worker.evidence.foreign_runs_told == 1
    assert worker.optimizer.history_size == 1
    proposal = worker._ask()
    config = proposal.config
    instance, _, seed = worker._describe(proposal)
    twin = {**foreign, "run_id": "00002", "config": config, "smac_seed": proposal.smac_seed}
    group.claim_slot(3, 9)
    group.append_record(9, {**twin, "quality": 5, "cost": 5})
    key = trial_key({"config": config, "instance": instance, "seed": seed})
    assert worker._wait_for_identical(key)
    worker._reuse(proposal, worker._known[key])
    (reused,) = [r for r in group.records(include_reused=True) if r["worker"] == 1]
    assert reused["reused_from"] == "00002" and reused["run_id"] == "00002"
    assert len(group.records()) == 2  # a reused result is no run of its own
    assert worker.evidence.foreign_run_ids_told == ["00001", "00002"]


def test_a_trial_recorded_while_an_ask_held_the_optimiser_is_not_run_again(tmp_path):
    """Worker 9 recorded the trial and gave its claim back while this worker's ask held the
    optimiser, so the look for an identical run could not read the records: claiming the
    trial shows the record, and the worker takes the result instead of running it again."""
    scenario = write_project(tmp_path, budget=3)
    group = RunGroup(tmp_path / "out" / "demo")
    worker, proposal, key = first_proposal(scenario)
    instance, seed = key[1], key[2]
    assert group.claim_slot(3, 9) == "00001"
    group.append_record(
        9,
        {
            "run_id": "00001",
            "worker": 9,
            "config": proposal.config,
            "instance": instance,
            "seed": seed,
            "smac_seed": proposal.smac_seed,
            "status": "SAT",
            "runtime": 0.1,
            "quality": 3.0,
            "cost": 3.0,
            "started": 1.0,
            "ended": 2.0,
            "reused_from": None,
        },
    )
    asking, answered = threading.Event(), threading.Event()

    def ask() -> None:
        with worker._lock:
            asking.set()
            answered.wait(60)

    thread = threading.Thread(target=ask)
    thread.start()
    asking.wait()
    try:
        assert not worker._wait_for_identical(key)  # the records were not read
        run_id = group.claim_slot(3, 1)
        answered.set()  # the claim below waits for the ask to let go of the optimiser
        assert not worker._claim_trial(key, run_id)
    finally:
        answered.set()
        thread.join()
    assert worker._known[key]["run_id"] == "00001"
    assert not group.trial_claimed(key)
    other = (key[0], key[1], key[2] + 1, key[3])  # a trial nobody ran: claimed and kept
    assert worker._claim_trial(other, run_id)
    assert group.trial_claimed(other)


def test_costs_follow_smac_2_10_and_are_always_finite():
    def quality(status: str, runtime: float, value: float) -> float:
        return record_cost("quality", status, runtime, value, cutoff=None, par_factor=1)

    assert quality("SAT", 3.0, 0.5) == 0.5
    assert quality("TIMEOUT", 3.0, 7.0) == 7.0
    assert quality("CRASHED", 3.0, 0.5) == 1e9
    assert quality("CRASHED", 3.0, 2e9) == 2e9
    assert quality("SAT", 3.0, float("inf")) == 1e9
    assert quality("SAT", 3.0, float("-inf")) == 1e9
    assert quality("CRASHED", 3.0, float("nan")) == 1e9

    def runtime(status: str, seconds: float) -> float:
        return record_cost("runtime", status, seconds, 0.5, cutoff=5.0, par_factor=10)

    assert runtime("SAT", 3.0) == 3.0
    assert runtime("SAT", 5.0) == 50.0
    assert runtime("TIMEOUT", 5.0) == 50.0
    assert runtime("CRASHED", 0.1) == 50.0
    assert runtime("SAT", float("nan")) == 50.0


def test_trial_environment_adds_the_interpreter_folder_and_slot():
    env = trial_environment(Path("/r"), None, 2, base={"PATH": "/usr/bin"})
    assert env["PATH"] == os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin"])
    assert env["SMAC_BRIDGE_GPU"] == "" and env["CUDA_VISIBLE_DEVICES"] == ""
    # a CPU slot hides the launcher's GPUs from an algo that is not smac-bridge wrap too
    visible = {"PATH": "/usr/bin", "CUDA_VISIBLE_DEVICES": "0,1"}
    assert trial_environment(Path("/r"), None, 2, base=visible)["CUDA_VISIBLE_DEVICES"] == ""
    assert env["AEATK_CONCURRENT_TASK_ID"] == "2" and env["SMAC_BRIDGE_RUN_DIR"] == "/r"
    assert trial_environment(Path("/r"), "1", 0, base={})["CUDA_VISIBLE_DEVICES"] == "1"


def test_a_launchs_worker_that_starts_after_its_rungroup_moved_does_not_make_it_again(
    tmp_path,
):
    """`mv` of the output folder while a launch's second worker was still starting (SMAC3's
    imports on a busy machine): that worker made the rungroup's path again, empty, and ran
    the whole run budget there. A worker a launch starts knows the folder it set up."""
    from smac_bridge.layout import folder_identity, identity_text

    scenario = write_project(tmp_path, budget=2)
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    place = folder_identity(group.path)
    assert place is not None
    (tmp_path / "out").rename(tmp_path / "moved")
    env = {**smac_bridge_env(), "SMAC_BRIDGE_RUNGROUP_FOLDER": identity_text(place)}
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "moved, renamed or removed while the launch ran" in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()
    worker = Worker(read_scenario(scenario, {"outdir": str(tmp_path / "moved")}), 1, place=place)
    assert worker.run() == 0  # from its new place, the same folder: it runs
    assert len(RunGroup(tmp_path / "moved" / "demo").records()) == 2


def test_a_launchs_worker_searches_the_space_its_launch_saved(tmp_path):
    """The user edited the PCS file for a next rungroup while a launch's workers were still
    starting (SMAC3's imports): each worker read the edited file, found it was not the
    space of the runs, and died, with no run made."""
    from smac_bridge.design import save_space
    from smac_bridge.layout import folder_identity, identity_text

    scenario = write_project(tmp_path, budget=2)
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    save_space(group.layout, tmp_path / "space.pcs")  # as the launch did
    (tmp_path / "space.pcs").write_text("x [-5, 10] [2.5]\ny [0, 15] [7.5]\nz [0, 1] [0]\n")
    env = {
        **smac_bridge_env(),
        "SMAC_BRIDGE_RUNGROUP_FOLDER": identity_text(folder_identity(group.path)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert [set(r["config"]) for r in group.records()] == [{"x", "y"}] * 2


def test_a_worker_started_by_hand_joins_its_rungroup_as_a_resume_would(tmp_path):
    """`smac-bridge worker` made a rungroup without its search space, joined one of another
    space (its runs then failed), left a dead worker's run slot claimed forever (the budget
    shrank), and ended on a used budget without a word."""
    scenario = write_project(tmp_path, budget=2)
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          text=True, capture_output=True, check=True)  # fmt: skip
    stale = group.claim_slot(2, 1)  # claimed by a worker that died during its run
    claim = group.layout.slot(stale)
    claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": int(dead.stdout)}))
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                              start_new_session=True)  # its trial, still training  # fmt: skip
    marker = {**json.loads(claim.read_text()), "run_id": stale, "trial_pid": orphan.pid}
    group.mark_running(marker)

    def worker(seed: int, *options: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), *options]
        return subprocess.run(argv + ["--seed", str(seed)], cwd=tmp_path, env=smac_bridge_env(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    first = worker(2)
    assert orphan.wait(timeout=10) == -9  # killed before its slot was run again
    assert first.returncode == 0, first.stderr
    assert f"worker 2: runs {stale} of a worker that died are run again" in first.stderr
    assert sorted(r["run_id"] for r in group.records()) == ["00001", "00002"]  # budget exact
    assert group.layout.space.read_text() == "x real [-5.0, 10.0] [2.5]\ny real [0.0, 15.0] [7.5]\n"
    late = worker(3)
    assert late.returncode == 0 and "worker 3: " in late.stderr  # says why it ran nothing
    budgets = ["--set", "budget-flag=epochs", "--set", "min-budget=1", "--set", "max-budget=3"]
    multi_fidelity = worker(5, *budgets)  # its SMAC3 died on the runs that have no budget
    assert multi_fidelity.returncode == 1
    assert "were made without a budget flag" in multi_fidelity.stderr
    (tmp_path / "space.pcs").write_text("x [-5, 10] [2.5]\nz {a, b} [a]\n")
    other = worker(4)
    assert other.returncode == 1 and "not the search space of the runs in" in other.stderr


def test_a_worker_started_by_hand_runs_with_the_set_options_of_the_launch_it_joins(tmp_path):
    """A worker added by hand to a launch made with `--set cutoff_time=7` ran its trials
    with the scenario's cutoff: two cutoffs in one rungroup, compared as one."""
    scenario = write_project(tmp_path, budget=2)
    cli = [sys.executable, "-m", "smac_bridge.cli"]
    launched = subprocess.run(
        [*cli, "launch", str(scenario), "--quiet", "--gpus", "none", "--set", "cutoff_time=7"],
        cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stdout + launched.stderr
    joined = subprocess.run(
        [*cli, "worker", str(scenario), "--seed", "5", "--set", "runcount_limit=3"],
        cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert joined.returncode == 0, joined.stderr
    assert "worker 5: with the launch's --set cutoff_time=7 (give an option" in joined.stderr
    records = RunGroup(tmp_path / "out" / "demo").records()
    assert [r["cutoff"] for r in records] == [7.0, 7.0, 7.0], records


def test_a_trial_of_a_worker_lost_on_another_host_is_run_once_overdue(tmp_path):
    """A worker on another host died while it ran the trial this worker proposed too: this
    host cannot see that process, and the worker waited for its result for good (and so did
    a `launch --resume`). Past the longest the trial may run, it counts as lost."""
    scenario = write_project(tmp_path, budget=3, options="cutoff_time = 0.5\n")
    group = RunGroup(tmp_path / "out" / "demo")
    worker, proposal, key = first_proposal(scenario)
    instance, seed = key[1], key[2]
    elsewhere = {"host": "another-host", "pid": 4242, "pid_start": "1", "worker": 2}
    assert group.claim_slot(3, 2) == "00001"
    group.mark_running(
        {**elsewhere, "run_id": "00001", "config": proposal.config, "instance": instance,
         "seed": seed, "smac_seed": proposal.smac_seed, "budget": None, "trained_budget": None,
         "started": time.time() - 200, "run_dir": "", "log": "", "trial_pid": None,
         "marker": None, "queued": False}
    )  # fmt: skip
    claim = group.layout.trial_claim(hashlib.sha1(json.dumps(list(key)).encode()).hexdigest())
    claim.parent.mkdir(parents=True, exist_ok=True)
    claim.write_text(json.dumps({**elsewhere, "run_id": "00001", "claimed": time.time() - 200}))
    waited = threading.Thread(target=worker._wait_for_identical, args=(key,))
    waited.start()
    waited.join(timeout=20)
    waited_for_good = waited.is_alive()
    worker._stop.set()  # ends a wait that does not end by itself
    waited.join(timeout=10)
    assert not waited_for_good, "the worker waited for a trial lost long ago"
    worker._stop.clear()
    run_id = group.claim_slot(3, 1)
    assert worker._claim_trial(key, run_id), "the lost worker's claim was not taken over"
    # still running on that host by its clock (within 10 x the cutoff + margin): waited for
    other = (key[0], key[1], key[2] + 1, key[3])
    group.mark_running({**group.running()[0], "run_id": "00003", "seed": other[2],
                        "started": time.time()})  # fmt: skip
    assert group.trial_claimed(key)  # ours now
    busy = threading.Thread(target=worker._wait_for_identical, args=(other,))
    busy.start()
    busy.join(timeout=3)
    assert busy.is_alive(), "a trial of another host within its time was not waited for"
    worker._stop.set()
    busy.join(timeout=10)


def test_the_run_slot_of_a_worker_lost_on_another_host_is_run_again_once_overdue(tmp_path):
    """The slot of a run whose worker on another host died stayed claimed: the launch ran
    one run fewer than its budget, and nothing said why."""
    scenario = write_project(tmp_path, budget=3, options="cutoff_time = 0.5\n")
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    elsewhere = {"host": "another-host", "pid": 4242, "pid_start": "1", "worker": 2}
    assert group.claim_slot(3, 2) == "00001"
    claim = json.loads(group.layout.slot("00001").read_text())
    group.layout.slot("00001").write_text(
        json.dumps({**claim, **elsewhere, "claimed": time.time() - 200})
    )
    marker = {
        **elsewhere, "run_id": "00001", "config": {"x": 9.9, "y": 0.1},
        "instance": "no_instance", "seed": -1, "smac_seed": None, "budget": None,
        "trained_budget": None, "started": time.time() - 200, "run_dir": "", "log": "",
        "trial_pid": None, "marker": None, "queued": False,
    }  # fmt: skip
    group.mark_running(marker)
    code, _ = run_worker(scenario)
    assert code == 0
    assert sorted(r["run_id"] for r in group.records()) == ["00001", "00002", "00003"]
    assert group.running() == []
    # one still queued on a cluster, however long, is not lost
    assert group.claim_slot(4, 2) == "00004"
    group.layout.slot("00004").write_text(
        json.dumps({**claim, **elsewhere, "claimed": time.time() - 200})
    )
    group.mark_running({**marker, "run_id": "00004", "queued": True})
    assert group.release_stale_claims(overdue_after=125) == []


def test_a_worker_stopped_while_it_waits_for_another_workers_trial_says_stopped(tmp_path):
    """A SIGTERM while the worker waited for another worker's run of its proposal ended it
    with exit 0, "run budget used up" and the state done, where a stop exits 130."""
    scenario = write_project(tmp_path, budget=1)
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    assert group.claim_slot(1, 2) == "00001"  # another host's worker runs the default
    default = {"x": 2.5, "y": 7.5}
    group.mark_running(
        {"host": "another-host", "pid": 4242, "pid_start": "1", "worker": 2, "run_id": "00001",
         "config": default, "instance": "no_instance", "seed": -1, "smac_seed": None,
         "budget": None, "trained_budget": None, "started": time.time(), "run_dir": "",
         "log": "", "trial_pid": None, "marker": None, "queued": False}
    )  # fmt: skip
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "1"]
    worker = subprocess.Popen(argv, cwd=tmp_path, env=smac_bridge_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while (group.workers() or [{}])[0].get("state") != "running":
            assert time.monotonic() < deadline and worker.poll() is None, worker.stderr.read()
            time.sleep(0.1)
        time.sleep(3)  # it asks SMAC3 and finds the other worker's run of its proposal
        assert worker.poll() is None, "the worker did not wait for the other worker's run"
        worker.terminate()
        _, errors = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 130, errors
    assert group.workers()[0]["state"] == "stopped"


def test_a_second_worker_of_one_seed_is_refused_before_the_first_said_it_runs(tmp_path):
    """Two terminals, or a Slurm job submitted twice: the second worker of seed 5 looked for
    the first one's heartbeat, which a worker writes only once it has set up, ran beside it,
    wrote the same classic file (run numbers 1 2 1 3 2 ...) and proposed the same
    configurations twice. Here the first one's heartbeat is gone, as in that moment."""
    scenario = write_project(tmp_path, budget=1, sleep=20)
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed", "5"]
    group = RunGroup(tmp_path / "out" / "demo")
    first = subprocess.Popen(argv, cwd=tmp_path, env=smac_bridge_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.time() + 120
        while not group.running() and time.time() < deadline:
            time.sleep(0.2)
        assert group.running(), "the first worker started no trial"
        group.layout.heartbeat(5).unlink()
        twin = subprocess.run(argv, cwd=tmp_path, env=smac_bridge_env(), capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert twin.returncode == 1 and "worker 5 of this rungroup is running" in twin.stderr
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
    assert [r["run_id"] for r in group.records()] == ["00001"]


def test_workers_started_by_hand_without_a_launch_run_designs_of_their_own(tmp_path):
    """No launch.json says how many workers there are: the one design was dealt out as to a
    single worker, so every worker proposed its first rows in the same order, and all but
    one waited for the others' runs of them instead of running anything."""
    scenario = write_project(tmp_path, budget=20)
    firsts = []
    for seed in (2, 3):  # not 1, which starts with the default configuration
        worker = Worker(read_scenario(scenario), seed)
        worker._setup(read_pcs(worker.scenario.paramfile))
        firsts.append(worker._ask().config)
    assert firsts[0] != firsts[1]


def test_a_worker_that_joins_a_launch_beyond_its_workers_draws_a_design_of_its_own(tmp_path):
    """Seed 3 joining a launch of 2 took worker 1's share of the launch's design again: its
    proposals were worker 1's trials, which it waited for and reused, adding nothing."""
    scenario = write_project(tmp_path, budget=20)
    group = RunGroup(tmp_path / "out" / "demo")
    group.create()
    group.write_launch_info({"parallel": 2, "seeds": [1, 2]})
    first = Worker(read_scenario(scenario), 1)
    first._setup(read_pcs(first.scenario.paramfile))
    launched = [first._ask().config, first._ask().config]  # the default, then its share
    joiner = Worker(read_scenario(scenario), 3)
    joiner._setup(read_pcs(joiner.scenario.paramfile))
    assert joiner._ask().config not in launched


def test_a_worker_by_hand_runs_again_what_a_dead_worker_of_its_host_left(tmp_path):
    """Worker 2, started by hand beside worker 1, was killed during a run: its slot stayed
    claimed, and worker 1 ended "run budget used up" one run short of the budget."""
    scenario = write_project(tmp_path, budget=4, sleep=1.5)
    group = RunGroup(tmp_path / "out" / "demo")
    argv = [sys.executable, "-m", "smac_bridge.cli", "worker", str(scenario), "--seed"]

    def start(seed: int) -> subprocess.Popen[str]:
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        return subprocess.Popen(
            [*argv, str(seed)], cwd=tmp_path, env=smac_bridge_env(), text=True, **pipes
        )

    first, second = start(1), start(2)
    try:
        deadline = time.monotonic() + 120
        while not any(marker["worker"] == 2 for marker in group.running()):
            assert time.monotonic() < deadline and second.poll() is None, second.stderr.read()
            time.sleep(0.05)
        (lost,) = [m["run_id"] for m in group.running() if m["worker"] == 2]
        second.kill()
        second.wait(timeout=30)
        _, errors = first.communicate(timeout=180)
    finally:
        for worker in (first, second):
            worker.kill()
    assert first.returncode == 0, errors
    assert f"worker 1: runs {lost} of a worker that died are run again" in errors
    assert sorted(r["run_id"] for r in group.records()) == ["00001", "00002", "00003", "00004"]


def test_a_rungroup_of_hand_started_workers_keeps_their_budget_and_options(tmp_path):
    """No launch.json: status showed no run budget, and a launch --resume forgot the
    workers' --set options and ran the scenario's whole runcount_limit on top."""
    scenario = write_project(tmp_path, budget=6)
    out = tmp_path / "out"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "smac_bridge.cli", *args]
        return subprocess.run(
            argv, cwd=tmp_path, env=smac_bridge_env(), capture_output=True, text=True, timeout=300
        )

    done = cli("worker", str(scenario), "--seed", "1", "--set", "runcount_limit=2")
    assert done.returncode == 0, done.stderr
    status = cli("status", str(out), "--json")
    assert json.loads(status.stdout)["rungroups"][0]["budget"] == 2, status.stdout
    resumed = cli("launch", str(scenario), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "--set runcount_limit=2" in resumed.stderr  # kept, and said
    assert len(RunGroup(out / "demo").records()) == 2


def test_a_negative_task_id_is_refused(tmp_path):
    """`worker --task-id -5` was taken, and AEATK_CONCURRENT_TASK_ID=-5 given to the trials."""
    scenario = write_project(tmp_path, budget=1)
    done = run_cli("worker", str(scenario), "--seed", "1", "--task-id", "-5", cwd=tmp_path)
    assert done.returncode == 2 and "-5 is not in the range x>=0" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_failure_to_write_smac3s_own_state_only_warns(tmp_path, capsys):
    """SMAC3's run history is for its own tools (a resume reads the records): a disk error
    writing it stopped the worker, and at its end could hide the error it was ending on."""
    scenario = write_project(tmp_path, budget=3, sleep=0.3)
    group = RunGroup(tmp_path / "out" / "demo")
    history = group.layout.smac3 / "demo" / "1" / "runhistory.json"

    def block_once_running() -> None:  # SMAC3 writes it as it starts: a worker needs a disk
        deadline = time.monotonic() + 60
        while not group.records() and time.monotonic() < deadline:
            time.sleep(0.02)
        history.unlink()
        history.mkdir()  # a folder where SMAC3 writes the file: every later write fails

    blocker = threading.Thread(target=block_once_running)
    blocker.start()
    code, worker = run_worker(scenario)
    blocker.join()
    assert code == 0, worker.message
    assert len(group.records()) == 3
    warned = capsys.readouterr().err
    assert "warning: worker 1: SMAC3's state in" in warned and "was not written" in warned
