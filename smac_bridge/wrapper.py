"""`smac-bridge wrap` and the `Wrapper` base class: one SMAC trial of a training script.

SMAC's classic call comes in (`instance info cutoff length seed -name value ...`), the script
runs with `--name value` under the supervisor (cutoff, memory, whole-tree kill, GPU slot), and
exactly one result line goes out on stdout, whatever happened: SMAC reads nothing else.
Its options are `wrap_options`'s, the reading of the output `script_output`'s, and the
rules for the result `verdict`'s. Kept light (stdlib, psutil, the package's light modules):
it runs once per trial.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import math
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from smac_bridge.errors import stop_signals
from smac_bridge.layout import (
    DISK_ERRORS,
    INTERRUPT_NOTE,
    RunDir,
    disk_trouble,
    json_default,
    plain_data,
    stop_note,
    write_json_atomic,
)
from smac_bridge.protocol import (
    CRASHED_QUALITY,
    NEGATED_METRIC,
    STATUS_NOTES,
    STATUS_WORDS,
    ProtocolError,
    RunResult,
    Status,
    TargetCall,
    execution_uuid,
    format_additional,
    format_json_result_line,
    format_result_line,
    is_aclib_call,
    near_result_line,
    parse_additional,
    parse_call,
    parse_long,
    parse_result_line,
    script_result_line,
)
from smac_bridge.script_env import (
    ARTIFACTS_ENV,
    GPU_ENV,
    GRACE_ENV,
    LAUNCH_SET,
    RUN_DIR_ENV,
    SEED_ENV,
)
from smac_bridge.script_output import Scan, read_report, same_report, scan_log, to_float
from smac_bridge.supervisor import Limits, Outcome, Supervisor
from smac_bridge.verdict import RunFacts, decide
from smac_bridge.wrap_options import WrapperError, parse_options, script_command

_WRAPPER_KEYS = ("reason", "stopped_by_user", "exit_code", "cpu_time", "peak_rss_mb")
"""The additional data the wrapper adds to what a run reported (`Wrapper._decide`)."""
CUDA_ABORT_PATTERN = r"CUDA driver version is insufficient|no CUDA-capable device is detected"


class _Interrupted(BaseException):
    """SIGTERM/SIGINT/SIGHUP before the script started or while a custom hook ran, or a hook
    that ran past its time: the run is TIMEOUT with this reason. No Exception, so that a
    hook's own `except Exception` does not swallow it."""

    def __init__(self, reason: str = "interrupted") -> None:
        super().__init__(reason)
        self.reason = reason


_HOOKS = ("build_command", "read_result")


class _HelpShown(Exception):
    """`--help` was printed: the one case where the wrapper answers with no result line."""


@dataclass
class FinishedRun:
    """What a custom `read_result` gets: the run, its files and the wrapper's own decision."""

    call: TargetCall
    outcome: Outcome
    run_dir: Path
    log_path: Path
    exit_code: int | None
    default: RunResult
    extra: dict[str, object] = field(default_factory=dict)
    output_offset: int = 0

    def output(self, errors: str = "replace") -> str:
        """The script's output (stdout and stderr), without the wrapper's header lines."""
        with open(self.log_path, "rb") as log:
            log.seek(self.output_offset)
            return log.read().decode("utf-8", errors)


def _python_scalar(value: Any) -> Any:
    """A numpy scalar as Python's (np.float32(0.5) as 0.5); anything else as it is."""
    return json_default(value) if callable(getattr(value, "item", None)) else value


def _words(command: object) -> list[str]:
    """A custom build_command's answer as argv: a string would run its first letter."""
    words = command if isinstance(command, list | tuple) else ()
    if not words or not all(isinstance(word, str | os.PathLike) for word in words):
        raise WrapperError(f"build_command returned {command!r}: expected a list of words")
    return [os.fspath(word) for word in words]


def handed_to_nothing(program: str, exit_code: int | None, last_words: str) -> bool:
    """Whether PROGRAM, a launcher that hands over to another program (`env prog`, `nice
    prog`, `timeout 9 prog`) or an interpreter given a script (`python3 train.py`, `bash
    train.sh`), ended saying that this other program or script does not exist or cannot
    run, as its LAST_WORDS (its last error line) and EXIT_CODE (127/126 as the shell's;
    Python's 2) tell: the call's fault, not the configuration's, as a missing program is."""
    name = re.escape(os.path.basename(program))
    said = rf"(\S*/)?{name}: "
    if exit_code in (126, 127):
        words = r".*(No such file or directory|Permission denied)"
        return bool(re.fullmatch(said + words, last_words))
    python = os.path.basename(program).startswith("python")
    missing = r"can't open file .*\[Errno \d+\] (No such file or directory|Permission denied)"
    return exit_code == 2 and python and bool(re.fullmatch(said + missing, last_words))


def absence(interpreter: str) -> str:
    """Why a missing INTERPRETER (missing_interpreter's answer) is missing, in words."""
    return "which does not exist" if interpreter.startswith("/") else "which is not in PATH"


