"""The `canonicalize` pass: local simplifications as rewrite patterns, then DCE.

Each pattern is one small function from an op to its replacement (or None);
``PATTERNS`` is the list the greedy driver applies until nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparsec.ir.attributes import DenseElementsAttr, i64_array
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects.sparsec import (
    DYNAMIC_SIZE,
    Cast,
    Constant,
    Dim,
    Dropout,
    Neg,
    Permute,
    Reshape,
)
from sparsec.ir.interpreter import InterpretError, evaluate_op
from sparsec.ir.matchers import constant_array, ints, producer, splat_value
from sparsec.ir.opdef import CONSTANT_LIKE, PURE, has_trait
from sparsec.ir.types import TensorType

from .dce import erase_dead_ops
from .pass_base import Pass, PassError, option
from .registry import register_pass
from .rewrite import Pattern, Replacement, apply_patterns_greedily

# -- helpers (the matchers are ir/matchers.py's) ----------------------------------


def _keeps_type(op: Operation, value: Value) -> Value | None:
    """``value`` if it can replace ``op``'s result as is (same type), else None."""
    return value if value.type == op.result.type else None


# -- shape ops -------------------------------------------------------------------


def _dim_of(size: Value) -> tuple[Value, int] | None:
    """(x, axis) when ``size`` is ``dim(x, axis)``."""
    dim = producer(size, "sparsec.dim")
    return (Dim(dim).input, Dim(dim).axis) if dim is not None else None


def fold_identity_reshape(op: Operation) -> Replacement | None:
    """reshape(x) to x's own shape -> x (a run-time size must be x's own size on that axis)"""
    view = Reshape(op)
    positions = [i for i, d in enumerate(ints(op, "shape")) if d == DYNAMIC_SIZE]
    if any(_dim_of(size) != (view.input, axis)
           for size, axis in zip(view.sizes, positions, strict=True)):
        return None
    return _keeps_type(op, view.input)


def compose_reshapes(op: Operation) -> Replacement | None:
    """reshape(reshape(x)) -> reshape(x)"""
    inner = producer(Reshape(op).input, "sparsec.reshape")
    if inner is None:
        return None
    return Reshape.build([Reshape(inner).input, *Reshape(op).sizes],
                         {"shape": op.properties["shape"]})


def fold_identity_permute(op: Operation) -> Replacement | None:
    """permute(x, [0, 1, ..., n-1]) -> x"""
    perm = ints(op, "perm")
    return Permute(op).input if perm == tuple(range(len(perm))) else None


def compose_permutes(op: Operation) -> Replacement | None:
    """permute(permute(x, p), q) -> permute(x, [p[i] for i in q])"""
    inner = producer(Permute(op).input, "sparsec.permute")
    if inner is None:
        return None
    first, second = ints(inner, "perm"), ints(op, "perm")
    perm = i64_array(first[i] for i in second)
    return Permute.build([Permute(inner).input], {"perm": perm})


# -- elementwise identities ---------------------------------------------------------


def remove_eval_dropout(op: Operation) -> Replacement | None:
    """dropout(x) with train=false or p=0 -> x"""
    dropout = Dropout(op)
    if dropout.train and dropout.p != 0.0:
        return None
    return _keeps_type(op, dropout.input)


def _drop_neutral(op: Operation, neutral: int, commutative: bool) -> Replacement | None:
    """x op c -> x when c is a splat of ``neutral`` and the result type stays x's."""
    lhs, rhs = op.operands
    if _neutral(rhs, neutral, op.result.type) and _keeps_type(op, lhs):
        return lhs
    if commutative and _neutral(lhs, neutral, op.result.type) and _keeps_type(op, rhs):
        return rhs
    return None


def _neutral(value: Value, neutral: int, result: TensorType) -> bool:
    """``value`` is a splat of ``neutral`` that cannot widen a run-time size of ``result`` (a
    ``?`` of size 1 beside a constant axis of size N becomes N: then the op is no identity)."""
    if splat_value(value) != neutral:
        return False
    return result.is_static or value.type.num_elements == 1


def fold_add_zero(op: Operation) -> Replacement | None:
    """x + 0 -> x, 0 + x -> x (only the sign of a -0.0 element may differ)"""
    return _drop_neutral(op, 0, commutative=True)


def fold_sub_zero(op: Operation) -> Replacement | None:
    """x - 0 -> x"""
    return _drop_neutral(op, 0, commutative=False)


