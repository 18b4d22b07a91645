"""Find GPUs and hand out GPU slots, leased through lock files: a launch leases one for each
worker, for the launch's life, and a standalone wrapper one for each trial, so that they
see each other's trials on one machine.

Leases use `flock` on one file per slot rather than pid files, because the kernel drops the lock
when its holder dies, however it dies: a wrapper killed with SIGKILL never blocks a GPU.

The lock folder must be private: in a shared temp dir another user could create it first (mode
0777) and hold a slot's lock forever. A folder is only used when it is a real directory owned by
this user with no permission bits for group or others; the default folder is created so, and
when its name is taken the next name of a fixed sequence is used (all wrappers of this user
walk the same sequence, so they still meet in one folder).
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smac_bridge.errors import InputError
from smac_bridge.layout import held_lock, try_lock

FAKE_ENV = "SMAC_BRIDGE_FAKE_GPUS"
GPU_LEASED_ENV = "SMAC_BRIDGE_GPU_LEASED"  # set for a launch's workers: the launch leases
LOCK_DIR_ENV = "SMAC_BRIDGE_GPU_LOCK_DIR"
_LEASE_POLL = 0.2
_NVIDIA_SMI_GPU = re.compile(r"GPU (\d+):")
_NVIDIA_SMI_MIG = re.compile(r"\s+MIG .*\(UUID: (MIG-[0-9A-Za-z/-]+)\)")
_GPU_ID = re.compile(r"\d+|(GPU|MIG)-[0-9A-Za-z/-]+")  # what CUDA_VISIBLE_DEVICES takes


def _fake_gpus(value: str) -> list[str]:
    """`4` means GPUs 0..3, `a,b` means those ids, `0` or empty means none."""
    value = value.strip()
    if not value:
        return []
    if value.lstrip("-").isdigit():
        count = int(value)
        if count < 0:
            raise InputError(None, None, f"{FAKE_ENV}={value}: expected a count >= 0 or GPU ids")
        return [str(i) for i in range(count)]
    ids = [part.strip() for part in value.split(",")]
    if any(_GPU_ID.fullmatch(part) is None for part in ids):
        raise InputError(
            None, None, f"{FAKE_ENV}={value!r}: expected a count or comma-separated GPU ids"
        )
    return ids


def _cuda_visible(value: str) -> list[str]:
    """CUDA's own reading: the list ends at the first entry that is no GPU id (`-1` hides all,
    and so does Slurm's `NoDevFiles` for a job without GPUs)."""
    ids: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if _GPU_ID.fullmatch(part) is None:
            break
        ids.append(part)
    return ids


_NO_DEVICES = 6
"""nvidia-smi's exit code for "No devices were found": no GPU, no failure."""
NVIDIA_SMI_TIMEOUT = 10.0
"""Seconds `nvidia-smi -L` may take: a hung driver must not hold a launch or a trial long."""


def _nvidia_smi() -> list[str]:
    """The GPUs `nvidia-smi -L` lists; none, with a warning on stderr, when it is installed
    but fails (a driver that does not answer): the trials would train on the CPU unsaid."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        result = subprocess.run(
            [exe, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError) as error:
        failure = str(error)
    else:
        if result.returncode in (0, _NO_DEVICES):
            return _devices_listed(result.stdout)
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        failure = f"exit {result.returncode}" + (f": {said[0]}" if said else "")
    print(
        f"warning: nvidia-smi -L failed ({failure}): no GPU found, trials run on the CPU",
        file=sys.stderr,
        flush=True,
    )
    return []


def _devices_listed(listing: str) -> list[str]:
    """The devices of an `nvidia-smi -L` LISTING a trial can be given: each GPU by its index,
    but a GPU in MIG mode by the UUIDs of its MIG devices, as CUDA needs them: a CUDA process
    sees one MIG device, and `CUDA_VISIBLE_DEVICES=0` put every trial on GPU 0's first one."""
    devices: list[str] = []
    migs: dict[str, list[str]] = {}
    for line in listing.splitlines():
        if gpu := _NVIDIA_SMI_GPU.match(line):
            devices.append(gpu.group(1))
        elif (mig := _NVIDIA_SMI_MIG.match(line)) and devices:
            migs.setdefault(devices[-1], []).append(mig.group(1))
    return [device for gpu in devices for device in migs.get(gpu, [gpu])]