def missing_interpreter(path: Path, search_path: str | None = None) -> str | None:
    """The interpreter the `#!` line of the file at PATH names when it is missing: an
    absolute path that does not exist (exec then fails as if the file itself were missing)
    or, given SEARCH_PATH, a program `/usr/bin/env` finds nowhere in it (env exits 127
    then); else None. The line is read as Linux reads it: the interpreter, then the rest as
    one argument (`env python3 -u` looks for a program "python3 -u"; a CRLF line's "\\r"
    is part of the name)."""
    try:
        with open(path, "rb") as script:
            first = script.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    # the interpreter up to a space or tab, then one argument, as Linux splits the line
    parts = re.split(rb"[ \t]+", first[2:].rstrip(b"\n").strip(b" \t"), maxsplit=1)
    interpreter = os.fsdecode(parts[0])
    argument = os.fsdecode(parts[1]) if len(parts) > 1 else ""
    if interpreter.startswith("/") and not os.path.exists(interpreter):
        return interpreter
    if search_path is None or os.path.basename(interpreter) != "env" or not argument:
        return None
    if argument.startswith("-S"):  # env -S splits the rest into words itself
        words = [w for w in argument[2:].split() if not w.startswith("-") and "=" not in w]
        program = words[0] if words else None
    else:
        program = None if argument.startswith("-") else argument
    if program is not None and shutil.which(program, path=search_path) is None:
        return program
    return None