def fold_mul_one(op: Operation) -> Replacement | None:
    """x * 1 -> x, 1 * x -> x"""
    return _drop_neutral(op, 1, commutative=True)


def fold_div_one(op: Operation) -> Replacement | None:
    """x / 1 -> x"""
    return _drop_neutral(op, 1, commutative=False)


def fold_double_neg(op: Operation) -> Replacement | None:
    """neg(neg(x)) -> x"""
    inner = producer(Neg(op).input, "sparsec.neg")
    return Neg(inner).input if inner is not None else None


def fold_identity_cast(op: Operation) -> Replacement | None:
    """cast(x) to x's own type -> x"""
    return _keeps_type(op, Cast(op).input)


# -- constant folding -------------------------------------------------------------------


def constant_folding(max_elements: int) -> Pattern:
    """A pattern evaluating pure ops on constant operands into inline constants.

    Only results of at most ``max_elements`` elements are folded, so weights are
    never copied into the IR text.
    """

    def fold_constant_operands(op: Operation) -> Replacement | None:
        """op(constants...) -> constant, for small results"""
        if not has_trait(op.name, PURE) or has_trait(op.name, CONSTANT_LIKE) or op.regions:
            return None
        if not all(_small_static(r.type, max_elements) for r in op.results):
            return None
        arrays = [constant_array(v) for v in op.operands]
        if any(a is None for a in arrays):
            return None
        try:
            values = evaluate_op(op, arrays)
        except InterpretError:  # e.g. dropout in training mode: leave it
            return None
        return [
            Constant.build(properties={"value": DenseElementsAttr(r.type, array)}).result
            for r, array in zip(op.results, values, strict=True)
        ]

    return Pattern(None, fold_constant_operands)


def _small_static(type_: object, max_elements: int) -> bool:
    return (
        isinstance(type_, TensorType) and type_.is_static and type_.num_elements <= max_elements
    )


def canonicalization_patterns(fold_limit: int = 1024) -> list[Pattern]:
    """Every canonicalization pattern; constant folding up to ``fold_limit`` elements."""
    return [
        Pattern("sparsec.reshape", fold_identity_reshape),
        Pattern("sparsec.reshape", compose_reshapes),
        Pattern("sparsec.permute", fold_identity_permute),
        Pattern("sparsec.permute", compose_permutes),
        Pattern("sparsec.dropout", remove_eval_dropout),
        Pattern("sparsec.add", fold_add_zero),
        Pattern("sparsec.sub", fold_sub_zero),
        Pattern("sparsec.mul", fold_mul_one),
        Pattern("sparsec.div", fold_div_one),
        Pattern("sparsec.neg", fold_double_neg),
        Pattern("sparsec.cast", fold_identity_cast),
        constant_folding(fold_limit),
    ]


@register_pass
@dataclass(frozen=True)
class Canonicalize(Pass):
    """Simplify ops with local rewrites (identities, compositions, constant folding), then DCE.

    Before:

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.reshape"(%arg0) <{shape = array<i64: 8>}> : (tensor<2x4xf32>) -> tensor<8xf32>
        %1 = "sparsec.reshape"(%0) <{shape = array<i64: 2, 4>}> : (tensor<8xf32>) -> tensor<2x4xf32>
        %2 = "sparsec.constant"() <{value = dense<1.0> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
        %3 = "sparsec.mul"(%1, %2) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
        %4 = "sparsec.neg"(%3) : (tensor<2x4xf32>) -> tensor<2x4xf32>
        %5 = "sparsec.neg"(%4) : (tensor<2x4xf32>) -> tensor<2x4xf32>
        "func.return"(%5) : (tensor<2x4xf32>) -> ()

    After:

        ^bb0(%arg0: tensor<2x4xf32>):
        "func.return"(%arg0) : (tensor<2x4xf32>) -> ()
    """

    name = "canonicalize"
    max_iterations: int = option(10, "rewrite sweeps over the module before giving up")
    fold_limit: int = option(1024, "largest constant (in elements) that folding may create")

    def __post_init__(self) -> None:
        if self.max_iterations < 1:
            raise PassError(f"max-iterations must be at least 1, got {self.max_iterations}")

    def apply(self, module: Operation) -> None:
        patterns = canonicalization_patterns(self.fold_limit)
        apply_patterns_greedily(module, patterns, self.max_iterations)
        erase_dead_ops(module)
