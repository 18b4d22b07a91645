"""`smac-bridge wrap` and the `Wrapper` base class: one SMAC trial of a training script.

SMAC's classic call comes in (`instance info cutoff length seed -name value ...`), the script
runs with `--name value` under the supervisor (cutoff, memory, whole-tree kill, GPU slot), and
exactly one result line goes out on stdout, whatever happened: SMAC reads nothing else.
Kept light (stdlib, psutil, the package's light modules): it runs once per trial.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import json
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, cast

from smac_bridge.layout import (
    RunDir,
    disk_trouble,
    json_default,
    plain_data,
    read_json_object,
    stop_note,
    write_json_atomic,
)
from smac_bridge.protocol import (
    ACLIB_OPTIONS,
    CRASHED_QUALITY,
    NEGATED_METRIC,
    STATUS_NOTES,
    STATUS_WORDS,
    STATUSES,
    ProtocolError,
    RunResult,
    Status,
    TargetCall,
    execution_uuid,
    format_additional,
    format_json_result_line,
    format_result_line,
    is_aclib_call,
    parse_additional,
    parse_call,
    parse_long,
    parse_result_line,
    script_result_line,
    split_algo,
    without_terminal_codes,
)
from smac_bridge.supervisor import Limits, Outcome, Supervisor

_WRAPPER_KEYS = ("reason", "stopped_by_user", "exit_code", "cpu_time", "peak_rss_mb")
"""The additional data the wrapper adds to what a run reported (`Wrapper._decide`)."""
CUDA_ABORT_PATTERN = r"CUDA driver version is insufficient|no CUDA-capable device is detected"
_ERROR_NAME = re.compile(r"[\w.]{1,200}")
_ERROR_ENDINGS = ("Error", "Exception", "Interrupt", "Exit")
_ERROR_WORDS = tuple(ending.encode() for ending in _ERROR_ENDINGS)  # lines worth a look
_DASHES = "\0--"
_TEMPLATE = re.compile(r"\$(?:\$|\{([^{}]*)\})")
DEFAULT_GRACE = 5.0
"""Seconds from SIGTERM to SIGKILL when `--grace` does not say."""
DEFAULT_LOG_LIMIT = 256_000_000
"""Bytes a script's log (and its stdout's copy) may take: a quarter of it, the end that is
kept, holds much more than the _SCAN_TAIL that the result is read from."""
_SCAN_CHUNK = 1 << 16  # bytes read at a time from the script's output
_LINE_KEEP = 1 << 16  # bytes kept of each end of a longer output line
_SCAN_TAIL = 16 << 20  # bytes read of the output's end: a flood of gigabytes is not read whole


class WrapperError(Exception):
    """The wrapper cannot do its job (bad call or options, unwritable run dir): CRASHED."""


class _Interrupted(Exception):
    """SIGTERM/SIGINT/SIGHUP before the script started."""


class _HelpShown(Exception):
    """`--help` was printed: the one case where the wrapper answers with no result line."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting: a usage error must still print a result line."""

    def error(self, message: str) -> NoReturn:
        raise WrapperError(f"wrapper options: {message}")


LAUNCH_VARIABLES = (
    "SMAC_BRIDGE_BUDGET",
    "SMAC_BRIDGE_BUDGET_FLAG",
    "SMAC_BRIDGE_RESUME_FROM",
    "SMAC_BRIDGE_RESUME_RUN",
)
"""What a launch's worker sets for one trial, which the script sees beside the wrapper's own."""


def _finite(text: str) -> float:
    """A finite number: a failure quality of NaN or inf is no quality SMAC can be told."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _seconds(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _log_limit(text: str) -> int | None:
    """A log's size limit in MB, as bytes; 0 for none."""
    value = _finite(text)
    if value == 0:
        return None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of MB >= 1 (or 0: none), got {text!r}")
    return int(value * 1_000_000)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _gpu_choice(text: str) -> str:
    """A `--gpus` value as written (auto is discovered when a trial runs), refused when it
    is no GPU id: `check` then says so, not every run under another SMAC or on Dask."""
    if text.strip() not in ("auto", "none"):
        from smac_bridge.errors import InputError
        from smac_bridge.gpus import parse_gpu_choice

        try:
            parse_gpu_choice(text)
        except InputError as error:
            said = error.message.removeprefix("--gpus").removeprefix(":").strip()
            raise argparse.ArgumentTypeError(said) from None  # argparse names the option
    return text


