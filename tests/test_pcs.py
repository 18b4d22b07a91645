"""PCS reading and writing: every grammar rule, every error, round trips through both syntaxes."""

from __future__ import annotations

import math
import re

import pytest
from ConfigSpace import (
    AndConjunction,
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    EqualsCondition,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    GreaterThanCondition,
    InCondition,
    LessThanCondition,
    NotEqualsCondition,
    OrConjunction,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.exceptions import ForbiddenValueError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from smac_bridge.errors import InputError
from smac_bridge.forbidden_expr import ExpressionError, compile_expression
from smac_bridge.pcs import (
    EXPRESSIONS_KEY,
    SearchSpace,
    from_json,
    parse_pcs,
    read_pcs,
    to_json,
    write_pcs,
)

MNIST = """\
nb_filters [16, 256] [32]i
nb_conv_size [1, 10] [3]i
dropout1 [0, 0.9] [0.25]
dropout2 [0, 0.9] [0.5]
nb_pool [1, 5] [2]i
{nb_conv_size=10, nb_pool=5}
"""


def hp(space: SearchSpace, name: str):
    return space.space[name]


# ------------------------------------------------------------------ the MNIST example


def test_mnist_classic_file_reads_with_typed_forbidden(tmp_path):
    path = tmp_path / "mnist.pcs"
    path.write_text(MNIST)
    space = read_pcs(path)
    assert space.source == path
    assert hp(space, "nb_filters") == UniformIntegerHyperparameter("nb_filters", 16, 256, 32)
    assert hp(space, "dropout1") == UniformFloatHyperparameter("dropout1", 0.0, 0.9, 0.25)
    (forbidden,) = space.space.forbidden_clauses
    assert isinstance(forbidden, ForbiddenAndConjunction)
    assert {(c.hyperparameter.name, c.value) for c in forbidden.components} == {
        ("nb_conv_size", 10),
        ("nb_pool", 5),
    }
    with pytest.raises(ForbiddenValueError):
        Configuration(
            space.space,
            values={
                **space.space.get_default_configuration(),
                **{
                    "nb_conv_size": 10,
                    "nb_pool": 5,
                },
            },
        )


def test_mnist_samples_are_never_forbidden():
    space = parse_pcs(MNIST)
    configs = space.sample(800, seed=3)
    assert len(configs) == 800
    pairs = {(c["nb_conv_size"], c["nb_pool"]) for c in configs}
    assert (10, 5) not in pairs
    assert (10, 4) in pairs and (9, 5) in pairs  # the neighbours are still sampled


OR_DOWN_A_CHAIN = """a {on, off} [on]
b {p, q} [p]
d {u, v} [u]
e [0, 1] [0.5]
b | a == on
d | b == p
e | d == u || a == off
"""


def test_a_sample_gives_no_value_to_a_parameter_its_conditions_turn_off():
    """ConfigSpace's sampler gave `e` a value in about one sample in six although `d`, the
    parent of its first alternative, was inactive (which makes `e` inactive here): the
    script got `--e`, and doe's own design.csv was refused by its reader."""
    configs = parse_pcs(OR_DOWN_A_CHAIN).sample(300, seed=1)
    for config in configs:
        config.check_valid_configuration()
        assert ("e" in config) == (config.get("d") == "u"), dict(config)
    assert {config.get("a") for config in configs} == {"on", "off"}


@pytest.mark.parametrize("twice", ["opt == a || opt == a", "opt == a || opt in {a}"])
def test_an_alternative_said_twice_leaves_a_grandchild_inactive_with_its_parent(twice):
    """ConfigSpace misjudged `w`'s condition when its parent's had one alternative twice:
    SMAC3's samples gave `w` a value with `help2` at 0.2, and the script got `--w`."""
    space = parse_pcs(
        f"opt {{a, b}} [a]\nhelp2 [0, 1] [0.7]\nw [3, 5] [4]\nhelp2 | {twice}\n"
        "w | help2 > 0.5 && opt == a\n"
    )
    assert (
        space.space.conditions[0]
        == parse_pcs("opt {a, b} [a]\nhelp2 [0, 1] [0.7]\nhelp2 | opt == a\n").space.conditions[0]
    )
    for config in space.space.sample_configuration(300):  # as SMAC3 samples
        assert ("w" in config) == (config.get("help2", 0) > 0.5 and config["opt"] == "a")


def test_a_sample_rounded_onto_a_conditions_bound_leaves_the_child_out():
    """`u | t > 1e-12` held for t a hair above 1e-12, which the 13 decimals every real keeps
    make 1e-12: doe wrote `1e-12,0.88` to design.csv, refused it, and no run was made."""
    space = parse_pcs("t real [1e-12, 1e-6] [1e-9] log\nu real [0, 1] [0.5]\nu | t > 1e-12\n")
    configs = space.sample(2000, seed=1)
    at_bound = [config for config in configs if config["t"] == 1e-12]
    assert at_bound and not any("u" in config for config in at_bound)
    for config in configs:
        Configuration(space.space, values=dict(config)).check_valid_configuration()


def test_sample_is_reproducible_and_leaves_the_space_rng_alone():
    space = parse_pcs(MNIST)
    state = space.space.random.get_state()[1].copy()
    assert space.sample(5, seed=7) == space.sample(5, seed=7)
    assert space.sample(5, seed=7) != space.sample(5, seed=8)
    assert (space.space.random.get_state()[1] == state).all()


# ------------------------------------------------------------------ declarations


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x [0, 1] [0.5]", UniformFloatHyperparameter("x", 0.0, 1.0, 0.5)),
        ("x [1, 10] [3]i", UniformIntegerHyperparameter("x", 1, 10, 3)),
        ("x [1e-5, 1] [0.01]l", UniformFloatHyperparameter("x", 1e-5, 1.0, 0.01, log=True)),
        ("x [1, 1024] [32]il", UniformIntegerHyperparameter("x", 1, 1024, 32, log=True)),
        ("x [1, 1024] [32]li", UniformIntegerHyperparameter("x", 1, 1024, 32, log=True)),
        ("x [1, 1024] [32] il", UniformIntegerHyperparameter("x", 1, 1024, 32, log=True)),
        ("x[1.0,10.0][3.0]i", UniformIntegerHyperparameter("x", 1, 10, 3)),
        ("x {a, b, c} [b]", CategoricalHyperparameter("x", ["a", "b", "c"], "b")),
        ("x {1, 2, 4} [2]", CategoricalHyperparameter("x", ["1", "2", "4"], "2")),
        ("x real [-1, 1] [0]", UniformFloatHyperparameter("x", -1.0, 1.0, 0.0)),
        ("x real [0.1, 1] [0.5] log", UniformFloatHyperparameter("x", 0.1, 1, 0.5, log=True)),
        ("x real [0.1, 1] [0.5]log", UniformFloatHyperparameter("x", 0.1, 1, 0.5, log=True)),
        (
            "x integer [1, 1e3] [1.0e2] log",
            UniformIntegerHyperparameter("x", 1, 1000, 100, log=True),
        ),
        ("x integer [-5, 5] [0]", UniformIntegerHyperparameter("x", -5, 5, 0)),
        (
            "x categorical {sgd,adam} [adam]",
            CategoricalHyperparameter("x", ["sgd", "adam"], "adam"),
        ),
        ("x ordinal {lo, mid, hi} [mid]", OrdinalHyperparameter("x", ["lo", "mid", "hi"], "mid")),
        ("x ordinal {8, 16, 32} [16]", OrdinalHyperparameter("x", ["8", "16", "32"], "16")),
        ("lr@opt:1 [0, 1] [0]", UniformFloatHyperparameter("lr@opt:1", 0.0, 1.0, 0.0)),
    ],
)
def test_declaration(line, expected):
    assert parse_pcs(line + "  # comment\n").space[expected.name] == expected


