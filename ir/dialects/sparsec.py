"""The `sparsec` dialect: the tensor ops a traced BERT-family model needs.

Every op is declared as data (see ``ir/opdef.py``) with its shape inference;
semantics are given by the reference interpreter (``ir/interpreter.py``).
Conventions follow PyTorch: ``linear`` keeps the weight in ``[out, in]``
layout, binary ops broadcast like numpy, axes are non-negative.

    %w = "sparsec.constant"() <{value = dense_resource<fc.weight> : tensor<4x8xf32>}>
        : () -> tensor<4x8xf32>
    %y = "sparsec.linear"(%x, %w) : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>

What the code generator makes one kernel is written in the ops themselves (the ``fusion`` pass
writes it): a linear's ``epilogue`` lists the stages after its bias (exact gelu, then + the
residual, its last operand), and an attention's ``layout`` says which of query, key, value and
result are stored ``[batch, seq, heads, dim]`` (bshd) rather than bhsd:

    %z = "sparsec.linear"(%x, %w, %b, %r) <{epilogue = ["gelu", "residual"]}> : ...
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..attributes import (
    ArrayAttr,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
)
from ..core import Operation, Value
from ..matchers import COMPARE_PREDICATES, REDUCE_KINDS, ints
from ..opdef import (
    COMMUTATIVE,
    CONSTANT_LIKE,
    ELEMENTWISE,
    PURE,
    VerifyError,
    define,
    prop,
    tensor_type,
)
from ..types import TensorType, Type, i1, i64, index, is_float, is_integer

# -- shape helpers -----------------------------------------------------------


def broadcast_shapes(*shapes: Sequence[int | None]) -> tuple[int | None, ...]:
    """Numpy broadcasting of static or dynamic shapes."""
    rank = max(len(s) for s in shapes)
    out: list[int | None] = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes], strict=True):
        sizes = {d for d in dims if d != 1}
        static = sizes - {None}
        if sizes == {None}:
            out.append(None)
        elif len(static) > 1:
            raise VerifyError(f"shapes {' and '.join(map(_fmt_shape, shapes))} do not broadcast")
        else:
            out.append(static.pop() if static else 1)  # a `?` beside N is 1 or N at run time
    return tuple(out)


def _fmt_shape(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _int(op: Operation, name: str) -> int:
    return int(op.properties[name].value)


def _axis(op: Operation, rank: int, name: str = "axis") -> int:
    axis = _int(op, name)
    if not 0 <= axis < rank:
        raise VerifyError(f"{name} {axis} is out of range for rank {rank}")
    return axis


def _pair(op: Operation, name: str) -> tuple[int, int]:
    values = ints(op, name)
    if len(values) != 2 or min(values) < 1:
        raise VerifyError(f"{name} must be two positive sizes, got {list(values)}")
    return values[0], values[1]


def _require_float(what: str, t: TensorType) -> None:
    if not is_float(t.element_type):
        raise VerifyError(f"{what} must have a float element type, got {t}")


def _same_element_type(types: Sequence[TensorType]) -> Type:
    elems = {str(t.element_type): t.element_type for t in types}
    if len(elems) > 1:
        raise VerifyError(f"operand element types differ: {', '.join(sorted(elems))}")
    return next(iter(elems.values()))


def _operand_types(op: Operation) -> list[TensorType]:
    return [tensor_type(v, f"operand #{i}") for i, v in enumerate(op.operands)]


# -- dynamic sizes -----------------------------------------------------------
# An op that makes a tensor with `?` dimensions takes the run-time size of each as an `index`
# operand, as MLIR's tensor ops do: its shape property holds DYNAMIC_SIZE in their place, one
# operand per DYNAMIC_SIZE, in order:
#
#   %b = "sparsec.dim"(%ids) <{axis = 0}> : (tensor<?x?xi64>) -> index
#   %s = "sparsec.dim"(%ids) <{axis = 1}> : (tensor<?x?xi64>) -> index
#   %q = "sparsec.reshape"(%x, %b, %s) <{shape = array<i64: -1, -1, 12, 64>}>
#       : (tensor<?x?x768xf32>, index, index) -> tensor<?x?x12x64xf32>

DYNAMIC_SIZE = -1


def shape_with_sizes(shape: Sequence[int], sizes: Sequence[Value]) -> tuple[int | None, ...]:
    """The result shape of a ``shape`` property (``?`` for each DYNAMIC_SIZE), checking that
    ``sizes`` holds one ``index`` value per DYNAMIC_SIZE."""
    dynamic = sum(1 for d in shape if d == DYNAMIC_SIZE)
    if dynamic != len(sizes):
        raise VerifyError(f"shape {list(shape)} has {dynamic} dynamic sizes (-1) but "
                          f"{len(sizes)} size operands")
    for value in sizes:
        if value.type != index:
            raise VerifyError(f"size operands must be index values, got {value.type}")
    if any(d < DYNAMIC_SIZE for d in shape):
        raise VerifyError(f"shape {list(shape)} has a negative size")
    return tuple(None if d == DYNAMIC_SIZE else d for d in shape)


def fill_sizes(shape: Sequence[int], sizes: Sequence[int]) -> tuple[int, ...]:
    """``shape`` with its DYNAMIC_SIZE entries replaced, in order, by ``sizes``."""
    given = iter(sizes)
    return tuple(int(next(given)) if d == DYNAMIC_SIZE else d for d in shape)


# -- inference functions -----------------------------------------------------


def infer_constant(op: Operation) -> list[Type]:
    return [op.properties["value"].type]


def infer_same(op: Operation) -> list[Type]:
    return [_operand_types(op)[0]]


def infer_broadcast(op: Operation) -> list[Type]:
    types = _operand_types(op)
    return [TensorType(broadcast_shapes(*(t.shape for t in types)), _same_element_type(types))]


def infer_compare(op: Operation) -> list[Type]:
    (shape,) = [t.shape for t in infer_broadcast(op)]
    return [TensorType(shape, i1)]


def infer_where(op: Operation) -> list[Type]:
    cond, lhs, rhs = _operand_types(op)
    if cond.element_type != i1:
        raise VerifyError(f"condition must have element type i1, got {cond.element_type}")
    elem = _same_element_type([lhs, rhs])
    return [TensorType(broadcast_shapes(cond.shape, lhs.shape, rhs.shape), elem)]


def _check_dim(what: str, a: int | None, b: int | None) -> None:
    if a is not None and b is not None and a != b:
        raise VerifyError(f"{what}: {a} vs {b}")


# -- linear epilogues ----------------------------------------------------------

EPILOGUE_STAGES = ("gelu", "residual")  # in the order they apply, after the bias


def linear_weights(op: Operation) -> tuple[Value, ...]:
    """The weight operands of a ``linear`` (weight) or ``bsr_linear`` (data, indices, indptr):
    what the code generator packs when they are constants."""
    if op.name == "sparsec.linear":
        return (op.operands[1],)
    return tuple(op.operands[1:4])


def linear_epilogue(op: Operation) -> tuple[str, ...]:
    """The stages of a linear's ``epilogue`` property (none when it is absent), checked."""
    attr = op.properties.get("epilogue")
    if attr is None:
        return ()
    stages = tuple(getattr(entry, "value", None) for entry in attr)
    ordered = tuple(s for s in EPILOGUE_STAGES if s in stages)
    if not all(isinstance(entry, StringAttr) for entry in attr) or stages != ordered:
        raise VerifyError(f"epilogue {attr} must list distinct stages of {list(EPILOGUE_STAGES)}"
                          " in that order")
    return stages


