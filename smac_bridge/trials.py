"""One trial of a worker: the classic call run through an executor, and the record it leaves.

The worker decides what to run; a `TrialRunner` builds SMAC 2.10's call (protocol.build_call)
and the trial's environment, starts it through an executor (executors/: a Supervisor here, or
one on a Dask worker), waits for it in a background thread while the worker asks SMAC3 for
the next configuration, and turns what the trial left (the algo's result line, the wrapper's
result.json, the supervisor's measurements) into a run record.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smac_bridge import protocol
from smac_bridge.algo_call import runs_our_wrapper, wrapper_grace
from smac_bridge.errors import text_lines
from smac_bridge.executors import Executor, TrialHandle, TrialSpec, interpreter_first
from smac_bridge.layout import (
    RunDir,
    disk_trouble,
    file_size,
    read_json_object,
    stop_note,
    write_json_atomic,
    write_stop_request,
)
from smac_bridge.outcomes import is_quality
from smac_bridge.pruning import Pruner
from smac_bridge.records import (
    RunningMarker,
    RunRecord,
    new_record,
    over_memory,
    record_cost,
    solves,
)
from smac_bridge.recovery import set_aside
from smac_bridge.rundata import RunGroup, carry_progress, read_progress, this_process
from smac_bridge.scenario import Scenario, passed_budget
from smac_bridge.script_env import (
    ARTIFACTS_ENV,
    BUDGET_ENV,
    BUDGET_FLAG_ENV,
    GPU_ENV,
    RESUME_FROM_ENV,
    RESUME_RUN_ENV,
    RUN_DIR_ENV,
)
from smac_bridge.supervisor import Limits, Outcome, ended_by_a_stop_signal

if TYPE_CHECKING:
    from smac_bridge.proposal import Proposal

PRUNE_EVERY = 1.0
"""Seconds between two looks at a running trial's learning curve when it has not grown (the
other runs' curves move on too)."""
PRUNE_PACE = 9.0
"""A look at a trial's curve waits this many times as long as the last look took: a curve of
batches grows at every poll, each look goes over the running curves whole, and a worker with
curves of tens of thousands of steps spent more CPU judging than its trials had to train."""
CAPTIME_FACTOR = 10.0
"""A run is killed at this many times the cutoff and recorded CRASHED, as in SMAC 2.10..."""
CAPTIME_MARGIN = 5.0
"""...but not before the wrapper's grace after the cutoff and this many seconds more (SMAC
2.10 estimated a run's time only after 5 s): a cutoff of 0.2 s killed a wrapper still in its
grace, or still starting, and a run the wrapper would have ended TIMEOUT was CRASHED."""
LOG_TAIL_LINES = 20


def longest_run(cutoff: float, grace: float) -> float:
    """Seconds after which a trial of CUTOFF, whose wrapper gives its script GRACE to stop,
    is killed and recorded CRASHED."""
    return max(CAPTIME_FACTOR * cutoff, cutoff + grace + CAPTIME_MARGIN)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, for error messages."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no output)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(no output)"


