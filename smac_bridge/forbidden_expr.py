"""Advanced forbidden clauses of SMAC 2.10 PCS files (`{ x^2 + y^2 > 1 }`).

SMAC 2.10 evaluates these with exp4j; ConfigSpace has no equivalent, so smac-bridge parses them
with its own small recursive-descent parser (never Python `eval`, the text comes from a file)
and evaluates the tree on every configuration. A non-zero (or NaN) result means forbidden.

Precedence, loosest first: `||`, `&&`, comparisons, `+ -`, `* / %`, unary `-`, `^` (right
associative, so `-2^2` is -4 as in exp4j). Numeric parameters evaluate to their value;
categorical and ordinal parameters, and their values, to SMAC 2.10's constant for the value
(`value_constants`): a number is itself, so `batch > 20` works on `batch {16, 32, 64}`, and
words follow the value order, so `optimizer == adam` and `depth > low` work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ConfigSpace.hyperparameters import (
    CategoricalHyperparameter,
    FloatHyperparameter,
    Hyperparameter,
    IntegerHyperparameter,
    OrdinalHyperparameter,
)

from smac_bridge.protocol import read_double


class ExpressionError(ValueError):
    """An advanced forbidden clause that cannot be parsed; pcs.py adds the file and line."""


def _safe(func: Callable[[float], float]) -> Callable[[float], float]:
    """Java's Math returns NaN or Infinity where Python's math raises; keep Java's answer."""

    def call(x: float) -> float:
        try:
            return func(x)
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf

    return call


_MATH: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "acos": math.acos,
    "asin": math.asin,
    "atan": math.atan,
    "cbrt": lambda x: math.copysign(abs(x) ** (1.0 / 3.0), x),
    "ceil": lambda x: float(math.ceil(x)) if math.isfinite(x) else x,
    "cos": math.cos,
    "cosh": math.cosh,
    "exp": math.exp,
    "floor": lambda x: float(math.floor(x)) if math.isfinite(x) else x,
    "log": lambda x: -math.inf if x == 0 else math.log(x),
    "log10": lambda x: -math.inf if x == 0 else math.log10(x),
    "log2": lambda x: -math.inf if x == 0 else math.log2(x),
    "sin": math.sin,
    "sinh": math.sinh,
    "sqrt": math.sqrt,
    "tan": math.tan,
    "tanh": math.tanh,
}
FUNCTIONS = {name: _safe(func) for name, func in _MATH.items()}


def _divide(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)  # Java: 1/0 is Infinity


def _power(a: float, b: float) -> float:
    try:
        result = math.pow(a, b)
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf
    return result


def _modulo(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)  # Java's % keeps the dividend's sign, like fmod
    except ValueError:
        return math.nan


BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "%": _modulo,
    "^": _power,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    ">": lambda a, b: float(a > b),
    "<=": lambda a, b: float(a <= b),
    ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(a != 0 and b != 0),
    "||": lambda a, b: float(a != 0 or b != 0),
}
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")

_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^%<>()]))"
)


# Tree nodes. Names stay unresolved until `compile_expression` knows the parameters.
@dataclass(frozen=True)
class _Number:
    value: float
    text: str


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Param:
    name: str
    kind: str  # "number" or "choice"
    choices: tuple[str, ...]
    default: object
    constants: tuple[float, ...] = ()  # a choice's number (value_constants)


@dataclass(frozen=True)
class _Unary:
    operand: object