def _make_parser(prog: str) -> tuple[_Parser, dict[str, str]]:
    """The wrapper's options, and for each its kind (flag, value, optional) for argv splitting."""
    parser = _Parser(
        prog=prog,
        add_help=False,
        allow_abbrev=False,
        description="Run one SMAC trial of a training script and print one result line. "
        "Wrapper options come first; SMAC's call (instance info cutoff length seed "
        "-name value ...) follows.",
    )
    kinds: dict[str, str] = {}

    def add(name: str, kind: str, **kwargs: object) -> None:
        kinds[name] = kind
        parser.add_argument(name, **kwargs)  # type: ignore[arg-type]

    add("--help", "flag", action="help", help="show this help and exit")
    add("--cmd", "value", help='the training command, split like SMAC\'s algo ("..." groups)')
    add("--prefix", "value", default="--", help="put before each parameter name (default --)")
    add(
        "--no-flags",
        "flag",
        action="store_true",
        help="pass no --name value flags: only the ${name} templates in --cmd",
    )
    add(
        "--rename",
        "value",
        action="append",
        default=[],
        metavar="NAME=FLAG",
        help="pass parameter NAME as PREFIX+FLAG instead (a FLAG starting with - as it is,"
        " e.g. -b); repeatable",
    )
    add(
        "--switch",
        "value",
        action="append",
        default=[],
        metavar="NAME[=OFF]",
        help="pass parameter NAME as PREFIX+NAME alone when it is true (yes, on, 1), and"
        " nothing, or the word OFF (e.g. --no-augment), when it is false; repeatable",
    )
    add(
        "--pass-seed",
        "optional",
        nargs="?",
        const="--seed",
        metavar="FLAG",
        help="also pass SMAC's seed (as --seed, or --pass-seed=FLAG)",
    )
    add("--pass-instance", "value", metavar="FLAG", help="also pass the instance as FLAG")
    add("--pass-run-dir", "value", metavar="FLAG", help="also pass the run directory as FLAG")
    add(
        "--runs-dir",
        "value",
        default="smac-bridge-runs",
        help="where run directories go when SMAC_BRIDGE_RUN_DIR is unset",
    )
    add("--echo", "flag", action="store_true", help="copy the script's output to stderr")
    add(
        "--metric",
        "value",
        metavar="REGEX",
        help="quality = first group of the last match of REGEX in the output",
    )
    add(
        "--maximize",
        "flag",
        action="store_true",
        help="the metric is to be maximised: report -x (or C - x with --maximize-from C)",
    )
    add("--maximize-from", "value", type=_finite, metavar="C", help="maximise, reporting C - x")
    add(
        "--failure-quality",
        "value",
        type=_finite,
        default=CRASHED_QUALITY,
        help="quality of failed runs (default 1e9, SMAC 2.10's crashed quality)",
    )
    add(
        "--runtime-objective",
        "flag",
        action="store_true",
        help="tuning for runtime: a script that exits 0 succeeded (SAT, quality 0) and a"
        " failed one is CRASHED, which a runtime scenario charges as a timeout",
    )
    add(
        "--abort-pattern",
        "value",
        action="append",
        default=[],
        metavar="REGEX",
        help="output matching REGEX in a failed run means ABORT (every run would fail)",
    )
    add(
        "--grace",
        "value",
        type=_seconds,
        default=DEFAULT_GRACE,
        help="seconds from SIGTERM to SIGKILL",
    )
    add("--memory-limit", "value", type=_positive, metavar="MB", help="memory limit of the tree")
    add(
        "--log-limit",
        "value",
        type=_log_limit,
        default=DEFAULT_LOG_LIMIT,
        metavar="MB",
        help="past MB, the script's log keeps only its start and end (default 256; 0: none)",
    )
    add("--cpu-cutoff", "flag", action="store_true", help="enforce the cutoff as CPU time too")
    add(
        "--gpus",
        "value",
        type=_gpu_choice,
        default="auto",
        help="auto, none, or GPU ids such as 0,1",
    )
    add("--slots-per-gpu", "value", type=_at_least_one, default=1, help="runs sharing one GPU")
    return parser, kinds


def expand_templates(words: Sequence[str], params: dict[str, str]) -> tuple[list[str], set[str]]:
    """Put parameter values into `${name}` templates (`$$` is a `$`); returns the words and
    the names used. Each value lands inside its one argv element, never seen by a shell."""
    used: set[str] = set()
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        used.add(name)
        if name not in params:
            missing.append(name)
            return ""
        return params[name]

    expanded = []
    for word in words:
        text = _TEMPLATE.sub(value, word)
        alone = _TEMPLATE.fullmatch(word)  # `--x ${x}`: a word argparse reads by itself
        expanded.append(_plain_decimals(text) if alone and alone.group(1) else text)
    if missing:  # the words are spaces, not commas: the reason ends up in the result line
        names = " ".join(f"${{{name}}}" for name in dict.fromkeys(missing))
        raise WrapperError(
            f"--cmd template names parameters not in this call (inactive or unknown): {names}"
            f" - passed: {' '.join(params) or 'none'}"
        )
    return expanded, used


def _plain_decimals(value: str) -> str:
    """A negative number in E notation, as SMAC writes small ones (`-1.0E-4`), in plain
    decimals (`-0.00010`): the same number, which argparse reads as one in `--x ${x}`, where
    it takes `-1.0E-4` for an option (a flag's value is joined to it instead: `--x=-1.0E-4`).
    Only for a template that is a whole word: within one (`--x=${x}`, a file name) the value
    stays as SMAC wrote it; and only for an exponent a double can have: `-1e999999` is not
    made a million digits long, and `-1_000` stays as it is."""
    if not _NEGATIVE_E.fullmatch(value):
        return value
    from decimal import Decimal

    return format(Decimal(value), "f")


def split_argv(argv: Sequence[str], kinds: dict[str, str]) -> tuple[list[str], list[str]]:
    """Separate the wrapper's options (first) from SMAC's call; `--opt value` → `--opt=value`.

    Done by hand because parameter values such as `-1` or `--` confuse argparse, and a
    parameter may be called `-h`.
    """
    argv = list(argv)
    options: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        name, eq, _ = token.partition("=")
        if token == "--":
            i += 1
            break
        if not token.startswith("--") or name in ACLIB_OPTIONS:
            break
        kind = kinds.get(name)
        if kind is None:
            raise WrapperError(f"unknown wrapper option {name!r} (see --help)")
        if kind == "value" and not eq:
            if i + 1 >= len(argv):
                raise WrapperError(f"wrapper option {name} needs a value")
            token = f"{name}={argv[i + 1]}"
            i += 1
        if token.endswith("=--"):  # argparse drops a "--" value; parse_options restores it
            token = token[:-2] + _DASHES
        options.append(token)
        i += 1
    return options, argv[i:]


def parse_options(argv: Sequence[str], prog: str) -> tuple[argparse.Namespace, list[str]]:
    """The wrapper's options (which come first) and SMAC's call after them; WrapperError for
    bad options."""
    parser, kinds = _make_parser(prog)
    option_argv, call_argv = split_argv(argv, kinds)
    options = parser.parse_args(option_argv)
    for name, value in vars(options).items():
        if value == _DASHES:
            setattr(options, name, "--")
    return options, call_argv