class Wrapper:
    """The generic wrapper; subclass it and override `build_command` and/or `read_result`.

    `MyWrapper.main()` then parses the command line (wrapper options, then SMAC's call) and does
    everything else: run directory, GPU slot, limits, signals, the one result line.
    """

    prog = "smac-bridge wrap"

    def __init__(self) -> None:
        self.options = argparse.Namespace()
        self.run_dir = Path()
        self.environ: dict[str, str] = {}
        self.cwd = Path()
        self.outcome: Outcome | None = None
        self.started = threading.Event()
        self._stderr_path: Path | None = None
        self._supervisor: Supervisor | None = None
        self._patterns: tuple[re.Pattern[str] | None, list[re.Pattern[str]]] = (None, [])
        self._stop_requested = False
        self._done = False
        self._lease_fds: tuple[int, ...] = ()  # a GPU lease the script tree holds too
        self._aclib_call = False  # an AClib 2 caller reads the result as JSON
        self._own_process = False  # `run`: the process, its signals and stdout are the trial's
        self._in_hook = False  # a custom hook runs: a stop signal ends it
        self._deadline: float | None = None  # monotonic: cutoff and grace from the call's start

    # ------------------------------------------------------------------ the two hooks

    def build_command(self, call: TargetCall) -> list[str]:
        """The script's argv for this call: `--cmd` words, then `--name value` per parameter
        (`--name=value` for a value argparse would read as an option; `--name` alone, or
        nothing, for a --switch)."""
        return script_command(self.options, call, self.run_dir)

    def read_result(self, run: FinishedRun) -> RunResult | dict[str, object] | None:
        """Override to read the result yourself. None keeps `run.default`; a dict may set
        status, quality and runtime (what it leaves out keeps the default's, but a quality
        alone makes the run SAT unless it was cut off), and every other key goes to the
        additional data."""
        return None

    # ------------------------------------------------------------------ driving

    @classmethod
    def main(cls, argv: Sequence[str] | None = None) -> NoReturn:
        """Entry point of a wrapper script: run with sys.argv and exit."""
        wrapper = cls.__new__(cls)
        Wrapper.__init__(wrapper)  # a subclass __init__ that forgets super().__init__() works
        cls.__init__(wrapper)
        if cls is not Wrapper:
            wrapper.prog = Path(sys.argv[0]).name
        sys.exit(wrapper.run(sys.argv[1:] if argv is None else argv))

    def run(self, argv: Sequence[str], caught: Sequence[int] = ()) -> int:
        """Run one trial as the `smac-bridge wrap` process: this process's environment and
        signals, the one result line on stdout; returns the process exit code (0). CAUGHT:
        stop signals that came before this process could run the trial, which stop it."""
        # SIGHUP too: a closed terminal or ssh session ends the trial as Ctrl-C does, unless
        # SMAC runs under nohup, which the wrapper inherits (its trials go on too)
        previous = {s: signal.signal(s, self._on_signal) for s in stop_signals()}
        self._own_process = True
        stdout, stdout_fd = sys.stdout, _dup_or_none(1)
        if caught:  # read once this process's own handlers hold: none is missed
            self.request_stop()
        try:  # the handlers stay until the line is out: a late signal is ignored, not fatal
            try:
                result = self.execute(argv)
            except _HelpShown:
                return 0
            finally:  # a stop signal in a hook's clean-up may have left stdout on stderr
                signal.setitimer(signal.ITIMER_REAL, 0)
                sys.stdout = stdout
                if stdout_fd is not None:
                    os.dup2(stdout_fd, 1)
                    os.close(stdout_fd)
            # one line, whatever the script printed and stdout's encoding (an ASCII locale)
            if isinstance(sys.stdout, io.TextIOWrapper):
                sys.stdout.reconfigure(errors="backslashreplace")
            answer = format_json_result_line if self._aclib_call else format_result_line
            print(answer(result), flush=True)
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def execute(
        self,
        argv: Sequence[str],
        *,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        stderr_path: Path | None = None,
        raise_disk_errors: bool = False,
    ) -> RunResult:
        """Run one trial and return its result, leaving the process alone: no signal handler,
        nothing on stdout. ENVIRON and CWD are the trial's (default: this process's); what the
        wrapper would say on stderr, and `--echo`'s copy of the output, go to STDERR_PATH when
        given. Writes the run directory's command.json and result.json. `request_stop()`
        stops it from another thread: a worker runs the trial in-process this way, with
        RAISE_DISK_ERRORS: a full or read-only disk's OSError (`DISK_ERRORS`) is raised, not
        answered as CRASHED."""
        self._stderr_path = stderr_path
        started = time.monotonic()
        record: dict[str, object] = {}
        try:
            self.environ = dict(os.environ if environ is None else environ)
            self.cwd = Path(os.path.realpath(cwd) if cwd is not None else os.getcwd())
            result = self._run(argv, record)
        except _HelpShown:
            raise
        except _Interrupted as interrupted:
            result = self._failure("TIMEOUT", started, interrupted.reason, record)
        except WrapperError as error:
            # whole on stderr: the result line cannot hold commas or line breaks
            self._warn(f"{self.prog}: {error}")
            result = self._failure("CRASHED", started, str(error), record)
        except Exception as error:  # noqa: BLE001 - the one line must be printed anyway
            if getattr(error, "errno", None) in DISK_ERRORS:  # the disk's failure, no bug
                if raise_disk_errors:
                    raise  # the worker leaves the run unrecorded: no failure of its configuration
                self._warn(f"{self.prog}: {error}")
                result = self._failure("CRASHED", started, str(error), record)
            else:
                import traceback  # a custom wrapper's bug: its author needs the file and line

                trace = traceback.format_exc().rstrip()
                self._warn(f"{self.prog}: wrapper error:\n{trace}")
                result = self._failure("CRASHED", started, f"wrapper error: {error!r}", record)
        except (SystemExit, KeyboardInterrupt) as error:  # a custom hook's sys.exit(), argparse
            self._warn(f"{self.prog}: wrapper error: a hook raised {error!r}")
            result = self._failure("CRASHED", started, f"wrapper error: {error!r}", record)
        finally:
            self._done = True
            self.started.set()  # nobody waits for a script that never started
        if self.run_dir != Path() and record:
            try:
                write_json_atomic(RunDir(self.run_dir).result, record)
            except OSError as error:
                if raise_disk_errors and error.errno in DISK_ERRORS:
                    raise  # the worker's record would lack what the wrapper found
                self._warn(f"{self.prog}: cannot write result.json: {error}")
        return result

    def request_stop(self) -> None:
        """Stop the trial as SIGTERM would: the script's tree is stopped, the result is
        TIMEOUT "interrupted". Only sets state (the supervisor's, once there is one), so that
        a signal handler may call it; `_supervise` looks at the flag after it set
        `_supervisor`, so one of the two always sees the other."""
        self._stop_requested = True
        supervisor = self._supervisor
        if supervisor is not None:
            supervisor.request_stop("interrupt")

    @property
    def supervisor(self) -> Supervisor | None:
        """The script's supervisor once the wrapper made it: its pid and marker name the
        script's tree (set before `started`)."""
        return self._supervisor

    def _warn(self, text: str) -> None:
        """A line for the wrapper's stderr (STDERR_PATH of `execute`)."""
        try:
            if self._stderr_path is None:
                print(text, file=sys.stderr)
                return
            with open(self._stderr_path, "a", encoding="utf-8") as stderr:
                stderr.write(text + "\n")
        except (OSError, ValueError):  # a full disk, a closed stderr: the result line still goes
            pass

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._done:
            return
        self.request_stop()
        # a custom hook: end it now (also where it handles an error of its own: a retry loop
        # waits in its except block); no script yet: end now, but never inside the handling
        # of an error (the exception would escape it, and no result line come out); the flag
        # stops a script yet to come
        if self._in_hook or (self._supervisor is None and sys.exc_info()[0] is None):
            raise _Interrupted

    def _failure(
        self, status: Status, started: float, reason: str, record: dict[str, object]
    ) -> RunResult:
        quality = getattr(self.options, "failure_quality", CRASHED_QUALITY)
        seed = record.get("seed", -1)
        runtime = round(time.monotonic() - started, 4)
        additional = format_additional({"reason": reason})
        result = RunResult(status, runtime, 0, quality, int(str(seed)), additional)
        record.update(
            status=status,
            quality=quality,
            runtime=result.runtime,
            runlength=0,
            additional=result.additional,
            reason=reason,
            stopped_by_user=False,
        )
        return result

    def _run(self, argv: Sequence[str], record: dict[str, object]) -> RunResult:
        try:
            self.options, call_argv = parse_options(argv, self.prog)
        except SystemExit:  # argparse printed --help
            raise _HelpShown from None
        except WrapperError:
            if (seed := _seed_after_bad_options(argv)) is not None:
                record["seed"] = seed
            self._aclib_call = "--config" in argv  # where the call begins is unknown
            raise
        self._aclib_call = is_aclib_call(call_argv)
        try:
            call = parse_call(call_argv)
        except ProtocolError as error:
            seed = _seed_of_a_bad_call(call_argv)
            if seed is not None:  # SMAC checks that the result line echoes its seed
                record["seed"] = seed
            raise WrapperError(f"unparseable call: {error}") from None
        record["seed"] = call.seed
        if call.cutoff is not None and call.cutoff < _NO_DEADLINE:
            self._deadline = time.monotonic() + call.cutoff + float(self.options.grace)
        if misnamed := self._misnamed_hook():
            self._warn(f"{self.prog}: warning: {misnamed}")
        if call.cutoff is not None and call.cutoff <= 0:
            reason = f"cutoff {call.cutoff:g} s: not run (SMAC 2.10 records it as TIMEOUT)"
            return self._failure("TIMEOUT", time.monotonic(), reason, record)
        try:
            metric = re.compile(self.options.metric) if self.options.metric else None
            self._patterns = (metric, [re.compile(p) for p in self.options.abort_pattern])
        except re.error as error:
            raise WrapperError(f"bad regular expression {error.pattern!r}: {error}") from None
        execution_id = execution_uuid(self.environ) or os.urandom(16).hex()
        run_dir = self.environ.get(RUN_DIR_ENV) or os.path.join(self.options.runs_dir, execution_id)
        try:
            self.run_dir = Path(os.path.normpath(self.cwd / run_dir))
            RunDir(self.run_dir).artifacts.mkdir(parents=True, exist_ok=True)
            RunDir(self.run_dir).result.unlink(missing_ok=True)
        except OSError as error:
            self.run_dir = Path()
            raise WrapperError(f"run directory {run_dir} is not writable: {error}") from None
        with self._in_custom_hook("build_command"):
            command = _words(self.build_command(call))
        record["command"] = command
        with ExitStack() as stack:
            waited = time.monotonic()
            gpu = self._gpu(stack, call.cutoff)
            left = call.cutoff  # the wait for a GPU slot is part of the call's cutoff
            if call.cutoff is not None:
                waited = time.monotonic() - waited
                if waited >= call.cutoff:  # a hung nvidia-smi: no script to start and kill
                    reason = f"finding a GPU took the whole cutoff ({call.cutoff:g} s): not run"
                    return self._failure("TIMEOUT", time.monotonic() - waited, reason, record)
                left = call.cutoff - waited
            return self._supervise(call, left, command, gpu, execution_id, record)

    def _misnamed_hook(self) -> str | None:
        """`misnamed_hook` of this wrapper's class, when it is a subclass."""
        mro = type(self).__mro__
        own = [vars(klass) for klass in mro[: mro.index(Wrapper)]]
        defined = [name for names in own for name in names]  # classmethods too
        overridden = [h for h in _HOOKS if getattr(type(self), h) is not getattr(Wrapper, h)]
        return misnamed_hook(type(self).__name__, defined, overridden)

    def _gpu(self, stack: ExitStack, cutoff: float | None) -> str:
        """The GPU ids for CUDA_VISIBLE_DEVICES ("" = CPU): the worker's, or a leased slot,
        waited for no longer than the trial's cutoff."""
        self._lease_fds = ()
        if GPU_ENV in self.environ:
            return self.environ[GPU_ENV]
        if self.options.gpus.strip() == "none":  # nothing to lease: no GPU module to import
            return ""
        from smac_bridge.errors import InputError  # only a caller that assigned no GPU
        from smac_bridge.gpus import lease_gpu, parse_gpu_choice

        try:
            gpus = parse_gpu_choice(self.options.gpus)
        except InputError as error:
            raise WrapperError(str(error)) from None
        try:
            lease = stack.enter_context(lease_gpu(gpus, self.options.slots_per_gpu, timeout=cutoff))
        except InputError as error:
            raise WrapperError(str(error)) from None
        except TimeoutError:
            raise WrapperError(
                f"no free GPU slot within the cutoff ({cutoff:g} s): GPUs {' '.join(gpus)} "
                f"x {self.options.slots_per_gpu} slots are all leased"
            ) from None
        except OSError as error:  # a lock folder that takes no files: said, not a traceback
            where = error.filename or "the GPU lock folder"
            raise WrapperError(f"cannot lease a GPU slot: {where}: {error.strerror}") from None
        if lease.fd is not None:  # the script's tree holds the slot until it is gone
            self._lease_fds = (lease.fd,)
        return lease.gpu or ""

    def _missing_interpreter(self, program: str) -> str | None:
        """Why PROGRAM, a path (a bare name was looked up in PATH, not here), cannot start
        for its #! line; None when that is not the reason."""
        if "/" not in program:
            return None
        missing = missing_interpreter(self.cwd / program, self.environ.get("PATH", os.defpath))
        return None if missing is None else f"its #! line names {missing!r}, {absence(missing)}"

    def _supervise(
        self,
        call: TargetCall,
        cutoff: float | None,
        command: list[str],
        gpu: str,
        execution_id: str,
        record: dict[str, object],
    ) -> RunResult:
        """Run COMMAND under the supervisor for CUTOFF seconds (the CALL's, less the wait
        for a GPU slot); the hooks see the CALL as SMAC made it."""
        options, run_dir, files = self.options, self.run_dir, RunDir(self.run_dir)
        log_path = files.script_log
        env_added, header_size = self._start_run_files(files, call, command, gpu)
        cpu_limit = cutoff if options.cpu_cutoff else None
        limits = Limits(cutoff, cpu_limit, options.memory_limit, options.grace)
        supervisor = Supervisor(
            command,
            log_path=log_path,
            cwd=self.cwd,
            env={**self.environ, **env_added},
            limits=limits,
            echo_stderr=options.echo,
            echo_path=self._stderr_path,
            stdout_copy=files.script_stdout,
            output_limit=options.log_limit,
            stop_file=files.stop_request,
            marker=execution_id,
            keep_fds=self._lease_fds,
            snapshot_file=files.result,
        )
        self._supervisor = supervisor
        if self._stop_requested:  # before the script started: as a signal would (see run)
            raise _Interrupted
        try:
            supervisor.start()
        except OSError as error:
            if error.filename != command[0]:  # not the command's (the log's, ...)
                raise
            # a path whose #! interpreter is missing: the kernel says ENOENT of the script
            why = self._missing_interpreter(command[0]) or str(error.strerror)
            raise WrapperError(f"cannot start {command[0]!r}: {why}") from None
        finally:
            self.started.set()
        outcome = self.outcome = supervisor.wait()
        if outcome.exit_code == 127 and (missing := self._missing_interpreter(command[0])):
            # `#!/usr/bin/env prog` without prog: env ran, and said so, as a failed run
            raise WrapperError(f"cannot start {command[0]!r}: {missing}")
        default, extra, reason, by_user = self._decide(
            call, outcome, log_path, header_size, gpu, command
        )
        run = FinishedRun(
            call, outcome, run_dir, log_path, outcome.exit_code, default, extra, header_size
        )
        record.update(  # what the supervisor saw, also when the hook fails
            exit_code=outcome.exit_code,
            wall_time=outcome.wall_time,
            cpu_time=outcome.cpu_time,
            peak_rss_mb=outcome.peak_rss_mb,
        )
        with self._in_custom_hook("read_result"):
            custom = self.read_result(run)
        result = self._apply(run, custom)
        if result.status in ("UNSAT", "CRASHED") and outcome.stopped_by is None:
            _raise_if_lost_to_the_disk(outcome, reason, log_path, self.cwd)
        if custom is not None:  # the custom result's reason, or the default's it kept
            reason = str(parse_additional(result.additional).get("reason", ""))
            if not reason and result.status != "SAT":
                reason = f"read_result reported {result.status}"
        record.update(
            status=result.status,
            quality=result.quality,
            runtime=result.runtime,
            runlength=result.runlength,
            seed=result.seed,
            additional=result.additional,
            extra=extra,
            gpu=gpu or None,
            reason=reason,
            stopped_by_user=by_user,
        )
        return result

    def _start_run_files(
        self, files: RunDir, call: TargetCall, command: list[str], gpu: str
    ) -> tuple[dict[str, str], int]:
        """Write the run's command.json and begin its log with a header line; the variables
        the wrapper adds to the script's environment and the header's length in bytes (the
        log the hooks read starts after it)."""
        env_added = {
            RUN_DIR_ENV: str(files.path),
            ARTIFACTS_ENV: str(files.artifacts),
            SEED_ENV: str(call.seed),
            GRACE_ENV: repr(float(self.options.grace)),
            "CUDA_VISIBLE_DEVICES": gpu,
        }
        # What the launch set for this trial (its budget, the checkpoint it continues from)
        # belongs to the command too: command.json reruns the trial as it ran.
        launch_set = {name: self.environ[name] for name in LAUNCH_SET if name in self.environ}
        write_json_atomic(
            files.command,
            {
                "argv": command,
                "cwd": str(self.cwd),
                "env_added": {**launch_set, **env_added},
                "grace": self.options.grace,
            },
        )
        where = f"GPU {gpu}" if gpu else "the CPU (no GPU assigned)"
        header = f"smac-bridge wrap: running on {where}: {command}\n".encode()
        with open(files.script_log, "wb") as log:
            log.write(header)
        files.script_stdout.write_bytes(b"")  # a run again (a resume) starts it afresh too
        return env_added, len(header)

    @contextlib.contextmanager
    def _in_custom_hook(self, hook: str) -> Iterator[None]:
        """Run a custom wrapper's HOOK: what it prints goes to stderr, in its own process also
        what its child processes print (stdout carries the one result line, and a result line
        a Java-era wrapper or its helper still prints made two, on which SMAC aborts). In its
        own process a stop signal ends the hook, and so does the call's cutoff and grace
        (at least the grace), where the hook is in Python code (not blocked in os.system)."""
        if getattr(type(self), hook) is getattr(Wrapper, hook):
            yield
            return
        with ExitStack() as stack:
            if self._own_process:
                stack.enter_context(_stdout_fd_to_stderr())
                if self._deadline is not None:
                    grace = float(self.options.grace)
                    seconds = max(self._deadline - time.monotonic(), grace, _LEAST_HOOK_TIME)
                    left = f"{hook} took longer than the cutoff and grace left it"
                    stack.enter_context(_time_limit(seconds, left, lambda: self._in_hook))
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
            self._in_hook = True
            try:
                yield
            finally:  # first: a stop signal in the clean-up below is no longer the hook's
                self._in_hook = False

    def _apply(self, run: FinishedRun, custom: RunResult | dict[str, object] | None) -> RunResult:
        """Merge a custom read_result answer into the default decision: what a dict leaves
        out keeps the default's value, except that a quality alone (one the wrapper could not
        find) makes the run SAT, or keeps it TIMEOUT when it was cut off."""
        default = run.default
        if custom is None:
            return default
        if isinstance(custom, RunResult):
            try:  # a metric's np.float32 as Python's number, which json can write
                custom = replace(
                    custom,
                    runtime=_python_scalar(custom.runtime),
                    runlength=_python_scalar(custom.runlength),
                    quality=_python_scalar(custom.quality),
                    seed=_python_scalar(custom.seed),
                )
                format_result_line(custom)
            except ValueError as error:  # the wrapper's own fault: the one line says CRASHED
                message = f"read_result returned a result SMAC cannot read: {error}"
                raise WrapperError(message) from None
            values = parse_additional(custom.additional)  # complete: the record's values too
            run.extra.clear()
            run.extra.update((k, v) for k, v in values.items() if k not in _WRAPPER_KEYS)
            return custom
        if not isinstance(custom, Mapping):  # "SAT" failed on .items() with a traceback
            raise WrapperError(
                f"read_result returned {custom!r}: expected a RunResult, a dict or None"
            )
        decided = ("status", "quality", "runtime")  # the rest is additional data
        extra = plain_data({k: v for k, v in custom.items() if k not in decided})
        word = str(custom.get("status", "TIMEOUT" if default.status == "TIMEOUT" else "SAT"))
        word = word.strip().upper() if "status" in custom or "quality" in custom else ""
        if word and word not in STATUS_WORDS:  # the words a result line may use, MEMOUT too
            raise WrapperError(f"read_result returned status {word!r}")
        status = STATUS_WORDS[word] if word else default.status
        if word in STATUS_NOTES:  # stored as UNSAT, the reason says what it was
            extra.setdefault("reason", f"read_result reported {word} ({STATUS_NOTES[word]})")
            if self.options.runtime_objective:  # UNSAT would count as solved there
                status = "CRASHED"
        if "quality" in custom:
            quality = to_float(str(custom["quality"]))
        else:
            quality = default.quality if status == default.status else math.nan
        if quality is None or not math.isfinite(quality):
            if status == "SAT":
                status = "UNSAT"
                if default.status != "UNSAT":  # else the default's reason says why
                    extra.setdefault("reason", "read_result gave no finite quality")
            quality = self.options.failure_quality
        if status not in ("SAT", default.status):  # a failure the wrapper did not see
            extra.setdefault("reason", f"read_result reported {status}")
        outdated = []  # what the default said of its own quality, which this one replaces
        if "quality" in custom:
            outdated.append(NEGATED_METRIC)  # --maximize negated the metric, not this quality
        if status == "SAT":
            outdated.append("partial")  # a finished run's quality is no partial one
        for key in outdated:
            run.extra.pop(key, None)
        run.extra.update(extra)
        runtime = run.default.runtime
        if custom.get("runtime") is not None:
            given = to_float(str(custom["runtime"]))
            if given is None or not math.isfinite(given) or given < 0:
                raise WrapperError(f"read_result returned runtime {custom['runtime']!r}")
            runtime = given
        data = parse_additional(default.additional)
        if status != default.status:  # its reason was the default's
            data.pop("reason", None)
        for key in outdated:
            data.pop(key, None)
        data.update(extra)
        length = default.runlength if status == default.status else 0
        return RunResult(status, runtime, length, quality, run.call.seed, format_additional(data))

    # ------------------------------------------------------------------ the decision

    def _script_report(
        self, scan: Scan, run_dir: Path, extra: dict[str, object]
    ) -> tuple[str, float | None, str, float] | str | None:
        """The script's own report: (status, quality, the status word as its line wrote it:
        MEMOUT where the status is UNSAT, the run length its line gave: 0 without one), an
        error text, or None if it made none.

        A result line it printed wins over result.json, except that result.json (written by
        report() together with its line) supplies the exact quality and typed extras.
        """
        snapshot = self._supervisor.snapshot if self._supervisor is not None else None
        saved = read_report(run_dir, snapshot)
        status: str | None = None
        quality: float | None = None
        word = ""
        runlength: float = 0
        if scan.last_result is not None:
            try:
                line = parse_result_line(scan.last_result)
            except ProtocolError as error:
                return f"invalid result line: {error}"
            assert line is not None
            status, quality, word = line.status, line.quality, line.word
            runlength = line.runlength
            extra.update(parse_additional(line.additional))
        if saved is not None and (status is None or same_report(saved, status, quality)):
            status = str(saved["status"])
            quality = to_float(str(saved.get("quality")))
            saved_extra = saved.get("extra")
            if isinstance(saved_extra, dict):
                # the line held the same values, with keys and text made safe for its format
                # ("val acc" as val_acc): the report's own are the ones to keep
                reason = extra.get("reason")
                extra.clear()
                extra.update(saved_extra)
                if reason and "reason" not in extra:  # report() names a NaN on the line only
                    extra["reason"] = reason
            if saved.get("partial"):
                extra["partial"] = 1
        if scan.result_lines > 1:
            extra["result_lines"] = scan.result_lines
        return None if status is None else (status, quality, word or status, runlength)

    def _final_before_limit(self, status: str | None, quality: float | None) -> bool:
        """Whether the report in effect, STATUS and QUALITY, is a final one the script made
        before a time limit stopped it (then hung at its exit, say), not one made on SIGTERM."""
        before = self._supervisor.before_limit if self._supervisor is not None else None
        earlier = read_report(self.run_dir, before) if before is not None else None
        return earlier is not None and status is not None and same_report(earlier, status, quality)

    def _metric_text(self, scan: Scan) -> str | None:
        """What --metric captured, or else the word ending the last line of stdout."""
        if self.options.metric:
            return scan.metric
        if script_result_line(scan.last_line) is not None or near_result_line(scan.last_line):
            return None  # its last word is the seed, not a quality
        words = scan.last_line.split()
        return words[-1] if words else None

    def _metric(self, scan: Scan) -> float | None:
        """The quality from --metric, or else from a number ending the last output line."""
        value = to_float(self._metric_text(scan))
        if value is None or not (self.options.maximize or self.options.maximize_from is not None):
            return value
        if self.options.maximize_from is not None:
            return self.options.maximize_from - value
        return -value

    def _decide(
        self,
        call: TargetCall,
        outcome: Outcome,
        log_path: Path,
        offset: int,
        gpu: str,
        command: Sequence[str],
    ) -> tuple[RunResult, dict[str, object], str, bool]:
        """Gather what the run left (its output, its report, the supervisor's outcome) and
        let `decide` say what it means; WrapperError when COMMAND's first program ran but
        what it was to hand over to did not (handed_to_nothing)."""
        options = self.options
        metric, aborts = self._patterns
        if gpu:
            aborts = [*aborts, re.compile(CUDA_ABORT_PATTERN)]
        if not log_path.exists():  # no line to blame the script for: its output is gone
            raise WrapperError(
                f"the run folder {self.run_dir} or its log was removed while the script ran:"
                " its output and any result in it were lost"
            )
        scan = scan_log(log_path, offset, RunDir(self.run_dir).script_stdout, metric, aborts)
        extra: dict[str, object] = {}
        report = self._script_report(scan, self.run_dir, extra)
        status, quality, word, runlength = report if isinstance(report, tuple) else (None,) * 4
        note = stop_note(RunDir(self.run_dir)) if outcome.stopped_by == "stop_request" else ""
        facts = RunFacts(
            stopped_by="interrupt" if note == INTERRUPT_NOTE else outcome.stopped_by,
            exit_code=outcome.exit_code,
            stop_note=note,
            report_status=status,
            report_quality=quality,
            report_word=word,
            report_error=report if isinstance(report, str) else None,
            report_reason=str(extra["reason"]) if extra.get("reason") else None,
            report_partial=bool(extra.get("partial")),
            final_before_limit=self._final_before_limit(status, quality),
            metric=self._metric(scan),
            metric_option=options.metric,
            metric_text=self._metric_text(scan),
            near_result_line=scan.last_line.strip()
            if not options.metric and near_result_line(scan.last_line)
            else None,
            last_words=scan.last_error or scan.last_words.strip(),
            result_on_stderr=scan.result_in_output and scan.last_result is None,
            abort_line=scan.abort_line,
            failure_quality=options.failure_quality,
            memory_limit=options.memory_limit,
            runtime_objective=options.runtime_objective,
        )
        if outcome.stopped_by is None and (
            handed_to_nothing(command[0], outcome.exit_code, facts.last_words)
        ):
            raise WrapperError(f"cannot start {shlex.join(command[:2])!r}: {facts.last_words}")
        decision = decide(facts)
        if decision.status == "SAT" and outcome.stopped_by is None:
            extra.pop("partial", None)  # it ran to its end: its last report is its result
        if decision.status == "TIMEOUT" and decision.quality != quality:
            extra.pop("partial", None)  # its partial report was no number: none is kept
        maximized = options.maximize and options.maximize_from is None
        if maximized and facts.metric is not None and decision.quality == facts.metric:
            extra[NEGATED_METRIC] = 1  # the views say that its quality is minus the metric
        data = dict(extra)
        data.update(
            reason=decision.reason or None,
            stopped_by_user=1 if decision.by_user else None,
            exit_code=outcome.exit_code if outcome.exit_code not in (0, None) else None,
            cpu_time=round(outcome.cpu_time, 3),
            peak_rss_mb=round(outcome.peak_rss_mb, 1),
        )
        result = RunResult(
            decision.status,
            round(outcome.wall_time, 4),
            runlength if runlength is not None and decision.status == status else 0,
            decision.quality,
            call.seed,
            format_additional(data),
        )
        return result, extra, decision.reason, decision.by_user