@dataclass(frozen=True)
class _Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class _Call:
    function: str
    argument: object


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:].strip()
            raise ExpressionError(f"unexpected {rest[:20]!r} in forbidden expression")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the token list; each method parses one precedence level."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.position = 0

    def peek(self) -> str | None:
        if self.position < len(self.tokens):
            return self.tokens[self.position][1]
        return None

    def take(self) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise ExpressionError("forbidden expression ends too early")
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> object:
        if not self.tokens:
            raise ExpressionError("empty forbidden clause '{}'")
        node = self.binary_level(0)
        if self.position < len(self.tokens):
            raise ExpressionError(f"unexpected {self.peek()!r} in forbidden expression")
        return node

    LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        COMPARISONS,
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary_level(self, level: int) -> object:
        if level == len(self.LEVELS):
            return self.unary()
        node = self.binary_level(level + 1)
        while self.peek() in self.LEVELS[level] and self.tokens[self.position][0] == "op":
            op = self.take()[1]
            node = _Binary(op, node, self.binary_level(level + 1))
        return node

    def unary(self) -> object:
        if self.peek() == "-":
            self.take()
            return _Unary(self.unary())
        if self.peek() == "+":
            self.take()
            operand = self.unary()
            if isinstance(operand, _Number):  # keeps its text: the categorical value `+2`
                return _Number(operand.value, "+" + operand.text)
            return operand
        return self.power()

    def power(self) -> object:
        base = self.primary()
        if self.peek() == "^":
            self.take()
            return _Binary("^", base, self.unary())
        return base

    def primary(self) -> object:
        kind, text = self.take()
        if kind == "number":
            return _Number(float(text), text)
        if kind == "name":
            if self.peek() == "(":
                if text not in FUNCTIONS:
                    known = ", ".join(sorted(FUNCTIONS))
                    raise ExpressionError(f"unknown function {text!r} (known: {known})")
                self.take()
                argument = self.binary_level(0)
                self.expect(")")
                return _Call(text, argument)
            return _Name(text)
        if text == "(":
            node = self.binary_level(0)
            self.expect(")")
            return node
        raise ExpressionError(
            f"expected a number, a name or '(' in forbidden expression, got {text!r}"
        )

    def expect(self, text: str) -> None:
        if self.peek() != text:
            found = "the end" if self.peek() is None else repr(self.peek())
            raise ExpressionError(f"expected {text!r} in forbidden expression, got {found}")
        self.take()


def _choices(hp: Hyperparameter) -> tuple[str, ...] | None:
    if isinstance(hp, CategoricalHyperparameter):
        return tuple(str(v) for v in hp.choices)
    if isinstance(hp, OrdinalHyperparameter):
        return tuple(str(v) for v in hp.sequence)
    return None


def value_constants(values: Sequence[str]) -> tuple[float, ...]:
    """The number each of a categorical or ordinal parameter's VALUES stands for in an
    expression, as SMAC 2.10 numbers them: a value that is a number is that number; words
    between two numbers take evenly spaced numbers between them, words before the first number
    count up to it, words after the last count on by one, and words alone are 1, 2, 3, ...
    (SMAC 2.10 orders the words of all parameters together; here each parameter's list order
    counts, which gives the same comparisons with its own values)."""
    numbers = [read_double(value) for value in values]
    first = next((i for i, number in enumerate(numbers) if number is not None), None)
    last = numbers[first] - (first + 1) if first is not None else 0.0  # type: ignore[operator]
    constants: list[float] = []
    start = 0
    for i, number in enumerate(numbers):
        if number is None:
            continue
        step = (number - last) / (i - start + 1)
        constants += [last + step * (k + 1) for k in range(i - start)] + [number]
        last, start = number, i + 1
    constants += [last + k + 1 for k in range(len(values) - start)]
    return tuple(constants)


class _Resolver:
    """Turn names into parameters or value constants, using the comparison they sit in."""

    def __init__(self, params: Mapping[str, Hyperparameter]) -> None:
        self.params = params
        self.used: set[str] = set()

    def param(self, name: str) -> _Param:
        hp = self.params[name]
        self.used.add(name)
        choices = _choices(hp)
        if choices is None:
            if not isinstance(hp, IntegerHyperparameter | FloatHyperparameter):
                raise ExpressionError(f"parameter {name!r} cannot be used in an expression")
            return _Param(name, "number", (), float(hp.default_value))
        return _Param(name, "choice", choices, str(hp.default_value), value_constants(choices))

    def value_constant(self, name: str) -> _Number:
        constants = {
            value_constants(choices)[choices.index(name)]
            for hp in self.params.values()
            if (choices := _choices(hp)) is not None and name in choices
        }
        if not constants:
            raise ExpressionError(
                f"unknown name {name!r} in forbidden expression" + self._hint(name)
            )
        if len(constants) > 1:
            raise ExpressionError(
                f"value {name!r} stands for different numbers in different parameters; "
                "compare it directly with its parameter (param == value)"
            )
        return _Number(constants.pop(), name)

    def _hint(self, name: str) -> str:
        """Why NAME may be a piece of a parameter's name: `my-lr` reads as `my - lr`."""
        pieces = [p for p in self.params if not p.isidentifier() and name in re.split(r"\W+", p)]
        if not pieces:
            return ""
        return (
            f" ({', '.join(map(repr, pieces))} cannot be named in an expression: names there"
            " are identifiers (letters, digits and _), so rename the parameter; a classic"
            " clause {name=value, ...} takes any name)"
        )

    def resolve(self, node: object) -> object:
        if isinstance(node, _Name):
            if node.name in self.params:
                return self.param(node.name)
            return self.value_constant(node.name)
        if isinstance(node, _Unary):
            return _Unary(self.resolve(node.operand))
        if isinstance(node, _Call):
            return _Call(node.function, self.resolve(node.argument))
        if isinstance(node, _Binary):
            if node.op in COMPARISONS:
                left = self.in_context(node.left, node.right)
                right = self.in_context(node.right, node.left)
                if left is not None or right is not None:
                    return _Binary(
                        node.op,
                        left if left is not None else self.resolve(node.left),
                        right if right is not None else self.resolve(node.right),
                    )
            return _Binary(node.op, self.resolve(node.left), self.resolve(node.right))
        return node

    def in_context(self, node: object, other: object) -> _Number | None:
        """A literal compared with a categorical/ordinal parameter means one of its values."""
        if not (isinstance(other, _Name) and other.name in self.params):
            return None
        choices = _choices(self.params[other.name])
        if choices is None:
            return None
        text = _literal_text(node)
        if isinstance(node, _Name) and text in self.params:
            return None
        for written in (text, text[1:] if text and text.startswith("+") else None):
            if written in choices:  # `+2` is the value `+2`, else the value `2`
                return _Number(value_constants(choices)[choices.index(written)], written)
        return None