WRAP_MODULES = ("smac_bridge.cli", "smac_bridge")
"""The modules `python -m MODULE wrap ...` runs the wrapper with."""


def is_wrap_call(words: Sequence[str], i: int) -> bool:
    """`smac-bridge wrap ...` or `python -m smac_bridge[.cli] wrap ...` at position I of an
    algo."""
    if i + 1 >= len(words) or words[i + 1] != "wrap":
        return False
    module = i > 0 and words[i - 1] == "-m" and words[i] in WRAP_MODULES
    return Path(words[i]).name == "smac-bridge" or module


def wrap_call_at(words: Sequence[str]) -> int | None:
    """Where an algo calls `smac-bridge wrap` (or `python -m smac_bridge[.cli] wrap`); None
    when it does not."""
    return next((i for i in range(len(words) - 1) if is_wrap_call(words, i)), None)


def algo_grace(algo: str) -> float:
    """The grace an algo's `smac-bridge wrap --grace` gives its scripts, else the default's
    (another wrapper, or options the wrapper refuses: each trial says so itself)."""
    options = _wrap_options(algo)
    return DEFAULT_GRACE if options is None else float(options.grace)


def algo_failure_quality(algo: str) -> float | None:
    """The `--failure-quality` of an algo's `smac-bridge wrap`; None where it gives none."""
    options = _wrap_options(algo)
    return None if options is None else options.failure_quality


def _wrap_options(algo: str) -> argparse.Namespace | None:
    """The options of an algo's `smac-bridge wrap`; None for another wrapper, or options the
    wrapper refuses (each trial says so itself)."""
    try:
        words = split_algo(algo)
        at = wrap_call_at(words)
        if at is None:
            return None
        with contextlib.redirect_stdout(io.StringIO()):  # `--help` prints, then exits
            options, _ = parse_options(words[at + 2 :], "smac-bridge wrap")
    except (ProtocolError, WrapperError, SystemExit):
        return None
    return options


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


@dataclass
class _Scan:
    """What the wrapper found in the script's output: the result lines and the last line of
    its stdout (SMAC reads stdout only: a warning on stderr is no result), the rest in both
    streams (a traceback goes to stderr, a logger's metric may too)."""

    result_lines: int = 0
    last_result: str | None = None
    last_line: str = ""  # of stdout
    last_words: str = ""  # the last line of either stream
    last_error: str = ""
    result_in_output: bool = False  # a result line in either stream (on stderr: not read)
    metric: str | None = None
    abort_line: str | None = None


def _scan_log(
    path: Path,
    offset: int,
    stdout: Path,
    metric: re.Pattern[str] | None,
    aborts: list[re.Pattern[str]],
) -> _Scan:
    """One pass over the output from OFFSET: last words, errors, metric, aborts; one over
    STDOUT alone: result lines and its last line. Each reads the last _SCAN_TAIL bytes at
    most (the end holds the result), so that a script that floods its output for the whole
    cutoff still gets its answer within about a second. Whole runs of lines are searched at
    once and only the lines that may hold what is sought are decoded: an error's name, the
    last line a --metric matches, the first an --abort-pattern matches."""
    scan = _Scan()
    last = b""
    metric_in = _Search(metric) if metric is not None else None
    aborts_in = [_Search(pattern) for pattern in aborts]
    for block in _blocks(path, offset):
        last = _last_line(block) or last
        if not scan.result_in_output:
            scan.result_in_output = any(
                script_result_line(raw.decode("utf-8", "replace")) is not None
                for _, raw in _lines_with(block, b"esult")
            )
        candidates = {found for word in _ERROR_WORDS for found in _lines_with(block, word)}
        for _, raw in sorted(candidates):  # in the order of the output
            line = raw.decode("utf-8", "replace")
            if _is_error_line(line):
                scan.last_error = line.strip()
        if metric_in is None and (scan.abort_line is not None or not aborts_in):
            continue
        text = without_terminal_codes(block.replace(b"\r", b"\n").decode("utf-8", "replace"))
        if metric_in is not None and metric_in.may_match(text):
            for line in reversed(text.split("\n")):  # the last match counts
                if line.strip() and (found := list(metric_in.pattern.finditer(line))):
                    scan.metric = found[-1].group(1) if found[-1].groups() else found[-1].group(0)
                    break
        if scan.abort_line is None and any(search.may_match(text) for search in aborts_in):
            lines = (line for line in text.split("\n") if line.strip())
            scan.abort_line = next(
                (line.strip() for line in lines if any(a.search(line) for a in aborts)), None
            )
    scan.last_words = last.decode("utf-8", "replace")
    last = b""
    for block in _blocks(stdout, 0):
        last = _last_line(block) or last
        for _, raw in _lines_with(block, b"esult"):
            line = raw.decode("utf-8", "replace")
            result = script_result_line(line)
            if result is not None:  # a logger's or a progress bar's text before it is no matter
                scan.result_lines += 1
                scan.last_result = result
    scan.last_line = without_terminal_codes(last.decode("utf-8", "replace"))
    return scan


_LINE_ALONE = ("\\A", "\\Z", "(?<", "(?=", "(?!", "(?-")
"""What makes a pattern see a line alone otherwise than inside a run of lines: the text's
ends, a lookaround (it would see the neighbouring line), a scoped flag that unsets `(?m)`."""


