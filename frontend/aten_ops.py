"""The ATen -> sparsec table: one small function per ATen op (or family of ops).

Each function gets the ``Translator`` and the fx node, reads the node's
arguments (``arg``), and emits sparsec ops; result shapes and dtypes come from
the traced metadata, so a view is a ``reshape`` to the shape torch computed.

    %y = aten.linear(%x, %w, %b)        ->  "sparsec.linear"(%x, %w, %b)
    %y = aten.addmm(%b, %x, aten.t(%w)) ->  "sparsec.linear"(%x, %w, %b)   (w a parameter)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import fx

from sparsec.ir import Value
from sparsec.ir.attributes import i64_array
from sparsec.ir.dialects import sparsec
from sparsec.ir.opdef import OpDef
from sparsec.ir.types import i1, i64

from .translate import (
    Known,
    Size,
    Translated,
    TranslateError,
    TranslateFn,
    Translator,
    element_type_of,
)

aten = torch.ops.aten
TABLE: dict[object, TranslateFn] = {}
# Ops whose translation reads run-time sizes among their arguments (shapes, slice bounds); any
# other op given one is reported (the IR has no scalar arithmetic on sizes).
TAKES_SIZES = {
    aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.expand.default,
    aten.slice.Tensor, aten.arange.default, aten.arange.start, aten.arange.start_step,
    aten.new_ones.default, aten.new_zeros.default, aten.new_full.default,
}


def translates(*targets: object) -> Callable[[TranslateFn], TranslateFn]:
    """Register the decorated function as the translation of ``targets``."""

    def register(fn: TranslateFn) -> TranslateFn:
        for target in targets:
            TABLE[target] = fn
        return fn

    return register


def arg(node: fx.Node, index: int, name: str, default: object = None) -> object:
    """Argument ``index`` of the node, passed positionally or as keyword ``name``."""
    if index < len(node.args):
        return node.args[index]
    return node.kwargs.get(name, default)


def _rank(node_arg: object) -> int:
    return node_arg.meta["val"].dim()


def _dim(value: int, rank: int) -> int:
    return value % rank if rank else 0


def _dtype_of(t: Translator, node: fx.Node | None = None):
    return t.result_type(node).element_type


def _reshape(t: Translator, x: Value, shape: Sequence[int]) -> Value:
    if tuple(x.type.shape) == tuple(shape):
        return x
    return t.emit(sparsec.Reshape, [x], {"shape": i64_array(shape)})


def _is_static(shape: Sequence[object]) -> bool:
    return all(isinstance(d, int) for d in shape)


def _resized(t: Translator, opdef: OpDef, x: Value, shape: Sequence[object]) -> Value:
    """``x`` reshaped or broadcast (``opdef``) to a traced shape with run-time sizes."""
    static, sizes = t.shape_operands(shape)
    return t.emit(opdef, [x, *sizes], {"shape": i64_array(static)})


def _promoted(t: Translator, node: fx.Node, operands: Sequence[object]) -> list[Value]:
    """Operands as IR values of the type torch promotes them to (scalars included)."""
    stand_ins = [
        torch.empty((1,) * min(a.meta["val"].dim(), 1), dtype=a.meta["val"].dtype)
        if isinstance(a, fx.Node) else a
        for a in operands
    ]
    dtype = element_type_of(torch.result_type(*stand_ins) if len(stand_ins) == 2 else
                            stand_ins[0].dtype)
    return [t.cast(t.value(a), dtype) if isinstance(a, fx.Node) else t.scalar(a, dtype)
            for a in operands]


# -- elementwise ----------------------------------------------------------------------------------


def _binary(opdef: OpDef) -> TranslateFn:
    def translate(t: Translator, node: fx.Node) -> Value:
        lhs, rhs = node.args[0], node.args[1]
        alpha = node.kwargs.get("alpha", 1)
        elem = _dtype_of(t)
        a = t.cast(t.value(lhs), elem) if isinstance(lhs, fx.Node) else t.scalar(lhs, elem)
        b = t.cast(t.value(rhs), elem) if isinstance(rhs, fx.Node) else t.scalar(rhs, elem)
        if alpha != 1:
            b = t.emit(sparsec.Mul, [b, t.scalar(alpha, elem)])
        return t.emit(opdef, [a, b])

    return translate


for _op, _def in [
    ((aten.add.Tensor, aten.add.Scalar), sparsec.Add),
    ((aten.sub.Tensor, aten.sub.Scalar), sparsec.Sub),
    ((aten.mul.Tensor, aten.mul.Scalar), sparsec.Mul),
    ((aten.div.Tensor, aten.div.Scalar), sparsec.Div),
    ((aten.pow.Tensor_Scalar, aten.pow.Tensor_Tensor), sparsec.Pow),
    ((aten.maximum.default,), sparsec.Maximum),
    ((aten.minimum.default,), sparsec.Minimum),
]:
    translates(*_op)(_binary(_def))


@translates(aten.rsub.Scalar, aten.rsub.Tensor)
def _rsub(t: Translator, node: fx.Node) -> Value:
    x, other = node.args[0], node.args[1]
    elem = _dtype_of(t)
    scaled = t.cast(t.value(x), elem)
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        scaled = t.emit(sparsec.Mul, [scaled, t.scalar(alpha, elem)])
    lhs = t.cast(t.value(other), elem) if isinstance(other, fx.Node) else t.scalar(other, elem)
    return t.emit(sparsec.Sub, [lhs, scaled])


def _logical(opdef: OpDef) -> TranslateFn:
    def translate(t: Translator, node: fx.Node) -> Value:
        if _dtype_of(t) != i1:
            raise TranslateError("only boolean (i1) operands are supported")
        a, b = (t.cast(t.value(v), i1) if isinstance(v, fx.Node) else t.scalar(bool(v), i1)
                for v in node.args[:2])
        return t.emit(opdef, [a, b])

    return translate


translates(aten.__and__.Tensor, aten.bitwise_and.Tensor, aten.logical_and.default)(
    _logical(sparsec.LogicalAnd))
translates(aten.__or__.Tensor, aten.bitwise_or.Tensor, aten.logical_or.default)(
    _logical(sparsec.LogicalOr))


@translates(aten.logical_not.default, aten.bitwise_not.default)
def _not(t: Translator, node: fx.Node) -> Value:
    if _dtype_of(t) != i1:
        raise TranslateError("only boolean (i1) operands are supported")
    return t.emit(sparsec.LogicalNot, [t.cast(t.value(node.args[0]), i1)])


def _unary(opdef: OpDef) -> TranslateFn:
    def translate(t: Translator, node: fx.Node) -> Value:
        return t.emit(opdef, [t.cast(t.value(node.args[0]), _dtype_of(t))])

    return translate


for _op, _def in [
    (aten.neg.default, sparsec.Neg),
    (aten.exp.default, sparsec.Exp),
    (aten.log.default, sparsec.Log),
    (aten.sqrt.default, sparsec.Sqrt),
    (aten.rsqrt.default, sparsec.Rsqrt),
    (aten.tanh.default, sparsec.Tanh),
    (aten.erf.default, sparsec.Erf),
    (aten.relu.default, sparsec.Relu),
    (aten.sigmoid.default, sparsec.Sigmoid),
    (aten.abs.default, sparsec.Abs),
]:
    translates(_op)(_unary(_def))


@translates(aten.gelu.default)
def _gelu(t: Translator, node: fx.Node) -> Value:
    approximate = arg(node, 1, "approximate", "none")
    return t.emit(sparsec.Gelu, [t.value(node.args[0])], {"approximate": approximate})


@translates(aten.silu.default)
def _silu(t: Translator, node: fx.Node) -> Value:
    x = t.value(node.args[0])
    return t.emit(sparsec.Mul, [x, t.emit(sparsec.Sigmoid, [x])])


@translates(aten.clamp.default)
def _clamp(t: Translator, node: fx.Node) -> Value:
    x = t.value(node.args[0])
    low, high = arg(node, 1, "min"), arg(node, 2, "max")
    if low is not None:
        x = t.emit(sparsec.Maximum, [x, t.scalar(low, x.type.element_type)])
    if high is not None:
        x = t.emit(sparsec.Minimum, [x, t.scalar(high, x.type.element_type)])
    return x


_PREDICATES = {"eq": "eq", "ne": "ne", "lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}


def _compare(predicate: str) -> TranslateFn:
    def translate(t: Translator, node: fx.Node) -> Value:
        lhs, rhs = _promoted(t, node, node.args[:2])
        return t.emit(sparsec.Compare, [lhs, rhs], {"predicate": predicate})

    return translate


for _name in _PREDICATES:
    translates(getattr(aten, _name).Tensor, getattr(aten, _name).Scalar)(_compare(_name))


@translates(aten.where.self, aten.where.ScalarOther, aten.where.ScalarSelf, aten.where.Scalar)
def _where(t: Translator, node: fx.Node) -> Value:
    elem = _dtype_of(t)
    cond = t.cast(t.value(node.args[0]), i1)
    branches = [t.cast(t.value(v), elem) if isinstance(v, fx.Node) else t.scalar(v, elem)
                for v in node.args[1:3]]
    return t.emit(sparsec.Where, [cond, *branches])


@translates(aten.masked_fill.Scalar, aten.masked_fill.Tensor)
def _masked_fill(t: Translator, node: fx.Node) -> Value:
    x, mask, fill = node.args[:3]
    elem = _dtype_of(t)
    fill_value = t.cast(t.value(fill), elem) if isinstance(fill, fx.Node) else t.scalar(fill, elem)
    return t.emit(sparsec.Where, [t.cast(t.value(mask), i1), fill_value, t.value(x)])


@translates(aten._to_copy.default, aten.to.dtype, aten.to.dtype_layout, aten.type_as.default)
def _convert(t: Translator, node: fx.Node) -> Value:
    return t.cast(t.value(node.args[0]), _dtype_of(t))


@translates(aten.dropout.default, aten.native_dropout.default, aten.feature_dropout.default)
def _dropout(t: Translator, node: fx.Node) -> Translated:
    p, train = arg(node, 1, "p", 0.0), arg(node, 2, "train", False)
    if train and p:
        raise TranslateError("dropout in training mode: export the model in eval mode")
    x = t.value(node.args[0])
    if node.target == aten.native_dropout.default:
        return (x, None)
    return x


# -- linear algebra -------------------------------------------------------------------------------


@translates(aten.linear.default)
def _linear(t: Translator, node: fx.Node) -> Value:
    x, weight = t.value(node.args[0]), t.value(node.args[1])
    bias = arg(node, 2, "bias")
    operands = [x, weight] + ([t.value(bias)] if bias is not None else [])
    if weight.type.rank != 2:
        raise TranslateError(f"linear weight must be rank 2, got {weight.type}")
    return t.emit(sparsec.Linear, operands)


_TRANSPOSES = (aten.t.default, aten.transpose.int, aten.permute.default)
# Views that only add or broadcast leading (batch) dimensions keep a matrix a matrix.
_BATCH_VIEWS = (aten.expand.default, aten.view.default, aten._unsafe_view.default,
                aten.reshape.default, aten.unsqueeze.default)


def _transposed_weight(t: Translator, mat2: object) -> Value | None:
    """W when ``mat2`` is ``W.t()`` of a 2-D parameter W (perhaps broadcast over a batch).

    Then ``x @ mat2`` is ``linear(x, W)``, with W in torch's [out, in] layout.
    """
    while (isinstance(mat2, fx.Node) and mat2.target in _BATCH_VIEWS
           and t.symbolic_shape(mat2)[-2:] == t.symbolic_shape(mat2.args[0])[-2:]):
        mat2 = mat2.args[0]
    if not (isinstance(mat2, fx.Node) and mat2.target in _TRANSPOSES):
        return None
    if mat2.target == aten.permute.default and [d % 2 for d in mat2.args[1]] != [1, 0]:
        return None
    weight = t.known(mat2.args[0])
    if weight is None or weight.foldable or weight.tensor.dim() != 2:
        return None
    return t.value(mat2.args[0])


@translates(aten.mm.default)
def _mm(t: Translator, node: fx.Node) -> Value:
    weight = _transposed_weight(t, node.args[1])
    if weight is not None:
        return t.emit(sparsec.Linear, [t.value(node.args[0]), weight])
    return t.emit(sparsec.Matmul, [t.value(node.args[0]), t.value(node.args[1])])


@translates(aten.addmm.default)
def _addmm(t: Translator, node: fx.Node) -> Value:
    bias, x, mat2 = node.args[:3]
    beta, alpha = node.kwargs.get("beta", 1), node.kwargs.get("alpha", 1)
    weight = _transposed_weight(t, mat2)
    bias_value = t.value(bias)
    if weight is not None and alpha == 1 and beta == 1 and bias_value.type.rank == 1:
        return t.emit(sparsec.Linear, [t.value(x), weight, bias_value])
    product = t.emit(sparsec.Matmul, [t.value(x), t.value(mat2)])
    if alpha != 1:
        product = t.emit(sparsec.Mul, [product, t.scalar(alpha, product.type.element_type)])
    if beta != 1:
        bias_value = t.emit(sparsec.Mul, [bias_value, t.scalar(beta, product.type.element_type)])
    return t.emit(sparsec.Add, [product, bias_value])


@translates(aten.matmul.default, aten.bmm.default)
def _matmul(t: Translator, node: fx.Node) -> Value:
    lhs = t.value(node.args[0])
    weight = _transposed_weight(t, node.args[1])
    if weight is not None and tuple(t.result_type().shape) == (*lhs.type.shape[:-1],
                                                               weight.type.shape[0]):
        return t.emit(sparsec.Linear, [lhs, weight])
    rhs = t.value(node.args[1])
    if lhs.type.rank < 2 or rhs.type.rank < 2:
        raise TranslateError("matmul of vectors (rank 1) is not supported")
    return t.emit(sparsec.Matmul, [lhs, rhs])


@translates(aten.scaled_dot_product_attention.default)
def _attention(t: Translator, node: fx.Node) -> Value:
    query, key, value = (t.value(v) for v in node.args[:3])
    mask = arg(node, 3, "attn_mask")
    if arg(node, 4, "dropout_p", 0.0):
        raise TranslateError("attention dropout must be 0 at inference")
    if node.kwargs.get("enable_gqa", False):
        raise TranslateError("grouped-query attention (enable_gqa) is not supported")
    scale = node.kwargs.get("scale") or arg(node, 6, "scale")
    if scale is None:
        if query.type.shape[-1] is None:
            raise TranslateError("attention heads of a run-time width need an explicit scale")
        scale = 1.0 / math.sqrt(query.type.shape[-1])
    operands = [query, key, value]
    if mask is not None:
        operands.append(t.value(mask))
    if arg(node, 5, "is_causal", False):
        operands[3:] = [_causal_mask(t, query, key, operands[3:])]
    return t.emit(sparsec.Attention, operands, {"scale": float(scale)})


def _causal_mask(t: Translator, query: Value, key: Value, mask: list[Value]) -> Value:
    """The lower-triangular keep-mask, combined with an explicit mask when there is one."""
    rows, cols = query.type.shape[-2], key.type.shape[-2]
    if rows is None or cols is None:
        raise TranslateError("causal attention over a run-time sequence length is not supported")
    keep = torch.ones(rows, cols, dtype=torch.bool).tril(cols - rows)
    causal = t.value(Known(keep, t.derived_key(t.node, "causal_mask")))
    if not mask:
        return causal
    if mask[0].type.element_type == i1:
        return t.emit(sparsec.LogicalAnd, [causal, mask[0]])
    lowest = t.scalar(float(np.finfo(mask[0].type.dtype).min), mask[0].type.element_type)
    return t.emit(sparsec.Where, [causal, mask[0], lowest])


# -- normalisation --------------------------------------------------------------------------------


@translates(aten.layer_norm.default, aten.native_layer_norm.default)
def _layer_norm(t: Translator, node: fx.Node) -> Translated:
    x = t.value(node.args[0])
    shape = arg(node, 1, "normalized_shape")
    weight, bias = arg(node, 2, "weight"), arg(node, 3, "bias")
    eps = arg(node, 4, "eps", 1e-5)
    if weight is None and bias is not None:
        raise TranslateError("layer_norm with a bias but no weight is not supported")
    operands = [x] + [t.value(v) for v in (weight, bias) if v is not None]
    y = t.emit(sparsec.LayerNorm, operands,
               {"normalized_shape": i64_array(shape), "epsilon": float(eps)})
    return (y, None, None) if node.target == aten.native_layer_norm.default else y


@translates(aten.softmax.int, aten._softmax.default)
def _softmax(t: Translator, node: fx.Node) -> Value:
    x = t.cast(t.value(node.args[0]), _dtype_of(t))
    return t.emit(sparsec.Softmax, [x], {"axis": _dim(node.args[1], x.type.rank)})


def _reduction(kind: str) -> TranslateFn:
    def translate(t: Translator, node: fx.Node) -> Value:
        x = t.cast(t.value(node.args[0]), _dtype_of(t))
        dims = arg(node, 1, "dim")
        dims = [dims] if isinstance(dims, int) else dims
        axes = sorted({_dim(d, x.type.rank) for d in dims} if dims else range(x.type.rank))
        keep = bool(arg(node, 2, "keepdim", False))
        return t.emit(sparsec.Reduce, [x], {"kind": kind, "axes": i64_array(axes),
                                            "keepdim": keep})

    return translate


translates(aten.sum.dim_IntList, aten.sum.default)(_reduction("sum"))
translates(aten.mean.dim, aten.mean.default)(_reduction("mean"))
translates(aten.amax.default)(_reduction("max"))
translates(aten.amin.default)(_reduction("min"))
# On i1, "any" is a max and "all" a min (the result dtype is bool, so operands are cast to i1).
translates(aten.any.dim, aten.any.dims, aten.any.default)(_reduction("max"))
translates(aten.all.dim, aten.all.dims, aten.all.default)(_reduction("min"))


@translates(aten.cumsum.default)
def _cumsum(t: Translator, node: fx.Node) -> Value:
    result = t.result_type()
    x = t.cast(t.value(node.args[0]), result.element_type)
    return t.emit(sparsec.Cumsum, [x], {"axis": _dim(node.args[1], x.type.rank)})


# -- shapes and indexing --------------------------------------------------------------------------


@translates(
    aten.view.default, aten._unsafe_view.default, aten.reshape.default,
    aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.squeeze.default,
    aten.flatten.using_ints,
)
def _view(t: Translator, node: fx.Node) -> Value:
    if not _is_static(t.symbolic_shape(node)):
        return _dynamic_view(t, node, sparsec.Reshape)
    return _reshape(t, t.value(node.args[0]), t.result_type().shape)


def _dynamic_view(t: Translator, node: fx.Node, opdef: OpDef) -> Value:
    """A view to a shape with run-time sizes: the input when torch traced the same shape for
    it, else one reshape / broadcast_to (``opdef``)."""
    x, shape = t.value(node.args[0]), t.symbolic_shape(node)
    return x if t.symbolic_shape(node.args[0]) == shape else _resized(t, opdef, x, shape)


@translates(aten.expand.default)
def _expand(t: Translator, node: fx.Node) -> Value:
    if not _is_static(t.symbolic_shape(node)):
        return _dynamic_view(t, node, sparsec.BroadcastTo)
    x, shape = t.value(node.args[0]), t.result_type().shape
    if tuple(x.type.shape) == tuple(shape):
        return x
    return t.emit(sparsec.BroadcastTo, [x], {"shape": i64_array(shape)})


@translates(aten.t.default, aten.transpose.int, aten.permute.default)
def _permute(t: Translator, node: fx.Node) -> Value:
    x = t.value(node.args[0])
    rank = x.type.rank
    if node.target == aten.permute.default:
        perm = [_dim(d, rank) for d in node.args[1]]
    else:
        perm = list(range(rank))
        a, b = (node.args[1], node.args[2]) if node.target == aten.transpose.int else (0, 1)
        if rank >= 2:
            a, b = _dim(a, rank), _dim(b, rank)
            perm[a], perm[b] = perm[b], perm[a]
    if perm == list(range(rank)):
        return x
    return t.emit(sparsec.Permute, [x], {"perm": i64_array(perm)})


@translates(aten.slice.Tensor)
def _slice(t: Translator, node: fx.Node) -> Value:
    x = t.value(node.args[0])
    axis = _dim(arg(node, 1, "dim", 0), x.type.rank)
    size = x.type.shape[axis]
    start, end = _size_arg(t, arg(node, 2, "start")), _size_arg(t, arg(node, 3, "end"))
    step = arg(node, 4, "step", 1)
    if size is None or isinstance(end, Size) or isinstance(start, Size):
        return _dynamic_slice(t, node, x, axis, start, end, step)
    start = 0 if start is None else min(max(start + size if start < 0 else start, 0), size)
    end = size if end is None else min(max(end + size if end < 0 else end, start), size)
    if (start, end, step) == (0, size, 1):
        return x
    return t.emit(sparsec.Slice, [x], {"axis": axis, "start": start, "end": end, "step": step})


def _size_arg(t: Translator, value: object) -> object:
    """An int argument as given, or a ``Size`` when it is a run-time size."""
    return t.env.get(value) if isinstance(value, fx.Node) else value


# An end at least this large means "to the end" (torch writes x[1:] as end = 2**63 - 1).
TO_THE_END = 2**62


def _dynamic_slice(t: Translator, node: fx.Node, x: Value, axis: int, start: object, end: object,
                   step: object) -> Value:
    """A slice along a run-time size, or up to one: ``end`` becomes an index operand."""
    if not (isinstance(start, int | None) and isinstance(step, int)) or (start or 0) < 0:
        raise TranslateError("a slice along a run-time size must start at a fixed position "
                             ">= 0 and have a fixed step")
    start = start or 0
    axis_size = t.symbolic_shape(node.args[0])[axis]
    if end is None or (isinstance(end, int) and end >= TO_THE_END):
        end = axis_size if isinstance(axis_size, int) else Size(axis_size)
    if isinstance(end, Size) and end.symbol == axis_size and (start, step) == (0, 1):
        return x
    if isinstance(end, int) and end < 0:
        raise TranslateError(f"a slice end of {end} from a run-time size is not supported")
    props = {"axis": axis, "start": start, "end": end, "step": step}
    if isinstance(end, int):
        return t.emit(sparsec.Slice, [x], props)
    props["end"] = sparsec.DYNAMIC_SIZE
    return t.emit(sparsec.Slice, [x, t.size(end.symbol)], props)


@translates(aten.select.int)
def _select(t: Translator, node: fx.Node) -> Value:
    x = t.value(node.args[0])
    axis = _dim(node.args[1], x.type.rank)
    size = x.type.shape[axis]
    if size is None and node.args[2] < 0:
        raise TranslateError("selecting from the end of a run-time size is not supported")
    index = node.args[2] if size is None else node.args[2] % size
    picked = t.emit(sparsec.Slice, [x], {"axis": axis, "start": index, "end": index + 1,
                                         "step": 1})
    shape = t.symbolic_shape(node)
    if not _is_static(shape):
        return _resized(t, sparsec.Reshape, picked, shape)
    return _reshape(t, picked, t.result_type().shape)


@translates(aten.cat.default)
def _cat(t: Translator, node: fx.Node) -> Value:
    elem = _dtype_of(t)
    parts = [t.cast(t.value(v), elem) for v in node.args[0]]
    return t.emit(sparsec.Concat, parts, {"axis": _dim(arg(node, 1, "dim", 0), _rank(node))})


@translates(aten.embedding.default)
def _embedding(t: Translator, node: fx.Node) -> Value:
    return t.emit(sparsec.Embedding, [t.value(node.args[0]), t.value(node.args[1])])


@translates(aten.index_select.default)
def _index_select(t: Translator, node: fx.Node) -> Value:
    x = t.value(node.args[0])
    axis = _dim(node.args[1], x.type.rank)
    return t.emit(sparsec.Take, [x, t.value(node.args[2])], {"axis": axis})


@translates(aten.gather.default)
def _gather(t: Translator, node: fx.Node) -> Value:
    """x.gather(dim, idx) as a take from the flattened x at flat positions computed from idx."""
    x = t.value(node.args[0])
    axis = _dim(node.args[1], x.type.rank)
    if not (x.type.is_static and _is_static(t.symbolic_shape(node.args[2]))):
        raise TranslateError("gather with run-time sizes is not supported")
    index_shape = node.args[2].meta["val"].shape
    strides = _strides(x.type.shape)
    grid = np.indices(tuple(index_shape), dtype=np.int64)
    offsets = sum(grid[d] * strides[d] for d in range(len(index_shape)) if d != axis)
    flat = _scaled_index(t, node.args[2], strides[axis], np.asarray(offsets, dtype=np.int64))
    return _flat_take(t, x, flat, x.type.rank)


@translates(aten.index.Tensor)
def _index(t: Translator, node: fx.Node) -> Value:
    """x[i0, i1, ...] (advanced indexing of leading axes) as one take from the flattened axes."""
    x = t.value(node.args[0])
    indices = list(node.args[1])
    if any(i is None for i in indices):
        raise TranslateError("indexing with None (skipped axes) is not supported")
    if not (x.type.is_static and all(_is_static(t.symbolic_shape(i)) for i in indices)):
        return _dynamic_index(t, x, indices)
    strides = _strides(x.type.shape[: len(indices)])
    flat = None
    for index, stride in zip(indices, strides, strict=True):
        term = _scaled_index(t, index, stride, None)
        flat = term if flat is None else _add_index(t, flat, term)
    return _flat_take(t, x, flat, len(indices))


def _dynamic_index(t: Translator, x: Value, indices: list[fx.Node]) -> Value:
    """x[i0, i1, ...] with run-time sizes: one ``sparsec.index`` (the indices must be >= 0)."""
    if any(i.meta["val"].dtype == torch.bool for i in indices):
        raise TranslateError("indexing with a boolean mask over run-time sizes is not supported")
    return t.emit(sparsec.Index, [x, *(t.cast(t.value(i), i64) for i in indices)])


def _strides(shape: Sequence[int]) -> list[int]:
    return [int(np.prod(shape[i + 1 :], dtype=np.int64)) for i in range(len(shape))]


def _scaled_index(t: Translator, index: fx.Node, stride: int, offsets: np.ndarray | None):
    """index * stride + offsets: folded to numpy when the index is known, else IR ops."""
    known = t.known(index)
    if known is not None:
        flat = known.tensor.numpy().astype(np.int64) * stride
        return flat if offsets is None else flat + offsets
    value = t.cast(t.value(index), i64)
    if stride != 1:
        value = t.emit(sparsec.Mul, [value, t.scalar(stride, i64)])
    if offsets is not None and np.any(offsets):
        value = _add_index(t, value, offsets)
    return value


def _add_index(t: Translator, a, b):
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a + b
    values = [_index_constant(t, v) if isinstance(v, np.ndarray) else v for v in (a, b)]
    return t.emit(sparsec.Add, values)


def _index_constant(t: Translator, index: np.ndarray) -> Value:
    tensor = torch.from_numpy(np.ascontiguousarray(index))
    return t.value(Known(tensor, t.derived_key(t.node, "flat_index")))


def _flat_take(t: Translator, x: Value, flat, merged_axes: int) -> Value:
    """take(x with its first ``merged_axes`` axes flattened, flat, axis=0)."""
    shape = x.type.shape
    merged = _reshape(t, x, (int(np.prod(shape[:merged_axes], dtype=np.int64)),
                             *shape[merged_axes:]))
    if isinstance(flat, np.ndarray):
        flat = _index_constant(t, flat)
    return t.emit(sparsec.Take, [merged, flat], {"axis": 0})


# -- tensors made from shapes ---------------------------------------------------------------------


def _filled(value_arg: int | None, fill: float | None = None) -> TranslateFn:
    """new_ones / zeros_like / full_like...: a splat of the traced shape and dtype."""

    def translate(t: Translator, node: fx.Node) -> Known | Value:
        meta = node.meta["val"]
        value = fill if value_arg is None else node.args[value_arg]
        shape = t.symbolic_shape(node)
        if not _is_static(shape):  # a splat broadcast to the run-time shape
            splat = t.scalar(value, element_type_of(meta.dtype))
            return _resized(t, sparsec.BroadcastTo, splat, shape)
        return Known(torch.full(tuple(meta.shape), value, dtype=meta.dtype), node.name)

    return translate


translates(aten.new_ones.default, aten.ones_like.default)(_filled(None, 1))
translates(aten.new_zeros.default, aten.zeros_like.default)(_filled(None, 0))
translates(aten.new_full.default)(_filled(2))
translates(aten.full_like.default)(_filled(1))


# -- run-time sizes -------------------------------------------------------------------------------


@translates(aten.sym_size.int)
def _sym_size(t: Translator, node: fx.Node) -> Size | int:
    """A size of a tensor: an int when it is static, else the run-time size it is."""
    size = node.meta["val"]
    if isinstance(size, int):
        return size
    expr = size.node.expr
    if expr.is_Integer:
        return int(expr)
    if not expr.is_Symbol:
        raise TranslateError(f"size {expr} is not a plain batch or sequence size")
    return Size(expr)


@translates(aten.arange.default, aten.arange.start, aten.arange.start_step)
def _arange(t: Translator, node: fx.Node) -> Value:
    """arange(n) for a run-time n (a static one is folded before it gets here)."""
    ends = [_size_arg(t, a) for a in node.args]
    start, end, step = ([0, *ends, 1] if len(ends) == 1 else [*ends, 1][:3])
    if start != 0 or step != 1 or not isinstance(end, Size):
        raise TranslateError("only arange(n) of a run-time size n is supported "
                             "(no start, step, or sizes computed from it)")
    return t.cast(t.emit(sparsec.Arange, [t.size(end.symbol)]), _dtype_of(t))