def _literal_text(node: object) -> str | None:
    """How a literal was written: a name, a number, or a signed number (`-1` is parsed as
    minus 1, and must still match the categorical value `-1`)."""
    if isinstance(node, _Name):
        return node.name
    if isinstance(node, _Unary) and isinstance(node.operand, _Number):
        return "-" + node.operand.text
    return getattr(node, "text", None)


def _evaluate(node: object, values: Mapping[str, object]) -> float:
    if isinstance(node, _Number):
        return node.value
    if isinstance(node, _Param):
        value = values.get(node.name)
        if value is None:
            value = node.default  # inactive: SMAC 2.10 keeps the default value there
        if node.kind == "number":
            return float(value)  # type: ignore[arg-type]
        try:
            return node.constants[node.choices.index(str(value))]
        except ValueError:
            raise ValueError(f"{value!r} is not a value of parameter {node.name!r}") from None
    if isinstance(node, _Unary):
        return -_evaluate(node.operand, values)
    if isinstance(node, _Call):
        return FUNCTIONS[node.function](_evaluate(node.argument, values))
    if isinstance(node, _Binary):
        return BINARY[node.op](_evaluate(node.left, values), _evaluate(node.right, values))
    raise TypeError(f"not an expression node: {node!r}")


@dataclass(frozen=True)
class ForbiddenExpression:
    """One advanced forbidden clause: its text (what equality and the writers use) and tree."""

    text: str
    parameters: frozenset[str] = field(compare=False)
    _tree: object = field(compare=False, repr=False)

    @property
    def shape(self) -> str:
        """The expression as parsed: the same for each spelling of it (`layers>5`,
        `(layers > 5)`), which a saved search space is compared by."""
        return repr(self._tree)

    def evaluate(self, values: Mapping[str, object]) -> float:
        """The expression's value; a missing (inactive) parameter takes its default."""
        return _evaluate(self._tree, values)

    def is_forbidden(self, values: Mapping[str, object]) -> bool:
        """True when the value is non-zero; NaN counts as non-zero, as in SMAC 2.10."""
        return self.evaluate(values) != 0.0


def _refuse_names_that_are_values(params: Mapping[str, Hyperparameter]) -> None:
    """SMAC 2.10 refuses a space with advanced forbidden clauses where a parameter's name is
    also a word value of a parameter: in `{ a == x }` the name `x` would mean either."""
    words = {
        value
        for hp in params.values()
        for value in _choices(hp) or ()
        if read_double(value) is None
    }
    both = sorted(set(params) & words)
    if both:
        raise ExpressionError(
            f"{', '.join(map(repr, both))} is both a parameter's name and a value of a"
            " parameter, which advanced forbidden clauses do not allow (SMAC 2.10 refuses"
            " it too): rename the parameter or the value"
        )


def compile_expression(
    text: str, params: Mapping[str, Hyperparameter] | Sequence[Hyperparameter]
) -> ForbiddenExpression:
    """Parse `text` (the inside of `{ ... }`) against the parameters it may name."""
    if not isinstance(params, Mapping):
        params = {hp.name: hp for hp in params}
    text = " ".join(text.split())
    _refuse_names_that_are_values(params)
    resolver = _Resolver(params)
    tree = resolver.resolve(_Parser(text).parse())
    if not resolver.used:
        raise ExpressionError(f"forbidden expression {text!r} names no parameter")
    return ForbiddenExpression(text, frozenset(resolver.used), tree)
