"""The `dce` pass: dead code elimination of pure ops."""

from __future__ import annotations

from dataclasses import dataclass

from sparsec.ir.core import Operation
from sparsec.ir.opdef import PURE, TERMINATOR, has_trait

from .pass_base import Pass
from .registry import register_pass


def is_trivially_dead(op: Operation) -> bool:
    """A pure, non-terminator op with no region whose results nobody uses."""
    return (
        has_trait(op.name, PURE)
        and not has_trait(op.name, TERMINATOR)
        and not op.regions
        and not op.has_uses
    )


def erase_dead_ops(root: Operation) -> int:
    """Erase every trivially dead op nested in ``root``; returns how many were erased."""
    erased = 0
    for op in reversed(list(root.walk())):  # users come after what they use
        if op is not root and op.parent is not None and is_trivially_dead(op):
            op.erase()
            erased += 1
    return erased


@register_pass
@dataclass(frozen=True)
class DCE(Pass):
    """Erase pure ops whose results are unused (transitively); never side effects or terminators.

    Before:

        ^bb0(%arg0: tensor<4xf32>):
        %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
        %1 = "sparsec.exp"(%0) : (tensor<4xf32>) -> tensor<4xf32>
        "func.return"(%arg0) : (tensor<4xf32>) -> ()

    After (``%1`` is unused, which leaves ``%0`` unused too):

        ^bb0(%arg0: tensor<4xf32>):
        "func.return"(%arg0) : (tensor<4xf32>) -> ()
    """

    name = "dce"

    def apply(self, module: Operation) -> None:
        erase_dead_ops(module)
