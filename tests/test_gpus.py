"""GPU discovery, static worker slots, and leases held by real processes through lock files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from smac_bridge.errors import InputError
from smac_bridge.gpus import (
    LOCK_DIR_ENV,
    claim_worker_gpus,
    default_lock_dir,
    discover_gpus,
    lease_gpu,
    parse_gpu_choice,
    parse_worker_gpu,
    worker_gpus,
)

PY = sys.executable


@pytest.mark.parametrize(
    ("fake", "expected"),
    [("4", ["0", "1", "2", "3"]), ("2,5", ["2", "5"]), ("0", []), ("", []), (" 1 ", ["0"])],
)
def test_fake_gpus_come_first(fake: str, expected: list[str]) -> None:
    env = {"SMAC_BRIDGE_FAKE_GPUS": fake, "CUDA_VISIBLE_DEVICES": "7"}
    assert discover_gpus(env) == expected


@pytest.mark.parametrize("fake", ["-2", "0,,1", "cpu", "1.5", "2x"])  # ids as CUDA takes them
def test_bad_fake_gpus(fake: str) -> None:
    with pytest.raises(InputError, match="SMAC_BRIDGE_FAKE_GPUS"):
        discover_gpus({"SMAC_BRIDGE_FAKE_GPUS": fake})


@pytest.mark.parametrize(
    ("visible", "expected"),
    [("", []), ("-1", []), ("2,3", ["2", "3"]), ("0,-1,1", ["0"]), ("GPU-ab12", ["GPU-ab12"]),
     ("NoDevFiles", [])],  # what older Slurm versions set for a job without GPUs
)  # fmt: skip
def test_cuda_visible_devices(visible: str, expected: list[str]) -> None:
    assert discover_gpus({"CUDA_VISIBLE_DEVICES": visible}) == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("", ""), ("none", ""), ("3", "3"), (" 0, 1 ", "0,1"), ("0,0", "0"), ("1,0,1", "1,0")],
)
def test_a_workers_gpu_is_ids_or_the_cpu(choice: str, expected: str) -> None:
    assert parse_worker_gpu(choice) == expected


@pytest.mark.parametrize("choice", ["cpu", "auto", "0,x"])
def test_a_workers_gpu_refuses_what_is_no_id(choice: str) -> None:
    """They became CUDA_VISIBLE_DEVICES=cpu (or none, or auto) in the script."""
    with pytest.raises(InputError, match="--gpu"):
        parse_worker_gpu(choice)


def test_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert discover_gpus({}) == []  # no binary, no GPU
    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        "echo 'GPU 0: NVIDIA H200 (UUID: GPU-1111)'\n"
        "echo 'GPU 1: NVIDIA H200 (UUID: GPU-3333)'\n"
    )
    smi.chmod(0o755)
    assert discover_gpus({}) == ["0", "1"]
    smi.write_text('#!/bin/sh\necho "No devices were found"\nexit 6\n')
    assert discover_gpus({}) == []  # a machine whose GPUs are gone: no failure to warn of


def test_a_gpu_in_mig_mode_is_its_mig_devices(tmp_path: Path, monkeypatch) -> None:
    """A CUDA process sees one MIG device: `--gpus auto` gave every trial GPU 0, so that
    they all trained on its first MIG device while the others stood idle. The UUIDs are in
    both of the forms drivers list."""
    monkeypatch.setenv("PATH", str(tmp_path))
    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        "echo 'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5d5ba0d6-a1b2)'\n"
        "echo '  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3)'\n"
        "echo '  MIG 1g.10gb     Device  1: (UUID: MIG-cb6c8a5e-0b37-5a2e)'\n"
        "echo 'GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-8932f937-d72c)'\n"
        "echo 'GPU 2: NVIDIA A100-SXM4-80GB (UUID: GPU-0a1b2c3d-e4f5)'\n"
        "echo '  MIG 7g.80gb Device 0: (UUID: MIG-GPU-0a1b2c3d-e4f5/1/0)'\n"
    )
    smi.chmod(0o755)
    found = discover_gpus({})
    assert found == [
        "MIG-c6d4f1ef-42e4-5de3",
        "MIG-cb6c8a5e-0b37-5a2e",
        "1",
        "MIG-GPU-0a1b2c3d-e4f5/1/0",
    ]
    assert parse_gpu_choice(",".join(found)) == found  # what --gpus takes as well


def test_a_failing_nvidia_smi_is_said(tmp_path: Path, monkeypatch, capsys) -> None:
    """A driver that does not answer: the trials trained on the CPU without a word."""
    monkeypatch.setenv("PATH", str(tmp_path))
    smi = tmp_path / "nvidia-smi"
    smi.write_text(
        "#!/bin/sh\n"
        "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'\n"
        "exit 9\n"
    )
    smi.chmod(0o755)
    assert discover_gpus({}) == []
    assert capsys.readouterr().err == (
        "warning: nvidia-smi -L failed (exit 9: NVIDIA-SMI has failed because it could not"
        " communicate with the NVIDIA driver.): no GPU found, trials run on the CPU\n"
    )


def test_gpus_option_takes_ids_as_cuda_does() -> None:
    ids = " 0, 3,GPU-8932f937-d72c,MIG-GPU-8932f937/1/0,MIG-0a1b "
    assert parse_gpu_choice(ids) == [
        "0",
        "3",
        "GPU-8932f937-d72c",
        "MIG-GPU-8932f937/1/0",
        "MIG-0a1b",
    ]
    assert parse_gpu_choice("none") == []


@pytest.mark.parametrize("choice", ["cpu", "0,gpu1", "cuda:0", ",", "0,,1", "1,", ""])
def test_gpus_option_refuses_what_is_no_gpu_id(choice: str) -> None:
    # `--gpus cpu` must not give every trial CUDA_VISIBLE_DEVICES=cpu
    with pytest.raises(InputError, match="--gpus"):
        parse_gpu_choice(choice)


def test_worker_gpus_round_robin() -> None:
    assert worker_gpus(["0", "1"], 5) == ["0", "1", "0", "1", "0"]
    assert worker_gpus([], 3) == [None, None, None]
    with pytest.raises(ValueError):
        worker_gpus(["0"], 0)


def test_default_lock_dir(tmp_path: Path) -> None:
    assert default_lock_dir({"SMAC_BRIDGE_GPU_LOCK_DIR": str(tmp_path)}) == tmp_path
    assert default_lock_dir({}).name == f"smac-bridge-gpu-locks-{os.getuid()}"


def test_each_slurm_job_leases_its_gpus_apart(tmp_path: Path) -> None:
    """Two Slurm jobs on one node both see their own GPU as 0: in one lock folder the second
    job's trials queued behind the first's."""
    first, second = (default_lock_dir({"SLURM_JOB_ID": job}) for job in ("4242", "4243"))
    assert first != second and first.parent == second.parent
    assert first.name == f"smac-bridge-gpu-locks-{os.getuid()}-slurm-4242"
    assert default_lock_dir({"SLURM_JOB_ID": "../x"}).parent == first.parent
    with lease_gpu(["0"], lock_dir=tmp_path / first.name, timeout=0) as one:
        with lease_gpu(["0"], lock_dir=tmp_path / second.name, timeout=0) as other:
            assert one.gpu == other.gpu == "0"  # both jobs run on their own GPU 0 at once


def test_no_gpus_lease_the_cpu(tmp_path: Path) -> None:
    with lease_gpu([], lock_dir=tmp_path, timeout=0) as lease:
        assert lease.gpu is None and lease.fd is None


def test_slots_per_gpu_and_timeout(tmp_path: Path) -> None:
    with lease_gpu(["0"], 2, lock_dir=tmp_path) as first:
        with lease_gpu(["0"], 2, lock_dir=tmp_path) as second:
            assert first.gpu == second.gpu == "0"
            with pytest.raises(TimeoutError):
                with lease_gpu(["0"], 2, lock_dir=tmp_path, timeout=0.3):
                    pass
        with lease_gpu(["0"], 2, lock_dir=tmp_path, timeout=0) as again:
            assert again.gpu == "0"


def test_a_lease_goes_to_the_gpu_with_the_most_free_slots(tmp_path: Path) -> None:
    """With two slots per GPU, a trial freed slot 0 of GPU 0 while slot 1 stayed busy: the
    next lease took that slot 0 beside the running trial, and GPU 1 stayed idle."""
    leases = [ExitStack() for _ in range(3)]
    gpus = [
        stack.enter_context(lease_gpu(["0", "1"], 2, lock_dir=tmp_path, timeout=0)).gpu
        for stack in leases
    ]
    assert gpus == ["0", "1", "0"]  # spread, then shared from the first GPU on
    leases[0].close()  # GPU 0's first trial ends, its second runs on
    leases[1].close()  # GPU 1 is idle
    with lease_gpu(["0", "1"], 2, lock_dir=tmp_path, timeout=0) as next_one:
        assert next_one.gpu == "1"
    leases[2].close()
    with lease_gpu(["1", "0"], 2, lock_dir=tmp_path, timeout=0) as ordered:
        assert ordered.gpu == "1"  # all idle: the first one given


def test_a_wrapper_counts_the_slots_a_launch_took_beyond_its_own(tmp_path: Path) -> None:
    """A launch that found GPU 0 busy shared it on slot 1; slot 0's holder ended. A wrapper
    with one slot per GPU looked at slot 0 only, found it free and ran beside the launch's
    trial."""
    from smac_bridge.gpus import _lock_name
    from smac_bridge.layout import try_lock

    tmp_path.chmod(0o700)
    launch = try_lock(tmp_path / _lock_name("0", 1))
    assert launch is not None
    try:
        with pytest.raises(TimeoutError), lease_gpu(["0"], 1, lock_dir=tmp_path, timeout=0.3):
            pass
        with lease_gpu(["0", "1"], 1, lock_dir=tmp_path, timeout=0) as other:
            assert other.gpu == "1"
        with lease_gpu(["0"], 2, lock_dir=tmp_path, timeout=0) as shared:
            assert shared.gpu == "0"  # two per GPU: room beside it
    finally:
        os.close(launch)


HOLDER = """\
import os, sys, time
from pathlib import Path
from smac_bridge.gpus import lease_gpu
lock_dir, gpus, out, hold = sys.argv[1], sys.argv[2].split(","), Path(sys.argv[3]), sys.argv[4]
with lease_gpu(gpus, 1, lock_dir=Path(lock_dir)) as lease:
    gpu = lease.gpu
    start = time.time()
    (out / f"held-{os.getpid()}").write_text(gpu)
    if hold == "forever":
        time.sleep(60)
    elif hold == "both":  # hold until the other process holds its own slot too
        while len(list(out.glob("held-*"))) < 2:
            time.sleep(0.01)
    else:
        time.sleep(float(hold))
    end = time.time()