def test_comments_headers_and_blank_lines_are_ignored():
    space = parse_pcs(
        "# a comment\n\nConditionals:\nForbidden:\n  x [0, 1] [0] # trailing\n"
        "   \t\n# y [0, 1] [0]\n"
    )
    assert list(space.space) == ["x"]


def test_mixed_classic_and_new_lines_in_one_file():
    space = parse_pcs(
        """\
optimizer {sgd, adam} [adam]
momentum real [0, 1] [0.9]
lr [1e-4, 1] [0.01]l
depth ordinal {shallow, deep} [shallow]
units integer [8, 512] [64] log
layers [1, 4] [2]i
momentum | optimizer == sgd
units | depth > shallow || layers > 2
lr | optimizer in {sgd, adam}
{optimizer=sgd, layers=4}
{ lr * units > 100 }
"""
    )
    assert isinstance(space.space["units"], UniformIntegerHyperparameter)
    assert space.space["units"].log
    conditions = {c.child.name: c for c in space.space.conditions}
    assert isinstance(conditions["momentum"], EqualsCondition)
    assert isinstance(conditions["units"], OrConjunction)
    assert isinstance(conditions["lr"], InCondition)
    assert [e.text for e in space.expressions] == ["lr * units > 100"]
    assert space.is_forbidden({"lr": 0.5, "units": 256, "optimizer": "adam", "layers": 1})
    assert not space.is_forbidden({"lr": 0.1, "units": 256, "optimizer": "adam", "layers": 1})
    for syntax in ("new",):
        assert parse_pcs(write_pcs(space, syntax)) == space


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "nb_conv_size [1, 10] [12]i",
            1,
            "expected a default in [1, 10] for 'nb_conv_size', got '12'",
        ),
        ("x [1, 10] [2.5]i", 1, "expected an integer default in [1, 10] for 'x', got '2.5'"),
        ("x [1.5, 10] [2]i", 1, "expected an integer as lower bound of 'x', got '1.5'"),
        ("x integer [1, 10.5] [2]", 1, "expected an integer as upper bound of 'x', got '10.5'"),
        ("x [a, 1] [0]", 1, "expected a number as lower bound of 'x', got 'a'"),
        ("x [0, 1] [nan]", 1, "expected a default in [0, 1] for 'x', got 'nan'"),
        ("x [1, 1] [1]", 1, "expected the lower bound of 'x' below its upper bound, got [1, 1]"),
        ("x [0, 1] [0.5]l", 1, "expected bounds > 0 for log-scale 'x', got [0, 1]"),
        ("x real [-1, 1] [0.5] log", 1, "expected bounds > 0 for log-scale 'x', got [-1, 1]"),
        (
            "x [0, 1] [0.5]q",
            1,
            "expected nothing or one of i, l, il, li after the default of 'x', got 'q'",
        ),
        ("x [0, 1] [0.5]li1", 1, "got 'li1'"),
        ("x real [0, 1] [0.5] l", 1, "expected nothing or 'log' after the default of 'x', got 'l'"),
        ("x [0, 1]", 1, "expected '[lo, hi] [default]' after 'x', got '[0, 1]'"),
        ("x {a, b} [c]", 1, "expected a default in {a, b} for 'x', got 'c'"),
        ("x {a, b, a} [a]", 1, "value 'a' appears twice in the list of 'x'"),
        ("x {a, , b} [a]", 1, "expected a value without spaces, commas, braces, brackets or"),
        ("x {a b, c} [c]", 1, "got 'a b'"),
        ("x {a[b, c} [c]", 1, "without spaces, commas, braces, brackets or control characters"),
        ("x {a\x1b[2J, c} [c]", 1, "in the list of 'x', got 'a\\x1b[2J'"),  # a terminal's code
        ("x\u202e {a, c} [c]", 1, "expected a parameter name without '\\u202e'"),
        ("x {c#, f#} [c#]", 1, "got '{c' (a # starts a comment: the rest of the line was not"),
        ("x {a, b} [a] log", 1, "expected nothing after the default of 'x'"),
        ("x ordinal {a, b} [z]", 1, "expected a default in {a, b} for 'x', got 'z'"),
        ("x integer {a, b} [a]", 1, "expected '[lo, hi] [default]' after 'x'"),
        ("x categorical [0, 1] [0]", 1, "expected '{v1, v2, ...} [default]' after 'x'"),
        (
            "x float [0, 1] [0]",
            1,
            "or a type (integer, real, categorical, ordinal) after 'x', got 'float'",
        ),
        ("hello world", 1, "after 'hello', got 'world'"),
        ("a,b [0, 1] [0]", 1, "expected a parameter name without ',', got 'a,b'"),
        ("x'1 [0, 1] [0]", 1, 'without "\'", got "x\'1"'),
        (
            "x [0, 1] [0]\n\ny [0, 1] [0]\nx [0, 2] [0]",
            4,
            "parameter 'x' is already declared on line 1",
        ),
        # a form feed or a Unicode line separator in a comment does not end the line
        ("# page\x0c break\u2028 and \x85 more\nx [0, 1] [2]", 2, "got '2'"),
        ("x [0, 1e20] [5]i", 1, "expected an integer between -9007199254740992 and"),
        ("x [0, 9007199254740993] [5]i", 1, "expected an integer between -9007199254740992 and"),
        ("x [-1e308, 1e308] [0]", 1, "expected a number between -1e+200 and 1e+200 as lower"),
        ("x [0, 1e309] [0]", 1, "as upper bound of 'x', got '1e309'"),
        ("x [1e-20, 1] [1e-3]l", 1, "the lower bound of log-scale 'x' is 0 to ConfigSpace"),
        # ConfigSpace rounds reals to 13 decimal places: 41 values, or none at all
        ("x [1e-12, 5e-12] [3e-12]", 1, "[1e-12, 5e-12] is too fine for 'x': ConfigSpace"),
        ("x [1e-15, 5e-15] [3e-15]", 1, "which leaves 1 value in it; give the parameter in"),
        ("x [1e-14, 1e-9] [1e-12]l", 1, "the lower bound of log-scale 'x' is 0 to ConfigSpace"),
        ("x [5e-14, 1e-2] [1e-3]l", 1, "the lower bound of log-scale 'x' is 0 to ConfigSpace"),
    ],
)
def test_declaration_errors(text, line, message):
    with pytest.raises(InputError) as caught:
        parse_pcs(text, "pcs/bad.pcs")
    assert caught.value.path == "pcs/bad.pcs"
    assert caught.value.line == line
    assert message in caught.value.message


