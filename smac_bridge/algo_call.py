"""A scenario's algo as smac-bridge runs it: the command, split as SMAC splits it, and for
`smac-bridge wrap` the wrapper's options and how each parameter reaches the script (a flag,
a `${name}` template, a switch). `check`, `launch` and the views read it from here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ConfigSpace import UniformIntegerHyperparameter

from smac_bridge import protocol
from smac_bridge.errors import InputError
from smac_bridge.pcs import SearchSpace, choices_of, plain_values
from smac_bridge.scenario import Scenario
from smac_bridge.wrap_options import (
    DEFAULT_GRACE,
    SWITCH_WORDS,
    WrapperError,
    algo_grace,
    expand_templates,
    flag_of,
    parse_options,
    parse_renames,
    parse_switches,
    wrap_call_at,
)


@dataclass
class ScriptCall:
    """What a scenario's algo runs: the command, and for `smac-bridge wrap` the script's own
    command and how parameters become its flags."""

    command: list[str]
    wrapped: bool = False
    flags: dict[str, str] = field(default_factory=dict)  # parameter -> flag; empty: no flags
    failure_quality: float | None = None  # the wrapper's; None: only the runs can tell
    runtime_objective: bool = False  # the wrapper's --runtime-objective
    unpassed: list[str] = field(default_factory=list)  # --no-flags: in no ${name} template
    seed_flag: str | None = None  # the wrapper's --pass-seed flag
    conditional_templates: list[str] = field(default_factory=list)  # ${name} of a child
    stray_renames: list[str] = field(default_factory=list)  # --rename of no parameter
    switches: dict[str, str | None] = field(default_factory=dict)  # --switch NAME -> OFF word
    custom_wrapper: bool = False  # a script subclassing the wrapper: it decides as `wrap` does
    grace: float = DEFAULT_GRACE  # a custom wrapper's --grace


def algo_error(scenario: Scenario, message: str) -> InputError:
    return InputError(scenario.path, scenario.source_lines.get("algo"), message)


def script_call(scenario: Scenario, space: SearchSpace) -> ScriptCall:
    """Read the scenario's algo: split it as SMAC does, and for `smac-bridge wrap` read the
    wrapper's options; InputError for an unbalanced quote or bad wrapper options."""
    if scenario.budget_flag and scenario.budget_flag in space.space:
        raise InputError(
            scenario.path,
            scenario.source_lines.get("budget_flag"),
            f"budget-flag: {scenario.budget_flag!r} is also a parameter of"
            f" {scenario.paramfile}; the budget would replace its value",
        )
    try:
        words = protocol.split_algo(scenario.algo)
    except protocol.ProtocolError as error:
        raise algo_error(scenario, str(error)) from None
    if not words:
        raise algo_error(scenario, "algo: expected a command, got nothing")
    at = wrap_call_at(words)
    if at is None:
        return _custom_wrapper_call(scenario, words) or ScriptCall(words)
    try:
        options, stray = parse_options(words[at + 2 :], "smac-bridge wrap")
        if stray:  # SMAC's call starts there: every run would be an unparseable call
            raise WrapperError(
                f"{stray[0]!r} follows the wrapper's options, where SMAC's call starts (a value"
                " with spaces needs double quotes)"
            )
        if not options.cmd:
            raise WrapperError("--cmd is required (the training command)")
        command = protocol.split_algo(options.cmd)
        renames = parse_renames(options.rename)
        switches = parse_switches(options.switch)
        for flag, pattern in [("--metric", options.metric)] + [
            ("--abort-pattern", p) for p in options.abort_pattern
        ]:
            try:
                re.compile(pattern or "")
            except (re.error, OverflowError) as error:  # each run would crash on it
                raise WrapperError(f"{flag} {pattern!r}: {error}") from None
    except (WrapperError, protocol.ProtocolError) as error:
        raise algo_error(scenario, f"algo: smac-bridge wrap: {error}") from None
    names = [hp.name for hp in space.space.values()]
    if scenario.budget_flag:
        names.append(scenario.budget_flag)
    try:  # a mark for each value: the words it lands in are the trial's, not the script's
        expanded, used = expand_templates(command, {name: "\0" for name in names})
    except WrapperError as error:
        raise algo_error(scenario, f"algo: {error}") from None
    for name in switches:
        if problem := switch_problem(space, name, used):
            raise algo_error(scenario, f"algo: the wrapper's --switch {name}: {problem}")
    flags, unpassed = {}, [name for name in names if name not in used]
    if not options.no_flags:
        flags = {n: flag_of(n, options.prefix, renames) for n in unpassed}
        unpassed = []
        _refuse_shared_flags(scenario, flags, options.pass_seed)
    return ScriptCall(
        _checkable_command(expanded, command, space),
        True,
        flags,
        options.failure_quality,
        options.runtime_objective,
        unpassed,
        options.pass_seed,
        sorted(name for name in used if name in space.space and space.space.parents_of[name]),
        sorted(name for name in renames if name not in names),
        switches,
    )