(out / f"interval-{os.getpid()}").write_text(f"{start} {end} {gpu}")
"""


def start_holders(tmp_path: Path, gpus: str, hold: str, count: int) -> list[subprocess.Popen]:
    script = tmp_path / "holder.py"
    script.write_text(textwrap.dedent(HOLDER))
    locks = tmp_path / "locks"
    return [
        subprocess.Popen([PY, str(script), str(locks), gpus, str(tmp_path), hold])
        for _ in range(count)
    ]


def test_two_processes_never_share_a_slot(tmp_path: Path) -> None:
    for proc in start_holders(tmp_path, "0", "0.5", 2):
        assert proc.wait(timeout=30) == 0
    intervals = sorted(
        tuple(map(float, p.read_text().split()[:2])) for p in tmp_path.glob("interval-*")
    )
    assert len(intervals) == 2
    (_, first_end), (second_start, _) = intervals
    assert first_end <= second_start


def test_two_processes_get_different_gpus(tmp_path: Path) -> None:
    for proc in start_holders(tmp_path, "0,1", "both", 2):
        assert proc.wait(timeout=30) == 0
    held = sorted(p.read_text() for p in tmp_path.glob("held-*"))
    assert held == ["0", "1"]


def test_a_killed_holder_releases_its_lease(tmp_path: Path) -> None:
    (holder,) = start_holders(tmp_path, "0", "forever", 1)
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob("held-*")):
        assert time.monotonic() < deadline and holder.poll() is None
        time.sleep(0.02)
    with pytest.raises(TimeoutError):
        with lease_gpu(["0"], 1, lock_dir=tmp_path / "locks", timeout=0.3):
            pass
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=10) == -signal.SIGKILL
    with lease_gpu(["0"], 1, lock_dir=tmp_path / "locks", timeout=5) as lease:
        assert lease.gpu == "0"


CLAIMER = """\
import json, os, sys, time
from pathlib import Path
from smac_bridge.gpus import claim_worker_gpus
out, count = Path(sys.argv[1]), int(sys.argv[2])
while not (out / "go").exists():  # start as one, as launches started by one script do
    pass