def discover_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """GPU ids for this machine: the fake list, else CUDA_VISIBLE_DEVICES, else nvidia-smi."""
    env = os.environ if environ is None else environ
    if FAKE_ENV in env:
        return _fake_gpus(env[FAKE_ENV])
    if "CUDA_VISIBLE_DEVICES" in env:
        return _cuda_visible(env["CUDA_VISIBLE_DEVICES"])
    return _nvidia_smi()


def parse_gpu_choice(choice: str, option: str = "--gpus") -> list[str]:
    """The GPU ids of a `--gpus` value: `auto` (discover), `none`, or ids such as `0,1`."""
    choice = choice.strip()
    if choice == "auto":
        return discover_gpus()
    if choice == "none":
        return []
    gpus = [part.strip() for part in choice.split(",")]
    if not all(gpus):  # `0,,1` is a typo: reading it as `0,1` hides which GPU was meant
        raise InputError(None, None, f"{option} expects auto, none or ids like 0,1; got {choice!r}")
    for gpu in gpus:
        if _GPU_ID.fullmatch(gpu) is None:  # `cpu` must not become CUDA_VISIBLE_DEVICES=cpu
            raise InputError(
                None,
                None,
                f"{option}: {gpu!r} is no GPU id (a number such as 0, or a GPU-/MIG- UUID as"
                " nvidia-smi -L lists); none runs on the CPU",
            )
    return gpus


def unlisted_gpus(gpus: Sequence[str], given: str) -> str | None:
    """A warning when GIVEN (`--gpus`, ...) names GPUS that this machine does not list
    (discover_gpus, asked once: the fake list, CUDA_VISIBLE_DEVICES, nvidia-smi): a trial
    given one finds no device and trains on the CPU without a word. All of them when it
    lists none; only the numbers when it lists its GPUs otherwise (UUIDs)."""
    found = discover_gpus()
    if not found:
        missing = list(gpus)
    elif all(gpu.isdigit() for gpu in found):
        missing = [gpu for gpu in gpus if gpu.isdigit() and gpu not in found]
    else:
        missing = []
    if not missing:
        return None
    listed = ", ".join(found) or "none found through CUDA_VISIBLE_DEVICES or nvidia-smi"
    return (
        f"{given} names GPU {', '.join(missing)}, which this machine does not list ({listed}):"
        " its trials would find no GPU and train on the CPU"
    )


def parse_worker_gpu(choice: str) -> str:
    """`smac-bridge worker --gpu`: the ids its trials get as CUDA_VISIBLE_DEVICES, "" for the
    CPU ('' or none); `auto` is no choice for one worker's slot."""
    if choice.strip() in ("", "none"):
        return ""
    if choice.strip() == "auto":
        raise InputError(None, None, "--gpu expects GPU ids such as 0 or 0,1, or none; got 'auto'")
    # `0,0` would be one GPU seen twice by CUDA, and its second lease warned of as another's
    return ",".join(dict.fromkeys(parse_gpu_choice(choice, "--gpu")))


def worker_gpus(gpus: Sequence[str], parallel: int) -> list[str | None]:
    """GPU id of each of `parallel` workers, round robin; None (the CPU) when there is no GPU."""
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    if not gpus:
        return [None] * parallel
    return [gpus[i % len(gpus)] for i in range(parallel)]


@dataclass
class WorkerGpus:
    """The GPU of each worker of a launch, the lease locks that say so to this machine's other
    launches and wrappers (held for the launch's life), the GPUs they were using, and why no
    lease was taken, when none was."""

    slots: list[str | None]
    fds: list[int]
    busy: dict[str, int]  # GPU -> slots others held when the launch chose
    unleased: str | None = None


_PROBED_EXTRA = 8  # slots of each GPU probed beyond a launch's own, for others' leases


