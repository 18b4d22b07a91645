"""The local executor: the trial runs under a Supervisor in this process's host."""

from __future__ import annotations

from smac_bridge.executors import TrialSpec
from smac_bridge.supervisor import Outcome, Supervisor


class LocalHandle:
    """A trial running under a Supervisor here; its pid and tree marker let the launcher
    kill what is left of it should this worker die."""

    queued = False
    began = 1
    remote = False

    def __init__(self, spec: TrialSpec) -> None:
        self.supervisor = Supervisor(
            spec.argv,
            log_path=spec.log_path,
            stderr_path=spec.stderr_path,
            cwd=spec.cwd,
            env=spec.env,
            limits=spec.limits,
            stop_file=spec.stop_file,
        )
        self.start_error: str | None = None
        try:
            self.supervisor.start()
        except OSError as error:
            self.start_error = spec.start_error(error)
        self.pid: int | None = self.supervisor.pid
        self.marker: str | None = self.supervisor.marker

    def wait(self) -> Outcome:
        return self.supervisor.wait()

    def request_stop(self, reason: str) -> None:
        self.supervisor.request_stop(reason)


class LocalExecutor:
    """Runs every trial on this host (the default)."""

    def start(self, spec: TrialSpec) -> LocalHandle:
        return LocalHandle(spec)

    def close(self) -> None:
        """Nothing to free."""
