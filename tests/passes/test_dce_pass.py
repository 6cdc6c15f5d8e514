"""The `dce` pass: dead pure ops go, transitively; side effects and terminators stay."""

from __future__ import annotations

import dataclasses

import numpy as np

from sparsec.ir import opdef
from sparsec.ir.attributes import BoolAttr, FloatAttr
from sparsec.ir.dialects.sparsec import Add, Dropout, Exp, Linear, Mul, Neg, Tanh
from sparsec.ir.interpreter import assert_equivalent
from sparsec.ir.types import f32, tensor
from sparsec.ir.verifier import verify
from sparsec.passes.dce import DCE


def names(ops):
    return [op.name for op in ops]


def test_dead_chain_is_erased_transitively(make_module, body_ops):
    def build(emit, x):
        dead = emit(Exp, [emit(Neg, [x])])
        emit(Tanh, [dead])
        return emit(Neg, [x])

    module = make_module([tensor((4,), f32)], build)
    DCE().apply(module)
    verify(module)
    assert names(body_ops(module)) == ["sparsec.neg", "func.return"]


def test_used_ops_and_the_terminator_stay(make_module, body_ops):
    module = make_module([tensor((4,), f32)], lambda emit, x: emit(Exp, [x]))
    DCE().apply(module)
    assert names(body_ops(module)) == ["sparsec.exp", "func.return"]


def test_non_pure_ops_are_kept(make_module, body_ops, monkeypatch):
    # A side-effecting op: the same op definition without the `pure` trait.
    impure = dataclasses.replace(Neg, name="test.impure", traits=frozenset())
    monkeypatch.setitem(opdef._REGISTRY, "test.impure", impure)

    def build(emit, x):
        emit(impure, [x])
        return x

    module = make_module([tensor((4,), f32)], build)
    DCE().apply(module)
    assert names(body_ops(module)) == ["test.impure", "func.return"]


def test_same_results_as_before(make_module):
    rng = np.random.default_rng(0)

    def build(emit, x):
        w = emit.const(rng.standard_normal((3, 4)))
        h = emit(Linear, [x, w])
        emit(Mul, [h, h])  # dead
        drop = {"p": FloatAttr(0.1), "train": BoolAttr(False)}
        emit(Exp, [emit(Dropout, [h], drop)])  # dead chain
        return emit(Add, [h, emit(Tanh, [h])])

    before = make_module([tensor((2, 4), f32)], build)
    after = before.clone()
    DCE().apply(after)
    assert len(list(after.walk())) < len(list(before.walk()))
    assert_equivalent(before, after)
