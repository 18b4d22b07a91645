"""PCS files (SMAC 2.10 grammar, classic and new syntax, mixed) to and from a `SearchSpace`.

ConfigSpace's own `pcs`/`pcs_new` readers reject classic forbidden clauses on numeric
parameters, files that mix both syntaxes, and advanced forbidden expressions, all of which
SMAC 2.10 accepts. So this module parses every line itself, the way SMAC 2.10 does (each line
on its own, declarations first), and builds the ConfigSpace objects directly. Advanced
forbidden clauses, which ConfigSpace cannot hold, live next to the space in `SearchSpace`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from ConfigSpace import (
    AndConjunction,
    CategoricalHyperparameter,
    Configuration,
    ConfigurationSpace,
    EqualsCondition,
    ForbiddenAndConjunction,
    ForbiddenEqualsClause,
    ForbiddenInClause,
    GreaterThanCondition,
    InCondition,
    LessThanCondition,
    NotEqualsCondition,
    OrConjunction,
    OrdinalHyperparameter,
    UniformFloatHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.conditions import Condition, Conjunction
from ConfigSpace.exceptions import ActiveHyperparameterNotSetError, InactiveHyperparameterSetError
from ConfigSpace.forbidden import ForbiddenClause, ForbiddenConjunction
from ConfigSpace.hyperparameters import Hyperparameter
from ConfigSpace.util import deactivate_inactive_hyperparameters

from smac_bridge.errors import InputError, decode_text, refuse_device, text_lines
from smac_bridge.forbidden_expr import ExpressionError, ForbiddenExpression, compile_expression
from smac_bridge.protocol import DECIMAL

Syntax = Literal["classic", "new"]
SYNTAXES: tuple[str, ...] = ("classic", "new")
# Key under which `to_json` stores the advanced forbidden clauses next to ConfigSpace's JSON.
EXPRESSIONS_KEY = "smac_bridge_forbidden_expressions"

_BAD_NAME_CHARS = set(",'\"(){}[]|")
_HEADER = re.compile(r"(?:conditionals|forbidden)\s*:", re.IGNORECASE)
_DECLARATION = re.compile(r"(?P<name>[^\s\[\]{}]+)\s*(?P<rest>.*)")
_KIND = re.compile(r"(?P<kind>[A-Za-z]+)\s*(?P<rest>.*)")
_RANGE = re.compile(
    r"\[(?P<lo>[^\],]*),(?P<hi>[^\]]*)\]\s*\[(?P<default>[^\]]*)\]\s*(?P<suffix>.*)"
)
_CHOICES = re.compile(r"\{(?P<values>[^{}]*)\}\s*\[(?P<default>[^\]]*)\]\s*(?P<suffix>.*)")
_VALUE = re.compile(r"[^\s,{}\[\]]+")
# SMAC 2.10 needs whitespace between the tokens of a condition.
_IN_CONDITION = re.compile(r"(?P<parent>\S+)\s+in\s+\{(?P<values>.*)\}")
_OP_CONDITION = re.compile(r"(?P<parent>\S+)\s+(?P<op>==|!=|<|>)\s+(?P<value>\S+)")
_SINGLE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")


@dataclass
class SearchSpace:
    """A ConfigSpace space plus the advanced forbidden clauses ConfigSpace cannot express.

    Classic forbidden clauses are real ConfigSpace forbiddens inside `space`; `expressions`
    must be checked separately (`is_forbidden`) on every configuration from outside ConfigSpace.
    """

    space: ConfigurationSpace
    expressions: list[ForbiddenExpression] = field(default_factory=list)
    source: Path | None = field(default=None, compare=False)

    def is_forbidden(self, values: Mapping[str, object]) -> bool:
        """True when an advanced forbidden expression is non-zero for `values`.

        Inactive (missing) parameters take their default value, as in SMAC 2.10.
        """
        return any(expression.is_forbidden(values) for expression in self.expressions)

    def valid(self, config: Configuration) -> Configuration:
        """CONFIG's values (a real rounded to 13 decimals, as the script and design.csv get
        it) without those of parameters its conditions leave inactive.

        ConfigSpace's sampler (and so SMAC3's random proposals) gives some of them a value:
        a parameter with an `||` alternative on a parent whose own parent turned it off
        (`e | d == x || a == off`, with `d` inactive) keeps one, and so does a child whose
        condition held only before its parent's value was rounded (`u | t > 1e-12`).
        """
        values = dict(config)
        try:
            return Configuration(self.space, values=values)
        except InactiveHyperparameterSetError:
            return deactivate_inactive_hyperparameters(values, self.space)
        except ActiveHyperparameterNotSetError:  # rounding turned a child on: rarer still
            return config

    def sample(self, n: int, seed: int) -> list[Configuration]:
        """`n` random configurations allowed by every forbidden clause, reproducible by `seed`."""
        saved = self.space.random
        self.space.random = np.random.RandomState(seed)  # leave the space's own stream alone
        try:
            accepted: list[Configuration] = []
            draws, limit = 0, 1000 + 100 * n
            while len(accepted) < n:
                if draws >= limit:
                    raise InputError(
                        self.source,
                        None,
                        f"the advanced forbidden clauses rejected {draws - len(accepted)} of "
                        f"{draws} random configurations; relax them",
                    )
                size = n - len(accepted)
                batch = self.space.sample_configuration(size) if size > 1 else None
                drawn = batch if batch is not None else [self.space.sample_configuration()]
                configs = [self.valid(config) for config in drawn]
                draws += size
                accepted.extend(c for c in configs if not self.is_forbidden(c))
            return accepted[:n]
        finally:
            self.space.random = saved


# ---------------------------------------------------------------------------- reading


class _Context:
    """Where a line came from, so every error names the file and line."""

    def __init__(self, source: str, line: int | None) -> None:
        self.source = source
        self.line = line

    def error(self, message: str) -> InputError:
        return InputError(self.source, self.line, message)


_LARGEST_INTEGER = 2**53
"""Integer bounds beyond this are not exact as the floats ConfigSpace computes with."""
_LARGEST_REAL = 1e200
"""Real bounds beyond this overflow ConfigSpace's arithmetic (its samples are inf)."""
_CONFIGSPACE_DECIMALS = 13
"""ConfigSpace rounds every real value to this many decimal places."""
_FEWEST_REAL_VALUES = 1000
"""A real range that rounding leaves fewer values in is refused: SMAC3 would propose the same
few values again and again (a range below 1e-13 it cannot hold at all)."""


