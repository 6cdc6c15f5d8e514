"""The `fusion` pass: fused ops compute exactly what the ops they replace computed (reference
interpreter, random inputs), negative cases stay apart, and the new properties verify."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.ir.attributes import (
    ArrayAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    i64_array,
)
from sparsec.ir.bsr import dense_to_bsr
from sparsec.ir.core import Block, Operation
from sparsec.ir.dialects.sparsec import (
    Add,
    Attention,
    BsrLinear,
    Gelu,
    Linear,
    Mul,
    Permute,
    Reshape,
    Sub,
)
from sparsec.ir.interpreter import interpret, random_inputs
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.ir.types import i1, i32, i64, tensor
from sparsec.ir.verifier import VerificationError, verify
from sparsec.passes.fusion import Fusion
from sparsec.passes.sparsify import Sparsify

RNG = np.random.default_rng(0)
X, OUT = tensor((2, 3, 8)), tensor((2, 3, 6))
SWAP = {"perm": i64_array([0, 2, 1, 3])}


def exact(approximate: str = "none") -> dict:
    return {"approximate": StringAttr(approximate)}


def names(ops) -> list[str]:
    return [op.name for op in ops if op.name != "sparsec.constant"]


def fuse_and_compare(module, body_ops, seed: int = 0) -> list:
    """Run fusion on ``module``; assert the outputs are bit-identical; return the fused ops."""
    inputs = random_inputs(module, seed=seed)
    before = interpret(module, inputs)
    Fusion().apply(module)
    verify(module)
    again = parse_module(print_op(module))  # the fused ops print and parse back
    for fused in (module, again):
        for got, want in zip(interpret(fused, inputs), before, strict=True):
            np.testing.assert_array_equal(got, want)
    return body_ops(module)


def linear(emit, x, bias: bool = True, n: int = 6, dtype=np.float32):
    operands = [x, emit.const(RNG.standard_normal((n, x.type.shape[-1])), dtype)]
    if bias:
        operands.append(emit.const(RNG.standard_normal(n), dtype))
    return emit(Linear, operands)


def epilogue(op) -> list[str]:
    return [a.value for a in op.properties.get("epilogue", ())]


@pytest.mark.parametrize("gelu, residual, stages", [
    (True, True, ["gelu", "residual"]), (True, False, ["gelu"]), (False, True, ["residual"]),
])
def test_linear_epilogues_are_exact(gelu, residual, stages, make_module, body_ops):
    def build(emit, x, r):
        y = linear(emit, x)
        if gelu:
            y = emit(Gelu, [y], exact())
        return emit(Add, [r, y]) if residual else y

    ops = fuse_and_compare(make_module([X, OUT], build), body_ops)
    assert names(ops) == ["sparsec.linear", "func.return"]
    assert epilogue(ops[-2]) == stages
    assert (ops[-2].operands[-1] is ops[-2].parent.args[1]) is residual


def test_bsr_linear_epilogue_is_exact(make_module, body_ops):
    weight = RNG.standard_normal((6, 8)).astype(np.float32)
    weight[RNG.random((6, 8)) < 0.6] = 0.0
    bsr = dense_to_bsr(weight, (2, 1))

    def build(emit, x, r):
        arrays = [emit.const(bsr.data), emit.const(bsr.indices, np.int32),
                  emit.const(bsr.indptr, np.int32), emit.const(RNG.standard_normal(6))]
        y = emit(BsrLinear, [x, *arrays], {"block_shape": i64_array([2, 1]),
                                           "dense_shape": i64_array([6, 8])})
        return emit(Add, [emit(Gelu, [y], exact()), r])

    ops = fuse_and_compare(make_module([X, OUT], build), body_ops)
    assert names(ops) == ["sparsec.bsr_linear", "func.return"]
    assert epilogue(ops[-2]) == ["gelu", "residual"] and len(ops[-2].operands) == 6


def _unfused(make_module, body_ops, build, types=(X, OUT)) -> list[str]:
    ops = fuse_and_compare(make_module(list(types), build), body_ops)
    assert not any("epilogue" in op.properties for op in ops)
    return names(ops)


def test_a_gelu_whose_input_has_two_users_stays(make_module, body_ops):
    def build(emit, x, r):
        y = linear(emit, x)
        return emit(Add, [emit(Gelu, [y], exact()), r]), y

    assert _unfused(make_module, body_ops, build) == [
        "sparsec.linear", "sparsec.gelu", "sparsec.add", "func.return"]


def test_a_tanh_gelu_stays(make_module, body_ops):
    build = lambda emit, x, r: emit(Add, [emit(Gelu, [linear(emit, x)], exact("tanh")), r])  # noqa: E731
    assert "sparsec.gelu" in _unfused(make_module, body_ops, build)


@pytest.mark.parametrize("opdef", [Sub, Mul])
def test_a_residual_that_is_not_an_add_stays(opdef, make_module, body_ops):
    build = lambda emit, x, r: emit(opdef, [linear(emit, x), r])  # noqa: E731
    assert opdef.name in _unfused(make_module, body_ops, build)


def test_an_add_that_broadcasts_stays(make_module, body_ops):
    build = lambda emit, x, r: emit(Add, [linear(emit, x), r])  # noqa: E731
    assert "sparsec.add" in _unfused(make_module, body_ops, build, (X, tensor((6,))))


def test_float64_and_computed_weights_stay(make_module, body_ops):
    def build(emit, x, w):
        y64 = linear(emit, emit.const(RNG.standard_normal((3, 8)), np.float64), dtype=np.float64)
        return emit(Gelu, [y64], exact()), emit(Gelu, [emit(Linear, [x, w])], exact())

    kept = _unfused(make_module, body_ops, build, (X, tensor((6, 8))))
    assert kept.count("sparsec.gelu") == 2


def test_without_a_bias_only_the_gelu_fuses(make_module, body_ops):
    build = lambda emit, x, r: emit(Add, [emit(Gelu, [linear(emit, x, bias=False)], exact()), r])  # noqa: E731
    ops = fuse_and_compare(make_module([X, OUT], build), body_ops)
    assert names(ops) == ["sparsec.linear", "sparsec.add", "func.return"]
    assert epilogue(ops[-3]) == ["gelu"]


def _split(emit, x, heads: int = 2):
    b, s, d = x.type.shape
    x = emit(Reshape, [x], {"shape": i64_array([b, s, heads, d // heads])})
    return emit(Permute, [x], SWAP)


def test_attention_absorbs_the_head_permutes(make_module, body_ops):
    """BERT's pattern, with a boolean mask: every permute goes, the numbers stay."""
    def build(emit, q, k, v, keep):
        y = emit(Attention, [_split(emit, q), _split(emit, k), _split(emit, v), keep],
                 {"scale": FloatAttr(0.3)})
        return emit(Reshape, [emit(Permute, [y], SWAP)], {"shape": i64_array([2, 5, 8])})

    types = [tensor((2, 5, 8))] * 3 + [tensor((2, 1, 1, 5), i1)]
    ops = fuse_and_compare(make_module(types, build), body_ops)
    assert "sparsec.permute" not in names(ops)
    (att,) = [op for op in ops if op.name == "sparsec.attention"]
    assert [a.value for a in att.properties["layout"]] == ["bshd"] * 4


