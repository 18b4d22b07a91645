"""Where a trial runs: an executor starts one trial command and hands back a handle.

The worker decides *what* to run (the classic call, its environment, its limits) and
records the result; an executor only decides *where* and *how*: `local` runs it under a
Supervisor in this process, `inprocess` runs a `smac-bridge wrap` algo's wrapper in this
process (only the script is a new process), `dask` ships it to a Dask worker (a cluster
started by hand or by dask-jobqueue on Slurm) that runs the same Supervisor there. All give
back a handle with the same small interface, so the worker's logic does not depend on the
choice, which `make_executor` makes.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from smac_bridge.supervisor import Limits, Outcome

if TYPE_CHECKING:
    from smac_bridge.scenario import Scenario


CLUSTER_FAULT = "the Dask "
"""How the reason of a trial that the cluster lost or refused begins: a fault of where the
trial ran, not of the target, so it is not the target's first run crashing."""


NO_SCHEDULER = f"{CLUSTER_FAULT}scheduler did not take the trial"
"""How the reason of a trial ends that no scheduler took (the first or a later submission)."""


def is_cluster_fault(reason: str | None) -> bool:
    """True for the reason of a trial that the Dask cluster lost or never took."""
    return reason is not None and reason.startswith(CLUSTER_FAULT)


def scheduler_gone(reason: str | None) -> bool:
    """True for the reason of a trial that ended because no scheduler answered: every further
    trial would end the same way, each after the wait for a connection."""
    return reason is not None and NO_SCHEDULER in reason


@functools.cache
def install_folders() -> tuple[str, ...]:
    """Where this installation's programs are: this Python's folder, and the folder its
    `smac-bridge` console script went to, another one after `pip install --user`
    (~/.local/bin, which PATH may not hold). Only the installation that runs counts: another
    copy found first on sys.path (an older release beside a source checkout) does not."""
    from importlib import metadata

    folders = [os.path.dirname(sys.executable)]
    try:
        found = metadata.distribution("smac-bridge")
    except metadata.PackageNotFoundError:  # run from a source tree
        return tuple(folders)
    running = Path(__file__).resolve().parents[1] / "__init__.py"
    if Path(str(found.locate_file("smac_bridge/__init__.py"))).resolve() != running:
        return tuple(folders)
    for file in found.files or []:
        folder = os.path.normpath(os.path.dirname(file.locate()))
        if file.name == "smac-bridge" and folder not in folders:
            folders.append(folder)
    return tuple(folders)


def interpreter_first(env: Mapping[str, str]) -> str:
    """PATH with this installation's folders first, so that `smac-bridge` and `python` in a
    scenario's algo are those of the environment smac-bridge is installed in."""
    return os.pathsep.join(p for p in (*install_folders(), env.get("PATH")) if p)


def installed_here(program: str) -> bool:
    """Whether the program file PROGRAM is in one of this installation's folders."""
    try:
        return any(os.path.samefile(os.path.dirname(program), f) for f in install_folders())
    except OSError:
        return False


def missing_module_note(command: Sequence[str], said: str) -> str | None:
    """For a script that could not import a module (SAID: its last words), run by a bare
    `python`: which one the trials find first, smac-bridge's own, where the user's active
    environment may hold the module; None otherwise."""
    if "No module named" not in said or not command:
        return None
    program = command[0]
    if os.sep in program or not program.startswith("python"):
        return None  # a path: the user chose it
    found = shutil.which(program, path=interpreter_first(os.environ))
    if found is None or not installed_here(found):  # the user's own python: theirs to mend
        return None
    return (
        f"`{program}` in the algo is {found}, smac-bridge's own environment's, which the trials"
        " find first: to run the script with another environment's packages, name that"
        " environment's python in --cmd (`smac-bridge init --python /path/to/env/bin/python`)"
    )


@dataclass
class TrialSpec:
    """One trial command as the worker built it (picklable: it travels to Dask workers)."""

    argv: list[str]
    cwd: Path
    env: Mapping[str, str]
    run_dir: Path
    log_path: Path  # the algo's stdout: the worker reads the result line from it
    stderr_path: Path
    limits: Limits
    stop_file: Path | None = None  # a plain algo's stop request, which its supervisor obeys

    def start_error(self, error: OSError) -> str:
        """The message a trial that could not start is recorded with."""
        return f"cannot start {self.argv[0]!r} in {self.cwd}: {error}"


class TrialHandle(Protocol):
    """A started trial. `pid`/`marker` go into the running marker (None when remote, where
    no process of this host belongs to the trial); `queued` is True while the trial waits
    for a place to run (a Dask cluster's queue); `began` changes each time it begins again (a
    cluster that lost its worker begins it elsewhere, maybe at once, never queued in
    between); `remote` when it runs on another host, where the cluster may run it again
    after a lost worker; `start_error` is set once `wait()` returned if the command could
    not start."""

    pid: int | None
    marker: str | None
    queued: bool
    began: int
    remote: bool
    start_error: str | None

    def wait(self) -> Outcome:
        """Block until the trial's whole process tree is gone."""
        ...

    def request_stop(self, reason: str) -> None:
        """Ask the trial to stop; only sets state, so it is safe in a signal handler."""
        ...


class Executor(Protocol):
    """Starts trials; `close()` frees what the executor holds (e.g. a Dask client)."""

    def start(self, spec: TrialSpec) -> TrialHandle: ...

    def close(self) -> None: ...


def make_executor(dask_scheduler: str | None = None, scenario: Scenario | None = None) -> Executor:
    """The Dask executor when a scheduler address is given; else the in-process one when
    SCENARIO's algo is this installation's `smac-bridge wrap` (executors/inprocess.py says
    when); else the local one."""
    if dask_scheduler:
        from smac_bridge.executors.dask import DaskExecutor

        return DaskExecutor(dask_scheduler)
    if scenario is not None:
        from smac_bridge.executors.inprocess import InProcessExecutor, wrapper_arguments
        from smac_bridge.protocol import ProtocolError, split_algo

        try:
            skip = wrapper_arguments(split_algo(scenario.algo), Path(scenario.execdir))
        except ProtocolError:  # the trial runner reports the algo's error
            skip = None
        if skip is not None:
            return InProcessExecutor(skip)
    from smac_bridge.executors.local import LocalExecutor

    return LocalExecutor()