def rounded_real(value: float) -> float:
    """VALUE as ConfigSpace holds a real: 0.1 * 3 (0.30000000000000004) is 0.3, which the
    conditions and forbidden clauses then judge."""
    return float(np.round(value, _CONFIGSPACE_DECIMALS))


def _strip_comment(raw: str) -> str:
    return raw.split("#", 1)[0].strip()


def _number(token: str) -> float | None:
    return float(token) if DECIMAL.fullmatch(token) else None


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _controls(text: str) -> set[str]:
    """The control and format characters of TEXT (a terminal's escape code, U+202E), which
    every view would print; not the surrogates that stand for a non-UTF-8 locale's bytes."""
    return {char for char in text if unicodedata.category(char) in ("Cc", "Cf")}


def _check_name(name: str, ctx: _Context) -> None:
    bad = sorted(set(name) & _BAD_NAME_CHARS)
    bad += sorted(_controls(name))
    if bad:
        raise ctx.error(
            f"expected a parameter name without {' '.join(map(repr, bad))}, got {name!r}"
        )


def plain_value(value: Any) -> Any:
    """A JSON-able Python scalar for a ConfigSpace value (numpy scalars have `.item()`)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def plain_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration's active parameters as plain Python values (what run records hold)."""
    return {name: plain_value(value) for name, value in dict(config).items()}


def choices_of(hp: Hyperparameter) -> tuple[Any, ...] | None:
    """The values of a categorical (its choices) or ordinal (in order); None for the rest."""
    if isinstance(hp, CategoricalHyperparameter):
        return tuple(hp.choices)
    if isinstance(hp, OrdinalHyperparameter):
        return tuple(hp.sequence)
    return None


def _parse_numeric(
    name: str, rest: str, syntax: Syntax, integer: bool, ctx: _Context
) -> Hyperparameter:
    match = _RANGE.fullmatch(rest)
    if match is None:
        raise ctx.error(f"expected '[lo, hi] [default]' after {name!r}, got {rest!r}")
    lo_text, hi_text, default_text, suffix = (
        match[key].strip() for key in ("lo", "hi", "default", "suffix")
    )
    if syntax == "classic":
        if not re.fullmatch(r"[il]*", suffix):  # SMAC 2.10 reads `ii` as i, `lil` as il
            raise ctx.error(
                f"expected nothing or one of i, l, il, li after the default of {name!r}, "
                f"got {suffix!r}"
            )
        integer, log = "i" in suffix, "l" in suffix
    else:
        if suffix not in ("", "log"):
            raise ctx.error(
                f"expected nothing or 'log' after the default of {name!r}, got {suffix!r}"
            )
        log = suffix == "log"
    bounds = f"[{lo_text}, {hi_text}]"
    kind = "an integer" if integer else "a number"
    numbers = []
    largest = _LARGEST_INTEGER if integer else _LARGEST_REAL
    for text, what in ((lo_text, "lower bound"), (hi_text, "upper bound")):
        value = _number(text)
        if value is None or (integer and not value.is_integer()):
            raise ctx.error(f"expected {kind} as {what} of {name!r}, got {text!r}")
        if integer and text.lstrip("+-").isdigit():  # 2^53 + 1 is 2^53 as a float
            value = int(text)
        if not abs(value) <= largest:  # ConfigSpace's arithmetic overflows beyond
            raise ctx.error(
                f"expected {kind} between -{largest} and {largest} as {what} of {name!r},"
                f" got {text!r}"
            )
        numbers.append(int(value) if integer else value)
    lo, hi = numbers
    if lo >= hi:
        raise ctx.error(f"expected the lower bound of {name!r} below its upper bound, got {bounds}")
    if log and lo <= 0:
        raise ctx.error(f"expected bounds > 0 for log-scale {name!r}, got {bounds}")
    if log and np.round(lo, _CONFIGSPACE_DECIMALS) <= 0:  # as ConfigSpace rounds: 5e-14 is 0
        raise ctx.error(
            f"the lower bound of log-scale {name!r} is 0 to ConfigSpace, which keeps a real to"
            f" {_CONFIGSPACE_DECIMALS} decimal places, got {bounds}; give the parameter in"
            " larger units (say, times 1e6) and scale it back in the script"
        )
    kept = math.floor((hi - lo) * 10**_CONFIGSPACE_DECIMALS) + 1
    if not integer and kept < _FEWEST_REAL_VALUES:
        raise ctx.error(
            f"{bounds} is too fine for {name!r}: ConfigSpace (and so SMAC3) keeps a real to"
            f" {_CONFIGSPACE_DECIMALS} decimal places, which leaves {kept} value"
            f"{'s' if kept != 1 else ''} in it; give the parameter in larger units (say,"
            " times 1e6) and scale it back in the script"
        )
    default = _number(default_text)
    if default is None or (integer and not default.is_integer()) or not lo <= default <= hi:
        fraction = default is not None and integer and not default.is_integer()
        what = "an integer default" if fraction else "a default"
        raise ctx.error(f"expected {what} in {bounds} for {name!r}, got {default_text!r}")
    try:
        if integer:
            return UniformIntegerHyperparameter(name, lo, hi, int(default), log=log)
        return UniformFloatHyperparameter(name, lo, hi, default, log=log)
    except (ValueError, ArithmeticError) as error:  # e.g. a log-scale lower bound of 1e-14
        why = error.__cause__ or error
        raise ctx.error(f"ConfigSpace cannot use {bounds} for {name!r}: {why}") from None


