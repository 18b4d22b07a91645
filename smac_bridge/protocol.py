"""The classic SMAC wire format: the target call argv and the result line.

Everything here mirrors what Java SMAC 2.10 sends and accepts (and what SMAC3 1.x sent), so a
wrapper written against it works under either. Stdlib only: it is imported once per trial.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args

#: Java's Double.MAX_VALUE: what SMAC 2.10 passes as cutoff when the scenario sets none.
DOUBLE_MAX = 1.7976931348623157e308
#: SMAC 2.10 always passes Integer.MAX_VALUE as cutoff length.
CUTOFF_LENGTH = 2147483647
#: Cutoffs at or above this many seconds (about 317 years) mean "no cutoff" (SMAC3 sent 1e14).
NO_CUTOFF_FROM = 1e10
#: The quality SMAC 2.10 gives crashed runs (`--transform-crashed-quality`).
CRASHED_QUALITY = 1e9

Status = Literal["SAT", "UNSAT", "TIMEOUT", "CRASHED", "ABORT"]
"""The statuses smac-bridge emits and records (never `CRASH`, which SMAC 2.10 rejects)."""
STATUSES: tuple[Status, ...] = get_args(Status)
#: Every word accepted on input, and what it is stored as. MEMOUT (SMAC3) means the
#: configuration ran out of memory: for smac-bridge that is an infeasible configuration, UNSAT.
STATUS_WORDS: dict[str, Status] = {
    "SAT": "SAT",
    "SATISFIABLE": "SAT",
    "SUCCESS": "SAT",
    "UNSAT": "UNSAT",
    "UNSATISFIABLE": "UNSAT",
    "TIMEOUT": "TIMEOUT",
    "CRASHED": "CRASHED",
    "ABORT": "ABORT",
    "MEMOUT": "UNSAT",
}
#: Words whose stored status alone would hide what the run said, and what they mean.
STATUS_NOTES = {"MEMOUT": "out of memory"}

RESULT_PREFIX = "Result of this algorithm run:"
NEGATED_METRIC = "negated_metric"
"""The extra value the wrapper adds to a run whose quality is minus the script's metric
(its --maximize): the views say so, as an accuracy of 0.99 shows as -0.99."""
# The two regexes of SMAC 2.10 (AEATK CommandLineAlgorithmRun); Java's \s is ASCII only.
_RESULT_RES = (
    re.compile(r"^\s*Result\s*of\s*(this)?\s*[Aa]lgorithm\s*[rR]un\s*:", re.ASCII),
    re.compile(
        r"^\s*(Final)?\s*[Rr]esult\s+(?:([Ff]or)|([oO]f))\s+"
        r"(?:(HAL)|(ParamILS)|(SMAC)|([tT]his [wW]rapper)):",
        re.ASCII,
    ),
)
# The same markers after other text on the line: a logger's `INFO:root:`, a progress bar.
_RESULT_WITHIN = tuple(
    re.compile(r"(?<![A-Za-z])" + regex.pattern.removeprefix(r"^\s*"), re.ASCII)
    for regex in _RESULT_RES
)
# A result line's five fields after a marker SMAC 2.10 does not read (`result of this algorithm
# run:`, `Result for smac:`, `Final result:`, no colon): a status word, then four commas.
_NEAR_RESULT = re.compile(
    r"result\b[^,\n]{0,40}?\b(?:" + "|".join(STATUS_WORDS) + r")\s*,(?:[^,\n]*,){3}",
    re.IGNORECASE,
)
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A number as SMAC's files, spreadsheets, Java and Python write one: float() also takes
"1_0", "nan" and other scripts' digits, which no file of numbers means as one."""
# What Java's Double.valueOf accepts in practice (plus Python's exponent spellings).
_DOUBLE_RE = re.compile(f"(?:{DECIMAL.pattern})[dDfF]?|[+-]?Infinity|[+-]?NaN")
_LONG_RE = re.compile(r"[+-]?\d+")
_ACLIB_KEYS = {"--instance", "--instance-specific-information", "--cutoff", "--seed"}


class ProtocolError(ValueError):
    """A call or result line that does not follow the classic format; the message says why."""


_MIN_DOUBLE = 5e-324
"""Java's Double.MIN_VALUE, which Double.toString gives as 4.9E-324 (the spec's runs used
OpenJDK 17; Java 19 and later print other subnormals, such as 1.0E-323, as 9.9E-324)."""


