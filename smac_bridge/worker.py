"""One worker of a launch: a SMAC3 optimiser whose trials are the classic target call.

The loop: take a proposal of the optimiser (optimizer.py, the one place that knows SMAC3),
claim a run slot of the group's budget, start the trial (trials.py). Proposals are asked on a
thread of their own and kept in reserve (asker.py): a retraining `ask()` can cost seconds and
must not leave the slot idle. When the trial ends, its record goes to the run-data directory
(rundata.py) at once, and to the optimiser while the next trial runs.

Everything a worker knows lives in the run-data directory: its own finished runs, the other
workers' runs (read incrementally in shared-model mode and told to the optimiser, so that its
model learns from the whole group; an identical trial another worker ran is reused instead
of re-run), and the budget slots. The optimiser's state is rebuilt at every start by
replaying the records, so resuming is the same code path as reading other workers.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from errno import ENOENT
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits

from smac_bridge.abort_rules import SmacRules, broken_script
from smac_bridge.asker import Asker
from smac_bridge.classic_output import ClassicOutput
from smac_bridge.design import DESIGN_BUDGET_USED, initial_configuration, save_space, saved_design
from smac_bridge.errors import (
    BUDGET_LIMIT_USED,
    EXIT_ABORT,
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_STOPPED,
    RUN_BUDGET_USED,
    TUNER_TIMEOUT_REACHED,
    WALLCLOCK_REACHED,
    InputError,
    LaunchAbort,
    stop_signals,
)
from smac_bridge.executors import Executor, make_executor, missing_module_note, scheduler_gone
from smac_bridge.incumbent import BestRunSoFar
from smac_bridge.instances import read_features, read_instances
from smac_bridge.layout import (
    DISK_ERRORS,
    MOVED,
    RUNGROUP_FOLDER_ENV,
    folder_identity,
    identity_of_text,
    read_json_object,
    try_lock,
)
from smac_bridge.pcs import SearchSpace, plain_value, plain_values, read_pcs
from smac_bridge.proposal import N_TRIALS, NothingToPropose, Proposal
from smac_bridge.protocol import shell_command
from smac_bridge.pruning import Pruner
from smac_bridge.records import (
    NO_INSTANCE,
    ClaimInfo,
    Incumbent,
    RunningMarker,
    RunRecord,
    TrialKey,
    WorkerInfo,
    is_solved,
    record_cost,
    reused_record,
    trial_key,
    tuner_time_used,
)
from smac_bridge.recovery import (
    clean_dead_workers,
    earlier_launch,
    earlier_sets,
    kept_cluster,
    scenario_settings,
)
from smac_bridge.resume_checks import changes_to_warn_of, check_resume
from smac_bridge.rundata import (
    RecordReader,
    RunGroup,
    lives,
    this_process,
    trained_steps,
    units_trained,
)
from smac_bridge.scenario import INITIAL_DESIGNS, Scenario, budget_units, read_scenario
from smac_bridge.trials import Trial, TrialRunner

if TYPE_CHECKING:
    from smac_bridge.optimizer import Optimizer

SMAC3_SAVE_EVERY = 10.0
"""Seconds between writes of SMAC3's own state (smac3/) at least: nothing reads it back (the
records are the state), and writing it costs time that grows with the history at every
trial."""
SMAC3_SAVE_SHARE = 0.05
"""The share of a worker's time its writes of SMAC3's state take at most: a long history's
write (0.7 s at 2000 runs) waits that much longer for the next."""
RESERVE = {"hpo": 2, "ac": 2}
"""Proposals kept ready per facade (else 1). The forest retrains every few asks, for as long
as a short trial, and proposes from one acquisition search between retrainings, so a second
proposal in reserve hides the retraining at no cost in information. The Gaussian process
learns from every result: its next proposal is asked only after the last result was told
(multi-fidelity: see ASK_AFTER_RESULT)."""
ASK_AFTER_RESULT = {"mf"}
"""Facades whose next proposal is asked after the running trial's result, not while it runs.
Successive halving compares a stage when its last result is in; asked while that result is
still out, SMAC3 starts a new bracket instead and serves all of that bracket's first stage
before the promotions. With 2 workers over 1..27 epochs that put each worker's first
full-budget trial at about its 60th trial instead of its 41st, 62 s instead of 25 s into a
2-minute launch (benchmarks/multi_fidelity.py). Promotions cost no model, and the launch ran
as many trials as before (206 against 195)."""
STATES = {EXIT_DONE: "done", EXIT_STOPPED: "stopped"}
"""A worker's final state by exit code; any other ends as `failed`, or `aborted`."""
OVERDUE_MARGIN = 120.0
"""Seconds past the longest a trial may run (trials.longest_run) after which a
trial on another host, whose process this host cannot see, counts as lost with its worker:
a live worker kills and records its trial by then."""
UNITS_POLL = 0.2
"""Seconds between looks at the budget units while a trial waits for others to give some
back."""


class _StoppedWhileStarting(Exception):
    """A stop or an abort came as a trial's guard started, which it ended before the script
    began: the worker ends as stopped, not failed, and the slot is given back."""


@dataclass
class Evidence:
    """What the worker learnt from the others (written to workers/<seed>.json)."""

    foreign_runs_told: int = 0
    foreign_run_ids_told: list[str] = field(default_factory=list)
    history_size_at_last_ask: int = 0
    foreign_in_history_at_last_ask: int = 0
    running_told: int = 0


