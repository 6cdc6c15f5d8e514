"""The `fusion` pass: say in the IR which ops the code generator turns into one kernel.

Two rewrites, each exact (the interpreter computes the fused op as the ops it replaces):

- a float32 ``linear`` / ``bsr_linear`` with constant weights, followed by an exact ``gelu``
  (its only user) and/or an ``add`` of a residual of the same type (the only user), becomes one
  linear whose ``epilogue`` property lists those stages; the residual becomes its last operand.
  A residual is fused only into a linear with a bias, so operand positions stay unambiguous.
- an ``attention`` with a rank-4 result reads a ``permute [0, 2, 1, 3]`` operand (that does
  not broadcast) in place, and writes its result in that order when a permute so is its only
  user: its ``layout`` property says which of query, key, value, result are then ``bshd``.

Ops left without users are erased; anything else is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparsec.ir.attributes import ArrayAttr, Attribute, IntegerAttr, StringAttr, i64_array
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects.sparsec import (
    BsrLinear,
    Gelu,
    Linear,
    Permute,
    Reshape,
    Slice,
    attention_heads,
    attention_layouts,
    linear_epilogue,
    linear_weights,
    swap_seq_heads,
)
from sparsec.ir.matchers import ints, producer, sole_user
from sparsec.ir.opdef import lookup
from sparsec.ir.types import TensorType, Type, i64

from .pass_base import Pass
from .registry import register_pass
from .rewrite import replace_op

LINEARS = {d.name: d for d in (Linear, BsrLinear)}
SWAP_SEQ_HEADS = (0, 2, 1, 3)


def _is_f32(value: Value) -> bool:
    return isinstance(value.type, TensorType) and value.type.dtype == "float32"


def _weights_constant(op: Operation) -> bool:
    """A float32 linear whose weight (BSR arrays) are constants: the kernels pack them."""
    return _is_f32(op.operands[0]) and _is_f32(op.result) and all(
        producer(w, "sparsec.constant") is not None for w in linear_weights(op))


def _residual_of(add: Operation | None, value: Value) -> Value | None:
    """The other operand of ``add(value, other)`` when it has ``value``'s type (no broadcast)."""
    if add is None or add.name != "sparsec.add":
        return None
    other = [v for v in add.operands if v is not value]
    return other[0] if len(other) == 1 and other[0].type == value.type else None


def fuse_epilogue(op: Operation) -> bool:
    """Fold the exact gelu and/or residual add after linear ``op`` into its epilogue."""
    if not _weights_constant(op):
        return False
    stages, chain, extra = list(linear_epilogue(op)), [op], []
    user = sole_user(op.result)
    if not stages and user is not None and user.name == "sparsec.gelu" \
            and Gelu(user).approximate == "none":
        stages.append("gelu")
        chain.append(user)
        user = sole_user(user.result)
    residual = _residual_of(user, chain[-1].result)
    linear = LINEARS[op.name](op)
    if "residual" not in stages and residual is not None and linear.bias is not None \
            and linear.residual is None:
        stages.append("residual")
        chain.append(user)
        extra.append(residual)
    if len(chain) == 1:
        return False
    epilogue = ArrayAttr(tuple(StringAttr(stage) for stage in stages))
    fused = _rebuilt(op, [*op.operands, *extra], {"epilogue": epilogue}, chain[-1].result.type)
    replace_op(chain[-1], fused)
    for dead in reversed(chain[:-1]):
        dead.erase()
    return True


def absorb_permutes(op: Operation) -> Operation | None:
    """Read permuted operands and write a permuted result of attention ``op`` in place; the
    new attention op, or None if nothing changes."""
    if op.result.type.rank != 4:
        return None
    before = attention_layouts(op)
    layouts, operands = list(before), list(op.operands)
    batch = swap_seq_heads(op.result.type, before[3], "result").shape[:2]
    for i in range(3):
        source = _swapped_source(operands[i])
        if layouts[i] == "bhsd" and source is not None and operands[i].type.shape[:2] == batch:
            operands[i], layouts[i] = source, "bshd"
    user = sole_user(op.result)
    fold_result = layouts[3] == "bhsd" and user is not None \
        and _swapped_source(user.result) is op.result
    if fold_result:
        layouts[3] = "bshd"
    if tuple(layouts) == before:
        return None
    layout = ArrayAttr(tuple(StringAttr(name) for name in layouts))
    result_type = user.result.type if fold_result else op.result.type
    new = _rebuilt(op, operands, {"layout": layout}, result_type)
    absorbed = [value.definer for value in op.operands if value not in operands]
    replace_op(user if fold_result else op, new)
    for dead in (op, *absorbed):
        if dead.parent is not None and not dead.has_uses:
            dead.erase()
    return new