def test_attention_keeps_permutes_it_cannot_absorb(make_module, body_ops):
    """A result with a second user, a key that broadcasts and another perm stay; the query
    still folds."""
    def build(emit, q, k, v):
        key = emit(Permute, [k], {"perm": i64_array([0, 2, 1, 3])})
        value = emit(Permute, [v], {"perm": i64_array([0, 2, 3, 1])})
        y = emit(Attention, [emit(Permute, [q], SWAP), key, value], {"scale": FloatAttr(0.5)})
        return emit(Permute, [y], SWAP), y

    types = [tensor((2, 5, 3, 4)), tensor((1, 5, 1, 4)), tensor((2, 4, 3, 5))]
    ops = fuse_and_compare(make_module(types, build), body_ops)
    assert names(ops).count("sparsec.permute") == 3
    (att,) = [op for op in ops if op.name == "sparsec.attention"]
    assert [a.value for a in att.properties["layout"]] == ["bshd", "bhsd", "bhsd", "bhsd"]


def rejected(name: str, operand_types, properties, result_type, message: str) -> None:
    """Op ``name`` on arguments of ``operand_types`` fails verification with ``message``."""
    op = Operation(name, Block(operand_types).args, [result_type], properties)
    with pytest.raises(VerificationError, match=message):
        verify(op)


def stages(*names: str) -> dict:
    return {"epilogue": ArrayAttr(tuple(StringAttr(s) for s in names))}


W, B = tensor((6, 8)), tensor((6,))


