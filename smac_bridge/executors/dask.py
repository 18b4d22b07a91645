"""The Dask executor: each trial runs on a worker of a Dask cluster.

Each SMAC worker process connects its own `distributed.Client` to the scheduler and submits
`run_trial` (importable on the Dask workers, since it lives in this package). It runs the
trial under the same Supervisor as the local executor, on the Dask worker, and returns the
Outcome with the algo's log files. A Dask worker should have one thread: one trial at a time.

What happens where:
- the run directory keeps its absolute path; on a shared filesystem the trial writes its
  files straight into the rungroup, otherwise they stay on the Dask worker's disk, and the
  algo logs, `result.json` and `command.json` come back as bytes and are written here (only
  where the local file is missing or empty, so a shared filesystem is never overwritten);
  artifacts stay on the Dask worker unless the filesystem is shared;
- the trial gets the Dask worker's environment plus what the SMAC worker added for it, with
  this host's PATH and GPU slot left out: the wrapper leases the Dask worker's own GPU;
- stopping: `request_stop` creates the stop file with the note `interrupted` (seen by the
  wrapper on a shared filesystem: the run is interrupted, not stopped by a user) and sets a
  `distributed.Event` per trial that `run_trial` polls; a trial whose client went away (its
  future released, e.g. the SMAC worker was killed) stops as well.

Faults: a Dask worker that dies during a trial takes the trial's process tree with it (the
Supervisor's guard sees its supervising process die), and the scheduler runs the task again
on another worker (KilledWorker at one death more than `distributed.scheduler.allowed-failures`:
then the trial is recorded CRASHED). A worker shut down with SIGTERM is re-run at once while its
attempt still stops: each attempt notes itself in `attempt.json`, and a re-run waits for the
earlier one's end before it touches the run directory. A restarted scheduler loses every
task: the client reconnects (or, once it gave up, the executor connects a new one) and the
trial is submitted again, up to MAX_SUBMISSIONS times; a re-run starts its logs afresh. A
scheduler that stays away makes the trial CRASHED with a start_error that says so, never a
hang or a dead SMAC worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smac_bridge.errors import InputError
from smac_bridge.executors import CLUSTER_FAULT, NO_SCHEDULER, TrialSpec, interpreter_first
from smac_bridge.layout import (
    INTERRUPT_NOTE,
    RunDir,
    read_json_object,
    write_json_atomic,
    write_stop_request,
)
from smac_bridge.protocol import set_execution_uuid
from smac_bridge.rundata import keep_carried_progress, lives, process_token, this_process
from smac_bridge.script_env import GPU_ENV
from smac_bridge.supervisor import Outcome, Supervisor

POLL = 0.2
"""Seconds between checks for a stop, on both sides."""
STOP_MARGIN = 25.0
"""Seconds a stopped remote trial may take to end beyond its grace (SIGTERM to SIGKILL)."""
PROBE_TIMEOUT = 10.0
"""Seconds `check_scheduler` waits for the scheduler before the launch starts."""
_PROBE = """\
import json, os, sys
from concurrent.futures import ThreadPoolExecutor, wait
from distributed import Client

def smac_bridge_here():
    try:
        import smac_bridge.executors.dask  # what each trial's task is made of
    except Exception as error:
        return f"cannot import smac_bridge ({type(error).__name__}: {error})"
    import smac_bridge
    return smac_bridge.__version__

def answer(future):
    if not future.done():
        return "no answer"
    try:
        return "".join(future.result().values())
    except Exception as error:
        return f"failed: {type(error).__name__}: {error}"

client = Client(sys.argv[1], timeout=float(sys.argv[2]), set_as_default=False)
print("connected", flush=True)
if sys.argv[3] == "ask-workers":
    asking = ThreadPoolExecutor(8)
    asked = {
        worker: asking.submit(client.run, smac_bridge_here, workers=[worker])
        for worker in client.scheduler_info()["workers"]
    }
    wait(asked.values(), timeout=float(sys.argv[2]))
    print(json.dumps({worker: answer(future) for worker, future in asked.items()}), flush=True)
