"""`smac-bridge doe`: designs run through the real launcher, workers, wrapper and signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import run_cli, smac_bridge_env
from test_launch import finish, start_command

from smac_bridge.design import (
    check_saved_space,
    monte_carlo,
    read_configuration,
    read_design,
    save_space,
    write_design,
)
from smac_bridge.errors import InputError
from smac_bridge.layout import GroupLayout
from smac_bridge.pcs import parse_pcs
from smac_bridge.rundata import RunGroup

PCS = """\
x [-5, 10] [2.5]
opt {sgd, adam} [sgd]
mom [0, 1] [0.9]
n [1, 8] [2]i
mom | opt in {sgd}
{opt=adam, n=8}
"""

# The script under test. Run 00001 of a design waits until another run has started, so that
# two workers both contribute (a launch of one worker must not wait for a partner: it waited
# its whole minute); with a file `hold` next to it, runs from 00003 on wait while it exists.
TARGET = textwrap.dedent(
    """
    import argparse, os, time
    from pathlib import Path
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--opt", required=True)
    parser.add_argument("--mom", type=float, default=0.0)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--partner", action="store_true")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    run_dir = Path(os.environ["SMAC_BRIDGE_RUN_DIR"])
    group, here = run_dir.parents[1], Path(__file__).parent
    deadline = time.monotonic() + 60
    if args.partner and run_dir.name == "00001" and group.name.endswith("-doe"):
        while len(list((group / "running").glob("*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    if int(run_dir.name) >= 3:
        while (here / "hold").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    print(f"loss {(args.x - 1) ** 2 + args.mom + args.n}")
    """
)


def project(root: Path, runs: int | None = None, partner: bool = False) -> Path:
    """A scenario in ROOT that runs TARGET through `smac-bridge wrap`; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "target.py").write_text(TARGET, encoding="utf-8")
    (root / "space.pcs").write_text(PCS, encoding="utf-8")
    cmd = f"{sys.executable} {root / 'target.py'}" + (" --partner" if partner else "")
    limit = f"runcount_limit = {runs}\n" if runs else ""
    scenario = root / "demo.txt"
    scenario.write_text(
        f'algo = smac-bridge wrap --cmd "{cmd}"\nexecdir = {root}\nparamfile = space.pcs\n'
        f"run_obj = quality\ndeterministic = true\ncutoff_time = 90\n{limit}"
        f"outdir = {root / 'out'}\nshared-model-mode = true\n",
        encoding="utf-8",
    )
    return scenario


def doe(scenario: Path, *args: str) -> subprocess.Popen[str]:
    return start_command("doe", scenario, "--gpus", "none", *args)


def assert_ran_rows(group: RunGroup, rows: list[dict]) -> dict[str, dict]:
    """Every row ran exactly once, as the run with its number; returns records by run_id."""
    records = group.records()
    ids = [record["run_id"] for record in records]
    assert sorted(ids) == [f"{n:05d}" for n in range(1, len(rows) + 1)]
    by_id = {record["run_id"]: record for record in records}
    for number, row in enumerate(rows, 1):
        record = by_id[f"{number:05d}"]
        assert record["config"] == row and record["status"] == "SAT"
    assert group.claimed() == sorted(ids) and group.running() == []
    return by_id


# ---- designs in memory and in files -----------------------------------------------------


def test_monte_carlo_is_reproducible_and_respects_the_space(tmp_path: Path) -> None:
    space = parse_pcs(PCS)
    design = monte_carlo(space, 40, seed=3)
    assert design == monte_carlo(space, 40, seed=3) != monte_carlo(space, 40, seed=4)
    assert {row["opt"] for row in design} == {"sgd", "adam"}
    for row in design:
        assert ("mom" in row) == (row["opt"] == "sgd")
        assert not (row["opt"] == "adam" and row["n"] == 8)
        assert isinstance(row["n"], int) and isinstance(row["x"], float)
    write_design(design, tmp_path / "d.csv", ["x", "opt", "mom", "n"])
    assert read_design(tmp_path / "d.csv", space) == design  # exactly, floats included


def test_a_value_composed_otherwise_is_the_pcs_files_value(tmp_path: Path) -> None:
    """A sheet that wrote café as cafe + a combining accent was refused: "expected one of
    {..., café, ...}, got 'café'", two spellings no one can tell apart."""
    space = parse_pcs("drink {café, tea} [tea]\n")
    (tmp_path / "d.csv").write_text("drink\ncafe\u0301\ntea\n", encoding="utf-8")
    assert read_design(tmp_path / "d.csv", space) == [{"drink": "caf\u00e9"}, {"drink": "tea"}]
    space = parse_pcs("th\u00e9 {a, b} [a]\n")  # a column name too
    (tmp_path / "d.csv").write_text("the\u0301\nb\n", encoding="utf-8")
    assert read_design(tmp_path / "d.csv", space) == [{"th\u00e9": "b"}]


def test_a_deterministic_sample_has_no_repeats() -> None:
    """Seed -1 gives a repeated row the same result: it spent a run on nothing new (3 of 12
    rows of a small space were one configuration)."""
    space = parse_pcs("batch {32, 64} [32]\ndepth {shallow, deep} [shallow]\n")
    assert len({tuple(sorted(row.items())) for row in monte_carlo(space, 12, seed=1)}) < 12
    distinct = monte_carlo(space, 12, seed=1, distinct=True)
    assert sorted(tuple(sorted(row.items())) for row in distinct) == sorted(
        (("batch", b), ("depth", d)) for b in ("32", "64") for d in ("deep", "shallow")
    )  # the space's 4 configurations, each once
    three = monte_carlo(space, 3, seed=1, distinct=True)
    assert len({tuple(sorted(row.items())) for row in three}) == 3
    big = parse_pcs(PCS)
    assert monte_carlo(big, 20, seed=5, distinct=True) == monte_carlo(big, 20, seed=5)


def test_a_deterministic_sample_finds_the_rare_values_of_a_small_space() -> None:
    """A log-scaled integer in [1, 100] draws 97 about once in 500: 100 rows asked for gave
    95, said to be the whole space, and the largest seed --seed takes ended in a traceback."""
    space = parse_pcs("n integer [1, 100] [10] log\n")
    rows = monte_carlo(space, 100, seed=4, distinct=True)
    assert sorted(row["n"] for row in rows) == list(range(1, 101))
    assert len(monte_carlo(space, 3, seed=2**32 - 1, distinct=True)) == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("x,opt,mom,n\n1,sgd,0.5,abc\n", 2, "column 'n': expected an integer in [1, 8], got 'abc'"),
        ("x,opt,mom,n\n1,sgd,0.5,2.5\n", 2, "column 'n': expected an integer in [1, 8], got '2.5'"),
        ("x,opt,mom,n\n1,sgd,0.5,2\n11,sgd,0.5,2\n", 3, "expected a real in [-5.0, 10.0]"),
        ("x,opt,mom,n\n1,rmsprop,,2\n", 2, "column 'opt': expected one of {sgd, adam}"),
        ("x,opt,mom,n\n1,adam,0.5,2\n", 2, "column 'mom': must be empty (inactive here)"),
        ("x,opt,mom,n\n1,sgd,,2\n", 2, "column 'mom': expected a real in [0.0, 1.0] (active"),
        ("x,opt,mom,n\n1,adam,,8\n", 2, "forbidden"),
        ("x,opt,mom,n\n1,sgd,0.5\n", 2, "expected 4 cells, got 3"),
        ("x,opt,n\n1,adam,3\n", 1, "missing columns: mom"),
        ("x,opt,mom,n,lr\n", 1, "unknown column 'lr'"),
        # a European spreadsheet's `;`, or tabs, made one unknown column 'x;opt;mom;n'
        ("x;opt;mom;n\n1;sgd;0.5;2\n", 1, "the file seems to be separated by ';': a design's"),
        ("\nx\topt\tmom\tn\n1\tsgd\t0.5\t2\n", 2, "seems to be separated by tabs"),
        ("x,opt,mom,n,\n1,sgd,0.5,2,\n", 1, "the header has an empty column name (a trailing"),
        ("x,,opt,mom,n\n", 1, "the header has an empty column name"),
        # float() reads them as numbers: 0.01 and 1
        ("x,opt,mom,n\n1_0e-3,adam,,2\n", 2, "expected a real in [-5.0, 10.0], got '1_0e-3'"),
        ("x,opt,mom,n\n1,adam,,\u0661\n", 2, "expected an integer in [1, 8], got '\u0661'"),
        # a quoted cell over two lines: the row starts on line 2
        ('x,opt,mom,n\n1,"ad\nam",,2\n', 2, "column 'opt': expected one of {sgd, adam}"),
        # blank lines are skipped, before the header too
        ("\nx,opt,mom,n\n1,sgd,0.5,2\n1,sgd,0.5,12\n", 4, "expected an integer in [1, 8]"),
        # and so are comment lines: a first line `# ...` was read as the header
        ("# grid\nx,opt,mom,n\n # n = 2\n1,sgd,0.5,12\n", 4, "expected an integer in [1, 8]"),
        # a quote never closed takes the rest of the file into one cell
        ('x,opt,mom,n\n1,"sgd,0.5,2\n2,adam,,2\n', 2, 'runs on to line 3: a missing closing "'),
        # ... in the last cell of the last row, whose value then reads well: it was taken
        ('x,opt,mom,n\n1,sgd,0.5,"2\n', 2, "the quoted last cell is never closed (a quoted"),
        # ... past the csv module's cell limit of 131072 characters
        ('x,opt,mom,n\n1,"sgd,0.5,2\n' + "2,adam,,2\n" * 20000, 2, 'a missing closing "'),
    ],
)
def test_bad_design_rows_name_file_line_and_expectation(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "design.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_design(path, parse_pcs(PCS))
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ('x\n"3\n4\n5\n', True),  # the open cell took in the rows after it
        ('x\n"3\n4"\n', False),  # closed: a value over two lines, no missing quote
        ('x\n"3\n"4\n', False),  # closed, with text after the quote: no missing quote
    ],
)
def test_an_open_quote_in_a_one_column_design_is_named(tmp_path: Path, text: str, hint: bool):
    """With one column, the cell a quote left open is one cell, as a row needs: the range
    error showed the rows it took in as one value, without the missing quote's hint."""
    path = tmp_path / "design.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_design(path, parse_pcs("x real [-5, 10] [0]\n"))
    assert caught.value.line == 2 and "expected a real in [-5.0, 10.0]" in caught.value.message
    assert ('a missing closing "?' in caught.value.message) == hint