@pytest.mark.parametrize("operand_types, props, message", [
    ([X, W, OUT], stages("residual"), "needs the bias and the residual"),
    ([X, W, B, OUT], {}, "a residual operand needs 'residual'"),
    ([X, W, B], stages("residual", "gelu"), "in that order"),
    ([X, W, B], stages("gelu", "gelu"), "distinct stages"),
    ([X, W, B], stages("relu"), "must list distinct stages"),
    ([X, W, B, X], stages("residual"), "residual tensor<2x3x8xf32> does not match"),
    ([tensor((2, 8), i32), tensor((6, 8), i32)], stages("gelu"), "float element type"),
])
def test_bad_epilogues_are_verify_errors(operand_types, props, message):
    result = OUT if operand_types[0] == X else tensor((2, 6), i32)
    rejected("sparsec.linear", operand_types, props, result, message)


def test_a_bsr_linear_residual_needs_its_bias():
    data, idx, ptr = tensor((3, 2, 1)), tensor((3,), i32), tensor((4,), i32)
    props = {"block_shape": i64_array([2, 1]), "dense_shape": i64_array([6, 8]),
             **stages("residual")}
    rejected("sparsec.bsr_linear", [X, data, idx, ptr, OUT], props, OUT, "needs the bias")


@pytest.mark.parametrize("layout, types, result, message", [
    (["bshd"] * 3, [tensor((1, 4, 2, 3))] * 3, tensor((1, 2, 4, 3)), "must be four of"),
    (["bshd", "bhsd", "bhsd", "bshd"], [tensor((2, 4, 3))] * 3, tensor((2, 4, 3)),
     "must have rank 4"),
    (["bshd", "bhsd", "bhsd", "bhsd"], [tensor((1, 4, 1, 3)), tensor((1, 2, 4, 3)),
                                        tensor((1, 2, 4, 3))], tensor((1, 2, 4, 3)),
     "cannot broadcast"),
    (["bsdh", "bhsd", "bhsd", "bhsd"], [tensor((1, 2, 4, 3))] * 3, tensor((1, 2, 4, 3)),
     "must be four of"),
    (["bshd"] * 4, [tensor((1, 4, 2, 3))] * 3, tensor((1, 2, 4, 3)), "differ from the inferred"),
])
def test_bad_attention_layouts_are_verify_errors(layout, types, result, message):
    props = {"scale": FloatAttr(1.0), "layout": ArrayAttr(tuple(StringAttr(s) for s in layout))}
    rejected("sparsec.attention", types, props, result, message)


@pytest.mark.parametrize("bias", [True, False])
def test_sparsify_after_fusion_keeps_the_epilogue(bias, make_module, body_ops):
    """`fusion,sparsify` (not the default order) keeps the residual operand and the epilogue."""
    decision = DictAttr({"block_shape": StringAttr("2x1")})

    def build(emit, x, r):
        y = linear(emit, x, bias=bias)
        y.definer.attributes["sparsec.decision"] = decision
        return emit(Add, [emit(Gelu, [y], exact()), r])

    module = make_module([X, OUT], build)
    inputs = random_inputs(module, seed=3)
    before = interpret(module, inputs)
    Fusion().apply(module)
    Sparsify().apply(module)
    verify(module)
    (bsr,) = [op for op in body_ops(module) if op.name == "sparsec.bsr_linear"]
    assert epilogue(bsr) == (["gelu", "residual"] if bias else ["gelu"])
    for got, want in zip(interpret(module, inputs), before, strict=True):  # BSR sums reorder
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("props, types, result, message", [
    ({"heads": 2}, [tensor((1, 4, 6, 3))] * 3, tensor((1, 4, 2, 3)), "go together"),
    ({"heads": 2, "head_offsets": [0, 2]}, [tensor((1, 4, 6, 3))] * 3, tensor((1, 4, 2, 3)),
     "go together"),
    ({"heads": 0, "head_offsets": [0, 2, 4]}, [tensor((1, 4, 6, 3))] * 3, tensor((1, 4, 0, 3)),
     "must be >= 1"),
    ({"heads": 2, "head_offsets": [0, 2, 5]}, [tensor((1, 4, 6, 3))] * 3, tensor((1, 4, 2, 3)),
     r"value has 6 heads, not heads 5\.\.7"),
    ({"heads": 2, "head_offsets": [0, 2, 4]}, [tensor((4, 6, 3))] * 3, tensor((4, 2, 3)),
     "must have rank 4"),
])
def test_bad_head_slices_are_verify_errors(props, types, result, message):
    layout = ["bshd"] * 4 if types[0].rank == 4 else ["bhsd"] * 4
    attrs = {"scale": FloatAttr(1.0), "layout": ArrayAttr(tuple(StringAttr(s) for s in layout)),
             "heads": IntegerAttr(props["heads"], i64)}
    if "head_offsets" in props:
        attrs["head_offsets"] = i64_array(props["head_offsets"])
    rejected("sparsec.attention", types, attrs, result, message)