def _parse_choices(name: str, rest: str, ordinal: bool, ctx: _Context) -> Hyperparameter:
    match = _CHOICES.fullmatch(rest)
    if match is None:
        raise ctx.error(f"expected '{{v1, v2, ...}} [default]' after {name!r}, got {rest!r}")
    values: dict[str, None] = {}  # a dict: a list of 40000 values was checked for repeats in
    for value in (v.strip() for v in match["values"].split(",")):  # quadratic time
        if not _VALUE.fullmatch(value) or _controls(value):
            raise ctx.error(
                f"expected a value without spaces, commas, braces, brackets or control"
                f" characters in the list of {name!r}, got {value!r}"
            )
        if value in values:
            raise ctx.error(f"value {value!r} appears twice in the list of {name!r}")
        values[value] = None
    if match["suffix"].strip():
        raise ctx.error(f"expected nothing after the default of {name!r}, got {match['suffix']!r}")
    default = match["default"].strip()
    if default not in values:
        listed = "{" + ", ".join(values) + "}"
        raise ctx.error(f"expected a default in {listed} for {name!r}, got {default!r}")
    if ordinal:
        return OrdinalHyperparameter(name, list(values), default)
    return CategoricalHyperparameter(name, list(values), default)


def _parse_declaration(text: str, ctx: _Context) -> Hyperparameter:
    match = _DECLARATION.fullmatch(text)
    if match is None:
        raise ctx.error(f"expected a parameter declaration, got {text!r}")
    name, rest = match["name"], match["rest"]
    _check_name(name, ctx)
    if rest.startswith("["):
        return _parse_numeric(name, rest, "classic", False, ctx)
    if rest.startswith("{"):
        return _parse_choices(name, rest, False, ctx)
    kind_match = _KIND.fullmatch(rest)
    kind = kind_match["kind"] if kind_match else ""
    if kind_match is None or kind not in ("integer", "real", "categorical", "ordinal"):
        word = rest.split()[0] if rest.split() else ""
        raise ctx.error(
            f"expected '[lo, hi]', '{{values}}' or a type (integer, real, categorical, ordinal) "
            f"after {name!r}, got {word!r}"
        )
    tail = kind_match["rest"]
    if kind in ("integer", "real"):
        return _parse_numeric(name, tail, "new", kind == "integer", ctx)
    return _parse_choices(name, tail, kind == "ordinal", ctx)


def _typed_value(hp: Hyperparameter, token: str, where: str, ctx: _Context) -> object:
    """`token` as a legal value of `hp`: int, float or (categorical/ordinal) the string."""
    choices = choices_of(hp)
    if choices is not None:
        if token in choices:
            return token
        listed = "{" + ", ".join(choices) + "}"
        raise ctx.error(f"expected one of {listed} for {hp.name!r} {where}, got {token!r}")
    assert isinstance(hp, UniformIntegerHyperparameter | UniformFloatHyperparameter)
    integer = isinstance(hp, UniformIntegerHyperparameter)
    value = _number(token)
    bounds = f"[{_format_number(hp.lower)}, {_format_number(hp.upper)}]"
    if value is None or (integer and not value.is_integer()) or not hp.lower <= value <= hp.upper:
        kind = "an integer" if integer else "a number"
        raise ctx.error(f"expected {kind} in {bounds} for {hp.name!r} {where}, got {token!r}")
    return int(value) if integer else value


@dataclass
class _ParsedCondition:
    child: str
    condition: Condition | Conjunction
    parents: set[str]
    classic_in: bool  # a single `parent in {...}`: repeated lines of these are merged
    ctx: _Context