def absorb_head_slices(op: Operation) -> bool:
    """Read bshd query, key and value that are heads of slices of one tensor (the combined
    projections' result) from that tensor in place: ``heads`` and ``head_offsets`` say where."""
    if attention_heads(op) is not None or attention_layouts(op)[:3] != ("bshd",) * 3:
        return False
    heads = op.operands[0].type.shape[2]  # bshd: rank 4
    if heads is None:
        return False
    operands, offsets, whole = list(op.operands), [0, 0, 0], {}
    for i in range(3):
        found = _head_slice(operands[i])
        if found is None:
            continue
        reshape, source, first_head = found
        if id(source) not in whole:
            whole[id(source)] = _all_heads(reshape, source)
        operands[i], offsets[i] = whole[id(source)], first_head
    if not whole:
        return False
    props = {"heads": IntegerAttr(heads, i64), "head_offsets": i64_array(offsets)}
    new = _rebuilt(op, operands, props, op.result.type)
    absorbed = [value.definer for value in op.operands[:3] if value not in operands]
    replace_op(op, new)
    for reshape in dict.fromkeys(absorbed):
        if reshape.parent is not None and not reshape.has_uses:
            sliced = reshape.operands[0].definer
            reshape.erase()
            if not sliced.has_uses:
                sliced.erase()
    return True


def _head_slice(value: Value) -> tuple[Operation, Value, int] | None:
    """``(reshape, x, first head)`` when ``value`` is ``reshape(slice(x))`` that splits the
    last axis, sliced at a whole head, into heads of that size."""
    reshape = producer(value, "sparsec.reshape")
    sliced = producer(Reshape(reshape).input, "sparsec.slice") if reshape else None
    if sliced is None or sliced.operands[1:] or int(Slice(sliced).step) != 1:
        return None
    source, part = Slice(sliced).input.type, sliced.result.type
    if int(Slice(sliced).axis) != part.rank - 1 or value.type.rank != part.rank + 1 \
            or tuple(value.type.shape[:-2]) != tuple(part.shape[:-1]):
        return None
    size, start = value.type.shape[-1], int(Slice(sliced).start)
    if size is None or source.shape[-1] is None or start % size or source.shape[-1] % size:
        return None
    return reshape, Slice(sliced).input, start // size


def _all_heads(reshape: Operation, source: Value) -> Value:
    """``source`` reshaped as ``reshape`` reshapes its slice: into all of its heads."""
    shape = list(ints(reshape, "shape"))
    shape[-2] = source.type.shape[-1] // shape[-1]
    return Reshape.build([source, *Reshape(reshape).sizes], {"shape": i64_array(shape)}).result


def _rebuilt(op: Operation, operands: list[Value], props: dict[str, Attribute],
             result_type: Type) -> Operation:
    """A new ``op`` on ``operands`` with ``props`` set, keeping its annotations."""
    new = lookup(op.name).build(operands, {**op.properties, **props}, [result_type],
                                location=op.location)
    new.attributes.update(op.attributes)
    return new


def _swapped_source(value: Value) -> Value | None:
    """``x`` when ``value`` is ``permute(x, [0, 2, 1, 3])``."""
    permute = producer(value, "sparsec.permute")
    if permute is None or ints(permute, "perm") != SWAP_SEQ_HEADS:
        return None
    return Permute(permute).input


@register_pass
@dataclass(frozen=True)
class Fusion(Pass):
    """Fuse gelu and residual adds into linear epilogues and permutes into attention layouts.

    Before:

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
        %1 = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
        %2 = "sparsec.linear"(%arg0, %0, %1)
            : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
        %3 = "sparsec.gelu"(%2) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
        %4 = "sparsec.add"(%3, %arg0) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
        "func.return"(%4) : (tensor<2x4xf32>) -> ()

    After (one linear kernel: bias, exact GELU, + the last operand):

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<0.5> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
        %1 = "sparsec.constant"() <{value = dense<0.25> : tensor<4xf32>}> : () -> tensor<4xf32>
        %2 = "sparsec.linear"(%arg0, %0, %1, %arg0) <{epilogue = ["gelu", "residual"]}>
            : (tensor<2x4xf32>, tensor<4x4xf32>, tensor<4xf32>, tensor<2x4xf32>)
            -> tensor<2x4xf32>
        "func.return"(%2) : (tensor<2x4xf32>) -> ()

    Attention, before:

        ^bb0(%arg0: tensor<1x8x2x4xf32>):
        %0 = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 1, 3>}>
            : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
        %1 = "sparsec.attention"(%0, %0, %0) <{scale = 0.5 : f64}>
            : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>)
            -> tensor<1x2x8x4xf32>
        %2 = "sparsec.permute"(%1) <{perm = array<i64: 0, 2, 1, 3>}>
            : (tensor<1x2x8x4xf32>) -> tensor<1x8x2x4xf32>
        "func.return"(%2) : (tensor<1x8x2x4xf32>) -> ()

    After (the kernel reads and writes [batch, seq, heads, dim]; the permutes are gone):

        ^bb0(%arg0: tensor<1x8x2x4xf32>):
        %0 = "sparsec.attention"(%arg0, %arg0, %arg0)
            <{layout = ["bshd", "bshd", "bshd", "bshd"], scale = 0.5 : f64}>
            : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>)
            -> tensor<1x8x2x4xf32>
        "func.return"(%0) : (tensor<1x8x2x4xf32>) -> ()
    """

    name = "fusion"

    def apply(self, module: Operation) -> None:
        for op in list(module.walk()):
            if op.parent is None:  # erased by an earlier fusion
                continue
            if op.name in LINEARS:
                fuse_epilogue(op)
            elif op.name == "sparsec.attention":
                absorbed = absorb_permutes(op)
                absorb_head_slices(absorbed or op)