os._exit(0)  # a worker that did not answer holds a thread: no clean close waits for it
"""
"""Connects and, asked to, asks each Dask worker which smac-bridge it imports: a trial sent
to a worker whose Python lacks it stops that worker as it unpacks the task, and the trial
waits for good. Prints `connected`, then the answers as one JSON line."""
EARLIER_ATTEMPT_WAIT = 60.0
"""Seconds a re-run waits at most for an earlier attempt of its trial to end."""
ATTEMPT_STALE = 5.0
"""Seconds after which an attempt's note that is no longer refreshed means a dead attempt."""
BEGAN_EVERY = 1.0
"""Seconds between looks whether a queued trial began."""
MAX_SUBMISSIONS = 3
"""Times one trial is submitted when the cluster loses it (a restarted scheduler)."""
RETURNED_FILES = ("result", "command")
"""Small run-directory files (RunDir properties) sent back with the algo logs."""
LOCAL_ONLY_ENV = ("PATH", GPU_ENV, "CUDA_VISIBLE_DEVICES")
"""Environment entries that describe the SMAC worker's host, not the Dask worker's."""
GONE_STATES = ("cancelled", "released", "forgotten")


@dataclass
class RemoteResult:
    """What `run_trial` sends back: how the trial ended and the files of its run directory."""

    outcome: Outcome
    start_error: str | None
    files: dict[str, bytes] = field(default_factory=dict)


def _released(worker: Any, key: Any) -> bool:
    """Whether the scheduler let go of this task (cancelled, or its client disconnected)."""
    task = worker.state.tasks.get(key)
    return task is None or task.state in GONE_STATES


def run_trial(spec: TrialSpec, env_added: dict[str, str], stop_event: str) -> RemoteResult:
    """Run one trial on this Dask worker under a Supervisor; stop it when asked."""
    from distributed import Event, Variable, get_worker

    worker = get_worker()
    key = worker.get_current_task()
    # the trial waited in the queue until now: where it runs, then that it began (notes for
    # `status` and a stop only: the trial runs anyway)
    with contextlib.suppress(Exception):
        Variable(began_event(stop_event)).set(worker.address)
    with contextlib.suppress(Exception):
        Event(began_event(stop_event)).set()
    env = {**os.environ, **env_added}
    env["PATH"] = interpreter_first(os.environ)
    set_execution_uuid(env, str(uuid.uuid4()))  # each attempt its own process-tree marker
    supervisor = Supervisor(
        spec.argv,
        log_path=spec.log_path,
        stderr_path=spec.stderr_path,
        cwd=spec.cwd,
        env=env,
        limits=spec.limits,
        # smac-bridge's wrapper reads the stop file itself (a SIGTERM from here could come
        # before its handlers); a plain algo is stopped from here
        stop_file=spec.stop_file,
    )
    result = RemoteResult(Outcome(None, 0.0, 0.0, 0.0, None), None)
    files = RunDir(spec.run_dir)
    host, pid, pid_start = this_process()
    note: dict[str, object] = {"host": host, "pid": pid, "pid_start": pid_start}
    try:
        spec.run_dir.mkdir(parents=True, exist_ok=True)  # exists already on a shared filesystem
        files.artifacts.mkdir(exist_ok=True)  # SMAC_BRIDGE_ARTIFACTS of a classic target
        _wait_for_an_earlier_attempt(files, spec.limits.grace)
        write_json_atomic(files.attempt, note)
        for log in (spec.log_path, spec.stderr_path):  # a re-run's output replaces the lost one's
            log.write_bytes(b"")
        files.result.unlink(missing_ok=True)  # and its script's reports, but the curve its
        keep_carried_progress(files.progress)  # trial carried over from a stopped one
        supervisor.start()
    except OSError as error:
        _end_attempt(files, note)
        result.start_error = spec.start_error(error)
        return result
    # the tree outlives a killed Dask worker by its guard's grace: a re-run waits for both (a
    # note a full disk refuses does not leave the started tree unsupervised: it is followed)
    if (guard := supervisor.guard_pid) is not None:
        note["guard"] = {"host": host, "pid": guard, "pid_start": process_token(guard)}
        with contextlib.suppress(OSError):
            write_json_atomic(files.attempt, note)
    waiter = threading.Thread(target=lambda: setattr(result, "outcome", supervisor.wait()))
    waiter.start()
    event = Event(stop_event)
    while waiter.is_alive():
        waiter.join(POLL)
        _refresh(files.attempt)
        if event.is_set() or _released(worker, key):
            supervisor.request_stop("interrupt")
    _end_attempt(files, note)
    for path in (spec.log_path, spec.stderr_path, *(getattr(files, n) for n in RETURNED_FILES)):
        try:
            result.files[str(path.relative_to(spec.run_dir))] = path.read_bytes()
        except (OSError, ValueError):
            continue
    return result


