"""The `sparsify` pass: lower each linear chosen for BSR to `sparsec.bsr_linear`."""

from __future__ import annotations

from dataclasses import dataclass

from sparsec.ir.attributes import DenseResourceAttr, i64_array, is_bare_id
from sparsec.ir.bsr import BSR, dense_to_bsr, parse_block_shape
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects.sparsec import BsrLinear, Constant

from .block_shape_selection import DENSE, read_decision
from .dce import erase_dead_ops
from .pass_base import Pass
from .registry import register_pass
from .rewrite import replace_op
from .sparsity_analysis import linears, weight_of


def _resource_constant(key: str, array) -> Value:
    return Constant.build(properties={"value": DenseResourceAttr.from_array(key, array)}).result


def bsr_linear_for(op: Operation, bsr: BSR, weight_key: str) -> Operation:
    """The `bsr_linear` that computes what the linear ``op`` computes, with ``bsr`` weights."""
    prefix = f"{weight_key}.bsr{bsr.block[0]}x{bsr.block[1]}"
    operands = [
        op.operands[0],
        _resource_constant(f"{prefix}.data", bsr.data),
        _resource_constant(f"{prefix}.indices", bsr.indices),
        _resource_constant(f"{prefix}.indptr", bsr.indptr),
        *op.operands[2:],  # the bias and a fused residual, if any
    ]
    props = {"block_shape": i64_array(bsr.block), "dense_shape": i64_array(bsr.dense_shape)}
    if "epilogue" in op.properties:  # the fusion pass ran first
        props["epilogue"] = op.properties["epilogue"]
    new = BsrLinear.build(operands, props, location=op.location)
    new.attributes.update(op.attributes)  # keep the analysis and the decision visible
    return new


@register_pass
@dataclass(frozen=True)
class Sparsify(Pass):
    """Replace each linear whose decision is a block shape by an exact BSR linear.

    The weight's nonzero blocks become three resources (data, indices,
    indptr); every nonzero is kept bit for bit. Blocks that are all zero are
    not stored, so zero output rows, zero input columns and pruned heads cost
    nothing at run time. Dense weights that nothing else uses are erased.

    Before:

        %w = "sparsec.constant"() <{value = dense_resource<fc.weight> : tensor<64x32xf32>}> : ...
        %y = "sparsec.linear"(%x, %w) {sparsec.decision = {block_shape = "16x1", ...}} : ...

    After:

        %d = "sparsec.constant"() <{value = dense_resource<fc.weight.bsr16x1.data> :
            tensor<40x16x1xf32>}> : ...
        %i = "sparsec.constant"() <{value = dense_resource<fc.weight.bsr16x1.indices> : ...
        %p = "sparsec.constant"() <{value = dense_resource<fc.weight.bsr16x1.indptr> : ...
        %y = "sparsec.bsr_linear"(%x, %d, %i, %p) <{block_shape = array<i64: 16, 1>,
            dense_shape = array<i64: 64, 32>}> {sparsec.decision = {...}} : ...
    """

    name = "sparsify"

    def apply(self, module: Operation) -> None:
        for index, op in enumerate(linears(module)):
            choice = read_decision(op)
            named = weight_of(op)
            if choice in (None, DENSE) or named is None:
                continue
            key = named[0] if is_bare_id(named[0]) else f"linear{index}.weight"
            bsr = dense_to_bsr(named[1], parse_block_shape(choice))
            replace_op(op, bsr_linear_for(op, bsr, key))
        erase_dead_ops(module)
