"""The `cse` pass: equal pure ops merge into the first one; anything different stays."""

from __future__ import annotations

import numpy as np

from sparsec.ir.attributes import StringAttr, i64_array
from sparsec.ir.dialects.sparsec import Add, Exp, Linear, Mul, Reshape, Sub, Tanh
from sparsec.ir.interpreter import assert_equivalent
from sparsec.ir.types import f32, tensor
from sparsec.ir.verifier import verify
from sparsec.passes.cse import CSE

VEC = tensor((4,), f32)


def names(ops):
    return [op.name for op in ops]


def test_duplicates_merge_into_the_first(make_module, body_ops):
    def build(emit, x):
        first, second = emit(Exp, [x]), emit(Exp, [x])
        return emit(Add, [first, second])

    module = make_module([VEC], build)
    first_exp = body_ops(module)[0]
    CSE().apply(module)
    verify(module)
    ops = body_ops(module)
    assert names(ops) == ["sparsec.exp", "sparsec.add", "func.return"]
    assert ops[0] is first_exp
    assert ops[1].operands == (first_exp.result, first_exp.result)


def test_merging_cascades_to_users(make_module, body_ops):
    def build(emit, x):
        a = emit(Tanh, [emit(Exp, [x])])
        b = emit(Tanh, [emit(Exp, [x])])
        return emit(Sub, [a, b])

    module = make_module([VEC], build)
    CSE().apply(module)
    assert names(body_ops(module)) == ["sparsec.exp", "sparsec.tanh", "sparsec.sub", "func.return"]


def test_equal_constants_merge_and_different_ones_stay(make_module, body_ops):
    def build(emit, x):
        one, one_again, two = emit.const([1.0] * 4), emit.const([1.0] * 4), emit.const([2.0] * 4)
        return emit(Add, [emit(Mul, [x, one]), emit(Mul, [emit(Mul, [x, one_again]), two])])

    module = make_module([VEC], build)
    CSE().apply(module)
    assert names(body_ops(module)).count("sparsec.constant") == 2
    assert names(body_ops(module)).count("sparsec.mul") == 2


def test_commutative_operands_in_either_order(make_module, body_ops):
    def build(emit, x, y):
        return emit(Sub, [emit(Add, [x, y]), emit(Add, [y, x])])

    module = make_module([VEC, VEC], build)
    CSE().apply(module)
    assert names(body_ops(module)).count("sparsec.add") == 1


def test_different_properties_or_operand_order_stay_apart(make_module, body_ops):
    def build(emit, x, y):
        r1 = emit(Reshape, [x], {"shape": i64_array((2, 2))})
        r2 = emit(Reshape, [x], {"shape": i64_array((1, 4))})
        s1, s2 = emit(Sub, [x, y]), emit(Sub, [y, x])
        return [r1, r2, emit(Add, [s1, s2])]

    module = make_module([VEC, VEC], build)
    CSE().apply(module)
    ops = names(body_ops(module))
    assert ops.count("sparsec.reshape") == 2 and ops.count("sparsec.sub") == 2


def test_discardable_attributes_must_match(make_module, body_ops):
    module = make_module([VEC], lambda emit, x: emit(Add, [emit(Exp, [x]), emit(Exp, [x])]))
    body_ops(module)[1].attributes["note"] = StringAttr("kept apart")
    CSE().apply(module)
    assert names(body_ops(module)).count("sparsec.exp") == 2


def test_same_results_as_before(make_module):
    weight = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)

    def build(emit, x):
        h1 = emit(Linear, [x, emit.const(weight)])
        h2 = emit(Linear, [x, emit.const(weight)])
        return emit(Add, [emit(Tanh, [h1]), emit(Mul, [emit(Tanh, [h2]), h1])])

    before = make_module([tensor((2, 4), f32)], build)
    after = before.clone()
    CSE().apply(after)
    assert len(list(after.walk())) == len(list(before.walk())) - 3
    assert_equivalent(before, after)
