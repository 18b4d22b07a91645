"""The run-data directory: records, budget slots, stale claims (real files and processes)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

from smac_bridge.rundata import RecordReader, RunGroup, first_per_key, format_run_id, trial_key


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
    assert info is not None and {"worker", "host", "pid", "claimed"} <= set(info)


def test_records_skip_a_half_written_line_and_reused_results(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1, 3.0))
    group.append_record(2, record("00002", 2, 2.0))
    with open(group.records_path(2), "ab") as handle:  # a writer caught mid-line
        handle.write(json.dumps(record("00003", 2, 1.0)).encode()[:25])
    assert [r["run_id"] for r in group.records()] == ["00001", "00002"]
    with open(group.records_path(2), "ab") as handle:
        handle.write(json.dumps(record("00003", 2, 1.0)).encode()[25:] + b"\n")
    group.append_record(1, record("00003", 1, 1.0, reused_from="00003"))
    assert [r["run_id"] for r in group.records()] == ["00001", "00002", "00003"]
    assert len(group.records(include_reused=True)) == 4


def test_reader_returns_only_new_records_and_finds_new_files(tmp_path):
    group = RunGroup(tmp_path / "g")
    group.create()
    group.append_record(1, record("00001", 1))
    reader = RecordReader(group, exclude_seed=1)
    assert reader.poll() == []
    group.append_record(2, record("00002", 2))
    assert [r["run_id"] for r in reader.poll()] == ["00002"]
    assert reader.poll() == []
    group.append_record(3, record("00003", 3))
    group.append_record(1, record("00004", 1))
    assert [r["run_id"] for r in reader.poll()] == ["00003"]


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
    claim = group.slots_dir / f"{stale}.claim"
    claim.write_text(json.dumps({**json.loads(claim.read_text()), "pid": dead_pid}))
    group.mark_running({"run_id": stale, "worker": 2, "pid": dead_pid})
    elsewhere = group.claim_slot(10, 3)
    other = group.slots_dir / f"{elsewhere}.claim"
    other.write_text(json.dumps({**json.loads(other.read_text()), "host": "another-host"}))

    assert group.release_stale_claims() == [stale]
    assert group.claimed() == sorted([finished, live, elsewhere])
    assert group.running() == []
    assert group.claim_slot(10, 1) == stale  # the freed slot is claimed again first
    assert group.release_stale_claims(any_host=True) == sorted([live, elsewhere, stale])


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
    group.request_abort("first", 1, "00001")
    group.request_abort("second", 2, "00002")
    assert group.abort_info()["reason"] == "first"
    group.clear_abort()
    assert group.abort_info() is None
    assert not [p for p in group.path.rglob("*.tmp")]
    assert group.run_log("00001") == group.run_dir("00001") / "algo_output.log"
    (group.run_dir("00001")).mkdir(parents=True)
    (group.run_dir("00001") / "process_output.log").write_text("x")
    assert group.run_log("00001").name == "process_output.log"


def test_trial_key_identifies_identical_trials():
    a = record("00001", 1, 2.0)
    b = {**record("00002", 2, 2.0), "config": {"x": 2.0}}
    assert trial_key(a) == trial_key(b)
    assert trial_key(a) != trial_key({**a, "seed": 5})
    assert first_per_key([a, b])[trial_key(a)]["run_id"] == "00001"
    assert os.path.basename(str(RunGroup("rel").path)) == "rel"