def java_double(x: float) -> str:
    """Format like Java's Double.toString, which is what SMAC 2.10 puts on the target's argv."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    if abs(x) == _MIN_DOUBLE:  # the one value where Java 17's digits are not the shortest
        return f"{sign}4.9E-324"
    _, digits, exponent = Decimal(repr(abs(x))).as_tuple()
    exp = int(exponent)  # finite here: NaN and inf were handled above
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + exp  # position of the decimal point in `digits`
    if 1e-3 <= abs(x) < 1e7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{text}"
        whole, frac = text[:point].ljust(point, "0"), text[point:]
        return f"{sign}{whole}.{frac or '0'}"
    return f"{sign}{text[0]}.{text[1:] or '0'}E{point - 1}"


def read_double(text: str) -> float | None:
    """TEXT as Java's Double.valueOf reads it; None when it is no number."""
    token = text.strip()
    if not _DOUBLE_RE.fullmatch(token):
        return None
    return float(token.rstrip("dDfF").replace("Infinity", "inf"))


def parse_double(text: str, what: str) -> float:
    """Parse a number as Java's Double.valueOf would; `what` names the field in the error."""
    number = read_double(text)
    if number is None:
        raise ProtocolError(f"{what}: expected a number, got {text!r}")
    return number


def parse_long(text: str, what: str) -> int:
    """Parse an integer as Java's Long.valueOf would: one beyond 64 bits is an error."""
    token = text.strip()
    if not _LONG_RE.fullmatch(token):
        raise ProtocolError(f"{what}: expected an integer, got {text!r}")
    number = int(token)
    if not -(2**63) <= number < 2**63:
        raise ProtocolError(f"{what}: expected an integer of 64 bits, got {text!r}")
    return number


def split_algo(algo: str) -> list[str]:
    """Split a scenario's `algo` like SMAC 2.10's SplitQuotedString (never through a shell).

    Whitespace separates words, `"..."` groups words into one, `\\"` is a literal quote;
    single quotes are ordinary characters.
    """
    words: list[str] = []
    current: list[str] = []
    started = quoted = False
    i = 0
    while i < len(algo):
        char = algo[i]
        if char == "\\" and algo[i + 1 : i + 2] == '"':
            current.append('"')
            started = True
            i += 2
            continue
        if char == '"':
            quoted = not quoted
            started = True
        elif char.isspace() and not quoted:
            if started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
        i += 1
    if quoted:
        raise ProtocolError(f"algo: unbalanced double quote in {algo!r}")
    if started:
        words.append("".join(current))
    return words


_BASH_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'"}


def shell_command(argv: Sequence[str]) -> str:
    """ARGV as a line to paste into bash (or zsh, ksh; not sh) that runs the same command:
    shlex's quoting, and for a word with a character a terminal would act on (a tab, a
    newline, an escape code), bash's `$'...'` with that character's bytes escaped, so that
    the line is printable and still exact in any locale."""
    return " ".join(_shell_word(str(word)) for word in argv)


def _shell_word(word: str) -> str:
    if word.isprintable():
        return shlex.quote(word)
    return "$'" + "".join(_bash_escape(char) for char in word) + "'"


def _bash_escape(char: str) -> str:
    if char in _BASH_ESCAPES:
        return _BASH_ESCAPES[char]
    if char.isprintable():
        return char
    try:
        data = os.fsencode(char)  # the bytes the command got: a non-UTF-8 byte's too
    except UnicodeEncodeError:  # a lone surrogate from a hand-edited record: no argv holds it
        data = char.encode("utf-8", "surrogatepass")
    return "".join(f"\\x{byte:02x}" for byte in data)


