"""The `sparsify` pass: lower each linear chosen for BSR to `sparsec.bsr_linear`."""

from __future__ import annotations

from dataclasses import dataclass

from sparsec.ir.attributes import DenseResourceAttr, i64_array, is_bare_id
from sparsec.ir.bsr import BSR, dense_to_bsr, parse_block_shape
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects.sparsec import BsrLinear, Constant, Linear

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
    linear = Linear(op)
    operands = [
        linear.input,
        _resource_constant(f"{prefix}.data", bsr.data),
        _resource_constant(f"{prefix}.indices", bsr.indices),
        _resource_constant(f"{prefix}.indptr", bsr.indptr),
        *[v for v in (linear.bias, linear.residual) if v is not None],  # a residual needs a bias
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

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<[[1.0, 0.0, 0.0, 2.0], [3.0, 0.0, 0.0, 4.0],
            [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
        %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "2x1",
            predicted_speedup = 1.2 : f64, reason = "forced"}}
            : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
        "func.return"(%1) : (tensor<2x4xf32>) -> ()

    After (3 of the 8 2x1 blocks hold a nonzero; a weight from a resource names them after it):

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense_resource<linear0.weight.bsr2x1.data>
            : tensor<3x2x1xf32>}> : () -> tensor<3x2x1xf32>
        %1 = "sparsec.constant"() <{value = dense_resource<linear0.weight.bsr2x1.indices>
            : tensor<3xi32>}> : () -> tensor<3xi32>
        %2 = "sparsec.constant"() <{value = dense_resource<linear0.weight.bsr2x1.indptr>
            : tensor<3xi32>}> : () -> tensor<3xi32>
        %3 = "sparsec.bsr_linear"(%arg0, %0, %1, %2) <{block_shape = array<i64: 2, 1>,
            dense_shape = array<i64: 4, 4>}> {sparsec.decision = {block_shape = "2x1",
            predicted_speedup = 1.2 : f64, reason = "forced"}}
            : (tensor<2x4xf32>, tensor<3x2x1xf32>, tensor<3xi32>, tensor<3xi32>) -> tensor<2x4xf32>
        "func.return"(%3) : (tensor<2x4xf32>) -> ()
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