def epilogue_operands(op: Operation, with_bias: int) -> tuple[list[TensorType], TensorType | None]:
    """A linear's operand types without the residual, and the residual's (the last operand).

    A residual epilogue needs the bias operand too, so that positions stay unambiguous:
    ``with_bias`` is the operand count with the bias and without the residual.
    """
    types = _operand_types(op)
    if "residual" not in linear_epilogue(op):
        if len(types) > with_bias:
            raise VerifyError(f"{len(types)} operands: a residual operand needs 'residual' in "
                              "the epilogue")
        return types, None
    if len(types) != with_bias + 1:
        raise VerifyError(f"a residual epilogue needs the bias and the residual as the last two "
                          f"operands ({with_bias + 1} operands), got {len(types)}")
    return types[:-1], types[-1]


def _epilogue_result(op: Operation, result: TensorType, residual: TensorType | None) -> TensorType:
    """``result`` after checking the epilogue's operand and element type against it."""
    if linear_epilogue(op):
        _require_float("a linear with an epilogue", result)
    if residual is not None and residual != result:
        raise VerifyError(f"residual {residual} does not match the result {result}")
    return result


def infer_linear(op: Operation) -> list[Type]:
    (x, w, *bias), residual = epilogue_operands(op, with_bias=3)
    if w.rank != 2 or x.rank < 1:
        raise VerifyError(f"linear needs a rank-2 weight and rank>=1 input, got {w} and {x}")
    _check_dim("input features do not match weight columns", x.shape[-1], w.shape[1])
    if bias and (bias[0].rank != 1 or bias[0].shape[0] not in (w.shape[0], None)):
        raise VerifyError(f"bias {bias[0]} does not match {w.shape[0]} output features")
    _same_element_type([x, w, *bias])
    return [_epilogue_result(op, x.with_shape((*x.shape[:-1], w.shape[0])), residual)]


