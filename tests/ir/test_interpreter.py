"""The reference interpreter: every op against an explicit numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsec.ir import Operation, lookup, registered_ops, verify
from sparsec.ir.attributes import (
    BoolAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    Resource,
    StringAttr,
    TypeAttr,
    i64_array,
)
from sparsec.ir.bsr import dense_to_bsr
from sparsec.ir.dialects.builtin import module
from sparsec.ir.dialects.func import Return, func
from sparsec.ir.interpreter import (
    InterpretError,
    assert_equivalent,
    evaluate_op,
    implemented_ops,
    interpret,
    random_inputs,
)
from sparsec.ir.types import FunctionType, TensorType, f32, from_numpy_dtype, i1, i32, i64, tensor

RNG = np.random.default_rng(1234)


def randn(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def type_of(array: np.ndarray) -> TensorType:
    return tensor(array.shape, from_numpy_dtype(array.dtype))


def single_op_module(name, inputs, properties=None, result_types=None) -> Operation:
    """A verified module whose `forward` applies one op to its arguments and returns it."""
    f = func("forward", [type_of(a) for a in inputs], [])
    body = f.regions[0].block
    op = body.append(lookup(name).build(body.args, properties or {}, result_types))
    body.append(Return.build(op.results))
    signature = FunctionType(tuple(a.type for a in body.args), tuple(r.type for r in op.results))
    f.properties["function_type"] = TypeAttr(signature)
    m = module([f])
    verify(m)
    return m


def run(name, *inputs, result_types=None, **properties) -> np.ndarray:
    (out,) = interpret(single_op_module(name, inputs, properties, result_types), inputs)
    return out


def close(actual, expected, tol=1e-5):
    assert actual.dtype == np.asarray(expected).dtype or np.asarray(expected).dtype == np.float64
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def test_every_op_has_an_implementation():
    names = {d.name for d in registered_ops() if d.name.startswith("sparsec.")} | {"func.return"}
    assert names <= set(implemented_ops()), sorted(names - set(implemented_ops()))


# -- constants -------------------------------------------------------------------------


def constant_op(attr) -> Operation:
    return lookup("sparsec.constant").build([], {"value": attr})


def test_constant_inline_and_resource():
    data = randn(2, 3)
    (inline,) = evaluate_op(constant_op(DenseElementsAttr.from_array(data)), [])
    (blob,) = evaluate_op(constant_op(DenseResourceAttr.from_array("w", data)), [])
    np.testing.assert_array_equal(inline, data)
    np.testing.assert_array_equal(blob, data)
    assert inline.dtype == blob.dtype == np.float32


def test_elided_resource_cannot_run():
    elided = DenseResourceAttr(Resource("encoder.weight", None), tensor((2, 2), f32))
    with pytest.raises(InterpretError, match=r"resource 'encoder\.weight' was elided"):
        evaluate_op(constant_op(elided), [])


# -- elementwise ---------------------------------------------------------------------------


def reference(fn):
    """Apply a scalar math function element by element in float64."""
    return lambda *arrays: np.vectorize(fn, otypes=[np.float64])(*arrays)


BINARY = {
    "sparsec.add": lambda a, b: a + b,
    "sparsec.sub": lambda a, b: a - b,
    "sparsec.mul": lambda a, b: a * b,
    "sparsec.div": lambda a, b: a / b,
    "sparsec.maximum": max,
    "sparsec.minimum": min,
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcasts_and_keeps_float32(name):
    a, b = randn(2, 3), randn(3) + 3.0
    out = run(name, a, b)
    assert out.dtype == np.float32 and out.shape == (2, 3)
    close(out, reference(BINARY[name])(a, np.broadcast_to(b, (2, 3))))


def test_pow():
    a, b = np.abs(randn(4)) + 0.5, randn(4)
    close(run("sparsec.pow", a, b), reference(math.pow)(a, b))


def test_integer_add_stays_integer():
    a, b = np.array([1, 2, 3]), np.array([10])
    out = run("sparsec.add", a, b)
    assert out.dtype == np.int64
    assert out.tolist() == [11, 12, 13]


def test_logical_ops():
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    assert run("sparsec.and", a, b).tolist() == [True, False, False, False]
    assert run("sparsec.or", a, b).tolist() == [True, True, True, False]
    assert run("sparsec.not", a).tolist() == [False, False, True, True]


UNARY = {
    "sparsec.neg": lambda x: -x,
    "sparsec.exp": math.exp,
    "sparsec.log": math.log,
    "sparsec.sqrt": math.sqrt,
    "sparsec.rsqrt": lambda x: 1 / math.sqrt(x),
    "sparsec.tanh": math.tanh,
    "sparsec.erf": math.erf,
    "sparsec.relu": lambda x: max(x, 0.0),
    "sparsec.sigmoid": lambda x: 1 / (1 + math.exp(-x)),
    "sparsec.abs": abs,
}
POSITIVE_ONLY = {"sparsec.log", "sparsec.sqrt", "sparsec.rsqrt"}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name):
    x = randn(3, 4)
    x = np.abs(x) + 0.1 if name in POSITIVE_ONLY else x
    out = run(name, x)
    assert out.dtype == np.float32
    close(out, reference(UNARY[name])(x))


def test_sigmoid_saturates_without_overflow():
    out = run("sparsec.sigmoid", np.array([-1000.0, 1000.0], np.float32))
    assert out.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    "approximate, fn",
    [
        ("none", lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2)))),
        ("tanh", lambda x: 0.5 * x * (1 + math.tanh(0.7978845608 * (x + 0.044715 * x**3)))),
    ],
)
def test_gelu(approximate, fn):
    x = np.linspace(-5, 5, 101, dtype=np.float32).reshape(1, 101)
    out = run("sparsec.gelu", x, approximate=StringAttr(approximate))
    assert out.dtype == np.float32
    close(out, reference(fn)(x), tol=1e-6)


def test_gelu_variants_differ():
    x = np.array([1.5], np.float32)
    exact = run("sparsec.gelu", x, approximate=StringAttr("none"))
    tanh = run("sparsec.gelu", x, approximate=StringAttr("tanh"))
    assert exact[0] != tanh[0]


@pytest.mark.parametrize(
    "predicate, fn",
    [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
     ("gt", np.greater), ("ge", np.greater_equal)],
)
def test_cmp(predicate, fn):
    a, b = np.array([[1, 2, 3], [3, 2, 1]]), np.array([2, 2, 2])
    out = run("sparsec.cmp", a, b, predicate=StringAttr(predicate))
    assert out.dtype == np.bool_
    expected = [[fn(x, y) for x, y in zip(row, b, strict=True)] for row in a.tolist()]
    assert out.tolist() == expected


def test_where():
    cond = np.array([[True, False, True]])
    a, b = randn(2, 3), randn(1)
    expected = [[a[i, j] if cond[0, j] else b[0] for j in range(3)] for i in range(2)]
    np.testing.assert_array_equal(run("sparsec.where", cond, a, b), expected)


def test_cast_truncates_toward_zero_and_makes_booleans():
    x = np.array([-1.7, -0.2, 0.0, 2.9], np.float32)
    as_int = run("sparsec.cast", x, result_types=[tensor((4,), i64)])
    assert as_int.dtype == np.int64 and as_int.tolist() == [-1, 0, 0, 2]
    as_bool = run("sparsec.cast", x, result_types=[tensor((4,), i1)])
    assert as_bool.tolist() == [True, True, False, True]


def test_dropout_is_identity_in_eval_and_refused_in_train():
    x = randn(3, 4)
    out = run("sparsec.dropout", x, p=FloatAttr(0.5), train=BoolAttr(False))
    np.testing.assert_array_equal(out, x)
    with pytest.raises(InterpretError, match="train=true"):
        run("sparsec.dropout", x, p=FloatAttr(0.5), train=BoolAttr(True))


# -- linear algebra ------------------------------------------------------------------------


def test_linear_uses_out_in_weight_layout():
    x, w, b = randn(2, 5, 8), randn(4, 8), randn(4)
    expected = np.einsum("bsk,nk->bsn", x.astype(np.float64), w.astype(np.float64)) + b
    close(run("sparsec.linear", x, w, b), expected)
    close(run("sparsec.linear", x, w), expected - b)


def bsr_run(x, bsr, bias=None) -> np.ndarray:
    props = {"block_shape": i64_array(bsr.block), "dense_shape": i64_array(bsr.dense_shape)}
    arrays = [x, bsr.data, bsr.indices, bsr.indptr] + ([] if bias is None else [bias])
    return run("sparsec.bsr_linear", *arrays, **props)


def block_sparse_weight(n, k, block, density=0.4) -> np.ndarray:
    """A dense [n, k] weight where whole (padded) blocks are zero."""
    rows, cols = block
    keep = RNG.random((-(-n // rows), -(-k // cols))) < density
    mask = np.kron(keep, np.ones(block))[:n, :k]
    return (randn(n, k) * mask).astype(np.float32)


@pytest.mark.parametrize("block", [(1, 1), (2, 3), (4, 1), (32, 1), (3, 3), (8, 8)])
def test_bsr_linear_matches_dense_for_non_dividing_blocks(block):
    n, k = 10, 7  # neither is a multiple of most block sizes above
    w, b, x = block_sparse_weight(n, k, block), randn(n), randn(2, 3, k)
    out = bsr_run(x, dense_to_bsr(w, block), b)
    assert out.dtype == np.float32 and out.shape == (2, 3, n)
    close(out, x.astype(np.float64) @ w.T.astype(np.float64) + b)


def test_bsr_linear_hand_built_with_padding_ignored():
    # W is 3x5 with 2x2 blocks: 2 block rows, 3 block columns; the last block row and
    # column are half padding. Padding entries hold garbage that must be ignored.
    w = np.zeros((3, 5), np.float32)
    w[0:2, 2:4] = [[1, 2], [3, 4]]
    w[2, 4] = 5
    data = np.array([[[1, 2], [3, 4]], [[5, 99], [99, 99]]], np.float32)
    indices, indptr = np.array([1, 2], np.int32), np.array([0, 1, 2], np.int32)
    x = randn(4, 5)
    props = {"block_shape": i64_array([2, 2]), "dense_shape": i64_array([3, 5])}
    out = run("sparsec.bsr_linear", x, data, indices, indptr, **props)
    close(out, x.astype(np.float64) @ w.T)


def test_bsr_linear_all_zero_weight_gives_the_bias():
    bsr = dense_to_bsr(np.zeros((6, 4), np.float32), (2, 2))
    assert bsr.nnzb == 0
    x, b = randn(3, 4), randn(6)
    np.testing.assert_array_equal(bsr_run(x, bsr, b), np.broadcast_to(b, (3, 6)))
    np.testing.assert_array_equal(bsr_run(x, bsr), np.zeros((3, 6), np.float32))


def test_bsr_linear_rejects_bad_index_data():
    bsr = dense_to_bsr(block_sparse_weight(4, 4, (2, 2), density=1.0), (2, 2))
    x = randn(1, 4)
    with pytest.raises(InterpretError, match="block column index 5 is out of range"):
        bsr_run(x, bsr._replace(indices=np.array([0, 1, 5, 0], np.int32)))
    with pytest.raises(InterpretError, match="indptr must rise from 0"):
        bsr_run(x, bsr._replace(indptr=np.array([0, 3, 2], np.int32)))


def test_matmul_broadcasts_batch_dimensions():
    a, b = randn(2, 1, 3, 4), randn(5, 4, 6)
    out = run("sparsec.matmul", a, b)
    assert out.shape == (2, 5, 3, 6)
    for i in range(2):
        for j in range(5):
            close(out[i, j], a[i, 0].astype(np.float64) @ b[j])


def attention_reference(q, k, v, scale, mask=None):
    """Row by row in float64; a fully masked row gives zeros, like torch SDPA."""
    q, k, v = (t.astype(np.float64) for t in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None and mask.dtype == np.bool_:
        scores = np.where(mask, scores, -np.inf)
    elif mask is not None:
        scores = scores + mask
    out = np.zeros(scores.shape[:-1] + v.shape[-1:])
    for index in np.ndindex(scores.shape[:-1]):
        row = scores[index]
        if np.all(np.isneginf(row)):
            continue
        p = np.exp(row - row.max())
        out[index] = (p / p.sum()) @ v[index[:-1]]
    return out


def test_attention_without_mask():
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 5, 8), randn(2, 3, 5, 6)
    out = run("sparsec.attention", q, k, v, scale=FloatAttr(1 / math.sqrt(8)))
    assert out.dtype == np.float32
    close(out, attention_reference(q, k, v, 1 / math.sqrt(8)))


def test_attention_with_boolean_mask_keeps_true_and_zeroes_fully_masked_rows():
    q, k, v = randn(1, 2, 3, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 4)
    mask = RNG.random((1, 1, 3, 5)) < 0.6
    mask[0, 0, 1] = False  # query 1 sees nothing
    out = run("sparsec.attention", q, k, v, mask, scale=FloatAttr(0.5))
    close(out, attention_reference(q, k, v, 0.5, mask))
    assert np.all(out[:, :, 1] == 0)


def test_attention_with_additive_mask():
    q, k, v = randn(2, 4, 8), randn(2, 6, 8), randn(2, 6, 8)
    mask = np.where(RNG.random((2, 1, 6)) < 0.3, np.float32(-1e9), np.float32(0))
    out = run("sparsec.attention", q, k, v, mask, scale=FloatAttr(0.25))
    close(out, attention_reference(q, k, v, 0.25, mask))


# -- normalisation ---------------------------------------------------------------------------


def test_softmax():
    x = randn(3, 4, 5) * 10
    out = run("sparsec.softmax", x, axis=IntegerAttr(1))
    e = np.exp(x.astype(np.float64))
    close(out, e / e.sum(axis=1, keepdims=True))


def test_layer_norm_over_trailing_shape():
    x, w, b = randn(2, 3, 4) * 5 + 2, randn(3, 4), randn(3, 4)
    props = {"normalized_shape": i64_array([3, 4]), "epsilon": FloatAttr(1e-5)}
    out = run("sparsec.layer_norm", x, w, b, **props)
    expected = np.empty((2, 3, 4))
    for i in range(2):
        sample = x[i].astype(np.float64)
        expected[i] = (sample - sample.mean()) / math.sqrt(sample.var() + 1e-5) * w + b
    assert out.dtype == np.float32
    close(out, expected, tol=1e-4)
    plain = run("sparsec.layer_norm", x, **props)
    close(plain, (expected - b) / w, tol=1e-3)


# -- indexing and shapes ---------------------------------------------------------------------


def test_embedding_picks_rows():
    table, ids = randn(10, 4), np.array([[0, 9, 3]])
    out = run("sparsec.embedding", table, ids)
    np.testing.assert_array_equal(out, [[table[0], table[9], table[3]]])


@pytest.mark.parametrize("bad_id", [10, -1])
def test_embedding_out_of_range_id_is_an_error_not_a_wrap(bad_id):
    with pytest.raises(InterpretError, match=f"embedding id {bad_id} is out of range \\[0, 10\\)"):
        run("sparsec.embedding", randn(10, 4), np.array([1, bad_id]))


def test_take_along_axis():
    x, ids = randn(3, 5), np.array([4, 0, 4])
    np.testing.assert_array_equal(run("sparsec.take", x, ids, axis=IntegerAttr(1)), x[:, [4, 0, 4]])
    with pytest.raises(InterpretError, match=r"take index 5 is out of range \[0, 5\) along axis 1"):
        run("sparsec.take", x, np.array([5]), axis=IntegerAttr(1))


def test_reshape_permute_broadcast():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(
        run("sparsec.reshape", x, shape=i64_array([4, 6])), x.reshape(4, 6)
    )
    permuted = run("sparsec.permute", x, perm=i64_array([2, 0, 1]))
    assert permuted.shape == (4, 2, 3) and permuted[3, 1, 2] == x[1, 2, 3]
    row = np.array([[1, 2, 3]], np.int32)
    out = run("sparsec.broadcast_to", row, shape=i64_array([2, 2, 3]))
    assert out.tolist() == [[[1, 2, 3]] * 2] * 2


def test_slice_clamps_end():
    x = np.arange(20).reshape(2, 10)
    props = {"axis": IntegerAttr(1), "start": IntegerAttr(1), "end": IntegerAttr(50),
             "step": IntegerAttr(4)}
    assert run("sparsec.slice", x, **props).tolist() == [[1, 5, 9], [11, 15, 19]]


def test_concat():
    a, b, c = randn(2, 1), randn(2, 3), randn(2, 2)
    out = run("sparsec.concat", a, b, c, axis=IntegerAttr(1))
    np.testing.assert_array_equal(out[:, 0], a[:, 0])
    np.testing.assert_array_equal(out[:, 1:4], b)
    np.testing.assert_array_equal(out[:, 4:], c)


@pytest.mark.parametrize(
    "kind, fn", [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)]
)
@pytest.mark.parametrize("keepdim", [True, False])
def test_reduce(kind, fn, keepdim):
    x = randn(2, 3, 4)
    props = {"kind": StringAttr(kind), "axes": i64_array([0, 2]), "keepdim": BoolAttr(keepdim)}
    out = run("sparsec.reduce", x, **props)
    expected = fn(x.astype(np.float64), axis=(0, 2), keepdims=keepdim)
    assert out.dtype == np.float32 and out.shape == expected.shape
    close(out, expected)


def test_cumsum_keeps_integer_type():
    x = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    out = run("sparsec.cumsum", x, axis=IntegerAttr(1))
    assert out.dtype == np.int32 and out.tolist() == [[1, 3, 6], [4, 9, 15]]


# -- functions, inputs, errors --------------------------------------------------------------


def mlp_module(w1: np.ndarray, w2: np.ndarray) -> Operation:
    """forward(ids) = softmax(x + linear(gelu(linear(layer_norm(embed(ids)), w1)), w2))."""
    table = np.linspace(-1, 1, 40, dtype=np.float32).reshape(10, 4)
    ids_type = tensor((2, 3), i64)
    f = func("forward", [ids_type], [tensor((2, 3, 4), f32)])
    body = f.regions[0].block

    def add(name, operands, **props):
        return body.append(lookup(name).build(operands, props)).result

    def const(array, key):
        return add("sparsec.constant", [], value=DenseResourceAttr.from_array(key, array))

    x = add("sparsec.embedding", [const(table, "table"), body.args[0]])
    normed = add("sparsec.layer_norm", [x], normalized_shape=i64_array([4]),
                 epsilon=FloatAttr(1e-12))
    hidden = add("sparsec.gelu", [add("sparsec.linear", [normed, const(w1, "w1")])],
                 approximate=StringAttr("none"))
    y = add("sparsec.add", [x, add("sparsec.linear", [hidden, const(w2, "w2")])])
    body.append(Return.build([add("sparsec.softmax", [y], axis=IntegerAttr(2))]))
    m = module([f])
    verify(m)
    return m


def mlp_reference(ids, w1, w2):
    table = np.linspace(-1, 1, 40).reshape(10, 4)
    x = table[ids]
    normed = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
    h = normed @ w1.T.astype(np.float64)
    h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
    y = np.exp(x + h @ w2.T.astype(np.float64))
    return y / y.sum(-1, keepdims=True)


def test_multi_op_function():
    w1, w2 = randn(8, 4), randn(4, 8)
    ids = np.array([[0, 1, 9], [5, 5, 2]])
    (out,) = interpret(mlp_module(w1, w2), [ids])
    assert out.dtype == np.float32
    close(out, mlp_reference(ids, w1, w2), tol=1e-4)


def test_inputs_are_checked_against_the_signature():
    m = mlp_module(randn(8, 4), randn(4, 8))
    with pytest.raises(InterpretError, match=r"input #0 has dtype int32, expected tensor<2x3xi64>"):
        interpret(m, [np.zeros((2, 3), np.int32)])
    with pytest.raises(InterpretError, match=r"input #0 has shape \[3, 2\], expected"):
        interpret(m, [np.zeros((3, 2), np.int64)])
    with pytest.raises(InterpretError, match="takes 1 inputs, got 2"):
        interpret(m, [np.zeros((2, 3), np.int64)] * 2)
    with pytest.raises(InterpretError, match="no function named 'main'"):
        interpret(m, [np.zeros((2, 3), np.int64)], func_name="main")


def test_errors_name_the_op_position():
    m = mlp_module(randn(8, 4), randn(4, 8))
    with pytest.raises(InterpretError, match=r"^@forward, op #\d+: embedding id 10 is out"):
        interpret(m, [np.full((2, 3), 10, np.int64)])


def test_unknown_op_is_named():
    op = Operation("mydialect.frobnicate", [], [tensor((1,), f32)])
    with pytest.raises(InterpretError, match=r"no implementation of 'mydialect\.frobnicate'"):
        evaluate_op(op, [])


def test_evaluate_op_casts_to_the_result_type():
    # The constant folder evaluates ops on constant operands and gets the declared type back.
    a = constant_op(DenseElementsAttr.from_array(np.array([1.5, 2.5], np.float32)))
    b = constant_op(DenseElementsAttr.from_array(np.array([1.0, 1.0], np.float32)))
    add = lookup("sparsec.add").build([a.result, b.result])
    (out,) = evaluate_op(add, [evaluate_op(a, [])[0], evaluate_op(b, [])[0]])
    assert out.dtype == np.float32 and out.tolist() == [2.5, 3.5]
    with pytest.raises(InterpretError, match="has 2 operands, got 1"):
        evaluate_op(add, [out])


def test_random_inputs_follow_the_signature():
    f = func("forward", [tensor((3, 4), f32), tensor((50,), i64), tensor((2,), i1)], [])
    m = module([f])
    floats, ints, bools = random_inputs(m, seed=3, int_high=5)
    assert floats.dtype == np.float32 and floats.shape == (3, 4)
    assert ints.dtype == np.int64 and ints.min() >= 0 and ints.max() < 5
    assert bools.dtype == np.bool_
    again = random_inputs(m, seed=3, int_high=5)
    np.testing.assert_array_equal(floats, again[0])
    assert not np.array_equal(floats, random_inputs(m, seed=4)[0])


def test_assert_equivalent_accepts_a_clone_and_rejects_a_changed_weight():
    w1, w2 = randn(8, 4), randn(4, 8)
    before = mlp_module(w1, w2)
    assert_equivalent(before, before.clone())
    assert_equivalent(before, mlp_module(w1 + 1e-7, w2))  # within tolerance
    changed = w2.copy()
    changed[0, 0] += 1.0
    with pytest.raises(AssertionError, match=r"output #0 differs: max abs error \d"):
        assert_equivalent(before, mlp_module(w1, changed))


def test_assert_equivalent_rejects_a_different_signature_of_outputs():
    x = randn(2, 3)
    before = single_op_module("sparsec.relu", [x])
    after = single_op_module("sparsec.cast", [x], result_types=[tensor((2, 3), i32)])
    with pytest.raises(AssertionError, match="output #0: int32"):
        assert_equivalent(before, after)