def _parse_atom(
    text: str, child: Hyperparameter, params: Mapping[str, Hyperparameter], ctx: _Context
) -> tuple[Condition, str]:
    where = f"in the condition of {child.name!r}"
    if not text:
        raise ctx.error(f"expected a condition between '&&'/'||' for {child.name!r}, got nothing")
    in_match = _IN_CONDITION.fullmatch(text)
    op_match = _OP_CONDITION.fullmatch(text)
    match = in_match or op_match
    if match is None:
        raise ctx.error(
            "expected 'parent OP value' (OP one of ==, !=, <, >) or 'parent in {v1, v2, ...}' "
            f"with spaces between the tokens, got {text!r}"
        )
    parent_name = match["parent"]
    if parent_name not in params:
        raise ctx.error(f"condition of {child.name!r} names undeclared parameter {parent_name!r}")
    if parent_name == child.name:
        raise ctx.error(f"parameter {child.name!r} cannot depend on itself")
    parent = params[parent_name]
    if in_match is not None:
        tokens = [v.strip() for v in in_match["values"].split(",")]
        values = [_typed_value(parent, token, where, ctx) for token in tokens]
        if len(set(values)) != len(values):
            raise ctx.error(f"a value appears twice in {{{in_match['values']}}} {where}")
        if len(values) == 1:
            return EqualsCondition(child, parent, values[0]), parent_name
        return InCondition(child, parent, values), parent_name
    op = match["op"]
    if op in ("<", ">") and isinstance(parent, CategoricalHyperparameter):
        raise ctx.error(
            f"'{op}' is not allowed on categorical parent {parent_name!r} {where}; "
            "declare it ordinal to compare positions"
        )
    value = _typed_value(parent, match["value"], where, ctx)
    kinds = {
        "==": EqualsCondition,
        "!=": NotEqualsCondition,
        "<": LessThanCondition,
        ">": GreaterThanCondition,
    }
    return kinds[op](child, parent, value), parent_name


def _activity_atoms(child: Hyperparameter, parent: Hyperparameter) -> list[list[Condition]]:
    """Alternatives that hold exactly when PARENT is active (has any value): ConfigSpace's
    `!=` and `||` hold for an inactive parent, SMAC 2.10's conditions never do."""
    if isinstance(parent, (CategoricalHyperparameter, OrdinalHyperparameter)):
        values = list(choices_of(parent) or ())
        if len(values) == 1:
            return [[EqualsCondition(child, parent, values[0])]]
        return [[InCondition(child, parent, values)]]
    lower = parent.lower  # type: ignore[attr-defined]
    return [[EqualsCondition(child, parent, lower)], [GreaterThanCondition(child, parent, lower)]]


def _parse_condition(
    text: str, params: Mapping[str, Hyperparameter], conditional: set[str], ctx: _Context
) -> _ParsedCondition:
    """One condition line; every alternative also requires each parent in CONDITIONAL (a
    parameter that may be inactive) to be active, as SMAC 2.10 does."""
    child_text, rest = text.split("|", 1)
    child_name, rest = child_text.strip(), rest.strip()
    if not child_name or len(child_name.split()) != 1:
        declared_here = any(bracket in child_name for bracket in "[{")
        hint = (
            f"; a condition is a line of its own after the declaration: "
            f"'{child_name.split()[0]} | {rest}'"
            if declared_here
            else ""
        )
        raise ctx.error(f"expected one parameter name before '|', got {child_text.strip()!r}{hint}")
    if child_name not in params:
        raise ctx.error(f"condition on undeclared parameter {child_name!r}")
    child = params[child_name]
    _refuse_joined_values(rest, params, f"the condition of {child_name!r}", ctx)
    parents: set[str] = set()
    alternatives: list[list[Condition]] = []
    atoms_seen = 0
    for alternative in rest.split("||"):
        atoms = []
        for atom_text in alternative.split("&&"):
            atom, parent = _parse_atom(atom_text.strip(), child, params, ctx)
            atoms.append(atom)
            parents.add(parent)
            atoms_seen += 1
        alternatives.append(atoms)
    for name in sorted(parents & conditional):
        widened = []
        for atoms in alternatives:
            if _requires_active(atoms, name):
                widened.append(atoms)
            else:
                widened.extend(atoms + extra for extra in _activity_atoms(child, params[name]))
        alternatives = widened
    # An alternative or atom named twice (`opt == a || opt in {a}`) is said once: ConfigSpace
    # 1.2 then misjudged a grandchild's condition and sampled it active under an inactive
    # parent, and the script got a flag it must not.
    conjunctions = _once([_conjunction(_once(atoms)) for atoms in alternatives])
    condition = conjunctions[0] if len(conjunctions) == 1 else OrConjunction(*conjunctions)
    classic_in = atoms_seen == 1 and _IN_CONDITION.fullmatch(rest) is not None
    return _ParsedCondition(child_name, condition, parents, classic_in, ctx)


_T = TypeVar("_T")


def _once(items: list[_T]) -> list[_T]:
    """ITEMS without repeats, in their order (conditions compare by what they say)."""
    unique: list[_T] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique


def _conjunction(atoms: list[Condition]) -> Condition | Conjunction:
    return atoms[0] if len(atoms) == 1 else AndConjunction(*atoms)