def began_event(stop_event: str) -> str:
    """The name of the Event `run_trial` sets as it begins, beside the trial's STOP_EVENT,
    and of the Variable that names the Dask worker it began on."""
    return f"{stop_event}-began"


def _wait_for_an_earlier_attempt(files: RunDir, grace: float) -> None:
    """Wait while an earlier attempt of this trial may still run: the scheduler re-runs a
    trial as soon as its Dask worker begins to shut down (SIGTERM at a Slurm job's end) or
    dies (kill -9), while that attempt's script still writes into the shared run directory
    (its guard stops it with SIGTERM and GRACE). It is over when its Dask worker and its
    guard are gone (this host), when its note stopped changing for ATTEMPT_STALE seconds
    beyond GRACE (another host, whose clock may differ), or after EARLIER_ATTEMPT_WAIT."""
    deadline = time.monotonic() + EARLIER_ATTEMPT_WAIT
    seen: tuple[float, float] | None = None  # (the note's mtime, when it was first seen)
    while time.monotonic() < deadline:
        holder = read_json_object(files.attempt)
        if holder is None:
            return
        guard = holder.get("guard")  # none yet while the guard starts: the note's age tells
        if isinstance(guard, dict) and lives(holder) is False and lives(guard) is False:
            return
        try:
            mtime = files.attempt.stat().st_mtime
        except OSError:
            return
        if seen is None or seen[0] != mtime:
            seen = (mtime, time.monotonic())
        elif time.monotonic() - seen[1] >= ATTEMPT_STALE + grace:
            return
        time.sleep(POLL)


def _end_attempt(files: RunDir, note: dict[str, object]) -> None:
    """Remove this attempt's note, unless a later attempt (one that waited it out) wrote its
    own since."""
    if read_json_object(files.attempt) == note:
        files.attempt.unlink(missing_ok=True)