def test_error_string_names_file_line_and_token(tmp_path):
    path = tmp_path / "mnist.pcs"
    path.write_text(MNIST.replace("[1, 10] [3]i", "[1, 10] [12]i"))
    with pytest.raises(InputError) as caught:
        read_pcs(path)
    assert str(caught.value) == (
        f"{path}:2: expected a default in [1, 10] for 'nb_conv_size', got '12'"
    )


def test_unreadable_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read PCS file"):
        read_pcs(tmp_path / "missing.pcs")


# ------------------------------------------------------------------ conditions

BASE = """\
c {a, b, d} [a]
o ordinal {lo, mid, hi} [lo]
n integer [0, 10] [5]
r real [0, 1] [0.5]
child real [0, 1] [0.5]
"""


CLASSIC_BASE = BASE.replace("o ordinal {lo, mid, hi} [lo]\n", "")


def condition_of(text: str):
    space = parse_pcs(BASE + text)
    (condition,) = space.space.conditions
    return condition


def test_condition_operators():
    space = parse_pcs(BASE)
    c, o, n, r, child = (space.space[name] for name in ("c", "o", "n", "r", "child"))
    assert condition_of("child | c == b") == EqualsCondition(child, c, "b")
    assert condition_of("child | c != b") == NotEqualsCondition(child, c, "b")
    assert condition_of("child | n < 3") == LessThanCondition(child, n, 3)
    assert condition_of("child | r > 0.25") == GreaterThanCondition(child, r, 0.25)
    assert condition_of("child | o > lo") == GreaterThanCondition(child, o, "lo")
    assert condition_of("child | c in {a, d}") == InCondition(child, c, ["a", "d"])
    assert condition_of("child | n in {1, 2.0}") == InCondition(child, n, [1, 2])
    assert condition_of("child | c in {b}") == EqualsCondition(child, c, "b")


def test_and_binds_tighter_than_or():
    condition = condition_of("child | c == a && n > 3 || o == hi && r < 0.5 || c == b")
    assert isinstance(condition, OrConjunction)
    kinds = [type(part) for part in condition.components]
    assert kinds == [AndConjunction, AndConjunction, EqualsCondition]


def test_conditions_follow_ordinal_positions_and_inactive_parents():
    space = parse_pcs(BASE + "n | o > lo\nchild | n > 8\n")
    configs = space.sample(300, seed=1)
    assert all(("n" in cfg) == (cfg["o"] != "lo") for cfg in configs)
    # a child is inactive whenever its parent is inactive
    assert all("child" not in cfg for cfg in configs if "n" not in cfg)
    assert any("child" in cfg for cfg in configs)


# Parents of `child` below: `a` always active; `b`, `n` and `k` active only when a == on.
NESTED = "a {on, off} [on]\nb {p, q, r} [p]\nn [0, 10] [5]\nk [1, 9] [3]i\nchild [0, 1] [0.5]\n"
NESTED += "b | a == on\nn | a == on\nk | a == on\n"
NESTED_ATOMS = {
    "a": ["a == on", "a == off", "a != on", "a in {on, off}"],
    "b": ["b == p", "b != q", "b in {q, r}"],
    "n": ["n > 2.5", "n < 7.5", "n != 5", "n == 5"],
    "k": ["k > 3", "k < 3", "k != 3", "k in {1, 2}"],
}