def infer_bsr_linear(op: Operation) -> list[Type]:
    """``x @ W.T + bias`` with ``W[N, K]`` (``dense_shape``) in BSR form with ``R x C`` blocks.

    ``data[nnzb, R, C]`` holds the stored blocks, ``indices[nnzb]`` the block column of
    each, ``indptr[ceil(N/R) + 1]`` where each block row starts (see ``ir/bsr.py``). When
    R does not divide N (or C does not divide K), W is padded with zero rows (columns) to
    whole blocks; the padding part of the last block row (column) is ignored, and the
    result keeps the first N columns. Index values are data: the interpreter checks them.
    """
    (x, data, indices, indptr, *bias), residual = epilogue_operands(op, with_bias=5)
    rows, cols = _pair(op, "block_shape")
    n, k = _pair(op, "dense_shape")
    if x.rank < 1:
        raise VerifyError(f"bsr_linear needs a rank>=1 input, got {x}")
    if data.rank != 3 or tuple(data.shape[1:]) != (rows, cols):
        raise VerifyError(f"data {data} does not hold {rows}x{cols} blocks")
    if not (is_integer(indices.element_type) and is_integer(indptr.element_type)):
        raise VerifyError("indices and indptr must be integer tensors")
    if indices.rank != 1 or indptr.rank != 1:
        raise VerifyError("indices and indptr must be rank 1")
    _check_dim("indices and data disagree on the number of blocks", indices.shape[0], data.shape[0])
    block_rows = -(-n // rows)
    _check_dim("indptr length must be block rows + 1", indptr.shape[0], block_rows + 1)
    _check_dim("input features do not match dense_shape", x.shape[-1], k)
    if data.shape[0] is not None and data.shape[0] > block_rows * -(-k // cols):
        raise VerifyError(f"{data.shape[0]} blocks do not fit a {n}x{k} weight")
    if bias and tuple(bias[0].shape) not in ((n,), (None,)):
        raise VerifyError(f"bias {bias[0]} does not match {n} output features")
    _same_element_type([x, data, *bias])
    return [_epilogue_result(op, x.with_shape((*x.shape[:-1], n)), residual)]


def infer_matmul(op: Operation) -> list[Type]:
    lhs, rhs = _operand_types(op)
    if lhs.rank < 2 or rhs.rank < 2:
        raise VerifyError(f"matmul needs rank>=2 operands, got {lhs} and {rhs}")
    _check_dim("contracting dimensions differ", lhs.shape[-1], rhs.shape[-2])
    batch = broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2])
    return [TensorType((*batch, lhs.shape[-2], rhs.shape[-1]), _same_element_type([lhs, rhs]))]


# -- attention layouts ---------------------------------------------------------

ATTENTION_LAYOUTS = ("bhsd", "bshd")  # [batch, heads, seq, dim], or seq before heads


def attention_layouts(op: Operation) -> tuple[str, str, str, str]:
    """The layouts of query, key, value and result (``layout`` property; default all bhsd)."""
    attr = op.properties.get("layout")
    if attr is None:
        return ("bhsd",) * 4
    layouts = tuple(getattr(entry, "value", None) for entry in attr)
    if len(layouts) != 4 or any(layout not in ATTENTION_LAYOUTS for layout in layouts):
        raise VerifyError(f"layout {attr} must be four of \"bhsd\", \"bshd\" (query, key, "
                          "value, result)")
    return layouts  # type: ignore[return-value]