_WRAPPER_IMPORT = re.compile(
    r"^[ \t]*(from[ \t]+smac_bridge(\.wrapper)?[ \t]+import\b.*\bWrapper\b"
    r"|import[ \t]+smac_bridge(\.wrapper)?\b)",
    re.MULTILINE,
)
_WRAPPER_SUBCLASS = re.compile(r"^[ \t]*class[ \t]+\w+[ \t]*\([^)]*\bWrapper\b", re.MULTILINE)
_LONGEST_WRAPPER = 1_000_000
"""Bytes of an algo's script read to tell a custom wrapper (not a whole solver binary)."""


def runs_our_wrapper(scenario: Scenario, words: list[str]) -> bool:
    """Whether the scenario's algo WORDS run smac-bridge's wrapper (`smac-bridge wrap`, or a
    script subclassing its Wrapper). It strips one pair of single quotes from each value,
    as old SMAC versions quoted every value: a value in quotes must then be quoted again.
    And it stops its script on a stop request (`smac-bridge stop`, a pruning rule), with
    what the script reported; another algo is stopped by its worker."""
    return wrap_call_at(words) is not None or _custom_wrapper_call(scenario, words) is not None


def _custom_wrapper_call(scenario: Scenario, words: list[str]) -> ScriptCall | None:
    """A Python script that subclasses smac-bridge's Wrapper (its source imports it and has a
    `class ...(Wrapper)`; a comment that names it does not count), with the wrapper's options
    after it: its results are decided as `smac-bridge wrap` decides them, so the warnings
    about its options apply. None for any other command, or one whose options are not the
    wrapper's alone (its own may add some)."""
    at = _script_at(words)
    path = Path(scenario.execdir) / words[0 if at is None else at]
    try:
        with path.open("rb") as file:
            source = file.read(_LONGEST_WRAPPER).decode("utf-8", errors="replace")
    except OSError:
        return None
    if at is None:  # an executable script, `./wrapper.py`, runs with Python by its #! line
        if not re.match(r"#![^\n]*python", source):
            return None
        at = 0
    if not (_WRAPPER_IMPORT.search(source) and _WRAPPER_SUBCLASS.search(source)):
        return None
    try:
        options, stray = parse_options(words[at + 1 :], "wrapper")
    except WrapperError:
        return None
    if stray:
        return None
    return ScriptCall(
        words,
        failure_quality=options.failure_quality,
        runtime_objective=options.runtime_objective,
        custom_wrapper=True,
        grace=float(options.grace),
    )


