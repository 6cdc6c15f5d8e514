"""The greedy rewrite driver: fixpoint, iteration limit, replacement kinds, cleanup."""

from __future__ import annotations

import pytest

from sparsec.ir.attributes import i64_array
from sparsec.ir.core import IRError, Operation
from sparsec.ir.dialects.sparsec import Exp, Neg, Reshape, Tanh
from sparsec.ir.types import f32, tensor
from sparsec.ir.verifier import verify
from sparsec.passes import Pattern, apply_patterns_greedily
from sparsec.passes.canonicalize import producer

VEC = tensor((4,), f32)


def names(ops: list[Operation]) -> list[str]:
    return [op.name for op in ops]


def neg_of_neg(op: Operation):
    inner = producer(op.operands[0], "sparsec.neg")
    return inner.operands[0] if inner is not None else None


def chain_of_negs(make_module, count: int):
    def build(emit, x):
        value = x
        for _ in range(count):
            value = emit(Neg, [value])
        return value

    return make_module([VEC], build)


def test_reaches_a_fixpoint(make_module, body_ops):
    module = chain_of_negs(make_module, 5)
    result = apply_patterns_greedily(module, [Pattern("sparsec.neg", neg_of_neg)])
    assert result.converged
    verify(module)
    live = [op for op in body_ops(module) if op.has_uses or op.name == "func.return"]
    assert names(live) == ["sparsec.neg", "func.return"]  # five negations are one


def test_patterns_only_see_their_op_name(make_module, body_ops):
    seen: list[str] = []

    def record(op: Operation):
        seen.append(op.name)

    module = make_module([VEC], lambda emit, x: emit(Exp, [emit(Neg, [x])]))
    apply_patterns_greedily(module, [Pattern("sparsec.exp", record)])
    assert seen == ["sparsec.exp"]  # one sweep, nothing changed
    seen.clear()
    apply_patterns_greedily(module, [Pattern(None, record)])
    assert seen == ["func.func", "sparsec.neg", "sparsec.exp", "func.return"]


def test_iteration_limit_stops_a_pattern_that_never_settles(make_module):
    def rebuild(op: Operation):  # always "applies": a fresh but identical op
        return Neg.build([op.operands[0]])

    module = make_module([VEC], lambda emit, x: emit(Neg, [x]))
    result = apply_patterns_greedily(module, [Pattern("sparsec.neg", rebuild)], max_iterations=4)
    assert not result.converged
    assert (result.sweeps, result.rewrites) == (4, 4)
    verify(module)


def test_returning_the_op_itself_is_no_change(make_module):
    module = make_module([VEC], lambda emit, x: emit(Neg, [x]))
    result = apply_patterns_greedily(module, [Pattern("sparsec.neg", lambda op: op.result)])
    assert result.converged and result.rewrites == 0


def test_new_detached_ops_are_inserted_before_the_replaced_op(make_module, body_ops):
    def split_exp(op: Operation):  # exp(x) -> tanh(neg(x)): two new ops, chained
        if producer(op.operands[0], "sparsec.neg") is not None:
            return None
        return Tanh.build([Neg.build([op.operands[0]]).result])

    module = make_module([VEC], lambda emit, x: emit(Exp, [x]))
    apply_patterns_greedily(module, [Pattern("sparsec.exp", split_exp)])
    verify(module)
    assert names(body_ops(module)) == ["sparsec.neg", "sparsec.tanh", "func.return"]


def test_created_ops_left_unused_are_erased(make_module, body_ops):
    def replace_dead_exp(op: Operation):  # the exp is unused: its replacement is dead too
        return Tanh.build([Neg.build([op.operands[0]]).result])

    def build(emit, x):
        emit(Exp, [x])
        return x

    module = make_module([VEC], build)
    result = apply_patterns_greedily(module, [Pattern("sparsec.exp", replace_dead_exp)])
    assert result.rewrites == 1
    assert names(body_ops(module)) == ["func.return"]


def test_a_replacement_of_another_type_is_refused(make_module, body_ops):
    def wrong_shape(op: Operation):
        return Reshape.build([op.operands[0]], {"shape": i64_array((2, 2))})

    module = make_module([VEC], lambda emit, x: emit(Neg, [x]))
    with pytest.raises(IRError, match="replaced with a tensor<2x2xf32>"):
        apply_patterns_greedily(module, [Pattern("sparsec.neg", wrong_shape)])
    assert names(body_ops(module)) == ["sparsec.neg", "func.return"]  # nothing was inserted
    verify(module)


def test_block_order_after_many_rewrites_is_what_sorting_again_gives(make_module, body_ops):
    def build(emit, x):  # 20 rounds of neg(neg(exp)) with the rewrites interleaved
        value = x
        for _ in range(20):
            value = emit(Neg, [emit(Neg, [emit(Exp, [value])])])
        return value

    module = make_module([VEC], build)
    apply_patterns_greedily(module, [Pattern("sparsec.neg", neg_of_neg)])
    body = body_ops(module)[0].parent
    kept = body.ops
    body.changed()  # forget the order the rewrites maintained; sort from scratch
    assert body.ops == kept
    assert [op.name for op in kept].count("sparsec.exp") == 20
    verify(module)
