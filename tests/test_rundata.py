"""The run-data directory: records, budget slots, stale claims (real files and processes)."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import typing

import pytest
from conftest import IN_A_PID_NAMESPACE, can_make_a_pid_namespace, smac_bridge_env
from hypothesis import given, settings
from hypothesis import strategies as st

from smac_bridge import dashboard_data
from smac_bridge.layout import (
    INTERRUPT_NOTE,
    RunDir,
    format_run_id,
    stop_note,
    write_stop_request,
)
from smac_bridge.records import MIN_RUNTIME, RunRecord, trial_key, tuner_time_used
from smac_bridge.rundata import (
    FIELD_KINDS,
    GrowingCurves,
    RecordReader,
    RunGroup,
    carry_progress,
    hostname,
    process_token,
    read_progress,
    trained_steps,
    units_trained,
)


def record(run_id: str, worker: int, quality: float = 1.0, **more: object) -> dict:
    base = {
        "run_id": run_id,
        "worker": worker,
        "config": {"x": quality},
        "instance": "no_instance",
        "seed": -1,
        "status": "SAT",
        "quality": quality,
        "cost": quality,
        "runtime": 0.1,
        "started": 1.0,
        "ended": float(int(run_id)),
        "reused_from": None,
    }
    return {**base, **more}


def claim_until_full(path: str, worker: int, limit: int, queue: multiprocessing.Queue) -> None:
    group = RunGroup(path)
    mine = []
    while (run_id := group.claim_slot(limit, worker)) is not None:
        mine.append(run_id)
    queue.put(mine)


def test_concurrent_claims_never_overshoot_the_budget(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=claim_until_full, args=(str(group.path), w, 40, queue))
        for w in range(4)
    ]
    for proc in procs:
        proc.start()
    claimed = [run_id for _ in procs for run_id in queue.get(timeout=30)]
    for proc in procs:
        proc.join(10)
    assert sorted(claimed) == [format_run_id(n) for n in range(1, 41)]
    assert group.claimed() == sorted(claimed)
    info = group.claim_info("00001")
    assert info is not None and {"worker", "host", "pid", "pid_start", "claimed"} <= set(info)
    assert not [p for p in group.layout.slots.iterdir() if not p.name.endswith(".claim")]


def test_slots_above_a_smaller_budget_count_against_it(tmp_path):
    """A stop left slot 8 free and slot 9 claimed; a resume with runcount_limit = 8 must not
    run slot 8: 8 runs are already claimed."""
    group = RunGroup(tmp_path / "g")
    group.create()
    for _ in range(9):
        group.claim_slot(9, 1)
    group.release_slot("00008")
    assert group.claim_slot(8, 1) is None
    assert group.claim_slot(10, 1) == "00008" and group.claim_slot(10, 1) == "00010"
    assert group.claim_slot(10, 1) is None and len(group.claimed()) == 10
    # a gap far below a smaller budget: 10 held with a budget of 6 leaves no room at all
    group.release_slot("00002")
    assert group.claim_slot(6, 1) is None  # slots above 6 only shortened the range to 1..2
    assert group.claim_slot(10, 1) == "00002"


def test_records_skip_a_half_written_line_and_reused_results(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1, 3.0))
    group.append_record(2, record("00002", 2, 2.0))
    with open(group.layout.records(2), "ab") as handle:  # a writer caught mid-line
        handle.write(json.dumps(record("00003", 2, 1.0)).encode()[:25])
    assert [r["run_id"] for r in group.records()] == ["00001", "00002"]
    with open(group.layout.records(2), "ab") as handle:
        handle.write(json.dumps(record("00003", 2, 1.0)).encode()[25:] + b"\n")
    group.append_record(1, record("00003", 1, 1.0, reused_from="00003"))
    assert [r["run_id"] for r in group.records()] == ["00001", "00002", "00003"]
    assert len(group.records(include_reused=True)) == 4


def test_a_non_finite_extra_is_written_as_null_and_an_infinite_quality_is_kept(tmp_path):
    """Extras are the script's values, read by people's tools, which refuse a bare NaN; a
    classic line's quality or runtime of Infinity is the record's own, and a record without
    it was left out of every view and run again by a resume."""
    group = RunGroup(tmp_path / "g")
    group.create()
    infinite = float("inf")
    group.append_record(1, record("00001", 1, infinite, runtime=infinite))
    group.append_record(1, record("00002", 1, 0.5, extra={"grad": float("nan"), "acc": 0.9}))
    (first, second) = group.records()
    assert (first["quality"], first["runtime"]) == (infinite, infinite)
    assert second["extra"] == {"grad": None, "acc": 0.9}
    line = group.layout.records(1).read_text().splitlines()[1]
    assert '"grad": null' in line


def test_a_kept_rungroup_reads_new_records_and_a_replaced_file_again(tmp_path):
    """records() reads on from where it stopped, as the dashboard keeps its rungroups between
    requests; a file that was replaced, cut short or removed is read again whole."""
    group = RunGroup(tmp_path / "g")
    group.create()
    views = dashboard_data.Views(tmp_path)

    def shown() -> list[tuple[str, float]]:
        rows = views.runs("g")["rows"]
        assert [(row["run_id"], row["quality"]) for row in rows] == [
            (r["run_id"], r["quality"]) for r in group.records()
        ]
        return [(row["run_id"], row["quality"]) for row in rows]

    group.append_record(1, record("00001", 1))
    group.append_record(2, record("00002", 2))
    assert shown() == [("00001", 1.0), ("00002", 1.0)]
    group.append_record(1, record("00003", 1))
    assert shown() == [("00001", 1.0), ("00002", 1.0), ("00003", 1.0)]
    assert views.status()["rungroups"][0]["runs_done"] == 3
    shutil.rmtree(group.path)  # a new launch in the same folder
    group.create()
    group.append_record(1, record("00001", 1, quality=0.5))
    assert shown() == [("00001", 0.5)]
    backup = tmp_path / "backup.jsonl"  # a longer file copied over it
    lines = [json.dumps(record(f"0000{n}", 1, quality=0.25)) + "\n" for n in (1, 2, 3)]
    backup.write_text("".join(lines))
    os.replace(backup, group.layout.records(1))
    assert shown() == [("00001", 0.25), ("00002", 0.25), ("00003", 0.25)]


def test_reader_returns_only_new_records_and_finds_new_files(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1))
    reader = RecordReader(group)
    assert [r["run_id"] for r in reader.poll()] == ["00001"]
    assert reader.poll() == []
    group.append_record(2, record("00002", 2))
    assert [r["run_id"] for r in reader.poll()] == ["00002"]
    assert reader.poll() == []
    group.append_record(3, record("00003", 3))
    group.append_record(1, record("00004", 1))
    assert sorted(r["run_id"] for r in reader.poll()) == ["00003", "00004"]


def test_a_replaced_record_file_is_read_again_for_the_records_written_since(tmp_path):
    """A record file moved away (its worker then makes a new one) or saved by an editor (a
    new inode) was read on from the old offset: every record written below it was never
    told to the other workers nor announced by the launcher."""
    group = RunGroup(tmp_path / "g")
    group.create()
    for n in (1, 2, 3):
        group.append_record(1, record(f"0000{n}", 1))
    reader = RecordReader(group)
    assert len(reader.poll()) == 3 and reader.replaced == []
    path = group.layout.records(1)
    os.replace(path, tmp_path / "moved.jsonl")
    group.sync_records(1)  # a worker making its last record durable: it died of this
    group.append_record(1, record("00004", 1))  # its worker goes on in a new file
    assert [r["run_id"] for r in reader.poll()] == ["00004"]
    assert reader.replaced == [path]
    edited = tmp_path / "edited.jsonl"  # an editor's save: the same lines and one more
    edited.write_bytes(path.read_bytes() + (json.dumps(record("00005", 1)) + "\n").encode())
    os.replace(edited, path)
    assert [r["run_id"] for r in reader.poll()] == ["00005"]
    with open(path, "r+b") as file:  # cut short to its first line, then appended to
        file.truncate(len(file.readline()))
    group.append_record(1, record("00006", 1))
    assert [r["run_id"] for r in reader.poll()] == ["00006"]
    assert reader.replaced == [path, path, path] and reader.poll() == []


def test_a_record_file_found_empty_or_half_written_after_its_replacement(tmp_path):
    """A file found empty just after its replacement was never read again (its old end was
    looked for before its start); records read before that an editor's save wrote back a poll
    later came back as new (announced twice, their runtimes counted twice)."""
    group = RunGroup(tmp_path / "g")
    group.create()
    lines = [json.dumps(record(f"0000{n}", 1)) + "\n" for n in (1, 2, 3)]
    path = group.layout.records(1)
    path.write_text("".join(lines))
    reader = RecordReader(group)
    assert len(reader.poll()) == 3
    with open(path, "r+") as file:  # an editor's save: cut short, then written again
        file.truncate(len(lines[0]))
    assert reader.poll() == []
    with open(path, "a") as file:
        file.write(lines[1] + lines[2])
    assert reader.poll() == []  # all three were read before
    os.replace(path, tmp_path / "moved.jsonl")
    path.touch()  # its worker's next file, empty at the next poll
    assert reader.poll() == []
    group.append_record(1, record("00004", 1))
    assert [r["run_id"] for r in reader.poll()] == ["00004"]


def test_a_torn_last_line_is_skipped_and_reported_never_fatal(tmp_path):
    """What a crash or a full disk leaves mid-write: a line without its end. The next
    record of the (restarted) worker ends it first, so it stays one skipped line."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1))
    with open(group.layout.records(1), "ab") as handle:
        handle.write(json.dumps(record("00002", 1)).encode()[:30])
    reader = RecordReader(group)
    assert [r["run_id"] for r in reader.poll()] == ["00001"]
    group.append_record(1, record("00003", 1))
    assert [r["run_id"] for r in reader.poll()] == ["00003"]
    assert reader.skipped == [f"{group.layout.records(1)}:2"]  # named by file and line
    assert [r["run_id"] for r in group.records()] == ["00001", "00003"]
    with open(group.layout.records(1), "ab") as handle:  # not a record at all
        handle.write(b'["a list"]\n{"run_id": "00009"}\n')
    assert [r["run_id"] for r in group.records()] == ["00001", "00003"]


