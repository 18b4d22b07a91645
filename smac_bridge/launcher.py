"""`smac-bridge launch`: N seeded workers on one rungroup, a live view, a clean end.

The launcher does no optimisation itself. It starts `smac-bridge worker` processes (each in
its own process group, so a Ctrl-C reaches only the launcher, which then stops the workers
in order: each worker stops its trial through the trial's wrapper, records nothing half-done
and releases that run's slot). Everything it shows comes from the run-data directory
(rundata.py), the same files `smac-bridge status` reads, so workers started by hand on other
hosts show up as well.

Exit codes: 0 when every worker ended normally, 1 when a worker died (the others go on),
130 after Ctrl-C or SIGTERM, 255 when a run aborted the launch.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from smac_bridge.errors import InputError
from smac_bridge.rundata import RecordReader, RunGroup, hostname, pid_alive
from smac_bridge.scenario import Scenario, read_scenario
from smac_bridge.worker import EXIT_ABORT, EXIT_DONE, EXIT_FAILED, EXIT_STOPPED

STOP_WAIT = 20.0
"""Seconds a worker gets to stop its trial (the supervisor's grace is 5 s) before SIGKILL."""
REFRESH = 0.5


@dataclass
class LaunchOptions:
    """What `smac-bridge launch` was asked to do."""

    scenario: Path
    parallel: int = 1
    gpus: str = "auto"
    outdir: str | None = None
    seed_offset: int | None = None
    resume: bool = False
    quiet: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    dask_scheduler: str | None = None  # run the trials on this Dask cluster (executors/dask.py)


@dataclass
class WorkerProcess:
    seed: int
    gpu: str | None
    process: subprocess.Popen[bytes]
    log: Path
    reported: bool = False


def parse_sets(items: Sequence[str]) -> dict[str, str]:
    """`--set key=value` options as scenario overrides."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(None, None, f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def select_gpus(spec: str) -> list[str]:
    """`auto` (discover), `none`, or a comma-separated list of GPU ids."""
    from smac_bridge.gpus import discover_gpus

    if spec == "auto":
        return discover_gpus()
    if spec == "none":
        return []
    gpus = [part.strip() for part in spec.split(",") if part.strip()]
    if not gpus:
        raise InputError(None, None, f"--gpus expects auto, none or ids like 0,1; got {spec!r}")
    return gpus


def worker_command() -> list[str]:
    """How to start `smac-bridge` with this Python (the console script when installed)."""
    script = shutil.which("smac-bridge", path=os.path.dirname(sys.executable))
    if script:
        return [script]
    return [
        sys.executable,
        "-c",
        "import sys; from smac_bridge.cli import main; main(sys.argv[1:])",
    ]


def kill_trial(marker: Mapping[str, Any]) -> None:
    """Kill what is left of a trial whose worker died: its session and every process that
    carries its supervisor's tree marker."""
    import psutil

    from smac_bridge.supervisor import carries_marker

    pid = marker.get("trial_pid")
    if pid:
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    tag = marker.get("marker")
    if not tag:
        return
    for proc in psutil.process_iter():
        try:
            if carries_marker(proc.environ(), tag):
                proc.kill()
        except (psutil.Error, OSError):
            continue


def clean_dead_workers(group: RunGroup, seeds: Sequence[int] | None = None) -> list[str]:
    """Kill the orphaned trials of dead workers on this host and free their slots."""
    here = hostname()
    for marker in group.running():
        if seeds is not None and marker.get("worker") not in seeds:
            continue
        if marker.get("host") == here and not pid_alive(int(marker.get("pid", 0))):
            kill_trial(marker)
    return group.release_stale_claims()


class Launch:
    """One `smac-bridge launch`: start, watch, stop and summarise the workers."""

    def __init__(self, options: LaunchOptions) -> None:
        self.options = options
        overrides = dict(options.overrides)
        if options.outdir is not None:
            overrides["outdir"] = options.outdir
        if options.seed_offset is not None:
            overrides["seed-offset"] = str(options.seed_offset)
        if options.parallel < 1:
            raise InputError(None, None, f"--parallel must be at least 1, got {options.parallel}")
        self.scenario: Scenario = read_scenario(options.scenario, overrides)
        # Workers get absolute paths, so that they do not depend on the current directory.
        overrides["outdir"] = str(self.scenario.outdir)
        self.overrides = overrides
        self.group = RunGroup(Path(self.scenario.outdir) / self.scenario.rungroup)
        offset = self.scenario.seed_offset
        self.seeds = list(range(offset + 1, offset + options.parallel + 1))
        self.workers: list[WorkerProcess] = []
        self._stop = threading.Event()
        self._stop_reason = ""
        self._started = time.time()
        self._done_before = 0

    # ---- start --------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the output directory (new, or resumable) and write launch.json."""
        group = self.group
        if self.options.resume:
            if not group.exists():
                raise InputError(group.path, None, "nothing to resume: the directory is missing")
            for info in group.workers():
                alive = info.get("host") == hostname() and pid_alive(int(info.get("pid", 0)))
                if alive and info.get("state") in ("starting", "running"):
                    raise InputError(
                        group.path, None, f"worker {info['seed']} (pid {info['pid']}) still runs"
                    )
            clean_dead_workers(group)
            group.clear_abort()
        elif not group.is_empty():
            raise InputError(
                group.path,
                None,
                "the output directory exists and is not empty; continue it with --resume, "
                "or choose another --outdir or rungroup",
            )
        self.check_files()
        group.create()
        previous = group.launch_info()
        self._done_before = len(group.records())
        gpus = select_gpus(self.options.gpus)
        from smac_bridge.gpus import worker_gpus

        self.gpu_slots = worker_gpus(gpus, self.options.parallel)
        group.write_launch_info(
            {
                "scenario": str(Path(self.options.scenario).absolute()),
                "parallel": self.options.parallel,
                "seeds": self.seeds,
                "gpus": self.gpu_slots,
                "budget": self.scenario.runcount_limit,
                "overrides": self.overrides,
                "started": previous.get("started", self._started),
                "session_started": self._started,
                "resumed": int(previous.get("resumed", -1)) + 1 if previous else 0,
                "host": hostname(),
                "pid": os.getpid(),
            }
        )

    def check_files(self) -> None:
        """Read the PCS and instance files once here, so that a mistake in them is one error
        message, not N dead workers."""
        from smac_bridge.instances import read_features, read_instances
        from smac_bridge.pcs import read_pcs

        scenario = self.scenario
        read_pcs(scenario.paramfile)
        if scenario.instance_file is not None and scenario.use_instances:
            names = [instance.name for instance in read_instances(scenario.instance_file)]
            if scenario.feature_file is not None:
                read_features(scenario.feature_file, names)

    def start_workers(self) -> None:
        from smac_bridge.supervisor import guard_argv

        base = worker_command()
        sets = [arg for key, value in self.overrides.items() for arg in ("--set", f"{key}={value}")]
        address = self.options.dask_scheduler
        dask = ["--dask-scheduler", address] if address else []
        # Each worker runs under a guard that reads this pipe: when this launcher dies, however
        # it dies, the guards see end of file and stop their workers (SIGTERM, so a worker stops
        # its trial cleanly; SIGKILL after STOP_WAIT). The write end stays open until this
        # process ends. A worker started by hand has no guard.
        watch, _open_until_exit = os.pipe()
        for index, (seed, gpu) in enumerate(zip(self.seeds, self.gpu_slots, strict=True)):
            log = self.group.workers_dir / f"{seed}.log"
            argv = [
                *base,
                "worker",
                str(Path(self.options.scenario).absolute()),
                "--seed",
                str(seed),
                "--task-id",
                str(index),
                "--gpu",
                gpu or "",
                *sets,
                *dask,
            ]
            with open(log, "ab") as handle:
                process = subprocess.Popen(
                    guard_argv(argv, watch, STOP_WAIT),
                    stdin=subprocess.DEVNULL,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(watch,),
                )
            self.workers.append(WorkerProcess(seed, gpu, process, log))
        os.close(watch)

    # ---- watch --------------------------------------------------------------------------

    def _on_signal(self, number: int, _frame: Any) -> None:
        self._stop_reason = signal.Signals(number).name
        self._stop.set()

    def _signal_workers(self, number: int) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                try:
                    os.killpg(worker.process.pid, number)
                except (ProcessLookupError, PermissionError):
                    pass

    def stop_workers(self) -> None:
        """SIGTERM every worker, give them time to stop their trials, then SIGKILL."""
        self._signal_workers(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while time.monotonic() < deadline and any(w.process.poll() is None for w in self.workers):
            time.sleep(0.1)
        if any(w.process.poll() is None for w in self.workers):
            self._signal_workers(signal.SIGKILL)
            for worker in self.workers:
                worker.process.wait()
        clean_dead_workers(self.group, self.seeds)

    def _report_deaths(self, say: Any) -> None:
        for worker in self.workers:
            code = worker.process.poll()
            if code is None or worker.reported:
                continue
            worker.reported = True
            if code not in (EXIT_DONE, EXIT_STOPPED, EXIT_ABORT):
                say(f"worker {worker.seed} died (exit code {code}); log: {worker.log}")
                clean_dead_workers(self.group, [worker.seed])

    def watch(self) -> int:
        """Show progress until the workers end; handle Ctrl-C and aborts. The exit code."""
        handlers = {
            number: signal.signal(number, self._on_signal)
            for number in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            if self.options.quiet:
                return self._watch_quiet()
            return self._watch_live()
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)

    def _step(self, say: Any) -> int | None:
        """One round of watching; an exit code once the launch is over."""
        if self._stop.is_set():
            say(f"stopping the workers ({self._stop_reason})...")
            self.stop_workers()
            return EXIT_STOPPED
        abort = self.group.abort_info()
        if abort is not None:
            self.stop_workers()
            return EXIT_ABORT
        self._report_deaths(say)
        if all(w.process.poll() is not None for w in self.workers):
            codes = [w.process.returncode for w in self.workers]
            if EXIT_STOPPED in codes:
                return EXIT_STOPPED
            return EXIT_DONE if all(code == EXIT_DONE for code in codes) else EXIT_FAILED
        return None

    def _watch_quiet(self) -> int:
        reader = RecordReader(self.group)
        reader.poll()  # runs of earlier launches are not news
        say = _printer(sys.stdout)
        say(f"launched {len(self.workers)} workers on {self.group.path}")
        while True:
            for record in reader.poll():
                if not record.get("reused_from"):
                    say(
                        f"run {record['run_id']} (worker {record['worker']}): {record['status']}"
                        f" quality {record['quality']:.6g} in {record['wall_time']:.1f} s"
                    )
            code = self._step(say)
            if code is not None:
                return code
            time.sleep(REFRESH)

    def _watch_live(self) -> int:
        from rich.console import Console
        from rich.live import Live

        console = Console()
        messages: list[str] = []
        with Live(self._view(messages), console=console, refresh_per_second=2) as live:
            while True:
                code = self._step(messages.append)
                live.update(self._view(messages))
                if code is not None:
                    return code
                time.sleep(REFRESH)

    def _view(self, messages: list[str]) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        records = self.group.records()
        budget = self.scenario.runcount_limit
        done = len(records)
        now = time.time()
        lines = [f"[bold]{self.group.path}[/bold]"]
        progress = f"runs done: {done}" + (f" of {budget}" if budget else "")
        rate_runs = done - self._done_before
        if budget and rate_runs > 0:
            eta = (now - self._started) / rate_runs * max(budget - done, 0)
            progress += f"   ETA {_duration(eta)}"
        lines.append(progress)
        if records:
            best = min(records, key=lambda record: record["cost"])
            lines.append(
                f"best: quality {best['quality']:.6g} (cost {best['cost']:.6g}),"
                f" run {best['run_id']} by worker {best['worker']}"
            )
        table = Table(box=None, pad_edge=False)
        for column in ("worker", "gpu", "state", "run", "elapsed", "runs done", "foreign told"):
            table.add_column(column)
        running = {marker["run_id"]: marker for marker in self.group.running()}
        for info in self.group.workers():
            current = info.get("current_run")
            marker = running.get(current) if current else None
            elapsed = _duration(now - marker["started"]) if marker else ""
            table.add_row(
                str(info.get("seed")),
                str(info.get("gpu") or "cpu"),
                str(info.get("state")),
                str(current or ""),
                elapsed,
                str(info.get("runs_done", 0)),
                str(info.get("foreign_runs_told", 0)),
            )
        parts: list[Any] = [Text.from_markup("\n".join(lines)), table]
        parts += [Text(message) for message in messages[-5:]]
        return Group(*parts)

    # ---- end ----------------------------------------------------------------------------

    def summary(self, code: int) -> str:
        """What the launch found: the incumbent, its quality and run, where its files are."""
        records = self.group.records()
        lines = [f"{len(records)} runs in {self.group.path}"]
        incumbents = [info["incumbent"] for info in self.group.workers() if info.get("incumbent")]
        if incumbents:
            best = min(incumbents, key=lambda incumbent: incumbent["cost"])
            runs = [r for r in records if r["run_id"] in best.get("run_ids", [])]
            lines.append(f"incumbent (cost {best['cost']:.6g}): {_config_text(best['config'])}")
            for record in runs:
                files = self.group.path / record["run_dir"]
                lines.append(
                    f"  run {record['run_id']} (worker {record['worker']}): {record['status']},"
                    f" quality {record['quality']:.6g}; files: {files}"
                )
        elif records:
            best = min(records, key=lambda record: record["cost"])
            lines.append(
                f"best run {best['run_id']}: quality {best['quality']:.6g},"
                f" {_config_text(best['config'])}; files: {self.group.path / best['run_dir']}"
            )
        if code == EXIT_STOPPED:
            lines.append("stopped; continue with --resume")
        abort = self.group.abort_info()
        if code == EXIT_ABORT and abort is not None:
            lines.append(f"launch aborted by worker {abort.get('worker')}: {abort.get('reason')}")
        return "\n".join(lines)


def _config_text(config: Mapping[str, Any]) -> str:
    return " ".join(f"-{name} {value}" for name, value in sorted(config.items()))


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _printer(stream: IO[str]) -> Any:
    def say(message: str) -> None:
        print(message, file=stream, flush=True)

    return say


def launch(options: LaunchOptions | Launch) -> int:
    """Run a whole launch (or a made one, e.g. doe.DesignLaunch); returns the exit code."""
    run = options if isinstance(options, Launch) else Launch(options)
    run.prepare()
    try:
        run.start_workers()
        code = run.watch()
    except BaseException:
        run.stop_workers()
        raise
    print(run.summary(code), flush=True)
    return code
