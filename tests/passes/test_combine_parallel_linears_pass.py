"""The `combine-parallel-linears` pass: the combined linear and its slices compute what the
linears did (reference interpreter, random inputs), in dense and BSR form; what may not combine
stays apart; with fusion, attention reads q, k and v from the combined result in place."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.ir.attributes import (
    ArrayAttr,
    DenseResourceAttr,
    DictAttr,
    FloatAttr,
    StringAttr,
    i64_array,
)
from sparsec.ir.bsr import dense_to_bsr
from sparsec.ir.dialects.sparsec import (
    Attention,
    BsrLinear,
    Constant,
    Gelu,
    Linear,
    Permute,
    Reshape,
)
from sparsec.ir.interpreter import interpret, random_inputs
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.ir.types import i1, tensor
from sparsec.ir.verifier import verify
from sparsec.passes import PassManager, parse_pipeline
from sparsec.passes.block_shape_selection import DECISION_ATTR
from sparsec.passes.combine_parallel_linears import PARTS_ATTR, joined_name
from sparsec.passes.sparsity_analysis import SPARSITY_ATTR

RNG = np.random.default_rng(0)
X = tensor((2, 5, 8))
SWAP = {"perm": i64_array([0, 2, 1, 3])}


def run_and_compare(module, pipeline: str, body_ops) -> list:
    """Run ``pipeline``; the outputs stay those of the original ops (also after printing and
    parsing the result); return the new ops."""
    inputs = random_inputs(module, seed=1)
    before = interpret(module, inputs)
    PassManager(parse_pipeline(pipeline)).run(module)
    verify(module)
    for after in (module, parse_module(print_op(module))):
        for got, want in zip(interpret(after, inputs), before, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    return body_ops(module)


def dense(emit, x, n: int, bias: bool = True):
    operands = [x, emit.const(RNG.standard_normal((n, x.type.shape[-1])))]
    if bias:
        operands.append(emit.const(RNG.standard_normal(n)))
    return emit(Linear, operands)


def bsr(emit, x, n: int, block=(2, 1), bias: bool = True):
    keep = RNG.random((-(-n // block[0]), x.type.shape[-1] // block[1])) < 0.4
    weight = np.kron(keep, np.ones(block))[:n] * RNG.standard_normal((n, x.type.shape[-1]))
    arrays = dense_to_bsr(weight.astype(np.float32), block)
    operands = [x, emit.const(arrays.data), emit.const(arrays.indices, np.int32),
                emit.const(arrays.indptr, np.int32)]
    if bias:
        operands.append(emit.const(RNG.standard_normal(n)))
    props = {"block_shape": i64_array(block), "dense_shape": i64_array((n, x.type.shape[-1]))}
    return emit(BsrLinear, operands, props)


def names(ops) -> list[str]:
    return [op.name for op in ops if op.name != "sparsec.constant"]


@pytest.mark.parametrize("make", [dense, bsr], ids=["dense", "bsr"])
@pytest.mark.parametrize("bias", [True, False])
def test_linears_of_one_input_become_one(make, bias, make_module, body_ops):
    def build(emit, x):
        return [make(emit, x, n, bias=bias) for n in (4, 6, 2)]

    ops = run_and_compare(make_module([X], build), "combine-parallel-linears", body_ops)
    assert names(ops) == [ops[-5].name] + ["sparsec.slice"] * 3 + ["func.return"]
    combined = ops[-5]
    assert list(combined.attributes[PARTS_ATTR]) == [4, 6, 2]
    assert combined.result.type == tensor((2, 5, 12))


def test_bsr_linears_of_other_block_shapes_stay_apart(make_module, body_ops):
    def build(emit, x):
        return [bsr(emit, x, 4, (2, 1)), bsr(emit, x, 4, (1, 2)), bsr(emit, x, 4, (2, 1))]

    ops = run_and_compare(make_module([X], build), "combine-parallel-linears", body_ops)
    assert names(ops).count("sparsec.bsr_linear") == 2  # the two 2x1 combined
    assert names(ops).count("sparsec.slice") == 2


def test_bsr_weights_with_a_padded_block_row_stay_apart(make_module, body_ops):
    """6 rows in 4x1 blocks: the second block row is half padding, so a weight stacked after it
    would start 2 rows late."""
    def build(emit, x):
        return [bsr(emit, x, 6, (4, 1)), bsr(emit, x, 8, (4, 1)), bsr(emit, x, 4, (4, 1))]

    ops = run_and_compare(make_module([X], build), "combine-parallel-linears", body_ops)
    (combined,) = [op for op in ops if PARTS_ATTR in op.attributes]
    assert list(combined.attributes[PARTS_ATTR]) == [8, 4]


def test_what_fusion_folds_or_what_is_not_constant_stays_apart(make_module, body_ops):
    """A linear whose only user is a gelu (fusion's epilogue) beside one with a bias, one whose
    weight is an argument beside one without a bias, a dense one beside a BSR one: nothing
    combines."""
    def build(emit, x, w):
        return [emit(Gelu, [dense(emit, x, 4)], {"approximate": StringAttr("none")}),
                dense(emit, x, 4), emit(Linear, [x, w]), dense(emit, x, 4, bias=False),
                bsr(emit, x, 4, bias=False)]

    ops = run_and_compare(make_module([X, tensor((3, 8))], build), "combine-parallel-linears",
                          body_ops)
    assert "sparsec.slice" not in names(ops)


def test_the_combined_linear_keeps_each_weights_annotations(make_module, body_ops):
    def build(emit, x):
        ys = [dense(emit, x, 4), dense(emit, x, 4)]
        for i, y in enumerate(ys):
            y.definer.attributes[SPARSITY_ATTR] = DictAttr({"weight": StringAttr(f"w{i}")})
            y.definer.attributes[DECISION_ATTR] = DictAttr({"block_shape": StringAttr("dense")})
        return ys

    ops = run_and_compare(make_module([X], build), "combine-parallel-linears", body_ops)
    (combined,) = [op for op in ops if op.name == "sparsec.linear"]
    sparsity = combined.attributes[SPARSITY_ATTR]
    assert isinstance(sparsity, ArrayAttr)
    assert [entry["weight"].value for entry in sparsity] == ["w0", "w1"]
    assert len(combined.attributes[DECISION_ATTR]) == 2


def test_resource_weights_are_named_after_the_originals(make_module, body_ops):
    def build(emit, x):
        return [emit(Linear, [x, emit(Constant, properties={"value": DenseResourceAttr.from_array(
            f"layer.0.self.{name}.weight", RNG.standard_normal((4, 8)).astype(np.float32))})])
            for name in ("query", "key")]

    ops = run_and_compare(make_module([X], build), "combine-parallel-linears", body_ops)
    keys = [op.properties["value"].key for op in ops if op.name == "sparsec.constant"]
    assert keys == ["layer.0.self.query_key.weight"]


@pytest.mark.parametrize(("names_", "joined"), [
    (["a.q.w", "a.k.w", "a.v.w"], "a.q_k_v.w"),
    (["enc.0.self.query.weight.bsr32x1.data", "enc.0.self.key.weight.bsr32x1.data"],
     "enc.0.self.query_key.weight.bsr32x1.data"),
    (["x", "y"], "x_y"),
    (["a.b", "a.b.c"], "a.b_b_c"),
])
def test_joined_names(names_, joined):
    assert joined_name(names_) == joined


def split_heads(emit, x, heads: int = 2):
    b, s, d = x.type.shape
    x = emit(Reshape, [x], {"shape": i64_array([b, s, heads, d // heads])})
    return emit(Permute, [x], SWAP)


@pytest.mark.parametrize("make", [dense, bsr], ids=["dense", "bsr"])
def test_attention_reads_the_combined_projections_in_place(make, make_module, body_ops):
    """BERT's self-attention: with fusion after, one reshape of the combined result feeds
    query, key and value (heads 0, 2, 4 of 6), and no slice or permute is left."""
    def build(emit, x, keep):
        q, k, v = (split_heads(emit, make(emit, x, 8)) for _ in range(3))
        y = emit(Attention, [q, k, v, keep], {"scale": FloatAttr(0.5)})
        return emit(Reshape, [emit(Permute, [y], SWAP)], {"shape": i64_array([2, 5, 8])})

    module = make_module([X, tensor((2, 1, 1, 5), i1)], build)
    ops = run_and_compare(module, "combine-parallel-linears,fusion,canonicalize,dce", body_ops)
    assert names(ops) == [ops[-5].name, "sparsec.reshape", "sparsec.attention",
                          "sparsec.reshape", "func.return"]
    (att,) = [op for op in ops if op.name == "sparsec.attention"]
    assert list(att.properties["head_offsets"]) == [0, 2, 4]
    assert att.properties["heads"].value == 2
    assert att.operands[0] is att.operands[1] is att.operands[2]
    assert att.operands[0].type == tensor((2, 5, 6, 4))