class _Search:
    """A pattern that is matched line by line, searched first in a run of lines as a whole:
    with `^` and `$` at each line's ends, a match of a line is a match there too, so a run
    where it finds none needs no look at its lines. A pattern with one of _LINE_ALONE is
    looked for in every line."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        alone = any(token in pattern.pattern for token in _LINE_ALONE)
        self._in_lines = None if alone else re.compile(pattern.pattern, pattern.flags | re.M)

    def may_match(self, text: str) -> bool:
        return self._in_lines is None or self._in_lines.search(text) is not None


def _blocks(path: Path, offset: int) -> Iterator[bytes]:
    r"""The output of PATH from OFFSET as runs of whole lines, read in chunks, in bounded
    memory whatever the output (none when it cannot be read); of a longer output its last
    _SCAN_TAIL bytes, from the first line that starts there (or, when those bytes are all
    one line, the last _LINE_KEEP bytes of that line).

    A line ends at `\n` or at `\r`, as for Java's readLine (so each update of a progress bar
    is a line of its own); a line longer than twice _LINE_KEEP comes back as its first and
    last _LINE_KEEP bytes (the start holds a result line or an error name, the end the number
    the quality is read from).
    """
    try:
        log = open(path, "rb")
    except OSError:
        return
    with log:
        start = max(offset, os.fstat(log.fileno()).st_size - _SCAN_TAIL)
        inside_a_line = False  # a line cut at START is no line of the output
        if start > offset:
            log.seek(start - 1)
            inside_a_line = log.read(1) not in (b"\n", b"\r")
        log.seek(start)
        pending = b""
        while chunk := log.read(_SCAN_CHUNK):
            if inside_a_line:
                ends = [end for end in (chunk.find(b"\n"), chunk.find(b"\r")) if end >= 0]
                if not ends:  # the end of the cut line: the last line's, should it not end
                    pending = (pending + chunk)[-_LINE_KEEP:]
                    continue
                chunk, inside_a_line, pending = chunk[min(ends) + 1 :], False, b""
            data = pending + chunk
            cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
            if cut < 0:
                pending = data
                if len(pending) > 2 * _LINE_KEEP:
                    pending = pending[:_LINE_KEEP] + pending[-_LINE_KEEP:]
                continue
            yield data[: cut + 1]
            pending = data[cut + 1 :]
        if pending:
            yield pending


def _lines_with(block: bytes, word: bytes) -> Iterator[tuple[int, bytes]]:
    """(where it starts, line) of each line of BLOCK that holds WORD, found by bytes.find
    rather than line by line."""
    at = block.find(word)
    while at >= 0:
        start = max(block.rfind(b"\n", 0, at), block.rfind(b"\r", 0, at)) + 1
        ends = [end for end in (block.find(b"\n", at), block.find(b"\r", at)) if end >= 0]
        end = min(ends) if ends else len(block)
        yield start, block[start:end]
        at = block.find(word, end)


def _last_line(block: bytes) -> bytes:
    """The last line of BLOCK with anything but blanks on it; b"" when there is none."""
    text = block.rstrip()
    return text[max(text.rfind(b"\n"), text.rfind(b"\r")) + 1 :]


def _is_error_line(line: str) -> bool:
    """`ValueError: ...`, `torch.OutOfMemoryError: ...`, `KeyboardInterrupt`: a traceback's end."""
    name = line.strip().split(":", 1)[0]
    return name.endswith(_ERROR_ENDINGS) and _ERROR_NAME.fullmatch(name) is not None


def _read_report(run_dir: Path, snapshot: bytes | None = None) -> dict[str, object] | None:
    """result.json as smac_bridge.report() left it, or None; SNAPSHOT: the file as the
    script left it, before its leftovers (which may report too) were stopped."""
    if snapshot is None:
        data = read_json_object(RunDir(run_dir).result)
    else:
        try:
            data = json.loads(snapshot.decode("utf-8"))
        except ValueError:  # b"": none (a UnicodeDecodeError is a ValueError too)
            data = None
    if not isinstance(data, dict):
        return None
    return data if data.get("status") in STATUSES else None


_PLAIN_NEGATIVE = re.compile(r"-\d+|-\d*\.\d+")
"""A value that argparse takes as a negative number, not as an option (no exponent)."""
_NEGATIVE_E = re.compile(r"-(?:\d+\.?\d*|\.\d+)[eE][+-]?\d{1,3}")
"""A negative number in E notation as SMAC writes it (`-1.0E-4`, SMAC3 `-1e-05`), whose
exponent is that of a double."""


def _python_scalar(value: Any) -> Any:
    """A numpy scalar as Python's (np.float32(0.5) as 0.5); anything else as it is."""
    return json_default(value) if callable(getattr(value, "item", None)) else value


def _to_float(text: str | None) -> float | None:
    """A number as a script prints one. Python's float() also takes `1_000` and non-ASCII
    digits, which Java SMAC and the other readers of a result would refuse."""
    if text is None or not text.isascii() or "_" in text:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _words(command: object) -> list[str]:
    """A custom build_command's answer as argv: a string would run its first letter."""
    words = command if isinstance(command, list | tuple) else ()
    if not words or not all(isinstance(word, str | os.PathLike) for word in words):
        raise WrapperError(f"build_command returned {command!r}: expected a list of words")
    return [os.fspath(word) for word in words]


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


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


SWITCH_WORDS = {"true": True, "yes": True, "on": True, "1": True}
SWITCH_WORDS |= {"false": False, "no": False, "off": False, "0": False}
"""The values a --switch parameter may take (case does not matter), and what they mean."""


def parse_switches(items: Sequence[str]) -> dict[str, str | None]:
    """`--switch NAME[=OFF]` options: parameter name -> the word passed when it is false
    (None: nothing, as argparse's store_true wants)."""
    switches: dict[str, str | None] = {}
    for item in items:
        name, sep, off = item.partition("=")
        if not name or (sep and not off):
            raise WrapperError(f"--switch expects NAME or NAME=OFF, got {item!r}")
        if name in switches:  # which one was meant? (the last one would win unseen)
            raise WrapperError(f"--switch {item!r}: {name} is a --switch twice")
        switches[name] = off or None
    return switches