def claim_worker_gpus(gpus: Sequence[str], parallel: int) -> WorkerGpus:
    """Each of PARALLEL workers' GPU: the least used of GPUS, counting the leases of this
    machine's other launches and standalone wrappers (round robin when there are none), each
    held as a lease of its own. Without a private lock folder, or where its disk fails (full,
    read-only), round robin without leases."""
    slots = worker_gpus(gpus, parallel)
    if not gpus:
        return WorkerGpus(slots, [], {})
    try:
        chosen = bool(os.environ.get(LOCK_DIR_ENV))
        folder = private_lock_dir(default_lock_dir(), other_names=not chosen)
    except InputError as error:
        return WorkerGpus(slots, [], {}, str(error))
    except OSError as error:
        return WorkerGpus(slots, [], {}, _failure(error))
    width = parallel + _PROBED_EXTRA
    held: list[GpuLease] = []
    try:
        with held_lock(folder / _CHOOSING):
            probe = _free_slots(folder, gpus, width)
            _let_go(probe)
            free = Counter(gpu for gpu, _ in probe)
            busy = {gpu: width - free[gpu] for gpu in dict.fromkeys(gpus) if free[gpu] < width}
            for _ in range(parallel):
                if (lease := _least_loaded(folder, gpus, width)) is not None:
                    held.append(lease)
    except OSError as error:  # a lock file the disk could not make: no lease at all
        for fd in (lease.fd for lease in held if lease.fd is not None):
            os.close(fd)
        return WorkerGpus(slots, [], {}, _failure(error))
    fds = [lease.fd for lease in held if lease.fd is not None]
    if len(held) < parallel:  # every probed slot taken: share as round robin would
        return WorkerGpus(slots, fds, busy)
    return WorkerGpus([lease.gpu for lease in held], fds, busy)


def _failure(error: OSError) -> str:
    """An OSError as 'file: reason', as the launch's other errors name a file."""
    reason = error.strerror or str(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def lease_hand_started_worker_gpu(gpu: str) -> list[str]:
    """For `smac-bridge worker --gpu GPU` started by hand (GPU: ids, `0` or `0,1`): a lease
    of each GPU, held until this process exits, so that this machine's launches and wrappers
    see them taken; the warnings to give (a GPU already used by others, or no lease). A
    launch's own workers have theirs."""
    if os.environ.get(GPU_LEASED_ENV):
        return []
    warnings: list[str] = []
    for one in gpu.split(","):
        claimed = claim_worker_gpus([one], 1)
        if claimed.unleased is not None:
            unseen = f"GPU {gpu} is not leased ({claimed.unleased}): this machine's launches"
            return [unseen + " and wrappers cannot see it taken"]
        if claimed.busy:
            shared = f"GPU {one} also runs trials of another smac-bridge launch or wrapper on"
            warnings.append(shared + " this machine: their trials and this worker's share it")
    return warnings


def default_lock_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where lease lock files live: $SMAC_BRIDGE_GPU_LOCK_DIR, else a per-user temp folder,
    one per Slurm job: Slurm numbers each job's GPUs from 0, so two jobs on one node would
    otherwise queue for the same `gpu-0` slot while holding different GPUs."""
    env = os.environ if environ is None else environ
    if env.get(LOCK_DIR_ENV):
        return Path(env[LOCK_DIR_ENV])
    import tempfile

    name = f"smac-bridge-gpu-locks-{os.getuid()}"
    job = re.sub(r"[^\w.-]", "_", env.get("SLURM_JOB_ID", "").strip())
    if job:
        name += f"-slurm-{job}"
    return Path(tempfile.gettempdir()) / name


_OTHER_NAMES = 8  # names tried after the default lock folder's, when that is not private


def _unsafe(folder: Path) -> str | None:
    """Why FOLDER cannot hold this user's locks, after creating it private if missing."""
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        return error.strerror or str(error)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory (a symbolic link?)"
    if info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}, not by this user (uid {os.getuid()})"
    if info.st_mode & 0o077:
        return f"mode {stat.S_IMODE(info.st_mode):o}: expected 700 (private to this user)"
    return None