def _refuse_joined_values(
    text: str, params: Mapping[str, Hyperparameter], where: str, ctx: _Context
) -> None:
    """A value holding `&&` may be declared (one with `|` is read as a condition), but TEXT
    (a condition or a forbidden expression, whose parts `&&` joins) cannot name it: said as
    such, not as the half value the split left ('expected one of {a&&b, c}, got a')."""
    for name, hp in params.items():
        for value in choices_of(hp) or ():
            # named: after an operator, `{` or `,`, and ending where a value ends
            named = rf"[=<>{{,]\s*{re.escape(str(value))}(?=[\s,}}]|$)"
            if "&&" in str(value) and re.search(named, text):
                raise ctx.error(
                    f"{where} names the value {str(value)!r} of {name!r}, but '&&' joins its"
                    " parts: rename the value"
                )


def _requires_active(atoms: list[Condition], parent: str) -> bool:
    """True when one of ATOMS fails for an inactive PARENT (every kind but `!=` does)."""
    return any(
        atom.parent.name == parent and not isinstance(atom, NotEqualsCondition) for atom in atoms
    )


def _merge_conditions(parsed: list[_ParsedCondition]) -> list[_ParsedCondition]:
    """One condition per child: several classic `in` lines become an AND, as in SMAC 2.10."""
    by_child: dict[str, list[_ParsedCondition]] = {}
    for item in parsed:
        by_child.setdefault(item.child, []).append(item)
    merged = []
    for child, items in by_child.items():
        if len(items) == 1:
            merged.append(items[0])
            continue
        if not all(item.classic_in for item in items):
            raise items[1].ctx.error(
                f"parameter {child!r} already has a condition on line {items[0].ctx.line}; "
                "only 'child | parent in {...}' lines may repeat, write the rest on one "
                "line joined by && or ||"
            )
        conjunction = AndConjunction(*(item.condition for item in items))
        parents = set().union(*(item.parents for item in items))
        merged.append(_ParsedCondition(child, conjunction, parents, False, items[0].ctx))
    return merged


def _check_cycles(conditions: list[_ParsedCondition]) -> None:
    parents = {item.child: item for item in conditions}
    state: dict[str, str] = {}  # "visiting" or "done"

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done" or name not in parents:
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise parents[name].ctx.error(
                "conditions form a cycle: " + " -> ".join(cycle) + " (child -> parent)"
            )
        state[name] = "visiting"
        for parent in sorted(parents[name].parents):
            visit(parent, path + [name])
        state[name] = "done"

    for name in parents:
        visit(name, [])


def _parse_forbidden(
    text: str, params: Mapping[str, Hyperparameter], ctx: _Context
) -> tuple[ForbiddenClause | ForbiddenConjunction, list[tuple[str, object]]] | ForbiddenExpression:
    if not text.endswith("}"):
        raise ctx.error(f"expected '}}' at the end of the forbidden clause, got {text!r}")
    body = text[1:-1].strip()
    if "," not in body and not _SINGLE_EQUALS.search(body):
        _refuse_joined_values(body, params, "the forbidden expression", ctx)
        try:
            return compile_expression(body, params)
        except ExpressionError as error:
            raise ctx.error(str(error)) from None
    pairs: list[tuple[str, object]] = []
    for part in body.removesuffix(",").split(","):  # `{a=y, b=q,}`: SMAC 2.10 takes it
        pair = _classic_pair(part, params)
        if pair is None:
            raise ctx.error(f"expected 'name=value' in the forbidden clause, got {part.strip()!r}")
        name, value = pair
        if name not in params:
            raise ctx.error(f"forbidden clause names undeclared parameter {name!r}")
        if any(name == seen for seen, _ in pairs):
            raise ctx.error(f"parameter {name!r} appears twice in the forbidden clause")
        pairs.append((name, _typed_value(params[name], value, "in a forbidden clause", ctx)))
    clauses = [ForbiddenEqualsClause(params[name], value) for name, value in pairs]
    if len(clauses) == 1:
        return clauses[0], pairs
    return ForbiddenAndConjunction(*clauses), pairs


def _classic_pair(part: str, params: Mapping[str, Hyperparameter]) -> tuple[str, str] | None:
    """PART of a classic clause, `name=value`, split at its first `=` that leaves a declared
    name before it (a name may hold `=`, as in `{a=b=0.5}` for a parameter `a=b`, and so may
    a value), else at its first `=`; None when that is no such pair (a word each side)."""
    text = part.strip()
    splits = [(text[:at].strip(), text[at + 1 :].strip()) for at, c in enumerate(text) if c == "="]
    words = [(n, v) for n, v in splits if n and v and not any(c.isspace() for c in n + v)]
    declared = next((pair for pair in words if pair[0] in params), None)
    return declared or (splits[0] if splits and splits[0] in words else None)