def switch_value(name: str, value: str) -> bool:
    """Whether the --switch parameter NAME is on at VALUE; WrapperError for another value."""
    on = SWITCH_WORDS.get(value.lower())
    if on is None:
        raise WrapperError(
            f"--switch {name}: expected true or false (yes/no, on/off, 1/0), got {value!r}"
        )
    return on


def _joined(flag: str, value: str) -> str:
    """FLAG and a VALUE that looks like an option as one word: `--opt=-O2`, and `-o-O2` for a
    one-letter flag, which argparse, click and getopt all read (`-o=-O2` only argparse)."""
    return f"{flag}{value}" if len(flag) == 2 and not flag.startswith("--") else f"{flag}={value}"


def flag_of(name: str, prefix: str, renames: Mapping[str, str]) -> str:
    """The script's flag for parameter NAME: PREFIX + its --rename (or NAME), or the rename
    itself when that is a whole flag (`--rename batch=-b` for a script with only `-b`)."""
    renamed = renames.get(name, name)
    return renamed if name in renames and renamed.startswith("-") else prefix + renamed


def parse_renames(items: Sequence[str]) -> dict[str, str]:
    """`--rename NAME=FLAG` options: parameter name -> the script's flag name."""
    renames = {}
    for item in items:
        name, sep, flag = item.partition("=")
        if not sep or not name or not flag:
            raise WrapperError(f"--rename expects NAME=FLAG, got {item!r}")
        if name in renames:
            raise WrapperError(f"--rename {item!r}: {name} is renamed twice")
        renames[name] = flag
    return renames


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

    # ------------------------------------------------------------------ the two hooks

    def build_command(self, call: TargetCall) -> list[str]:
        """The script's argv for this call: `--cmd` words, then `--name value` per parameter
        (`--name=value` for a value argparse would read as an option; `--name` alone, or
        nothing, for a --switch)."""
        renames = parse_renames(self.options.rename)
        switches = parse_switches(self.options.switch)
        try:
            argv = split_algo(self.options.cmd or "")
        except ProtocolError as error:
            raise WrapperError(f"--cmd: {error}") from None
        if not argv:
            raise WrapperError("--cmd is required (the training command)")
        argv, used = expand_templates(argv, call.params)
        for name, value in call.params.items():
            if name not in used and not self.options.no_flags:
                flag = flag_of(name, self.options.prefix, renames)
                if name in switches:
                    off = switches[name]
                    argv += [flag] if switch_value(name, value) else [off] if off else []
                    continue
                # argparse reads `--opt -O2` or `--x -1.0E-4` as two options, `--x -0.5`
                # not; a target taking SMAC's own `-name value` pairs gets them as they are
                joined = self.options.prefix == "--" and value.startswith("-")
                if joined and not _PLAIN_NEGATIVE.fullmatch(value):
                    argv.append(_joined(flag, value))
                else:
                    argv += [flag, value]
        if self.options.pass_seed:
            argv += [self.options.pass_seed, str(call.seed)]
        if self.options.pass_instance:
            argv += [self.options.pass_instance, call.instance]
        if self.options.pass_run_dir:
            argv += [self.options.pass_run_dir, str(self.run_dir)]
        return argv

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
        wrapper = cls()
        if cls is not Wrapper:
            wrapper.prog = Path(sys.argv[0]).name
        sys.exit(wrapper.run(sys.argv[1:] if argv is None else argv))

    def run(self, argv: Sequence[str], caught: Sequence[int] = ()) -> int:
        """Run one trial as the `smac-bridge wrap` process: this process's environment and
        signals, the one result line on stdout; returns the process exit code (0). CAUGHT:
        stop signals that came before this process could run the trial, which stop it."""
        # SIGHUP too: a closed terminal or ssh session ends the trial as Ctrl-C does
        stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        previous = {s: signal.signal(s, self._on_signal) for s in stops}
        if caught:  # read once this process's own handlers hold: none is missed
            self.request_stop()
        try:  # the handlers stay until the line is out: a late signal is ignored, not fatal
            try:
                result = self.execute(argv)
            except _HelpShown:
                return 0
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
        except _Interrupted:
            result = self._failure("TIMEOUT", started, "interrupted", record)
        except WrapperError as error:
            # whole on stderr: the result line cannot hold commas or line breaks
            self._warn(f"smac-bridge wrap: {error}")
            result = self._failure("CRASHED", started, str(error), record)
        except Exception as error:  # noqa: BLE001 - the one line must be printed anyway
            if getattr(error, "errno", None) in DISK_ERRORS:  # the disk's failure, no bug
                if raise_disk_errors:
                    raise  # the worker leaves the run unrecorded: no failure of its configuration
                self._warn(f"smac-bridge wrap: {error}")
                result = self._failure("CRASHED", started, str(error), record)
            else:
                import traceback  # a custom wrapper's bug: its author needs the file and line

                trace = traceback.format_exc().rstrip()
                self._warn(f"smac-bridge wrap: wrapper error:\n{trace}")
                result = self._failure("CRASHED", started, f"wrapper error: {error!r}", record)
        except (SystemExit, KeyboardInterrupt) as error:  # a custom hook's sys.exit(), argparse
            self._warn(f"smac-bridge wrap: wrapper error: a hook raised {error!r}")
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
                self._warn(f"smac-bridge wrap: cannot write result.json: {error}")
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
        if self._supervisor is None:
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
        if call.cutoff is not None and call.cutoff <= 0:
            reason = f"cutoff {call.cutoff:g} s: not run (SMAC 2.10 records it as TIMEOUT)"
            return self._failure("TIMEOUT", time.monotonic(), reason, record)
        try:
            metric = re.compile(self.options.metric) if self.options.metric else None
            self._patterns = (metric, [re.compile(p) for p in self.options.abort_pattern])
        except re.error as error:
            raise WrapperError(f"bad regular expression {error.pattern!r}: {error}") from None
        execution_id = execution_uuid(self.environ) or os.urandom(16).hex()
        run_dir = self.environ.get("SMAC_BRIDGE_RUN_DIR") or os.path.join(
            self.options.runs_dir, execution_id
        )
        try:
            self.run_dir = Path(os.path.normpath(self.cwd / run_dir))
            RunDir(self.run_dir).artifacts.mkdir(parents=True, exist_ok=True)
            RunDir(self.run_dir).result.unlink(missing_ok=True)
        except OSError as error:
            self.run_dir = Path()
            raise WrapperError(f"run directory {run_dir} is not writable: {error}") from None
        with self._hook_output():
            command = _words(self.build_command(call))
        record["command"] = command
        with ExitStack() as stack:
            waited = time.monotonic()
            gpu = self._gpu(stack, call.cutoff)
            if call.cutoff is not None:  # the wait for a GPU slot is part of the call's cutoff
                waited = time.monotonic() - waited
                call = replace(call, cutoff=max(call.cutoff - waited, 0.001))
            return self._supervise(call, command, gpu, execution_id, record)

    def _gpu(self, stack: ExitStack, cutoff: float | None) -> str:
        """The GPU ids for CUDA_VISIBLE_DEVICES ("" = CPU): the worker's, or a leased slot,
        waited for no longer than the trial's cutoff."""
        self._lease_fds = ()
        if "SMAC_BRIDGE_GPU" in self.environ:
            return self.environ["SMAC_BRIDGE_GPU"]
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
        command: list[str],
        gpu: str,
        execution_id: str,
        record: dict[str, object],
    ) -> RunResult:
        options, run_dir, files = self.options, self.run_dir, RunDir(self.run_dir)
        log_path = files.script_log
        env_added = {
            "SMAC_BRIDGE_RUN_DIR": str(run_dir),
            "SMAC_BRIDGE_ARTIFACTS": str(files.artifacts),
            "SMAC_BRIDGE_SEED": str(call.seed),
            "SMAC_BRIDGE_GRACE": repr(float(options.grace)),
            "CUDA_VISIBLE_DEVICES": gpu,
        }
        # What the launch set for this trial (its budget, the checkpoint it continues from)
        # belongs to the command too: command.json reruns the trial as it ran.
        launch_set = {name: self.environ[name] for name in LAUNCH_VARIABLES if name in self.environ}
        write_json_atomic(
            files.command,
            {
                "argv": command,
                "cwd": str(self.cwd),
                "env_added": {**launch_set, **env_added},
                "grace": options.grace,
            },
        )
        where = f"GPU {gpu}" if gpu else "the CPU (no GPU assigned)"
        header = f"smac-bridge wrap: running on {where}: {command}\n".encode()
        with open(log_path, "wb") as log:
            log.write(header)
        files.script_stdout.write_bytes(b"")  # a run again (a resume) starts it afresh too
        cpu_limit = call.cutoff if options.cpu_cutoff else None
        limits = Limits(call.cutoff, cpu_limit, options.memory_limit, options.grace)
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
        default, extra, reason, by_user = self._decide(call, outcome, log_path, len(header), gpu)
        run = FinishedRun(
            call, outcome, run_dir, log_path, outcome.exit_code, default, extra, len(header)
        )
        with self._hook_output():
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
            exit_code=outcome.exit_code,
            wall_time=outcome.wall_time,
            cpu_time=outcome.cpu_time,
            peak_rss_mb=outcome.peak_rss_mb,
            gpu=gpu or None,
            reason=reason,
            stopped_by_user=by_user,
        )
        return result

    def _hook_output(self) -> contextlib.AbstractContextManager[object]:
        """What a custom wrapper's hooks print goes to stderr: stdout carries the one result
        line, and a result line a Java-era wrapper still prints itself made two, on which
        SMAC aborts."""
        if type(self).build_command is Wrapper.build_command and (
            type(self).read_result is Wrapper.read_result
        ):
            return contextlib.nullcontext()
        return contextlib.redirect_stdout(sys.stderr)

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
            quality = _to_float(str(custom["quality"]))
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
        run.extra.update(extra)
        runtime = run.default.runtime
        if custom.get("runtime") is not None:
            given = _to_float(str(custom["runtime"]))
            if given is None or not math.isfinite(given) or given < 0:
                raise WrapperError(f"read_result returned runtime {custom['runtime']!r}")
            runtime = given
        data = parse_additional(default.additional)
        if status != default.status:  # its reason was the default's
            data.pop("reason", None)
        data.update(extra)
        length = default.runlength if status == default.status else 0
        return RunResult(status, runtime, length, quality, run.call.seed, format_additional(data))

    # ------------------------------------------------------------------ the decision

    def _script_report(
        self, scan: _Scan, run_dir: Path, extra: dict[str, object]
    ) -> tuple[str, float | None, str, float] | str | None:
        """The script's own report: (status, quality, the status word as its line wrote it:
        MEMOUT where the status is UNSAT, the run length its line gave: 0 without one), an
        error text, or None if it made none.

        A result line it printed wins over result.json, except that result.json (written by
        report() together with its line) supplies the exact quality and typed extras.
        """
        snapshot = self._supervisor.snapshot if self._supervisor is not None else None
        saved = _read_report(run_dir, snapshot)
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
        if saved is not None and (status is None or _same_report(saved, status, quality)):
            status = str(saved["status"])
            quality = _to_float(str(saved.get("quality")))
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

    def _metric_text(self, scan: _Scan) -> str | None:
        """What --metric captured, or else the word ending the last line of stdout."""
        if self.options.metric:
            return scan.metric
        if script_result_line(scan.last_line) is not None:
            return None  # its last word is the seed: the line's quality is its result
        words = scan.last_line.split()
        return words[-1] if words else None

    def _metric(self, scan: _Scan) -> float | None:
        """The quality from --metric, or else from a number ending the last output line."""
        value = _to_float(self._metric_text(scan))
        if value is None or not (self.options.maximize or self.options.maximize_from is not None):
            return value
        if self.options.maximize_from is not None:
            return self.options.maximize_from - value
        return -value

    def _decide(
        self, call: TargetCall, outcome: Outcome, log_path: Path, offset: int, gpu: str
    ) -> tuple[RunResult, dict[str, object], str, bool]:
        """Gather what the run left (its output, its report, the supervisor's outcome) and
        let `decide` say what it means."""
        options = self.options
        metric, aborts = self._patterns
        if gpu:
            aborts = [*aborts, re.compile(CUDA_ABORT_PATTERN)]
        scan = _scan_log(log_path, offset, RunDir(self.run_dir).script_stdout, metric, aborts)
        extra: dict[str, object] = {}
        report = self._script_report(scan, self.run_dir, extra)
        status, quality, word, runlength = report if isinstance(report, tuple) else (None,) * 4
        facts = RunFacts(
            stopped_by=outcome.stopped_by,
            exit_code=outcome.exit_code,
            stop_note=stop_note(RunDir(self.run_dir))
            if outcome.stopped_by == "stop_request"
            else "",
            report_status=status,
            report_quality=quality,
            report_word=word,
            report_error=report if isinstance(report, str) else None,
            report_reason=str(extra["reason"]) if extra.get("reason") else None,
            report_partial=bool(extra.get("partial")),
            metric=self._metric(scan),
            metric_option=options.metric,
            metric_text=self._metric_text(scan),
            last_words=scan.last_error or scan.last_words.strip(),
            result_on_stderr=scan.result_in_output and scan.last_result is None,
            abort_line=scan.abort_line,
            failure_quality=options.failure_quality,
            memory_limit=options.memory_limit,
            runtime_objective=options.runtime_objective,
        )
        decision = decide(facts)
        if decision.status == "SAT" and outcome.stopped_by is None:
            extra.pop("partial", None)  # it ran to its end: its last report is its result
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


