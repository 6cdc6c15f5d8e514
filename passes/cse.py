"""The `cse` pass: common subexpression elimination of pure ops."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sparsec.ir.core import Block, Operation
from sparsec.ir.opdef import COMMUTATIVE, PURE, TERMINATOR, has_trait

from .pass_base import Pass
from .registry import register_pass


def op_key(op: Operation) -> Hashable:
    """What makes two pure ops interchangeable: name, operands, attributes, result types.

    Operands are compared by identity; a commutative op's operands as a multiset.
    """
    operands = tuple(id(v) for v in op.operands)
    if has_trait(op.name, COMMUTATIVE):
        operands = tuple(sorted(operands))  # only equality matters, never printed
    return (
        op.name,
        operands,
        tuple(sorted(op.properties.items())),
        tuple(sorted(op.attributes.items())),
        tuple(r.type for r in op.results),
    )


def _is_candidate(op: Operation) -> bool:
    return has_trait(op.name, PURE) and not has_trait(op.name, TERMINATOR) and not op.regions


def eliminate_common_subexpressions(block: Block) -> int:
    """Replace each pure op equal to an earlier one (block order) by it; returns how many."""
    first: dict[Hashable, Operation] = {}
    merged = 0
    for op in block.ops:
        if not _is_candidate(op):
            continue
        # Operands are identities, so `op`'s key is only final once earlier
        # duplicates are replaced: block order guarantees that.
        kept = first.setdefault(op_key(op), op)
        if kept is not op:
            op.replace_all_uses_with(kept)
            op.erase()
            merged += 1
    return merged


@register_pass
@dataclass(frozen=True)
class CSE(Pass):
    """Merge pure ops with equal name, operands, attributes and result types (first one kept).

    Before:

        ^bb0(%arg0: tensor<4xf32>):
        %0 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
        %1 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
        %2 = "sparsec.mul"(%arg0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        %3 = "sparsec.mul"(%arg0, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        %4 = "sparsec.add"(%2, %3) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        "func.return"(%4) : (tensor<4xf32>) -> ()

    After:

        ^bb0(%arg0: tensor<4xf32>):
        %0 = "sparsec.constant"() <{value = dense<2.0> : tensor<4xf32>}> : () -> tensor<4xf32>
        %1 = "sparsec.mul"(%arg0, %0) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        %2 = "sparsec.add"(%1, %1) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
        "func.return"(%2) : (tensor<4xf32>) -> ()
    """

    name = "cse"

    def apply(self, module: Operation) -> None:
        for op in list(module.walk()):
            for region in op.regions:
                for block in region.blocks:
                    eliminate_common_subexpressions(block)
