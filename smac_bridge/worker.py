"""One worker of a launch: a SMAC3 optimiser driven by ask/tell that runs the classic call.

A worker never uses SMAC3's `optimize()` loop. Each trial is the scenario's `algo` called
the SMAC 2.10 way (protocol.build_call) through an executor (executors/: a Supervisor here,
or one on a Dask worker), waited for in a background thread, while
the main thread already asks SMAC3 for the next configuration: a retraining `ask()` costs
seconds, and it must not leave the worker's slot idle.

Everything a worker knows lives in the run-data directory (rundata.py): its own finished
runs, the other workers' runs (read incrementally in shared-model mode and told to SMAC3 so
that its random forest learns from the whole group), and the budget slots. SMAC3's own state
directory is rebuilt at every start (overwrite=True) by replaying the records, so resuming
is the same code path as reading other workers, and SMAC3 never prompts.

All workers of a rungroup use one intensifier seed, so their trials get the same
(instance, seed) keys and their runs can be pooled and reused instead of re-run.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smac_bridge import protocol
from smac_bridge.errors import InputError
from smac_bridge.executors import Executor, TrialHandle, TrialSpec, make_executor
from smac_bridge.rundata import RecordReader, RunGroup, hostname, pid_alive, trial_key
from smac_bridge.scenario import Scenario, read_scenario
from smac_bridge.supervisor import Limits, Outcome

CAPTIME_FACTOR = 10.0
"""A run is killed at this many times the cutoff and recorded CRASHED, as in SMAC 2.10."""
INTENSIFIER_SEED = 0
"""Shared by every worker of every rungroup: it fixes the trial seeds (see module doc)."""
N_TRIALS = 10**9
"""SMAC3's n_trials: never reached; the worker counts the budget itself (run slots)."""
EXIT_DONE, EXIT_FAILED, EXIT_STOPPED, EXIT_ABORT = 0, 1, 130, 255
RESULT_CODES = {"SAT": 1, "UNSAT": 2, "TIMEOUT": 0, "CRASHED": -1, "ABORT": -2}
TRAJ_HEADER = (
    "CPU Time Used",
    "Estimated Training Performance",
    "Wallclock Time",
    "Incumbent ID",
    "Automatic Configurator (CPU) Time",
    "Full Configuration",
    "Predicted Performance (if available)",
)
RUNS_HEADER = (
    "Run Number",
    "Run History Configuration ID",
    "Instance ID",
    "Response Value (y)",
    "Censored?",
    "Cutoff Time Used",
    "Seed",
    "Runtime",
    "Run Length",
    "Run Result Code",
    "Run Quality",
    "SMAC Iteration",
    "SMAC Cumulative Runtime",
    "Run Result",
    "Additional Algorithm Run Data",
    "Wall Clock Time",
)
NO_INSTANCE = "no_instance"
LOG_TAIL_LINES = 20


class LaunchAbort(Exception):
    """The launch must stop (ABORT, first-run crash, SAT/UNSAT discrepancy)."""


def record_cost(scenario: Scenario, status: str, runtime: float, quality: float) -> float:
    """What SMAC3 is told for a result, with SMAC 2.10's semantics (spec §3.4).

    Quality: the reported quality, and max(q, 1e9) for CRASHED. Runtime: the runtime, with
    PAR-k for runs at or over the cutoff, for TIMEOUT and for CRASHED.
    """
    if scenario.run_obj == "quality":
        if status == "CRASHED":
            return max(quality, protocol.CRASHED_QUALITY)
        return quality
    cutoff, k = scenario.cutoff_time, scenario.par_factor
    if status in ("SAT", "UNSAT"):
        return runtime * k if cutoff is not None and runtime >= cutoff else runtime
    return k * cutoff if cutoff is not None else protocol.CRASHED_QUALITY


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(no output)"


def plain(value: Any) -> Any:
    """A JSON-able Python scalar for a ConfigSpace value (numpy scalars have `.item()`)."""
    return value.item() if hasattr(value, "item") else value