_LEAST_HOOK_TIME = 0.1
"""Seconds a custom hook gets at least, after a run that used its cutoff under `--grace 0`
(a timer of 0 s is none)."""

_NO_DEADLINE = 1e8
"""Seconds of cutoff from which the wrapper sets no time limit on a hook (SMAC's "none" is
1.797E308, more than a timer takes)."""


def misnamed_hook(owner: str, defined: Iterable[str], overridden: Iterable[str]) -> str | None:
    """What to tell the author of OWNER, a Wrapper subclass whose DEFINED methods include one
    named like a hook it does not override (`read_results`, `build_cmd`): the typo passes
    unseen, the default hook running instead. A warning: a helper may be named so too."""
    import difflib

    for name in sorted({n for n in defined if not n.startswith("_")} - set(_HOOKS)):
        close = difflib.get_close_matches(name, _HOOKS, n=1, cutoff=0.8)
        if close and close[0] not in overridden:
            return (
                f"{owner} defines {name} but Wrapper has no such hook: a misspelt"
                f" {close[0]}? (the hooks are {' and '.join(_HOOKS)})"
            )
    return None


def _dup_or_none(fd: int) -> int | None:
    try:
        return os.dup(fd)
    except OSError:  # closed
        return None


@contextlib.contextmanager
def _stdout_fd_to_stderr() -> Iterator[None]:
    """File descriptor 1 is stderr's for a while: child processes print there too."""
    sys.stdout.flush()
    saved = _dup_or_none(1)
    if saved is None:  # no stdout to keep apart
        yield
        return
    try:
        os.dup2(2, 1)
    except OSError:  # no stderr to point at
        os.close(saved)
        yield
        return
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _time_limit(seconds: float, reason: str, running: Callable[[], bool]) -> Iterator[None]:
    """Raise _Interrupted(REASON) in the main thread once SECONDS have passed, while the
    hook is RUNNING (a late timer finds the wrapper past it)."""

    def overtime(signum: int, frame: object) -> None:
        if running():
            raise _Interrupted(f"{reason} ({seconds:.3g} s)")

    previous = signal.signal(signal.SIGALRM, overtime)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raise_if_lost_to_the_disk(outcome: Outcome, reason: str, log: Path, cwd: Path) -> None:
    """A failed run whose output a full disk kept out of its LOG (its result line, or the
    error that says why it failed, may be among it), or whose script failed on a full or
    read-only disk (REASON: its last words) that is the run folder's or the script's working
    folder's, failed for its disk, not for its configuration: the OSError makes a worker
    leave it unrecorded, for a resume to run once there is room, where `smac-bridge wrap`
    under Java SMAC answers CRASHED. The words alone are not enough: a full /dev/shm of a
    data loader's, a read-only dataset path, may be the configuration's own doing."""
    if outcome.output_lost:
        lost = f"{outcome.output_lost} bytes of the script's output, its result or its error"
        raise OSError(errno.ENOSPC, f"No space left on device ({lost}, were lost)", str(log))
    for number, text in DISK_ERRORS.items():
        if text in reason and _disk_takes_no_more(log.parent, cwd):
            message = f"the script failed on its disk: {reason[:300]}"
            raise OSError(number, message, str(log.parent))