def test_a_design_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    """A Latin-1 'é' gave Python's "'utf-8' codec can't decode byte 0xe9 in position 57"."""
    path = tmp_path / "design.csv"
    path.write_bytes("x,opt,mom,n\n1,sgd,0.5,2\n2,adam,,2 # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        read_design(path, parse_pcs(PCS))
    assert caught.value.line == 3 and "is not UTF-8 text (byte 0xe9)" in caught.value.message


@pytest.mark.parametrize(
    ("now", "named"),
    [
        ("z {a, b} [a]\ny [0, 1] [0.5]\nx [0, 2] [1]\n", "the file has 'x real [0.0, 2.0]"),
        ("z {a, b} [a]\ny [0, 1] [0.5]\ny | z == a\n", "the file has 'y | z == a'"),
    ],
)
def test_a_changed_space_is_named_by_its_declarations(tmp_path: Path, now: str, named: str):
    """The refusal of a resume into another space named nothing, then quoted the blank lines
    between the PCS file's sections."""
    layout = GroupLayout(tmp_path / "group")
    layout.path.mkdir()
    pcs = tmp_path / "space.pcs"
    pcs.write_text("z {a, b} [a]\ny [0, 1] [0.5]\nx [0, 1] [0.5]\n")
    save_space(layout, pcs)
    pcs.write_text(now)
    with pytest.raises(InputError) as caught:
        check_saved_space(layout, pcs)
    assert named in caught.value.message and "''" not in caught.value.message


def test_a_space_saved_a_moment_before_by_another_worker_must_be_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers started a new rungroup at the same moment with different PCS files: both
    found no saved space, both saved theirs, the last replacing the first, and both ran,
    one proposing from a space the runs were not made in."""
    layout = GroupLayout(tmp_path / "group")
    layout.path.mkdir()
    mine, theirs = tmp_path / "mine.pcs", tmp_path / "theirs.pcs"
    mine.write_text("x [0, 1] [0.5]\n")
    theirs.write_text("x [0, 2] [0.5]\n")
    link = os.link

    def theirs_first(source: Path, target: Path) -> None:
        monkeypatch.setattr(os, "link", link)
        save_space(layout, theirs)  # the other worker, a moment earlier
        link(source, target)

    monkeypatch.setattr(os, "link", theirs_first)
    with pytest.raises(InputError, match="not the search space of the runs"):
        save_space(layout, mine)
    assert "[0.0, 2.0]" in layout.space.read_text() and not list(layout.path.glob(".*.tmp"))
    save_space(layout, theirs)  # the same space, saved meanwhile: it joins


@pytest.mark.parametrize(
    ("now", "named"),
    [
        ("x [0, 1] [0.5]\nopt {a, b} [a]\nlr [0, 1] [0.5]\nz [0, 1] [0.5]\n", "no value of z,"),
        ("x [0, 1] [0.5]\nopt {a, b} [b]\nlr [0, 1] [0.5]\nlr | opt == b\n", "it sets lr, which"),
        ("x [0, 0.25] [0.1]\nopt {a, b} [a]\nlr [0, 1] [0.5]\n", "name 'x'"),
    ],
)
def test_runs_outside_a_space_whose_saved_copy_is_gone_name_the_parameter(
    tmp_path: Path, now: str, named: str
) -> None:
    """With space.pcs gone, the runs themselves are checked: a parameter added to the PCS
    file, or one a new condition leaves inactive, was refused without its name (ConfigSpace
    gives it on a second line, which the message left out)."""
    layout = GroupLayout(tmp_path / "group")
    layout.path.mkdir()
    pcs = tmp_path / "space.pcs"
    pcs.write_text(now)
    records = [{"run_id": "00001", "config": {"x": 0.5, "opt": "a", "lr": 0.3}}]
    with pytest.raises(InputError) as caught:
        check_saved_space(layout, pcs, records)  # type: ignore[arg-type]
    message = caught.value.message
    assert "space.pcs, the space saved there, is gone): run 00001's" in message, message
    assert named in message, message


SPELLED = "opt {sgd, rms, adam} [sgd]\nlayers [1, 8] [2]i\nmomentum [0, 1] [0.5]\n"


@pytest.mark.parametrize(
    ("then", "now", "same"),
    [
        ("momentum | opt in {sgd, rms}", "momentum | opt in {rms, sgd}", True),
        ("{opt=sgd, layers=6}", "{layers=6, opt=sgd}", True),
        ("{ opt == rms && layers > 5 }", "{ (opt == rms) && (layers>5) }", True),
        ("{ opt == rms && layers > 5 }", "{ opt == rms && layers > 4 }", False),
        ("momentum | opt in {sgd, rms}", "momentum | opt in {sgd, adam}", False),
    ],
)
def test_one_space_spelled_otherwise_is_the_runs_space(tmp_path: Path, then, now, same) -> None:
    """The order of a condition's values or of a classic clause's pairs, and the spaces and
    brackets of an expression, are how the user spells one space: a resume was refused."""
    layout = GroupLayout(tmp_path / "group")
    layout.path.mkdir()
    pcs = tmp_path / "space.pcs"
    pcs.write_text(f"{SPELLED}{then}\n")
    save_space(layout, pcs)
    pcs.write_text(f"{SPELLED}{now}\n")
    if same:
        check_saved_space(layout, pcs)
    else:
        with pytest.raises(InputError, match="not the search space of the runs"):
            check_saved_space(layout, pcs)


def test_a_run_an_expression_forbids_is_no_run_of_a_space_whose_saved_copy_is_gone(tmp_path):
    layout = GroupLayout(tmp_path / "group")
    layout.path.mkdir()
    pcs = tmp_path / "space.pcs"
    pcs.write_text(f"{SPELLED}{{ opt == rms && layers > 5 }}\n")
    records = [{"run_id": "00002", "config": {"opt": "rms", "layers": 6, "momentum": 0.1}}]
    with pytest.raises(InputError) as caught:
        check_saved_space(layout, pcs, records)  # type: ignore[arg-type]
    assert "run 00002's configuration is none of this file's (an advanced forbidden" in str(
        caught.value
    )


def test_a_damaged_saved_space_is_named_not_the_users_pcs_file(tmp_path: Path) -> None:
    """A damaged space.pcs beside the runs was reported as the user's (correct) PCS file
    not being the search space of the runs, with advice to restore that file; and once
    repaired as advised (the user's file copied over it), the same space was refused."""
    layout = GroupLayout(tmp_path / "group")
    layout.path.mkdir()
    pcs = tmp_path / "space.pcs"
    pcs.write_text("x [0, 1] [0.5]\n")
    save_space(layout, pcs)
    layout.space.write_text("garbage [[[\n")
    with pytest.raises(InputError) as caught:
        check_saved_space(layout, pcs)
    assert (caught.value.path, caught.value.line) == (str(layout.space), 1)
    assert "the search space saved beside the runs is damaged" in caught.value.message
    (layout.space).write_text(pcs.read_text())  # the repair the message advises
    check_saved_space(layout, pcs)  # the same space, written as the user wrote it


def test_an_initial_incumbent_reads_as_smac_writes_a_configuration(tmp_path: Path) -> None:
    """`-name 'value'` pairs as SMAC 2.10 logs them; left-out active parameters take their
    default, also a child its parent's value makes active; a bad value names file and line."""
    space = parse_pcs(PCS)
    where = (tmp_path / "tune.txt", 7)
    assert read_configuration("-x '0.5' -opt 'adam'", space, where) == {
        "x": 0.5,
        "opt": "adam",
        "n": 2,
    }
    assert read_configuration("-opt sgd -n 8", space, where) == {
        "x": 2.5,
        "opt": "sgd",
        "mom": 0.9,
        "n": 8,
    }
    odd = parse_pcs("opt {a'b, a\\b, 'q', q, \"} [q]\n")
    for text, value in (  # shlex took quotes and backslashes for its own
        ("-opt 'a'b'", "a'b"),
        ("-opt a'b", "a'b"),
        ("-opt 'a\\b'", "a\\b"),
        ("-opt ''q''", "'q'"),
        ('-opt "q"', "q"),
        ("-opt '\"'", '"'),
    ):
        assert read_configuration(text, odd, where) == {"opt": value}, text
    for text, message in (
        ("-x '11'", "parameter 'x': expected a real in [-5.0, 10.0], got '11'"),
        ("-lr 0.1", "unknown parameter 'lr'; parameters: "),
        ("-x", "expected -name 'value' pairs"),
        ("-opt adam -n 8", "the configuration is forbidden by {opt=adam, n=8}"),
        ("-n 3 -x 1 -n 4", "expected each parameter once, got -n more than once"),
        ("-opt adam -mom 0.5", "parameter 'mom': must be empty (inactive here)"),
    ):
        with pytest.raises(InputError, match=f"^{tmp_path / 'tune.txt'}:7: initial-incumbent: "):
            read_configuration(text, space, where)
        with pytest.raises(InputError) as error:
            read_configuration(text, space, where)
        assert message in str(error.value)


def test_a_forbidden_expression_is_named_as_the_pcs_file_writes_it(tmp_path: Path) -> None:
    space = parse_pcs("m [1, 8] [2]i\nn [1, 8] [4]i\n{ m > n }\n")
    with pytest.raises(InputError) as error:
        read_configuration("-m 5 -n 3", space, (tmp_path / "tune.txt", 3))
    assert error.value.message == ("initial-incumbent: the configuration is forbidden by { m > n }")


def test_bad_csv_on_the_command_line_exits_1_with_file_and_line(tmp_path: Path) -> None:
    scenario = project(tmp_path)
    (tmp_path / "bad.csv").write_text("x,opt,mom,n\n1,sgd,0.5,2\n1,sgd,0.5,99\n")
    result = run_cli("doe", str(scenario), "--design", "bad.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: bad.csv:3: column 'n': expected an integer in [1, 8], got '99'" in result.stderr
    (tmp_path / "semicolons.csv").write_text("x;opt;mom;n\n1;sgd;0.5;2\n")
    result = run_cli("doe", str(scenario), "--design", "semicolons.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: semicolons.csv:1: the file seems to be separated by ';'" in result.stderr
    assert not (tmp_path / "out").exists()
    result = run_cli("doe", str(scenario), cwd=tmp_path)
    assert result.returncode == 2 and "--sample N or --design" in result.stderr


# ---- designs run by real launches ---------------------------------------------------------


@pytest.mark.slow
def test_monte_carlo_design_runs_its_rows_with_two_workers(tmp_path: Path) -> None:
    scenario = project(tmp_path, partner=True)
    code, output = finish(doe(scenario, "--sample", "5", "--seed", "7", "--parallel", "2"))
    assert code == 0, output
    assert "design: 5 rows" in output
    group = RunGroup(tmp_path / "out" / "demo-doe")
    design = monte_carlo(parse_pcs(PCS), 5, seed=7)
    assert read_design(group.layout.design, parse_pcs(PCS)) == design
    records = assert_ran_rows(group, design)
    assert set(Counter(r["worker"] for r in records.values())) == {1, 2}
    assert group.launch_info()["budget"] == 5
    best = min(records.values(), key=lambda record: record["cost"])
    assert f"run {best['run_id']}" in output  # the summary names the best row's run
    # a launch of the same scenario, into the same outdir, does not collide with the design
    launched = subprocess.run(
        [sys.executable, "-m", "smac_bridge.cli", "launch", str(scenario), "--quiet"]
        + ["--gpus", "none", "--set", "runcount_limit=2"],
        cwd=scenario.parent,
        env=smac_bridge_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert len(RunGroup(tmp_path / "out" / "demo").records()) == 2
    assert len(group.records()) == 5


def test_a_design_and_a_launch_do_not_take_over_each_others_rungroup(tmp_path: Path) -> None:
    """doe --resume into a launch's rungroup took its SMAC runs for design rows 1 to 4, which
    never ran, and turned the launch into a design for good; a launch --resume of a design
    ran nothing and said the design was finished, exit 0."""
    scenario = project(tmp_path)
    launched = run_cli("launch", str(scenario), "--quiet", "--gpus", "none", "--set",
                       "runcount_limit=1", cwd=tmp_path)  # fmt: skip
    assert launched.returncode == 0, launched.stdout + launched.stderr
    smac = RunGroup(tmp_path / "out" / "demo")
    for resume in ([], ["--resume"]):
        code, output = finish(doe(scenario, "--sample", "2", "--set", "rungroup=demo", *resume))
        said = " ".join(output.split())
        assert code == 1 and "holds runs but no design.csv (a SMAC launch's," in said, output
    assert not smac.layout.design.exists() and len(smac.records()) == 1
    code, output = finish(doe(scenario, "--sample", "1", "--parallel", "2"))
    assert code == 0, output
    said = " ".join(output.split())  # the scenario's runcount_limit is not what limits it
    assert "--parallel 2 is more than the 1 run left of the design's 1 row: 1 worker" in said
    again = run_cli("launch", str(scenario), "--resume", "--set", "rungroup=demo-doe", cwd=tmp_path)
    said = " ".join(again.stderr.split())
    assert again.returncode == 1 and "continue it with smac-bridge doe --resume" in said, said
    code, output = finish(doe(scenario, "--resume", "--outdir", str(tmp_path / "elsewhere")))
    assert code == 1 and "nothing to resume: no design here" in output, output


def test_a_design_stops_at_its_budget_limit(tmp_path: Path) -> None:
    """Every row trains at max-budget: 4 rows of 3 epochs trained 12 of a budget-limit of 7,
    and status said 0 units were used. (A design asks no model: the smac-facade that a
    multi-fidelity launch refuses is no matter here.)"""
    scenario = project(tmp_path)
    fidelity = ["budget-flag=epochs", "min-budget=1", "max-budget=3", "budget-limit=7"]
    fidelity.append("smac-facade=random")
    sets = [word for option in fidelity for word in ("--set", option)]
    code, output = finish(doe(scenario, "--sample", "4", "--parallel", "2", *sets))
    assert code == 0, output
    # one line for the launch, not one per worker ("before row 3 of 4; before row 4 of 4")
    assert "ended: budget-limit used up before the design's last row\n" in output, output
    assert "not run: rows 3, 4 of the design's 4; a resume with a larger budget-limit" in output
    group = RunGroup(tmp_path / "out" / "demo-doe")
    assert sorted(r["run_id"] for r in group.records()) == ["00001", "00002"]
    assert group.units_used() == 6 and group.claimed() == ["00001", "00002"]


@pytest.mark.slow
def test_csv_design_capped_by_runcount_limit(tmp_path: Path) -> None:
    scenario = project(tmp_path, runs=2)
    # 2.0: as a sheet writes; 1.50000000000001: more decimals than ConfigSpace keeps (13)
    rows = "x,opt,mom,n\n1.50000000000001,sgd,0.25,3\n-2,adam,,2.0\n0,adam,,1\n-2,adam,,2\n"
    (tmp_path / "design.csv").write_text(rows, encoding="utf-8")
    code, output = finish(doe(scenario, "--design", "design.csv"))
    assert code == 0, output
    said = " ".join(output.split())  # row 4 is row 2 again, which measures nothing new
    assert (
        "design: 4 rows; row 4 (= 2) repeats an earlier row, which a deterministic scenario runs"
        " again with the same seed; runcount_limit = 2 caps the run budget at 2 rows" in said
    ), said
    assert "ended: runcount_limit reached (2 of the design's 4 rows)" in output, output
    group = RunGroup(tmp_path / "out" / "demo-doe")
    expected = [{"x": 1.5, "opt": "sgd", "mom": 0.25, "n": 3}, {"x": -2.0, "opt": "adam", "n": 2}]
    records = assert_ran_rows(group, expected)
    # the saved design says what the run ran, not a value it was rounded from
    assert group.layout.design.read_text().splitlines()[1] == "3,sgd,1.5,0.25"
    argv = json.loads(group.run("00002").command.read_text())["argv"]
    assert argv[-6:] == ["--n", "2", "--opt", "adam", "--x", "-2.0"]  # no --mom: inactive
    assert records["00001"]["quality"] == pytest.approx(0.25 + 0.25 + 3)


def test_a_row_a_hair_from_the_default_runs_as_written_not_as_the_default(tmp_path: Path) -> None:
    """2.5000000001 beside a default of 2.5: design.csv kept the row's value while the script
    got 2.5, the default, and the record said so; the two disagreed without a word."""
    scenario = project(tmp_path, runs=2)
    rows = "x,opt,mom,n\n2.5000000001,sgd,0.9,2\n2.5,sgd,0.9,2\n"
    (tmp_path / "design.csv").write_text(rows, encoding="utf-8")
    code, output = finish(doe(scenario, "--design", "design.csv"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo-doe")
    near = {"x": 2.5000000001, "opt": "sgd", "mom": 0.9, "n": 2}
    assert_ran_rows(group, [near, {**near, "x": 2.5}])
    argv = json.loads(group.run("00001").command.read_text())["argv"]
    assert argv[argv.index("--x") + 1] == "2.5000000001", argv


def test_a_saved_design_edited_before_its_rows_that_ran_is_refused_on_resume(tmp_path):
    """A row inserted into the saved design.csv moved the rows after it: the resume ran an
    old row a second time and never the new one, and a row changed after it ran named values
    its run never had. Rows added at the end run."""
    scenario = project(tmp_path)
    rows = "x,opt,mom,n\n1,adam,,1\n2,adam,,2\n"
    (tmp_path / "design.csv").write_text(rows, encoding="utf-8")
    code, output = finish(doe(scenario, "--design", "design.csv"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "demo-doe")
    saved = group.layout.design
    header, first, second = saved.read_text().splitlines()
    for edited in ([header, first, "3,adam,5,", second], [header, "1,adam,9,", second]):
        saved.write_text("\n".join(edited) + "\n")
        code, output = finish(doe(scenario, "--resume"))
        assert code == 1, output
        assert f"{saved}: row 2 of the design is not what run 00002 ran" in output or (
            f"{saved}: row 1 of the design is not what run 00001 ran" in output
        ), output
        assert len(group.records()) == 2
    saved.write_text("\n".join([header, first, second, "3,adam,5,"]) + "\n")
    code, output = finish(doe(scenario, "--resume"))
    assert code == 0, output
    assert_ran_rows(group, [{"x": 1.0, "opt": "adam", "n": 1}, {"x": 2.0, "opt": "adam", "n": 2},
                            {"x": 5.0, "opt": "adam", "n": 3}])  # fmt: skip


def test_a_sample_of_a_small_space_repeats_rows_only_where_a_repeat_measures_anew(tmp_path):
    """A deterministic scenario draws each configuration once (a repeat would give the same
    result) and says when the space holds fewer than asked; a nondeterministic one keeps
    every row asked for, its repeats being replicates under other seeds (docs/doe.md)."""
    scenario = project(tmp_path)
    (tmp_path / "small.pcs").write_text("x {1, 2} [1]\nopt {sgd, adam} [sgd]\nn {2} [2]\n")
    small = ("--set", "paramfile=small.pcs", "--sample")
    fewer = "(random draws found no more distinct configurations in the space)"
    replicates = ("--set", "deterministic=false", "--set", "rungroup=replicates")
    code, output = finish(doe(scenario, *small, "6", *replicates))
    assert code == 0 and "design: 6 rows" in output and fewer not in output, output
    assert len(RunGroup(tmp_path / "out" / "replicates").records()) == 6
    code, output = finish(doe(scenario, *small, "6"))
    assert code == 0 and f"design: 4 rows {fewer}" in output, output
    code, output = finish(doe(scenario, *small, "3", "--set", "rungroup=three"))
    assert code == 0 and "design: 3 rows" in output and fewer not in output, output


def test_a_seed_offset_gives_a_nondeterministic_design_other_seeds(tmp_path: Path) -> None:
    """A second set of replicates of a design (`--seed-offset 100`, as for `launch`) ran
    with the very seeds of the first, row k with seed k: the same results all over again."""
    scenario = project(tmp_path)
    (tmp_path / "design.csv").write_text("x,opt,mom,n\n0,adam,,1\n1,adam,,2\n", "utf-8")
    nondeterministic = ("--design", "design.csv", "--set", "deterministic=false")
    code, output = finish(doe(scenario, *nondeterministic, "--seed-offset", "100"))
    assert code == 0, output
    records = RunGroup(tmp_path / "out" / "demo-doe").records()
    assert sorted((r["run_id"], r["seed"]) for r in records) == [("00001", 101), ("00002", 102)]
    code, output = finish(doe(scenario, *nondeterministic, "--seed-offset", str(2**32 - 2)))
    assert code == 1, output  # row 2's seed would be 2**32, which numpy refuses
    assert "+ the design's 2 rows is more than 4294967295" in output, output


def test_a_design_resumes_with_a_paramfile_given_only_with_set(tmp_path: Path) -> None:
    """As for launch: the resume finds `<rungroup>-doe` and its earlier --set paramfile
    without the scenario file naming one."""
    scenario = project(tmp_path)
    scenario.write_text(scenario.read_text().replace("paramfile = space.pcs\n", ""))
    first = ["--sample", "2", "--set", "paramfile=space.pcs", "--set", "runcount_limit=1"]
    code, output = finish(doe(scenario, *first))
    assert code == 0, output
    code, output = finish(doe(scenario, "--resume", "--set", "runcount_limit=2"))
    assert code == 0, output
    assert "--set paramfile=space.pcs" in output
    assert len(RunGroup(tmp_path / "out" / "demo-doe").records()) == 2
    # done: a runcount_limit of the row count is no limit the user could raise
    code, output = finish(doe(scenario, "--resume"))
    assert code == 0, output
    assert "every row of the design (2 rows) has run: nothing is left" in output
    assert "raise it" not in output and "run budget used up" not in output
    assert "ended: design finished by the earlier sessions" in output
    # a narrowed PCS is a changed search space, not a bad row of the saved design
    (tmp_path / "space.pcs").write_text(PCS.replace("x [-5, 10] [2.5]", "x [2, 3] [2.5]"))
    code, output = finish(doe(scenario, "--resume"))
    assert code == 1 and "not the search space of the runs" in output, output
    assert "design.csv" not in output


def test_a_design_may_resume_with_deterministic_turned_on(tmp_path: Path) -> None:
    """A launch refuses it (new runs on one seed could never match an earlier incumbent's
    seeds); a design runs each row once, so a resume of one has nothing to match."""
    scenario = project(tmp_path)
    seeded = ["--sample", "2", "--set", "runcount_limit=1", "--set", "deterministic=false"]
    code, output = finish(doe(scenario, *seeded))
    assert code == 0, output
    again = ["--resume", "--set", "runcount_limit=2", "--set", "deterministic=true"]
    code, output = finish(doe(scenario, *again))
    assert code == 0, output
    assert len(RunGroup(tmp_path / "out" / "demo-doe").records()) == 2


def test_a_design_resumed_at_another_seed_offset_says_the_rows_left_get_other_seeds(tmp_path):
    """Row k runs with seed offset + k: a resume at another --seed-offset changes the seeds
    of the rows left, which a user comparing replicates must hear of."""
    scenario = project(tmp_path)
    seeded = ["--sample", "3", "--set", "runcount_limit=1", "--set", "deterministic=false"]
    code, output = finish(doe(scenario, *seeded, "--seed-offset", "10"))
    assert code == 0, output
    code, output = finish(doe(scenario, "--resume", "--set", "runcount_limit=2"))
    assert code == 0 and "another" not in output and "seeds from" not in output, output
    code, output = finish(
        doe(scenario, "--resume", "--set", "runcount_limit=3", "--seed-offset", "0")
    )
    assert code == 0, output
    assert "got their seeds from --seed-offset 10" in output, output
    assert "resume with --seed-offset 10 to keep" in output
    seeds = {r["run_id"]: r["seed"] for r in RunGroup(tmp_path / "out" / "demo-doe").records()}
    assert seeds == {"00001": 11, "00002": 12, "00003": 3}


@pytest.mark.slow
def test_sigint_then_resume_runs_exactly_the_remaining_rows(tmp_path: Path) -> None:
    scenario = project(tmp_path)
    (tmp_path / "hold").write_text("")
    launch = doe(scenario, "--sample", "6", "--parallel", "2")
    group = RunGroup(tmp_path / "out" / "demo-doe")
    deadline = time.monotonic() + 90
    while not (len(group.records()) >= 2 and len(group.running()) == 2):
        assert time.monotonic() < deadline and launch.poll() is None, "runs never started"
        time.sleep(0.1)
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=60)
    assert code == 130, output
    before = {record["run_id"]: record for record in group.records()}
    assert set(before) == {"00001", "00002"} and group.running() == []
    assert group.claimed() == ["00001", "00002"]  # the interrupted rows' slots are free again

    code, output = finish(doe(scenario, "--resume", "--sample", "6", "--seed", "2"))
    assert code == 1 and "--sample 6: not the design of the run being resumed" in output
    assert "design.csv: row 1 differs in " in output, output  # where, not only that
    code, output = finish(doe(scenario, "--resume", "--sample", "5"))
    assert code == 1 and "design.csv: 6 rows there, 5 here)" in output, output
    assert "--set rungroup=NAME" in output  # the way to a second design beside it
    (tmp_path / "hold").unlink()
    code, output = finish(doe(scenario, "--resume", "--parallel", "2"))
    assert code == 0, output
    after = assert_ran_rows(group, monte_carlo(parse_pcs(PCS), 6, seed=1))
    assert all(after[run_id] == record for run_id, record in before.items())
    # a design that extends the saved one runs its added rows (it was refused as another)
    extended = monte_carlo(parse_pcs(PCS), 6, seed=1) + monte_carlo(parse_pcs(PCS), 2, seed=7)
    write_design(extended, tmp_path / "more.csv", ["x", "opt", "mom", "n"])
    code, output = finish(doe(scenario, "--resume", "--design", str(tmp_path / "more.csv")))
    assert code == 0 and "design: 8 rows (2 rows added at its end)" in output, output
    assert assert_ran_rows(group, extended)["00001"] == after["00001"]


@pytest.mark.parametrize("source", ["csv", "sample"])
def test_a_row_that_leaves_a_templates_parameter_inactive_is_refused_before_any_run(
    tmp_path: Path, source: str
) -> None:
    """`${mom}` in the command and a row with `opt = adam` (mom inactive): the row's run was
    CRASHED, or as the first row aborted the design, after the rungroup was made."""
    scenario = project(tmp_path)
    text = scenario.read_text().replace(
        f"{tmp_path / 'target.py'}", f"{tmp_path / 'target.py'} --x ${{x}} --mom ${{mom}}"
    )
    scenario.write_text(text, encoding="utf-8")
    (tmp_path / "design.csv").write_text("x,opt,mom,n\n1,sgd,0.5,1\n2,adam,,1\n")
    given = ["--design", "design.csv"] if source == "csv" else ["--sample", "8"]
    code, output = finish(doe(scenario, *given))
    said = " ".join(output.split())
    assert code == 1, output
    assert "of the design (" in said and "leaves mom inactive, and the command's ${mom}" in said
    if source == "csv":
        assert "error: design.csv: row 2 of the design (n=1 opt=adam x=2)" in said, said
    assert not (tmp_path / "out").exists()


def test_a_row_that_ran_before_a_template_was_added_does_not_stop_the_resume(tmp_path):
    """The check of rows against the command's templates refused the resume for a row that
    had run already, and so could neither run again nor be dropped."""
    scenario = project(tmp_path)
    (tmp_path / "design.csv").write_text("x,opt,mom,n\n1,sgd,0.5,1\n2,adam,,1\n")
    code, output = finish(doe(scenario, "--design", "design.csv"))
    assert code == 0, output
    text = scenario.read_text().replace("target.py", "target.py --x ${x} --mom ${mom}", 1)
    scenario.write_text(text, encoding="utf-8")
    group = RunGroup(tmp_path / "out" / "demo-doe")
    header = group.layout.design.read_text().splitlines()[0].split(",")
    row = {"x": "3", "opt": "sgd", "mom": "0.25", "n": "2"}
    with group.layout.design.open("a") as design:
        design.write(",".join(row[name] for name in header) + "\n")
    code, output = finish(doe(scenario, "--resume"))
    assert code == 0, output
    assert [r["status"] for r in group.records()] == ["SAT"] * 3


CHECKPOINTS = textwrap.dedent(
    """
    import argparse, json, os, time
    from pathlib import Path
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=float, required=True)
    parser.add_argument("--opt", required=True)
    parser.add_argument("--mom", type=float, default=0.0)
    parser.add_argument("--n", type=int, required=True)
    args = parser.parse_args()
    start = 0
    if "SMAC_BRIDGE_RESUME_FROM" in os.environ:
        saved = json.loads((Path(os.environ["SMAC_BRIDGE_RESUME_FROM"]) / "ckpt.json").read_text())
        start = saved["epoch"]
        print(f"continued from epoch {start}, trained with x={saved['x']}")
    artifacts = Path(os.environ["SMAC_BRIDGE_ARTIFACTS"])
    for epoch in range(start + 1, 41):
        (artifacts / "ckpt.tmp").write_text(json.dumps({"epoch": epoch, "x": args.x}))
        os.replace(artifacts / "ckpt.tmp", artifacts / "ckpt.json")  # a stop never tears it
        time.sleep(0.05)
    print(args.x)
    """
)


@pytest.mark.parametrize("edited", [False, True], ids=["same-row", "edited-row"])
def test_a_stopped_row_continues_its_checkpoint_only_where_the_row_is_unchanged(
    tmp_path: Path, edited: bool
) -> None:
    """A row stopped by a Ctrl-C and edited in design.csv before it ran again continued the
    checkpoint its old values had trained: recorded with x = 1.7, trained partly with 1.0."""
    scenario = project(tmp_path)
    (tmp_path / "target.py").write_text(CHECKPOINTS, encoding="utf-8")
    (tmp_path / "design.csv").write_text("x,opt,mom,n\n1,adam,,1\n", encoding="utf-8")
    launch = doe(scenario, "--design", "design.csv")
    group = RunGroup(tmp_path / "out" / "demo-doe")
    deadline = time.monotonic() + 90
    while not (group.run("00001").artifacts / "ckpt.json").exists():
        assert time.monotonic() < deadline and launch.poll() is None, "row 1 never trained"
        time.sleep(0.05)
    launch.send_signal(signal.SIGINT)
    code, output = finish(launch, timeout=60)
    assert code == 130 and group.records() == [], output
    if edited:
        group.layout.design.write_text("x,opt,mom,n\n1.7,adam,,1\n", encoding="utf-8")
    code, output = finish(doe(scenario, "--resume"))
    assert code == 0, output
    (record,) = group.records()
    assert record["config"]["x"] == (1.7 if edited else 1.0)
    said = group.run("00001").script_log.read_text()
    assert ("continued from epoch" in said) is not edited, said
    log = " ".join(group.layout.worker_log(1).read_text().split())
    assert ("its earlier attempt" in log and "ran another configuration" in log) is edited, log


def test_a_custom_wrapper_gets_a_quoted_value_as_the_pcs_writes_it(tmp_path: Path) -> None:
    """A script subclassing the Wrapper strips one pair of single quotes, as `smac-bridge
    wrap` does, but only `wrap` got its quoted values quoted again: the script got `q` for
    the PCS value `'q'` (and `q` for `q` too: two values, one run), and '' for `''`."""
    (tmp_path / "mywrap.py").write_text(
        "from smac_bridge.wrapper import Wrapper\n\n\nclass MyWrapper(Wrapper):\n"
        "    pass\n\n\nMyWrapper.main()\n"
    )
    (tmp_path / "space.pcs").write_text("opt {'q', q, ''} ['q']\n")
    (tmp_path / "design.csv").write_text("opt\n'q'\nq\n''\n")
    (tmp_path / "show.py").write_text("import sys\nprint(len(sys.argv[2]))\n")
    scenario = tmp_path / "s.txt"
    scenario.write_text(
        f'algo = {sys.executable} mywrap.py --cmd "{sys.executable} show.py"\n'
        "paramfile = space.pcs\n"
        f"run_obj = quality\ncutoff_time = 30\noutdir = {tmp_path / 'out'}\n"
    )
    code, output = finish(start_command("doe", scenario, "--design", "design.csv"))
    assert code == 0, output
    group = RunGroup(tmp_path / "out" / "s-doe")
    got = {
        r["config"]["opt"]: json.loads(group.run(r["run_id"]).command.read_text())["argv"][-1]
        for r in group.records()
    }
    assert got == {"'q'": "'q'", "q": "q", "''": "''"}
    assert sorted(r["quality"] for r in group.records()) == [1, 2, 3]


def test_a_design_takes_the_bounds_and_whole_numbers_written_as_reals(tmp_path: Path) -> None:
    """A spreadsheet writes 8 as 8.0; both ends of a range belong to it."""
    path = tmp_path / "design.csv"
    path.write_text("x,opt,mom,n\n-5,sgd,0,1\n10,sgd,1,8.0\n", encoding="utf-8")
    rows = read_design(path, parse_pcs(PCS))
    assert [(row["x"], row["mom"], row["n"]) for row in rows] == [(-5, 0, 1), (10, 1, 8)]


def test_conditions_and_forbidden_clauses_judge_a_real_as_the_run_gets_it(tmp_path: Path) -> None:
    """0.1 * 3, as a script writes a grid, is 0.30000000000000004, which ConfigSpace rounds
    to 0.3: a child active at r == 0.3 was refused empty ("active here") and refused set
    (ConfigSpace's own words), and the row could not be written at all."""
    space = parse_pcs(
        "r real [0, 1] [0.5]\nw {a, b} [a]\nn integer [1, 3] [1]\nw | r == 0.3\n{r=0.7, n=2}\n"
    )
    path = tmp_path / "design.csv"
    path.write_text(f"r,w,n\n{0.1 * 3!r},b,1\n{0.1 * 7!r},,1\n", encoding="utf-8")
    assert read_design(path, space) == [{"r": 0.3, "w": "b", "n": 1}, {"r": 0.7, "n": 1}]
    path.write_text(f"r,w,n\n{0.1 * 7!r},,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"design.csv:2: .*forbidden by \{r=0.7, n=2\}"):
        read_design(path, space)