def trial_environment(
    run_dir: Path, gpu: str | None, task_id: int, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The trial's environment: the worker's, plus what SMAC 2.10 and the wrapper expect.

    PATH starts with the folder of this Python, so that `smac-bridge` and `python` in a
    scenario's algo are those of the environment smac-bridge is installed in.
    """
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join(
        p for p in (os.path.dirname(sys.executable), env.get("PATH")) if p
    )
    env["SMAC_BRIDGE_RUN_DIR"] = str(run_dir)
    env["SMAC_BRIDGE_GPU"] = gpu or ""
    env["AEATK_CONCURRENT_TASK_ID"] = str(task_id)
    env["AEATK_EXECUTION_UUID"] = str(uuid.uuid4())
    if gpu:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


@dataclass
class Trial:
    """One trial in flight: what SMAC3 asked for and the process running it."""

    run_id: str
    info: Any  # smac TrialInfo
    config: dict[str, Any]
    instance: str
    instance_info: str
    seed: int
    argv: list[str]
    run_dir: Path
    started: float
    handle: TrialHandle | None = None
    thread: threading.Thread | None = None
    outcome: Outcome | None = None
    start_error: str | None = None
    interrupted: bool = False


@dataclass
class Evidence:
    """What the worker learnt from the others (written to workers/<seed>.json)."""

    foreign_runs_told: int = 0
    foreign_run_ids_told: list[str] = field(default_factory=list)
    history_size_at_last_ask: int = 0
    foreign_in_history_at_last_ask: int = 0
    reused: list[str] = field(default_factory=list)
    forbidden_told: int = 0


class Worker:
    """One SMAC3 optimiser of a rungroup; `run()` returns the process exit code."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        *,
        gpu: str | None = None,
        task_id: int = 0,
        log_level: int = 40,
        design: Sequence[Mapping[str, Any]] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.gpu = gpu
        self.task_id = task_id
        self.log_level = log_level
        self.design = [dict(row) for row in design] if design is not None else None
        self.executor = executor if executor is not None else make_executor()
        self.group = RunGroup(Path(scenario.outdir) / scenario.rungroup)
        self.started = time.time()
        self.evidence = Evidence()
        self.state = "starting"
        self.message = ""
        self._stop = threading.Event()
        self._stop_reason: str | None = None
        self._trial: Trial | None = None
        self._known: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._statuses: dict[str, set[str]] = {}
        self._group_runtime = 0.0
        self._own_runtime = 0.0
        self._own_runs = 0
        self._executed = 0
        self._next_sync = 0.0
        self._last_incumbent: tuple[int, float] | None = None
        self._incumbent: dict[str, Any] | None = None

    # ---- set-up ---------------------------------------------------------------------------

    def _setup(self) -> None:
        """Read the scenario's files, build the SMAC3 facade and replay every known run."""
        from ConfigSpace import Configuration
        from smac import Scenario as SmacScenario
        from smac.intensifier.intensifier import Intensifier

        from smac_bridge import smac_fast
        from smac_bridge.instances import read_features, read_instances
        from smac_bridge.pcs import read_pcs

        self._configuration = Configuration
        scenario = self.scenario
        self.search_space = read_pcs(scenario.paramfile)
        self.space = self.search_space.space
        self.algo_argv = protocol.split_algo(scenario.algo)
        self.instances: dict[str, str] = {}
        instance_names: list[str] | None = None
        features: dict[str, list[float]] | None = None
        if scenario.instance_file is not None and scenario.use_instances:
            read = read_instances(scenario.instance_file)
            self.instances = {instance.name: instance.info for instance in read}
            instance_names = list(self.instances)
            if scenario.feature_file is not None:
                table = read_features(scenario.feature_file, instance_names)
                features = {name: list(table[name].values()) for name in instance_names}
        self.instance_ids = {name: index for index, name in enumerate(instance_names or [], 1)}
        kind: smac_fast.FacadeKind = (
            "ac" if scenario.run_obj == "runtime" and instance_names else "hpo"
        )
        self.group.create()
        smac_scenario = SmacScenario(
            self.space,
            name=scenario.rungroup,
            output_directory=self.group.smac3_dir(),
            deterministic=scenario.deterministic,
            crash_cost=record_cost(scenario, "CRASHED", 0.0, 0.0),
            n_trials=N_TRIALS,
            instances=instance_names,
            instance_features=features,
            seed=self.seed,
        )
        facade_cls = smac_fast.facade_class(kind)
        first_worker = self.seed == scenario.seed_offset + 1
        default = [self.space.get_default_configuration()] if first_worker else []
        if scenario.initial_incumbent != "DEFAULT":
            default = []
        if kind == "hpo":
            parallel = int(self.group.launch_info().get("parallel", 1))
            budget = scenario.runcount_limit or N_TRIALS
            n_init = max(1, min(10 * len(self.space), int(0.25 * budget / max(parallel, 1))))
            initial = facade_cls.get_initial_design(
                smac_scenario, n_configs=n_init, additional_configs=default
            )
            max_calls = 3
        else:
            initial = facade_cls.get_initial_design(smac_scenario)
            max_calls = 2000
        self.facade = facade_cls(
            smac_scenario,
            None,
            model=smac_fast.make_model(smac_scenario, kind),
            initial_design=initial,
            intensifier=Intensifier(
                smac_scenario, max_config_calls=max_calls, seed=INTENSIFIER_SEED
            ),
            config_selector=smac_fast.make_config_selector(smac_scenario, retrain_after=4),
            logging_level=self.log_level,
            overwrite=True,
        )
        self._reader = RecordReader(self.group)
        self._sync(force=True, replay=True)
        self._own_runs = sum(1 for r in self.group.records() if r.get("worker") == self.seed)
        self._start_trajectory()

    # ---- reading and telling runs -----------------------------------------------------------

    def _smac_instance(self, name: str) -> str | None:
        return name if self.instances else None

    def _trial_info(self, record: Mapping[str, Any]) -> Any:
        from smac.runhistory.dataclasses import TrialInfo

        config = self._configuration(self.space, values=record["config"])
        return TrialInfo(
            config=config,
            instance=self._smac_instance(record["instance"]),
            seed=int(record["smac_seed"]),
        )

    def _tell(self, info: Any, record: Mapping[str, Any], save: bool) -> None:
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        status = {"TIMEOUT": StatusType.TIMEOUT, "CRASHED": StatusType.CRASHED}.get(
            record["status"], StatusType.SUCCESS
        )
        value = TrialValue(
            cost=float(record["cost"]),
            time=float(record["runtime"]),
            status=status,
            starttime=float(record["started"]),
            endtime=float(record["ended"]),
            additional_info={"run_id": record["run_id"], "worker": record["worker"]},
        )
        self.facade.tell(info, value, save=save)

    def _sync(self, force: bool = False, replay: bool = False) -> None:
        """Read the group's new records; tell SMAC3 the ones it does not know yet.

        In shared-model mode that is every worker's runs; otherwise only this worker's own
        (at a restart). Every record still counts for the group's tuner time.
        """
        now = time.monotonic()
        if not force and now < self._next_sync:
            return
        self._next_sync = now + self.scenario.shared_model_mode_frequency
        told = False
        for record in self._reader.poll():
            if record.get("reused_from"):
                continue
            self._group_runtime += float(record.get("runtime") or 0.0)
            own = record.get("worker") == self.seed
            if own and replay:
                self._own_runtime += float(record.get("runtime") or 0.0)
            if not own and not self.scenario.shared_model_mode:
                continue
            key = trial_key(record)
            if key in self._known:
                continue
            if record["instance"] not in self.instances and self.instances:
                continue  # another instance set: not comparable
            try:
                info = self._trial_info(record)
            except (ValueError, KeyError, TypeError):
                continue  # a configuration outside this PCS
            self._known[key] = record
            self._statuses.setdefault(record["instance"], set()).add(record["status"])
            self._tell(info, record, save=False)
            told = True
            if not own:
                self.evidence.foreign_runs_told += 1
                self.evidence.foreign_run_ids_told.append(record["run_id"])
        if told:
            self._update_incumbent()

    # ---- asking -------------------------------------------------------------------------------

    def _ask(self) -> Any | None:
        """The next trial to run (forbidden proposals are told a crash without running);
        None when SMAC3 has nothing left to propose."""
        from smac.main.exceptions import ConfigurationSpaceExhaustedException
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        while not self._stop.is_set():
            if self.scenario.shared_model_mode:
                self._sync()
            history = self.facade.runhistory
            self.evidence.history_size_at_last_ask = history.finished
            self.evidence.foreign_in_history_at_last_ask = self.evidence.foreign_runs_told
            try:
                info = self.facade.ask()
            except (StopIteration, ConfigurationSpaceExhaustedException):
                return None
            values = {name: plain(value) for name, value in dict(info.config).items()}
            if not self.search_space.is_forbidden(values):
                return info
            cost = record_cost(self.scenario, "CRASHED", 0.0, 0.0)
            self.facade.tell(info, TrialValue(cost=cost, status=StatusType.CRASHED), save=False)
            self.evidence.forbidden_told += 1
        return None

    def _describe(self, info: Any) -> tuple[dict[str, Any], str, str, int]:
        """(config, instance, instance info, algo seed) of a trial, as the classic call has them."""
        config = {name: plain(value) for name, value in dict(info.config).items()}
        instance = info.instance if info.instance is not None else NO_INSTANCE
        instance_info = self.instances.get(instance, "0")
        seed = -1 if self.scenario.deterministic else int(info.seed)
        return config, instance, instance_info, seed

    # ---- the main loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Run until the budget, a limit, a stop or an abort ends the worker."""
        previous_handlers = self._install_signals()
        code = EXIT_FAILED
        try:
            self._heartbeat("starting")
            self._setup()
            self._heartbeat("running")
            code = self._loop()
        except LaunchAbort as abort:
            self.message = str(abort)
            code = EXIT_ABORT
        except InputError as error:
            self.message = f"error: {error}"
            code = EXIT_FAILED
        except Exception:  # noqa: BLE001 - a worker reports why it died, then exits 1
            self.message = traceback.format_exc()
            print(self.message, file=sys.stderr)
            code = EXIT_FAILED
        finally:
            if hasattr(self, "facade"):
                if self.scenario.shared_model_mode:
                    self._sync(force=True)
                self._update_incumbent(final=True)
            if code == EXIT_STOPPED and self.group.abort_info() is not None:
                code = EXIT_ABORT  # stopped because another worker aborted the launch
            states = {EXIT_DONE: "done", EXIT_STOPPED: "stopped", EXIT_ABORT: "aborted"}
            self._heartbeat(states.get(code, "failed"))
            for number, handler in previous_handlers.items():
                signal.signal(number, handler)
        return code

    def _loop(self) -> int:
        if self.design is not None:
            return self._run_design(self.design)
        pending = self._ask()
        while pending is not None:
            ended = self._check_end()
            if ended is not None:
                return ended
            config, instance, instance_info, seed = self._describe(pending)
            key = trial_key({"config": config, "instance": instance, "seed": seed})
            if self.scenario.shared_model_mode and self._wait_for_identical(key):
                self._reuse(pending, self._known[key])
                pending = self._ask()
                continue
            run_id = self.group.claim_slot(self.scenario.runcount_limit or N_TRIALS, self.seed)
            if run_id is None:
                self.message = "run budget used up"
                return EXIT_DONE
            trial = self._start(run_id, pending, config, instance, instance_info, seed)
            pending = self._ask()  # ask ahead while the trial runs
            self._finish(trial)
            if trial.interrupted:
                return self._check_end() or EXIT_STOPPED
        self.message = "no configuration left to propose"
        return EXIT_DONE

    def _run_design(self, design: list[dict[str, Any]]) -> int:
        """Run design rows instead of SMAC3's proposals: the slot `00007` is row 7, so that
        a resume re-runs exactly the rows whose runs did not finish. SMAC3 is still told
        every run, for the incumbent, the trajectory and runs_and_results."""
        from smac.runhistory.dataclasses import TrialInfo

        limit = min(len(design), self.scenario.runcount_limit or N_TRIALS)
        instance = next(iter(self.instances), NO_INSTANCE)
        while True:
            self._sync()
            ended = self._check_end()
            if ended is not None:
                return ended
            run_id = self.group.claim_slot(limit, self.seed)
            if run_id is None:
                self.message = "design finished"
                return EXIT_DONE
            row = int(run_id)
            config = self._configuration(self.space, values=design[row - 1])
            # Deterministic: one seed for all rows, so that SMAC3 can compare them for the
            # incumbent; else a seed per row, so that repeated rows are replicates.
            smac_seed = 0 if self.scenario.deterministic else row
            info = TrialInfo(config, instance=self._smac_instance(instance), seed=smac_seed)
            values = {name: plain(value) for name, value in dict(config).items()}
            seed = -1 if self.scenario.deterministic else row
            info_text = self.instances.get(instance, "0")
            trial = self._start(run_id, info, values, instance, info_text, seed)
            self._finish(trial)
            if trial.interrupted:
                return self._check_end() or EXIT_STOPPED

    def _check_end(self) -> int | None:
        """Exit code if the worker must end before its next run, else None."""
        abort = self.group.abort_info()  # first: the launcher also signals on an abort
        if abort is not None:
            self.message = f"launch aborted: {abort['reason']}"
            return EXIT_ABORT
        if self._stop.is_set():
            self.message = self._stop_reason or "stopped"
            return EXIT_STOPPED
        limit = self.scenario.wallclock_limit
        since = float(self.group.launch_info().get("session_started", self.started))
        if limit is not None and time.time() - since >= limit:
            self.message = "wallclock-limit reached"
            return EXIT_DONE
        if self.scenario.shared_model_mode is False:
            self._sync(force=False)
        timeout = self.scenario.tuner_timeout
        if timeout is not None and self._group_runtime >= timeout:
            self.message = "tunerTimeout reached"
            return EXIT_DONE
        return None

    def _wait_for_identical(self, key: tuple[str, str, int]) -> bool:
        """True when another worker ran (or is running, then wait for it) the same trial."""
        self._sync(force=True)
        while key not in self._known:
            busy = False
            for marker in self.group.running():
                if marker.get("worker") == self.seed or trial_key(marker) != key:
                    continue
                local = marker.get("host") == hostname()
                busy = busy or not local or pid_alive(int(marker.get("pid", 0)))
            if not busy or self._stop.is_set() or self.group.abort_info() is not None:
                return False
            time.sleep(0.2)
            self._sync(force=True)
        return True

    def _reuse(self, info: Any, original: dict[str, Any]) -> None:
        """Take another worker's result for an identical trial instead of running it."""
        record = {**original, "worker": self.seed, "reused_from": original["run_id"]}
        self._tell(info, record, save=False)
        self.group.append_record(self.seed, record)
        self.evidence.reused.append(original["run_id"])
        self._update_incumbent()

    # ---- running one trial -----------------------------------------------------------------

    def _start(
        self,
        run_id: str,
        info: Any,
        config: dict[str, Any],
        instance: str,
        instance_info: str,
        seed: int,
    ) -> Trial:
        scenario = self.scenario
        run_dir = self.group.run_dir(run_id)
        shutil.rmtree(run_dir, ignore_errors=True)  # left by an unfinished run of this slot
        run_dir.mkdir(parents=True)
        argv = protocol.build_call(
            self.algo_argv,
            instance=instance,
            instance_info=instance_info,
            cutoff=scenario.cutoff_time,
            seed=seed,
            config=config,
        )
        trial = Trial(
            run_id, info, config, instance, instance_info, seed, argv, run_dir, time.time()
        )
        cutoff = scenario.cutoff_time
        limits = Limits(
            wall_time=CAPTIME_FACTOR * cutoff if cutoff is not None else None,
            memory_mb=scenario.memory_limit,
        )
        spec = TrialSpec(
            argv,
            cwd=Path(scenario.execdir),
            env=trial_environment(run_dir, self.gpu, self.task_id),
            run_dir=run_dir,
            log_path=self.group.algo_log(run_id),
            stderr_path=run_dir / "algo_stderr.log",
            limits=limits,
        )
        trial.handle = self.executor.start(spec)
        self._trial = trial
        self.group.mark_running(
            {
                "run_id": run_id,
                "worker": self.seed,
                "config": config,
                "instance": instance,
                "seed": seed,
                "started": trial.started,
                "run_dir": f"runs/{run_id}",
                "log": str(self.group.run_log(run_id).relative_to(self.group.path)),
                "host": hostname(),
                "pid": os.getpid(),
                "trial_pid": trial.handle.pid,
                "marker": trial.handle.marker,
            }
        )
        self._heartbeat("running", current_run=run_id)
        if self._stop.is_set():
            trial.handle.request_stop("interrupt")
        trial.thread = threading.Thread(target=self._wait_trial, args=(trial,), daemon=True)
        trial.thread.start()
        return trial

    @staticmethod
    def _wait_trial(trial: Trial) -> None:
        assert trial.handle is not None
        trial.outcome = trial.handle.wait()
        trial.start_error = trial.handle.start_error

    def _finish(self, trial: Trial) -> None:
        """Wait for the trial (stopping it on a stop or abort), then record and tell it."""
        assert trial.thread is not None and trial.handle is not None
        while trial.thread.is_alive():
            trial.thread.join(0.1)
            if self._stop.is_set() or self.group.abort_info() is not None:
                trial.handle.request_stop("interrupt")
                trial.interrupted = True
        self._trial = None
        self.group.clear_running(trial.run_id)
        if trial.interrupted:
            self.group.release_slot(trial.run_id)  # not finished: a resume re-runs it
            return
        record = self._record(trial)
        self._executed += 1
        try:
            self._check_result(trial, record)
        except LaunchAbort as abort:
            self.group.release_slot(trial.run_id)
            self.group.request_abort(str(abort), self.seed, trial.run_id)
            raise
        self.group.append_record(self.seed, record)
        key = trial_key(record)
        self._known.setdefault(key, record)
        self._statuses.setdefault(record["instance"], set()).add(record["status"])
        self._tell(trial.info, record, save=True)
        self._own_runs += 1
        self._own_runtime += record["runtime"]
        self._write_runs_and_results(record)
        self._update_incumbent()
        self._heartbeat("running")

    def _record(self, trial: Trial) -> dict[str, Any]:
        """The run record (docs/architecture.md) of a finished trial."""
        outcome = trial.outcome
        assert outcome is not None
        stdout = self.group.algo_log(trial.run_id)
        if trial.start_error is not None:
            result = protocol.RunResult("CRASHED", 0.0, 0.0, protocol.CRASHED_QUALITY, -1)
            result.additional = f"ERROR: {trial.start_error}"
        elif outcome.stopped_by == "wall_time":
            result = protocol.RunResult(
                "CRASHED",
                outcome.wall_time,
                0.0,
                protocol.CRASHED_QUALITY,
                trial.seed,
                "Run Exceeded Captime -- Treating as CRASHED",
            )
        else:
            try:
                lines = stdout.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            result = protocol.find_result(lines)
        result_json = self._result_json(trial.run_dir)
        extra = result_json.get("extra")
        if not isinstance(extra, dict):
            extra = protocol.parse_additional(result.additional) if result.additional else {}
        return {
            "run_id": trial.run_id,
            "worker": self.seed,
            "config": trial.config,
            "instance": trial.instance,
            "instance_info": trial.instance_info,
            "seed": trial.seed,
            "smac_seed": int(trial.info.seed),
            "cutoff": self.scenario.cutoff_time,
            "status": result.status,
            "runtime": result.runtime,
            "runlength": result.runlength,
            "quality": result.quality,
            "cost": record_cost(self.scenario, result.status, result.runtime, result.quality),
            "additional": result.additional,
            "extra": extra,
            "started": trial.started,
            "ended": trial.started + outcome.wall_time,
            "run_dir": f"runs/{trial.run_id}",
            "stopped_by_user": bool(result_json.get("stopped_by_user", False)),
            "reused_from": None,
            "exit_code": outcome.exit_code,
            "wall_time": outcome.wall_time,
            "cpu_time": outcome.cpu_time,
            "peak_rss_mb": outcome.peak_rss_mb,
        }

    @staticmethod
    def _result_json(run_dir: Path) -> dict[str, Any]:
        try:
            data = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _check_result(self, trial: Trial, record: dict[str, Any]) -> None:
        """Raise LaunchAbort where SMAC 2.10 would stop (spec §3.5)."""
        status = record["status"]
        if status == "ABORT":
            raise LaunchAbort(self._failure("the target signalled ABORT", trial, record))
        captime = record["additional"].startswith("Run Exceeded Captime")
        first = self._executed == 1
        if status == "CRASHED" and first and not captime and self.scenario.abort_on_first_run_crash:
            raise LaunchAbort(self._failure("the first run crashed", trial, record))
        if self.scenario.check_sat_consistency and status in ("SAT", "UNSAT"):
            other = "UNSAT" if status == "SAT" else "SAT"
            if other in self._statuses.get(record["instance"], set()):
                what = f"SAT/UNSAT discrepancy on instance {record['instance']}"
                raise LaunchAbort(self._failure(what, trial, record))

    def _failure(self, what: str, trial: Trial, record: dict[str, Any]) -> str:
        stderr = trial.run_dir / "algo_stderr.log"
        parts = [
            f"{what} (run {trial.run_id}, worker {self.seed}): {record['additional']}".rstrip(": "),
            f"command: cd {shlex.quote(str(self.scenario.execdir))}; {shlex.join(trial.argv)}",
            f"last lines of {self.group.algo_log(trial.run_id)}:",
            log_tail(self.group.algo_log(trial.run_id)),
        ]
        if stderr.exists() and stderr.stat().st_size:
            parts += [f"last lines of {stderr}:", log_tail(stderr)]
        return "\n".join(parts)

    # ---- incumbent, trajectory, runs_and_results ------------------------------------------------

    def _config_text(self, config: Any) -> str:
        """SMAC 2.10's ` name='value', ...` with every parameter (inactive: its default)."""
        values = dict(config)
        parts = []
        for hp in sorted(self.space.values(), key=lambda h: h.name.encode("utf-16-be")):
            value = values.get(hp.name, hp.default_value)
            parts.append(f" {hp.name}='{protocol.format_value(plain(value))}'")
        return ",".join(parts)

    def _start_trajectory(self) -> None:
        path = self.group.trajectory_path(self.seed)
        default = self.space.get_default_configuration()
        first = ("0.0", protocol.java_double(protocol.DOUBLE_MAX), "0.0", "1", "0.0")
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator=",\n")
            writer.writerow(TRAJ_HEADER)
            writer.writerow((*first, self._config_text(default), ""))
        self._last_incumbent = None
        self._update_incumbent()

    def _update_incumbent(self, final: bool = False) -> None:
        """Track SMAC3's incumbent; append a trajectory row when it or its cost changes."""
        if not hasattr(self, "facade"):
            return
        incumbent = self.facade.intensifier.get_incumbent()
        if incumbent is None:
            return
        history = self.facade.runhistory
        cost = float(history.get_cost(incumbent))
        config_id = history.get_config_id(incumbent)
        if (config_id, cost) == self._last_incumbent and not final:
            return
        self._last_incumbent = (config_id, cost)
        config = {name: plain(value) for name, value in dict(incumbent).items()}
        runs = [record["run_id"] for record in self._known.values() if record["config"] == config]
        self._incumbent = {"config": config, "cost": cost, "run_ids": sorted(runs)}
        row = (
            repr(self._own_runtime),
            repr(cost),
            repr(time.time() - self.started),
            str(config_id),
            repr(time.process_time()),
            self._config_text(incumbent),
            "",
        )
        with open(self.group.trajectory_path(self.seed), "a", encoding="utf-8", newline="") as f:
            csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator=",\n").writerow(row)

    def _write_runs_and_results(self, record: dict[str, Any]) -> None:
        path = self.group.runs_and_results_path(self.seed)
        new = not path.exists()
        config_id = self.facade.runhistory.get_config_id(self._trial_info(record).config)
        cutoff = record["cutoff"]
        row = (
            self._own_runs,
            config_id,
            self.instance_ids.get(record["instance"], 1),
            repr(record["cost"]),
            0,
            protocol.java_double(protocol.DOUBLE_MAX if cutoff is None else cutoff),
            record["seed"],
            repr(record["runtime"]),
            repr(record["runlength"]),
            RESULT_CODES[record["status"]],
            repr(record["quality"]),
            self._own_runs - 1,
            repr(self._own_runtime),
            record["status"],
            record["additional"],
            repr(record["wall_time"]),
        )
        with open(path, "a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator=",\n")
            if new:
                writer.writerow(RUNS_HEADER)
            writer.writerow(row)

    # ---- heartbeat and signals ----------------------------------------------------------------

    def _heartbeat(self, state: str, current_run: str | None = None) -> None:
        self.state = state
        evidence = self.evidence
        self.group.write_worker(
            self.seed,
            {
                "seed": self.seed,
                "pid": os.getpid(),
                "host": hostname(),
                "gpu": self.gpu,
                "task_id": self.task_id,
                "state": state,
                "started": self.started,
                "current_run": current_run,
                "runs_done": self._own_runs,
                "message": self.message,
                "incumbent": self._incumbent,
                "foreign_runs_told": evidence.foreign_runs_told,
                "foreign_run_ids_told": evidence.foreign_run_ids_told,
                "history_size_at_last_ask": evidence.history_size_at_last_ask,
                "foreign_in_history_at_last_ask": evidence.foreign_in_history_at_last_ask,
                "reused": evidence.reused,
                "forbidden_told": evidence.forbidden_told,
            },
        )

    def _install_signals(self) -> dict[int, Any]:
        """Handle SIGINT/SIGTERM while running; returns the handlers to put back."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {
            number: signal.signal(number, self._on_signal)
            for number in (signal.SIGINT, signal.SIGTERM)
        }

    def _on_signal(self, number: int, _frame: Any) -> None:
        """Only sets state (safe in a handler): the loop stops the trial and exits 130."""
        self._stop_reason = f"stopped by {signal.Signals(number).name}"
        self._stop.set()
        trial = self._trial
        if trial is not None and trial.handle is not None:
            trial.handle.request_stop("interrupt")


def main(
    scenario_path: str | Path,
    seed: int,
    *,
    overrides: Mapping[str, str] | None = None,
    gpu: str | None = None,
    task_id: int | None = None,
    dask_scheduler: str | None = None,
) -> int:
    """`smac-bridge worker`: run one worker in this process; returns its exit code.
    With `dask_scheduler`, its trials run on that Dask cluster."""
    scenario = read_scenario(scenario_path, overrides)
    if task_id is None:
        task_id = max(seed - scenario.seed_offset - 1, 0)
    from smac_bridge.doe import saved_design

    design = saved_design(RunGroup(Path(scenario.outdir) / scenario.rungroup), scenario.paramfile)
    executor = make_executor(dask_scheduler)
    worker = Worker(
        scenario, seed, gpu=gpu or None, task_id=task_id, design=design, executor=executor
    )
    try:
        code = worker.run()
    finally:
        executor.close()
    if worker.message and code != EXIT_DONE:
        print(f"worker {seed}: {worker.message}", file=sys.stderr)
    return code