def _disk_takes_no_more(run_folder: Path, cwd: Path) -> bool:
    """Whether the run folder's disk takes no more writes, or the script's working folder's is
    full: room comes back, and a resume runs the run again. A read-only working folder (a
    container's code) stays so: a script that writes there fails on every configuration."""
    if disk_trouble(run_folder) is not None:
        return True
    trouble = disk_trouble(cwd)
    return trouble is not None and not trouble.startswith("Read-only")


def _seed_of_a_bad_call(argv: Sequence[str]) -> int | None:
    """The seed of a call that does not parse, where it can still be read: the fifth word of
    a classic call, or AClib's `--seed N`."""
    words = list(argv)
    if words and words[0].startswith("--"):
        text = words[words.index("--seed") + 1] if "--seed" in words[:-1] else ""
    else:
        text = words[4] if len(words) > 4 else ""
    return _long_or_none(text)


def _long_or_none(text: str) -> int | None:
    """TEXT as the seed a result line may echo (one that Java's Long.valueOf reads), else None."""
    try:
        return parse_long(text, "seed")
    except ProtocolError:
        return None


def _seed_after_bad_options(argv: Sequence[str]) -> int | None:
    """The seed of a call whose wrapper options do not parse, so its call cannot be cut
    from them: that of the first words that read as a classic call (instance, info, cutoff,
    cutoff length, seed, then parameters)."""
    words = list(argv)
    for i in range(len(words) - 4):
        cutoff, length, seed = words[i + 2 : i + 5]
        after = words[i + 5 : i + 6]  # a parameter's -name, not the seed of a later match
        if after and (not after[0].startswith("-") or re.fullmatch(r"-?\d+", after[0])):
            continue
        if re.fullmatch(r"-?\d+", seed) and re.fullmatch(r"-?\d+", length):
            try:
                float(cutoff)
            except ValueError:
                continue
            return _long_or_none(seed)
    return None


def main(argv: list[str], caught: Sequence[int] = ()) -> int:
    """`smac-bridge wrap ARGS`: called by the CLI before click is imported; CAUGHT holds the
    stop signals that came before the wrapper could handle them (they stop the trial)."""
    return Wrapper().run(argv, caught)