def last_line(path: Path) -> str:
    """The last non-empty line of a log ("" when there is none)."""
    lines = [line for line in log_tail(path, 5).splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines and lines != ["(no output)"] else ""


def trial_environment(
    run_dir: Path, gpu: str | None, task_id: int, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The trial's environment: the worker's, plus what SMAC 2.10 and the wrapper expect."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = interpreter_first(env)
    env[RUN_DIR_ENV] = str(run_dir)
    env[GPU_ENV] = gpu or ""
    env["AEATK_CONCURRENT_TASK_ID"] = str(task_id)
    protocol.set_execution_uuid(env, str(uuid.uuid4()))
    env["CUDA_VISIBLE_DEVICES"] = gpu or ""  # a CPU slot hides the GPUs from any algo
    return env


@dataclass
class Trial:
    """One trial in flight: what it runs and the process running it."""

    run_id: str
    proposal: Proposal
    instance: str
    instance_info: str
    seed: int
    argv: list[str]
    run_dir: RunDir
    started: float
    handle: TrialHandle
    thread: threading.Thread | None = None
    outcome: Outcome | None = None
    failure: OSError | None = None  # what its handle's wait raised: the run folder's disk
    start_error: str | None = None
    interrupted: bool = False
    promoted_from: str | None = None
    trained_budget: float | None = None  # the budget flag's value, None at full fidelity
    continued_from_budget: float | None = None  # how far PROMOTED_FROM's run trained
    marker: RunningMarker | None = None  # running/<run_id>.json as last written

    def interrupt(self) -> None:
        """Stop the trial for a stop or an abort (it is then `interrupted`: not recorded, a
        resume runs it again), unless its wrapper has decided its result: a run that ended as
        the stop came is recorded (`TrialRunner.wait` looks again once the wrapper is done).
        Only sets state and reads one file: safe in a handler."""
        if not self.interrupted and not self.ended_by_itself():
            self.handle.request_stop("interrupt")
            self.interrupted = True

    def ended_by_itself(self) -> bool:
        """Whether the wrapper wrote the trial's result, and no stop made it: its result.json
        has the wrapper's fields (a script's `report()` writes one as well, without them),
        and neither the wrapper's stop nor a stop signal sent to every process at once
        (systemd, Slurm, an init such as `tini -g`) ended its script."""
        result = read_json_object(self.run_dir.result)
        return (
            result is not None
            and "runlength" in result
            and result.get("reason") != "interrupted"
            and not ended_by_a_stop_signal(result.get("exit_code"))
        )


def _script_measure(wrapped: dict[str, Any], name: str, measured: float) -> float:
    """The wrapper's measure NAME of the script (its result.json), else MEASURED of what ran:
    a wrapper run as a process (on Dask, a custom wrapper) added its own to the script's, so
    the record and the result line's additional data disagreed."""
    value = wrapped.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return measured


_ATTEMPTS_LOOKED_AT = 20
"""How many stopped attempts of one trial a re-run looks back through for a checkpoint."""


def _holds_files(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except OSError:
        return False


def _attempt_it_continued(folder: Path, run_id: str) -> Path | None:
    """The kept folder of the earlier attempt of RUN_ID that the attempt in FOLDER continued
    (its command.json's SMAC_BRIDGE_RESUME_FROM, where SMAC_BRIDGE_RESUME_RUN is RUN_ID);
    None when it continued none, or that folder is gone."""
    command = read_json_object(RunDir(folder).command) or {}
    env = command.get("env_added")
    if not isinstance(env, dict) or env.get(RESUME_RUN_ENV) != run_id:
        return None
    artifacts = env.get(RESUME_FROM_ENV)
    earlier = Path(artifacts).parent if isinstance(artifacts, str) else None
    return earlier if earlier is not None and earlier.is_dir() else None


class TrialRunner:
    """Starts a worker's trials and makes their run records."""

    def __init__(
        self,
        scenario: Scenario,
        group: RunGroup,
        executor: Executor,
        *,
        worker: int,
        gpu: str | None,
        task_id: int,
    ) -> None:
        self.scenario = scenario
        self.group = group
        self.executor = executor
        self.worker = worker
        self.gpu = gpu
        self.task_id = task_id
        self.algo_argv = protocol.split_algo(scenario.algo)
        self._our_wrapper = runs_our_wrapper(scenario, self.algo_argv)
        # a stopped trial's tree gets its wrapper's --grace, not a shorter one around it
        self._grace = wrapper_grace(scenario)

    @property
    def longest(self) -> float | None:
        """Seconds after which a trial is killed and recorded CRASHED; None without a cutoff."""
        cutoff = self.scenario.cutoff_time
        return longest_run(cutoff, self._grace) if cutoff is not None else None

    def _set_aside_what_an_earlier_trial_left(self, run_id: str) -> Path | None:
        """The folder of an earlier trial of the slot that was stopped (a Ctrl-C of its
        launch) and not recorded holds its log and a checkpoint it saved: it is kept as
        `runs/<run id>.stopped-<time>`, where its run is started afresh. (A dead worker's run
        was set aside by the resume, as lost.) Removed only where it cannot be renamed.
        Where it was kept; None when it was not."""
        kept = set_aside(self.group, run_id, "stopped")
        if kept is not None:
            print(
                f"run {run_id}: what an earlier, unrecorded trial of it left is kept in {kept}",
                file=sys.stderr,
                flush=True,
            )
        shutil.rmtree(self.group.run(run_id).path, ignore_errors=True)
        return kept

    def _attempt_to_continue(
        self,
        run_id: str,
        config: Mapping[str, Any],
        left: Path | None,
        budget: float | None,
        resume_from: RunRecord | None,
    ) -> tuple[Path, float | None] | None:
        """The folder of an unrecorded attempt of this very trial of CONFIG (stopped or lost,
        kept in LEFT; where that one left no artifacts, the attempt it continued, and so on)
        and how far, in budget units, its learning curve shows it trained: a re-run continues
        from the checkpoint it saved there, as a resumed Ray Tune trial does. None when no
        attempt left artifacts, it ran another configuration (a design's row edited since),
        or it trained no further than RESUME_FROM, the lower-budget run a promotion continues
        from anyway. How far is None without a budget (BUDGET: the flag's value) or a curve in
        its units."""
        for _ in range(_ATTEMPTS_LOOKED_AT):
            if left is None or _holds_files(RunDir(left).artifacts):
                break
            left = _attempt_it_continued(left, run_id)  # stopped before it saved anything
        if left is None or not _holds_files(RunDir(left).artifacts):
            return None
        ran = (read_json_object(RunDir(left).trial) or {}).get("config", config)
        if ran != json.loads(json.dumps(dict(config))):
            print(
                f"run {run_id}: its earlier attempt ({left}) ran another configuration; this"
                " one starts afresh",
                file=sys.stderr,
                flush=True,
            )
            return None
        steps = [point["step"] for point in read_progress(RunDir(left).progress)]
        reached = max(steps) if steps and budget is not None and max(steps) <= budget else None
        if resume_from is not None:
            earlier = self.group.units_reached(resume_from)
            if reached is None or earlier is None or reached <= earlier:
                return None
        return left, reached

    def start(
        self,
        run_id: str,
        proposal: Proposal,
        instance: str,
        instance_info: str,
        seed: int,
        resume_from: RunRecord | None = None,
        repeats: bool = False,
    ) -> Trial:
        """Start the classic call of PROPOSAL in a fresh run directory; mark it running.

        A multi-fidelity trial gets its budget as the scenario's `budget-flag` parameter
        (and in the call's run-length field), and RESUME_FROM, the run of the same
        configuration at a lower budget, as the folder to continue training from. A trial
        that REPEATS the slot's unrecorded one (owed, or a design's row) continues from what
        that one left instead, where it trained further."""
        scenario = self.scenario
        run_dir = self.group.run(run_id)
        kept = self._set_aside_what_an_earlier_trial_left(run_id)
        run_dir.path.mkdir(parents=True)
        config: dict[str, Any] = dict(proposal.config)
        env = trial_environment(run_dir.path, self.gpu, self.task_id)
        if not self._our_wrapper:  # what a promotion's RESUME_FROM names; the wrapper makes it
            run_dir.artifacts.mkdir()
            env[ARTIFACTS_ENV] = str(run_dir.artifacts)
        budget = None
        if proposal.budget is not None and scenario.budget_flag:
            budget = passed_budget(proposal.budget, scenario)
            config[scenario.budget_flag] = budget
            env[BUDGET_ENV] = str(budget)
            env[BUDGET_FLAG_ENV] = scenario.budget_flag
        left = (kept or self.group.left_by_lost_attempt(run_id)) if repeats else None
        with contextlib.suppress(OSError):  # a full disk: a re-run then trusts the attempt
            write_json_atomic(run_dir.trial, {"config": proposal.config})
        attempt = self._attempt_to_continue(run_id, proposal.config, left, budget, resume_from)
        continued_from = None
        if attempt is not None:
            earlier, continued_from = RunDir(attempt[0]), attempt[1]
            env[RESUME_FROM_ENV] = str(earlier.artifacts)
            env[RESUME_RUN_ENV] = run_id
            # its whole curve so far (without a budget, as far as it goes)
            reached = continued_from if continued_from is not None else math.inf
            carry_progress(earlier.progress, run_dir.progress, reached)
            print(f"run {run_id}: continues from {earlier.artifacts}", file=sys.stderr, flush=True)
        elif resume_from is not None:
            env[RESUME_FROM_ENV] = str(self.group.run(resume_from["run_id"]).artifacts)
            env[RESUME_RUN_ENV] = resume_from["run_id"]
            continued_from = self.group.units_reached(resume_from)
        algo_argv = self.algo_argv
        if self._our_wrapper and instance.startswith("--") and algo_argv[-1:] != ["--"]:
            algo_argv = [*algo_argv, "--"]  # the instance is no option of the wrapper's
        argv = protocol.build_call(
            algo_argv,
            instance=instance,
            instance_info=instance_info,
            cutoff=scenario.cutoff_time,
            seed=seed,
            config=config,
            run_length=budget,
            keep_quotes=self._our_wrapper,
        )
        spec = TrialSpec(
            argv,
            cwd=Path(scenario.execdir),
            env=env,
            run_dir=run_dir.path,
            log_path=run_dir.algo_log,
            stderr_path=run_dir.algo_stderr,
            limits=Limits(
                wall_time=self.longest,
                memory_mb=scenario.memory_limit,
                grace=self._grace,
            ),
            stop_file=None if self._our_wrapper else run_dir.stop_request,
        )
        started = time.time()
        host, pid, pid_start = this_process()
        marker = RunningMarker(
            run_id=run_id,
            worker=self.worker,
            config=proposal.config,
            instance=instance,
            seed=seed,
            smac_seed=proposal.smac_seed,
            budget=proposal.budget,
            trained_budget=budget,
            continued_from=continued_from,
            started=started,
            run_dir=str(run_dir.path.relative_to(self.group.path)),
            log=str(run_dir.log().relative_to(self.group.path)),
            host=host,
            pid=pid,
            pid_start=pid_start,
            trial_pid=None,
            marker=None,
            queued=False,
        )
        # before the start too: a worker killed while its trial starts leaves the marker, by
        # which its slot owes the trial (else it ran whatever SMAC3 proposed next)
        self.group.mark_running(marker)
        handle = self.executor.start(spec)
        trial = Trial(
            run_id, proposal, instance, instance_info, seed, argv, run_dir, started, handle
        )
        trial.promoted_from = resume_from["run_id"] if resume_from is not None else None
        trial.continued_from_budget = continued_from
        trial.trained_budget = budget
        trial.marker = RunningMarker(
            **{**marker, "trial_pid": handle.pid, "marker": handle.marker, "queued": handle.queued}
        )
        self.group.mark_running(trial.marker)
        trial.thread = threading.Thread(target=self._wait, args=(trial,), daemon=True)
        trial.thread.start()
        return trial

    @staticmethod
    def _wait(trial: Trial) -> None:
        try:
            trial.outcome = trial.handle.wait()
        except OSError as error:  # raised again by `record`, in the worker's own thread
            trial.failure = error
        trial.start_error = trial.handle.start_error

    def wait(
        self, trial: Trial, must_stop: Callable[[], bool], pruner: Pruner | None = None
    ) -> None:
        """Wait for the trial to end; interrupt it once MUST_STOP, and ask PRUNER whether its
        learning curve is hopeless each time the curve grows and at least every PRUNE_EVERY
        seconds: a script with short epochs is judged at each rung it reaches, not at the one
        it has passed a second later; looks that take long are paced (PRUNE_PACE). A trial
        that waited in a cluster's queue is marked running, from now on, once it begins, and
        from its new start once it begins again (its worker lost). Its running marker stays:
        the worker clears it once the trial's slot and units are settled (`Worker._settle`)."""
        assert trial.thread is not None
        judged_size, next_check, pruned = 0, time.monotonic() + PRUNE_EVERY, False
        paced_until = 0.0
        began = trial.handle.began
        while trial.thread.is_alive():
            trial.thread.join(0.1)
            if trial.marker is not None and (
                trial.marker["queued"] != trial.handle.queued or trial.handle.began != began
            ):
                began = trial.handle.began
                if not trial.handle.queued:  # it began; one submitted again waits once more
                    trial.started = time.time()
                trial.marker = {
                    **trial.marker,
                    "started": trial.started,
                    "queued": trial.handle.queued,
                }
                self.group.mark_running(trial.marker)
            if must_stop():
                trial.interrupt()
            if pruner is None or pruned:
                continue
            size = file_size(trial.run_dir.progress)
            now = time.monotonic()
            if now >= paced_until and (size != judged_size or now >= next_check):
                judged_size, next_check = size, now + PRUNE_EVERY
                verdict = pruner.verdict(trial.run_id, trial.trained_budget)
                paced_until = time.monotonic() + PRUNE_PACE * (time.monotonic() - now)
                if verdict is not None:
                    write_stop_request(trial.run_dir, verdict)
                    pruned = True
        if must_stop() or trial.interrupted:
            # unfinished unless its wrapper decided a result the stop did not make: a script
            # that had ended as the stop came (its leftovers taking their grace) is recorded
            trial.interrupted = not trial.ended_by_itself()
        if trial.handle.remote and trial.outcome is not None:
            # its last attempt began its wall time before its end: after a first attempt the
            # cluster lost, or between two looks while it was queued
            trial.started = max(trial.started, time.time() - trial.outcome.wall_time)

    def record(self, trial: Trial) -> RunRecord:
        """The run record of a finished trial (docs/architecture.md); the OSError that kept
        it from finishing its files."""
        if trial.failure is not None:
            raise trial.failure
        outcome = trial.outcome
        assert outcome is not None
        scenario = self.scenario
        wrapped = read_json_object(trial.run_dir.result) or {}
        if trial.start_error is not None:
            result = protocol.RunResult("CRASHED", 0.0, 0.0, protocol.CRASHED_QUALITY, -1)
            result.additional = f"ERROR: {trial.start_error}"
            reason: str | None = trial.start_error
        elif outcome.stopped_by == "wall_time":
            captime = self.longest or 0.0
            result = protocol.RunResult(
                "CRASHED",
                outcome.wall_time,
                0.0,
                protocol.CRASHED_QUALITY,
                trial.seed,
                "Run Exceeded Captime -- Treating as CRASHED",
            )
            reason = (
                f"killed after {captime:g} s (the longer of {CAPTIME_FACTOR:g} x the cutoff and"
                f" the cutoff + the wrapper's grace + {CAPTIME_MARGIN:g} s)"
            )
        elif outcome.stopped_by == "memory":  # a process algo's tree, killed as the wrapper's
            status: protocol.Status = "CRASHED" if scenario.run_obj == "runtime" else "UNSAT"
            reason = f"memory limit {scenario.memory_limit:g} MB exceeded"
            additional = f"reason={reason}"
            result = protocol.RunResult(
                status, outcome.wall_time, 0.0, protocol.CRASHED_QUALITY, trial.seed, additional
            )
        elif outcome.stopped_by == "stop_request":  # a plain algo, stopped by its supervisor
            result, reason = self._stopped_result(trial, outcome)
        else:
            result = protocol.find_result(
                _lines(trial.run_dir.algo_log), round(outcome.wall_time, 4), trial.seed
            )
            # a plain algo writes its log itself: the worker never sees a failed write
            no_line = result.additional == protocol.NO_RESULT_LINE
            if no_line and (trouble := disk_trouble(trial.run_dir.path)) is not None:
                lost = f"{trouble}: the run's output, and its result line, were lost"
                raise OSError(errno.ENOSPC, lost, str(trial.run_dir.algo_log))
            over = result.status == "UNSAT" and over_memory(wrapped.get("reason"))
            if scenario.run_obj == "runtime" and (result.word == "MEMOUT" or over):
                result.status = "CRASHED"  # as UNSAT, a runtime scenario would count it solved
            solved = solves(result.status, scenario.run_obj)
            reason = None if solved else self._reason(trial, result, outcome, wrapped)
        if (
            scenario.run_obj == "quality"
            and result.status == "SAT"
            and not is_quality(result.quality)
        ):
            reason = (  # views list the run as failed: say why (also of a stop's SAT line)
                f"the target reported {result.word or result.status} with the quality"
                f" {protocol.java_double(result.quality)}, which is none"
            )
        extra = wrapped.get("extra")
        if not isinstance(extra, dict):
            extra = protocol.parse_additional(result.additional) if result.additional else {}
        exit_code = wrapped.get("exit_code", outcome.exit_code)
        assert trial.proposal.smac_seed is not None, "the optimiser adopts a trial before it ends"
        return new_record(
            run_id=trial.run_id,
            worker=self.worker,
            config=trial.proposal.config,
            instance=trial.instance,
            instance_info=trial.instance_info,
            seed=trial.seed,
            smac_seed=trial.proposal.smac_seed,
            budget=trial.proposal.budget,
            trained_budget=trial.trained_budget,
            cutoff=scenario.cutoff_time,
            run_obj=scenario.run_obj,
            status=result.status,
            runtime=result.runtime,
            runlength=result.runlength,
            quality=result.quality,
            cost=record_cost(
                scenario.run_obj,
                result.status,
                result.runtime,
                result.quality,
                cutoff=scenario.cutoff_time,
                par_factor=scenario.par_factor,
            ),
            reason=reason,
            additional=result.additional,
            extra=extra,
            started=trial.started,
            wall_time=outcome.wall_time,
            stopped_by_user=bool(wrapped.get("stopped_by_user", False))
            or (outcome.stopped_by == "stop_request" and not stop_note(trial.run_dir)),
            exit_code=exit_code if isinstance(exit_code, int) else None,
            cpu_time=_script_measure(wrapped, "cpu_time", outcome.cpu_time),
            peak_rss_mb=_script_measure(wrapped, "peak_rss_mb", outcome.peak_rss_mb),
            # the wrapper's own lease where it took one (a Dask worker's GPU), else the slot's
            gpu=wrapped["gpu"] if "gpu" in wrapped else self.gpu,
            promoted_from=trial.promoted_from,
        )

    def _stopped_result(
        self, trial: Trial, outcome: Outcome
    ) -> tuple[protocol.RunResult, str | None]:
        """A plain algo stopped on a request (`smac-bridge stop`, a pruning rule), and why: the
        result line it printed on the SIGTERM, else TIMEOUT at its wall time, as Java SMAC
        records a run it killed. Unsolved (a MEMOUT too), its line's status is TIMEOUT: the
        stop ended it (an ABORT or a first run's CRASHED printed as it left aborted the
        launch), with the quality of a TIMEOUT line alone (a CRASHED line's placeholder 0 was
        a partial quality better than any)."""
        runtime = round(outcome.wall_time, 4)
        result = protocol.find_result(_lines(trial.run_dir.algo_log), runtime, trial.seed)
        if result.additional == protocol.NO_RESULT_LINE:
            result = protocol.RunResult(
                "TIMEOUT", runtime, 0.0, protocol.CRASHED_QUALITY, trial.seed
            )
        if solves(result.status, self.scenario.run_obj) and result.word != "MEMOUT":
            return result, None
        if result.status != "TIMEOUT" or not math.isfinite(result.quality):
            result.quality = protocol.CRASHED_QUALITY
        result.status = "TIMEOUT"
        return result, stop_note(trial.run_dir) or "stopped by user"

    @staticmethod
    def _reason(
        trial: Trial, result: protocol.RunResult, outcome: Outcome, wrapped: dict[str, Any]
    ) -> str | None:
        """Why a run failed, in a few words: the wrapper's reason, the result line's, or the
        algo's exit and the last line it wrote to stderr."""
        if wrapped.get("reason"):
            return str(wrapped["reason"])
        line_reason = protocol.parse_additional(result.additional).get("reason")
        if line_reason:
            return str(line_reason)
        word = result.word or result.status  # MEMOUT, stored as UNSAT or CRASHED
        note = f" ({protocol.STATUS_NOTES[word]})" if word in protocol.STATUS_NOTES else ""
        text = result.additional.removeprefix("ERROR: ") or f"the target reported {word}{note}"
        if outcome.exit_code not in (0, None):
            text += f" (exit code {outcome.exit_code})"
        stderr = last_line(trial.run_dir.algo_stderr)
        return f"{text}: {stderr}" if stderr else text

    def describe_failure(self, what: str, trial: Trial, record: RunRecord) -> str:
        """An abort message: what happened, the command line, and the end of its output."""
        run_dir = trial.run_dir
        # a failed run's additional data may say why; a solved run's is only its values
        reason = record.get("reason") or ("" if record.get("solved") else record["additional"])
        parts = [
            f"{what} (run {trial.run_id}, worker {self.worker}): {reason}".rstrip(": "),
            f"command: cd {protocol.shell_command([str(self.scenario.execdir)])}; "
            + protocol.shell_command(trial.argv),
        ]
        command = read_json_object(run_dir.command)
        if command and isinstance(command.get("argv"), list):
            parts.append(f"script: {protocol.shell_command(command['argv'])}")
        for path in (run_dir.script_log, run_dir.algo_log, run_dir.algo_stderr):
            if path.exists() and path.stat().st_size:
                parts += [f"last lines of {path}:", log_tail(path)]
        return "\n".join(parts)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text_lines(text)  # as Java SMAC reads lines: at \n and \r only
