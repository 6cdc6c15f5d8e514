"""Run-time sizes in the interpreter: one IR function, evaluated at several sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsec.ir.dialects.sparsec import Index
from sparsec.ir.interpreter import InterpretError, evaluate_op, interpret
from sparsec.ir.parser import parse_module
from sparsec.passes import PassManager, parse_pipeline

CASES = Path(__file__).parents[1] / "filecheck" / "dialect" / "dynamic-shapes.mlir"


def _function(name: str):
    for chunk in CASES.read_text().split("// -----"):
        if f'sym_name = "{name}"' in chunk:
            return parse_module(chunk.replace(f'sym_name = "{name}"', 'sym_name = "forward"'),
                                str(CASES))
    raise LookupError(name)


@pytest.mark.parametrize("batch,seq", [(1, 1), (2, 5), (3, 16)])
def test_the_padding_mask_at_every_size(batch, seq):
    mask = np.random.default_rng(batch * seq).integers(0, 2, (batch, seq)).astype(bool)
    (out,) = interpret(_function("mask"), [mask])
    assert out.shape == (batch, 1, seq, seq)
    np.testing.assert_array_equal(out, np.broadcast_to(mask[:, None, None, :], out.shape))


@pytest.mark.parametrize("batch,seq", [(1, 3), (4, 7)])
def test_heads_and_positions_follow_the_input(batch, seq):
    x = np.random.default_rng(0).standard_normal((batch, seq, 64)).astype(np.float32)
    (heads,) = interpret(_function("heads"), [x])
    np.testing.assert_array_equal(heads, x.reshape(batch, seq, 2, 32))
    (positions,) = interpret(_function("positions"), [np.zeros((batch, seq), np.int64)])
    assert positions.shape == (1, seq)


def test_canonicalize_keeps_the_meaning_at_every_size():
    module = _function("mask")
    before = [interpret(module, [np.ones((b, s), bool)])[0] for b, s in ((1, 2), (3, 4))]
    PassManager(parse_pipeline("canonicalize,cse,dce")).run(module)
    after = [interpret(module, [np.ones((b, s), bool)])[0] for b, s in ((1, 2), (3, 4))]
    for x, y in zip(before, after, strict=True):
        np.testing.assert_array_equal(x, y)


def test_named_sizes_must_agree_and_stay_in_range():
    module = _function("named_sizes")
    ids = np.zeros((2, 3), np.int64)
    assert interpret(module, [ids, ids])[0].shape == (2, 3)
    with pytest.raises(InterpretError, match=r"input #1 has 4 on axis 1 where another input "
                                             r"has 3 \('seq'\)"):
        interpret(module, [ids, np.zeros((2, 4), np.int64)])
    big = np.zeros((33, 3), np.int64)
    with pytest.raises(InterpretError, match=r"'batch' = 33 is outside its range 1..32"):
        interpret(module, [big, big])


def test_an_index_out_of_range_is_an_error():
    op = next(op for op in _function("mask").walk() if op.name == Index.name)
    with pytest.raises(InterpretError, match=r"index 5 is out of range \[0, 2\) along axis 0"):
        evaluate_op(op, [np.ones((2, 2), bool), np.array([[[[5]]]]), np.zeros((1, 1, 1, 1), int)])