claimed = claim_worker_gpus([str(gpu) for gpu in range(count)], 1)
(out / f"claimed-{os.getpid()}").write_text(json.dumps([claimed.slots, len(claimed.fds)]))
while len(list(out.glob("claimed-*"))) < count:  # hold the lease until every one has chosen
    time.sleep(0.01)
"""


def test_launches_that_choose_at_once_each_get_a_gpu_of_their_own(tmp_path: Path) -> None:
    """Choosing locks every free slot for a moment: a launch choosing at the same moment read
    them as taken, and two launches put their workers on one GPU, one of them unleased."""
    script, locks, count = tmp_path / "claimer.py", tmp_path / "locks", 6
    script.write_text(CLAIMER)
    env = {**os.environ, "SMAC_BRIDGE_GPU_LOCK_DIR": str(locks), "SMAC_BRIDGE_FAKE_GPUS": ""}
    claimers = [
        subprocess.Popen([PY, str(script), str(tmp_path), str(count)], env=env)
        for _ in range(count)
    ]
    time.sleep(1.0)  # every claimer waits at the start
    (tmp_path / "go").touch()
    for claimer in claimers:
        assert claimer.wait(timeout=60) == 0
    claimed = [json.loads(path.read_text()) for path in tmp_path.glob("claimed-*")]
    assert sorted(slots[0] for slots, _ in claimed) == [str(gpu) for gpu in range(count)]
    assert all(leases == 1 for _, leases in claimed)


def test_a_lock_folder_that_is_not_private_is_said_to_leave_the_gpus_unleased(tmp_path):
    """The launch dropped its leases without a word, and shared GPU 0 with every launch."""
    folder = tmp_path / "locks"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOCK_DIR_ENV, str(folder))
        claimed = claim_worker_gpus(["0", "1"], 2)
    assert claimed.slots == ["0", "1"] and claimed.fds == []
    assert claimed.unleased is not None and "mode 755: expected 700" in claimed.unleased


def test_only_gpus_that_other_launches_lease_are_called_busy(tmp_path):
    """Every launch warned that its GPUs also ran another launch's trials, on an idle machine;
    a GPU a standalone wrapper leases is named, with its one lease."""
    folder = tmp_path / "locks"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOCK_DIR_ENV, str(folder))
        idle = claim_worker_gpus(["0", "1"], 2)
        for fd in idle.fds:
            os.close(fd)
        assert idle.slots == ["0", "1"] and idle.busy == {}
        with lease_gpu(["1"], 1, lock_dir=folder, timeout=5):
            shared = claim_worker_gpus(["0", "1"], 2)
        for fd in shared.fds:
            os.close(fd)
    assert shared.busy == {"1": 1}
