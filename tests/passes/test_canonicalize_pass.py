"""The `canonicalize` pass: one test per pattern, the folding limit, and a semantic check."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.ir.attributes import (
    BoolAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    i64_array,
)
from sparsec.ir.dialects.sparsec import (
    Add,
    Cast,
    Constant,
    Div,
    Dropout,
    Exp,
    Linear,
    Mul,
    Neg,
    Permute,
    Reshape,
    Sub,
    Tanh,
)
from sparsec.ir.interpreter import assert_equivalent
from sparsec.ir.types import f32, i32, tensor
from sparsec.ir.verifier import verify
from sparsec.passes import PassError
from sparsec.passes.canonicalize import Canonicalize

VEC = tensor((4,), f32)
MAT = tensor((2, 3, 4), f32)


def canonical(module):
    Canonicalize().apply(module)
    verify(module)
    return module


def returned(module, body_ops):
    """What `forward` returns: block arguments print as 'arg', ops by name."""
    ret = body_ops(module)[-1]
    return [getattr(v.definer, "name", "arg") for v in ret.operands]


def shape(*dims):
    return {"shape": i64_array(dims)}


def perm(*axes):
    return {"perm": i64_array(axes)}


def test_identity_reshape_folds(make_module, body_ops):
    module = canonical(make_module([MAT], lambda emit, x: emit(Reshape, [x], shape(2, 3, 4))))
    assert returned(module, body_ops) == ["arg"]


def test_reshapes_compose(make_module, body_ops):
    def build(emit, x):
        return emit(Reshape, [emit(Reshape, [emit(Reshape, [x], shape(24))], shape(6, 4))],
                    shape(4, 6))

    module = canonical(make_module([MAT], build))
    ops = body_ops(module)
    assert [op.name for op in ops] == ["sparsec.reshape", "func.return"]
    assert ops[0].operands[0].definer is ops[0].parent.args[0]
    assert tuple(ops[0].properties["shape"]) == (4, 6)


def test_reshape_round_trip_vanishes(make_module, body_ops):
    build = lambda emit, x: emit(Reshape, [emit(Reshape, [x], shape(24))], shape(2, 3, 4))  # noqa: E731
    module = canonical(make_module([MAT], build))
    assert [op.name for op in body_ops(module)] == ["func.return"]


def test_identity_permute_folds(make_module, body_ops):
    module = canonical(make_module([MAT], lambda emit, x: emit(Permute, [x], perm(0, 1, 2))))
    assert returned(module, body_ops) == ["arg"]


def test_permutes_compose(make_module, body_ops):
    def build(emit, x):
        return emit(Permute, [emit(Permute, [x], perm(1, 2, 0))], perm(0, 2, 1))

    before = make_module([MAT], build)
    after = canonical(before.clone())
    ops = body_ops(after)
    assert [op.name for op in ops] == ["sparsec.permute", "func.return"]
    assert tuple(ops[0].properties["perm"]) == (1, 0, 2)
    assert_equivalent(before, after)


def test_inverse_permutes_vanish(make_module, body_ops):
    build = lambda emit, x: emit(Permute, [emit(Permute, [x], perm(1, 2, 0))], perm(2, 0, 1))  # noqa: E731
    module = canonical(make_module([MAT], build))
    assert returned(module, body_ops) == ["arg"]


@pytest.mark.parametrize(("p", "train", "removed"), [(0.1, False, True), (0.0, True, True),
                                                     (0.1, True, False)])
def test_eval_dropout_is_removed(make_module, body_ops, p, train, removed):
    props = {"p": FloatAttr(p), "train": BoolAttr(train)}
    module = canonical(make_module([VEC], lambda emit, x: emit(Dropout, [x], props)))
    assert returned(module, body_ops) == (["arg"] if removed else ["sparsec.dropout"])


@pytest.mark.parametrize(
    ("opdef", "constant_first", "neutral"),
    [(Mul, False, 1.0), (Mul, True, 1.0), (Add, False, 0.0), (Add, True, 0.0),
     (Sub, False, 0.0), (Div, False, 1.0)],
)
def test_neutral_splat_constants_fold(make_module, body_ops, opdef, constant_first, neutral):
    def build(emit, x):
        c = emit.const(np.full((3, 4), neutral))
        return emit(opdef, [c, x] if constant_first else [x, c])

    module = canonical(make_module([MAT], build))
    assert returned(module, body_ops) == ["arg"]


@pytest.mark.parametrize("opdef", [Sub, Div])
def test_neutral_constant_on_the_left_of_sub_and_div_stays(make_module, body_ops, opdef):
    neutral = 0.0 if opdef is Sub else 1.0
    build = lambda emit, x: emit(opdef, [emit.const([neutral] * 4), x])  # noqa: E731
    module = canonical(make_module([VEC], build))
    assert returned(module, body_ops) == [opdef.name]


def test_neutral_constant_that_broadcasts_stays(make_module, body_ops):
    # x: [4] times ones: [3, 4] is a [3, 4] tensor, not x.
    build = lambda emit, x: emit(Mul, [x, emit.const(np.ones((3, 4)))])  # noqa: E731
    module = canonical(make_module([VEC], build))
    assert returned(module, body_ops) == ["sparsec.mul"]


def test_non_splat_or_other_constants_stay(make_module, body_ops):
    module = canonical(make_module([VEC], lambda emit, x: emit(Mul, [x, emit.const([1, 1, 1, 2])])))
    assert returned(module, body_ops) == ["sparsec.mul"]


def test_double_negation_folds(make_module, body_ops):
    module = canonical(make_module([VEC], lambda emit, x: emit(Neg, [emit(Neg, [emit(Neg, [x])])])))
    ops = body_ops(module)
    assert [op.name for op in ops] == ["sparsec.neg", "func.return"]


def test_cast_to_the_same_type_folds(make_module, body_ops):
    module = canonical(make_module([VEC], lambda emit, x: emit(Cast, [x], result_types=[VEC])))
    assert returned(module, body_ops) == ["arg"]


def test_cast_to_another_type_stays(make_module, body_ops):
    to_int = [tensor((4,), i32)]
    module = canonical(make_module([VEC], lambda emit, x: emit(Cast, [x], result_types=to_int)))
    assert returned(module, body_ops) == ["sparsec.cast"]


def test_constant_operands_fold_into_an_inline_constant(make_module, body_ops):
    def build(emit, x):
        folded = emit(Exp, [emit(Add, [emit.const([0.0, 1.0, 2.0, 3.0]), emit.const([1.0] * 4)])])
        return emit(Mul, [x, folded])

    before = make_module([VEC], build)
    after = canonical(before.clone())
    ops = body_ops(after)
    assert [op.name for op in ops] == ["sparsec.constant", "sparsec.mul", "func.return"]
    value = ops[0].properties["value"]
    assert isinstance(value, DenseElementsAttr)
    np.testing.assert_allclose(value.array, np.exp([1.0, 2.0, 3.0, 4.0]), rtol=1e-6)
    assert_equivalent(before, after)


def test_folding_respects_the_size_limit(make_module, body_ops):
    def build(emit, x):
        big = emit.const(np.arange(2048, dtype=np.float32))
        return emit(Add, [x, emit(Neg, [big])])

    module = make_module([tensor((2048,), f32)], build)
    canonical(module)
    assert "sparsec.neg" in [op.name for op in body_ops(module)]
    Canonicalize(fold_limit=4096).apply(module)
    assert "sparsec.neg" not in [op.name for op in body_ops(module)]


def test_weights_in_resources_fold_only_into_small_results(make_module, body_ops):
    weight = DenseResourceAttr.from_array("fc.weight", np.ones((64, 64), np.float32))

    def build(emit, x):
        w = emit(Constant, properties={"value": weight})
        transposed = emit(Permute, [w], perm(1, 0))  # 4096 elements: stays
        return emit(Linear, [x, transposed])

    module = canonical(make_module([tensor((2, 64), f32)], build))
    assert [op.name for op in body_ops(module)] == [
        "sparsec.constant", "sparsec.permute", "sparsec.linear", "func.return"]


def test_elided_resources_are_not_folded(make_module, body_ops):
    elided = DenseResourceAttr.from_array("b", np.ones(4, np.float32))
    elided.resource.data = None

    def build(emit, x):
        return emit(Add, [x, emit(Neg, [emit(Constant, properties={"value": elided})])])

    module = canonical(make_module([VEC], build))
    assert "sparsec.neg" in [op.name for op in body_ops(module)]


def test_dead_ops_are_erased_at_the_end(make_module, body_ops):
    def build(emit, x):
        emit(Tanh, [x])
        return x

    module = canonical(make_module([VEC], build))
    assert [op.name for op in body_ops(module)] == ["func.return"]


def test_bad_iteration_count_is_a_pass_error():
    with pytest.raises(PassError, match="max-iterations must be at least 1"):
        Canonicalize(max_iterations=0)


def test_same_results_as_before_on_a_mixed_module(make_module, body_ops):
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((6, 4)).astype(np.float32)

    def build(emit, x):
        h = emit(Linear, [x, emit.const(weight)])                      # [2, 3, 6]
        h = emit(Reshape, [emit(Reshape, [h], shape(6, 6))], shape(2, 3, 6))
        h = emit(Permute, [emit(Permute, [h], perm(0, 2, 1))], perm(0, 2, 1))
        h = emit(Dropout, [h], {"p": FloatAttr(0.1), "train": BoolAttr(False)})
        h = emit(Mul, [emit(Add, [h, emit.const(np.zeros(6))]), emit.const(np.ones(6))])
        scale = emit(Exp, [emit.const(np.linspace(0, 1, 6))])             # folds
        return emit(Neg, [emit(Neg, [emit(Mul, [h, scale])])])

    before = make_module([MAT], build)
    after = canonical(before.clone())
    assert sorted(op.name for op in body_ops(after)) == [
        "func.return", "sparsec.constant", "sparsec.constant", "sparsec.linear", "sparsec.mul"]
    assert_equivalent(before, after)
