"""What the benchmarks share for running real `smac-bridge launch` processes and their trials.

A benchmark starts launches (and other contestants' processes) as children that must never
outlive it: each runs in a session of its own, so that a Ctrl-C reaches only the benchmark,
which then stops its children in order instead of leaving them to a signal race.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from smac_bridge.rundata import RunGroup, hostname, pid_alive

POLL = 0.5
LAUNCH_STOP_WAIT = 60.0
"""Seconds a launch gets after SIGTERM: it stops each worker's trial, 20 s at most per worker."""


def exit_on_sigterm() -> None:
    """Make SIGTERM end the benchmark through its finally blocks, as Ctrl-C does.

    Python's default SIGTERM ends the process at once, which would leave the children (each
    in a session of its own, out of reach of a signal to the benchmark's group) running.
    """
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))


def child_env() -> dict[str, str]:
    """The environment of everything a benchmark starts.

    This Python's folder comes first on PATH, so `smac-bridge wrap` and `python` in a
    scenario's `algo` are this environment's, as for every other contestant; BLAS and OpenMP
    get one thread, so that N evaluations side by side do not oversubscribe the cores.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = "1"
    return env


def kill_session(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process left in the session `process` leads, then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _stop_launch(process: subprocess.Popen[bytes], group: RunGroup) -> None:
    """SIGTERM, as a user's Ctrl-C: the launch stops its workers and their trials itself.

    Only a launch that does not end in time is killed, its workers (each in a session of
    its own) with it, and what is left of their trials through smac-bridge's own clean-up.
    """
    process.terminate()
    try:
        process.wait(timeout=LAUNCH_STOP_WAIT)
        return
    except subprocess.TimeoutExpired:
        kill_session(process)
    from smac_bridge.recovery import clean_dead_workers

    for info in group.workers():
        pid = int(info.get("pid", 0))
        if info.get("host") == hostname() and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    clean_dead_workers(group)


def run_launch(
    scenario: Path,
    outdir: Path,
    options: Sequence[str],
    on_poll: Callable[[int], None],
) -> float:
    """Run `smac-bridge launch SCENARIO --outdir OUTDIR --quiet --gpus none OPTIONS` to its end.

    `on_poll` gets the number of finished runs twice a second. Returns the launch's wall time;
    raises with the end of its log when it fails. The log is OUTDIR with the suffix `.log`.
    """
    argv = [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario)]
    argv += ["--outdir", str(outdir), "--quiet", "--gpus", "none", *options]
    group = RunGroup(outdir / scenario.stem)
    log = outdir.with_suffix(".log")
    start = time.monotonic()
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            argv,
            cwd=scenario.parent,
            env=child_env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while process.poll() is None:
                on_poll(len(group.records()) if group.exists() else 0)
                time.sleep(POLL)
        finally:
            if process.poll() is None:
                _stop_launch(process, group)
    wall = time.monotonic() - start
    if process.returncode != 0:
        tails = [log.read_text(errors="replace")[-2000:]]
        for worker_log in sorted(group.layout.workers.glob("*.log")):
            text = worker_log.read_text(errors="replace")
            if "Traceback" in text:  # why a worker died; the folder may not outlive the run
                tails.append(f"{worker_log.name}: {text[-2000:]}")
        raise RuntimeError(f"launch failed ({process.returncode}): " + "\n".join(tails))
    return wall