def _holds_in_smac_2_10(condition: str, values: dict[str, object]) -> bool:
    """SMAC 2.10's reading of a condition: false whenever a parent is inactive, `&&` binding
    tighter than `||`."""
    atoms = [atom.split() for atom in re.split(r"\|\||&&", condition)]
    if any(parent not in values for parent, *_ in atoms):
        return False

    def atom_holds(text: str) -> bool:
        parent, op, value = text.split(maxsplit=2)
        have = values[parent]
        if op == "in":
            wanted = [v.strip() for v in value.strip("{}").split(",")]
            return str(have) in wanted
        number = isinstance(have, (int, float))
        target = float(value) if number else value
        return {"==": have == target, "!=": have != target, ">": have > target, "<": have < target}[
            op
        ]

    return any(
        all(atom_holds(atom.strip()) for atom in alternative.split("&&"))
        for alternative in condition.split("||")
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from([atom for atoms in NESTED_ATOMS.values() for atom in atoms]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_a_child_is_inactive_whenever_a_parent_is_even_with_not_equal_and_or(alternatives):
    """ConfigSpace reads `b != q` and `x || y` as holding when b is inactive; SMAC 2.10 makes
    the child inactive then. Sampled configurations follow SMAC 2.10, and the space written
    back reads as the same space."""
    condition = " || ".join(" && ".join(atoms) for atoms in alternatives)
    space = parse_pcs(NESTED + f"child | {condition}\n")
    for config in space.sample(60, seed=3):
        values = dict(config)
        assert ("child" in values) == _holds_in_smac_2_10(condition, values), (condition, values)
    assert parse_pcs(write_pcs(space)) == space


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    """Windows editors may start a UTF-8 file with a BOM: the first parameter is still `lr`,
    not '\\ufefflr' (the script would get `--\\ufefflr`)."""
    path = tmp_path / "space.pcs"
    path.write_bytes("lr [0.001, 1] [0.01]l\n".encode("utf-8-sig"))
    assert list(read_pcs(path).space) == ["lr"]


def test_classic_in_lines_for_one_child_merge_into_and():
    space = parse_pcs(BASE + "child | c in {a, b}\nchild | o in {mid, hi}\n")
    (condition,) = space.space.conditions
    assert isinstance(condition, AndConjunction)
    assert [type(part) for part in condition.components] == [InCondition, InCondition]


def test_conditions_may_precede_declarations():
    space = parse_pcs("child | c == b\n" + BASE)
    assert len(space.space.conditions) == 1


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("child | c == a\nchild | n > 1", 7, "'child' already has a condition on line 6"),
        ("child | c in {a}\nchild | n == 1", 7, "already has a condition on line 6"),
        ("child | c < b", 6, "'<' is not allowed on categorical parent 'c'"),
        (
            "child | c == z",
            6,
            "expected one of {a, b, d} for 'c' in the condition of 'child', got 'z'",
        ),
        (
            "child | n == 11",
            6,
            "expected an integer in [0, 10] for 'n' in the condition of 'child', got '11'",
        ),
        ("child | n == 1.5", 6, "expected an integer in [0, 10]"),
        ("child | r > x", 6, "expected a number in [0, 1] for 'r'"),
        ("child | c in {a, a}", 6, "a value appears twice"),
        ("child | c==a", 6, "with spaces between the tokens, got 'c==a'"),
        ("child | c = a", 6, "expected 'parent OP value'"),
        ("child | c == a &&", 6, "expected a condition between '&&'/'||' for 'child', got nothing"),
        ("child | c == a ||| n > 1", 6, "expected 'parent OP value'"),
        ("child | zz == a", 6, "condition of 'child' names undeclared parameter 'zz'"),
        ("ghost | c == a", 6, "condition on undeclared parameter 'ghost'"),
        ("child | child > 0.5", 6, "parameter 'child' cannot depend on itself"),
        ("a b | c == a", 6, "expected one parameter name before '|', got 'a b'"),
        (
            "m real [0, 1] [0.5] | c == a",
            6,
            "a condition is a line of its own after the declaration: 'm | c == a'",
        ),
        (
            "n | r > 0.5\nr | child < 0.5\nchild | n > 1",
            6,
            "conditions form a cycle: n -> r -> child -> n",
        ),
    ],
)
def test_condition_errors(text, line, message):
    with pytest.raises(InputError) as caught:
        parse_pcs(BASE + text, "f.pcs")
    assert (caught.value.line, message in caught.value.message) == (line, True), caught.value


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("lr | opt == a&&b", "the condition of 'lr'"),
        ("lr | opt in {c, a&&b}", "the condition of 'lr'"),
        ("lr | lr2 > 0.5 || opt == a&&b", "the condition of 'lr'"),
        ("{ opt == a&&b && lr2 > 0.5 }", "the forbidden expression"),
    ],
)
def test_a_value_holding_a_joiner_named_in_a_condition_is_said_as_such(text, where):
    """A categorical value may hold `&&`, but a condition naming it was refused as "expected
    one of {a&&b, c} for 'opt', got 'a'", or as no condition at all."""
    head = "opt {a&&b, c} [c]\nlr [0, 1] [0.5]\nlr2 [0, 1] [0.5]\n"
    with pytest.raises(InputError) as caught:
        parse_pcs(head + text + "\n", "f.pcs")
    assert caught.value.line == 4, caught.value
    assert f"{where} names the value 'a&&b' of 'opt', but '&&' joins" in str(caught.value)
    # declared and named elsewhere, the value is fine: a classic clause takes it too
    space = parse_pcs(head + "lr | opt == c\n{opt=a&&b, lr2=0.5}\n", "f.pcs")
    assert "a&&b" in space.space["opt"].choices
    # a value `&&` itself is no joiner a condition uses
    joiner = "op {&&, x} [x]\nlr [0, 1] [0.5]\nlr2 [0, 1] [0.5]\n"
    space = parse_pcs(joiner + "lr | op == x && lr2 > 0.5\n{ op == x && lr > 0.9 }\n", "f.pcs")
    assert len(space.space.forbidden_clauses) + len(space.expressions) == 1


# ------------------------------------------------------------------ forbidden clauses


def test_a_classic_clause_names_a_parameter_whose_name_holds_an_equals_sign():
    """`{a=b=0.5}` for a parameter `a=b` was refused as naming an undeclared 'a'; a value
    holding `=` still reads as before, and a name declared nowhere is still refused."""
    head = "a=b [0, 1] [0.5]\nc {x, y=z} [x]\n"
    space = parse_pcs(head + "{a=b=0.5, c=y=z}\n", "f.pcs")
    (clause,) = space.space.forbidden_clauses
    values = {part.hyperparameter.name: part.value for part in clause.components}
    assert values == {"a=b": 0.5, "c": "y=z"}
    assert parse_pcs(write_pcs(space)).space == space.space
    with pytest.raises(InputError) as caught:
        parse_pcs(head + "{a=c=0.5}\n", "f.pcs")
    assert "forbidden clause names undeclared parameter 'a'" in str(caught.value)


def test_classic_forbidden_values_are_typed_per_parameter():
    space = parse_pcs(BASE + "{c=b, o=hi, n=10.0, r=0.75}\n{ n = 3 }\n")
    first, second = space.space.forbidden_clauses
    values = {part.hyperparameter.name: part.value for part in first.components}
    assert values == {"c": "b", "o": "hi", "n": 10, "r": 0.75}
    assert isinstance(values["n"], int) and isinstance(values["r"], float)
    assert isinstance(second, ForbiddenEqualsClause) and second.value == 3
    assert not space.expressions


def test_classic_lines_as_smac_2_10_reads_them():
    """Its reader takes any run of the letters i and l after the default (`ii` an integer,
    `lil` an integer on a log scale) and a comma after a forbidden clause's last pair."""
    space = parse_pcs("n [1, 8] [2]ii\nm [1, 8] [2]lil\nx [1, 8] [2]ll\n{n=3, m=4,}\n")
    n, m, x = (space.space[name] for name in "nmx")
    assert isinstance(n, UniformIntegerHyperparameter) and not n.log
    assert isinstance(m, UniformIntegerHyperparameter) and m.log
    assert isinstance(x, UniformFloatHyperparameter) and x.log
    (clause,) = space.space.forbidden_clauses
    assert {part.hyperparameter.name: part.value for part in clause.components} == {"n": 3, "m": 4}


def test_advanced_forbidden_circle_is_never_sampled():
    space = parse_pcs("x real [-1, 1] [0]\ny real [-1, 1] [0]\n{ x^2 + y^2 > 1 }\n")
    (expression,) = space.expressions
    assert expression.parameters == {"x", "y"}
    configs = space.sample(500, seed=0)
    assert len(configs) == 500
    assert all(cfg["x"] ** 2 + cfg["y"] ** 2 <= 1 for cfg in configs)
    assert space.is_forbidden({"x": 0.9, "y": 0.9})
    assert not space.is_forbidden({"x": 0.5, "y": 0.5})