def attention_heads(op: Operation) -> tuple[int, tuple[int, int, int]] | None:
    """``(heads, (query, key, value offsets))`` when the attention reads its heads from a slice
    of each operand's heads axis (properties ``heads`` and ``head_offsets``, as the fusion pass
    sets them for q, k and v in one tensor), else None."""
    count, offsets = op.properties.get("heads"), op.properties.get("head_offsets")
    if count is None and offsets is None:
        return None
    if count is None or offsets is None or len(offsets) != 3:
        raise VerifyError("heads and head_offsets go together: a head count and the first head "
                          "of query, key and value")
    heads, starts = int(count.value), tuple(int(v) for v in offsets)
    if heads < 1 or min(starts) < 0:
        raise VerifyError(f"heads {heads} must be >= 1 and head_offsets {list(starts)} >= 0")
    return heads, starts  # type: ignore[return-value]


def _head_slice(t: TensorType, heads: int, start: int, what: str) -> TensorType:
    """Heads ``start .. start + heads`` of bhsd ``t``."""
    if t.rank != 4:
        raise VerifyError(f"{what} read from head {start} on must have rank 4, got {t}")
    if t.shape[1] is not None and start + heads > t.shape[1]:
        raise VerifyError(f"{what} has {t.shape[1]} heads, not heads {start}..{start + heads}")
    return t.with_shape((t.shape[0], heads, *t.shape[2:]))


def swap_seq_heads(t: TensorType, layout: str, what: str) -> TensorType:
    """``t`` in the bhsd layout: a bshd rank-4 tensor with axes 1 and 2 swapped."""
    if layout == "bhsd":
        return t
    if t.rank != 4:
        raise VerifyError(f"{what} in layout \"bshd\" must have rank 4, got {t}")
    b, s, h, d = t.shape
    return t.with_shape((b, h, s, d))


def infer_attention(op: Operation) -> list[Type]:
    layouts = attention_layouts(op)
    q, k, v, *mask = _operand_types(op)
    names = ("query", "key", "value")
    q, k, v = (swap_seq_heads(t, layout, what)
               for t, layout, what in zip((q, k, v), layouts[:3], names, strict=True))
    sliced = attention_heads(op)
    if sliced is not None:
        q, k, v = (_head_slice(t, sliced[0], start, what)
                   for t, start, what in zip((q, k, v), sliced[1], names, strict=True))
    if min(q.rank, k.rank, v.rank) < 2:
        raise VerifyError(f"attention needs rank>=2 query, key and value, got {q}, {k}, {v}")
    _check_dim("query and key head sizes differ", q.shape[-1], k.shape[-1])
    _check_dim("key and value lengths differ", k.shape[-2], v.shape[-2])
    batch = broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    for t, layout, what in zip((q, k, v), layouts[:3], names, strict=True):
        if layout == "bshd" and tuple(t.shape[:-2]) != batch:
            raise VerifyError(f"{what} in layout \"bshd\" cannot broadcast to batch and heads "
                              f"{_fmt_shape(batch)}")
    elem = _same_element_type([q, k, v])
    _require_float("query", q)
    if mask:
        if mask[0].element_type not in (i1, elem):
            raise VerifyError(f"mask must be i1 (true = keep) or {elem} (additive), got {mask[0]}")
        scores = (*batch, q.shape[-2], k.shape[-2])
        if broadcast_shapes(mask[0].shape, scores) != broadcast_shapes(scores):
            raise VerifyError(f"mask {mask[0]} does not broadcast to {_fmt_shape(scores)}")
    result = TensorType((*batch, q.shape[-2], v.shape[-1]), elem)
    return [swap_seq_heads(result, layouts[3], "result")]