def parse_pcs(text: str, source: str | Path = "<string>") -> SearchSpace:
    """Parse PCS text (classic and new lines may mix, as in SMAC 2.10) into a SearchSpace."""
    name = str(source)
    params: dict[str, Hyperparameter] = {}
    declared_on: dict[str, int] = {}
    later: list[tuple[str, _Context]] = []
    for number, raw in enumerate(text_lines(text), start=1):
        line = _strip_comment(raw)
        ctx = _Context(name, number)
        if not line or _HEADER.fullmatch(line):
            continue
        if line.startswith("{") or "|" in line:
            later.append((line, ctx))
            continue
        try:
            hp = _parse_declaration(line, ctx)
        except InputError as error:
            if "#" not in raw:
                raise
            comment = " (a # starts a comment: the rest of the line was not read)"
            raise ctx.error(error.message + comment) from None
        if hp.name in params:
            raise ctx.error(
                f"parameter {hp.name!r} is already declared on line {declared_on[hp.name]}"
            )
        params[hp.name] = hp
        declared_on[hp.name] = number
    if not params:
        where = Path(source) if name != "<string>" else None
        raise InputError(where, None, "expected at least one parameter declaration, found none")

    conditions: list[_ParsedCondition] = []
    forbiddens: list[
        tuple[ForbiddenClause | ForbiddenConjunction, list[tuple[str, object]], _Context]
    ] = []
    expressions: list[tuple[ForbiddenExpression, _Context]] = []
    conditional = {line.split("|", 1)[0].strip() for line, _ in later if not line.startswith("{")}
    for line, ctx in later:
        if line.startswith("{"):
            parsed = _parse_forbidden(line, params, ctx)
            if isinstance(parsed, ForbiddenExpression):
                expressions.append((parsed, ctx))
            else:
                forbiddens.append((*parsed, ctx))
        else:
            conditions.append(_parse_condition(line, params, conditional, ctx))
    conditions = _merge_conditions(conditions)
    _check_cycles(conditions)

    # SMAC 2.10: the default must not be forbidden, even where its parameters are inactive.
    defaults = {hp.name: hp.default_value for hp in params.values()}
    for _, pairs, ctx in forbiddens:
        if all(defaults[name] == value for name, value in pairs):
            raise ctx.error("this forbidden clause forbids the default configuration")
    for expression, ctx in expressions:
        if expression.is_forbidden(defaults):
            raise ctx.error("this forbidden clause forbids the default configuration")

    items = [(c.condition, c.ctx) for c in conditions] + [(f, ctx) for f, _, ctx in forbiddens]
    space = ConfigurationSpace()
    space.add(list(params.values()))
    try:  # at once: ConfigSpace rebuilds its condition tree on each add (n² comparisons)
        space.add([item for item, _ in items])
    except (ValueError, TypeError):  # one by one, to name the line at fault
        space = ConfigurationSpace()
        space.add(list(params.values()))
        for item, ctx in items:
            _add(space, item, ctx)
    return SearchSpace(
        space,
        [expression for expression, _ in expressions],
        Path(source) if name != "<string>" else None,
    )


def _add(
    space: ConfigurationSpace,
    item: Condition | Conjunction | ForbiddenClause | ForbiddenConjunction,
    ctx: _Context,
) -> None:
    """Add one condition or forbidden; ConfigSpace's remaining checks still get a file:line."""
    try:
        space.add(item)
    except (ValueError, TypeError) as error:
        raise ctx.error(str(error)) from None


def read_pcs(path: str | Path) -> SearchSpace:
    """Read a PCS file; errors name `path` as given and the line."""
    refuse_device(path, "the PCS file")
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputError(path, None, f"cannot read PCS file: {reason}") from None
    if str(path).lower().endswith(".json"):  # SMAC3's paramfile format, as `to_json` writes it
        space = from_json(decode_text(path, data, "the JSON file"), Path(path))
        write_pcs(space)  # a launch keeps its space as PCS: what that cannot hold fails here
        return space
    text = decode_text(path, data, "the PCS file")
    if _is_json_space(text):  # a `space.to_json(...)` saved under a PCS file's name
        raise InputError(
            path, None, "expected PCS, found ConfigSpace's JSON: a JSON file's name ends in .json"
        )
    return parse_pcs(text, path)


def _is_json_space(text: str) -> bool:
    if not text.lstrip().startswith("{"):  # a PCS file may begin with a forbidden clause
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and "hyperparameters" in data


def from_json(text: str, source: Path | None = None) -> SearchSpace:
    """ConfigSpace's JSON (with `to_json`'s advanced forbidden clauses, if any)."""
    try:
        data = json.loads(text)
        if not (isinstance(data, dict) and "hyperparameters" in data):
            raise ValueError("no 'hyperparameters' list")
        entries = data["hyperparameters"]
        if entries == []:
            raise ValueError("an empty 'hyperparameters' list: expected at least one parameter")
        if not (isinstance(entries, list) and all(isinstance(e, dict) for e in entries)):
            got = type(entries).__name__ if not isinstance(entries, list) else "other entries"
            raise ValueError(f"'hyperparameters' is a list of objects, got {got}")
        expressions = data.pop(EXPRESSIONS_KEY, [])
        for entry in entries:
            _check_json_range(entry)
        _values_as_text(data)
        space = ConfigurationSpace.from_serialized_dict(data)
        compiled = [compile_expression(str(e), list(space.values())) for e in expressions]
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        ArithmeticError,
        ExpressionError,
    ) as error:
        raise InputError(source, None, f"expected ConfigSpace's JSON: {error}") from None
    return SearchSpace(space, compiled, source)


