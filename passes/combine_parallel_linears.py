"""The `combine-parallel-linears` pass: linears that read the same input become one linear.

Linears of one kind (``linear``, or ``bsr_linear`` of one block shape) with constant float32
weights that read the same value, each with a bias or each without and none with an epilogue,
become one linear whose weight rows are theirs stacked in order (the BSR arrays joined, the
biases concatenated); each result becomes a ``slice`` of the combined result along its last
axis. The code generator then runs one kernel instead of several: each tile of the input is
loaded once for all of them, and the threads fork and join once. BERT's query, key and value
projections are the case in point (the fusion pass then lets attention read its heads from
the slices in place, so nothing is copied).

A linear whose only user is a ``gelu`` or an ``add`` is left alone: the fusion pass folds that
user into its epilogue instead. The combined weights are new resources named after the
originals (``...self.query.weight`` + ``...self.key.weight`` ->
``...self.query_key.weight``). The combined op says what it holds: ``sparsec.parts``, the
output rows of each original in order, and their ``sparsec.sparsity`` and ``sparsec.decision``
as arrays in the same order, so the per-weight report stays whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sparsec.ir.attributes import (
    ArrayAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    DictAttr,
    IntegerAttr,
    i64_array,
)
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects.sparsec import BsrLinear, Constant, Linear, Slice
from sparsec.ir.matchers import constant_array, ints, producer, sole_user
from sparsec.ir.types import TensorType, i64

from .block_shape_selection import DECISION_ATTR
from .dce import erase_dead_ops
from .pass_base import Pass
from .registry import register_pass
from .rewrite import replace_op
from .sparsity_analysis import SPARSITY_ATTR

KINDS = {d.name: d for d in (Linear, BsrLinear)}
PARTS_ATTR = "sparsec.parts"  # on a combined linear: the output rows of each original
FUSED_USERS = ("sparsec.gelu", "sparsec.add")  # the fusion pass's epilogue stages


def _weights(op: Operation) -> list[Value]:
    """The constant operands that the combined linear stacks: weight (or data, indices,
    indptr), then the bias if any."""
    linear = KINDS[op.name](op)
    weights = [linear.weight] if op.name == Linear.name else [
        linear.data, linear.indices, linear.indptr]
    return weights + ([linear.bias] if linear.bias is not None else [])


def _candidate(op: Operation) -> bool:
    """A float32 linear with constant weights and no epilogue, whose result fusion leaves be."""
    if op.name not in KINDS or "epilogue" in op.properties or KINDS[op.name](op).residual:
        return False
    types = (op.operands[0].type, op.result.type)
    if not all(isinstance(t, TensorType) and t.dtype == "float32" for t in types):
        return False
    if any(constant_array(value) is None for value in _weights(op)):
        return False
    if op.name == BsrLinear.name and BsrLinear(op).dense_shape[0] % ints(op, "block_shape")[0]:
        return False  # its last block row is padded: the next weight's rows would shift
    user = sole_user(op.result)
    return user is None or user.name not in FUSED_USERS


def _group_key(op: Operation) -> tuple:
    """Linears with equal keys combine: same input, kind, block shape, bias or not."""
    block = ints(op, "block_shape") if op.name == BsrLinear.name else ()
    return (id(op.operands[0]), op.name, block, KINDS[op.name](op).bias is not None)


def parallel_groups(module: Operation) -> list[list[Operation]]:
    """The groups of two or more linears that combine, each in op order."""
    groups: dict[tuple, list[Operation]] = {}
    for op in module.walk():
        if op.name in KINDS and _candidate(op):
            groups.setdefault(_group_key(op), []).append(op)
    return [ops for ops in groups.values() if len(ops) > 1]


def joined_name(names: Sequence[str]) -> str:
    """One name for several dotted names: the parts they share, and the differing middle
    parts joined with ``_`` (``a.q.w``, ``a.k.w`` -> ``a.q_k.w``)."""
    split = [name.split(".") for name in names]
    shortest = min(len(parts) for parts in split)
    head = 0
    while head < shortest - 1 and len({parts[head] for parts in split}) == 1:
        head += 1
    tail = 0
    while tail < shortest - head - 1 and len({parts[-1 - tail] for parts in split}) == 1:
        tail += 1
    middles = ["_".join(parts[head:len(parts) - tail]) for parts in split]
    return ".".join([*split[0][:head], "_".join(middles), *split[0][len(split[0]) - tail:]])


def _stacked(values: Sequence[Value], arrays: Sequence[np.ndarray]) -> Value:
    """A constant of ``arrays`` (already joined): a resource named after the originals when
    they are resources, else inline."""
    originals = [producer(v, "sparsec.constant").properties["value"] for v in values]
    array = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    if all(isinstance(attr, DenseResourceAttr) for attr in originals):
        attr = DenseResourceAttr.from_array(joined_name([a.key for a in originals]), array)
    else:
        attr = DenseElementsAttr.from_array(array)
    return Constant.build(properties={"value": attr}).result


def _stacked_bsr(ops: Sequence[Operation]) -> list[Value]:
    """data, indices, indptr of the BSR matrices of ``ops`` stacked by rows."""
    views = [BsrLinear(op) for op in ops]
    data = [constant_array(v.data) for v in views]
    indptrs = [constant_array(v.indptr) for v in views]
    offsets = np.cumsum([0] + [int(p[-1]) for p in indptrs[:-1]])
    joined_indptr = [indptrs[0]] + [p[1:] + offset for p, offset in zip(
        indptrs[1:], offsets[1:], strict=True)]
    return [_stacked([v.data for v in views], data),
            _stacked([v.indices for v in views], [constant_array(v.indices) for v in views]),
            _stacked([v.indptr for v in views],
                     [np.concatenate(joined_indptr).astype(indptrs[0].dtype)])]


def _annotations(ops: Sequence[Operation]) -> dict[str, ArrayAttr]:
    """The originals' sparsity and decision annotations, as arrays in op order."""
    found = {}
    for name in (SPARSITY_ATTR, DECISION_ATTR):
        attrs = [op.attributes.get(name) for op in ops]
        if all(isinstance(attr, DictAttr) for attr in attrs):
            found[name] = ArrayAttr(tuple(attrs))
    return found


