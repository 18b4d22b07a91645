"""The options of `smac-bridge wrap`, on their own: each trial parses them, and a launch,
`check` and `init` read them from a scenario's algo without running a trial. Light (stdlib
and `protocol`): every trial imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from smac_bridge.protocol import (
    ACLIB_OPTIONS,
    CRASHED_QUALITY,
    ProtocolError,
    TargetCall,
    split_algo,
)

_DASHES = "\0--"
_TEMPLATE = re.compile(r"\$(?:\$|\{([^{}]*)\})")
DEFAULT_GRACE = 5.0
"""Seconds from SIGTERM to SIGKILL when `--grace` does not say."""
DEFAULT_LOG_LIMIT = 256_000_000
"""Bytes a script's log (and its stdout's copy) may take: a quarter of it, the end that is
kept, holds much more than the end that `script_output` reads the result from."""
_NEGATIVE_E = re.compile(r"-(?:\d+\.?\d*|\.\d+)[eE][+-]?\d{1,3}")
"""A negative number in E notation as SMAC writes it (`-1.0E-4`, SMAC3 `-1e-05`), whose
exponent is that of a double."""
_PLAIN_NEGATIVE = re.compile(r"-\d+|-\d*\.\d+")
"""A value that argparse takes as a negative number, not as an option (no exponent)."""


class WrapperError(Exception):
    """The wrapper cannot do its job (bad call or options, unwritable run dir): CRASHED."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting: a usage error must still print a result line."""

    def error(self, message: str) -> NoReturn:
        raise WrapperError(f"wrapper options: {message}")


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


def _flag(text: str) -> str:
    """A flag the script gets a value with: `inst` (for `--inst`) became a word of its own
    before the value, which the script's argparse refused at every run."""
    if not text.startswith("-") or text.strip("-") == "":
        raise argparse.ArgumentTypeError(f"expected a flag such as --instance, got {text!r}")
    return text


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
        type=_flag,
        const="--seed",
        metavar="FLAG",
        help="also pass SMAC's seed (as --seed, or --pass-seed=FLAG)",
    )
    add(
        "--pass-instance",
        "value",
        type=_flag,
        metavar="FLAG",
        help="also pass the instance as FLAG",
    )
    add(
        "--pass-run-dir",
        "value",
        type=_flag,
        metavar="FLAG",
        help="also pass the run directory as FLAG",
    )
    add(
        "--runs-dir",
        "value",
        default="smac-bridge-runs",
        help="where run directories go when SMAC_BRIDGE_RUN_DIR is unset (default %(default)s)",
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
        help="output matching REGEX in a failed run means ABORT (every run would fail); repeatable",
    )
    add(
        "--grace",
        "value",
        type=_seconds,
        default=DEFAULT_GRACE,
        help="seconds from SIGTERM to SIGKILL (default %(default)g)",
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
        help="auto, none, or GPU ids such as 0,1 (default auto)",
    )
    add(
        "--slots-per-gpu",
        "value",
        type=_at_least_one,
        default=1,
        help="runs sharing one GPU (default 1)",
    )
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


def _joined(flag: str, value: str) -> str:
    """FLAG and a VALUE that looks like an option as one word: `--opt=-O2`, and `-o-O2` for a
    one-letter flag, which argparse, click and getopt all read (`-o=-O2` only argparse)."""
    return f"{flag}{value}" if len(flag) == 2 and not flag.startswith("--") else f"{flag}={value}"


def script_command(options: argparse.Namespace, call: TargetCall, run_dir: Path) -> list[str]:
    """The script's argv for CALL as the wrapper's OPTIONS say (`Wrapper.build_command`'s):
    the `--cmd` words, then a flag per parameter; the seed, instance and RUN_DIR where the
    options pass them."""
    renames = parse_renames(options.rename)
    switches = parse_switches(options.switch)
    try:
        argv = split_algo(options.cmd or "")
    except ProtocolError as error:
        raise WrapperError(f"--cmd: {error}") from None
    if not argv:
        raise WrapperError("--cmd is required (the training command)")
    argv, used = expand_templates(argv, call.params)
    for name, value in call.params.items():
        if name not in used and not options.no_flags:
            flag = flag_of(name, options.prefix, renames)
            if name in switches:
                off = switches[name]
                argv += [flag] if switch_value(name, value) else [off] if off else []
                continue
            # argparse reads `--opt -O2` or `--x -1.0E-4` as two options, `--x -0.5`
            # not; a target taking SMAC's own `-name value` pairs gets them as they are
            joined = options.prefix == "--" and value.startswith("-")
            if joined and not _PLAIN_NEGATIVE.fullmatch(value):
                argv.append(_joined(flag, value))
            else:
                argv += [flag, value]
    if options.pass_seed:
        argv += [options.pass_seed, str(call.seed)]
    if options.pass_instance:
        argv += [options.pass_instance, call.instance]
    if options.pass_run_dir:
        argv += [options.pass_run_dir, str(run_dir)]
    return argv