def infer_layer_norm(op: Operation) -> list[Type]:
    x, *affine = _operand_types(op)
    _require_float("input", x)
    normalized = ints(op, "normalized_shape")
    if LayerNorm(op).epsilon < 0:
        raise VerifyError(f"epsilon must be >= 0, got {LayerNorm(op).epsilon}")
    if tuple(x.shape[x.rank - len(normalized) :]) != normalized:
        raise VerifyError(f"normalized_shape {list(normalized)} is not the trailing shape of {x}")
    for t in affine:
        if tuple(t.shape) != normalized:
            raise VerifyError(f"affine parameter {t} does not match normalized_shape")
    return [x]


def infer_along_axis(op: Operation) -> list[Type]:
    (x,) = _operand_types(op)
    _axis(op, x.rank)
    return [x]


def infer_softmax(op: Operation) -> list[Type]:
    _require_float("input", _operand_types(op)[0])
    return infer_along_axis(op)


def infer_embedding(op: Operation) -> list[Type]:
    table, ids = _operand_types(op)
    if table.rank != 2 or not is_integer(ids.element_type):
        raise VerifyError(f"embedding needs a rank-2 table and integer ids, got {table} and {ids}")
    return [TensorType((*ids.shape, table.shape[1]), table.element_type)]


def infer_take(op: Operation) -> list[Type]:
    x, idx = _operand_types(op)
    axis = _axis(op, x.rank)
    if not is_integer(idx.element_type):
        raise VerifyError(f"indices must be integers, got {idx.element_type}")
    return [x.with_shape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1 :]))]


def infer_reshape(op: Operation) -> list[Type]:
    view = Reshape(op)
    x = tensor_type(view.input, "input")
    shape = shape_with_sizes(ints(op, "shape"), view.sizes)
    if x.is_static and None not in shape and x.num_elements != math.prod(shape):  # exact
        raise VerifyError(f"cannot reshape {x} ({x.num_elements} elements) to {list(shape)}")
    return [x.with_shape(shape)]


def infer_permute(op: Operation) -> list[Type]:
    (x,) = _operand_types(op)
    perm = ints(op, "perm")
    if sorted(perm) != list(range(x.rank)):
        raise VerifyError(f"perm {list(perm)} is not a permutation of {x.rank} axes")
    return [x.with_shape(tuple(x.shape[p] for p in perm))]


def infer_slice(op: Operation) -> list[Type]:
    view = Slice(op)
    x = tensor_type(view.input, "input")
    axis = _axis(op, x.rank)
    start, end, step = _int(op, "start"), _int(op, "end"), _int(op, "step")
    (end,) = shape_with_sizes((end,), [view.dynamic_end] if view.dynamic_end else [])
    if step < 1 or start < 0 or (end is not None and end < start):
        raise VerifyError(f"slice [{start}:{end}:{step}] must have 0 <= start <= end and step >= 1")
    size = x.shape[axis]
    if size is None or end is None:
        return [x.with_shape((*x.shape[:axis], None, *x.shape[axis + 1 :]))]
    length = len(range(min(start, size), min(end, size), step))
    return [x.with_shape((*x.shape[:axis], length, *x.shape[axis + 1 :]))]


def infer_concat(op: Operation) -> list[Type]:
    types = _operand_types(op)
    if not types:
        raise VerifyError("concat needs at least one operand")
    axis = _axis(op, types[0].rank)
    elem = _same_element_type(types)
    total: int | None = 0
    for t in types:
        if t.rank != types[0].rank:
            raise VerifyError("concat operands differ in rank")
        for d, (a, b) in enumerate(zip(t.shape, types[0].shape, strict=True)):
            if d != axis:
                _check_dim(f"concat operands differ in dimension {d}", a, b)
        total = None if total is None or t.shape[axis] is None else total + t.shape[axis]
    shape = list(types[0].shape)
    shape[axis] = total
    return [TensorType(tuple(shape), elem)]


def infer_broadcast_to(op: Operation) -> list[Type]:
    view = BroadcastTo(op)
    x = tensor_type(view.input, "input")
    shape = shape_with_sizes(ints(op, "shape"), view.sizes)
    if broadcast_shapes(x.shape, shape) != shape:
        raise VerifyError(f"cannot broadcast {x} to {list(shape)}")
    return [x.with_shape(shape)]