def wrapper_grace(scenario: Scenario) -> float:
    """The seconds the scenario's wrapper gives a stopped script to report and save, from
    SIGTERM to SIGKILL: `smac-bridge wrap --grace` or a custom wrapper's, else the default's.
    A trial's supervisor and a worker's guard wait that long before they kill the tree."""
    try:
        words = protocol.split_algo(scenario.algo)
    except protocol.ProtocolError:
        return DEFAULT_GRACE
    if wrap_call_at(words) is None and (custom := _custom_wrapper_call(scenario, words)):
        return custom.grace
    return algo_grace(scenario.algo)


def _refuse_shared_flags(scenario: Scenario, flags: dict[str, str], seed_flag: str | None) -> None:
    """InputError when two parameters (or one and --pass-seed) reach the script as one flag:
    argparse keeps the last value, and the run is recorded with the other."""
    seen: dict[str, str] = {seed_flag: "the wrapper's --pass-seed"} if seed_flag else {}
    for name, flag in flags.items():
        if flag in seen:
            raise algo_error(
                scenario,
                f"algo: parameter {name} and {seen[flag]} are both passed as {flag}: the script"
                " keeps one value and the run is recorded with the other; give one another"
                " flag with the wrapper's --rename",
            )
        seen[flag] = f"parameter {name}"


def switch_problem(space: SearchSpace, name: str, templated: Collection[str] = ()) -> str | None:
    """Why the --switch NAME cannot work, or None: NAME must be a parameter passed as a flag
    (not in a ${name} template), whose values are all true or false words."""
    hp = space.space.get(name)
    where = space.source or "the search space"
    if hp is None:
        return f"{where} declares no {name}"
    if name in templated:
        return f"{name} is in a ${{{name}}} template of --cmd, which gets its value as it is"
    if isinstance(hp, UniformIntegerHyperparameter) and (hp.lower, hp.upper) == (0, 1):
        return None
    values = choices_of(hp)
    odd = [v for v in values or () if str(v).lower() not in SWITCH_WORDS]
    if values is None or odd:
        got = ", ".join(map(str, odd)) if odd else "a numeric range"
        return (
            f"expected its values in {where} to be true and false (or yes/no, on/off,"
            f" 1/0), got {got}"
        )
    return None


_PYTHON_OPTIONS_WITH_VALUES = ("-W", "-X", "--check-hash-based-pycs")


def _script_at(command: Sequence[str]) -> int | None:
    """Where the script of a `python [options] script.py` command is; None for another
    program, `-m module` or `-c code`."""
    if not command or not Path(command[0]).name.startswith("python"):
        return None
    at = 1
    while at < len(command):
        word = command[at]
        if word in ("-m", "-c", "-"):
            return None
        if word in _PYTHON_OPTIONS_WITH_VALUES:
            at += 1
        elif not word.startswith("-"):
            return at
        at += 1
    return None


def python_script(command: Sequence[str]) -> str | None:
    """The script a `python [options] script.py` command runs (see `_script_at`)."""
    at = _script_at(command)
    return None if at is None else command[at]


def _checkable_command(
    marked: Sequence[str], command: Sequence[str], space: SearchSpace
) -> list[str]:
    """The command as the wrapper runs it, for `check_script` and `--help`: MARKED is it with
    a NUL for each `${name}` value. A templated program or script (`./run_${opt}.sh`,
    `python v/${opt}/train.py`) is the default configuration's; other templated words go,
    a flag with its value (`--lr ${lr}`)."""
    defaults = {
        name: protocol.format_value(value)
        for name, value in plain_values(space.space.get_default_configuration()).items()
    }
    try:
        by_default, _ = expand_templates(command, defaults)
    except WrapperError:  # a template of a parameter the default leaves inactive
        by_default = list(marked)
    script = _script_at(by_default)
    head = 1 if script is None else script + 1
    plain: list[str] = []
    for at, word in enumerate(marked):
        if "\0" not in word:
            plain.append(word)
        elif at < head and "\0" not in by_default[at]:
            plain.append(by_default[at])
        elif len(plain) > 1 and plain[-1].startswith("-"):
            plain.pop()  # `--lr ${lr}`: the flag goes with its value
    return plain