def test_advanced_forbidden_on_categorical_and_ordinal_words_in_value_order():
    space = parse_pcs(BASE + "{ c == b && o >= mid }\n{ o > mid && n < 2 }\n")
    assert space.is_forbidden({"c": "b", "o": "mid", "n": 5})
    assert not space.is_forbidden({"c": "a", "o": "hi", "n": 5})
    assert space.is_forbidden({"c": "a", "o": "hi", "n": 1})
    # inactive (missing) parameters take their default, as in SMAC 2.10
    assert space.is_forbidden({"c": "b", "o": "hi"})
    assert not space.is_forbidden({"c": "a", "o": "hi"})  # n's default 5, not 0: allowed


def test_advanced_forbidden_numeric_categorical_values_compare_as_values():
    space = parse_pcs("batch {1, 2, 4} [1]\n{ batch == 4 }\n{ batch > 2 && batch < 4 }\n")
    assert space.is_forbidden({"batch": "4"})
    assert not space.is_forbidden({"batch": "2"})


def test_numeric_categorical_and_ordinal_values_are_their_numbers_as_in_smac_2_10():
    """They stood for their positions: `{ batch > 20 && lr < 0.5 }` on batch {16, 32, 64}
    forbade nothing, and SMAC 2.10 (which takes the numbers) refuses the file when the
    default is 64: it forbids the default. Words between numbers lie between them."""
    space = parse_pcs("batch {16, 32, 64} [16]\nlr [0, 1] [0.1]\n{ batch > 20 && lr < 0.5 }\n")
    assert space.is_forbidden({"batch": "32", "lr": 0.1})
    assert not space.is_forbidden({"batch": "16", "lr": 0.1})
    with pytest.raises(InputError, match="forbids the default configuration"):
        parse_pcs("batch {16, 32, 64} [64]\nlr [0, 1] [0.1]\n{ batch > 20 && lr < 0.5 }\n")
    threads = "threads ordinal {1, 2, 4, 8} [1]\nunits integer [1, 1000] [100]\n"
    space = parse_pcs(threads + "{ threads * units > 500 }\n")
    assert space.is_forbidden({"threads": "2", "units": 300})  # 600, not position 1 * 300
    assert not space.is_forbidden({"threads": "1", "units": 300})
    mixed = parse_pcs("o ordinal {1, mid, 100} [1]\n{ o > 50 && o < 51 }\n")
    assert mixed.is_forbidden({"o": "mid"}) and not mixed.is_forbidden({"o": "100"})


def test_a_parameter_named_as_a_value_is_refused_with_advanced_clauses(tmp_path):
    """`{ a == x }` with a parameter x and a value x of a: SMAC 2.10 refuses the file; it was
    read as a compared with the parameter x, a clause that never forbade what it said."""
    path = tmp_path / "space.pcs"
    path.write_text("a {x, y} [y]\nx [0, 1] [0]\n{ a == x }\n")
    with pytest.raises(InputError) as caught:
        read_pcs(path)
    assert (caught.value.path, caught.value.line) == (str(path), 3)
    assert "'x' is both a parameter's name and a value of a parameter" in caught.value.message
    classic = parse_pcs("a {x, y} [y]\nx integer [0, 9] [0]\n{a=x, x=5}\n")  # unambiguous
    assert len(classic.space.forbidden_clauses) == 1


def test_a_signed_numeric_categorical_value_is_that_value():
    """`{ k == -1 && ... }` compared k's position with the number -1: it forbade nothing."""
    space = parse_pcs("k {-1, 0, 1, +2} [0]\nx [0, 1] [0.5]\n{ k == -1 && x > 0.5 }\n{ k == +2 }\n")
    assert space.is_forbidden({"k": "-1", "x": 0.9})
    assert not space.is_forbidden({"k": "-1", "x": 0.1})
    assert not space.is_forbidden({"k": "1", "x": 0.9})
    assert space.is_forbidden({"k": "+2", "x": 0.1})
    samples = [dict(c) for c in space.sample(100, 1)]
    assert not any(c["k"] in ("-1", "+2") and c["x"] > 0.5 for c in samples)
    plain = parse_pcs("k {1, 2, 3} [1]\nx [0, 1] [0.5]\n{ k == +2 && x > 0.5 }\n")
    assert plain.is_forbidden({"k": "2", "x": 0.9})  # +2 is 2 where no value +2 exists
    assert not plain.is_forbidden({"k": "3", "x": 0.9})


def test_sampling_gives_up_on_a_space_that_forbids_almost_everything():
    space = parse_pcs("x real [0, 1] [0]\n{ x > 0 }\n")
    with pytest.raises(InputError, match="rejected"):
        space.sample(3, seed=1)


def test_a_dashed_name_in_a_forbidden_expression_is_named_as_the_cause():
    """`my-lr > 0.9` reads as `my - lr`: the error named the unknown `my` alone."""
    with pytest.raises(InputError) as caught:
        parse_pcs("my-lr [0, 1] [0.5]\n{ my-lr > 0.9 }\n", "f.pcs")
    assert caught.value.line == 2
    assert "unknown name 'my'" in caught.value.message
    assert "'my-lr' cannot be named in an expression" in caught.value.message
    space = parse_pcs("my-lr [0, 1] [0.5]\n{my-lr=1}\n", "f.pcs")  # a classic clause takes it
    assert "my-lr" in space.space


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{c=a}", "this forbidden clause forbids the default configuration"),
        ("{c=a, child=0.5}", "forbids the default configuration"),
        ("{ child > 0.4 }", "forbids the default configuration"),
        ("{c=z}", "expected one of {a, b, d} for 'c' in a forbidden clause, got 'z'"),
        ("{n=11}", "expected an integer in [0, 10] for 'n' in a forbidden clause, got '11'"),
        ("{zz=1}", "forbidden clause names undeclared parameter 'zz'"),
        ("{c=b, c=d}", "parameter 'c' appears twice in the forbidden clause"),
        ("{c=b, n}", "expected 'name=value' in the forbidden clause, got 'n'"),
        ("{c=b,, n=1}", "expected 'name=value' in the forbidden clause, got ''"),
        ("{c=b, n=1,,}", "expected 'name=value' in the forbidden clause, got ''"),
        ("{c=b", "expected '}' at the end of the forbidden clause"),
        ("{}", "empty forbidden clause"),
        ("{ zz > 1 }", "unknown name 'zz'"),
        ("{ pow(n) > 1 }", "unknown function 'pow'"),
        ("{ (n > 1 }", "expected ')' in forbidden expression, got the end"),
        ("{ n > }", "forbidden expression ends too early"),
        ("{ n > 1 1 }", "unexpected '1'"),
        ("{ n $ 1 }", "unexpected '$ 1'"),
        ("{ __import__('os') }", "unexpected"),
        ("{ 1 > 0 }", "names no parameter"),
    ],
)
def test_forbidden_errors(text, message):
    with pytest.raises(InputError) as caught:
        parse_pcs(BASE + text, "f.pcs")
    assert caught.value.line == 6
    assert message in caught.value.message


