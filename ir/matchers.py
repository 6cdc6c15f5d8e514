"""Small questions passes, the interpreter and the lowering ask about the IR, answered once.

    ints(op, "perm")              # (0, 2, 1, 3): an array<i64: ...> property as ints
    producer(value, "sparsec.permute")   # the permute that defines value, or None
    constant_array(value)         # the data of a sparsec.constant value, or None
    sole_user(value)              # the one op reading value (not a terminator), or None

and the canonical lists of op families: ``UNARY_OPS`` (``y = f(x)``, no properties),
``BINARY_OPS`` (``y = f(lhs, rhs)`` with broadcasting), ``COMPARE_PREDICATES`` of
``sparsec.cmp`` and ``REDUCE_KINDS`` of ``sparsec.reduce``. The interpreter and the
lowering take these names from here and only map each to a numpy / Relax function:

    _UNARY = table_for(UNARY_OPS, {"sparsec.neg": np.negative, ...})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np

from .attributes import DenseElementsAttr, DenseResourceAttr
from .core import Operation, Value

UNARY_OPS = (
    "sparsec.neg", "sparsec.exp", "sparsec.log", "sparsec.sqrt", "sparsec.rsqrt",
    "sparsec.tanh", "sparsec.erf", "sparsec.relu", "sparsec.sigmoid", "sparsec.abs",
    "sparsec.not",
)
BINARY_OPS = (
    "sparsec.add", "sparsec.sub", "sparsec.mul", "sparsec.div", "sparsec.pow",
    "sparsec.maximum", "sparsec.minimum", "sparsec.and", "sparsec.or",
)
COMPARE_PREDICATES = ("eq", "ne", "lt", "le", "gt", "ge")
REDUCE_KINDS = ("sum", "mean", "max", "min")

T = TypeVar("T")


def table_for(names: Sequence[str], table: Mapping[str, T]) -> dict[str, T]:
    """``table``, checked to map exactly ``names`` (one of the lists above), nothing more."""
    missing, extra = sorted(set(names) - set(table)), sorted(set(table) - set(names))
    if missing or extra:
        raise ValueError(f"table for {names[0]}, ...: missing {missing}, not in the list {extra}")
    return dict(table)


def ints(op: Operation, name: str) -> tuple[int, ...]:
    """Property ``name`` of ``op`` (an ``array<...>``) as a tuple of ints."""
    return tuple(int(v) for v in op.properties[name])


def producer(value: Value, name: str) -> Operation | None:
    """The op named ``name`` that defines ``value``, or None."""
    definer = value.definer
    return definer if isinstance(definer, Operation) and definer.name == name else None


def constant_array(value: Value) -> np.ndarray | None:
    """The data of a ``sparsec.constant`` value, or None (not a constant, or elided)."""
    const = producer(value, "sparsec.constant")
    attr = const.properties.get("value") if const else None
    if isinstance(attr, DenseElementsAttr):
        return attr.array
    if isinstance(attr, DenseResourceAttr) and attr.resource.data is not None:
        return attr.array
    return None


def splat_value(value: Value) -> int | float | bool | None:
    """The scalar of an inline splat constant, or None."""
    const = producer(value, "sparsec.constant")
    attr = const.properties.get("value") if const else None
    if isinstance(attr, DenseElementsAttr) and attr.is_splat:
        return attr.splat_value
    return None


def sole_user(value: Value) -> Operation | None:
    """The op that reads ``value``, when it is read once and not by a terminator (a returned
    value must stay as it is), else None."""
    uses = value.uses
    if len(uses) != 1 or uses[0].user.is_terminator:
        return None
    return uses[0].user
