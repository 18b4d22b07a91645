"""`smac-bridge launch`: N seeded workers on one rungroup, a live view, a clean end.

The launcher does no optimisation itself. It starts the workers (what `smac-bridge worker`
does, forked from the launcher on Linux: see start_workers), each in its own process group,
so a Ctrl-C reaches only the launcher, which then stops the workers in order: each worker
stops its trial through the trial's wrapper, records nothing half-done and releases that
run's slot. Everything it shows comes from the run-data directory
(rundata.py), the same files `smac-bridge status` reads, so workers started by hand on other
hosts show up as well.

Exit codes: 0 when every worker ended normally, 1 when a worker died (the others go on),
when no run of a quality objective succeeded, or when a worker stopped the launch for a
script that never works or a Dask scheduler gone for good, 130 after Ctrl-C or SIGTERM, 255
when a run aborted the launch.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from smac_bridge import monitor, results
from smac_bridge.errors import (
    BUDGET_LIMIT_USED,
    EARLY_STOPS,
    EXIT_ABORT,
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_STOPPED,
    RUN_BUDGET_USED,
    TUNER_TIMEOUT_REACHED,
    WALLCLOCK_REACHED,
    InputError,
    stop_signals,
)
from smac_bridge.executors import install_folders
from smac_bridge.gpus import (
    GPU_LEASED_ENV,
    claim_worker_gpus,
    parse_gpu_choice,
    unlisted_gpus,
)
from smac_bridge.incumbent import incumbent
from smac_bridge.layout import (
    MOVED,
    RUNGROUP_FOLDER_ENV,
    disk_trouble,
    file_size,
    folder_identity,
    identity_text,
)
from smac_bridge.outcomes import (
    failed_qualities,
    is_pruned,
    most_common_failure,
    negated_metric,
)
from smac_bridge.records import (
    RunRecord,
    WorkerInfo,
    result_field,
    shown_budget,
    tuner_time_used,
)
from smac_bridge.recovery import (
    SILENT_DEATH,
    clean_dead_workers,
    earlier_launch,
    earlier_sets,
    kept_cluster,
    scenario_settings,
    walltime_used,
)
from smac_bridge.resume_checks import changes_to_warn_of, check_resume
from smac_bridge.rundata import RecordReader, RunGroup, lives, on_this_machine, this_process
from smac_bridge.scenario import (
    MAX_SEED,
    Scenario,
    budget_left_for_a_trial,
    option_name,
    read_scenario,
)
from smac_bridge.wrap_options import DEFAULT_GRACE

STOP_WAIT = 20.0
"""Seconds a worker gets to stop its trial with the default grace (5 s) before SIGKILL; a
trial whose wrapper has a longer `--grace` gets as much longer (`Launch.stop_time`, and
`worker_stop_wait` when the launcher died)."""
KILLED_WORKERS_WAIT = 5.0
"""Seconds the launcher waits for SIGKILLed workers to be gone before it cleans up after them."""
REFRESH = 0.5
VIEW_SHARE = 0.1
"""The share of the launcher's time that drawing its live view may take: a view of 24000
runs took 0.2 s to read, at every REFRESH a third of a core."""
FORK_WORKERS = sys.platform.startswith("linux")
"""Fork the workers from the launcher (start_workers says why and where not)."""


def worker_stop_wait(scenario: Scenario) -> float:
    """Seconds a worker's guard gives it to stop once the launcher died: STOP_WAIT, longer by
    as much as the scenario's wrapper `--grace` exceeds the default's (the MNIST scenarios
    give a stopped training 60 s to report what it reached). A resume waits twice that for
    such workers to stop by themselves."""
    from smac_bridge.algo_call import wrapper_grace

    return stop_wait_for(wrapper_grace(scenario))


def stop_wait_for(grace: float) -> float:
    """Seconds a worker gets to stop a trial whose wrapper gives its script GRACE seconds."""
    return STOP_WAIT + max(0.0, grace - DEFAULT_GRACE)


@dataclass
class LaunchOptions:
    """What `smac-bridge launch` was asked to do."""

    scenario: Path
    parallel: int | None = None  # None: 1, or on a resume the earlier launch's
    gpus: str = "auto"
    gpus_given: bool = False  # --gpus on the command line, not its default
    outdir: str | None = None
    seed_offset: int | None = None
    resume: bool = False
    quiet: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    dask_scheduler: str | None = None  # run the trials on this Dask cluster (executors/dask.py)


class ForkedProcess:
    """A forked child, watched as subprocess.Popen watches the processes it starts."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


WorkerHandle = ForkedProcess | subprocess.Popen[bytes]


@dataclass
class WorkerProcess:
    seed: int
    gpu: str | None
    process: WorkerHandle
    log: Path
    log_start: int = 0  # its log's size when it started: what came before is another's
    reported: bool = False


def worker_command() -> list[str]:
    """How to start `smac-bridge` with this Python (the console script when installed)."""
    script = shutil.which("smac-bridge", path=os.pathsep.join(install_folders()))
    if script:
        return [script]
    return [
        sys.executable,
        "-c",
        "import sys; from smac_bridge.cli import main; main(sys.argv[1:])",
    ]


