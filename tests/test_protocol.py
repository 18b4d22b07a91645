"""The classic wire format: call argv and result lines, as Java SMAC 2.10 writes and reads them."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smac_bridge.protocol import (
    ProtocolError,
    RunResult,
    TargetCall,
    build_call,
    execution_uuid,
    find_result,
    format_additional,
    format_json_result_line,
    format_result_line,
    java_double,
    parse_additional,
    parse_call,
    parse_double,
    parse_result_line,
    result_line_within,
    set_execution_uuid,
    shell_command,
    split_algo,
)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("INFO:root:Result of this algorithm run: SAT, 1, 0, 0.3, 42", "Result of this"),
        ("100%|##| 10/10 Result of this algorithm run: SAT, 1, 0, 0.7, -1", "Result of this"),
        ("\ufeffResult of this algorithm run: SAT, 1, 0, 0.3, -1", "Result of this"),
        ("[3] Final Result for ParamILS: SAT, 1, 0, 2, 3", "Final Result for ParamILS"),
        ("\x1b[32mResult of this algorithm run: SAT, 1, 0, 0.3, -1\x1b[0m", "Result of this"),
        ("myResult of this algorithm run: SAT, 1, 0, 0.3, -1", None),
        ("the Result is 3", None),
        # a log line that quotes a result line, and prose: no result
        ("INFO: sent 'Result of this algorithm run: SAT, 0.1, 0, 9.0, 1' to the tuner", None),
        ("baseline: best result of SMAC: 0.42", None),
    ],
)
def test_a_result_line_after_other_text_is_found_from_its_marker(line, found):
    within = result_line_within(line)
    assert (within if within is None else within[: len(found)]) == found
    assert within is None or parse_result_line(within) is not None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5.0, "5.0"),
        (0.1, "0.1"),
        (1e-4, "1.0E-4"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
        (8.85628188505854, "8.85628188505854"),
        (0.001, "0.001"),
        (9999999.0, "9999999.0"),
        (1e7, "1.0E7"),
        (123456789.0, "1.23456789E8"),
        (-2.5e-10, "-2.5E-10"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (100.5, "100.5"),
        (math.inf, "Infinity"),
        (5e-324, "4.9E-324"),  # Double.MIN_VALUE, as OpenJDK 17 (the spec's runs) prints it
        (-5e-324, "-4.9E-324"),
        (1e-323, "1.0E-323"),  # the other subnormals as their shortest digits, as there
        (-1.5e-323, "-1.5E-323"),
    ],
)
def test_java_double(value: float, text: str) -> None:
    assert java_double(value) == text


@given(st.floats(allow_nan=False))
def test_java_double_round_trips(value: float) -> None:
    assert parse_double(java_double(value), "x") == value


@pytest.mark.parametrize(
    ("algo", "words"),
    [
        ("python train.py", ["python", "train.py"]),
        ('  python  "my script.py"  --a 1 ', ["python", "my script.py", "--a", "1"]),
        ('echo \\"x\\"', ["echo", '"x"']),
        ("echo 'a b'", ["echo", "'a", "b'"]),
        ('a"b c"d', ["ab cd"]),
        ('x ""', ["x", ""]),
        ("$(touch /tmp/x) ; rm", ["$(touch", "/tmp/x)", ";", "rm"]),
    ],
)
def test_split_algo(algo: str, words: list[str]) -> None:
    assert split_algo(algo) == words


def test_split_algo_unbalanced_quote() -> None:
    with pytest.raises(ProtocolError, match="unbalanced"):
        split_algo('python "train.py')


def test_a_runs_uuid_nests_as_smac_2_10_nests_it() -> None:
    """A launch inside a SMAC run (or a SMAC inside a launch's trial) keeps the outer UUID
    and gives each run the next AEATK_EXECUTION_UUID_SUB_n, which the wrapper reads."""
    env: dict[str, str] = {}
    set_execution_uuid(env, "outer")
    assert env == {"AEATK_EXECUTION_UUID": "outer"} and execution_uuid(env) == "outer"
    set_execution_uuid(env, "inner")
    set_execution_uuid(env, "innermost")
    assert env["AEATK_EXECUTION_UUID_SUB_0"] == "inner" and execution_uuid(env) == "innermost"
    assert execution_uuid({}) is None
    for no_name in ("../../etc/x", "a/b", "..", "", "x" * 201):  # it names the run's folder
        assert execution_uuid({"AEATK_EXECUTION_UUID": no_name}) is None


def test_build_call_is_smac_2_10s_argv() -> None:
    config = {"zeta": 0.5, "alpha": "on", "mid": 2, "Beta": 1e-5, "off": None}
    argv = build_call(["python", "t.py"], cutoff=5.0, seed=-1, config=config)
    assert argv == [
        "python", "t.py", "no_instance", "0", "5.0", "2147483647", "-1",
        "-Beta", "1.0E-5", "-alpha", "on", "-mid", "2", "-zeta", "0.5",
    ]  # fmt: skip
    no_cutoff = build_call([], instance="i1", instance_info="info", cutoff=None, seed=7, config={})
    assert no_cutoff == ["i1", "info", "1.7976931348623157E308", "2147483647", "7"]


def test_a_whole_number_budget_is_an_integer_run_length() -> None:
    """A wrapper written for SMAC 2.10 parses the run-length field with int(), as SMAC 2.10
    writes it: epochs 1 to 9 came as `1.0` and crashed the first run of every multi-fidelity
    launch of a GenericWrapper4AC target. A budget that is no whole number stays a double."""
    epochs = build_call([], cutoff=10.0, seed=-1, config={"epochs": 9}, run_length=9)
    assert epochs == ["no_instance", "0", "10.0", "9", "-1", "-epochs", "9"]
    assert int(epochs[3]) == 9
    fraction = build_call([], cutoff=10.0, seed=-1, config={"epochs": 4.5}, run_length=4.5)
    assert fraction[3] == "4.5" and fraction[-1] == "4.5"


def test_parse_call_variants() -> None:
    smac2 = parse_call(["no_instance", "0", "1.0E-4", "2147483647", "-1", "-lr", "0.1"])
    assert smac2 == TargetCall("no_instance", "0", 1e-4, 2147483647.0, -1, {"lr": "0.1"})
    smac3 = parse_call(["0", "0", "10", "0", "0", "-lr", "'0.1'", "-h", "3"])
    assert smac3 == TargetCall("0", "0", 10.0, 0.0, 0, {"lr": "0.1", "h": "3"})
    assert parse_call(["i", "0", "1.7976931348623157E308", "2147483647", "3"]).cutoff is None
    assert parse_call(["i", "0", "99999999999999.0", "0", "3"]).cutoff is None
    assert parse_call(["i", "0", "1.0E10", "0", "3"]).cutoff is None  # from 1e10 on: none
    assert parse_call(["i", "0", "9.9E9", "0", "3"]).cutoff == 9.9e9
    aclib = parse_call(["--instance", "i", "--cutoff", "5", "--seed", "2", "--config", "-a", "1"])
    assert aclib == TargetCall("i", "0", 5.0, 2147483647.0, 2, {"a": "1"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["i", "0", "5.0"], "got 3 (missing: cutoff length, seed)"),
        (["i", "0", "five", "0", "1"], "argument 3 (cutoff time): expected a number"),
        (["i", "0", "5", "0", "-1.0"], "argument 5 (seed): expected an integer"),
        (["i", "0", "5", "0", "-9223372036854775809"], "argument 5 (seed): expected an integer"),
        (["i", "0", "5", "0", "1", "lr", "0.1"], "argument 6 ('lr'): expected a parameter name"),
        (["i", "0", "5", "0", "1", "-lr"], "argument 6 ('-lr'): parameter has no value"),
        (["i", "0", "5", "0", "1", "-a", "1", "-a", "2"], "argument 8: parameter -a given twice"),
        (["--cutof", "5", "--config"], "argument 1 ('--cutof')"),
    ],
)
def test_parse_call_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_call(argv)


names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=8)
values = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=8),
    st.sampled_from(["'q'", "''", "'a b'"]),  # a PCS value in quotes keeps them
)


def test_a_quoted_value_is_quoted_again_only_for_a_wrapper_that_strips_quotes() -> None:
    """smac-bridge wrap strips one pair of single quotes; a SMAC 2.10 wrapper strips none,
    and got ''q'' for the PCS value 'q'."""
    config = {"v": "'q'"}
    assert build_call([], cutoff=1.0, seed=1, config=config)[-1] == "'q'"
    assert build_call([], cutoff=1.0, seed=1, config=config, keep_quotes=True)[-1] == "''q''"


@given(
    st.dictionaries(names, st.one_of(st.none(), values), max_size=6),
    st.one_of(st.none(), st.floats(0.001, 1e9)),
    st.integers(-1, 2**31 - 1),
)
def test_build_call_parse_call_round_trip(
    config: dict[str, object], cutoff: float | None, seed: int
) -> None:
    call = parse_call(build_call([], cutoff=cutoff, seed=seed, config=config, keep_quotes=True))
    assert call.cutoff == cutoff and call.seed == seed
    active = {k: v for k, v in config.items() if v is not None}
    assert set(call.params) == set(active)
    for name, value in active.items():
        if isinstance(value, str):
            assert call.params[name] == value
        else:
            assert float(call.params[name]) == value


def test_format_result_line() -> None:
    line = format_result_line(RunResult("SAT", 1.23, 0, 0.05, -1, "test_error=0.04;cpu_time=1.2"))
    assert (
        line == "Result of this algorithm run: SAT, 1.23, 0, 0.05, -1, test_error=0.04;cpu_time=1.2"
    )
    assert format_result_line(RunResult("TIMEOUT", 2.0, 0, 1e9, 3)).endswith(
        "TIMEOUT, 2.0, 0, 1000000000, 3"
    )
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="quality"):
            format_result_line(RunResult("SAT", 1.0, 0, bad, -1))
    with pytest.raises(ValueError, match="status"):
        format_result_line(RunResult("CRASH", 1.0, 0, 1.0, -1))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Result of this algorithm run: SAT, 1, 0, 0.5, -1",
         RunResult("SAT", 1.0, 0.0, 0.5, -1)),
        ("  Result of algorithm run: success, 1.0, -1, 2, 7, a=1",
         RunResult("SAT", 1.0, -1.0, 2.0, 7, "a=1")),
        ("Final Result for ParamILS: UNSATISFIABLE, 0, 0, 3, 0",
         RunResult("UNSAT", 0.0, 0.0, 3.0, 0)),
        ("Result for SMAC: TIMEOUT, 5.0, 0, Infinity, 1",
         RunResult("TIMEOUT", 5.0, 0.0, math.inf, 1)),
        ("Result of this wrapper: MEMOUT, 1e-3, 0, 1, 1",
         RunResult("UNSAT", 0.001, 0.0, 1.0, 1)),
        ('Result of this algorithm run: {"status": "SUCCESS", "cost": 0.3, "runtime": 2}',
         RunResult("SAT", 2.0, 0.0, 0.3, -1)),
        ('Result of this algorithm run: {"status":"SUCCESS","satisfiability":"unsat","cost":3}',
         RunResult("UNSAT", 0.0, 0.0, 3.0, -1)),
        # AClib's cost is what it minimises; a quality beside it is information
        ('Result of this algorithm run: {"status": "SAT", "cost": 0.3, "quality": 0.9}',
         RunResult("SAT", 0.0, 0.0, 0.3, -1)),
        ("result of this algorithm run: SAT, 1, 0, 0.5, -1", None),
        ("Result of this algorithm run SAT, 1, 0, 0.5, -1", None),
        ("loss: 0.5", None),
    ],
)  # fmt: skip
def test_parse_result_line(line: str, expected: RunResult | None) -> None:
    assert parse_result_line(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Result of this algorithm run: CRASH, 1, 0, 0.5, -1", "status: expected one of"),
        ("Result of this algorithm run: SAT, 1, 0, 0.5", "expected 5 fields"),
        ("Result of this algorithm run: SAT, 1, 0, 0.5, -1.0", "seed: expected an integer"),
        ("Result for SMAC: SAT, 1, 0, 2, 9223372036854775808", "expected an integer of 64 bits"),
        ("Result of this algorithm run: SAT, -1, 0, 0.5, 1", "runtime: expected a number >= 0"),
        ("Result of this algorithm run: SAT, NaN, 0, 0.5, 1", "runtime"),
        ("Result of this algorithm run: SAT, 1, -2, 0.5, 1", "runlength"),
        ("Result of this algorithm run: SAT, 1, -0.5, 0.5, 1", "runlength"),  # -1 or >= 0
        ("Result of this algorithm run: SAT, 1, 0, nan, 1", "quality: expected a number"),
        ("Result of this algorithm run: SAT, 1, 0, NaN, 1", "quality: expected a number"),
    ],
)
def test_parse_result_line_errors(line: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_result_line(line)


def test_a_seed_is_a_java_long_to_its_last_value() -> None:
    """Java SMAC reads the seed with Long.valueOf: one more is a CRASHED run there."""
    for seed in (2**63 - 1, -(2**63)):
        result = parse_result_line(f"Result for SMAC: SAT, 1, 0, 2, {seed}")
        assert result is not None and result.seed == seed


def test_more_than_six_fields_drop_the_additional_data(capsys) -> None:
    """Said as a Python warning, with the source line that raised it, in the run's log."""
    result = parse_result_line("Result for SMAC: SAT, 1, 0, 2, 3, a=1, b=2")
    assert result == RunResult("SAT", 1.0, 0.0, 2.0, 3, "")
    said = capsys.readouterr().err
    assert said == (
        "warning: the result line has 7 fields (a comma in the additional data?); the"
        " additional data is dropped, as SMAC 2.10 does\n"
    )


def test_find_result_follows_smac_2_10() -> None:
    ok = "Result of this algorithm run: SAT, 1, 0, 0.5, -1"
    assert find_result(["noise", ok, "more"]).quality == 0.5
    assert find_result(["nothing"]).status == "CRASHED"
    measured = find_result(["nothing"], runtime=2.5, seed=7)  # what the run took, its seed
    assert (measured.runtime, measured.seed) == (2.5, 7)
    duplicate = find_result([ok, ok])
    assert (duplicate.status, duplicate.additional) == ("ABORT", "duplicate lines matched")
    bad = find_result(["Result for SMAC: CRASH, 1, 0, 1, 1"])
    assert bad.status == "CRASHED" and "status" in bad.additional
    # a line SMAC cannot read still matched: with another one, in either order, it ABORTs
    short = "Result for ParamILS: SAT, 1, 0, 2"
    for lines in ([ok, short], [short, ok], [short, short]):
        assert find_result(lines).status == "ABORT", lines


statuses = st.sampled_from(["SAT", "UNSAT", "TIMEOUT", "CRASHED", "ABORT"])
finite = st.floats(allow_nan=False, allow_infinity=False)
_text_chars = st.characters(
    min_codepoint=32, max_codepoint=0x2FFF, exclude_characters=",;=\x85\u2028\u2029"
)
safe_text = (
    st.text(_text_chars, max_size=10)
    .map(str.strip)
    .filter(lambda s: s != "" and not _looks_numeric(s))
)


def _looks_numeric(text: str) -> bool:
    try:
        parse_double(text, "x")
        return True
    except ProtocolError:
        return False


@given(
    statuses,
    st.floats(0, 1e12),
    st.sampled_from([0.0, -1.0, 5.0]),
    finite,
    st.integers(-1, 2**62),
    st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.one_of(finite, safe_text)),
)
def test_result_line_round_trip(
    status: str, runtime: float, runlength: float, quality: float, seed: int, data: dict
) -> None:
    result = RunResult(status, runtime, runlength, quality, seed, format_additional(data))
    assert parse_result_line(format_result_line(result)) == result
    assert parse_additional(result.additional) == data


