"""Every lowered op, compiled for the host CPU, against the reference interpreter (small shapes)."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.ir.attributes import (
    ArrayAttr,
    BoolAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    i64_array,
)
from sparsec.ir.bsr import dense_to_bsr
from sparsec.ir.dialects import sparsec as S
from sparsec.ir.types import f32, i1, i32, i64, tensor
from sparsec.passes.fusion import Fusion


def _int(value: int) -> IntegerAttr:
    return IntegerAttr(value)


def fused(module):
    """``module`` after the fusion pass (the linears' epilogues, attention's layouts)."""
    Fusion().apply(module)
    return module


@pytest.mark.parametrize("opdef", [S.Add, S.Sub, S.Mul, S.Div, S.Pow, S.Maximum, S.Minimum])
def test_binary_broadcasting(opdef, make_module, check):
    def build(emit, x, y):
        base = emit(S.Abs, [x]) if opdef is S.Pow else x  # a negative base to a real power is nan
        return [emit(opdef, [base, y]), emit(opdef, [base, emit.const(0.5)])]

    module = make_module([tensor((2, 3, 20)), tensor((3, 1))], build)
    check(module)


def test_unary_ops(make_module, check):
    def build(emit, x):
        positive = emit(S.Add, [emit(S.Abs, [x]), emit.const(0.5)])
        outs = [emit(op, [x]) for op in (S.Neg, S.Exp, S.Tanh, S.Erf, S.Relu, S.Sigmoid, S.Abs)]
        return [*outs, *(emit(op, [positive]) for op in (S.Log, S.Sqrt, S.Rsqrt))]

    check(make_module([tensor((4, 37))], build))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate, make_module, check):
    module = make_module([tensor((3, 40))], lambda emit, x: emit(
        S.Gelu, [x], {"approximate": StringAttr(approximate)}))
    check(module)


def test_compare_where_and_logic(make_module, check):
    def build(emit, x, y, a, b):
        outs = [emit(S.Compare, [x, y], {"predicate": StringAttr(p)})
                for p in S.COMPARE_PREDICATES]
        return [*outs, emit(S.Where, [outs[2], x, y]), emit(S.LogicalAnd, [a, b]),
                emit(S.LogicalOr, [a, b]), emit(S.LogicalNot, [a])]

    module = make_module([tensor((2, 8), i64), tensor((8,), i64), tensor((5, 6), i1),
                          tensor((1, 6), i1)], build)
    check(module, int_high=3)


def test_casts(make_module, check):
    def build(emit, x, ids):
        return [emit(S.Cast, [x], result_types=[tensor((4, 9), i32)]),
                emit(S.Cast, [ids], result_types=[tensor((4, 9), i1)]),
                emit(S.Cast, [emit(S.Cast, [ids], result_types=[tensor((4, 9), i1)])],
                     result_types=[tensor((4, 9), f32)])]

    module = make_module([tensor((4, 9)), tensor((4, 9), i64)], build)
    check(module, int_high=3)


def _linear_weights(rng, n, k):
    return rng.standard_normal((n, k)).astype(np.float32), rng.standard_normal(n).astype(
        np.float32)


@pytest.mark.parametrize("bias, gelu, residual, fuse", [
    (True, False, False, True), (False, False, False, True), (True, True, False, True),
    (True, False, True, True), (True, True, True, True), (True, True, True, False),
])
def test_dense_linear_with_epilogues(bias, gelu, residual, fuse, make_module, check):
    """One kernel once fused; unfused (fusion not run) the gelu and add are separate ops."""
    rng = np.random.default_rng(1)
    weight, b = _linear_weights(rng, 20, 24)  # neither a multiple of the panel width

    def build(emit, x, r):
        operands = [x, emit.weight("fc.weight", weight)]
        if bias:
            operands.append(emit.weight("fc.bias", b))
        y = emit(S.Linear, operands)
        if gelu:
            y = emit(S.Gelu, [y], {"approximate": StringAttr("none")})
        return emit(S.Add, [y, r]) if residual else y

    module = make_module([tensor((2, 5, 24)), tensor((2, 5, 20))], build)
    built = check(fused(module) if fuse else module, atol=1e-4)
    assert built.kernels["dense_linear"] == 1
    assert len(built.kernels) == 1 if fuse else len(built.kernels) > 1
    assert built.param_names[0].startswith("fc.weight")


def test_linear_with_a_computed_weight(make_module, check):
    def build(emit, x, w):
        return emit(S.Linear, [x, emit(S.Neg, [w]), emit.const(np.arange(6, dtype=np.float32))])

    check(make_module([tensor((3, 4)), tensor((6, 4))], build))


def test_linear_with_a_computed_weight_and_an_epilogue(make_module, check):
    """No kernel packs a weight computed at run time: the epilogue becomes separate ops."""
    def build(emit, x, w, r):
        bias = emit.const(np.arange(6, dtype=np.float32))
        return emit(S.Linear, [x, emit(S.Neg, [w]), bias, r],
                    {"epilogue": ArrayAttr((StringAttr("gelu"), StringAttr("residual")))})

    check(make_module([tensor((3, 4)), tensor((6, 4)), tensor((3, 6))], build))


@pytest.mark.parametrize("block", [(32, 1), (1, 1), (4, 4)])
def test_bsr_linear(block, make_module, check):
    rng = np.random.default_rng(2)
    n, k = 40, 20  # a partial last block row for 32x1 and 4x4 columns... and padding for both
    weight = rng.standard_normal((n, k)).astype(np.float32)
    weight[rng.random((n, k)) < 0.7] = 0.0
    bsr = dense_to_bsr(weight, block)

    def build(emit, x, r):
        y = emit(S.BsrLinear, [x, emit.weight("w.data", bsr.data),
                               emit.weight("w.indices", bsr.indices, np.int32),
                               emit.weight("w.indptr", bsr.indptr, np.int32),
                               emit.weight("w.bias", rng.standard_normal(n))],
                 {"block_shape": i64_array(block), "dense_shape": i64_array((n, k))})
        return emit(S.Add, [r, y])

    module = fused(make_module([tensor((1, 7, k)), tensor((1, 7, n))], build))
    built = check(module, atol=1e-4)
    assert built.kernels == {"bsr_linear": 1}


def test_matmul_with_broadcast_batch(make_module, check):
    module = make_module([tensor((2, 3, 5, 7)), tensor((3, 7, 9))],
                         lambda emit, a, b: emit(S.Matmul, [a, b]))
    check(module)


@pytest.mark.parametrize("mask", ["none", "bool", "additive"])
def test_attention(mask, make_module, check):
    types = [tensor((2, 3, 6, 8)), tensor((2, 3, 10, 8)), tensor((2, 3, 10, 5))]
    if mask == "bool":
        types.append(tensor((2, 1, 6, 10), i1))
    elif mask == "additive":
        types.append(tensor((1, 1, 6, 10)))
    module = make_module(types, lambda emit, *args: emit(
        S.Attention, list(args), {"scale": FloatAttr(0.3)}))
    inputs = [np.random.default_rng(3).standard_normal(t.shape).astype(np.float32)
              for t in types[:3]]
    if mask == "bool":
        keep = np.random.default_rng(4).random((2, 1, 6, 10)) < 0.6
        keep[0, 0, 2] = False  # a fully masked row attends to nothing
        inputs.append(keep)
    elif mask == "additive":
        inputs.append(np.random.default_rng(4).standard_normal((1, 1, 6, 10)).astype(np.float32))
    check(module, inputs)


@pytest.mark.parametrize("axis", [1, 2])
def test_softmax(axis, make_module, check):
    module = make_module([tensor((2, 5, 33))], lambda emit, x: emit(
        S.Softmax, [x], {"axis": _int(axis)}))
    check(module)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(affine, make_module, check):
    rng = np.random.default_rng(5)

    def build(emit, x):
        operands = [x]
        if affine:
            operands += [emit.weight("ln.weight", rng.standard_normal(48)),
                         emit.weight("ln.bias", rng.standard_normal(48))]
        return emit(S.LayerNorm, operands, {"normalized_shape": i64_array([48]),
                                            "epsilon": FloatAttr(1e-5)})

    check(make_module([tensor((2, 7, 48))], build))


def test_embedding_and_take(make_module, check):
    table = np.random.default_rng(6).standard_normal((11, 6)).astype(np.float32)

    def build(emit, ids, x):
        return [emit(S.Embedding, [emit.weight("emb", table), ids]),
                emit(S.Take, [x, ids], {"axis": _int(1)})]

    module = make_module([tensor((2, 5), i64), tensor((3, 11, 4))], build)
    built = check(module, int_high=11)
    assert built.inputs[0].upper_bound == 11


def test_shape_ops(make_module, check):
    def build(emit, x, y):
        return [
            emit(S.Reshape, [x], {"shape": i64_array([6, 20])}),
            emit(S.Permute, [x], {"perm": i64_array([2, 0, 1])}),
            emit(S.Slice, [x], {"axis": _int(2), "start": _int(1), "end": _int(99),
                                "step": _int(3)}),
            emit(S.Concat, [x, y], {"axis": _int(1)}),
            emit(S.BroadcastTo, [emit(S.Reshape, [y], {"shape": i64_array([2, 1, 1, 20])})],
                 {"shape": i64_array([2, 4, 1, 20])}),
        ]

    check(make_module([tensor((2, 3, 20)), tensor((2, 1, 20))], build))


@pytest.mark.parametrize("kind", S.REDUCE_KINDS)
def test_reduce(kind, make_module, check):
    def build(emit, x):
        return [emit(S.Reduce, [x], {"kind": StringAttr(kind), "axes": i64_array(axes),
                                     "keepdim": BoolAttr(keep)})
                for axes, keep in (([2], False), ([0, 2], True))]

    check(make_module([tensor((3, 4, 50))], build))


def test_cumsum_and_dropout(make_module, check):
    def build(emit, ids, x):
        return [emit(S.Cumsum, [ids], {"axis": _int(1)}),
                emit(S.Cumsum, [x], {"axis": _int(0)}),
                emit(S.Dropout, [x], {"p": FloatAttr(0.1), "train": BoolAttr(False)})]

    check(make_module([tensor((2, 9), i64), tensor((5, 3))], build), int_high=4)


@pytest.mark.parametrize("seq, mask_rows, fuse", [(37, 1, True), (5, 5, True), (5, 5, False)])
def test_attention_with_folded_head_permutes(seq, mask_rows, fuse, make_module, check):
    """BERT's pattern: q/k/v are ``permute(reshape(x), [0, 2, 1, 3])`` and the output goes back
    through the same permute; once fused (layout bshd) the kernel reads and writes
    ``[B, S, H, D]`` itself, else the permutes are kernels of their own."""
    heads, size = 3, 24

    def split(emit, x):
        x = emit(S.Reshape, [x], {"shape": i64_array([2, seq, heads, size // heads])})
        return emit(S.Permute, [x], {"perm": i64_array([0, 2, 1, 3])})

    def build(emit, q, k, v, keep):
        y = emit(S.Attention, [split(emit, q), split(emit, k), split(emit, v), keep],
                 {"scale": FloatAttr(0.35)})
        y = emit(S.Permute, [y], {"perm": i64_array([0, 2, 1, 3])})
        return emit(S.Reshape, [y], {"shape": i64_array([2, seq, size])})

    types = [tensor((2, seq, size))] * 3 + [tensor((2, 1, mask_rows, seq), i1)]
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(t.shape).astype(np.float32) * 3 for t in types[:3]]
    keep = rng.random((2, 1, mask_rows, seq)) < 0.7
    keep[1, 0, -1] = False  # a fully masked row (all rows, when the mask has one row)
    module = make_module(types, build)
    built = check(fused(module) if fuse else module, [*inputs, keep], atol=1e-5)
    assert ("transpose" in "".join(built.kernels)) is not fuse


def test_fast_exp_is_accurate_to_float32():
    from tvm.script.ir_builder import IRBuilder
    from tvm.script.ir_builder import tirx as T

    from sparsec.codegen.attention import fast_exp
    from sparsec.codegen.kernel import CompiledKernel
    from sparsec.codegen.target import parse_target

    x = np.concatenate([-np.geomspace(1e-6, 87, 5000), [0.0, -88.0, -100.0, -np.inf]])
    with IRBuilder() as builder, T.prim_func():
        T.func_name("fast_exp")
        a = T.arg("a", T.Buffer((x.size,), "float32"))
        out = T.arg("out", T.Buffer((x.size,), "float32"))
        with T.serial(0, x.size // 4) as i, T.vectorized(0, 4) as lane:
            T.buffer_store(out, fast_exp(a[i * 4 + lane]), [i * 4 + lane])
    kernel = CompiledKernel(builder.get(), "fast_exp", parse_target("llvm"))
    tensors = kernel.tensors(x.astype(np.float32), np.zeros(x.size, np.float32))
    kernel.run(*tensors)
    got = tensors[1].numpy().astype(np.float64)
    want = np.exp(x.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(got[:-4], want[:-4], rtol=5e-7, atol=1e-37)
    assert got[-3:].tolist() == [0.0, 0.0, 0.0]  # exp(-88) and below underflow to 0


def test_layer_norm_kernel_with_a_partial_vector_and_a_large_mean(make_module, check):
    """37 features (not a multiple of the vector width) around a mean of 100: the two-pass
    variance keeps float32 precision where ``E[x²] - mean²`` would not."""
    rng = np.random.default_rng(8)

    def build(emit, x):
        shifted = emit(S.Add, [x, emit.const(100.0)])
        return emit(S.LayerNorm, [shifted, emit.weight("ln.weight", rng.standard_normal(37)),
                                  emit.weight("ln.bias", rng.standard_normal(37))],
                    {"normalized_shape": i64_array([37]), "epsilon": FloatAttr(1e-12)})

    built = check(make_module([tensor((3, 5, 37))], build), atol=1e-4)
    assert built.kernels.get("layer_norm") == 1