def infer_reduce(op: Operation) -> list[Type]:
    (x,) = _operand_types(op)
    axes = ints(op, "axes")
    if any(not 0 <= a < x.rank for a in axes) or len(set(axes)) != len(axes):
        raise VerifyError(f"axes {list(axes)} are invalid for rank {x.rank}")
    kind, keep = Reduce(op).kind, Reduce(op).keepdim
    if kind not in REDUCE_KINDS:
        raise VerifyError(f"kind '{kind}' is not one of {', '.join(REDUCE_KINDS)}")
    shape = [1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes]
    return [x.with_shape(tuple(shape))]


def infer_dim(op: Operation) -> list[Type]:
    _axis(op, tensor_type(Dim(op).input, "input").rank)
    return [index]


def infer_arange(op: Operation) -> list[Type]:
    if Arange(op).end.type != index:
        raise VerifyError(f"end must be an index value, got {Arange(op).end.type}")
    return [TensorType((None,), i64)]


def infer_index(op: Operation) -> list[Type]:
    view = Index(op)
    x = tensor_type(view.input, "input")
    indices = [tensor_type(v, f"index #{i}") for i, v in enumerate(view.indices)]
    if not 1 <= len(indices) <= x.rank:
        raise VerifyError(f"{len(indices)} index tensors for an input of rank {x.rank}")
    if not all(is_integer(t.element_type) for t in indices):
        raise VerifyError("index tensors must have integer element types")
    batch = broadcast_shapes(*(t.shape for t in indices))
    return [x.with_shape((*batch, *x.shape[len(indices):]))]


def verify_cast(op: Operation) -> None:
    (x,) = _operand_types(op)
    out = tensor_type(op.results[0], "result")
    if tuple(out.shape) != tuple(x.shape):
        raise VerifyError(f"cast changes the shape from {x} to {out}")


def verify_constant(op: Operation) -> None:
    value = op.properties["value"]
    if isinstance(value, DenseResourceAttr) and value.resource.data is not None:
        data = value.resource.data
        if data.size != value.type.num_elements:
            raise VerifyError(
                f"resource '{value.key}' holds {data.size} elements, {value.type} needs "
                f"{value.type.num_elements}"
            )


# -- the ops -----------------------------------------------------------------

Constant = define(
    "sparsec.constant",
    "A compile-time tensor: inline dense<...> or a weight in a resource blob.",
    properties={"value": prop(DenseElementsAttr, DenseResourceAttr)},
    traits=(PURE, CONSTANT_LIKE),
    infer=infer_constant,
    verify=verify_constant,
)

Linear = define(
    "sparsec.linear",
    "input @ weight^T + bias, with weight in torch's [out, in] layout, then the `epilogue`"
    " stages: exact gelu, + residual (the last operand; it needs the bias).",
    operands=("input", "weight", "bias?", "residual?"),
    properties={"epilogue": prop(ArrayAttr, optional=True)},
    traits=(PURE,),
    infer=infer_linear,
)

BsrLinear = define(
    "sparsec.bsr_linear",
    "linear with a block-sparse-row weight (data [nnzb, R, C], indices, indptr); a partial last"
    " block row/column is zero-padded (see infer_bsr_linear); `epilogue` as for linear.",
    operands=("input", "data", "indices", "indptr", "bias?", "residual?"),
    properties={"block_shape": prop(DenseArrayAttr), "dense_shape": prop(DenseArrayAttr),
                "epilogue": prop(ArrayAttr, optional=True)},
    traits=(PURE,),
    infer=infer_bsr_linear,
)

Matmul = define(
    "sparsec.matmul",
    "torch.matmul of rank>=2 operands with broadcast batch dimensions.",
    operands=("lhs", "rhs"),
    traits=(PURE,),
    infer=infer_matmul,
)

Attention = define(
    "sparsec.attention",
    "softmax(q @ k^T * scale + mask) @ v (scaled dot-product attention); `layout` says which"
    " of query, key, value, result are [batch, seq, heads, dim] (bshd) instead of bhsd;"
    " `heads` and `head_offsets`: query, key and value are heads offset .. offset + heads of"
    " their operands (rank 4).",
    operands=("query", "key", "value", "mask?"),
    properties={"scale": prop(FloatAttr), "layout": prop(ArrayAttr, optional=True),
                "heads": prop(IntegerAttr, optional=True),
                "head_offsets": prop(DenseArrayAttr, optional=True)},
    traits=(PURE,),
    infer=infer_attention,
)