def format_value(value: object) -> str:
    """One parameter value as SMAC 2.10 passes it: ints bare, floats as Java doubles."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    return str(value)


def java_order(name: str) -> bytes:
    """A sort key that orders names as Java SMAC does: Java compares strings by UTF-16 code
    units, and UTF-16-BE bytes sort the same way."""
    return name.encode("utf-16-be")


def build_call(
    algo_argv: Sequence[str],
    *,
    instance: str = "no_instance",
    instance_info: str = "0",
    cutoff: float | None,
    seed: int,
    config: Mapping[str, object],
    run_length: float | int | None = None,
    keep_quotes: bool = False,
) -> list[str]:
    """The argv SMAC 2.10 runs for one trial: algo, instance, info, cutoff, length, seed, params.

    Parameters whose value is None (inactive) are left out; the rest are sorted by name. The
    run-length field is SMAC 2.10's constant unless RUN_LENGTH (a multi-fidelity budget) is
    given: an int budget as an integer, as SMAC 2.10 writes the field and as wrappers written
    for it parse it (`int(argv[4])`). KEEP_QUOTES (for `smac-bridge wrap`, which strips one
    pair of single quotes, as old SMAC versions quoted every value) quotes a value that is
    itself in quotes again; a SMAC 2.10 wrapper gets it bare, as from Java SMAC.
    """
    params: list[str] = []
    for name in sorted((n for n, v in config.items() if v is not None), key=java_order):
        text = format_value(config[name])
        if keep_quotes and _unquote(text) != text:  # 'q' keeps its quotes through the wrapper
            text = f"'{text}'"
        params += [f"-{name}", text]
    length = CUTOFF_LENGTH if run_length is None else run_length
    return [
        *algo_argv,
        instance,
        instance_info,
        java_double(DOUBLE_MAX if cutoff is None else cutoff),
        str(length) if isinstance(length, int) else java_double(length),
        str(int(seed)),
        *params,
    ]


@dataclass
class TargetCall:
    """One parsed target call; `cutoff` is None when the call sets no real limit."""

    instance: str
    instance_info: str
    cutoff: float | None
    cutoff_length: float
    seed: int
    params: dict[str, str] = field(default_factory=dict)


def _unquote(value: str) -> str:
    # Before SMAC 2.08 (and with --cli-call-params-with-quotes) values arrive as 'value'.
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    return value


def _cutoff(text: str, what: str) -> float | None:
    cutoff = parse_double(text, what)
    if math.isnan(cutoff):
        raise ProtocolError(f"{what}: expected a number of seconds, got {text!r}")
    return None if cutoff >= NO_CUTOFF_FROM else cutoff


def _params(tokens: Sequence[str], first: int) -> dict[str, str]:
    params: dict[str, str] = {}
    for i in range(0, len(tokens), 2):
        position = first + i
        name = tokens[i]
        if not name.startswith("-") or len(name) < 2:
            raise ProtocolError(
                f"argument {position} ({name!r}): expected a parameter name such as -lr"
            )
        if i + 1 >= len(tokens):
            raise ProtocolError(f"argument {position} ({name!r}): parameter has no value")
        key = name[1:]
        if key in params:
            raise ProtocolError(f"argument {position}: parameter {name} given twice")
        params[key] = _unquote(tokens[i + 1])
    return params


def parse_call(argv: Sequence[str]) -> TargetCall:
    """Parse SMAC's arguments after the algo words (SMAC 2.10, SMAC3 1.x or AClib 2 format).

    Argument positions in errors count from 1, the instance being argument 1. The call is
    AClib's when it starts with an option (`--cutoff`, ..., `--config`): a parameter value
    such as `--config` later in a classic call is a value like any other.
    """
    argv = list(argv)
    if is_aclib_call(argv):
        return _parse_aclib_call(argv)
    names = ("instance", "instance-specific info", "cutoff time", "cutoff length", "seed")
    if len(argv) < 5:
        missing = ", ".join(names[len(argv) :])
        raise ProtocolError(
            f"expected 5 arguments (instance, instance-specific info, cutoff time, cutoff "
            f"length, seed) before the parameters, got {len(argv)} (missing: {missing})"
        )
    length = parse_double(argv[3], "argument 4 (cutoff length)")
    return TargetCall(
        instance=argv[0],
        instance_info=argv[1],
        cutoff=_cutoff(argv[2], "argument 3 (cutoff time)"),
        cutoff_length=length,
        seed=parse_long(argv[4], "argument 5 (seed)"),
        params=_params(argv[5:], 6),
    )


ACLIB_OPTIONS = ("--cutoff", "--instance", "--instance-specific-information", "--seed", "--config")
"""The options an AClib 2 call is made of; one of them starts it."""


def is_aclib_call(argv: Sequence[str]) -> bool:
    """Whether SMAC's arguments (after the algo words) are AClib 2's: they start with one of
    its options, or with another option and hold `--config` (a misspelt one, said as such);
    a classic call's instance may start with `--` too. Such a caller reads one JSON result
    line (format_json_result_line)."""
    if not argv:
        return False
    return argv[0] in ACLIB_OPTIONS or (argv[0].startswith("--") and "--config" in argv)


def _parse_aclib_call(argv: list[str]) -> TargetCall:
    """AClib 2's `[--cutoff c] [--instance i] [--instance-specific-information s] [--seed n]
    --config -name value ...`, read option by option: an option's value may be anything,
    `--config` included."""
    options: dict[str, str] = {}
    at = 0
    while at < len(argv) and argv[at] != "--config":
        key = argv[at]
        if key not in _ACLIB_KEYS:
            raise ProtocolError(
                f"argument {at + 1} ({key!r}): expected one of {sorted(_ACLIB_KEYS)} or --config"
            )
        if at + 1 >= len(argv):
            raise ProtocolError(f"argument {at + 1} ({key}): option has no value")
        options[key] = argv[at + 1]
        at += 2
    if at >= len(argv):
        raise ProtocolError("AClib call without --config before its parameters")
    cutoff = options.get("--cutoff")
    seed = options.get("--seed")
    return TargetCall(
        instance=options.get("--instance", "no_instance"),
        instance_info=options.get("--instance-specific-information", "0"),
        cutoff=None if cutoff is None else _cutoff(cutoff, "--cutoff"),
        cutoff_length=float(CUTOFF_LENGTH),
        seed=-1 if seed is None else parse_long(seed, "--seed"),
        params=_params(argv[at + 1 :], at + 2),
    )


@dataclass
class RunResult:
    """One result line's fields."""

    status: Status
    runtime: float
    runlength: float
    quality: float
    seed: int
    additional: str = ""
    word: str = field(default="", compare=False)
    """The status word as the line wrote it, upper-case (MEMOUT where `status` is UNSAT)."""


def _number(x: float | int) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        return java_double(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return str(int(x))
    return repr(float(x))


def format_result_line(result: RunResult) -> str:
    """The one line SMAC reads: `Result of this algorithm run: SAT, 1.23, 0, 0.05, -1[, data]`.

    Quality must be finite (callers replace NaN/inf by their failure quality first).
    """
    _check_printable(result)
    fields = [
        result.status,
        repr(float(result.runtime)),
        _number(result.runlength),
        _number(result.quality),
        str(int(result.seed)),
    ]
    if result.additional:
        fields.append(result.additional)
    return f"{RESULT_PREFIX} {', '.join(fields)}"


def format_json_result_line(result: RunResult) -> str:
    """The answer to an AClib 2 call (is_aclib_call), one JSON object as its generic wrapper
    prints it: `Result of this algorithm run: {"status": "SUCCESS", "cost": 0.05, ...}`.
    SAT and UNSAT are SUCCESS there (the AClib 2 reader of Java SMAC knows no other word for
    a run that ended); an UNSAT says so in `satisfiability`, which that reader also reads."""
    _check_printable(result)
    solved = result.status in ("SAT", "UNSAT")
    answer: dict[str, Any] = {
        "status": "SUCCESS" if solved else result.status,
        "cost": float(result.quality),
        "runtime": float(result.runtime),
        "misc": result.additional,
    }
    if result.status == "UNSAT":
        answer["satisfiability"] = "unsat"
    return f"{RESULT_PREFIX} {json.dumps(answer)}"


def _check_printable(result: RunResult) -> None:
    """ValueError unless every caller can read RESULT back."""
    if result.status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {result.status!r}")
    if not math.isfinite(result.quality):
        raise ValueError(f"quality must be finite, got {result.quality!r}")
    if not (math.isfinite(result.runtime) and result.runtime >= 0):
        raise ValueError(f"runtime must be finite and >= 0, got {result.runtime!r}")
    if math.isnan(result.runlength) or (result.runlength < 0 and result.runlength != -1):
        raise ValueError(f"runlength must be >= 0 or -1, got {result.runlength!r}")
    seed = result.seed
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not -(2**63) <= int(seed) < 2**63:
        raise ValueError(f"seed must be an integer of 64 bits, got {seed!r}")
    if any(c in result.additional for c in ",\n\r"):
        raise ValueError(f"additional data may not hold commas or newlines: {result.additional!r}")


def is_result_line(line: str) -> bool:
    """True when SMAC 2.10 would read `line` as a result line."""
    return any(regex.match(line) for regex in _RESULT_RES)


def result_line_within(line: str) -> str | None:
    """The result line in LINE from its marker on, when other text comes before it (a
    logger's `INFO:root:`, a progress bar, a colour code, a byte-order mark), which SMAC 2.10
    would not read; None when LINE holds none that reads as one: a log line that quotes a
    result line, or prose such as "the best result of SMAC: 0.4", is no result."""
    line = without_terminal_codes(line)
    for regex in _RESULT_WITHIN:
        if found := regex.search(line):
            try:
                return line[found.start() :] if parse_result_line(line[found.start() :]) else None
            except ProtocolError:
                return None
    return None


def script_result_line(line: str) -> str | None:
    """The result line a script's output LINE holds, as the wrapper reads it: the line itself
    when SMAC 2.10 would read it, else from a marker after other text (result_line_within)."""
    return line if is_result_line(line) else result_line_within(line)


def near_result_line(line: str) -> bool:
    """Whether LINE holds a result line's fields after a marker SMAC 2.10 does not read (a
    typo, another case): its last word is the seed, no quality."""
    return script_result_line(line) is None and bool(_NEAR_RESULT.search(line))


def parse_status(word: str) -> Status:
    """Map any accepted status word (case-insensitive) to one of STATUSES."""
    status = STATUS_WORDS.get(word.strip().upper())
    if status is None:
        accepted = "|".join(STATUS_WORDS)
        raise ProtocolError(f"status: expected one of {accepted}, got {word.strip()!r}")
    return status


def parse_result_line(line: str) -> RunResult | None:
    """Parse a result line as SMAC 2.10 does; None when `line` is not a result line."""
    if not is_result_line(line):
        return None
    payload = line.split(":", 1)[1].strip()
    if payload.startswith("{"):
        return _parse_json_result(payload)
    fields = [f.strip() for f in payload.split(",")]
    if len(fields) < 5:
        raise ProtocolError(
            f"expected 5 fields (status, runtime, runlength, quality, seed), got {len(fields)}"
        )
    additional = fields[5] if len(fields) == 6 else ""
    if len(fields) > 6:  # said as a line of the run's log, not as a Python warning
        print(
            f"warning: the result line has {len(fields)} fields (a comma in the additional"
            " data?); the additional data is dropped, as SMAC 2.10 does",
            file=sys.stderr,
            flush=True,
        )
    status = parse_status(fields[0])
    runtime = parse_double(fields[1], "runtime")
    if math.isnan(runtime) or runtime < 0:
        raise ProtocolError(f"runtime: expected a number >= 0, got {fields[1]!r}")
    runlength = parse_double(fields[2], "runlength")
    if math.isnan(runlength) or (runlength < 0 and runlength != -1):
        raise ProtocolError(f"runlength: expected a number >= 0 or -1, got {fields[2]!r}")
    quality = parse_double(fields[3], "quality")
    if math.isnan(quality):
        raise ProtocolError(f"quality: expected a number, got {fields[3]!r}")
    seed = parse_long(fields[4], "seed")
    return RunResult(status, runtime, runlength, quality, seed, additional, fields[0].upper())


def _parse_json_result(payload: str) -> RunResult:
    """AClib 2's JSON result: {"status", "runtime", "cost" or "quality", "misc"...}."""
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as error:
        raise ProtocolError(f"JSON result: {error}") from None
    if not isinstance(data, dict) or "status" not in data:
        raise ProtocolError("JSON result: expected an object with a 'status' key")
    given: Any = data.get("cost", data.get("quality", CRASHED_QUALITY))
    try:
        runtime, quality = float(data.get("runtime") or 0.0), float(given)
    except (TypeError, ValueError):
        raise ProtocolError("JSON result: runtime and cost must be numbers") from None
    misc = data.get("misc", data.get("additional-run-data", ""))
    additional = re.sub(r"[,\n\r]", " ", str(misc)) if misc else ""
    word = str(data["status"]).strip().upper()
    status = parse_status(word)
    if status == "SAT" and str(data.get("satisfiability", "")).lower() in ("unsat", "no", "0"):
        status = "UNSAT"
    return RunResult(status, runtime, 0.0, quality, -1, additional, word)


NO_RESULT_LINE = "ERROR: no line matched a result line"


def find_result(lines: Iterable[str], runtime: float = 0.0, seed: int = -1) -> RunResult:
    """The result of a run's stdout by SMAC 2.10's rules: one line, else CRASHED or ABORT,
    with RUNTIME (what the run took) and SEED (the call's). A line that matches and cannot
    be read is CRASHED, and counts as a match: a second matching line, read or not, ABORTs."""
    found: RunResult | None = None
    for line in lines:
        try:
            result = parse_result_line(line)
        except ProtocolError as error:  # a line that matched: CRASHED, unless another follows
            result = RunResult("CRASHED", runtime, 0.0, CRASHED_QUALITY, seed, f"ERROR: {error}")
        if result is None:
            continue
        if found is not None:
            additional = "duplicate lines matched"
            return RunResult("ABORT", runtime, 0.0, CRASHED_QUALITY, seed, additional)
        found = result
    if found is None:
        return RunResult("CRASHED", runtime, 0.0, CRASHED_QUALITY, seed, NO_RESULT_LINE)
    return found


_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # all that str.splitlines() splits on


TERMINAL_CODES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0e-\x1b]"
)
"""Window-title and link codes (OSC: a progress bar's title), colour and cursor codes
(Keras's errors are bold) and other control characters."""


def without_terminal_codes(text: str) -> str:
    """TEXT as a terminal shows it, for reading a number or a result line in it."""
    return TERMINAL_CODES.sub("", text)


def _clean(text: str, blank: str) -> str:
    """Remove commas (they split result fields; one between two words, as in `0,1`, becomes a
    space) and terminal codes; turn `blank` and line breaks into one space."""
    text = TERMINAL_CODES.sub("", re.sub(r",(?=\S)", " ", text).replace(",", ""))
    return re.sub(rf"[{re.escape(blank + _LINE_BREAKS)}]", " ", text).strip()


def format_additional(data: Mapping[str, object]) -> str:
    """`key=value` pairs joined by `;`: the 6th result field. Commas and newlines are removed."""
    parts = []
    for key, value in data.items():
        if value is None:
            continue
        numeric = isinstance(value, float | int) and not isinstance(value, bool)
        text = _number(value) if isinstance(value, float | int) and numeric else str(value)
        parts.append(f"{_clean(str(key), ';= ').replace(' ', '_')}={_clean(text, ';')}")
    return ";".join(parts)


def parse_additional(text: str) -> dict[str, object]:
    """The inverse of format_additional: numbers come back as floats; free text as `info`."""
    data: dict[str, object] = {}
    info: list[str] = []
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            if part.strip():
                info.append(part.strip())
            continue
        value = value.strip()
        data[key] = parse_double(value, key) if _DOUBLE_RE.fullmatch(value) else value
    if info:
        data["info"] = "; ".join(info)
    return data


_UUID = "AEATK_EXECUTION_UUID"
_PLAIN_NAME_RE = re.compile(r"[\w.-]{1,200}")


def execution_uuid(environ: Mapping[str, str]) -> str | None:
    """The run's UUID as SMAC 2.10 sets it: AEATK_EXECUTION_UUID, or, when that was already
    set (a SMAC run inside another one's run), the last of AEATK_EXECUTION_UUID_SUB_0, _1, ...
    Every run of a nested SMAC shares the outer AEATK_EXECUTION_UUID. None also when it is no
    plain file name: it names the run's folder, and `../x` would put that outside the runs."""
    uuid = environ.get(_UUID)
    level = 0
    while f"{_UUID}_SUB_{level}" in environ:
        uuid = environ[f"{_UUID}_SUB_{level}"]
        level += 1
    plain = uuid and _PLAIN_NAME_RE.fullmatch(uuid) and uuid.strip(".")
    return uuid if plain else None


def set_execution_uuid(env: dict[str, str], uuid: str) -> None:
    """Give a run its UUID in ENV as SMAC 2.10 does: AEATK_EXECUTION_UUID, or the next free
    AEATK_EXECUTION_UUID_SUB_n when the environment already has one."""
    name, level = _UUID, 0
    while name in env:
        name, level = f"{_UUID}_SUB_{level}", level + 1
    env[name] = uuid