class Launch:
    """One `smac-bridge launch`: start, watch, stop and summarise the workers."""

    RUNS_BRACKETS = True
    """Whether its workers run Hyperband's brackets when the scenario has a budget flag (a
    design runs every row with max-budget)."""
    ASKS_THE_MODEL = True
    """Whether its workers' configurations come from SMAC3's facade (a design's do not, so
    its smac-facade is not checked)."""

    def __init__(self, options: LaunchOptions) -> None:
        sets = dict(options.overrides)  # the user's own options, which a resume keeps
        if options.seed_offset is not None:
            sets["seed-offset"] = str(options.seed_offset)
        if options.parallel is not None and options.parallel < 1:
            raise InputError(None, None, f"--parallel must be at least 1, got {options.parallel}")
        outdir = {"outdir": options.outdir} if options.outdir is not None else {}
        self._kept: dict[str, str] = {}
        self._place: tuple[int, int] | None = None  # the rungroup folder's identity: moved()
        self._runs_lost = False  # a worker died: runs it did not record are left to a resume
        self._deaths: dict[int, str] = {}  # seed -> why, for a summary its heartbeat cannot hold
        self._kept_parallel = False  # a resume without --parallel runs the earlier count
        self._kept_gpus = False  # a resume without --gpus runs on the earlier launch's choice
        parallel = options.parallel or 1
        previous = earlier_launch(options.scenario, {**sets, **outdir}) if options.resume else {}
        cluster, self._kept_cluster = kept_cluster(options.dask_scheduler, previous)
        options = replace(options, dask_scheduler=cluster)
        if options.resume:  # the rungroup's launch.json names the options to keep
            self._kept = earlier_sets(previous, sets)
            sets = {**self._kept, **sets}
            # the count asked for, not the fewer workers started for the few runs left then
            earlier = previous.get("parallel_asked", previous.get("parallel"))
            if options.parallel is None and isinstance(earlier, int) and earlier > 1:
                parallel, self._kept_parallel = earlier, True
            # the GPUs the user was given, not `auto`: all of the machine's
            asked = previous.get("gpus_asked")
            if not options.gpus_given and isinstance(asked, str):
                options = replace(options, gpus=asked, gpus_given=True)
                self._kept_gpus = True
        self.options = options
        self.parallel_asked = parallel  # what a later resume goes on with
        self.parallel = parallel  # the workers of this session
        self.sets = sets
        self.scenario: Scenario = read_scenario(options.scenario, {**sets, **outdir})
        self.group = RunGroup(Path(self.scenario.outdir) / self.scenario.rungroup)
        # Workers get absolute paths, so that they do not depend on the current directory.
        self.overrides = {**sets, "outdir": str(self.scenario.outdir)}
        offset = self.scenario.seed_offset
        if offset + parallel > MAX_SEED:
            raise InputError(
                None,
                None,
                f"seed-offset {offset} + --parallel {parallel} is more than {MAX_SEED}, the"
                " largest seed SMAC3 takes",
            )
        self.seeds = list(range(offset + 1, offset + parallel + 1))
        self.workers: list[WorkerProcess] = []
        self._stop = threading.Event()
        self._wake = -1  # the read end of watch()'s wakeup pipe
        self._stop_reason = ""
        self._signals = 0  # Ctrl-Cs and SIGTERMs: one while the workers stop kills them at once
        self._started = time.time()
        self._done_before = 0
        self._units_before = 0
        self._walltime_before = 0.0  # the wall clock earlier sessions of a resumed launch ran
        self._news = RecordReader(self.group)
        self._failed: Counter[float] = Counter()  # failed runs' qualities: the failure quality
        self._lock: int | None = None  # the rungroup's launch lock (RunGroup.hold_launch_lock)
        self._gpu_leases: list[int] = []  # the workers' GPU slots, as other launches see them
        # why a resume starts no worker: the limit its earlier sessions used up
        self.nothing_left: str | None = None
        self._failure_quality: float | None = None  # the wrapper's --failure-quality
        self._refuse_another_kind()

    def _refuse_another_kind(self) -> None:
        """InputError for the rungroup of a design of experiments: its workers run the rows
        of its design.csv, so a launch there would run no SMAC proposal."""
        group = self.group
        if group.layout.design.exists() and (self.options.resume or not group.holds_nothing()):
            raise InputError(
                group.path,
                None,
                "holds a design of experiments (design.csv), whose workers run its rows, not"
                " SMAC's proposals: continue it with smac-bridge doe --resume, or launch SMAC"
                " into another rungroup (--set rungroup=NAME)",
            )

    # ---- start --------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the output directory (new, or resumable) and the files, take the rungroup's
        launch lock, set the rungroup up (a resume cleans what dead workers left and says
        what it keeps), choose each worker's GPU and write launch.json."""
        group = self.group
        # before any folder is made, and before the files' checks import ConfigSpace (2 s)
        gpus = parse_gpu_choice(self.options.gpus, "--gpus")
        self._refuse_unless_free()
        self.check_files()
        # (not under Dask, whose trials use their Dask worker's GPUs)
        if self.options.gpus.strip() not in ("auto", "none") and not self.options.dask_scheduler:
            given = "the earlier launch's --gpus" if self._kept_gpus else "--gpus"
            if warning := unlisted_gpus(gpus, given):
                print(f"warning: {warning}", file=sys.stderr, flush=True)
        self._lock = group.hold_launch_lock()
        if self._lock is None:
            who = f" ({alive})" if (alive := self._a_live_worker()) else ""
            raise InputError(
                group.path,
                None,
                f"another launch is starting or running in this rungroup{who}; wait for it"
                " or stop it, then continue with --resume",
            )
        self._refuse_unless_free()  # again, locked: a launch may have made the folder since
        if self.options.resume:  # before the heartbeats of dead workers are rewritten
            self._walltime_before = walltime_used(group, group.launch_info())
            clean_dead_workers(
                group, workers_stopped=self._all_workers_here(group), found_late=True
            )
            group.clear_abort()
        else:
            group.start_over()
        group.create(restore_claims=True)  # no worker of the rungroup runs now
        self._place = folder_identity(group.path)
        from smac_bridge.design import save_space

        save_space(group.layout, self.scenario.paramfile)
        previous = group.launch_info()
        self._done_before = len(group.records())
        self._units_before = group.units_used()
        if self.options.resume:
            self._say_what_the_resume_keeps(previous)
            results.warn_of_skipped_lines(group)  # their runs are run again
        self._news = RecordReader(group)
        # runs of earlier launches are not news; the first trials' runs are
        self._failed.update(failed_qualities(self._news.poll()))
        if self.nothing_left is not None:
            return  # no worker starts: no GPU to choose, and launch.json stays the earlier one's
        self._no_more_workers_than_runs()
        if self.options.resume:
            self._warn_of_what_is_left_for_a_bracket()
        self.gpu_slots = self._choose_gpu_slots(gpus)
        group.write_launch_info(self._launch_info(previous))

    def _say_what_the_resume_keeps(self, previous: Mapping[str, Any]) -> None:
        """Warn of what changed since the earlier launch (PREVIOUS, its launch.json) and of
        the limits it used up; name the options the resume keeps."""
        used_up = self._used_up()
        self.nothing_left = used_up[0][0] if used_up else None
        self._warn_of_changes(previous, used_up)
        kept = [f"--parallel {self.parallel}"] if self._kept_parallel else []
        if self._kept_gpus and self.options.dask_scheduler is None:  # Dask's trials: theirs
            kept.append(f"--gpus {self.options.gpus}")
        if self._kept_cluster:  # its trials would otherwise train on this machine
            kept.append(
                f"--dask-scheduler {self.options.dask_scheduler} (`--dask-scheduler none` runs"
                " the trials here)"
            )
        in_file = self._file_lines(self._kept)
        for key, value in self._kept.items():
            if option_name(key) == "seed_offset":
                kept.append(f"--seed-offset {value}")
            else:
                over = f" (over the file's `{in_file[key]}`)" if key in in_file else ""
                kept.append(f"--set {key}={value}{over}")
        if kept:
            print(
                f"resuming with the earlier launch's {', '.join(kept)} (give an option again to"
                " change it)",
                file=sys.stderr,
                flush=True,
            )

    def _file_lines(self, kept: Mapping[str, str]) -> dict[str, str]:
        """The lines of the scenario file that set a KEPT option to another value (edited
        since the earlier launch, which the kept --set still overrides), by option."""
        path = self.scenario.path
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lines = read_scenario(self.options.scenario).source_lines
            text = path.read_text(encoding="utf-8").splitlines() if path else []
        except (InputError, OSError, UnicodeDecodeError):  # the file alone is no scenario
            return {}
        found = {}
        for key, value in kept.items():
            number = lines.get(option_name(key) or "")
            if number is not None and 0 < number <= len(text):
                line = text[number - 1].strip()
                if re.split(r"\s*[=:\s]\s*", line, maxsplit=1)[-1].strip() != value:
                    found[key] = line
        return found

    def _no_more_workers_than_runs(self) -> None:
        """As many workers as runs are left of the run budget, at most (a design's rows in
        `doe`): the others would start only to find no run left."""
        limit = self.scenario.runcount_limit
        left = limit - len(self.group.claimed()) if limit else None
        if left is not None and 0 < left < self.parallel:
            print(
                f"warning: --parallel {self.parallel} is more than the {counted(left, 'run')}"
                f" left of {self._run_budget_text()}: {counted(left, 'worker')} "
                + ("starts" if left == 1 else "start"),
                file=sys.stderr,
                flush=True,
            )
            self.parallel = left
            self.seeds = self.seeds[:left]

    def _run_budget_text(self) -> str:
        """What sets the run budget, as warnings name it."""
        return f"runcount_limit = {self.scenario.runcount_limit}"

    def _gpus_chosen(self) -> bool:
        """Whether the user chose GPUs (ids or none), which a resume keeps; `auto` is found
        again where the resume runs."""
        return self.options.gpus_given and self.options.gpus.strip() != "auto"

    def _gpus_asked(self, previous: Mapping[str, Any]) -> str | None:
        """The --gpus a resume keeps: the user's choice of GPUs (not `auto`), unless this
        session ran on Dask, which ignored it: then the choice of the session before it."""
        if self.options.dask_scheduler is not None:
            return previous.get("gpus_asked")
        return self.options.gpus if self._gpus_chosen() else None

    def _choose_gpu_slots(self, gpus: list[str]) -> list[str | None]:
        """Each worker's GPU (None for the CPU) out of GPUS, the least used by this machine's
        other launches and wrappers first (`gpus.claim_worker_gpus`), warning of GPUs shared;
        none under Dask, whose trials use their Dask worker's GPUs."""
        if self.options.dask_scheduler is not None:
            # `none` too: a Dask worker's GPU is still its trials'
            if self.options.gpus_given and not self._kept_gpus:
                print(
                    "warning: --gpus does not apply with --dask-scheduler: each trial uses"
                    " the GPUs of the Dask worker it runs on (docs/distributed.md)",
                    file=sys.stderr,
                    flush=True,
                )
            gpus = []
        claimed = claim_worker_gpus(gpus, self.parallel)
        slots, self._gpu_leases = claimed.slots, claimed.fds
        if claimed.unleased is not None:
            print(
                f"warning: the workers' GPUs are not leased ({claimed.unleased}): this machine's"
                " other launches and wrappers cannot see them, and this launch cannot see theirs",
                file=sys.stderr,
                flush=True,
            )
        if taken := sorted({g for g in slots if g and g in claimed.busy}):
            print(
                f"warning: GPU {', '.join(taken)} also runs trials of another smac-bridge"
                " launch or wrapper on this machine, and every GPU of --gpus has a worker of"
                " this launch or another: their trials and this launch's share it (each"
                " needs its memory)",
                file=sys.stderr,
                flush=True,
            )
        if shared := sorted({g for g in slots if g and slots.count(g) > 1}):
            print(
                f"warning: {self.parallel} workers on {counted(len(set(gpus)), 'GPU')}:"
                f" GPU {', '.join(shared)} runs several trials at once (each needs its memory;"
                " --parallel as many as GPUs gives each trial its own)",
                file=sys.stderr,
                flush=True,
            )
        return slots

    def _launch_info(self, previous: Mapping[str, Any]) -> dict[str, Any]:
        """launch.json of this session; PREVIOUS is the earlier session's (a resume)."""
        host, pid, pid_start = this_process()  # `status` tells a launch still starting by it
        scenario = self.scenario
        return {
            "scenario": str(Path(self.options.scenario).absolute()),
            "parallel": self.parallel,
            "parallel_asked": self.parallel_asked,
            "seeds": self.seeds,
            "gpus": self.gpu_slots,
            "gpus_asked": self._gpus_asked(previous),
            "dask_scheduler": self.options.dask_scheduler,
            **scenario_settings(scenario),
            "overrides": self.overrides,
            "sets": self.sets,
            "started": previous.get("started", self._started),
            "session_started": self._started,
            "walltime_before": self._walltime_before,
            "resumed": int(previous.get("resumed", -1)) + 1 if previous else 0,
            "host": host,
            "pid": pid,
            "pid_start": pid_start,
            "cwd": os.getcwd(),
            "failure_quality": self._failure_quality,  # for views where the scenario is not
        }

    def release_lock(self) -> None:
        """Give the rungroup's launch lock back: the launch is over (its workers have ended),
        and a process that lives on, such as a notebook's kernel, may launch into it again."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        for fd in self._gpu_leases:
            os.close(fd)
        self._gpu_leases = []

    def _refuse_unless_free(self) -> None:
        """InputError unless the rungroup is new, or holds nothing (RunGroup.holds_nothing),
        or, for --resume, exists with the same search space and no live worker."""
        group = self.group
        if (nested := group.nested_outdir()) is not None:
            raise InputError(group.path.parent, None, nested)
        if self.options.resume:
            if not group.exists():
                raise InputError(group.path, None, "nothing to resume: the directory is missing")
            # Empty folders a launch left when it failed before it began, or a folder of the
            # user's (whose runs/ a resume would empty), are no rungroup to go on with.
            if not group.holds_launch_or_records():
                raise InputError(
                    group.path,
                    None,
                    "nothing to resume: the folder holds no launch.json or run records of"
                    " smac-bridge (check the output directory and the rungroup; a launch that"
                    " failed before it began starts again without --resume)",
                )
            check_resume(
                group.path, group.layout, group.records(), group.launch_info(), self.scenario
            )
            if incomplete := group.incomplete_records():
                path, line, run_id, lacks = incomplete[0]
                others = len(incomplete) - 1
                more = f" (and {counted(others, 'more record')})" if others else ""
                raise InputError(
                    path,
                    line,
                    f"the record of run {run_id} lacks {', '.join(lacks)}{more}, which the"
                    " resume tells SMAC3: put them back, or remove the line to run it again",
                )
            if still := self._workers_still_running():
                seed, pid = still[0].get("seed"), still[0].get("pid")
                launched_seeds = group.launch_info().get("seeds") or []
                who = (
                    f"another launch of this rungroup still runs (its worker {seed}, pid {pid})"
                    if seed in launched_seeds or lives(group.launch_info())
                    else f"worker {seed} of this rungroup, started by hand (pid {pid}), still runs"
                )
                raise InputError(
                    group.path, None, f"{who}: let it end, or stop it with Ctrl-C, before --resume"
                )
        elif not group.holds_nothing():
            group.refuse_a_folder_of_the_users()
            alive = self._a_live_worker()  # a --resume is refused while it runs
            when = f" once the launch that runs it now has ended (its {alive})" if alive else ""
            raise InputError(
                group.path,
                None,
                f"the output directory exists and is not empty; continue it with --resume{when},"
                " or choose another --outdir or --set rungroup=NAME",
            )

    def _a_live_worker(self) -> str | None:
        """`worker 2, pid 4711`: a live worker of the rungroup, which another launch runs."""
        alive = [w for w in self.group.workers() if lives(w)]
        return f"worker {alive[0].get('seed')}, pid {alive[0].get('pid')}" if alive else None

    def _workers_still_running(self) -> list[WorkerInfo]:
        """The rungroup's workers that still run. Those of an earlier launcher that died (kill
        -9) stop by themselves, their trials within their grace: they are waited for, up to
        twice their guards' wait, rather than the resume refused while they end. A worker
        started by hand (a seed the launch did not start) stops for no one: not waited for."""

        def running() -> list[WorkerInfo]:
            states = ("starting", "running")
            return [w for w in self.group.workers() if lives(w) and w.get("state") in states]

        def orphaned() -> bool:
            return any(w.get("seed") in seeds for w in still)

        still = running()
        launched = self.group.launch_info()
        seeds = launched.get("seeds") or []
        if orphaned() and "pid" in launched and lives(launched) is False:
            print("waiting for the workers of the earlier launch, whose launcher died, to stop")
            deadline = time.monotonic() + 2 * worker_stop_wait(self.scenario)
            while orphaned() and time.monotonic() < deadline:
                time.sleep(0.2)
                still = running()
        return still

    def _warn_of_changes(self, previous: Mapping[str, Any], used_up: list[tuple[str, str]]) -> None:
        """A resume whose algo differs from the earlier launch's mixes two commands' results
        in one model and one table, and so does one whose cutoff_time differs (a run cut at
        60 s against runs given 600); one whose run budget, wall clock or budget-limit is
        already used (USED_UP) runs nothing; a budget-limit new to the rungroup does not count the
        epochs of its runs."""
        records = self.group.records()
        for warning in changes_to_warn_of(self.group.path, previous, records, self.scenario):
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        for _reason, warning in used_up:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        wall, ran = self.scenario.wallclock_limit, self._walltime_before
        if wall is not None and 0 < ran < wall:
            print(
                f"resuming with {wall - ran:.1f} s of wallclock_limit = {wall:g} s left (the"
                f" earlier sessions ran {ran:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
        units = self.scenario.budget_limit
        if not self.scenario.budget_flag or units is None:
            return
        holders = self.group.unit_holders()
        unlimited = [
            r
            for r in records
            if r.get("budget") is not None
            and not r.get("reused_from")
            and r["run_id"] not in holders
        ]
        if unlimited:
            print(
                f"warning: budget-limit = {units:g} counts the budget units of the trials that"
                f" start under it: {counted(len(unlimited), 'earlier run')} of this rungroup"
                " were made without one, and their epochs do not count toward it",
                file=sys.stderr,
                flush=True,
            )

    def _warn_of_what_is_left_for_a_bracket(self) -> None:
        """Warn when what a resume has left of its limits cannot take a first Hyperband
        bracket, counted once the dead workers' lost runs gave back their slots and the units
        they did not train: before, a launch killed with its workers was said to have none."""
        if not self.RUNS_BRACKETS:
            return
        from smac_bridge.check import bracket_warnings

        spent = (len(self.group.claimed()), self.group.units_used())
        for text in bracket_warnings(self.scenario, self.parallel, spent):
            print(f"warning: {text}", file=sys.stderr, flush=True)

    def _run_budget_used(self, limit: int, claimed: int) -> str:
        """What a resume says of a run budget the earlier sessions used up."""
        return (
            f"runcount_limit = {limit} is already used by {claimed} runs: nothing is left to"
            " run (raise it with --set runcount_limit=N)"
        )

    def _used_up(self) -> list[tuple[str, str]]:
        """The limits the earlier sessions of a resumed launch used up, each as its worker
        would say it ended and as a warning that says how to raise it."""
        scenario, group = self.scenario, self.group
        found = []
        limit, claimed = scenario.runcount_limit, len(group.claimed())
        if limit and claimed >= limit:
            found.append((RUN_BUDGET_USED, self._run_budget_used(limit, claimed)))
        wall, ran = scenario.wallclock_limit, self._walltime_before
        if wall is not None and ran >= wall:
            found.append(
                (
                    WALLCLOCK_REACHED,
                    f"wallclock_limit = {wall:g} s is already used: the earlier sessions of"
                    f" this launch ran {ran:.1f} s, so nothing is left to run (raise it with"
                    " --set wallclock_limit=SECONDS; it counts every session's time)",
                )
            )
        timeout, runtime = scenario.tuner_timeout, tuner_time_used(group.records())
        if timeout is not None and runtime >= timeout:
            found.append(
                (
                    TUNER_TIMEOUT_REACHED,
                    f"tunerTimeout = {timeout:g} s is already used: the runs took {runtime:.1f} s"
                    " in all, so nothing is left to run (raise it with --set"
                    " tunerTimeout=SECONDS)",
                )
            )
        used = group.units_used()
        if not budget_left_for_a_trial(scenario, used):
            found.append(
                (
                    BUDGET_LIMIT_USED,
                    f"budget-limit = {scenario.budget_limit:g} is already used by {used} units:"
                    " no trial fits in what is left (raise it with --set budget-limit=N)",
                )
            )
        return found

    @staticmethod
    def _all_workers_here(group: RunGroup) -> bool:
        """Whether every worker the group knows ran on this machine, also in a container's
        PID namespace of its own that the launch lock shows ended (then, none being alive,
        every claim without a record is left by a dead worker)."""
        return all(on_this_machine(info.get("host")) for info in group.workers())

    def check_files(self) -> None:
        """Read the algo, the PCS and instance files once here, so that a mistake in them is
        one error message, not N dead workers or a budget of failed runs."""
        from smac_bridge.algo_call import script_call
        from smac_bridge.check import call_warnings, check_facade, check_script
        from smac_bridge.design import initial_configuration
        from smac_bridge.executors.dask import check_scheduler
        from smac_bridge.instances import read_features, read_instances, unused_seeds
        from smac_bridge.pcs import read_pcs

        scenario = self.scenario
        if self.options.dask_scheduler is not None:
            try:
                for said in check_scheduler(
                    self.options.dask_scheduler, trials_at_once=self.parallel
                ):
                    print(f"warning: {said}", file=sys.stderr, flush=True)
            except InputError as error:
                if not self._kept_cluster:
                    raise
                raise InputError(
                    None,
                    None,
                    f"{error}; that is the earlier launch's cluster, on which a resume goes on:"
                    " give --dask-scheduler ADDRESS of a running one, or --dask-scheduler none"
                    " to run the trials here",
                ) from None
        if self.ASKS_THE_MODEL:
            check_facade(self.options.scenario, scenario)
        space = read_pcs(scenario.paramfile)
        initial_configuration(scenario, space)
        call = self.call = script_call(scenario, space)
        self._failure_quality = call.failure_quality
        try:
            check_script(scenario, call, here=self.options.dask_scheduler is None)
        except InputError as error:
            if self.options.dask_scheduler is None:
                raise
            print(  # a cluster's hosts may hold what this one does not
                f"warning: {error}: the trials run on the Dask cluster's hosts, which must have it",
                file=sys.stderr,
                flush=True,
            )
        # a resume warns of its brackets once its lost runs gave back what they did not train
        brackets = self.RUNS_BRACKETS and not self.options.resume
        for text in call_warnings(scenario, call, self.parallel, brackets):
            print(f"warning: {text}", file=sys.stderr, flush=True)
        if (instance_file := scenario.used_instance_file) is not None:
            instances = read_instances(instance_file)
            if warning := unused_seeds(instance_file, instances, scenario.deterministic):
                print(f"warning: {warning}", file=sys.stderr, flush=True)
            if scenario.feature_file is not None:
                read_features(scenario.feature_file, instances, instance_file)

    def start_workers(self) -> None:
        """Start the workers, each under a guard that reads a pipe from this launcher: when
        the launcher dies, however it dies, the guards see end of file and stop their
        workers (SIGTERM, so a worker stops its trial cleanly; SIGKILL after
        `worker_stop_wait`). The write end stays open until this process ends.

        On Linux the launcher imports the worker's stack (SMAC3, ConfigSpace, scipy) once
        and forks each guard and worker from itself, so N workers do not each pay seconds of
        imports before their first trial (benchmarks/worker_startup.py); elsewhere, where
        forking a process that loaded numpy is not safe, and in a launcher that runs other
        threads, each runs `smac-bridge worker`. A first worker that starts the default
        configuration before it imports SMAC3 (worker.starts_with_default) is forked before
        the launcher imports it, so that its trial runs while both import: when it is the only
        worker, or a CPU is spare for the second import; otherwise that import's seconds of
        CPU would be taken from the trials and the other workers' start."""
        from smac_bridge.worker import starts_with_default

        # a lock held by another thread at the fork would stay held forever in the child
        # (a launch from a notebook, whose kernel runs threads)
        fork = FORK_WORKERS and threading.active_count() == 1
        spare_cpu = len(self.seeds) == 1 or (
            fork and len(os.sched_getaffinity(0)) > len(self.seeds)
        )
        first_early = spare_cpu and starts_with_default(self.scenario, self.seeds[0], self.group)
        watch, open_until_exit = os.pipe()
        for index, (seed, gpu) in enumerate(zip(self.seeds, self.gpu_slots, strict=True)):
            if self._stop.is_set():  # Ctrl-C while the first ones started: no more
                break
            log = self.group.layout.worker_log(seed)
            log_start = file_size(log)
            if fork and (index > 0 or not first_early):
                import smac_bridge.optimizer  # noqa: F401 - the stack the forked workers share
            if fork:
                process: WorkerHandle = self._fork_worker(
                    seed, gpu, index, log, watch, open_until_exit
                )
            else:
                process = self._exec_worker(seed, gpu, index, log, watch)
            self.workers.append(WorkerProcess(seed, gpu, process, log, log_start))
        os.close(watch)

    def _fork_worker(
        self, seed: int, gpu: str | None, index: int, log: Path, watch: int, write_end: int
    ) -> ForkedProcess:
        from smac_bridge import worker
        from smac_bridge.guard import guard_call

        def run() -> int:
            return worker.main(
                Path(self.options.scenario).absolute(),
                seed,
                overrides=self.overrides,
                gpu=gpu,
                task_id=index,
                dask_scheduler=self.options.dask_scheduler,
                place=self._place,
            )

        sys.stdout.flush()
        sys.stderr.flush()
        # The launcher only notes a stop signal; the guard must not inherit that. Blocked
        # across the fork, a signal waits for the launcher's handler or the guard's default.
        stops = set(stop_signals())  # SIGHUP too, unless nohup ignores it
        with open(log, "ab") as handle:
            signal.pthread_sigmask(signal.SIG_BLOCK, stops)
            pid = os.fork()
            if pid == 0:  # the worker's guard, in a session of its own
                try:
                    for number in stops - {signal.SIGINT}:
                        signal.signal(number, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
                    os.setsid()
                    os.close(write_end)
                    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                    os.dup2(handle.fileno(), 1)
                    os.dup2(handle.fileno(), 2)
                    guard_call(watch, worker_stop_wait(self.scenario), run)
                finally:
                    os._exit(EXIT_FAILED)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        return ForkedProcess(pid)

    def _exec_worker(
        self, seed: int, gpu: str | None, index: int, log: Path, watch: int
    ) -> subprocess.Popen[bytes]:
        from smac_bridge.supervisor import guard_argv

        sets = [arg for key, value in self.overrides.items() for arg in ("--set", f"{key}={value}")]
        address = self.options.dask_scheduler
        argv = [
            *worker_command(),
            "worker",
            str(Path(self.options.scenario).absolute()),
            "--seed",
            str(seed),
            "--task-id",
            str(index),
            *(["--gpu", gpu] if gpu else []),  # none: the worker's default, the CPU
            *sets,
            *(["--dask-scheduler", address] if address else []),
        ]
        with open(log, "ab") as handle:
            return subprocess.Popen(
                guard_argv(argv, watch, worker_stop_wait(self.scenario)),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # the GPU leases too, as forked workers inherit them: a launcher killed with
                # -9 must not free its GPUs while its workers still stop their trials
                pass_fds=(watch, *self._gpu_leases),
                env={
                    **os.environ,
                    GPU_LEASED_ENV: "1",  # the launch holds its GPU's lease
                    **({RUNGROUP_FOLDER_ENV: identity_text(self._place)} if self._place else {}),
                },
            )

    # ---- watch --------------------------------------------------------------------------

    def note_signal(self, number: int, _frame: Any) -> None:
        """A stop asked for by signal NUMBER: the watch stops the workers (the first signal
        names the stop: a SIGTERM then a Ctrl-C was said as SIGINT)."""
        self._stop_reason = self._stop_reason or signal.Signals(number).name
        self._signals += 1
        self._stop.set()

    def note_signals(self) -> dict[int, Any]:
        """Note Ctrl-C, SIGTERM and SIGHUP from now on (note_signal), and those that cli.py's
        first handler took and whose SystemExit CPython lost. The handlers this replaced."""
        previous: dict[int, Any] = {
            number: signal.signal(number, self.note_signal) for number in stop_signals()
        }
        for number in EARLY_STOPS:
            self.note_signal(number, None)
        EARLY_STOPS.clear()  # noted once: counted again by each call, it made one a second
        return previous

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _signal_workers(self, number: int) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                try:
                    os.killpg(worker.process.pid, number)
                except ProcessLookupError:  # just forked: its session is not made yet
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(worker.process.pid, number)
                except PermissionError:
                    pass

    def stop_workers(self) -> None:
        """SIGTERM every worker, give them time to stop their trials (a trial's wrapper may
        give its script a long `--grace` to report what it reached), then SIGKILL: at once
        when another signal comes meanwhile, or came since the one that stopped the launch."""
        self._signal_workers(signal.SIGTERM)
        signals = min(self._signals, 1)
        deadline = time.monotonic() + self.stop_time()
        while (
            time.monotonic() < deadline
            and self._signals == signals
            and any(w.process.poll() is None for w in self.workers)
        ):
            time.sleep(0.1)
        if any(w.process.poll() is None for w in self.workers):
            self._signal_workers(signal.SIGKILL)
            for worker in self.workers:
                worker.process.wait()
            self._wait_for_killed_workers()
        self._clean_up_after(self.seeds)

    def _clean_up_after(self, seeds: list[int], why: str = SILENT_DEATH) -> None:
        """Clean up after dead workers (recovery.clean_dead_workers): on a full disk, where
        their heartbeats cannot be rewritten, with a warning only, as the other workers go on
        and the launch still sums up what it found."""
        if self.moved():  # its path is not to be made again
            return
        try:
            clean_dead_workers(self.group, seeds, why=why)
        except OSError as error:
            where = error.filename or self.group.path
            print(
                f"warning: cannot record the end of worker {', '.join(map(str, seeds))} in"
                f" {where}: {error.strerror or error}",
                file=sys.stderr,
                flush=True,
            )

    def _wait_for_killed_workers(self) -> None:
        """Wait (briefly) for the workers just killed to be gone: a worker's guard is reaped at
        once, but the worker, its grandchild, may still be dying, and cleaning up kills only a
        dead worker's trial (else left to the trial's own guard and its whole grace)."""
        ours = [m for m in self.group.running() if m.get("worker") in self.seeds]
        deadline = time.monotonic() + KILLED_WORKERS_WAIT
        while time.monotonic() < deadline and any(lives(m) for m in ours):
            time.sleep(0.05)

    def stop_time(self) -> float:
        """Seconds the workers get to stop: STOP_WAIT, longer by as much as the longest grace
        of a running trial's wrapper exceeds the default's."""
        ours = [m for m in self.group.running() if m.get("worker") in self.seeds]
        graces = [monitor.grace_of(self.group, str(m["run_id"])) for m in ours]
        return stop_wait_for(max(graces, default=DEFAULT_GRACE))

    def _report_deaths(self, say: Any) -> None:
        for worker in self.workers:
            code = worker.process.poll()
            if code is None or worker.reported:
                continue
            worker.reported = True
            if self.moved():  # said once, in the summary
                continue
            if code not in (EXIT_DONE, EXIT_STOPPED, EXIT_ABORT) and not self.group.abort_info():
                self._runs_lost = True  # its unrecorded runs: a resume makes them
                why = self._last_words(worker)
                log = f"; log: {worker.log}" if _wrote_to(worker.log, worker.log_start) else ""
                say(f"worker {worker.seed} died (exit code {code}){why}{log}")
                self._deaths[worker.seed] = f"died (exit code {code}){why}"
                self._clean_up_after([worker.seed], why=self._deaths[worker.seed])

    def moved(self) -> bool:
        """Whether the rungroup folder is no longer at its path (worker.py: _check_place)."""
        return self._place is not None and folder_identity(self.group.path) != self._place

    def _last_words(self, worker: WorkerProcess) -> str:
        """Why a worker died: the last line of its heartbeat's message, or a full disk (where
        the worker could write neither its heartbeat nor its log), or the error its log ends
        with (it died before its first heartbeat)."""
        try:
            info = self.group.worker(worker.seed) or {}
        except OSError:
            info = {}
        if last := monitor.message_last_line(info.get("message")):
            return f": {last}"
        if trouble := disk_trouble(self.group.path):
            return f": {trouble}"
        return _raised(worker.log, worker.log_start)

    def watch(self) -> int:
        """Show progress until the workers end; handle Ctrl-C and aborts. The exit code.

        Signals wake the watch at once (through a wakeup pipe), a worker's end (SIGCHLD)
        included, so the launch ends when its last worker does, not up to REFRESH later."""
        handlers = self.note_signals()
        handlers[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, lambda _number, _frame: None)
        self._wake, wake_write = os.pipe()
        for fd in (self._wake, wake_write):
            os.set_blocking(fd, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        try:
            # A pipe or a file gets log lines: a live view there is a last frame run into
            # the summary.
            if self.options.quiet or not sys.stdout.isatty():
                return self._watch_quiet()
            return self._watch_live()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for number, handler in handlers.items():
                signal.signal(number, handler)
            os.close(self._wake)
            os.close(wake_write)

    def _pause(self) -> None:
        """Wait REFRESH seconds, or less when a signal arrives."""
        ready, _, _ = select.select([self._wake], [], [], REFRESH)
        if ready:
            while True:
                try:
                    if not os.read(self._wake, 512):
                        break
                except BlockingIOError:
                    break

    def _step(self, say: Any) -> int | None:
        """One round of watching; an exit code once the launch is over."""
        if self._stop.is_set() and self._every_worker_done():
            return EXIT_DONE  # the stop came once the launch had ended: it stopped nothing
        if self._stop.is_set():
            if self.workers:
                wait = self.stop_time()
                why = self._stop_reason
                if wait > STOP_WAIT:
                    why += (
                        f"; up to {wait:.0f} s for the trials' grace, Ctrl-C again kills them now"
                    )
                say(f"stopping the workers ({why})...")
            else:
                say(f"stopped before any worker started ({self._stop_reason})")
            self.stop_workers()
            return EXIT_STOPPED
        abort = self.group.abort_info()
        if abort is not None:
            self.stop_workers()
            return abort.get("exit_code", EXIT_ABORT)
        self._report_deaths(say)
        if all(w.process.poll() is not None for w in self.workers):
            self._report_deaths(say)  # one that died while another's death was cleaned up
            codes = [w.process.returncode for w in self.workers]
            failed = any(code not in (EXIT_DONE, EXIT_STOPPED) for code in codes)
            if EXIT_STOPPED in codes:
                ended = self._after_an_outside_stop(say)
                return EXIT_FAILED if failed and ended == EXIT_DONE else ended
            return EXIT_FAILED if failed else EXIT_DONE
        return None

    def _every_worker_done(self) -> bool:
        return bool(self.workers) and all(w.process.poll() == EXIT_DONE for w in self.workers)

    def _after_an_outside_stop(self, say: Any) -> int:
        """Workers stopped by a signal the launcher did not send (SIGTERM to one of them):
        the launch is done when its limits are reached (the others ran the stopped one's
        trial and used the budget up); else it is stopped, for --resume. A worker that ended
        "done" is no proof: it may have ended while the stopped one still held a run."""
        stopped = [str(w.seed) for w in self.workers if w.process.returncode == EXIT_STOPPED]
        who = f"worker{'s' if len(stopped) > 1 else ''} {', '.join(stopped)}"
        if self._limits_reached():
            say(f"{who} stopped by a signal from outside; the others ended the launch")
            return EXIT_DONE
        say(f"{who} stopped by a signal from outside the launch")
        return EXIT_STOPPED

    def _limits_reached(self) -> bool:
        """Whether the run budget, the wall clock, tunerTimeout or budget-limit leaves nothing
        to run."""
        scenario = self.scenario
        records = self.group.records()
        runs = len({r["run_id"] for r in records})
        if scenario.runcount_limit and runs >= scenario.runcount_limit:
            return True
        if scenario.wallclock_limit and self._walltime() >= scenario.wallclock_limit:
            return True
        timeout = scenario.tuner_timeout
        if timeout is not None and tuner_time_used(records) >= timeout:
            return True
        return not budget_left_for_a_trial(scenario, self.group.units_used())

    def _watch_quiet(self) -> int:
        say = _printer(sys.stdout)
        if self.workers:  # none when a Ctrl-C came before the first one started
            say(f"launched {counted(len(self.workers), 'worker')} on {self.group.path}")
        if any(worker.gpu for worker in self.workers):  # the live view has a column for it
            where = (f"worker {w.seed} on GPU {w.gpu or 'none (CPU)'}" for w in self.workers)
            say(", ".join(where))
        while True:
            self._say_new_runs(say)
            code = self._step(say)
            if code is not None:
                self._say_new_runs(say)  # those recorded as the workers ended
                return code
            self._pause()

    def _say_new_runs(self, say: Callable[[str], None]) -> None:
        """One line per run recorded since the last look (from before the first trial on), and
        a warning for each record file found replaced or cut short meanwhile."""
        news = self._news.poll()
        self._failed.update(failed_qualities(news))
        for path in self._news.replaced:
            say(
                f"warning: {path} was replaced or cut short while the launch ran (moved, edited):"
                " it is read again from its start; the runs it no longer holds are gone from"
                " every view, and a resume makes new runs in their slots"
            )
        self._news.replaced.clear()
        for record in news:
            if not record.get("reused_from"):
                about = [f"worker {record['worker']}"]
                budget = shown_budget(record)
                if budget is not None:  # multi-fidelity: a quality at 1 epoch or at 27?
                    about.append(f"budget {budget:g}")
                if record.get("promoted_from"):
                    about.append(f"promoted from {record['promoted_from']}")
                reason = record.get("reason")
                say(
                    f"run {record['run_id']} ({', '.join(about)}): {record['status']}"
                    f" {self._result_text(record)} in {record['wall_time']:.1f} s"
                    + (f" ({reason})" if reason else "")
                )

    def _result_text(self, record: RunRecord) -> str:
        """A run's result as the launch's lines say it: its quality as `results` shows it
        (a failed run has none, a partial one says so), or for a runtime objective its cost
        (the target's quality is not what was minimised)."""
        if result_field(self.scenario.run_obj) == "cost":
            return f"cost {record['cost']:.6g}"
        # as `results` shows it now: a classic target's runs tell the failure quality together
        failure = self._failure_quality
        shown = results.quality_text(
            record, most_common_failure(self._failed) if failure is None else failure
        )
        return shown if shown == "no quality" else f"quality {shown}"

    def _watch_live(self) -> int:
        from rich.console import Console
        from rich.live import Live

        messages: list[str] = []
        picture = monitor.status([self.group])
        with Live(self._view(picture, messages), console=Console(), refresh_per_second=2) as live:
            drawn = cost = 0.0
            while True:
                said = len(messages)
                code = self._step(messages.append)
                # a long history's status costs more to read: read less often, at most
                # VIEW_SHARE of the launcher's time (the workers share the machine); a new
                # message shows at once, beside the status read last
                stale = time.monotonic() - drawn >= cost / VIEW_SHARE
                if code is not None or stale:
                    began = time.monotonic()
                    picture = monitor.status([self.group])
                    drawn = time.monotonic()
                    cost = drawn - began
                if code is not None or stale or len(messages) > said:
                    live.update(self._view(picture, messages, ended=code is not None))
                if code is not None:
                    return code
                self._pause()

    def _view(self, picture: dict[str, Any], messages: list[str], ended: bool = False) -> Any:
        """PICTURE, `smac-bridge status`'s view of this rungroup, an ETA and the launcher's
        messages; the last frame (ENDED) no longer shows the launch, which holds its rungroup
        until it exits, as running."""
        from rich.console import Group
        from rich.text import Text

        if ended:
            picture["rungroups"][0]["active"] = False
        parts: list[Any] = [monitor.status_view(picture)]
        left = None if ended else self._time_left(picture["rungroups"][0])
        if left is not None:
            parts.append(Text(f"about {monitor.duration(left)} left at this pace"))
        parts += [Text(message) for message in messages[-5:]]
        return Group(*parts)

    def _time_left(self, group: dict[str, Any]) -> float | None:
        """Seconds until the run budget or the budget units (multi-fidelity) run out at this
        launch's pace so far, whichever comes first; None before the pace is known."""
        elapsed = time.time() - self._started
        scenario = self.scenario
        estimates = []
        runs = group["runs_done"] - self._done_before
        if scenario.runcount_limit and runs > 0:
            estimates.append(elapsed / runs * max(scenario.runcount_limit - group["runs_done"], 0))
        units = group["units_used"] - self._units_before
        if scenario.budget_limit is not None and scenario.budget_flag and units > 0:
            estimates.append(elapsed / units * max(scenario.budget_limit - group["units_used"], 0))
        if scenario.wallclock_limit:
            estimates.append(max(scenario.wallclock_limit - self._walltime(), 0))
        return min(estimates, default=None)

    def _walltime(self) -> float:
        """Seconds of wall clock the launch has run, earlier sessions of a resume included."""
        return self._walltime_before + time.time() - self._started

    # ---- end ----------------------------------------------------------------------------

    def summary(self, code: int) -> str:
        """What the launch found: the incumbent (incumbent.py), its runs and their files."""
        if self.moved():
            return f"{self.group.path}: {MOVED}"
        records = self.group.records()
        lines = [f"{counted(len(records), 'run')} in {self.group.path}"]
        pruning = self.scenario.pruning
        if pruning != "none" and records:
            if not any(self.group.run(r["run_id"]).progress.exists() for r in records):
                lines.append(
                    f"pruning = {pruning} stopped nothing: no run reported a learning curve"
                    " (report(quality, step=epoch, partial=True), docs/wrappers.md)"
                )
        found = incumbent(records)
        if found is not None:
            negated = ", minus the metric" if negated_metric(records) else ""  # --maximize
            lines.append(
                f"incumbent (cost {found['cost']:.6g}{negated}): {_config_text(found['config'])}"
            )
            for record in records:
                if record["run_id"] in found["run_ids"]:
                    files = self.group.run(record["run_id"]).path
                    best = " (best)" if record["run_id"] == found["run_id"] else ""
                    budget = shown_budget(record)
                    at = f", budget {budget:g}" if budget is not None else ""
                    lines.append(
                        f"  run {record['run_id']}{best} (worker {record['worker']}):"
                        f" {record['status']}, {self._result_text(record)}{at};"
                        f" files: {files}"
                    )
            best_record = next(r for r in records if r["run_id"] == found["run_id"])
            if note := results.short_of_max_budget(best_record, self.group):
                lines.append(note)
        elif records:
            how = "ended" if any(r.get("stopped_by_user") for r in records) else "failed"
            lines.append(f"no run succeeded; `smac-bridge results` shows why each {how}")
            cutoffs = [cutoff for r in records if (cutoff := r.get("cutoff")) is not None]
            if len(cutoffs) == len(records) and all(
                r["status"] == "TIMEOUT" and not (r.get("stopped_by_user") or is_pruned(r))
                for r in records
            ):
                lines.append(
                    f"every run reached its cutoff_time ({max(cutoffs):g} s at most): raise it"
                    " with --set cutoff_time=SECONDS"
                )
        elif code == EXIT_FAILED:
            ended = sorted(
                {monitor.message_last_line(w.get("message")) for w in self.group.workers()} - {""}
            )
            why = f"; the workers ended: {'; '.join(ended)}" if ended else ""
            lines.append(f"no run was made{why}")
        limit = self.scenario.budget_limit
        if limit is not None and self.scenario.budget_flag:
            lines.append(f"budget-limit: {self.group.units_used()} of {limit:g} units used")
        if code == EXIT_DONE or (code == EXIT_FAILED and records):
            lines += self._ended()
        runs = self.scenario.runcount_limit
        if self._runs_lost and runs and len(records) < runs and not self.group.abort_info():
            left = runs - len(records)  # a dead worker's runs: its slots were freed
            lines.append(
                f"{counted(left, 'run')} of runcount_limit = {runs} not made: continue with"
                f" --resume to make {'it' if left == 1 else 'them'}"
            )
        if code == EXIT_STOPPED and self.group.holds_nothing():
            lines.append("stopped before anything ran; launch again to start over")
        elif code == EXIT_STOPPED:
            lines.append("stopped; continue with --resume")
        abort = self.group.abort_info()
        if abort is not None and code != EXIT_STOPPED:
            lines.append(monitor.abort_text(abort))
        return "\n".join(lines)

    def _ended(self) -> list[str]:
        """Why the workers ended: which limit (the run budget, the wall clock, ...), and
        which worker died of what."""
        if self.nothing_left is not None:
            return [f"ended: {self.nothing_left} by the earlier sessions; no worker started"]
        seeds = set(self.seeds)
        workers = [w for w in self.group.workers() if w.get("seed") in seeds]
        deaths = [
            f"worker {w['seed']} {monitor.message_last_line(w.get('message')) or 'failed'}"
            for w in workers
            if w.get("state") == "failed"
        ]
        said = {w["seed"] for w in workers if w.get("state") == "failed"}
        # a full disk kept the death out of its heartbeat: as the console said it
        deaths += [f"worker {s} {why}" for s, why in self._deaths.items() if s not in said]
        reasons = {
            str(w["message"]) for w in workers if w.get("state") == "done" and w.get("message")
        }
        ended = sorted(deaths) + sorted(reasons)
        return [f"ended: {'; '.join(ended)}"] if ended else []


def _raised(log: Path, start: int = 0) -> str:
    """The error LOG ends with, as `: <error>: <message>`, when what it gained after START
    (this session's worker's part) ends with a traceback, or the worker's own last
    `worker N: error: ...` line (a file it could not write), else ""."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(start, file_size(log) - 4096))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    found = (
        re.fullmatch(r"(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)", lines[-1][:300])
        if lines
        else None
    )
    if found:
        return f": {found[1]}: {found[2]}"
    said = (re.fullmatch(r"worker \d+: (error: .+)", line[:300]) for line in reversed(lines))
    return next((f": {found[1]}" for found in said if found), "")


def _wrote_to(log: Path, start: int) -> bool:
    """Whether this session's worker wrote to its LOG past START: a worker on a full disk
    wrote nothing, and an empty log is no place to send a user."""
    return file_size(log) > start


def counted(number: int, thing: str) -> str:
    """A count as a user reads it: 1 run, 2 runs."""
    return f"{number} {thing}{'' if number == 1 else 's'}"


def _config_text(config: Mapping[str, Any]) -> str:
    """A configuration as SMAC writes one, with what a terminal would act on escaped."""
    text = " ".join(f"-{name} {value}" for name, value in sorted(config.items()))
    return results.printable(text)


def _printer(stream: IO[str]) -> Callable[[str], None]:
    def say(message: str) -> None:
        print(message, file=stream, flush=True)

    return say


def launch(options: LaunchOptions | Launch) -> int:
    """Run a whole launch (or a made one, e.g. doe.DesignLaunch); returns the exit code."""
    run = options if isinstance(options, Launch) else Launch(options)
    try:
        with _signals_noted(run):
            run.prepare()
            try:
                if not run.stop_requested() and run.nothing_left is None:
                    run.start_workers()
            except BaseException:
                run.stop_workers()
                raise
        try:
            code = run.watch()  # a stop asked for while starting: the watch's first step
        except BaseException:
            run.stop_workers()
            raise
        with _signals_noted(run):  # a second Ctrl-C or a SIGTERM while it sums up: the same
            if code == EXIT_DONE and incumbent(run.group.records()) is None:
                code = EXIT_FAILED  # the budget is spent and no training succeeded, or none made
            if run.moved():  # what its path holds now is no rungroup's word (an abort, ...)
                code = EXIT_FAILED
            print(run.summary(code), flush=True)
        return code
    finally:
        run.release_lock()  # the process may launch into this rungroup again (a notebook)


@contextlib.contextmanager
def _signals_noted(run: Launch) -> Iterator[None]:
    """Ctrl-C or SIGTERM while the launch starts (SMAC3's import, the forks) is noted, not
    raised in the middle of a fork: the watch then stops the workers started so far, as
    later, and the launch exits 130. While it writes its summary, one is only noted too."""
    previous = run.note_signals()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