# ------------------------------------------------------------------ expression evaluator

NUMBERS = {
    "x": UniformFloatHyperparameter("x", -100, 100, 0),
    "y": UniformFloatHyperparameter("y", -100, 100, 0),
}


@pytest.mark.parametrize(
    ("text", "x", "y", "expected"),
    [
        ("x + y * 2", 1, 3, 7),
        ("(x + y) * 2", 1, 3, 8),
        ("-x^2", 3, 0, -9),
        ("x^y^2", 2, 3, 512),
        ("2^-x", 1, 0, 0.5),
        ("x - y - 1", 10, 3, 6),
        ("x / y / 2", 12, 3, 2),
        ("x % y", -7, 3, -1),
        ("1 || 0 && x", 0, 0, 1),
        ("x > 1 && y < 1", 2, 0, 1),
        ("x >= 2 || y != 0", 1, 0, 0),
        ("x == 2 == 1", 2, 0, 1),
        ("abs(x) + sqrt(y) + cbrt(-8) + floor(1.5) + ceil(1.2) + log2(8)", -1, 4, 7),
        ("log10(100) + log(exp(1)) + sin(0) + cos(0) + tanh(0) + atan(x)", 0, 0, 4),
        ("1.5e1 + .5 + x", 0, 0, 15.5),
    ],
)
def test_expression_values(text, x, y, expected):
    expression = compile_expression(text, NUMBERS)
    assert expression.evaluate({"x": x, "y": y}) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "x"), [("x / 0", 1), ("0 / x", 0), ("sqrt(x)", -1), ("log(x)", 0)]
)
def test_undefined_results_count_as_forbidden(text, x):
    expression = compile_expression(text, NUMBERS)
    value = expression.evaluate({"x": x, "y": 0})
    assert math.isnan(value) or math.isinf(value)
    assert expression.is_forbidden({"x": x, "y": 0})


def test_log_of_zero_is_minus_infinity_as_in_java():
    """Java's Math.log(0) is -Infinity: `{ log(x) < -100 }` forbids x = 0."""
    assert compile_expression("log(x)", NUMBERS).evaluate({"x": 0, "y": 0}) == -math.inf
    assert compile_expression("log(x) < -100", NUMBERS).is_forbidden({"x": 0, "y": 0})


def test_expression_value_ambiguous_between_parameters():
    params = {
        "a": CategoricalHyperparameter("a", ["on", "off"], "on"),
        "b": CategoricalHyperparameter("b", ["off", "on"], "on"),
    }
    assert compile_expression("a == on", params).evaluate({"a": "on", "b": "on"}) == 1
    with pytest.raises(ExpressionError, match="different numbers in different parameters"):
        compile_expression("a + on > 1", params)


def test_expressions_compare_equal_by_normalised_text():
    one = compile_expression("x^2  +\ty", NUMBERS)
    assert one == compile_expression("x^2 + y", NUMBERS)
    assert one.text == "x^2 + y"


# ------------------------------------------------------------------ writers


def test_classic_writer_refuses_what_classic_cannot_express():
    cases = {
        "o ordinal {a, b} [a]\n": "no ordinal parameters ('o')",
        CLASSIC_BASE + "child | c != a\n": "no '!=' conditions",
        CLASSIC_BASE + "child | n > 3\n": "no '>' conditions",
        CLASSIC_BASE + "child | c == a || n == 2\n": "no '||'",
    }
    for text, message in cases.items():
        space = parse_pcs(text)
        with pytest.raises(InputError, match=re.escape(message)):
            write_pcs(space, "classic")
        assert parse_pcs(write_pcs(space, "new")) == space


def test_writers_refuse_weights_and_unknown_syntax():
    space = ConfigurationSpace()
    space.add(CategoricalHyperparameter("c", ["a", "b"], weights=[0.2, 0.8]))
    with pytest.raises(InputError, match="weights"):
        write_pcs(SearchSpace(space), "new")
    with pytest.raises(ValueError, match="syntax must be one of"):
        write_pcs(parse_pcs(MNIST), "aclib")  # type: ignore[arg-type]


def test_classic_writer_splits_an_and_into_in_lines():
    space = parse_pcs(CLASSIC_BASE + "child | c in {a, b}\nchild | n in {3}\n")
    text = write_pcs(space, "classic")
    assert "child | c in {a, b}\nchild | n in {3}" in text
    assert parse_pcs(text) == space


def test_to_json_keeps_expressions_and_stays_readable_by_configspace():
    import json

    space = parse_pcs(MNIST + "{ dropout1 + dropout2 > 1.5 }\n")
    data = json.loads(to_json(space))
    assert data[EXPRESSIONS_KEY] == ["dropout1 + dropout2 > 1.5"]
    assert ConfigurationSpace.from_serialized_dict(data) == space.space


def test_a_json_paramfile_reads_back_and_a_broken_one_names_the_file(tmp_path):
    """SMAC3 1.x reads a `*.json` paramfile: what `pcs --to json` writes is one."""
    space = parse_pcs(MNIST + "{ dropout1 + dropout2 > 1.5 }\n")
    path = tmp_path / "space.json"
    path.write_text(to_json(space))
    assert read_pcs(path) == SearchSpace(space.space, space.expressions, path)
    shouted = tmp_path / "SPACE.JSON"  # as some tools and file systems name it
    shouted.write_text(to_json(space))
    assert read_pcs(shouted).space == space.space
    odd = (  # ConfigSpace divided by zero, or overflowed a C long: a traceback, exit 1
        '{"hyperparameters": [{"name": "a", "type": "categorical", "choices": []}]}',
        '{"hyperparameters": [{"name": "a", "type": "ordinal", "sequence": []}]}',
        '{"hyperparameters": [{"name": "a", "type": "uniform_int", "lower": 0, "upper": 1e20}]}',
        '{"hyperparameters": [{"name": "a", "type": "uniform_float", "lower": 0, "upper": 1e300}]}',
    )
    for text in ("not json", '{"name": "x"}', "[1, 2]", *odd):
        path.write_text(text)
        with pytest.raises(InputError, match="expected ConfigSpace's JSON") as caught:
            read_pcs(path)
        assert caught.value.path == str(path)
    for text in ('{"hyperparameters": "nope"}', '{"hyperparameters": [1]}'):  # said in
        path.write_text(text)  # Python's words: "'str' object has no attribute 'pop'"
        with pytest.raises(InputError, match="'hyperparameters' is a list of objects, got"):
            read_pcs(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lower": 10, "upper": 1}, "parameter 'dropout1': lower 10 is not below upper 1"),
        ({"lower": 0.5, "upper": 0.5}, "lower 0.5 is not below upper 0.5"),
        ({"default_value": 2.0}, "parameter 'dropout1': default 2.0 is outside [0.0, 0.9]"),
        ({"lower": 0.0, "log": True}, "a log scale needs lower above 0, not 0.0"),
    ],
)
def test_a_json_bound_that_makes_no_range_is_named(tmp_path, change, message):
    """ConfigSpace said "Hyperparameter 'dropout1' has illegal settings": not which."""
    import json

    data = json.loads(to_json(parse_pcs(MNIST)))
    entry = next(hp for hp in data["hyperparameters"] if hp["name"] == "dropout1")
    entry |= change
    path = tmp_path / "space.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=re.escape(message)):
        read_pcs(path)