def verify_float(op: Operation) -> None:
    _require_float(f"'{op.name}' operand", _operand_types(op)[0])


def verify_bool(op: Operation) -> None:
    for i, t in enumerate(_operand_types(op)):
        if t.element_type != i1:
            raise VerifyError(f"operand #{i} must have element type i1, got {t}")


def _binary(name: str, summary: str, *traits: str, verify=None) -> object:
    return define(
        f"sparsec.{name}",
        summary,
        operands=("lhs", "rhs"),
        traits=(PURE, ELEMENTWISE, *traits),
        infer=infer_broadcast,
        verify=verify,
    )


Add = _binary("add", "lhs + rhs (broadcasting).", COMMUTATIVE)
Sub = _binary("sub", "lhs - rhs (broadcasting).")
Mul = _binary("mul", "lhs * rhs (broadcasting).", COMMUTATIVE)
Div = _binary("div", "lhs / rhs (broadcasting; true division of floats).", verify=verify_float)
Pow = _binary("pow", "lhs ** rhs (broadcasting).")
Maximum = _binary("maximum", "max(lhs, rhs) (broadcasting).", COMMUTATIVE)
Minimum = _binary("minimum", "min(lhs, rhs) (broadcasting).", COMMUTATIVE)
LogicalAnd = _binary("and", "lhs and rhs on i1 tensors.", COMMUTATIVE, verify=verify_bool)
LogicalOr = _binary("or", "lhs or rhs on i1 tensors.", COMMUTATIVE, verify=verify_bool)

def verify_compare(op: Operation) -> None:
    predicate = Compare(op).predicate
    if predicate not in COMPARE_PREDICATES:
        raise VerifyError(f"predicate '{predicate}' is not one of {', '.join(COMPARE_PREDICATES)}")


Compare = define(
    "sparsec.cmp",
    "Elementwise comparison (eq, ne, lt, le, gt, ge) giving an i1 tensor.",
    operands=("lhs", "rhs"),
    properties={"predicate": prop(StringAttr)},
    traits=(PURE, ELEMENTWISE),
    infer=infer_compare,
    verify=verify_compare,
)

Where = define(
    "sparsec.where",
    "cond ? lhs : rhs, elementwise with broadcasting.",
    operands=("condition", "lhs", "rhs"),
    traits=(PURE, ELEMENTWISE),
    infer=infer_where,
)


def _unary(name: str, summary: str, properties: dict | None = None, verify=None) -> object:
    return define(
        f"sparsec.{name}",
        summary,
        operands=("input",),
        properties=properties,
        traits=(PURE, ELEMENTWISE),
        infer=infer_same,
        verify=verify,
    )


def verify_gelu(op: Operation) -> None:
    verify_float(op)
    if Gelu(op).approximate not in ("none", "tanh"):
        raise VerifyError("approximate must be \"none\" or \"tanh\"")


def verify_dropout(op: Operation) -> None:
    p = Dropout(op).p
    if not 0.0 <= p <= 1.0:
        raise VerifyError(f"dropout probability p must be in [0, 1], got {p}")


Neg = _unary("neg", "-x")
Exp = _unary("exp", "e ** x", verify=verify_float)
Log = _unary("log", "natural logarithm", verify=verify_float)
Sqrt = _unary("sqrt", "square root", verify=verify_float)
Rsqrt = _unary("rsqrt", "1 / sqrt(x)", verify=verify_float)
Tanh = _unary("tanh", "hyperbolic tangent", verify=verify_float)
Erf = _unary("erf", "Gauss error function", verify=verify_float)
Relu = _unary("relu", "max(x, 0)")
Sigmoid = _unary("sigmoid", "1 / (1 + e ** -x)", verify=verify_float)
Abs = _unary("abs", "|x|")
LogicalNot = _unary("not", "logical not of an i1 tensor", verify=verify_bool)
Gelu = _unary(
    "gelu",
    "GELU, exact (erf) or with the tanh approximation.",
    {"approximate": prop(StringAttr)},
    verify_gelu,
)
Dropout = _unary(
    "dropout",
    "Dropout; the identity unless `train` is true (canonicalize removes eval-mode ones).",
    {"p": prop(FloatAttr), "train": prop(BoolAttr)},
    verify_dropout,
)