def combine(ops: Sequence[Operation]) -> Operation:
    """One linear computing the results of ``ops`` side by side (detached)."""
    first = ops[0]
    rows = [int(op.result.type.shape[-1]) for op in ops]
    if first.name == BsrLinear.name:
        weights = _stacked_bsr(ops)
        k = int(BsrLinear(first).dense_shape[1])
        props = {"block_shape": first.properties["block_shape"],
                 "dense_shape": i64_array((sum(rows), k))}
    else:
        weights = [_stacked([Linear(op).weight for op in ops],
                            [constant_array(Linear(op).weight) for op in ops])]
        props = {}
    if KINDS[first.name](first).bias is not None:
        biases = [KINDS[op.name](op).bias for op in ops]
        weights.append(_stacked(biases, [constant_array(b) for b in biases]))
    result = first.result.type.with_shape((*first.result.type.shape[:-1], sum(rows)))
    new = KINDS[first.name].build([first.operands[0], *weights], props, [result],
                                  location=first.location)
    new.attributes.update(_annotations(ops))
    new.attributes[PARTS_ATTR] = i64_array(rows)
    return new


def _slice(source: Value, axis: int, start: int, end: int) -> Operation:
    props = {"axis": IntegerAttr(axis, i64), "start": IntegerAttr(start, i64),
             "end": IntegerAttr(end, i64), "step": IntegerAttr(1, i64)}
    return Slice.build([source], props)


def combine_group(ops: Sequence[Operation]) -> Operation:
    """Replace ``ops`` by slices of their combined linear; return that linear."""
    combined = combine(ops)
    axis = combined.result.type.rank - 1
    start = 0
    for op in ops:
        end = start + int(op.result.type.shape[-1])
        replace_op(op, _slice(combined.result, axis, start, end))
        start = end
    return combined


@register_pass
@dataclass(frozen=True)
class CombineParallelLinears(Pass):
    """Combine linears that read the same input into one linear and slices of its result.

    Before:

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<0.5> : tensor<2x4xf32>}> : () -> tensor<2x4xf32>
        %1 = "sparsec.constant"() <{value = dense<0.25> : tensor<1x4xf32>}> : () -> tensor<1x4xf32>
        %2 = "sparsec.linear"(%arg0, %0) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x2xf32>
        %3 = "sparsec.linear"(%arg0, %1) : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x1xf32>
        "func.return"(%2, %3) : (tensor<2x2xf32>, tensor<2x1xf32>) -> ()

    After (one 3x4 weight; the two results are the first 2 and the last column of its result):

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<[[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5],
            [0.25, 0.25, 0.25, 0.25]]> : tensor<3x4xf32>}> : () -> tensor<3x4xf32>
        %1 = "sparsec.linear"(%arg0, %0) {sparsec.parts = array<i64: 2, 1>}
            : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
        %2 = "sparsec.slice"(%1) <{axis = 1, end = 2, start = 0, step = 1}>
            : (tensor<2x3xf32>) -> tensor<2x2xf32>
        %3 = "sparsec.slice"(%1) <{axis = 1, end = 3, start = 2, step = 1}>
            : (tensor<2x3xf32>) -> tensor<2x1xf32>
        "func.return"(%2, %3) : (tensor<2x2xf32>, tensor<2x1xf32>) -> ()
    """

    name = "combine-parallel-linears"

    def apply(self, module: Operation) -> None:
        for ops in parallel_groups(module):
            combine_group(ops)
        erase_dead_ops(module)