def test_a_json_space_whose_pcs_would_not_read_back_is_refused_when_read(tmp_path):
    """A value `x&&y` in a condition was written as a PCS file that cannot be read: `check`
    said OK, and every launch died reading the space it had saved beside its runs. (A name
    `a=b` in a classic clause, which could not be read either, now reads back.)"""
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        EqualsCondition,
        Float,
        ForbiddenEqualsClause,
    )

    condition = ConfigurationSpace()
    a, c = Categorical("a", ["x&&y", "z"], default="z"), Float("c", (0, 1), default=0.5)
    condition.add([a, c, EqualsCondition(c, a, "x&&y")])
    clause = ConfigurationSpace()
    named = Categorical("a=b", ["x", "y"], default="x")
    clause.add([named, ForbiddenEqualsClause(named, "y")])
    path = tmp_path / "space.json"
    condition.to_json(path)
    with pytest.raises(InputError, match="cannot be written as a PCS file") as caught:
        read_pcs(path)
    assert caught.value.path == str(path)
    assert "names the value 'x&&y' of 'a', but '&&' joins" in caught.value.message
    clause.to_json(path)
    assert read_pcs(path).space == clause


def test_a_json_space_a_launch_cannot_keep_is_refused_when_read(tmp_path):
    """`check` said OK of a JSON space with a normal prior and `launch` then refused it (a
    launch keeps its space as PCS); now reading it fails, naming the file, for both."""
    from ConfigSpace import ConfigurationSpace, Float, ForbiddenLessThanRelation, Integer, Normal

    normal = ConfigurationSpace()
    normal.add(Float("b", (0, 10), default=5, distribution=Normal(5, 1)))
    relation = ConfigurationSpace()
    m, n = Integer("m", (0, 10)), Integer("n", (0, 10))
    relation.add([m, n])
    relation.add(ForbiddenLessThanRelation(m, n))
    for space, message in (
        (normal, "cannot express NormalFloatHyperparameter parameter 'b'"),
        (relation, "forbidden clause Forbidden: m < n as a clause; write the space as a PCS"),
    ):
        path = tmp_path / "space.json"
        space.to_json(path)
        with pytest.raises(InputError, match=message) as caught:
            read_pcs(path)
        assert caught.value.path == str(path)


def test_a_json_space_with_constants_and_an_in_clause_is_read_as_pcs_holds_it(tmp_path):
    """SMAC3 reads ConfigSpace JSON with `Constant` parameters and `ForbiddenInClause`s, and
    PCS can hold both (`k {7} [7]`, one `{a=x, n=7}` line per value): both were refused."""
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        Constant,
        EqualsCondition,
        ForbiddenAndConjunction,
        ForbiddenEqualsClause,
        ForbiddenInClause,
        Integer,
    )

    space = ConfigurationSpace()
    k, a, n = Constant("k", 7), Categorical("a", ["x", "y"]), Integer("n", (1, 9), default=1)
    space.add([k, a, n, Constant("mode", "fast")])
    space.add(EqualsCondition(n, k, 7))
    space.add(ForbiddenAndConjunction(ForbiddenEqualsClause(a, "x"), ForbiddenInClause(n, [7, 8])))
    path = tmp_path / "space.json"
    space.to_json(path)
    text = write_pcs(read_pcs(path))
    assert "k categorical {7} [7]\n" in text and "mode categorical {fast} [fast]\n" in text
    assert "n | k == 7\n" in text
    assert "{a=x, n=7}\n{a=x, n=8}\n" in text
    again = parse_pcs(text)
    assert again.space.get_default_configuration()["k"] == "7"


def test_a_json_spaces_numbers_among_values_are_the_text_its_pcs_file_gives(tmp_path):
    """A categorical of numbers in ConfigSpace's JSON (`[0.1, 1e-05]`) went to the script as
    `--f 1.0E-5`, where the same space's PCS file gives `--f 1e-05`: a script whose choices
    are the strings of its flag failed from the JSON file only."""
    from ConfigSpace import (
        Categorical,
        ConfigurationSpace,
        EqualsCondition,
        Float,
        ForbiddenEqualsClause,
        OrdinalHyperparameter,
    )

    space = ConfigurationSpace()
    f, b = Categorical("f", [0.1, 1e-05], default=1e-05), Categorical("b", [True, False])
    o, x = OrdinalHyperparameter("o", [1, 2, 4], default_value=2), Float("x", (0, 1))
    space.add([f, b, o, x])
    space.add(EqualsCondition(x, f, 0.1))
    space.add(ForbiddenEqualsClause(o, 4))
    path = tmp_path / "space.json"
    space.to_json(path)
    read = read_pcs(path)
    default = dict(read.space.get_default_configuration())
    assert default == {"f": "1e-05", "b": "True", "o": "2"}
    as_pcs = parse_pcs(write_pcs(read))
    assert dict(as_pcs.space.get_default_configuration()) == default
    assert [str(c) for c in read.space.conditions] == ["x | f == '0.1'"]
    assert len(read.space.forbidden_clauses) == 1