def _values_as_text(data: dict[str, Any]) -> None:
    """Read SMAC3's `Constant` parameters of a ConfigSpace JSON as categoricals of one value
    (`k {fixed} [fixed]`), which a PCS file holds, and the numbers and booleans among a
    categorical's or ordinal's values as the text a PCS file holds (`1e-05`, `True`): the
    script gets what the same space's PCS file gives it (the number `1e-05` went out as
    `1.0E-5`); so do the values that conditions and forbidden clauses compare them with."""
    texted = set()
    for entry in data["hyperparameters"]:
        if not isinstance(entry, dict):
            continue
        kind = entry.get("type")
        key = {"categorical": "choices", "ordinal": "sequence"}.get(str(kind), "")
        if kind == "constant":
            value = str(entry.get("value"))
            entry.update(type="categorical", choices=[value], default_value=value, weights=None)
            entry.pop("value", None)
            texted.add(entry.get("name"))
        elif isinstance(values := entry.get(key), list) and any(
            not isinstance(value, str) for value in values
        ):
            entry[key] = [str(value) for value in values]
            for default in ("default_value", "default"):  # ConfigSpace's name, an older one
                if entry.get(default) is not None:
                    entry[default] = str(entry[default])
            texted.add(entry.get("name"))

    def as_text(item: object) -> None:
        if isinstance(item, list):
            for part in item:
                as_text(part)
        elif isinstance(item, dict):
            if item.get("parent", item.get("name")) in texted:
                if "value" in item:
                    item["value"] = str(item["value"])
                if isinstance(item.get("values"), list):
                    item["values"] = [str(value) for value in item["values"]]
            as_text(item.get("conditions"))
            as_text(item.get("clauses"))

    if texted:
        as_text(data.get("conditions"))
        as_text(data.get("forbiddens"))


def _check_json_range(entry: object) -> None:
    """A numeric parameter's bounds, default and log scale, and a categorical's values, named:
    ConfigSpace says only "illegal settings", or divides by their number."""
    if not isinstance(entry, dict):
        return
    for values in ("choices", "sequence"):
        if values in entry and not entry[values]:
            raise ValueError(f"parameter {entry.get('name')!r}: expected values, got none")
    if not {"lower", "upper"} <= entry.keys():
        return
    name, lower, upper = entry.get("name"), entry["lower"], entry["upper"]
    default = entry.get("default", entry.get("default_value"))
    numbers = (int, float)
    if not (isinstance(lower, numbers) and isinstance(upper, numbers)):
        return  # ConfigSpace names a bound that is no number
    largest = _LARGEST_INTEGER if "int" in str(entry.get("type")) else _LARGEST_REAL
    if not (abs(lower) <= largest and abs(upper) <= largest):  # its arithmetic overflows
        raise ValueError(f"parameter {name!r}: expected bounds between -{largest} and {largest}")
    if not lower < upper:
        raise ValueError(f"parameter {name!r}: lower {lower} is not below upper {upper}")
    if entry.get("log") and lower <= 0:
        raise ValueError(f"parameter {name!r}: a log scale needs lower above 0, not {lower}")
    if isinstance(default, numbers) and not lower <= default <= upper:
        raise ValueError(f"parameter {name!r}: default {default} is outside [{lower}, {upper}]")


# ---------------------------------------------------------------------------- writing


def _writable(text: str, what: str, source: Path | None, banned: set[str]) -> str:
    if not _VALUE.fullmatch(text) or set(text) & banned:
        raise InputError(source, None, f"{what} {text!r} cannot be written in a PCS file")
    return text


def _format_value(hp: Hyperparameter, value: object, source: Path | None = None) -> str:
    if isinstance(hp, UniformIntegerHyperparameter):
        return str(int(value))  # type: ignore[call-overload]
    if isinstance(hp, UniformFloatHyperparameter):
        return repr(float(value))  # type: ignore[arg-type]
    return _writable(str(value), f"value of {hp.name!r}", source, {"#", "|"})


def format_hyperparameter(hp: Hyperparameter, syntax: Syntax, source: Path | None = None) -> str:
    """One declaration line; raises InputError for what `syntax` cannot express."""
    name = _writable(hp.name, "parameter name", source, _BAD_NAME_CHARS | {"#"})
    default = _format_value(hp, hp.default_value, source)
    if isinstance(hp, UniformIntegerHyperparameter | UniformFloatHyperparameter):
        integer = isinstance(hp, UniformIntegerHyperparameter)
        bounds = f"[{_format_value(hp, hp.lower)}, {_format_value(hp, hp.upper)}]"
        if syntax == "classic":
            suffix = ("i" if integer else "") + ("l" if hp.log else "")
            return f"{name} {bounds} [{default}]{suffix}"
        kind = "integer" if integer else "real"
        return f"{name} {kind} {bounds} [{default}]" + (" log" if hp.log else "")
    choices = choices_of(hp)
    if choices is not None:
        if isinstance(hp, CategoricalHyperparameter) and hp.weights is not None:
            raise InputError(source, None, f"PCS files cannot hold the weights of {hp.name!r}")
        listed = "{" + ", ".join(_format_value(hp, value, source) for value in choices) + "}"
        if isinstance(hp, OrdinalHyperparameter):
            if syntax == "classic":
                raise InputError(
                    source,
                    None,
                    f"classic PCS syntax has no ordinal parameters ({hp.name!r}); use new syntax",
                )
            return f"{name} ordinal {listed} [{default}]"
        kind = "" if syntax == "classic" else " categorical"
        return f"{name}{kind} {listed} [{default}]"
    raise InputError(
        source, None, f"PCS files cannot express {type(hp).__name__} parameter {hp.name!r}"
    )


_OPERATORS: dict[type, str] = {
    EqualsCondition: "==",
    NotEqualsCondition: "!=",
    LessThanCondition: "<",
    GreaterThanCondition: ">",
}


