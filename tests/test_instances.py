"""Instance files in the four SMAC 2.10 layouts, and feature files; errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from smac_bridge.errors import InputError
from smac_bridge.instances import Instance, read_features, read_instances, unused_seeds


def write(tmp_path: Path, text: str, name: str = "instances.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.cnf\nb.cnf\n", [Instance("a.cnf"), Instance("b.cnf")]),
        ("1,a.cnf\n2,b.cnf\n", [Instance("a.cnf", seeds=(1,)), Instance("b.cnf", seeds=(2,))]),
        ("a.cnf,SAT\nb.cnf,UNSAT\n", [Instance("a.cnf", "SAT"), Instance("b.cnf", "UNSAT")]),
        (
            "1,a.cnf,SAT\n2,b.cnf,UNSAT\n3,a.cnf,SAT\n",
            [Instance("a.cnf", "SAT", (1, 3)), Instance("b.cnf", "UNSAT", (2,))],
        ),
        # whitespace-separated files, SMAC 2.10's fallback
        (
            "a.cnf info_one\nb.cnf info_two\n",
            [Instance("a.cnf", "info_one"), Instance("b.cnf", "info_two")],
        ),
        ("5 a.cnf\n-7 a.cnf\n", [Instance("a.cnf", seeds=(5, -7))]),
        ('1  a.cnf  "info with space"\n', [Instance("a.cnf", "info with space", (1,))]),
        # a quoted name first: no CSV, but no quote left open either
        (
            '"my a.cnf" info1\n"my b.cnf" info2\n',
            [Instance("my a.cnf", "info1"), Instance("my b.cnf", "info2")],
        ),
        # CSV quoting keeps commas and blanks in a cell
        ('a.cnf,"x, y"\n"my b",z\n', [Instance("a.cnf", "x, y"), Instance("my b", "z")]),
        ("data/x 1.cnf,0\n", [Instance("data/x 1.cnf", "0")]),
        # blanks after the commas, as people write CSV by hand, belong to no cell
        (
            "1, data/a.cnf, 5\n2 ,b.cnf ,6\n",
            [Instance("data/a.cnf", "5", (1,)), Instance("b.cnf", "6", (2,))],
        ),
        # integer names in a one-column file are names, not seeds
        ("1\n2\n", [Instance("1"), Instance("2")]),
        # a first cell past 64 bits is no seed to Java SMAC either: it is the name
        (
            "100000000000000000000,i1\n5,i2\n",
            [Instance("100000000000000000000", "i1"), Instance("5", "i2")],
        ),
        ("9223372036854775807,a\n", [Instance("a", seeds=(2**63 - 1,))]),
        ("a\nb\n\n\n", [Instance("a"), Instance("b")]),
    ],
)
def test_layouts(tmp_path: Path, text: str, expected: list[Instance]) -> None:
    assert read_instances(write(tmp_path, text)) == expected


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a\n\nb\n", 2, "blank line inside the file"),
        ("\na\n", 1, "blank line inside the file"),
        ("1,a,SAT\n2,a,UNSAT\n", 2, "info 'UNSAT' of 'a' differs from 'SAT' (line 1)"),
        ("a\nb,c\n", 2, "expected name like line 1"),
        ("1,a\nb,c\n", 2, "expected seed,name like line 1"),
        # the target was called with it, and its result line refused
        ("1,a\n9223372036854775808,b\n", 2, "expected a seed of 64 bits, got 9223372036854775808"),
        ("a\na\n", 2, "instance 'a' listed again (line 1)"),
        ("a,b,c\n", 1, "expected name, seed,name, name,info or seed,name,info; got 3 columns"),
        ("1,a,b,c\n", 1, "got 4 columns"),
        ("a b c\n", 1, "got 3 columns"),
        (",x\n", 1, "empty instance name"),
        # a quote never closed took the rest of the line: the instance `a.cnf,info`
        ('"a.cnf,info\n', 1, "a double quote is never closed: '\"a.cnf,info'"),
        ('"a.cnf,info\nc.cnf,x\n', 1, "a double quote is never closed"),
        ('"a b.cnf" info\n"c.cnf x\n', 2, "a double quote is never closed"),
    ],
)
def test_instance_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_instances(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"), [("", "the file is empty"), ("\n\n", "the file is empty")]
)
def test_empty_instance_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_instances(write(tmp_path, text))


def test_missing_instance_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_instances(tmp_path / "none.txt")


def test_features(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'instance,size,"ratio, clauses"\na.cnf,10,4.26\nb.cnf,-512,1e3\n', "f.csv"
    )
    expected = {
        "a.cnf": {"size": 10.0, "ratio, clauses": 4.26},
        "b.cnf": {"size": -512.0, "ratio, clauses": 1000.0},
    }
    assert read_features(path) == expected
    # rows for other instances are allowed
    assert read_features(path, [Instance("b.cnf")]) == expected


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("instance,f1,2\na,1,2\n", 1, "feature names must be non-numeric text, got '2'"),
        ("instance,f1,f1\na,1,2\n", 1, "feature 'f1' named twice"),
        ("instance\na\n", 1, "expected a header row"),
        ("instance,f1,f2\na,1,x\n", 2, "f2: expected a finite number (nan for a missing"),
        # SMAC3's model died on it after the first runs of a launch
        ("instance,f1,f2\na,1,nan\nb,3,inf\n", 3, "f2: expected a finite number (nan for a"),
        ('instance,f1\n"a,1\n', 2, "a double quote is never closed"),
        ("instance,f1\na,1\nb,1,2\n", 3, "expected an instance name and 1 values"),
        ("instance,f1\na,1\na,2\n", 3, "second row for 'a' (line 2)"),
        ("instance,f1\na,1\n\nb,2\n", 3, "blank line inside the file"),
    ],
)
def test_feature_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text, "f.csv")
    with pytest.raises(InputError) as caught:
        read_features(path)
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert message in caught.value.message


def test_features_missing_for_an_instance(tmp_path: Path) -> None:
    """The error points at the instance file's line that lists the instance without a row."""
    listed = write(tmp_path, "a\nb\nc\n", "instances.txt")
    path = write(tmp_path, "instance,f1\na,1\n", "f.csv")
    with pytest.raises(InputError) as caught:
        read_features(path, read_instances(listed), listed)
    assert (caught.value.path, caught.value.line) == (str(listed), 2)
    assert f"no row in the feature file {path} for instance 'b', 'c'" in caught.value.message
    listed = write(tmp_path, "a\n" + "".join(f"m{n}\n" for n in range(6)), "instances.txt")
    with pytest.raises(InputError) as caught:  # five named, and how many more
        read_features(path, read_instances(listed), listed)
    assert caught.value.message.endswith("'m0', 'm1', 'm2', 'm3', 'm4' and 1 more")


def test_instance_file_and_features_together(tmp_path: Path) -> None:
    instances = read_instances(write(tmp_path, "1,a\n2,b\n3,a\n"))
    features = write(tmp_path, "name,f\na,1\nb,2\n", "f.csv")
    assert list(read_features(features, instances)) == ["a", "b"]
    assert [instance.line for instance in instances] == [1, 2]


def test_a_deterministic_scenario_warns_only_of_seeds_it_leaves_unused() -> None:
    """Its calls get each instance's first seed: one seed per instance is all used."""
    one_each = [Instance("a.cnf", seeds=(1,)), Instance("b.cnf", seeds=(2,))]
    assert unused_seeds("train.txt", one_each, deterministic=True) is None
    two = [Instance("a.cnf", seeds=(1, 3)), Instance("b.cnf", seeds=(2,))]
    warning = unused_seeds("train.txt", two, deterministic=True)
    assert warning is not None and "the other seeds are not used" in warning