def test_parse_additional() -> None:
    assert parse_additional("") == {}
    assert parse_additional("a=1;b=x y;c=1.0E-4") == {"a": 1.0, "b": "x y", "c": 1e-4}
    assert parse_additional("ERROR: free text") == {"info": "ERROR: free text"}
    assert format_additional({"reason": "exit code 1: ValueError: a, b;\nc", "n": None}) == (
        "reason=exit code 1: ValueError: a b  c"
    )
    # Keras's errors are bold in a terminal: its codes do not belong in SMAC's one line
    keras = "ValueError: \x1b[1mInput 0\x1b[0m of layer \x1b[38;5;208mdense\x1b[0m\x07"
    assert format_additional({"reason": keras}) == "reason=ValueError: Input 0 of layer dense"
    # a list in a message keeps its items apart: "ids like 01" said another thing
    assert format_additional({"reason": "expects ids like 0,1"}) == "reason=expects ids like 0 1"


def test_partial_report_writes_result_json_but_prints_no_line(tmp_path) -> None:
    code = "import smac_bridge.reporting; from smac_bridge import report; report(0.7, partial=True)"
    env = {**os.environ, "SMAC_BRIDGE_RUN_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    saved = (tmp_path / "result.json").read_text()
    assert '"partial": true' in saved and '"quality": 0.7' in saved


def test_report_prints_a_line_and_writes_result_json(tmp_path) -> None:
    code = "from smac_bridge import report; report(0.5, test_error=0.04)"
    env = {**os.environ, "SMAC_BRIDGE_RUN_DIR": str(tmp_path), "SMAC_BRIDGE_SEED": "42"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    result = parse_result_line(proc.stdout.strip())
    assert result is not None and (result.status, result.quality, result.seed) == ("SAT", 0.5, 42)
    assert result.additional == "test_error=0.04"
    saved = (tmp_path / "result.json").read_text()
    assert '"partial": false' in saved and '"test_error": 0.04' in saved
    env.pop("SMAC_BRIDGE_RUN_DIR")
    env.pop("SMAC_BRIDGE_SEED")
    code = "from smac_bridge import report; report(status='ABORT')"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.stdout.startswith("Result of this algorithm run: ABORT, ")
    assert proc.stdout.strip().endswith(", 0, 1000000000, -1")


def test_a_scripts_key_value_data_with_blanks_reads_as_numbers():
    """`test_error = 0.05; epochs = 12` in a script's own result line: numbers, so that the
    views sort and show them as such; free text stays text."""
    data = parse_additional(" test_error = 0.05; epochs = 12 ; optimizer = adam ; a note")
    assert data == {"test_error": 0.05, "epochs": 12.0, "optimizer": "adam", "info": "a note"}


def test_an_aclib_answer_carries_the_cost_and_the_runtime_apart():
    """An AClib 2 caller minimises `cost` and budgets by `runtime`: they must not mix."""
    line = format_json_result_line(RunResult("SAT", 12.5, 0, 0.125, 9, "a note"))
    prefix, _, payload = line.partition(":")
    assert prefix == "Result of this algorithm run"
    assert json.loads(payload) == {
        "status": "SUCCESS",  # as the generic wrapper maps SAT; Java's AClib reader knows no SAT
        "cost": 0.125,
        "runtime": 12.5,
        "misc": "a note",
    }
    for status in ("SAT", "UNSAT", "TIMEOUT", "CRASHED", "ABORT"):  # read back as it was
        result = RunResult(status, 1.0, 0.0, 0.5, -1)  # type: ignore[arg-type]
        assert parse_result_line(format_json_result_line(result)) == result


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
@given(
    words=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
        max_size=4,
    )
)
@example(words=["a\u200bb\x1b[2J", "\t\n", "\\'", "caf\udce9"])  # \udce9: the byte E9
def test_a_shown_command_line_is_printable_and_bash_runs_it_exactly(words, locale):
    """`best` prints the command that ran a run for the user to paste: a tab, a newline or an
    escape code in a value must neither act on the terminal nor change the command, in
    whatever locale the user's shell runs (a value's bytes, not its characters, are written)."""
    line = shell_command(words)
    assert line.isprintable()
    echoed = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {line}"] if words else ["true"],
        capture_output=True,
        env={"LC_ALL": locale},
        check=True,
    )
    assert echoed.stdout.split(b"\0")[:-1] == [os.fsencode(word) for word in words]
