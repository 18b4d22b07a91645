"""Which parameters of a search space its conditions can never make active.

`check` warns of them: a condition such as `gamma | alpha != 1e-3 && alpha == 1e-3` passes
ConfigSpace, and the script never gets the parameter. The answer is exact reasoning over the
conditions, not sampling (a valid condition that holds in one configuration of 5000, such as
`b | n == 7`, is no mistake): an alternative that asks one parent for values none of its
values is (`a == x && a != x`, `n > 5 && n < 3`), or names a parent that is itself never
active, cannot hold. What it cannot reason about (a disjunction inside a conjunction, as a
ConfigSpace JSON file may hold) counts as able to hold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ConfigSpace import (
    AndConjunction,
    EqualsCondition,
    GreaterThanCondition,
    InCondition,
    LessThanCondition,
    NotEqualsCondition,
    OrConjunction,
    OrdinalHyperparameter,
    UniformIntegerHyperparameter,
)
from ConfigSpace.conditions import Condition, Conjunction
from ConfigSpace.hyperparameters import Hyperparameter, NumericalHyperparameter

from smac_bridge.pcs import SearchSpace, choices_of


def never_active_warnings(space: SearchSpace, where: object) -> list[str]:
    """What `check` and `init` say of each parameter of SPACE (from WHERE) that the script
    would never get."""
    return [
        f"warning: {where}: the condition of {name} can never hold (it asks a parent for"
        " two things at once, such as `a == x && a != x`, or its parent is never active):"
        " the script never gets it"
        for name in never_active(space)
    ]


def never_active(space: SearchSpace) -> list[str]:
    """The names of SPACE's parameters whose condition can never hold, in the space's order."""
    by_child = {_child(condition): condition for condition in space.space.conditions}
    never: set[str] = set()
    while True:  # a child of a parameter found never active may be found next
        found = {name for name, cond in by_child.items() if not _can_hold(cond, never)} - never
        if not found:
            return [name for name in space.space if name in never]
        never |= found


def _child(condition: Condition | Conjunction) -> str:
    if isinstance(condition, Condition):
        return condition.child.name
    return condition.dlcs[0].child.name


def _can_hold(condition: Condition | Conjunction, never: set[str]) -> bool:
    if isinstance(condition, OrConjunction):
        return any(_can_hold(part, never) for part in condition.components)
    parts = list(_atoms(condition)) if isinstance(condition, AndConjunction) else [condition]
    atoms = [part for part in parts if isinstance(part, Condition)]  # not an `||` in an `&&`
    if any(atom.parent.name in never for atom in atoms):
        return False
    parents = {atom.parent.name: atom.parent for atom in atoms}
    return all(
        _satisfiable(parent, [atom for atom in atoms if atom.parent.name == name])
        for name, parent in parents.items()
    )


def _atoms(conjunction: AndConjunction) -> Iterable[Condition | Conjunction]:
    """The parts of CONJUNCTION, its nested `&&` flattened."""
    for part in conjunction.components:
        if isinstance(part, AndConjunction):
            yield from _atoms(part)
        else:
            yield part


def _satisfiable(parent: Hyperparameter, atoms: list[Condition]) -> bool:
    """Whether one value of PARENT meets every one of ATOMS (conditions on it)."""
    choices = choices_of(parent)
    if choices is not None:
        values = list(choices)
        return any(all(_holds(atom, value, values) for atom in atoms) for value in values)
    if not isinstance(parent, NumericalHyperparameter):  # not reasoned about: it may hold
        return True
    low, high = float(parent.lower), float(parent.upper)
    whole = isinstance(parent, UniformIntegerHyperparameter)
    for atom in atoms:
        if isinstance(atom, InCondition):  # of a number parent: within its values' span
            low, high = max(low, float(min(atom.values))), min(high, float(max(atom.values)))
            continue
        value = float(atom.value)
        if isinstance(atom, EqualsCondition):
            low, high = max(low, value), min(high, value)
        elif isinstance(atom, GreaterThanCondition):
            low = max(low, math.floor(value) + 1 if whole else math.nextafter(value, math.inf))
        elif isinstance(atom, LessThanCondition):
            high = min(high, math.ceil(value) - 1 if whole else math.nextafter(value, -math.inf))
    excluded = {float(a.value) for a in atoms if isinstance(a, NotEqualsCondition)}
    return low < high or (low == high and low not in excluded)


def _holds(atom: Condition, value: object, values: list[object]) -> bool:
    """Whether ATOM holds for its parent at VALUE (one of VALUES, in their order)."""
    if isinstance(atom, EqualsCondition):
        return value == atom.value
    if isinstance(atom, NotEqualsCondition):
        return value != atom.value
    if isinstance(atom, InCondition):
        return value in atom.values
    if isinstance(atom.parent, OrdinalHyperparameter):  # `<` and `>` by declared position
        here, there = values.index(value), values.index(atom.value)
        return here < there if isinstance(atom, LessThanCondition) else here > there
    return True  # nothing known to reason with: it may hold