class Worker:
    """One SMAC3 optimiser of a rungroup; `run()` returns the process exit code."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        *,
        gpu: str | None = None,
        task_id: int = 0,
        design: Sequence[Mapping[str, Any]] | None = None,
        executor: Executor | None = None,
        place: tuple[int, int] | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.gpu = gpu
        self.task_id = task_id
        self.design = [dict(row) for row in design] if design is not None else None
        self.executor = executor if executor is not None else make_executor(scenario=scenario)
        self.group = RunGroup(Path(scenario.outdir) / scenario.rungroup)
        self.runner = TrialRunner(
            scenario, self.group, self.executor, worker=seed, gpu=gpu, task_id=task_id
        )
        self.instances: dict[str, str] = {}
        self.first_seeds: dict[str, int] = {}
        """The first seed an instance file gives each instance: a deterministic call's seed."""
        self.started = time.time()
        self.evidence = Evidence()
        self.rules = SmacRules(scenario)
        self.message = ""
        self.optimizer: Optimizer | None = None
        self.classic: ClassicOutput | None = None
        self.pruner: Pruner | None = None
        self.session_started = self.started
        self.walltime_before = 0.0  # the wall clock earlier sessions of the launch ran
        self._stop = threading.Event()
        self._lock = threading.RLock()  # the optimiser and what it was told: see asker.py
        self._stop_reason: str | None = None
        self._trial: Trial | None = None
        self._unlearnt: tuple[Trial, RunRecord] | None = None  # recorded, not yet told
        self._known: dict[TrialKey, RunRecord] = {}  # each added by _know
        self._best_so_far = BestRunSoFar()  # the incumbent of _known
        self._believed: set[TrialKey] = set()
        longest = self.runner.longest  # of any trial: past it (and a margin), one is lost
        self._overdue_after = longest + OVERDUE_MARGIN if longest else None
        self._recorded_keys: set[TrialKey] = set()  # every trial recorded, read by _claim_trial
        self._incumbent: Incumbent | None = None
        self._tuner_time = 0.0  # tunerTimeout: every worker's runs, every session's
        self._runtime_reader = RecordReader(self.group)  # read by _check_end
        self._units_reader = RecordReader(self.group)  # read by _others_running
        self._recorded_run_ids: set[str] = set()
        self._next_sync = 0.0
        self._next_save = 0.0
        self._nothing_left = ""
        self._passed_owed: set[str] = set()  # owed trials larger than the budget-limit left
        self._aborted = False
        self._broken_checked = False
        self._set_up = False  # the optimiser, the classic files and the readers exist
        # see _check_place; PLACE: the folder its launcher set up, which may have moved since
        self._place = place or folder_identity(self.group.path)
        self._gone = False  # the rungroup moved away: nothing more is written to its path

    # ---- set-up ---------------------------------------------------------------------------

    def _setup(self, space: SearchSpace) -> None:
        """Read the scenario's other files, build the optimiser and replay every known run."""
        from smac_bridge.optimizer import Optimizer, Setting  # SMAC3: seconds to import

        scenario = self.scenario
        features: dict[str, list[float]] | None = None
        if (instance_file := scenario.used_instance_file) is not None:
            instances = read_instances(instance_file)
            self.instances = {i.name: i.info for i in instances}
            self.first_seeds = {i.name: i.seeds[0] for i in instances if i.seeds}
            if scenario.feature_file is not None:
                table = read_features(scenario.feature_file, instances, instance_file)
                features = {name: list(table[name].values()) for name in self.instances}
        self.group.create()
        launched = self.group.launch_info()
        self.session_started = float(launched.get("session_started", self.started))
        self.walltime_before = float(launched.get("walltime_before") or 0.0)
        # Workers started by hand on a rungroup no launch made do not know how many they are:
        # each draws a design of its own, as split-initial-design = false does (the launch's
        # one design, dealt out as to a single worker, gave each of them every row at once).
        # So does a worker that joins a launch beyond its own workers: the design was dealt
        # out to those, and a share of it again was their trials, waited for and reused.
        parallel = launched.get("parallel")
        index = max(self.seed - scenario.seed_offset - 1, 0)
        split = scenario.shared_model_mode and scenario.split_initial_design
        split = split and isinstance(parallel, int) and index < parallel
        initial = initial_configuration(scenario, space)
        self.optimizer = Optimizer(
            Setting(
                space=space,
                seed=self.seed,
                name=scenario.rungroup,
                output_directory=self.group.layout.smac3,
                deterministic=scenario.deterministic,
                run_obj=scenario.run_obj,
                crash_cost=record_cost(
                    scenario.run_obj,
                    "CRASHED",
                    0.0,
                    0.0,
                    cutoff=scenario.cutoff_time,
                    par_factor=scenario.par_factor,
                ),
                instances=list(self.instances) or None,
                features=features,
                budget=scenario.runcount_limit,
                facade=scenario.smac_facade,
                parallel=parallel if isinstance(parallel, int) else 1,
                worker_index=index,
                split_design=split,
                design_seed=scenario.seed_offset,
                with_default=self.seed == scenario.seed_offset + 1
                and scenario.initial_incumbent not in INITIAL_DESIGNS[1:],
                initial_config=initial,
                running_belief=scenario.running_belief,
                partial_quality=scenario.partial_quality,
                min_budget=scenario.min_budget if scenario.budget_flag else None,
                max_budget=scenario.max_budget if scenario.budget_flag else None,
                eta=scenario.eta,
                multi_fidelity=scenario.multi_fidelity,
            )
        )
        self.classic = ClassicOutput(
            self.group.layout,
            self.seed,
            {hp.name: plain_value(hp.default_value) for hp in space.space.values()},
            initial or plain_values(space.space.get_default_configuration()),
            {name: index for index, name in enumerate(self.instances, 1)},
            self.started,
            run_obj=scenario.run_obj,
        )
        self.pruner = (
            Pruner(self.group, scenario.pruning, scenario.pruning_warmup, scenario.eta)
            if scenario.pruning != "none"
            else None
        )
        self.classic.start()
        self._reader = RecordReader(self.group)
        self._claims_reader = RecordReader(self.group)  # the loop's own: see _claim_trial
        self._set_up = True
        with _cyclic_gc_paused():
            self._sync(force=True, replay=True)

    # ---- knowing runs -------------------------------------------------------------------------

    def _smac_instance(self, name: str) -> str | None:
        return name if self.instances else None

    def _sync(self, force: bool = False, replay: bool = False, wait: bool = True) -> None:
        """Read the group's new records; tell the optimiser the ones it does not know yet.

        In shared-model mode that is every worker's runs; otherwise only this worker's own
        (at a restart: later ones are told by `_learn`). Every record still counts for the
        group's tuner time. Without WAIT, nothing happens while an ask holds the optimiser.
        """
        now = time.monotonic()
        if not force and now < self._next_sync:
            return
        if not self._lock.acquire(blocking=wait):
            return
        try:
            self._next_sync = now + self.scenario.shared_model_mode_frequency
            self._read_new_records(replay)
        finally:
            self._lock.release()

    def _read_new_records(self, replay: bool) -> None:
        assert self.optimizer is not None and self.classic is not None
        told = False
        for record in self._reader.poll():
            if record.get("reused_from"):
                continue
            own = record["worker"] == self.seed
            if own and replay:
                self.classic.count(record)
            if own and not replay:
                continue  # recorded by _settle, told by _learn
            if not own and not self.scenario.shared_model_mode:
                continue
            key = trial_key(record)
            if key in self._known:
                continue
            if self.instances and record["instance"] not in self.instances:
                continue  # another instance set: not comparable
            if not self.optimizer.tell_record(record, self._smac_instance(record["instance"])):
                continue  # a configuration outside this PCS
            self._know(key, record)
            self.rules.seen(record)
            told = True
            if not own:
                self.evidence.foreign_runs_told += 1
                self.evidence.foreign_run_ids_told.append(record["run_id"])
        if self.scenario.shared_model_mode and self.scenario.running_belief != "none":
            self._tell_running()
        if told:
            self._update_incumbent()

    def _tell_running(self) -> None:
        """Tell the optimiser the trials the other workers are running now (optimizer.py,
        `tell_running`), so that this worker proposes elsewhere."""
        assert self.optimizer is not None
        for marker in self.group.running():
            key = trial_key(marker)
            if marker["worker"] == self.seed or key in self._known or key in self._believed:
                continue
            instance = self._smac_instance(marker["instance"])
            seed = marker.get("smac_seed")
            if not isinstance(seed, int):
                continue  # a marker written before markers carried SMAC3's seed
            if self.optimizer.tell_running(marker["config"], instance, seed, marker.get("budget")):
                self._believed.add(key)
                self.evidence.running_told += 1

    def _know(self, key: TrialKey, record: RunRecord) -> None:
        """Take RECORD among the runs this worker knows (and its incumbent is of)."""
        self._known[key] = record
        self._best_so_far.add(record)

    def _update_incumbent(self) -> None:
        """The incumbent over the runs this worker knows, and its trajectory row."""
        self._incumbent = self._best_so_far.incumbent()
        if self.classic is not None:
            self.classic.incumbent(self._incumbent)

    # ---- asking -------------------------------------------------------------------------------

    def _keep_asking(self) -> bool:
        """Before each ask: learn the others' new runs; go on unless the worker must end."""
        assert self.optimizer is not None
        if self.scenario.shared_model_mode:
            self._sync()
        self.evidence.history_size_at_last_ask = self.optimizer.history_size
        self.evidence.foreign_in_history_at_last_ask = self.evidence.foreign_runs_told
        return not self._stop.is_set() and not self._wallclock_reached()

    def _ask(self) -> Proposal | None:
        """The next trial; None when the worker must end or nothing is left to propose."""
        assert self.optimizer is not None
        try:
            return self.optimizer.ask(self._keep_asking)
        except NothingToPropose as reason:
            self._nothing_left = str(reason)
            return None

    def _ask_after_result(self) -> Proposal | None:
        """The next proposal once the asker has ended at a "nothing left", which may come
        while this worker's trial ran: with its result told, another seed, instance or
        budget of a configuration may be due (a space of a few configurations has none new
        to propose while they run). Asked here, after each result, until SMAC3 has nothing
        left with it; None then, or when the worker must end."""
        if self._check_end() is not None:
            return None
        self._learn()
        self._nothing_left = ""
        with self._lock:
            return self._ask()

    def _trial_key(self, proposal: Proposal) -> TrialKey:
        """What a run of PROPOSAL would have in common with an identical run (records.py)."""
        instance, _, seed = self._describe(proposal)
        config, budget = proposal.config, proposal.budget
        return trial_key({"config": config, "instance": instance, "seed": seed, "budget": budget})

    def _describe(self, proposal: Proposal) -> tuple[str, str, int]:
        """(instance, instance info, algo seed) of a trial, as the classic call has them."""
        instance = proposal.instance if proposal.instance is not None else NO_INSTANCE
        if self.scenario.deterministic:
            return instance, self.instances.get(instance, "0"), self.first_seeds.get(instance, -1)
        assert proposal.smac_seed is not None, "only deterministic trials start before SMAC3"
        return instance, self.instances.get(instance, "0"), proposal.smac_seed

    # ---- the main loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Run until the budget, a limit, a stop or an abort ends the worker.

        The worker's own linear algebra (the Gaussian process) runs on one thread: N workers
        and their trials share the cores, and a BLAS pool per worker spins against the others
        (a Gaussian-process ask took 5 x longer). The trials keep their threads."""
        with threadpool_limits(limits=1):
            return self._run()

    def _run(self) -> int:
        previous_handlers = self._install_signals()
        code = EXIT_FAILED
        try:
            self._heartbeat("starting")
            space = read_pcs(self.scenario.paramfile)
            first = self._start_default(space)
            current = first[0].run_id if first is not None else None
            if first is not None:
                self._heartbeat("starting", current_run=current)
            self._setup(space)
            if first is not None:
                assert self.optimizer is not None
                first[0].proposal = self.optimizer.adopt(first[0].proposal.config)
            self._heartbeat("running", current_run=current)
            code = self._loop(first)
        except LaunchAbort as abort:
            self.message = str(abort)
            self._aborted = True
            code = abort.exit_code
        except _StoppedWhileStarting:
            code = self._check_end() or EXIT_STOPPED
        except Exception as error:  # noqa: BLE001 - a worker reports why it died, then exits 1
            self.message = self._why_failed(error)
            code = EXIT_FAILED  # `main` says the message, once
        finally:
            try:
                self._wind_up()
            except Exception as error:  # noqa: BLE001 - said after the first failure, if any
                ended = f"{self.message}\n" if code == EXIT_FAILED else ""
                self.message = f"{ended}while ending: {self._why_failed(error)}"
                code = EXIT_FAILED
            aborted = self.group.abort_info()
            if code == EXIT_STOPPED and aborted is not None:
                code = aborted.get("exit_code", EXIT_ABORT)  # another worker aborted the launch
                self._aborted = True
            try:
                self._heartbeat("aborted" if self._aborted else STATES.get(code, "failed"))
            except OSError:
                pass  # a full disk: the exit code and stderr still say why
            for number, handler in previous_handlers.items():
                signal.signal(number, handler)
        return code

    def _why_failed(self, error: Exception) -> str:
        """What the user reads of a failure: a bad input's or a file's that could not be
        written (a full or read-only disk; which file, no traceback), else the traceback: a
        lost connection (no file) or a missing file are no failure to write."""
        if isinstance(error, InputError):
            return f"error: {error}"
        if isinstance(error, OSError) and (
            error.errno in DISK_ERRORS or (error.filename is not None and error.errno != ENOENT)
        ):
            where = error.filename or f"in {self.group.path}"  # a write names no file
            return f"error: cannot write {where}: {error.strerror or error}"
        return "".join(traceback.format_exception(error))

    def _wind_up(self) -> None:
        """What every ending does: stop a trial the worker can no longer follow, learn the
        others' last runs and write SMAC 2.10's last trajectory row (once the set-up made
        them)."""
        if self._gone:
            return
        if self._trial is not None:  # still running: the set-up or the loop failed
            self._abandon(self._trial)
        if not self._set_up:
            return
        assert self.classic is not None
        if self.scenario.shared_model_mode:
            self._sync(force=True)
        self._update_incumbent()
        self.classic.incumbent(self._incumbent, again=True)  # SMAC 2.10's last row

    def _loop(self, first: tuple[Trial, TrialKey | None] | None = None) -> int:
        """Take a proposal, claim, start, follow (FIRST: the default's trial, started before
        the optimiser existed, is followed first, and learnt before the first ask, so that
        SMAC3 does not propose the default again)."""
        if self.design is not None:
            return self._run_design(self.design)
        assert self.optimizer is not None
        asker: Asker[Proposal] = Asker(self._ask, self._lock, RESERVE.get(self.optimizer.kind, 1))
        ask_ahead = self.optimizer.kind not in ASK_AFTER_RESULT
        shared = self.scenario.shared_model_mode
        try:
            if first is not None and not self._follow(*first, asker, ask_ahead=False):
                return self._check_end() or EXIT_STOPPED
            asker.start()
            pending = asker.take()
            limit = self.scenario.runcount_limit or N_TRIALS
            while pending is not None:
                ended = self._check_end()
                if ended is not None:
                    return ended
                key = self._trial_key(pending)
                if self._unlearnt is not None and trial_key(self._unlearnt[1]) == key:
                    # asked while its twin ran here (SMAC3 told them apart by the value of an
                    # inactive parameter, which the script never gets): reused, not run again
                    self._learn()
                # a slot that owes its trial runs it before this worker waits for another's
                # identical trial: on a resume both workers' first proposal is the default
                run_id = (
                    self.group.claim_slot(limit, self.seed, True, self._passed_owed)
                    if shared
                    else None
                )
                if run_id is None and (
                    key in self._known or (shared and self._wait_for_identical(key))
                ):
                    self._learn()
                    self._reuse(pending, self._known[key])
                    asker.refill()
                    pending = asker.take() or self._ask_after_result()
                    continue
                if shared and (ended := self._check_end()) is not None:  # while it waited
                    if run_id is not None:
                        self.group.release_slot(run_id)
                    return ended
                run_id = run_id or self._claim_slot(limit)
                if run_id is None:
                    self.message = self._used_up(RUN_BUDGET_USED)
                    return EXIT_DONE
                owed = self._owed_proposal(run_id)  # runs first; SMAC3's waits for the next slot
                proposal = owed or pending
                key = self._trial_key(proposal)
                if owed is not None and key in self._known:  # an identical trial ran since
                    self.group.forget_owed(run_id)
                    self.group.release_slot(run_id)
                    continue
                if not self._claim_budget(run_id, proposal, owed=owed is not None):
                    self.group.release_slot(run_id)
                    if owed is not None and self._check_end() is None:
                        # a re-run takes its whole budget (its script may train it all again):
                        # SMAC3's smaller trials still fit, and a larger budget-limit runs it
                        self._passed_owed.add(run_id)
                        continue
                    self.message = self._used_up(BUDGET_LIMIT_USED)
                    return self._check_end() or EXIT_DONE  # or stopped while it waited
                if shared and not self._claim_trial(key, run_id):
                    self.group.forget_owed(run_id)  # an identical trial runs: its result comes
                    self.group.release_slot(run_id)  # another worker started this trial:
                    continue  # wait for its result and take it
                trial = self._start(run_id, proposal, repeats=owed is not None)
                if not self._follow(trial, key if shared else None, asker, ask_ahead):
                    return self._check_end() or EXIT_STOPPED
                if owed is None:
                    pending = asker.take() or self._ask_after_result()
                else:  # SMAC3's proposal may be the same trial: it is then known, and reused
                    self._learn()
        finally:
            asker.close()
            self._learn(save=True, final=True)
        ended = self._check_end()
        if ended is not None:
            return ended
        self.message = self._nothing_left or "no configuration left to propose"
        return EXIT_DONE

    def _follow(
        self, trial: Trial, key: TrialKey | None, asker: Asker[Proposal], ask_ahead: bool
    ) -> bool:
        """Wait for a started trial and record it. When a trial ends, only its record is
        written before the next trial starts (the slot idles for that alone); with ASK_AHEAD
        the optimiser, the classic files and the incumbent learn the previous result while
        this trial runs, and only then may the asker ask again, so that every ask knows every
        result but the running ones; else they learn this one's after it (multi-fidelity:
        ASK_AFTER_RESULT). KEY's claim goes once the run is recorded or did not finish (a
        resume re-runs it), also when its recording stops the worker (an abort, a full disk):
        a peer on another host would wait for it as long as it is not overdue. False when the
        trial was stopped."""
        if ask_ahead:
            self._learn()
            asker.refill()
        self._heartbeat("running", current_run=trial.run_id)
        try:
            settled = self._settle(trial)
        finally:
            if key is not None:
                self.group.release_trial(key)
        if settled and not ask_ahead:
            self._learn()
            asker.refill()
        return settled

    def _owed_proposal(self, run_id: str) -> Proposal | None:
        """The trial RUN_ID's slot owes (stopped by a Ctrl-C or an abort, or lost with its
        worker: `rundata.owe`), as a proposal of this worker's SMAC3, which is told its result
        as it is told a design row's; None when the slot owes none, or one this scenario can
        no longer run (its configuration or instance gone)."""
        assert self.optimizer is not None
        owed = self.group.owed(run_id)
        if owed is None:
            return None
        instance = self._smac_instance(owed["instance"])
        if instance is None or instance in self.instances:  # else an instance now gone
            try:
                if owed["smac_seed"] is None:  # the default, started before SMAC3 existed
                    return self.optimizer.adopt(owed["config"])
                return self.optimizer.proposal(
                    owed["config"], instance, owed["smac_seed"], owed["budget"]
                )
            except ValueError:  # a configuration the space no longer has
                pass
        self.group.forget_owed(run_id)
        return None

    def _run_design(self, design: list[dict[str, Any]]) -> int:
        """Run design rows instead of SMAC3's proposals: the slot `00007` is row 7, so that
        a resume re-runs exactly the rows whose runs did not finish. The optimiser is still
        told every run, so the incumbent and the classic files are kept as for a launch."""
        assert self.optimizer is not None
        limit = min(len(design), self.scenario.runcount_limit or N_TRIALS)
        instance = self._smac_instance(next(iter(self.instances), NO_INSTANCE))
        while True:
            self._sync()
            ended = self._check_end()
            if ended is not None:
                return ended
            run_id = self._claim_slot(limit)
            if run_id is None:
                capped = limit < len(design)
                self.message = (
                    f"runcount_limit reached ({limit} of the design's {len(design)} rows)"
                    if capped
                    else "design finished"
                )
                return EXIT_DONE
            row = int(run_id)
            # Deterministic: one seed for all rows, so that the rows are comparable; else a
            # seed per row, so that repeated rows are replicates (other ones at another
            # --seed-offset).
            smac_seed = 0 if self.scenario.deterministic else self.scenario.seed_offset + row
            # With a budget flag each row trains with the whole budget: a design is no race.
            budget = self.scenario.max_budget if self.scenario.budget_flag else None
            proposal = self.optimizer.proposal(design[row - 1], instance, smac_seed, budget)
            if not self._claim_budget(run_id, proposal):
                self.group.release_slot(run_id)  # a resume with a larger limit runs the row
                self.message = DESIGN_BUDGET_USED
                return self._check_end() or EXIT_DONE  # or stopped while it waited
            trial = self._start(run_id, proposal, repeats=True)
            self._heartbeat("running", current_run=run_id)
            settled = self._settle(trial)
            self._learn(save=True)
            if not settled:
                return self._check_end() or EXIT_STOPPED
            self._heartbeat("running")

    def _start_default(self, space: SearchSpace) -> tuple[Trial, TrialKey | None] | None:
        """Start the default configuration before SMAC3 is imported, when this worker runs it
        first anyway (`starts_with_default`): the seconds of the import, the facade and the
        replay then pass while a trial runs. The trial and its claim key, or None."""
        if self.design is not None or not starts_with_default(self.scenario, self.seed, self.group):
            return None
        values = plain_values(space.space.get_default_configuration())
        if space.is_forbidden(values):
            return None  # SMAC3 tells it as crashed without running it
        self.group.create()
        run_id = self.group.claim_slot(self.scenario.runcount_limit or N_TRIALS, self.seed)
        if run_id is None:
            return None
        if self.group.owed(run_id) is not None:  # the loop runs what the slot owes
            self.group.release_slot(run_id)
            return None
        proposal = Proposal(values, None, None, None)
        key = self._trial_key(proposal)
        shared = self.scenario.shared_model_mode
        if shared and not self.group.claim_trial(key, run_id, self.seed, self._overdue_after):
            self.group.release_slot(run_id)
            return None
        return self._start(run_id, proposal), key if shared else None

    def _abandon(self, trial: Trial) -> None:
        """Stop a trial the worker can no longer follow (its set-up or its loop failed while
        the trial ran) and give its slot and claim back: a resume runs it again."""
        self.runner.wait(trial, lambda: True)
        self._trial = None
        self._give_back(trial)
        self.group.clear_running(trial.run_id)
        if self.scenario.shared_model_mode:
            self.group.release_trial(self._trial_key(trial.proposal))

    def _wallclock_reached(self) -> bool:
        limit = self.scenario.wallclock_limit
        used = self.walltime_before + time.time() - self.session_started
        return limit is not None and used >= limit

    def _check_end(self) -> int | None:
        """Exit code if the worker must end before its next run, else None."""
        abort = self.group.abort_info()  # first: the launcher also signals on an abort
        if abort is not None:
            self.message = f"launch aborted: {abort['reason']}"
            self._aborted = True
            return abort.get("exit_code", EXIT_ABORT)
        if self._stop.is_set():
            self.message = self._stop_reason or "stopped"
            return EXIT_STOPPED
        if self._wallclock_reached():
            self.message = WALLCLOCK_REACHED
            return EXIT_DONE
        timeout = self.scenario.tuner_timeout
        if timeout is not None:  # read now: the model's last sync may be a trial old
            self._tuner_time += tuner_time_used(self._runtime_reader.poll())
            if self._tuner_time >= timeout:
                self.message = TUNER_TIMEOUT_REACHED
                return EXIT_DONE
        return None

    def _wait_for_identical(self, key: TrialKey) -> bool:
        """True when another worker ran (or is running, then wait for it) the same trial.
        The group's newest runs are read only when no ask holds the optimiser: a slot does
        not wait for an ask to rule out a duplicate here (`_claim_trial` catches a run
        recorded meanwhile)."""
        self._sync(force=True, wait=False)
        while key not in self._known:
            busy = False
            for marker in self.group.running():
                if marker.get("worker") == self.seed or trial_key(marker) != key:
                    continue
                busy = busy or lives(marker, self._overdue_after) is not False
            # claimed, its marker not yet written
            busy = busy or self.group.trial_claimed(key, self._overdue_after)
            if not busy or self._stop.is_set() or self.group.abort_info() is not None:
                return False
            time.sleep(0.2)
            self._sync(force=True)
        return True

    def _claim_trial(self, key: TrialKey, run_id: str) -> bool:
        """Claim trial KEY for RUN_ID; False when another worker holds it, or held it and has
        recorded it since. A worker records a trial before it gives the claim back, so once
        the claim is ours, the records show whether that happened: read here without the
        optimiser, which an ask may hold (`_wait_for_identical` then saw nothing new)."""
        if not self.group.claim_trial(key, run_id, self.seed, self._overdue_after):
            return False
        for record in self._claims_reader.poll():
            if not record.get("reused_from"):
                self._recorded_keys.add(trial_key(record))
        if key not in self._recorded_keys:
            return True
        self.group.release_trial(key)
        self._sync(force=True)  # waits for the ask: the optimiser learns the run, then reuse
        return key not in self._known  # a record it cannot be told: run the trial after all

    def _reuse(self, proposal: Proposal, original: RunRecord) -> None:
        """Take another worker's result for an identical trial instead of running it."""
        assert self.optimizer is not None
        with self._lock:
            self.optimizer.tell(proposal, original)
            self.group.append_record(self.seed, reused_record(original, self.seed))
            self._update_incumbent()

    # ---- running one trial -----------------------------------------------------------------

    def _claim_slot(self, limit: int) -> str | None:
        """A run slot of the budget; when none is left, first give back those of runs whose
        worker died on this host, or on another host long past the trial's longest time (a
        worker started by hand has no launcher to do it, and its budget stayed short of
        them) and say so."""
        self._check_place()
        run_id = self.group.claim_slot(limit, self.seed, passed=self._passed_owed)
        if run_id is not None:
            return run_id

        if released := clean_dead_workers(self.group, overdue_after=self._overdue_after):
            print(
                f"worker {self.seed}: runs {', '.join(released)} of a worker that died are run"
                " again",
                file=sys.stderr,
                flush=True,
            )
            return self.group.claim_slot(limit, self.seed, passed=self._passed_owed)
        return None

    def _used_up(self, reason: str) -> str:
        """Why the worker ends (REASON: a budget used up), with the owed trials it passed."""
        if not self._passed_owed:
            return reason
        runs = "runs" if len(self._passed_owed) > 1 else "run"
        return (
            f"{reason}; {runs} {', '.join(sorted(self._passed_owed))}, left unfinished"
            " (stopped or lost), needed more budget-limit units than were left: --resume"
            " with a larger one (--set budget-limit=UNITS) runs them"
        )

    def _check_place(self) -> None:
        """Before each claim: the rungroup is still the folder the worker started in. Moved,
        renamed or removed while the launch ran, its path would be made again, empty, and
        the run ids and the run budget would start over there."""
        here = folder_identity(self.group.path)
        if self._place is None:  # a worker made before its rungroup
            self._place = here
        if here is not None and here == self._place:
            return
        self._gone = True
        raise InputError(self.group.path, None, MOVED)

    def _claim_budget(self, run_id: str, proposal: Proposal, owed: bool = False) -> bool:
        """Take the trial's budget from `budget-limit`, when the scenario sets one. While
        other workers' trials run, units they hold may come back (a continued, pruned or
        stopped trial gives back what it did not train): a trial that does not fit waits for
        them. Once none runs, no more can come back (a trial started later takes at least
        what it gives back), and a last try decides. A worker that gave up at once left its
        promotion untrained, and the rest of the launch to the others. An OWED re-run, which
        the worker may pass for SMAC3's trials, waits only while what is free and what the
        running trials hold could make it fit: its slot idled while others ran on."""
        limit = self.scenario.budget_limit
        if limit is None or proposal.budget is None:
            return True
        units = budget_units(proposal.budget, self.scenario)
        waited = False
        while not self.group.claim_units(run_id, units, int(limit)):
            if self._check_end() is not None:
                return False
            if owed and not self._could_fit(units, int(limit)):
                return False
            if not self._others_running():
                return self.group.claim_units(run_id, units, int(limit))
            if not waited:  # the views show no run of its own while it waits
                waited = True
                self._heartbeat("running")
            time.sleep(UNITS_POLL)
        return True

    def _could_fit(self, units: int, limit: int) -> bool:
        """Whether UNITS could fit once the running trials gave back every unit they hold."""
        running = {str(marker.get("run_id")) for marker in self.group.running()}
        free = limit - self.group.units_used() + self.group.units_held_by(running)
        return units <= free

    def _others_running(self) -> bool:
        """Whether a trial of another worker runs that will end: one of this host whose
        worker lives, or one of another host until it is overdue. Without a cutoff_time, or
        queued on a cluster, another host's trial has no known end, and is not waited for.
        A trial that took its units and is still starting (its running marker not yet
        written) counts too: a worker that missed it gave up while the other's promotion
        was about to give a unit back."""

        def ends(info: RunningMarker | ClaimInfo) -> bool:
            alive = lives(info, self._overdue_after)
            if alive is None:
                return self._overdue_after is not None and not info.get("queued")
            return alive

        markers = self.group.running()
        if any(m.get("worker") != self.seed and ends(m) for m in markers):
            return True
        self._recorded_run_ids.update(r["run_id"] for r in self._units_reader.poll())
        marked = {m["run_id"] for m in markers}
        for run_id in self.group.unit_holders() - self._recorded_run_ids - marked:
            claim = self.group.claim_info(run_id)
            if claim is not None and claim.get("worker") != self.seed and ends(claim):
                return True
        return False

    def _promoted_from(self, proposal: Proposal) -> RunRecord | None:
        """The run of the same configuration at the highest lower budget: a promoted trial
        continues from where it left its checkpoint."""
        if proposal.budget is None:
            return None
        lower = [
            record
            for record in list(self._known.values())  # a copy: the asker's thread adds to it
            if record["config"] == proposal.config
            and record.get("budget") is not None
            and float(record["budget"] or 0) < proposal.budget
        ]
        return max(lower, key=lambda r: float(r["budget"] or 0), default=None)

    def _start(self, run_id: str, proposal: Proposal, repeats: bool = False) -> Trial:
        """Start PROPOSAL in slot RUN_ID; one that REPEATS the slot's unrecorded trial (owed,
        or a design's row) continues from what that one left."""
        instance, instance_info, seed = self._describe(proposal)
        resume = self._promoted_from(proposal)
        try:
            trial = self.runner.start(
                run_id, proposal, instance, instance_info, seed, resume, repeats=repeats
            )
        except RuntimeError:  # "the guard did not start": the launcher's stop signal ended it
            if not self._must_stop():
                raise
            self.group.release_slot(run_id)
            raise _StoppedWhileStarting from None
        self._trial = trial
        if self._stop.is_set():
            trial.interrupt()
        return trial

    def _must_stop(self) -> bool:
        return self._stop.is_set() or self.group.abort_info() is not None

    def _settle(self, trial: Trial) -> bool:
        """Wait for the trial (stopping it on a stop, an abort or the pruner) and record it:
        all that must happen before the next trial starts. `_learn` does the rest. False when
        the trial was stopped (not recorded: a resume re-runs its slot). The trial's running
        marker goes last: a worker waiting for budget units waits while it is there, and a
        trial gives its untrained units back only once recorded. A recording that failed (a
        full disk) leaves it: the cleanup after this worker then owes the slot its trial."""
        self.runner.wait(trial, self._must_stop, self.pruner)
        self._trial = None
        try:
            recorded = self._record(trial)
        except LaunchAbort:  # its slot was given back, or its run recorded
            self.group.clear_running(trial.run_id)
            raise
        self.group.clear_running(trial.run_id)
        return recorded

    def _record(self, trial: Trial) -> bool:
        if trial.interrupted:
            self._give_back(trial)
            return False
        self._check_place()  # its result may be lost with its folder: a resume runs it again
        record = self.runner.record(trial)
        if scheduler_gone(record.get("reason")):
            self._stop_for_lost_scheduler(trial, record)
        verdict = self.rules.check(record)
        message = self.runner.describe_failure(verdict.problem, trial, record) if verdict else ""
        if verdict is not None and not verdict.keep_run:
            self._abort(message, trial, EXIT_ABORT)  # its run is given back
        # others read it now; one that stops the launch is made durable at once
        self.group.append_record(self.seed, record, sync=verdict is not None)
        self.group.forget_owed(trial.run_id)
        self._refund_untrained_epochs(trial, record)
        self._unlearnt = (trial, record)
        if verdict is not None:  # a result: in runs_and_results, the model and the trajectory
            self._learn()
            self._abort(message, trial, EXIT_ABORT, release=False)
        self._check_broken_script(trial, record)
        return True

    def _refund_untrained_epochs(self, trial: Trial, record: RunRecord) -> None:
        """budget-limit counts the epochs trained: a trial took its whole budget's units and
        gives back those its learning curve shows it did not train (`rundata.units_trained`)."""
        budget = trial.proposal.budget
        if self.scenario.budget_limit is None or budget is None:
            return
        steps, carried = trained_steps(self.group.progress(trial.run_id))
        units = budget_units(budget, self.scenario)
        solved = is_solved(record)
        trained = units_trained(steps, units, trial.continued_from_budget, solved, carried)
        if trained is not None and trained < units:
            self.group.release_units(trial.run_id, units - trained)

    def _give_back(self, trial: Trial) -> None:
        """Give an unrecorded trial's slot back (a resume runs it again) and the units it did
        not train: those it trained were spent, and its slot's re-run trains them again."""
        if trial.marker is not None and self.design is None:  # a design's slot is its row
            self.group.owe(trial.marker)  # first: a full disk takes no more than this
        if self.scenario.budget_limit is not None:
            with contextlib.suppress(OSError):  # a full disk: its re-run's to train again
                self.group.keep_units_trained(
                    trial.run_id, trial.continued_from_budget, this_process()
                )
        self.group.release_slot(trial.run_id)

    def _learn(self, save: bool = False, final: bool = False) -> None:
        """Tell the optimiser the last recorded trial, write its classic files and the
        incumbent, and make its record durable (fsync): done while the next trial runs.
        SMAC3's own state is written when SAVE (also with nothing left to tell: the last
        trials may have been told without it), else every SMAC3_SAVE_EVERY seconds at least
        (SMAC3_SAVE_SHARE); FINAL:
        the worker asks no more (`Optimizer.save`)."""
        if self._unlearnt is None:
            if save and self.optimizer is not None:
                self._save_smac3_state(final)
            return
        assert self.optimizer is not None and self.classic is not None
        trial, record = self._unlearnt
        self._unlearnt = None
        self.group.sync_records(self.seed)
        with self._lock:
            if (key := trial_key(record)) not in self._known:
                self._know(key, record)
            self.optimizer.tell(trial.proposal, record)
            self.classic.run(record)
            self._update_incumbent()
        if save or time.monotonic() >= self._next_save:
            took = self._save_smac3_state(final)
            self._next_save = time.monotonic() + max(SMAC3_SAVE_EVERY, took / SMAC3_SAVE_SHARE)

    def _save_smac3_state(self, final: bool = False) -> float:
        """Write SMAC3's state for its own tools; the seconds the write took (not the wait
        for the optimiser, which an ask may hold). A failure only warns, as the worker may be
        ending on an error of its own that it must not hide, and a resume reads the records."""
        assert self.optimizer is not None
        began = time.monotonic()
        try:
            with self._lock:
                began = time.monotonic()
                self.optimizer.save(final)
        except OSError as error:
            print(
                f"warning: worker {self.seed}: SMAC3's state in {self.group.layout.smac3} was"
                f" not written: {error}",
                file=sys.stderr,
                flush=True,
            )
        return time.monotonic() - began

    def _abort(self, message: str, trial: Trial, exit_code: int, release: bool = True) -> None:
        """Stop the whole launch because of TRIAL: every worker reads abort.json."""
        if release:
            self._give_back(trial)  # its run is not recorded: a resume re-runs it
        self.group.request_abort(message, self.seed, trial.run_id, exit_code)
        raise LaunchAbort(message, exit_code)

    def _stop_for_lost_scheduler(self, trial: Trial, record: RunRecord) -> None:
        """No Dask scheduler answered for this trial, even after the wait for a reconnection:
        every further trial would fail the same way and burn the budget. The launch stops,
        and this trial's slot is released, as are those of the trials still running."""
        what = "no Dask scheduler answers, so no trial can run: the launch stops"
        finished = len(self.group.records())
        advice = (
            "this run and those still running are not recorded: start the scheduler and its"
            " Dask workers again, then continue with --resume, which keeps the"
            f" {finished} finished run{'' if finished == 1 else 's'} and runs these again"
        )
        message = f"{self.runner.describe_failure(what, trial, record)}\n{advice}"
        self._abort(message, trial, EXIT_FAILED)

    def _check_broken_script(self, trial: Trial, record: RunRecord) -> None:
        """Stop the launch when its first runs show that the script never works."""
        needed = self.scenario.broken_script_runs
        if self._broken_checked or needed <= 0:
            return
        records = self.group.records()
        first = [r for r in records if r["started"] >= self.session_started]
        if len(first) < needed:
            return
        self._broken_checked = True
        failure = broken_script(first, needed)
        if failure is None:
            return
        kind = "designs" if self.design is not None else "launches"
        keep_going = (
            "where only some configurations fail (a loss that diverges at large learning"
            f" rates), `broken-script-runs = 0` in the scenario keeps {kind} running"
        )
        if any(is_solved(r) for r in records if r["started"] < self.session_started):
            what = (
                f"the first {needed} runs of this resume all ended with '{failure}' before"
                " reporting a result, while earlier runs of this rungroup succeeded"
            )
            advice = (
                "has something changed since (the environment, a path, a GPU)? Fix it and"
                f" continue with --resume (these runs stay, as failures); {keep_going}"
            )
        elif self.design is not None:  # no model, no default run: its rows stay failures
            what = (
                f"the script seems to fail on every configuration: the first {needed} runs of this"
                f" design all ended with '{failure}' before reporting a result"
            )
            resume = shell_command(
                ["smac-bridge", "doe", str(self.scenario.path), "--resume", "--outdir"]
                + [str(self.group.path.parent), "--set", f"rungroup={self.group.path.name}"]
            )  # the folder named in full: the scenario's own outdir and rungroup may differ
            advice = (
                "fix the script or the scenario (`smac-bridge check` runs the script's --help),"
                f" then run the rest of the design with `{resume}`: these rows stay as failures"
                f" (remove {self.group.path} to run them again too); {keep_going}"
            )
        else:
            what = (
                f"the script seems to fail on every configuration: the first {needed} runs of this"
                f" launch all ended with '{failure}' before reporting a result"
            )
            advice = (
                "fix the script or the scenario (`smac-bridge check` runs the script's --help),"
                f" then remove {self.group.path} and launch again (with --resume these runs"
                " stay: they count toward the budget, and the model keeps their"
                f" configurations, the default's among them, as failures); {keep_going}"
            )
        command = read_json_object(trial.run_dir.command) or {}
        argv = command.get("argv")
        said = str(record.get("reason") or "")
        if isinstance(argv, list) and (note := missing_module_note(argv, said)):
            advice = f"{note}; {advice}"
        message = f"{self.runner.describe_failure(what, trial, record)}\n{advice}"
        self._abort(message, trial, EXIT_FAILED, release=False)

    # ---- heartbeat and signals ----------------------------------------------------------------

    def _heartbeat(self, state: str, current_run: str | None = None) -> None:
        if self._gone:
            return
        evidence = self.evidence
        host, pid, pid_start = this_process()
        optimizer = self.optimizer
        info = WorkerInfo(
            seed=self.seed,
            pid=pid,
            pid_start=pid_start,
            host=host,
            gpu=self.gpu,
            task_id=self.task_id,
            state=state,
            started=self.started,
            current_run=current_run,
            runs_done=self.classic.runs if self.classic is not None else 0,
            message=self.message,
            incumbent=self._incumbent,
            foreign_runs_told=evidence.foreign_runs_told,
            foreign_run_ids_told=evidence.foreign_run_ids_told,
            history_size_at_last_ask=evidence.history_size_at_last_ask,
            foreign_in_history_at_last_ask=evidence.foreign_in_history_at_last_ask,
            running_told=evidence.running_told,
            facade=optimizer.kind if optimizer is not None else "",
        )
        self.group.write_worker(self.seed, info)

    def _install_signals(self) -> dict[int, Any]:
        """Handle SIGINT, SIGTERM and SIGHUP (`errors.stop_signals`) while running; returns
        the handlers to put back."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {number: signal.signal(number, self._on_signal) for number in stop_signals()}

    def _on_signal(self, number: int, _frame: Any) -> None:
        """Only sets state (safe in a handler): the loop stops the trial and exits 130."""
        self._stop_reason = f"stopped by {signal.Signals(number).name}"
        self._stop.set()
        trial = self._trial
        if trial is not None:
            trial.interrupt()


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a replay makes several long-lived objects per
    record (SMAC3's run history, the records), and each full collection walks all of them
    again: about a fifth of a 24,000-run replay (5 of 24 s on the 2-CPU machine). Reference
    counting still frees what it can; the collector runs again after, as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def starts_with_default(scenario: Scenario, seed: int, group: RunGroup) -> bool:
    """Whether worker SEED starts the default configuration before it imports SMAC3: the
    first worker of a deterministic optimisation without instances or budgets whose rungroup
    holds no run yet. Its SMAC3 would propose the default there first, on its first seed (as
    SMAC 2.10 starts from the default); the optimiser adopts the trial once it exists."""
    return (
        seed == scenario.seed_offset + 1
        and scenario.initial_incumbent == "DEFAULT"
        and scenario.deterministic
        and scenario.used_instance_file is None
        and not scenario.budget_flag
        and not group.layout.design.exists()
        and not any(path.stat().st_size for _, path in group.layout.record_files())
    )


def _hand_launch_info(
    scenario: Scenario, path: str | Path, overrides: Mapping[str, str], cluster: str | None
) -> dict[str, Any]:
    """launch.json of a rungroup that workers started by hand made: the scenario and its --set
    options, for the views (the run budget, the objective) and for the workers that join and
    a `launch --resume` (which keep those options). Not their number, which no worker knows
    (each then draws an initial design of its own), nor a process that `status` would take
    for a running launch."""
    return {
        "scenario": str(Path(path).absolute()),
        "overrides": {**overrides, "outdir": str(scenario.outdir)},
        "sets": {key: value for key, value in overrides.items() if key != "outdir"},
        **scenario_settings(scenario),
        "cwd": os.getcwd(),
        "dask_scheduler": cluster,  # which the workers that join and a resume go on on
    }


def _hold_the_seed(group: RunGroup, seed: int) -> int:
    """The lock that makes this process the one worker of SEED (held until it exits): two
    workers of one seed, started together from two terminals or by a Slurm job submitted
    twice, wrote the same classic files and heartbeat and proposed the same configurations
    twice. The second one is refused; so is one whose lock file a user deleted (lock files
    stay after a launch) while the heartbeat names a live worker of SEED on this host."""
    held = try_lock(group.layout.worker_lock(seed))
    info = group.worker(seed)  # the heartbeat may still be an earlier, ended worker's
    running = info is not None and info.get("pid") != os.getpid() and lives(info) is True
    if held is None or running:
        if held is not None:
            os.close(held)
        pid = f" (pid {info['pid']})" if info and running else ""
        raise InputError(
            group.path,
            None,
            f"worker {seed} of this rungroup is running{pid}; give this worker a --seed of its own",
        )
    return held


def joined_cluster(
    scenario_path: str | Path, overrides: Mapping[str, str], seed: int, given: str | None
) -> str | None:
    """The Dask cluster of a worker started by hand: GIVEN (`none`: this host), else the one
    the launch of its rungroup ran its trials on, as a resume goes on there, which it says."""
    launched = earlier_launch(scenario_path, overrides) if given is None else {}
    cluster, kept = kept_cluster(given, launched)
    if not kept:
        return cluster
    print(
        f"worker {seed}: on the launch's Dask cluster {cluster} (--dask-scheduler none runs"
        " its trials here)",
        file=sys.stderr,
    )
    return cluster


def main(
    scenario_path: str | Path,
    seed: int,
    *,
    overrides: Mapping[str, str] | None = None,
    gpu: str | None = None,
    task_id: int | None = None,
    dask_scheduler: str | None = None,
    place: tuple[int, int] | None = None,
) -> int:
    """`smac-bridge worker`: run one worker in this process; returns its exit code.
    With `dask_scheduler`, its trials run on that Dask cluster. A worker that joins a
    launch's rungroup runs it as a resume would: with the launch's `--set` options that
    OVERRIDES does not give again (its cutoff, its pruning rule, ...). PLACE (or
    $SMAC_BRIDGE_RUNGROUP_FOLDER) is the rungroup folder its launcher set up: a worker that
    starts after it moved stops, where it would make the folder again and start over."""
    from smac_bridge.executors.dask import check_scheduler

    by_hand = place is None and RUNGROUP_FOLDER_ENV not in os.environ  # no launch started it
    if dask_scheduler is not None:  # as a launch does: a wrong address creates no rungroup
        for warning in check_scheduler(dask_scheduler, ask_workers=by_hand):
            print(f"warning: {warning}", file=sys.stderr, flush=True)
    overrides = dict(overrides or {})
    kept = earlier_sets(earlier_launch(scenario_path, overrides), overrides)  # as a resume
    if kept:
        listed = ", ".join(f"--set {key}={value}" for key, value in kept.items())
        print(
            f"worker {seed}: with the launch's {listed} (give an option again to change it)",
            file=sys.stderr,
        )
    scenario = read_scenario(scenario_path, {**kept, **overrides})
    if task_id is None:
        task_id = max(seed - scenario.seed_offset - 1, 0)

    group = RunGroup(Path(scenario.outdir) / scenario.rungroup)
    if not by_hand and group.layout.space.exists():
        # the space its launch checked and saved: the user may edit the PCS file meanwhile,
        # for a next rungroup, while this worker starts
        scenario = replace(scenario, paramfile=group.layout.space)
    place = place or identity_of_text(os.environ.get(RUNGROUP_FOLDER_ENV, ""))
    if place is not None and folder_identity(group.path) != place:
        raise InputError(group.path, None, MOVED)
    if (nested := group.nested_outdir()) is not None:
        raise InputError(scenario.outdir, None, nested)
    group.refuse_a_folder_of_the_users()
    # as a launch's resume does
    launched, records = group.launch_info(), group.records()
    check_resume(group.path, group.layout, records, launched, scenario)
    # said by its launch, for a launch's worker; a worker started by hand says it itself
    for warning in changes_to_warn_of(group.path, launched, records, scenario) if by_hand else []:
        print(f"warning: worker {seed}: {warning}", file=sys.stderr, flush=True)
    budget = launched.get("budget")
    if by_hand and budget is not None and scenario.runcount_limit != budget:
        print(
            f"warning: worker {seed}: runcount_limit = {scenario.runcount_limit} differs from"
            f" the {budget} runs {group.path} was started with: this worker makes runs until"
            f" the rungroup holds {scenario.runcount_limit}",
            file=sys.stderr,
            flush=True,
        )
    group.create()
    _hold_the_seed(group, seed)  # released as the process exits
    save_space(group.layout, scenario.paramfile)
    if not group.launch_info():  # the first worker of a rungroup no launch made
        group.write_launch_info(
            _hand_launch_info(scenario, scenario_path, overrides, dask_scheduler)
        )
    if released := clean_dead_workers(group):  # a dead worker's trials and runs, this host
        print(
            f"worker {seed}: runs {', '.join(released)} of a worker that died are run again",
            file=sys.stderr,
        )
    design = saved_design(group.layout, scenario.paramfile)
    executor = make_executor(dask_scheduler, scenario)
    worker = Worker(
        scenario,
        seed,
        gpu=gpu or None,
        task_id=task_id,
        design=design,
        executor=executor,
        place=place,
    )
    try:
        code = worker.run()
    finally:
        executor.close()
    if worker.message:  # why it ended: a used budget too, which a hand-started worker finds
        print(f"worker {seed}: {worker.message}", file=sys.stderr)
    return code