def test_a_json_space_under_a_pcs_name_or_with_no_parameters_is_named_so(tmp_path):
    """ConfigSpace's JSON saved as space.pcs was read as PCS lines (`expected a parameter
    name without '"'`), and an empty `hyperparameters` list was said to be missing."""
    from ConfigSpace import ConfigurationSpace, Float

    space = ConfigurationSpace()
    space.add(Float("x", (0, 1)))
    space.to_json(tmp_path / "space.pcs")
    with pytest.raises(InputError, match="expected PCS, found ConfigSpace's JSON: a JSON file"):
        read_pcs(tmp_path / "space.pcs")
    (tmp_path / "empty.json").write_text('{"hyperparameters": []}')
    with pytest.raises(InputError, match="an empty 'hyperparameters' list: expected at least"):
        read_pcs(tmp_path / "empty.json")


# ------------------------------------------------------------------ property: round trips

NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.@:-]{0,6}", fullmatch=True)
# a value may hold "=" (`{a=b, c}`), which a forbidden clause must still be able to name
VALUE = st.from_regex(r"[A-Za-z0-9_.+-]{1,3}(=[A-Za-z0-9_.+-]{1,2})?", fullmatch=True)
FLOAT = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


@st.composite
def hyperparameters(draw, name: str, ordinal_ok: bool):
    kinds = ["int", "float", "cat"] + (["ord"] if ordinal_ok else [])
    kind = draw(st.sampled_from(kinds))
    if kind in ("cat", "ord"):
        values = draw(st.lists(VALUE, min_size=1, max_size=4, unique=True))
        default = draw(st.sampled_from(values))
        if kind == "cat":
            return CategoricalHyperparameter(name, values, default)
        return OrdinalHyperparameter(name, values, default)
    log = draw(st.booleans())
    if kind == "int":
        lo = draw(st.integers(1 if log else -1000, 1000))
        hi = draw(st.integers(lo + 1, lo + 5000))
        return UniformIntegerHyperparameter(name, lo, hi, draw(st.integers(lo, hi)), log=log)
    lo = draw(st.floats(1e-6, 1e5) if log else FLOAT)
    hi = lo + draw(st.floats(1e-3, 1e6))
    default = draw(st.floats(lo, hi))
    return UniformFloatHyperparameter(name, lo, hi, default, log=log)


def legal_value(draw, parent):
    if isinstance(parent, CategoricalHyperparameter):
        return draw(st.sampled_from(parent.choices))
    if isinstance(parent, OrdinalHyperparameter):
        return draw(st.sampled_from(parent.sequence))
    if isinstance(parent, UniformIntegerHyperparameter):
        return draw(st.integers(parent.lower, parent.upper))
    return draw(st.floats(parent.lower, parent.upper))


def add_or_reject(space: ConfigurationSpace, item: object) -> None:
    """ConfigSpace rounds floats, so it may reject an `==` on a float near the default."""
    try:
        space.add(item)
    except ValueError:
        assume(False)


@st.composite
def search_spaces(draw, classic: bool):
    names = draw(st.lists(NAME, min_size=1, max_size=5, unique_by=str.lower))
    hps = [draw(hyperparameters(name, not classic)) for name in names]
    space = ConfigurationSpace()
    space.add(hps)
    for index, child in enumerate(hps[1:], start=1):
        if not draw(st.booleans()):
            continue
        atoms = []
        for _ in range(draw(st.integers(1, 2))):
            parent = hps[draw(st.integers(0, index - 1))]
            choices = ["==", "in"] + ([] if classic else ["!=", "<", ">"])
            if isinstance(parent, CategoricalHyperparameter):
                choices = [c for c in choices if c not in ("<", ">")]
            op = draw(st.sampled_from(choices))
            if op == "in":
                values = [legal_value(draw, parent) for _ in range(draw(st.integers(2, 3)))]
                if len(set(values)) < 2:
                    op, value = "==", values[0]
                else:
                    atoms.append(InCondition(child, parent, list(dict.fromkeys(values))))
                    continue
            else:
                value = legal_value(draw, parent)
            kind = {
                "==": EqualsCondition,
                "!=": NotEqualsCondition,
                "<": LessThanCondition,
                ">": GreaterThanCondition,
            }[op]
            atoms.append(kind(child, parent, value))
        if len(atoms) == 2 and atoms[0] == atoms[1]:  # a file says it once (parse_pcs)
            atoms = atoms[:1]
        condition = atoms[0] if len(atoms) == 1 else AndConjunction(*atoms)
        if not classic and len(atoms) == 2 and draw(st.booleans()):
            condition = OrConjunction(*atoms)
        add_or_reject(space, condition)
    chosen = draw(
        st.lists(st.sampled_from(hps), min_size=0, max_size=2, unique_by=lambda h: h.name)
    )
    if chosen:
        values = {h.name: legal_value(draw, h) for h in chosen}
        if any(values[h.name] != h.default_value for h in chosen):
            clauses = [ForbiddenEqualsClause(h, values[h.name]) for h in chosen]
            add_or_reject(
                space, clauses[0] if len(clauses) == 1 else ForbiddenAndConjunction(*clauses)
            )
    expressions = []
    numeric = [
        h for h in hps if isinstance(h, UniformIntegerHyperparameter | UniformFloatHyperparameter)
    ]
    values = {str(v) for h in hps for v in getattr(h, "choices", getattr(h, "sequence", ()))}
    if numeric and draw(st.booleans()) and not values & set(names):  # else a name is a value
        h = draw(st.sampled_from(numeric))
        if all(c.isalnum() or c == "_" for c in h.name):
            expressions.append(
                compile_expression(f"{h.name} * 2 > {repr(float(h.upper))} * 2", hps)
            )
    return SearchSpace(space, expressions)


ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@ROUND_TRIP
@given(search_spaces(classic=True))
def test_classic_expressible_spaces_round_trip_through_both_writers(space):
    for syntax in ("classic", "new"):
        text = write_pcs(space, syntax)
        again = parse_pcs(text)
        assert again == space, text
        assert write_pcs(again, syntax) == text


@ROUND_TRIP
@given(search_spaces(classic=False))
def test_any_space_round_trips_through_json(space):
    assert from_json(to_json(space)) == space


@ROUND_TRIP
@given(search_spaces(classic=False))
def test_any_space_round_trips_through_the_new_writer(space):
    """A space read from a file writes back as itself. A ConfigSpace space whose `!=` or
    `||` may hold for an inactive parent means more in SMAC 2.10's reading of its file (the
    child needs every parent active), so only those conditions may change on the way."""
    text = write_pcs(space, "new")
    again = parse_pcs(text)
    assert parse_pcs(write_pcs(again, "new")) == again, text
    assert list(again.space.values()) == list(space.space.values())
    assert again.space.forbidden_clauses == space.space.forbidden_clauses
    assert again.expressions == space.expressions
    if not any("!=" in repr(c) or "||" in repr(c) for c in space.space.conditions):
        assert again == space, text