DISK_ERRORS = {
    errno.ENOSPC: "No space left on device",
    errno.EDQUOT: "Disk quota exceeded",
    errno.EROFS: "Read-only file system",
}
"""What a disk's failures say (their strerror, in the C locale Python's messages keep): no
failure of the configuration's."""


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


def _same_report(saved: dict[str, object], line_status: str, line_quality: float | None) -> bool:
    """Whether result.json holds the report the last result line printed: report() prints a
    quality that is not finite as UNSAT (and the line's values without their commas), and a
    finite one in full. A partial report prints no line, and a line the script printed
    after a report of its own holds another quality: either line stays its result."""
    if saved.get("partial"):
        return False
    quality = _to_float(str(saved.get("quality")))
    finite = quality is not None and math.isfinite(quality)
    if saved["status"] == line_status:
        return not finite or quality == line_quality
    return saved["status"] == "SAT" and line_status == "UNSAT" and not finite


@dataclass(frozen=True)
class RunFacts:
    """What one run left, as `decide` needs it: how the supervisor ended it, what the script
    reported (a result line or `smac_bridge.report()`), and what its output says."""

    stopped_by: str | None  # the supervisor's: wall_time, cpu_time, interrupt, stop_request, memory
    exit_code: int | None
    stop_note: str = ""  # why a stop was requested: "" by a user, "pruned: ..." by a rule
    report_status: str | None = None  # the script's own report, if it made one
    report_quality: float | None = None
    report_word: str | None = None  # the status word as written (MEMOUT stays MEMOUT)
    report_error: str | None = None  # an unreadable result line
    report_reason: str | None = None  # report(None, "UNSAT", reason=...)
    report_partial: bool = False  # the last report was partial: the training had not finished
    metric: float | None = None  # --metric, or the number ending the last line
    metric_option: str | None = None
    # what --metric captured in its last match, or else the last word of stdout
    metric_text: str | None = None
    last_words: str = ""  # the last error line, or else the last line of output
    abort_line: str | None = None  # the first line matching an --abort-pattern
    failure_quality: float = CRASHED_QUALITY
    memory_limit: float | None = None
    runtime_objective: bool = False  # --runtime-objective
    result_on_stderr: bool = False  # a result line the script printed on stderr, not read