def test_a_record_with_a_field_of_the_wrong_kind_is_left_out_and_said(tmp_path, cli):
    """`jq` writes a NaN quality as null; a hand edit may leave text. Such a line made every
    command that reads the runs (results, status, best, plot, report) end in a TypeError."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1, quality=0.5))
    group.append_record(1, record("00002", 1, quality=None))  # type: ignore[arg-type]
    group.append_record(1, record("00003", 1, quality="abc"))  # type: ignore[arg-type]
    group.append_record(1, record("00004", 1, config=None))
    group.append_record(1, record("00005", 1, quality=0.25))
    # any field of the wrong kind made them fail too, and a resume's workers died of it
    damaged = {"cost": None, "budget": "big", "started": "yesterday", "extra": [1]}
    damaged |= {"run_dir": "../../etc", "reused_from": 7, "exit_code": 1.5, "gpu": 0}
    for number, (key, value) in enumerate(damaged.items(), start=6):
        group.append_record(1, record(f"{number:05d}", 1, quality=0.1, **{key: value}))
    group.append_record(1, {**record("00014", 1, quality=0.1), "run_id": "../../etc"})
    without_cost = record("00015", 1, quality=0.1)
    del without_cost["cost"]
    group.append_record(1, without_cost)
    for number, value in enumerate((None, [1], {"a": 1}), start=16):  # plot's TypeError
        group.append_record(1, record(f"{number:05d}", 1, quality=0.1, config={"x": value}))
    assert [r["run_id"] for r in group.records()] == ["00001", "00005"]
    damaged_lines = [2, 3, 4, *range(6, 19)]  # 00005 on line 5 is whole
    assert group.skipped_lines == [f"{group.layout.records(1)}:{n}" for n in damaged_lines]
    for command in ("results", "plot", "status", "best", "report"):
        extra = ["--html", str(tmp_path / "report.html")] if command == "report" else []
        done = cli(command, str(group.path), *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        if command != "best":
            assert (
                "16 line(s) of the runs-*.jsonl files are not run records"
                in done.stdout + done.stderr
            )
        assert "Traceback" not in done.stderr
    assert "00005" in cli("results", str(group.path)).stdout


def test_each_record_field_is_checked_as_a_run_record_declares_it():
    """A null `smac_seed` passed the check (its kind said "or none"), then ended a resume's
    workers in a TypeError as they told the record to SMAC3: the kinds follow RunRecord."""
    declared = typing.get_type_hints(RunRecord)
    assert set(declared) == set(FIELD_KINDS)
    for field, annotation in declared.items():
        may_be_none = type(None) in typing.get_args(annotation)
        assert may_be_none == FIELD_KINDS[field].endswith("or none"), field


def test_a_record_whose_smac_seed_is_null_is_left_out_and_said(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1, smac_seed=None))
    group.append_record(1, record("00002", 1, smac_seed=3))
    assert [r["run_id"] for r in group.records()] == ["00002"]
    assert group.skipped_lines == [f"{group.layout.records(1)}:1"]


def test_a_running_marker_with_a_field_of_the_wrong_kind_is_left_out(tmp_path, cli):
    """A marker edited by hand with a text `started` made status and the dashboard end in a
    TypeError (every rungroup vanished from the page), and one whose config is text broke
    the dashboard's table of runs."""
    from smac_bridge.group_setup import GroupSetup

    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1, quality=0.5))
    good = {"run_id": "00002", "worker": 1, "config": {"x": 1.0}, "started": 5.0}
    group.mark_running(good)  # type: ignore[arg-type]
    for number, damage in enumerate(
        [{"started": "yesterday"}, {"config": "abc"}, {"config": ["a", 1]}, {"worker": "w"}],
        start=3,
    ):
        group.mark_running({**good, "run_id": f"{number:05d}", **damage})  # type: ignore[typeddict-item]
    assert [m["run_id"] for m in group.running()] == ["00002"]
    done = cli("status", str(group.path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = dashboard_data.runs(group, GroupSetup())["rows"]
    assert sorted(row["run_id"] for row in rows) == ["00001", "00002"]
    json.dumps(dashboard_data.status(tmp_path))


def test_stale_claims_of_dead_workers_are_released(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    finished = group.claim_slot(10, 1)
    group.append_record(1, record(finished, 1))
    live = group.claim_slot(10, 1)  # this process: alive
    stale = group.claim_slot(10, 2)
    claim = group.layout.slot(stale)
    claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": dead_pid}))
    group.mark_running({"run_id": stale, "worker": 2, "pid": dead_pid})
    elsewhere = group.claim_slot(10, 3)
    other = group.layout.slot(elsewhere)
    other.write_text(json.dumps({**json.loads(other.read_text()), "host": "another-host"}))

    assert group.release_stale_claims() == [stale]
    assert group.claimed() == sorted([finished, live, elsewhere])
    assert group.running() == []
    assert group.claim_slot(10, 1) == stale  # the freed slot is claimed again first
    assert group.release_stale_claims(workers_stopped=True) == sorted([live, elsewhere, stale])


SECOND_CLEANER = """
import sys
from pathlib import Path
from smac_bridge.rundata import RunGroup
group = RunGroup(Path(sys.argv[1]))
print(group.release_stale_claims(), group.claim_slot(1, 9))
"""


def test_cleaners_take_turns_and_keep_a_lost_runs_folder_before_its_slot_is_free(tmp_path):
    """After a worker died, the launcher and every worker finding the budget used up clean
    at once: one that read the dead claim, then removed it after another had released the
    slot and a worker claimed it again, left two trials running as one run id; and a lost
    run's folder, kept only after its slot was free, was the new attempt's, emptied."""
    group = RunGroup(tmp_path / "g")
    group.create()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          text=True, capture_output=True, check=True)  # fmt: skip
    stale = group.claim_slot(1, 2)
    claim = group.layout.slot(stale)
    claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": int(dead.stdout)}))
    seen = []

    def keep_left(run_id: str) -> None:  # the first cleaner, at work
        second = subprocess.Popen([sys.executable, "-c", SECOND_CLEANER, str(group.path)],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        with pytest.raises(subprocess.TimeoutExpired):  # it waits for its turn
            second.communicate(timeout=5)
        seen.append((run_id, group.layout.slot(run_id).exists(), second))

    assert group.release_stale_claims(keep_left=keep_left) == [stale]
    ((run_id, still_claimed, second),) = seen
    assert run_id == stale and still_claimed
    output, _ = second.communicate(timeout=60)
    assert output.split() == ["[]", stale]  # nothing more to release; claimed once
    assert json.loads(claim.read_text())["worker"] == 9


def test_the_locks_leave_a_rungroup_that_nothing_ran_in_free_to_start_over(tmp_path):
    """A launch stopped as its workers started: the launcher's cleanup made its lock file
    inside the rungroup, which then held "something", and a new launch was refused."""
    from smac_bridge.layout import try_lock
    from smac_bridge.recovery import clean_dead_workers

    group = RunGroup(tmp_path / "out" / "g")
    group.create()
    group.write_launch_info({"parallel": 1})
    seed_lock = try_lock(group.layout.worker_lock(1))  # as a worker holds it while it lives
    assert seed_lock is not None
    try:
        assert clean_dead_workers(group, workers_stopped=True) == []
        assert group.holds_nothing()
    finally:
        os.close(seed_lock)


def test_the_marker_of_a_recorded_run_whose_worker_died_goes_in_the_cleanup(tmp_path):
    """A worker killed between its run's record and the removal of its marker left the
    marker in running/ for good; a live worker's marker stays until it removes it."""
    group = RunGroup(tmp_path / "g")
    group.create()
    for run_id, pid in ((group.claim_slot(10, 1), 2**22 + 1), (group.claim_slot(10, 2), None)):
        assert run_id is not None
        group.append_record(1, record(run_id, 1))
        alive = {"host": hostname(), "pid": os.getpid(), "pid_start": process_token(os.getpid())}
        group.mark_running(
            {"run_id": run_id, "worker": 1, **alive, **({"pid": pid} if pid else {})}
        )
    assert group.release_stale_claims() == []
    assert [marker["run_id"] for marker in group.running()] == ["00002"]
    group.release_stale_claims(workers_stopped=True)
    assert group.running() == [] and group.claimed() == ["00001", "00002"]


@pytest.mark.skipif(not can_make_a_pid_namespace(), reason="needs unshare --pid (root)")
def test_a_claim_made_in_a_container_that_shares_the_hosts_name_is_not_taken_for_dead(tmp_path):
    """A launch in a container with the host's name (docker --network host) wrote pids of
    its own PID namespace: seen from the host they named other processes or none, its live
    workers were taken for dead, and their running trials were run a second time."""
    group = RunGroup(tmp_path / "g")
    group.create()
    claimer = (
        "import sys, time\n"
        "from smac_bridge.rundata import RunGroup\n"
        "print(RunGroup(sys.argv[1]).claim_slot(5, 1), flush=True)\n"
        "time.sleep(60)\n"
    )
    inside = subprocess.Popen(
        [*IN_A_PID_NAMESPACE, sys.executable, "-c", claimer, str(group.path)],
        stdout=subprocess.PIPE,
        text=True,
        env=smac_bridge_env(),
    )
    try:
        assert inside.stdout is not None and inside.stdout.readline().strip() == "00001"
        info = json.loads(group.layout.slot("00001").read_text())
        assert info["host"] != hostname()  # another host to this one: its pids cannot be read
        assert group.release_stale_claims() == [] and group.claimed() == ["00001"]
    finally:
        inside.kill()
        inside.wait()


def test_a_reused_pid_is_not_taken_for_the_claiming_worker(tmp_path):
    """After a reboot a claim's pid may belong to an unrelated live process: its start
    token tells them apart."""
    group = RunGroup(tmp_path / "g")
    group.create()
    run_id = group.claim_slot(5, 1)
    assert group.release_stale_claims() == []  # this process claimed it and lives
    claim = group.layout.slot(run_id)
    info = json.loads(claim.read_text())
    assert info["pid_start"] == process_token(os.getpid()) != ""
    claim.write_text(json.dumps({**info, "pid_start": "another-boot:12345"}))
    assert group.release_stale_claims() == [run_id]


def test_an_empty_claim_file_is_released_once_old_or_when_workers_are_stopped(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    empty = group.layout.slot("00001")
    empty.write_bytes(b"")  # a crash between creating a claim and writing it (older versions)
    assert group.release_stale_claims() == []  # may still be being written
    assert group.release_stale_claims(workers_stopped=True) == ["00001"]
    empty.write_bytes(b"")
    old = empty.stat().st_mtime - 3600
    os.utime(empty, (old, old))
    assert group.release_stale_claims() == ["00001"]
    assert group.claim_slot(5, 1) == "00001"  # re-run exactly once


def test_the_private_files_of_claims_a_dead_process_was_making_are_removed(tmp_path):
    """A worker killed between writing a claim's private file and linking it left the file
    in trials/, slots/ or units/ for good."""
    group = RunGroup(tmp_path / "g")
    group.create()  # no trials/: a launch without shared-model mode makes none
    group.layout.units.mkdir()
    old = time.time() - 3600
    left, fresh = [], []
    for folder in (group.layout.slots, group.layout.units):
        left.append(folder / ".00001-host-4242.tmp")
        left[-1].write_text("{}")
        os.utime(left[-1], (old, old))
        fresh.append(folder / ".00002-host-4243.tmp")  # a live process's, being linked
        fresh[-1].write_text("{}")
    group.release_stale_claims()
    assert [path.exists() for path in left + fresh] == [False] * 2 + [True] * 2
    group.layout.trial_claims.mkdir()
    left = group.layout.trial_claims / ".00003-host-4244.tmp"
    left.write_text("{}")
    os.utime(left, (old, old))
    group.release_stale_claims()
    assert not left.exists()


def test_a_deleted_slots_folder_is_no_fresh_start_for_a_worker(tmp_path, monkeypatch):
    """slots/ deleted while a run is in progress, none recorded yet: a worker that started
    then made the folder again and claimed the running run's id, whose trial it then ran
    into the same folder; one deleted during a claim ended a worker in a FileNotFoundError."""
    from smac_bridge.errors import InputError

    group = RunGroup(tmp_path / "g")
    group.create()
    group.write_launch_info({"budget": 4})
    assert group.claim_slot(4, 1) == "00001"  # in progress
    group.run("00001").path.mkdir(parents=True)
    shutil.rmtree(group.layout.slots)
    for start in (group.create, lambda: group.claim_slot(4, 2)):
        with pytest.raises(InputError, match="this folder of the rungroup is gone"):
            start()
    assert not group.layout.slots.exists()
    group.create(restore_claims=True)  # a resume's launch, once no worker runs
    link = os.link

    def deleted_first(source, target):
        shutil.rmtree(group.layout.slots)
        link(source, target)

    monkeypatch.setattr(os, "link", deleted_first)
    with pytest.raises(InputError, match="this folder of the rungroup is gone"):
        group.claim_slot(4, 2)


def test_a_resume_claims_again_every_recorded_run_whose_claim_is_gone(tmp_path):
    """slots/ deleted, then a Ctrl-C: the stopped trial's owed note made the folder again,
    holding no claim, and workers and the resume gave recorded runs' ids out again; an
    emptied slots/ (`rm slots/*`) went unseen too."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.write_launch_info({"budget": 4})
    for run_id in ("00001", "00002"):
        assert group.claim_slot(4, 1) == run_id
    fields = {"config": {}, "instance": "i", "seed": -1, "status": "SAT", "cost": 0.5}
    group.append_record(1, {"run_id": "00001", "worker": 1, "quality": 0.5, **fields})
    shutil.rmtree(group.layout.slots)
    group.owe({"run_id": "00002", "worker": 1})  # type: ignore[typeddict-item]
    assert not group.layout.slots.exists()  # its claim is gone: nothing to owe
    group.create(restore_claims=True)
    assert group.claimed() == ["00001"] and group.claim_slot(4, 2) == "00002"
    for claim in group.layout.slots.glob("*.claim"):
        claim.unlink()
    group.create(restore_claims=True)
    assert group.claimed() == ["00001"]


def _abort_and_look(path, reason, start, seen):
    group = RunGroup(path)
    start.wait()
    group.request_abort(reason, None, None, 1)
    seen.put({group.abort_info()["reason"] for _ in range(20)})


def test_workers_aborting_at_once_keep_one_reason(tmp_path):
    """Each of two workers found no reason yet and wrote its own: the first was replaced, and
    workers that had read it stopped naming a reason the rungroup no longer held."""
    group = RunGroup(tmp_path / "g")
    group.create()
    fork = multiprocessing.get_context("fork")
    for attempt in range(5):
        start, seen = fork.Barrier(4), fork.Queue()
        workers = [
            fork.Process(target=_abort_and_look, args=(group.path, f"{attempt}-{n}", start, seen))
            for n in range(4)
        ]
        for worker in workers:
            worker.start()
        reasons = set().union(*(seen.get(timeout=60) for _ in workers))
        for worker in workers:
            worker.join()
        assert reasons == {group.abort_info()["reason"]}
        group.clear_abort()
    assert not list(group.path.rglob("*.tmp"))


def test_json_state_files_and_abort(tmp_path):
    group = RunGroup(tmp_path / "g")
    assert group.launch_info() == {} and group.workers() == [] and group.abort_info() is None
    group.create()
    group.write_launch_info({"parallel": 2})
    group.write_worker(2, {"seed": 2, "state": "running"})
    group.write_worker(1, {"seed": 1, "state": "done"})
    assert group.launch_info() == {"parallel": 2}
    assert [w["seed"] for w in group.workers()] == [1, 2]
    assert "updated" in group.worker(1)
    group.request_abort("first", 1, "00001", 255)
    group.request_abort("second", 2, "00002", 1)
    assert group.abort_info()["reason"] == "first"
    group.clear_abort()
    assert group.abort_info() is None
    assert not [p for p in group.path.rglob("*.tmp")]
    run = group.run("00001")
    assert run.log() == run.path / "algo_output.log"
    run.path.mkdir(parents=True)
    run.script_log.write_text("x")
    assert run.log().name == "process_output.log"


def test_run_ids_cannot_lead_out_of_the_folder(tmp_path):
    group = RunGroup(tmp_path / "g")
    for bad in ("../../x", "/etc", "0001", "00001/..", "", "abcde"):
        with pytest.raises(ValueError):
            group.run(bad)
    group.create()
    (group.layout.running / "00001.json").write_text(json.dumps({"run_id": "../../evil"}))
    assert group.running() == []


def test_tuner_time_counts_each_run_once_and_a_reused_result_not_at_all():
    """tunerTimeout is the time the target algorithm ran: a worker that took another's
    result for an identical trial ran nothing, and each run counts at least MIN_RUNTIME, as
    in SMAC 2.10's run history."""
    runs = [{"runtime": 5.0}, {"runtime": 5.0, "reused_from": "00001"}, {"runtime": 0.0}]
    assert tuner_time_used(runs) == 5.0 + MIN_RUNTIME


def test_trial_key_identifies_identical_trials():
    a = record("00001", 1, 2.0)
    b = {**record("00002", 2, 2.0), "config": {"x": 2.0}}
    assert trial_key(a) == trial_key(b)
    assert trial_key(a) != trial_key({**a, "seed": 5})
    assert os.path.basename(str(RunGroup("rel").path)) == "rel"


def _claim_trial_in_a_process(path: str, queue, done) -> None:
    queue.put(RunGroup(path).claim_trial(("{}", "fold-1", -1, None), f"{os.getpid():05d}", 1))
    done.wait(60)  # the holder lives until every process has tried


def test_one_of_the_workers_whose_proposals_meet_runs_the_trial(tmp_path):
    """Concurrent claims of one trial: exactly one wins; its release, or its holder's death,
    lets the next claim win; other trials are independent."""
    group = RunGroup(tmp_path / "g")
    group.create()
    key = ("{}", "fold-1", -1, None)
    context = multiprocessing.get_context("spawn")
    queue, done = context.Queue(), context.Event()
    processes = [
        context.Process(target=_claim_trial_in_a_process, args=(str(group.path), queue, done))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    wins = [queue.get(timeout=60) for _ in processes]
    done.set()
    for process in processes:
        process.join(60)
    assert wins.count(True) == 1
    # the winner has exited since: its claim is stale and the next claim takes it over
    assert group.claim_trial(key, "00005", 1) and group.trial_claimed(key)
    assert not group.claim_trial(key, "00006", 2)  # held by this live process
    assert group.claim_trial(("{}", "fold-2", -1, None), "00006", 2)
    group.release_trial(key)
    assert not group.trial_claimed(key) and group.claim_trial(key, "00007", 2)


def test_a_takeover_never_removes_a_claim_made_after_the_one_it_found(tmp_path, monkeypatch):
    """A worker finds trial KEY claimed; as it looks at the holder under the lock, the holder
    has given the claim back, and right after a third worker claims it (without the lock, as
    first claims are). The takeover removed that new claim and took the trial: both ran it."""
    from smac_bridge import rundata

    group = RunGroup(tmp_path / "g")
    group.create()
    key = ('{"x": 1.0}', "no_instance", -1, None)
    assert group.claim_trial(key, "00001", 1)
    read = rundata.read_json_object

    def meanwhile(path):
        if path == group.layout.trial_claim(rundata._trial_name(key)):
            monkeypatch.setattr(rundata, "read_json_object", read)  # once
            group.release_trial(key)  # the holder gave it back
            found = read(path)
            assert group.claim_trial(key, "00002", 3)  # then a third worker's first claim won
            return found
        return read(path)

    monkeypatch.setattr(rundata, "read_json_object", meanwhile)
    assert not group.claim_trial(key, "00003", 2)
    holder = json.loads(group.layout.trial_claim(rundata._trial_name(key)).read_text())
    assert holder["run_id"] == "00002"


def test_a_resume_clears_the_trial_claims_of_dead_processes(tmp_path):
    """They stayed in trials/ after a crash, claims of trials nobody runs."""
    group = RunGroup(tmp_path / "g")
    group.create()
    context = multiprocessing.get_context("spawn")
    queue, done = context.Queue(), context.Event()
    done.set()  # the claimant exits at once
    dead = context.Process(target=_claim_trial_in_a_process, args=(str(group.path), queue, done))
    dead.start()
    assert queue.get(timeout=60)
    dead.join(60)
    live_key = ("{}", "fold-2", -1, None)
    assert group.claim_trial(live_key, "00002", 1)  # held by this live process
    assert len(list(group.layout.trial_claims.iterdir())) == 2
    group.release_stale_claims()
    assert len(list(group.layout.trial_claims.iterdir())) == 1 and group.trial_claimed(live_key)
    group.release_stale_claims(workers_stopped=True)  # the launcher knows all are stopped
    assert list(group.layout.trial_claims.iterdir()) == []


def test_units_above_a_smaller_limit_count_against_it(tmp_path):
    """A resume with a smaller budget-limit filled the numbers an earlier launch gave back
    (a continued training's epochs) and went past the limit: 23 of 22 units."""
    group = RunGroup(tmp_path / "g")
    group.create()
    assert group.claim_units("00001", 20, 60) and group.claim_units("00002", 3, 60)
    group.release_units("00001", 2)  # a continued training gave two epochs back: 21 held
    assert group.units_used() == 21
    assert not group.claim_units("00003", 2, 22)  # one unit is left of 22, not the two gaps
    assert group.claim_units("00003", 1, 22) and group.units_used() == 22
    assert not group.claim_units("00004", 1, 22)


def claim_three_units(path: str, run_id: str, start, results) -> None:
    start.wait()
    results.put(RunGroup(path).claim_units(run_id, 3, 10))


def test_two_claims_for_the_last_units_give_them_to_one(tmp_path):
    """Each of two claims linked part of the last 4 free units, found too few, and gave its
    part back: both workers stopped with budget-limit used up while a trial still fitted."""
    context = multiprocessing.get_context("fork")
    for round_number in range(60):
        group = RunGroup(tmp_path / f"g{round_number}")
        group.create()
        assert group.claim_units("00001", 6, 10)
        start, results = context.Barrier(2), context.Queue()
        procs = [
            context.Process(target=claim_three_units, args=(str(group.path), run, start, results))
            for run in ("00002", "00003")
        ]
        for proc in procs:
            proc.start()
        got = sorted(results.get(timeout=30) for _ in procs)
        for proc in procs:
            proc.join(10)
        assert got == [False, True], f"round {round_number}"
        assert group.units_used() == 9


def test_a_step_that_is_nan_or_infinite_is_no_point_of_the_curve(tmp_path):
    """`report(q, step=float("nan"))` then a crash: the worker's count of trained epochs
    died on ceil(nan), and every worker of the launch with it."""
    group = RunGroup(tmp_path / "g")
    group.create()
    group.run("00001").path.mkdir(parents=True)
    group.run("00001").progress.write_text(
        '{"step": 1, "quality": 0.5}\n{"step": NaN, "quality": 0.4}\n'
        '{"step": Infinity, "quality": 0.3}\n{"step": 2, "quality": 0.2}\n'
    )
    assert [p["step"] for p in group.progress("00001")] == [1, 2]


DEAD_WORKER = {"host": "this-host", "pid": 2**22 + 1, "pid_start": "gone"}


@pytest.mark.parametrize(
    ("steps", "marker", "kept"),
    [
        ("1 2", {"continued_from": None}, 2),  # epochs 1 and 2 were trained: spent
        ("1 2", {"continued_from": float("inf")}, 2),  # edited by hand: not a continuation
        ("1 2", {"continued_from": float("nan")}, 2),
        ("100 200 300", {"continued_from": None}, 9),  # batches: training, of unknown epochs
        ("", {"continued_from": None}, 0),  # nothing shows that it trained
        ("1 2", {}, 0),  # a marker from before `continued_from`: all back, as it was
        ("1 2", {"continued_from": None, "pid": None}, 0),  # no worker to name the keeper
    ],
)
def test_a_dead_workers_trial_keeps_the_units_its_curve_shows_trained(
    tmp_path, steps: str, marker: dict, kept: int
):
    """A worker died (kill -9) while its trial trained; the cleanup (a resume, another worker)
    keeps counted what the curve shows trained, and a marker with odd fields fails nothing."""
    group = RunGroup(tmp_path / "g")
    group.create()
    run_id = group.claim_slot(10, 1)
    assert run_id is not None and group.claim_units(run_id, 9, 20)
    group.run(run_id).path.mkdir(parents=True)
    lines = [json.dumps({"step": int(step), "quality": 0.5}) for step in steps.split()]
    group.run(run_id).progress.write_text("".join(line + "\n" for line in lines))
    fields = {"run_id": run_id, "worker": 1, **DEAD_WORKER, **marker}
    group.layout.marker(run_id).write_text(
        json.dumps({k: v for k, v in fields.items() if v is not None or k == "continued_from"})
    )
    assert group.release_stale_claims(workers_stopped=True) == [run_id]
    assert group.units_used() == kept and group.unit_holders() == set()
    assert group.release_stale_claims(workers_stopped=True) == []
    assert group.units_used() == kept  # kept once


def test_a_unit_claim_edited_by_hand_is_held_by_no_run(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    assert group.claim_units("00001", 2, 5)
    group.layout.unit(5).write_bytes(b"\xe9")
    assert group.unit_holders() == {"00001"} and group.units_used() == 3
    assert not group.claim_units("00002", 3, 5) and group.claim_units("00002", 2, 5)


def test_curves_are_those_of_runs_that_hold_their_slot(tmp_path):
    """A trial stopped by Ctrl-C is not recorded (a resume runs its slot again), but its
    folder kept the curve it had begun: plots and the dashboard drew a run that does not
    exist."""
    group = RunGroup(tmp_path / "g")
    group.create()
    for run_id in ("00001", "00002", "00003"):
        folder = group.run(run_id).path
        folder.mkdir(parents=True)
        (folder / "progress.jsonl").write_text('{"step": 1, "quality": 0.5}\n')
    for _ in range(3):
        group.claim_slot(3, 1)
    group.append_record(1, record("00001", 1))
    group.release_slot("00002")  # stopped: a resume runs it again
    # 00003 is running, or has ended and is about to be recorded
    assert sorted(group.curves()) == ["00001", "00003"]  # not the abandoned 00002


def test_files_a_command_writes_never_land_inside_the_rungroup_it_reads(tmp_path, cli):
    """`results --csv out/g/runs-1.jsonl` replaced a worker's records and `report --html
    out/g/launch.json` the launch's options; --csv and --curves on one file kept only one."""
    group = RunGroup(tmp_path / "out" / "g")
    group.create()
    group.append_record(1, record("00001", 1, quality=0.5))
    group.write_launch_info({"budget": 1})
    kept = {path: path.read_bytes() for path in group.path.rglob("*") if path.is_file()}
    inside = [
        ("results", "--csv", str(group.layout.records(1))),
        ("results", "--curves", str(group.path / "curves.csv")),
        ("report", "--html", str(group.layout.launch)),
        ("best", "--copy-to", str(group.path / "runs" / "00001" / "artifacts" / "copy")),
        ("plot", "--out", str(group.path)),  # wrote g/g/*.png: a later launch found g not empty
        ("plot", "--out", str(tmp_path / "out")),  # wrote g/*.png, beside its runs
    ]
    for command, option, path in inside:
        done = cli(command, str(tmp_path / "out"), option, path, cwd=tmp_path)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        said = f": the path is inside the rungroup {group.path}, whose own files it could"
        assert said in done.stderr
    assert {path: path.read_bytes() for path in group.path.rglob("*") if path.is_file()} == kept
    for option in ("--csv", "--curves"):  # an empty shell variable: wrote nothing, exit 0
        done = cli("results", str(tmp_path / "out"), option, "", cwd=tmp_path)
        assert done.returncode == 2 and "expected a file name, got ''" in done.stderr
    same = str(tmp_path / "table.csv")
    for spelling in (same, "./table.csv"):  # the same file, however the path is written
        done = cli(
            "results", str(tmp_path / "out"), "--csv", same, "--curves", spelling, cwd=tmp_path
        )
        assert done.returncode == 2 and "name another file than --csv" in done.stderr
        assert not (tmp_path / "table.csv").exists()
    other = RunGroup(tmp_path / "out" / "h")  # a copy into another rungroup's runs/ was a
    other.create()  # run there, which its `tail` picked and failed on
    fake_run = str(other.layout.runs / "00099")
    done = cli("best", str(group.path), "--copy-to", fake_run, cwd=tmp_path)
    assert done.returncode == 1 and f"is inside the rungroup {other.path}" in done.stderr


@pytest.mark.parametrize(
    ("steps", "continued_from", "solved", "trained"),
    [
        ([1, 2.5], None, False, 3),  # stopped inside epoch 3: that epoch was spent
        ([1, 2.5], None, True, 9),  # finished: its whole budget
        ([4, 5], 3.0, False, 2),  # continued from 3 epochs: only what it trained again
        ([1, 2, 40], None, False, None),  # steps of batches, not epochs: all units count
        # a checkpoint of epoch 4 behind a curve at 5: epochs 5 to 9 trained (all 9 counted)
        ([5, 6, 7, 8, 9], 5.0, True, 5),
        ([1, 2], 5.0, False, 2),  # trained afresh after all
    ],
)
def test_units_a_trial_trained_count_every_epoch_it_began(steps, continued_from, solved, trained):
    assert units_trained(steps, 9, continued_from, solved) == trained


@pytest.mark.parametrize(("solved", "trained"), [(True, 3), (False, 0)])
def test_a_continued_trial_without_a_step_of_its_own_trained_what_was_left(solved, trained):
    """A re-run whose attempt had trained all 9 epochs, or one stopped before its first new
    epoch, was charged all its units: its curve held only the attempt's points."""
    assert units_trained([], 9, 9.0, solved, carried=True) == 0
    assert units_trained([], 9, 6.0, solved, carried=True) == trained
    assert units_trained([], 9, 6.0, solved) is None  # no curve at all: all count


LINES = st.lists(
    st.one_of(
        st.builds(
            lambda s, q, c: json.dumps(
                {"step": s, "quality": q, **({"carried": True} if c else {})}
            ),
            st.integers(-3, 40),
            st.one_of(st.none(), st.floats(-1, 1)),
            st.booleans(),
        ),
        st.sampled_from(["{torn", "[]", '{"step": NaN}', "not json"]),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(LINES, st.lists(st.integers(0, 400), max_size=6))
def test_a_growing_curve_read_piece_by_piece_is_the_curve_read_whole(tmp_path_factory, lines, cuts):
    """A pruner reads a running trial's curve at every look; it reads only what was appended
    since the last one (a curve of batches cost its whole length at each), and must see what
    reading the whole file sees, whichever bytes a look falls between."""
    path = tmp_path_factory.mktemp("curve") / "progress.jsonl"
    data = "".join(line + "\n" for line in lines).encode()
    curves = GrowingCurves()
    for cut in sorted(cut % (len(data) + 1) for cut in cuts):
        path.write_bytes(data[:cut])  # the same file, longer: as report() appends
        assert curves.read(path) == read_progress(path)
    path.write_bytes(data)
    assert curves.read(path) == read_progress(path)
    shorter = data[: len(data) // 2]  # a re-run afresh in the same folder: cut short
    path.write_bytes(shorter)
    assert curves.read(path) == read_progress(path)
    replaced = path.with_name("new")  # a new file under the name (an inode of its own)
    replaced.write_bytes(data)
    replaced.replace(path)
    assert curves.read(path) == read_progress(path)


def test_a_carried_curve_comes_first_and_yields_to_a_script_that_trained_afresh(tmp_path):
    """A re-run's curve starts with its stopped attempt's points; a script that ignored its
    checkpoint and reported from epoch 1 again drew the curve twice, and was told it had
    trained only the epochs past the attempt's."""
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text("".join(json.dumps({"step": s, "quality": 1 / s}) + "\n" for s in (1, 2, 3)))
    curve = tmp_path / "progress.jsonl"
    carry_progress(earlier, curve, up_to=2)
    with curve.open("a") as lines:
        lines.write(json.dumps({"step": 3, "quality": 0.3}) + "\n")
    points = read_progress(curve)
    assert [p["step"] for p in points] == [1, 2, 3] and trained_steps(points) == ([3], True)
    with curve.open("a") as lines:  # afresh: its own epoch 1 after the carried ones
        lines.write(json.dumps({"step": 1, "quality": 0.9}) + "\n")
    points = read_progress(curve)
    assert [p["step"] for p in points] == [3, 1] and trained_steps(points) == ([3, 1], False)
    whole = tmp_path / "whole.jsonl"  # a launch without a budget: all of the attempt's curve
    carry_progress(earlier, whole, up_to=math.inf)
    assert [p["step"] for p in read_progress(whole) if p.get("carried")] == [1, 2, 3]


def test_a_later_stop_request_replaces_the_earlier_note(tmp_path):
    """A user's stop after a pruning rule's kept the rule's note (the run read as pruned),
    and a shorter note over a longer one left its end: `interruptedn rule at step 3`."""
    run = RunDir(tmp_path / "run")
    write_stop_request(run, "pruned: median rule at step 3")
    write_stop_request(run, INTERRUPT_NOTE)
    assert stop_note(run) == INTERRUPT_NOTE
    write_stop_request(run)  # smac-bridge stop
    assert stop_note(run) == ""