Cast = define(
    "sparsec.cast",
    "Converts elements to the result's element type (shape unchanged).",
    operands=("input",),
    traits=(PURE, ELEMENTWISE),
    verify=verify_cast,
)

Softmax = define(
    "sparsec.softmax",
    "softmax along `axis`.",
    operands=("input",),
    properties={"axis": prop(IntegerAttr)},
    traits=(PURE,),
    infer=infer_softmax,
)

LayerNorm = define(
    "sparsec.layer_norm",
    "Normalizes over the trailing `normalized_shape`, then scales and shifts.",
    operands=("input", "weight?", "bias?"),
    properties={"normalized_shape": prop(DenseArrayAttr), "epsilon": prop(FloatAttr)},
    traits=(PURE,),
    infer=infer_layer_norm,
)

Embedding = define(
    "sparsec.embedding",
    "Rows of a [vocab, dim] table picked by integer ids (ids must be < vocab).",
    operands=("table", "indices"),
    traits=(PURE,),
    infer=infer_embedding,
)

Take = define(
    "sparsec.take",
    "numpy.take / torch.index_select along `axis`.",
    operands=("input", "indices"),
    properties={"axis": prop(IntegerAttr)},
    traits=(PURE,),
    infer=infer_take,
)

Reshape = define(
    "sparsec.reshape",
    "Same elements, new shape (-1: a run-time size, the next `sizes` operand).",
    operands=("input", "sizes*"),
    properties={"shape": prop(DenseArrayAttr)},
    traits=(PURE,),
    infer=infer_reshape,
)

Permute = define(
    "sparsec.permute",
    "Transposes axes: result dim i is input dim perm[i].",
    operands=("input",),
    properties={"perm": prop(DenseArrayAttr)},
    traits=(PURE,),
    infer=infer_permute,
)

Slice = define(
    "sparsec.slice",
    "input[start:end:step] along `axis` (end is clamped to the size; end = -1: the"
    " `dynamic_end` operand).",
    operands=("input", "dynamic_end?"),
    properties={
        "axis": prop(IntegerAttr),
        "start": prop(IntegerAttr),
        "end": prop(IntegerAttr),
        "step": prop(IntegerAttr),
    },
    traits=(PURE,),
    infer=infer_slice,
)

Concat = define(
    "sparsec.concat",
    "Joins operands along `axis`.",
    operands=("inputs*",),
    properties={"axis": prop(IntegerAttr)},
    traits=(PURE,),
    infer=infer_concat,
)

BroadcastTo = define(
    "sparsec.broadcast_to",
    "Expands size-1 (or missing leading) dimensions to `shape` (-1: a run-time size, the"
    " next `sizes` operand).",
    operands=("input", "sizes*"),
    properties={"shape": prop(DenseArrayAttr)},
    traits=(PURE,),
    infer=infer_broadcast_to,
)

Reduce = define(
    "sparsec.reduce",
    "sum / mean / max / min over `axes`.",
    operands=("input",),
    properties={"kind": prop(StringAttr), "axes": prop(DenseArrayAttr), "keepdim": prop(BoolAttr)},
    traits=(PURE,),
    infer=infer_reduce,
)

Cumsum = define(
    "sparsec.cumsum",
    "Running sum along `axis`.",
    operands=("input",),
    properties={"axis": prop(IntegerAttr)},
    traits=(PURE,),
    infer=infer_along_axis,
)

Dim = define(
    "sparsec.dim",
    "The run-time size of dimension `axis` of the input, as an index value.",
    operands=("input",),
    properties={"axis": prop(IntegerAttr)},
    traits=(PURE,),
    infer=infer_dim,
)

Arange = define(
    "sparsec.arange",
    "0, 1, ..., end - 1 (i64), for a run-time `end`.",
    operands=("end",),
    traits=(PURE,),
    infer=infer_arange,
)

Index = define(
    "sparsec.index",
    "input[i0, i1, ...]: numpy advanced indexing of the leading axes, the index tensors"
    " broadcast together (each index must be in range).",
    operands=("input", "indices*"),
    traits=(PURE,),
    infer=infer_index,
)