def private_lock_dir(folder: Path, other_names: bool) -> Path:
    """FOLDER (or, with OTHER_NAMES, the first of FOLDER-1, FOLDER-2, ... that is private);
    InputError when none is."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    names = [folder.name] + [f"{folder.name}-{n}" for n in range(1, _OTHER_NAMES + 1)]
    problems = []
    for name in names if other_names else names[:1]:
        problem = _unsafe(folder.with_name(name))
        if problem is None:
            return folder.with_name(name)
        problems.append(f"{name}: {problem}")
    raise InputError(folder.parent, None, "no private GPU lock folder: " + "; ".join(problems))


def _lock_name(gpu: str, slot: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", gpu)
    return f"gpu-{safe}-slot-{slot}.lock"


@dataclass(frozen=True)
class GpuLease:
    """A held GPU slot: its GPU (None: no GPUs, the CPU) and the lock's file descriptor. The
    fd is not inherited by programs the holder starts, unless it passes it on (a Supervisor's
    `keep_fds`): then the slot stays held until they end too."""

    gpu: str | None
    fd: int | None


_CHOOSING = "choosing.lock"
"""One process at a time counts and takes slots in a lock folder: counting locks every free
slot for a moment, which another process counting then would read as taken."""


def _free_slots(folder: Path, gpus: Sequence[str], probed: int) -> dict[tuple[str, int], int]:
    """The free slots among each GPU's first PROBED, each locked: (gpu, slot) -> fd. Where the
    disk cannot make a lock file, OSError, and none of them stays locked."""
    held: dict[tuple[str, int], int] = {}
    try:
        for gpu in dict.fromkeys(gpus):
            for slot in range(probed):
                if (fd := try_lock(folder / _lock_name(gpu, slot))) is not None:
                    held[gpu, slot] = fd
    except OSError:
        _let_go(held)
        raise
    return held


def _let_go(held: dict[tuple[str, int], int]) -> None:
    """Unlock the slots HELD."""
    for fd in held.values():
        os.close(fd)


def _least_loaded(
    folder: Path, gpus: Sequence[str], slots_per_gpu: int, probed: int | None = None
) -> GpuLease | None:
    """A free slot of the GPU with the most free slots, locked; None when each GPU has
    SLOTS_PER_GPU slots taken among the PROBED first ones (default SLOTS_PER_GPU): a launch
    that shared a busy GPU holds slot 1 while slot 0 may be free again. Every free slot is
    locked while they are counted, then all but the chosen one are let go: a slot freed on a
    busy GPU must not draw a trial there while another GPU is idle."""
    probed = probed or slots_per_gpu
    held = _free_slots(folder, gpus, probed)
    free = Counter(gpu for gpu, _ in held)
    open_to_more = [gpu for gpu in free if probed - free[gpu] < slots_per_gpu]
    if not open_to_more:
        _let_go(held)
        return None
    gpu = max(open_to_more, key=free.__getitem__)  # the first of the most free, as in GPUS
    chosen = (gpu, min(slot for held_gpu, slot in held if held_gpu == gpu))
    fd = held.pop(chosen)
    _let_go(held)
    return GpuLease(gpu, fd)


@contextmanager
def lease_gpu(
    gpus: Sequence[str],
    slots_per_gpu: int = 1,
    lock_dir: Path | None = None,
    timeout: float | None = None,
) -> Iterator[GpuLease]:
    """Hold one free GPU slot for the `with` block; wait for one, or TimeoutError.

    The lease goes to the GPU with the most free slots (the first of those in GPUS), so
    leases spread over the GPUs. The lock folder must be private (InputError otherwise);
    only the default one may move to another name (see the module doc).
    """
    if not gpus:
        yield GpuLease(None, None)
        return
    if slots_per_gpu < 1:
        raise ValueError(f"slots_per_gpu must be at least 1, not {slots_per_gpu}")
    chosen = lock_dir is not None or bool(os.environ.get(LOCK_DIR_ENV))
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    folder = private_lock_dir(folder, other_names=not chosen)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with held_lock(folder / _CHOOSING):
            lease = _least_loaded(folder, gpus, slots_per_gpu, slots_per_gpu + _PROBED_EXTRA)
        if lease is not None:
            try:
                yield lease
            finally:
                os.close(lease.fd)  # type: ignore[arg-type] # the lock ends with its last fd
            return
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise TimeoutError(
                f"no free GPU slot among {list(gpus)} x {slots_per_gpu} after {timeout} s"
            )
        time.sleep(_LEASE_POLL if deadline is None else min(_LEASE_POLL, deadline - now))