@dataclass(frozen=True)
class Decision:
    """The result the wrapper reports for a run."""

    status: Status
    quality: float
    reason: str = ""
    by_user: bool = False


def decide(facts: RunFacts) -> Decision:
    """What a run's facts mean (docs/wrappers.md has the rules, in this order).

    A script that ends with exit code 0 after partial reports only finished: the number it
    ended with (--metric, the last line) is its result, else its last partial report.
    A stopped run keeps the good partial quality it reported (TIMEOUT, or SAT when the stop,
    a user's or a pruning rule's, landed after its final report); a run over its
    memory, a failed report, a script that exited with an error (also after a partial
    report: its training did not finish) or printed no number are UNSAT with the failure
    quality; a matching abort pattern turns a failure of the run's own into ABORT (not a
    stop: a timed-out, stopped or pruned run says nothing of the next). With --runtime-objective
    a script that exits 0 is SAT (quality 0) and the failures decided here are CRASHED, as a
    runtime scenario needs.
    """
    failure = facts.failure_quality
    quality = facts.report_quality
    finite = quality is not None and math.isfinite(quality)
    good = facts.report_status == "SAT" and finite
    # a TIMEOUT line printed on SIGTERM holds the quality reached, as a SAT one does
    kept = finite and facts.report_status in ("SAT", "TIMEOUT")
    partial = quality if kept and quality is not None else failure
    stopped = facts.stopped_by
    decision = Decision("UNSAT", failure)
    if stopped in ("wall_time", "cpu_time", "interrupt"):
        reason = "interrupted" if stopped == "interrupt" else f"{stopped} limit reached"
        decision = Decision("TIMEOUT", partial, reason)
    elif stopped == "stop_request":  # unfinished unless its final report came before the stop
        finished = good and not facts.report_partial
        status: Status = "SAT" if finished else "TIMEOUT"
        if facts.stop_note.startswith("pruned"):  # a pruning rule's: no reason once finished
            decision = Decision(status, partial, "" if finished else facts.stop_note)
        else:
            decision = Decision(status, partial, "stopped by user", True)
    elif stopped == "memory":
        limit = f"{facts.memory_limit:g} MB " if facts.memory_limit is not None else ""
        decision = Decision("UNSAT", failure, f"memory limit {limit}exceeded")
    elif facts.report_error is not None:
        decision = Decision("UNSAT", failure, facts.report_error)
    elif facts.report_partial and facts.exit_code != 0:  # crashed in the middle of training
        reason = f"{_exit_text(facts.exit_code)} after a partial result"
        if facts.last_words:
            reason += f": {facts.last_words[:200]}"
        decision = Decision("UNSAT", failure, reason)
    elif facts.report_partial and facts.report_status == "TIMEOUT":
        # stopped by its own account (a SIGTERM from elsewhere): what it printed after, such
        # as Keras's training loss, is no result
        decision = _reported(facts, good, partial)
    elif facts.report_partial and facts.metric is not None:
        # a partial report is no final one: the number the script ended with is its result
        decision = _from_metric(facts)
    elif facts.report_status is not None:
        decision = _reported(facts, good, partial)
    elif facts.exit_code != 0:
        reason = _exit_text(facts.exit_code)
        if facts.last_words:
            reason += f": {facts.last_words[:200]}"
        decision = Decision("UNSAT", failure, reason)
    elif facts.runtime_objective:
        decision = Decision("SAT", 0.0)  # it ran to its end: its runtime is its cost
    elif facts.metric is None:
        captured = (facts.metric_text or "")[:60]
        shown = " (a comma in it shows as a blank)" if "," in captured else ""
        if not facts.metric_option:
            what = "no result line or report() and no number on the last output line"
            if captured:  # `0,5`, `done.`: what it read there
                what += f", which ends with {captured!r}{shown}"
        elif facts.metric_text is None:
            what = f"--metric '{facts.metric_option}' did not match"
        else:  # `val_acc: (\S+)` on `val_acc: 0.98, val_loss: 0.07` took the comma along
            what = (
                f"--metric '{facts.metric_option}' captured {captured!r}{shown} and that is no"
                " number: let its group capture the number alone, as ([-+0-9.eE]+)"
            )
        if facts.result_on_stderr:  # Python's logging writes to stderr unless told otherwise
            what += "; a result line on stderr is not read: print it on stdout"
        decision = Decision("UNSAT", failure, f"no result: {what}")
    else:
        decision = _from_metric(facts)
    failed_by_itself = stopped not in ("wall_time", "cpu_time", "interrupt", "stop_request")
    if decision.status != "SAT" and failed_by_itself and facts.abort_line is not None:
        reason = f"abort pattern matched: {facts.abort_line[:200]}"
        return Decision("ABORT", decision.quality, reason, decision.by_user)
    if facts.runtime_objective and decision.status == "UNSAT" and facts.report_status is None:
        # a runtime scenario counts UNSAT as solved (SMAC 2.10: the instance is unsatisfiable)
        return Decision("CRASHED", decision.quality, decision.reason, decision.by_user)
    return decision


