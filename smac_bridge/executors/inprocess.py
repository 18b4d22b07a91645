"""The in-process executor: a worker runs `smac-bridge wrap` itself instead of starting it.

When a scenario's algo is this installation's `smac-bridge wrap ...` (or `python -m
smac_bridge[.cli] wrap ...`), a trial process would be a second Python interpreter that imports
the wrapper only to start the script: tens of milliseconds and megabytes per trial, a third
of the time of a short trial. The worker runs the same `Wrapper` in a thread instead, with
the trial's argv, environment and working directory; the script still runs under the
wrapper's Supervisor and its guard (which stops the script's tree should the worker die).
The result line goes to the algo's log and result.json/command.json to the run directory,
as the process would have written them, so trials.py records the trial the same way.

The process path stays for everything else: another program before `smac-bridge` (`nice`,
`env`), another installation's `smac-bridge`, a custom wrapper script, and Dask. A scenario's
`memory_limit` becomes the wrapper's own `--memory-limit` (unless its algo gives one), which
limits the script's process tree and says so in the result line.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from smac_bridge.executors import TrialSpec, installed_here, interpreter_first
from smac_bridge.protocol import format_result_line
from smac_bridge.supervisor import Outcome
from smac_bridge.wrap_options import WRAP_MODULES, is_wrap_call
from smac_bridge.wrapper import Wrapper


def _ours(program: str, cwd: Path, path: str) -> bool:
    """Whether PROGRAM, found as the trial would find it, is this installation's."""
    if os.sep in program:
        program = os.path.join(cwd, program)
    found = shutil.which(program, path=path)
    return found is not None and installed_here(found)


def wrapper_arguments(algo: Sequence[str], cwd: Path) -> int | None:
    """Where the wrapper's own arguments begin in ALGO when it runs this installation's
    `smac-bridge wrap` or `python -m smac_bridge[.cli] wrap` and nothing else; else None."""
    path = interpreter_first(os.environ)
    words = list(algo)
    if is_wrap_call(words, 0) and Path(words[0]).name == "smac-bridge":
        at = 2
    elif (
        len(words) > 2
        and Path(words[0]).name.startswith("python")
        and words[1] == "-m"
        and is_wrap_call(words, 2)
        and words[2] in WRAP_MODULES
    ):
        at = 4
    else:
        return None
    if "--help" in words[at:]:  # the process prints its help and no result line
        return None
    return at if _ours(words[0], cwd, path) else None


class InProcessHandle:
    """A trial whose wrapper runs in a thread of this worker. `pid`/`marker` are those of the
    script's supervisor, so that a launcher can kill what is left should this worker die."""

    queued = False
    began = 1
    remote = False

    def __init__(self, spec: TrialSpec, skip: int) -> None:
        self.spec = spec
        self.start_error: str | None = None
        self.wrapper = Wrapper()
        self._started = time.monotonic()
        self._ended: float | None = None
        self._stopped_by: str | None = None
        self._failure: OSError | None = None  # the run folder could not be written (a full disk)
        for path in (spec.log_path, spec.stderr_path):  # as a process's stdout and stderr
            path.touch()
        argv = spec.argv[skip:]
        if spec.limits.memory_mb is not None:  # before the algo's own, which wins
            argv = ["--memory-limit", f"{spec.limits.memory_mb:g}", *argv]
        self._thread = threading.Thread(
            target=self._execute, args=(argv,), name="in-process-trial", daemon=True
        )
        self._thread.start()
        self.wrapper.started.wait()
        supervisor = self.wrapper.supervisor
        self.pid: int | None = supervisor.pid if supervisor is not None else None
        self.marker: str | None = supervisor.marker if supervisor is not None else None

    def _execute(self, argv: list[str]) -> None:
        spec = self.spec
        try:
            result = self.wrapper.execute(
                argv,
                environ=spec.env,
                cwd=spec.cwd,
                stderr_path=spec.stderr_path,
                raise_disk_errors=True,
            )
            with open(spec.log_path, "a", encoding="utf-8") as log:
                log.write(format_result_line(result) + "\n")
        except OSError as error:
            self._failure = error
        finally:
            self._ended = time.monotonic()

    def wait(self) -> Outcome:
        """Wait for the wrapper; past the worker's safety limit (trials.longest_run) stop it and
        say so, as the worker's supervisor of a wrapper process would. An OSError of the
        wrapper's (a full disk lost its result) is raised here: the run is not the script's
        failure, and its worker dies without recording it, so that a resume runs it again."""
        limit = self.spec.limits.wall_time
        while self._thread.is_alive():
            left = None
            if limit is not None and self._stopped_by is None:
                left = self._started + limit - time.monotonic()
            if left is not None and left <= 0:
                self._stopped_by = "wall_time"
                self.wrapper.request_stop()
                continue
            self._thread.join(left)
        if self._failure is not None:
            raise self._failure
        script = self.wrapper.outcome
        ended = self._ended if self._ended is not None else time.monotonic()
        return Outcome(
            exit_code=0,  # the wrapper process's: it always exits 0 after its line
            wall_time=ended - self._started,
            cpu_time=script.cpu_time if script is not None else 0.0,
            peak_rss_mb=script.peak_rss_mb if script is not None else 0.0,
            stopped_by=self._stopped_by,
        )

    def request_stop(self, reason: str) -> None:
        """Stop the trial as SIGTERM stops a wrapper process; only sets state."""
        if self._stopped_by is None:
            self._stopped_by = reason
        self.wrapper.request_stop()


class InProcessExecutor:
    """Runs each trial's `smac-bridge wrap` in this worker (see the module doc)."""

    def __init__(self, skip: int) -> None:
        self.skip = skip  # the algo's words before the wrapper's own arguments

    def start(self, spec: TrialSpec) -> InProcessHandle:
        return InProcessHandle(spec, self.skip)

    def close(self) -> None:
        """Nothing to free."""