def _refresh(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def deliver(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write the files a remote trial sent back where they are missing or empty here (not on
    a shared filesystem, where the trial wrote them itself)."""
    for name, data in files.items():
        path = run_dir / name
        try:
            if path.exists() and path.stat().st_size:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError:
            continue


class DaskHandle:
    """A trial submitted to the cluster. No process of this host belongs to it, so the
    running marker gets no pid or tree marker. It is `queued` until a Dask worker begins
    it: a cluster of busy workers (a Slurm queue) may hold it for hours."""

    pid: int | None = None
    marker: str | None = None
    remote = True

    def __init__(self, executor: DaskExecutor, spec: TrialSpec) -> None:
        self.spec = spec
        self.start_error: str | None = None
        self.result: RemoteResult | None = None
        self.submissions = 0
        self.queued = True
        self.began = 0
        self._began_on: str | None = None  # the Dask worker it began on last
        self._executor = executor
        self._client: Any = None
        self._future: Any = None
        self._event = f"smac-bridge-stop-{uuid.uuid4().hex}"
        self._stop_reason: str | None = None
        self._began_on_known = True  # the remote side names its worker (see _begun)
        self._env_added = {
            name: value
            for name, value in spec.env.items()
            if os.environ.get(name) != value and name not in LOCAL_ONLY_ENV
        }
        self._submit()

    def _submit(self) -> bool:
        """Submit the trial (again); False, with start_error set, when no scheduler takes it."""
        try:
            self._client = self._executor.connected_client()
            self._future = self._client.submit(
                run_trial,
                self.spec,
                self._env_added,
                self._event,
                key=f"smac-bridge-trial-{self.spec.run_dir.name}-{uuid.uuid4().hex[:8]}",
                pure=False,
            )
        except Exception as error:  # noqa: BLE001 - a closed client or a refused submission
            self.start_error = f"{NO_SCHEDULER}: {error}"
            self._future = None
            return False
        self.submissions += 1
        self.queued = True  # a submission again (a restarted scheduler) waits in its queue
        return True

    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason

    def wait(self) -> Outcome:
        """Wait for the remote trial, submitting it again when the cluster lost it; on a stop
        request, stop it there and wait for its end."""
        while self._future is not None:
            outcome = self._wait_once()
            if outcome is not None:
                return outcome
            lost = self.start_error
            if self._stop_reason is not None or self.submissions >= MAX_SUBMISSIONS:
                break
            if not self._submit():
                self.start_error = f"{lost}; then {self.start_error}"
                break
            self.start_error = None
        return Outcome(None, 0.0, 0.0, 0.0, self._stop_reason)

    def _stop_event(self, state: str) -> None:
        """Set or clear the trial's stop Event; a scheduler that is gone takes neither (the
        stop file and STOP_MARGIN still stop the trial)."""
        self._event_state(self._event, state)

    def _event_state(self, name: str, call: str) -> bool:
        """CALL (set, clear, is_set) on the Event NAME; False when the scheduler is gone."""
        from distributed import Event

        try:
            return bool(getattr(Event(name, client=self._client), call)())
        except Exception:  # noqa: BLE001 - the scheduler went away: the wait finds out
            return False

    def _begun(self) -> bool:
        """Whether a Dask worker runs the trial now: it began (the remote side set its event)
        and the worker it began on still holds its task. A worker that died (a preempted
        Slurm job) sent the task back to the scheduler, which may queue it on a busy worker
        at once: the trial showed as running there, with the time of the lost attempt, and
        a stop waited for it through grace + STOP_MARGIN."""
        from distributed import Variable

        if not self._event_state(began_event(self._event), "is_set"):
            return False
        try:
            held = self._client.processing()
        except Exception:  # noqa: BLE001 - the scheduler went away: the wait finds out
            return True
        if self._began_on_known:
            try:
                began_on = Variable(began_event(self._event), client=self._client).get(timeout=1)
            except (TimeoutError, asyncio.TimeoutError):  # (two classes before Python 3.11)
                # set only after its Event (or never): any holder then
                self._began_on_known = False
            except Exception:  # noqa: BLE001 - the scheduler went away: the wait finds out
                return True
            else:
                if began_on != self._began_on:  # another attempt: its worker was lost
                    self._began_on = began_on
                    self.began += 1
                return self._future.key in held.get(began_on, ())
        return any(self._future.key in keys for keys in held.values())

    def _forget_where_it_began(self) -> None:
        from distributed import Variable

        try:
            Variable(began_event(self._event), client=self._client).delete()
        except Exception:  # noqa: BLE001 - the scheduler went away, and its variables with it
            pass

    def _wait_once(self) -> Outcome | None:
        """The outcome of the current submission; None, with start_error set, when the cluster
        lost it (the scheduler went away), so that it may be submitted again."""
        stopping_since: float | None = None
        next_look = time.monotonic()
        try:
            while not self._future.done():
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + BEGAN_EVERY
                    self.queued = not self._begun()
                    stopped = RunDir(self.spec.run_dir).stop_request
                    if self.queued and self._stop_reason is None and stopped.exists():
                        # `smac-bridge stop` of a trial the cluster has not begun: withdrawn
                        # now, not stopped once a Dask worker is free for it
                        self._future.cancel()
                        return Outcome(None, 0.0, 0.0, 0.0, "stop_request")
                if self._stop_reason is not None and stopping_since is None:
                    stopping_since = time.monotonic()
                    run_dir = RunDir(self.spec.run_dir)
                    if not run_dir.stop_request.exists():  # a user's or a pruning stop's note
                        write_stop_request(run_dir, INTERRUPT_NOTE)  # stays: theirs is no interrupt
                    self._stop_event("set")
                    if self.queued and not self._begun():
                        # nothing began to wait for; should it begin now, run_trial sees its
                        # task released, or the stop, and stops the script
                        self._future.cancel()
                        return Outcome(None, 0.0, 0.0, 0.0, self._stop_reason)
                wait = self.spec.limits.grace + STOP_MARGIN
                if stopping_since is not None and time.monotonic() - stopping_since > wait:
                    self._future.cancel()  # the remote side sees its task released
                    self.start_error = f"{CLUSTER_FAULT}trial did not stop within {wait:.0f} s"
                    return Outcome(None, 0.0, 0.0, 0.0, self._stop_reason)
                time.sleep(POLL)
            try:
                self.result = self._future.result()
            except Exception as error:  # noqa: BLE001 - a lost Dask worker is a crashed trial
                lost = f"{type(error).__name__}: {error}"
                if self._future.status == "cancelled":  # the client lost its scheduler
                    tries = f"submission {self.submissions} of {MAX_SUBMISSIONS}"
                    self.start_error = f"{CLUSTER_FAULT}cluster lost the trial ({tries}): {lost}"
                    return None
                self.start_error = f"{CLUSTER_FAULT}cluster lost the trial: {lost}"
                return Outcome(None, 0.0, 0.0, 0.0, self._stop_reason)
        finally:  # whatever ends the wait
            if stopping_since is not None:
                self._stop_event("clear")  # frees it on the scheduler
            self._event_state(began_event(self._event), "clear")  # set once it began: free it
            self._forget_where_it_began()
        assert self.result is not None
        deliver(self.spec.run_dir, self.result.files)
        self.start_error = self.result.start_error
        return self.result.outcome


def check_scheduler(address: str, ask_workers: bool = True, trials_at_once: int = 1) -> list[str]:
    """Connect to the scheduler at ADDRESS once, before anything of the launch exists: a typo
    is one error at once, not workers that die after half a minute leaving a rungroup that
    only --resume continues; and so (ASK_WORKERS) is a Dask worker that cannot import
    smac-bridge. Warnings of a cluster without workers, or with fewer than TRIALS_AT_ONCE, of
    workers that do not answer, or with another smac-bridge. In a child process, so that the
    launcher, which forks the workers, starts no threads of Dask's client."""
    connect_timeout()  # a bad setting is said now, not by every worker's first trial
    expected = "expected the address of a Dask scheduler (tcp://host:8786)"
    if not address.strip():
        raise InputError(None, None, f"--dask-scheduler: {expected}")
    if address.strip().lower().startswith(("http://", "https://")):  # waited 20 s before
        raise InputError(
            None,
            None,
            f"--dask-scheduler {address}: a web address (the dashboard's?); {expected}, as"
            " the scheduler's log says after `Scheduler at:`",
        )
    rest = address.strip().split("://", 1)[-1]
    port = rest.rsplit(":", 1)[1] if ":" in rest and not rest.endswith("]") else ""
    if "/" not in rest and port and not port.isdigit():  # Dask waited 20 s, then timed out
        raise InputError(None, None, f"--dask-scheduler {address}: port {port!r} is no number")
    if "/" not in rest and not port:  # as did a missing one
        raise InputError(None, None, f"--dask-scheduler {address}: no port; {expected}")
    asked = "ask-workers" if ask_workers else "connect"
    command = [sys.executable, "-c", _PROBE, address, str(PROBE_TIMEOUT), asked]
    try:
        probe = subprocess.run(command, capture_output=True, text=True, timeout=3 * PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        probe = None
    if probe is None or probe.returncode != 0 or not probe.stdout.startswith("connected"):
        said = probe.stderr.strip().splitlines() if probe is not None else []
        why = said[-1] if said else f"no answer in {3 * PROBE_TIMEOUT:g} s"
        raise InputError(
            None,
            None,
            f"--dask-scheduler: cannot connect to the Dask scheduler at {address}: {why}",
        )
    return _worker_warnings(address, probe.stdout, trials_at_once)


def _worker_warnings(address: str, said: str, trials_at_once: int) -> list[str]:
    """Warnings of the Dask workers' answers SAID (the probe's JSON line); InputError when
    one of them cannot import smac-bridge."""
    from smac_bridge import __version__

    try:
        answers: dict[str, str] = json.loads(said.strip().splitlines()[1])
    except (ValueError, IndexError):
        return []
    lacking = {worker: answer for worker, answer in answers.items() if answer.startswith("cannot")}
    silent = sorted(w for w, answer in answers.items() if answer == "no answer")
    failed = {w: answer for w, answer in answers.items() if answer.startswith("failed: ")}
    if lacking:
        worker, answer = next(iter(lacking.items()))
        raise InputError(
            None,
            None,
            f"--dask-scheduler {address}: {len(lacking)} of {len(answers)} Dask workers"
            f" cannot run a trial: {worker} {answer}; start the Dask workers with the Python"
            " environment smac-bridge is installed in (a trial sent to one stops it)",
        )
    if not answers:
        return [
            f"the Dask cluster at {address} has no worker now: the trials wait for one (an"
            " adaptive cluster starts workers as they queue)"
        ]
    warnings = []
    if len(answers) < trials_at_once:
        warnings.append(
            f"the Dask cluster at {address} has {len(answers)} worker(s) now for"
            f" {trials_at_once} trials at once: the others wait in its queue (docs/distributed.md:"
            " a worker per SMAC worker)"
        )
    if silent:
        warnings.append(
            f"{len(silent)} of {len(answers)} Dask workers at {address} did not answer within"
            f" {PROBE_TIMEOUT:g} s ({silent[0]}; suspended or busy?): a trial sent there waits"
        )
    if failed:
        worker, answer = next(iter(failed.items()))
        warnings.append(
            f"Dask worker {worker} could not be asked which smac-bridge it runs: {answer}"
        )
    versions = {answer for answer in answers.values() if answer[:1].isdigit()}
    if other := sorted(versions - {__version__}):
        warnings.append(
            f"Dask workers at {address} run smac-bridge {', '.join(other)}, this is"
            f" {__version__}: a trial's task may not unpack there"
        )
    return warnings


CONNECT_TIMEOUT_KEY = "distributed.comm.timeouts.connect"


def connect_timeout() -> float:
    """Seconds a client waits for the scheduler: Dask's own `distributed.comm.timeouts.connect`
    (30 s unless the user's Dask configuration says otherwise), so that a cluster whose
    scheduler restarts slowly, or a user who wants a gone one noticed sooner, sets it once.
    InputError for a setting that is no positive time. (dask.config alone: importing
    `distributed`, whose default it is, would cost the launcher that forks its workers.)"""
    import dask.config
    from dask.utils import parse_timedelta

    setting = dask.config.get(CONNECT_TIMEOUT_KEY, default="30s")
    try:
        seconds = float(parse_timedelta(setting, "s"))
    except (KeyError, ValueError, TypeError):
        seconds = math.nan
    if not 0 < seconds < math.inf:
        variable = "DASK_" + CONNECT_TIMEOUT_KEY.upper().replace(".", "__")
        raise InputError(
            None,
            None,
            f"Dask's {CONNECT_TIMEOUT_KEY} is {setting} (from {variable} or your Dask"
            " configuration): expected a positive time such as 30s or 2m",
        )
    return seconds


class DaskExecutor:
    """Submits every trial to the Dask scheduler at `address` (one client per worker)."""

    def __init__(self, address: str) -> None:
        self.address = address
        try:
            self.client = self._connect()
        except (OSError, TimeoutError) as error:
            raise InputError(
                None, None, f"cannot connect to the Dask scheduler at {address}: {error}"
            ) from error

    def _connect(self) -> Any:
        from distributed import Client

        return Client(self.address, timeout=connect_timeout(), set_as_default=False)

    def connected_client(self) -> Any:
        """The client, once it is connected: one that is reconnecting gets connect_timeout(),
        one that gave up is replaced by a new connection (OSError/TimeoutError if none)."""
        deadline = time.monotonic() + connect_timeout()
        while self.client.status == "connecting" and time.monotonic() < deadline:
            time.sleep(POLL)
        if self.client.status != "running":
            self.client.close()
            self.client = self._connect()
        return self.client

    def start(self, spec: TrialSpec) -> DaskHandle:
        return DaskHandle(self, spec)

    def close(self) -> None:
        self.client.close()