def _from_metric(facts: RunFacts) -> Decision:
    """The decision for a run that ended with exit code 0 and a `--metric` match or a
    number ending its last line."""
    assert facts.metric is not None
    if not math.isfinite(facts.metric):
        return Decision("UNSAT", facts.failure_quality, f"quality is {facts.metric}")
    return Decision("SAT", facts.metric)


def _reported(facts: RunFacts, good: bool, partial: float) -> Decision:
    """The decision for a run that finished and reported through a line or report()."""
    status, quality = facts.report_status, facts.report_quality
    if status == "SAT":
        if good:
            return Decision("SAT", partial)
        return Decision("UNSAT", partial, facts.report_reason or f"quality is {quality}")
    if status == "TIMEOUT" and quality is not None and math.isfinite(quality):
        # out of time by its own account, with the quality reached: a partial result, as a
        # line printed on SIGTERM is (SMAC 2.10 uses a reported quality for every status)
        return Decision("TIMEOUT", quality, facts.report_reason or "script reported TIMEOUT")
    if status == "CRASHED":  # the script's crash is a failed training, not a wrapper fault
        reason = f"script reported CRASHED ({_exit_text(facts.exit_code)})"
    elif facts.report_word in STATUS_NOTES:  # MEMOUT is stored as UNSAT; the reason says why
        reason = f"script reported {facts.report_word} ({STATUS_NOTES[facts.report_word]})"
    else:
        reason = f"script reported {status}"
    if facts.runtime_objective and (status == "CRASHED" or facts.report_word == "MEMOUT"):
        # a runtime scenario would count UNSAT as solved; a failed run costs PAR-k
        return Decision("CRASHED", partial, facts.report_reason or reason)
    final = "UNSAT" if status == "CRASHED" else cast(Status, status)
    return Decision(final, partial, facts.report_reason or reason)


def main(argv: list[str], caught: Sequence[int] = ()) -> int:
    """`smac-bridge wrap ARGS`: called by the CLI before click is imported; CAUGHT holds the
    stop signals that came before the wrapper could handle them (they stop the trial)."""
    return Wrapper().run(argv, caught)