def _atom_text(condition: Condition, syntax: Syntax, source: Path | None) -> str:
    parent = condition.parent
    if isinstance(condition, InCondition):
        listed = ", ".join(_format_value(parent, v, source) for v in condition.values)
        return f"{parent.name} in {{{listed}}}"
    op = _OPERATORS.get(type(condition))
    if op is None:
        raise InputError(source, None, f"PCS files cannot express condition {condition}")
    value = _format_value(parent, condition.value, source)
    if syntax == "classic":
        if op != "==":
            raise InputError(
                source,
                None,
                f"classic PCS syntax has no '{op}' conditions"
                f" ('{condition.child.name} | {parent.name} {op} {value}'); use new syntax",
            )
        return f"{parent.name} in {{{value}}}"
    return f"{parent.name} {op} {value}"


def _conjunction_atoms(condition: Condition | Conjunction, source: Path | None) -> list[Condition]:
    if isinstance(condition, AndConjunction):
        return [atom for part in condition.components for atom in _conjunction_atoms(part, source)]
    if isinstance(condition, Conjunction):
        raise InputError(
            source, None, f"PCS files cannot express an OR inside an AND ({condition})"
        )
    return [condition]


def format_condition(
    condition: Condition | Conjunction, syntax: Syntax, source: Path | None = None
) -> list[str]:
    """The line(s) for one child's condition: classic needs one line per `in` of an AND."""
    child = condition.child.name
    if syntax == "classic":
        if isinstance(condition, OrConjunction):
            written = format_condition(condition, "new", source)[0]
            raise InputError(
                source, None, f"classic PCS syntax has no '||' ('{written}'); use new syntax"
            )
        return [
            f"{child} | {_atom_text(atom, syntax, source)}"
            for atom in _conjunction_atoms(condition, source)
        ]
    alternatives = condition.components if isinstance(condition, OrConjunction) else [condition]
    text = " || ".join(
        " && ".join(_atom_text(atom, syntax, source) for atom in _conjunction_atoms(part, source))
        for part in alternatives
    )
    return [f"{child} | {text}"]


def format_forbidden(clause: object) -> str:
    """A forbidden clause as PCS writes it (`forbidden_lines`), on one line."""
    return " ".join(forbidden_lines(clause))


def forbidden_lines(clause: object, source: Path | None = None) -> list[str]:
    """`{a=1, b=x}`, the only forbidden form both PCS syntaxes share: one such line per
    combination of the values a ConfigSpace `ForbiddenInClause` lists (SMAC3's JSON)."""
    parts = clause.components if isinstance(clause, ForbiddenAndConjunction) else [clause]
    clauses = [
        part for part in parts if isinstance(part, ForbiddenEqualsClause | ForbiddenInClause)
    ]
    if len(clauses) != len(parts):
        raise InputError(
            source,
            None,
            f"PCS files cannot express ConfigSpace's forbidden clause {clause} as a clause;"
            " write the space as a PCS file with it as a forbidden expression, e.g. { m < n }",
        )
    choices = [
        [
            f"{part.hyperparameter.name}={_format_value(part.hyperparameter, value, source)}"
            for value in (part.values if isinstance(part, ForbiddenInClause) else [part.value])
        ]
        for part in clauses
    ]
    return ["{" + ", ".join(pairs) + "}" for pairs in itertools.product(*choices)]


def write_pcs(space: SearchSpace, syntax: Syntax = "new") -> str:
    """PCS text that `parse_pcs` reads back into an equal SearchSpace.

    Raises InputError for what `syntax` cannot express (classic: ordinals, `||`, `!=`, `<`, `>`)
    and for a space whose names or values hold PCS syntax, which would not read back.
    """
    if syntax not in SYNTAXES:
        raise ValueError(f"syntax must be one of {', '.join(SYNTAXES)}, not {syntax!r}")
    source = space.source
    sections: list[Sequence[str]] = [
        [format_hyperparameter(hp, syntax, source) for hp in space.space.values()],
        [line for c in space.space.conditions for line in format_condition(c, syntax, source)],
        [
            line
            for clause in space.space.forbidden_clauses
            for line in forbidden_lines(clause, source)
        ],
        ["{ " + expression.text + " }" for expression in space.expressions],
    ]
    text = "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"
    _reads_back(text, space)
    return text


def _reads_back(text: str, space: SearchSpace) -> None:
    """InputError unless TEXT, written from SPACE, reads back: a name or value that holds PCS
    syntax (a value `x&&y` in a condition, a name `a=b` in a clause) was written without a
    word, and the launch that keeps the space beside its runs could not read it again. (A
    ConfigSpace `||` over a parent that may be inactive reads back meaning more, as SMAC
    2.10 reads it: that is no error here.)"""
    try:
        parse_pcs(text)
    except InputError as error:
        raise InputError(
            space.source, None, f"the space cannot be written as a PCS file: {error.message}"
        ) from None


def to_json(space: SearchSpace) -> str:
    """ConfigSpace's JSON, with the advanced forbidden clauses under an extra key."""
    data = space.space.to_serialized_dict()
    if space.expressions:
        data[EXPRESSIONS_KEY] = [expression.text for expression in space.expressions]
    return json.dumps(data, indent=2) + "\n"
