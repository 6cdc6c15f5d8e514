"""The attention kernel's parallel split: one task per head when the heads give every thread two
tasks, else a few blocks of query rows per head (each with its own kᵀ copy); results stay exact."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.codegen.attention import AttentionPlan, attention_func
from sparsec.codegen.kernel import CompiledKernel
from sparsec.codegen.target import parse_target


def plan(batch, heads, seq, threads, lanes=8):
    return AttentionPlan(batch, heads, seq, seq, 64, 64, 0.125, "additive", lanes,
                         (True,) * 4, (batch, 1, 1, seq), threads)


@pytest.mark.parametrize(("batch", "heads", "seq", "threads", "rows_per_task"), [
    (1, 12, 128, 2, 128),  # BERT-base on 2 threads: one task (and one kᵀ copy) per head
    (1, 12, 128, 16, 44),  # 3 blocks per head for 32 tasks: 11 register tiles of 4 rows
    (8, 12, 128, 2, 128),
    (1, 2, 37, 8, 8),  # 8 blocks per head asked: 10 tiles of 4 rows, 2 tiles per block
    (1, 1, 3, 4, 3),  # fewer rows than a tile: one task
])
def test_rows_per_task(batch, heads, seq, threads, rows_per_task):
    assert plan(batch, heads, seq, threads).rows_per_task == rows_per_task


@pytest.mark.parametrize("threads", [1, 8])
def test_several_tasks_per_head_give_the_same_result(threads):
    batch, heads, seq, size = 1, 2, 37, 64
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((batch, seq, heads, size)).astype(np.float32)
               for _ in range(3))
    mask = rng.standard_normal((batch, 1, 1, seq)).astype(np.float32)
    kernel = CompiledKernel(attention_func(plan(batch, heads, seq, threads)), "attention",
                            parse_target("llvm", num_threads=2))
    out = np.zeros_like(q)
    tensors = kernel.tensors(q, k, v, mask, out)
    kernel.run(*tensors)
    qh, kh, vh = (x.transpose(0, 2, 1, 3).astype(np.float64) for x in (q, k, v))
    scores = qh @ kh.transpose(0, 1, 3, 2) * 0.125 + mask
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    expected = (weights / weights.sum(-1, keepdims=True)) @ vh
    np.testing.assert_allclose(tensors[-1].numpy(), expected.transpose(0, 2, 1, 3), atol=1e-5)


@pytest.mark.parametrize(("lanes", "rows", "keys", "features"), [
    (16, 4, 32, 64),  # AVX-512: 4 rows x 2 vectors of scores, 4 rows x 4 vectors of outputs
    (8, 4, 16, 16),  # AVX2: 4 x 2 vectors both (16 registers)
])
def test_register_tiles_hold_eight_score_accumulators(lanes, rows, keys, features):
    tile = plan(1, 12, 384, 2, lanes)
    assert (tile.rows, tile.key_block, tile.value_block) == (rows, keys, features)
    assert tile.one_row().key_block == 8 * lanes


@pytest.mark.parametrize("spec", ["llvm -mcpu=skylake-avx512", "llvm -mcpu=znver3"])
def test_tiles_of_keys_and_features_that_do_not_divide_the_sequence(spec):
    target = parse_target(spec, num_threads=2)
    if not target.runs_on_host():
        pytest.skip(f"this host cannot run {spec!r} code")
    batch, heads, seq, size = 1, 2, 77, 40  # neither tile divides 77 keys or 40 features
    tile = AttentionPlan(batch, heads, seq, seq, size, size, 0.125, "additive",
                         target.vector_lanes, (True,) * 4, (batch, 1, 1, seq), 2)
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((batch, seq, heads, size)).astype(np.float32)
               for _ in range(3))
    mask = np.where(rng.random((batch, 1, 1, seq)) < 0.2, -1e4, 0.0).astype(np.float32)
    kernel = CompiledKernel(attention_func(tile), "attention", target)
    tensors = kernel.tensors(q, k, v, mask, np.zeros_like(q))
    kernel.run(*tensors)
    np.testing.assert_allclose(tensors[-1].numpy(), reference(q, k, v, mask, True), atol=1e-5)


def reference(q, k, v, mask, seq_major, masked_rows=()):
    """softmax(q·kᵀ·scale + mask)·v in float64; a row whose keys are all masked gives zeros."""
    to_heads = (lambda x: x.transpose(0, 2, 1, 3)) if seq_major else (lambda x: x)
    qh, kh, vh = (to_heads(x).astype(np.float64) for x in (q, k, v))
    scores = qh @ kh.transpose(0, 1, 3, 2) * 0.125
    scores = np.where(mask, scores, -np.inf) if mask.dtype == bool else scores + mask
    peak = scores.max(-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isinf(peak), 0.0, peak))
    total = weights.sum(-1, keepdims=True)
    out = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0) @ vh
    return to_heads(out)


@pytest.mark.parametrize("spec", ["llvm", "llvm -mcpu=znver3"])
@pytest.mark.parametrize(("kind", "seq_major"), [("additive", True), ("bool", False),
                                                  ("none", True)])
def test_one_dynamic_kernel_serves_every_batch_and_length(spec, kind, seq_major):
    target = parse_target(spec, num_threads=2)
    if not target.runs_on_host():
        pytest.skip(f"this host cannot run {spec!r} code")
    heads, size = 3, 16
    mask_shape = {"additive": (8, 1, 1, 512), "bool": (8, heads, 512, 512), "none": None}[kind]
    dynamic = AttentionPlan(8, heads, 512, 512, size, size, 0.125, kind, target.vector_lanes,
                            (seq_major,) * 4, mask_shape, threads=2, dynamic=True)
    kernel = CompiledKernel(attention_func(dynamic), "attention", target)
    rng = np.random.default_rng(1)
    for batch, seq in [(1, 1), (2, 3), (1, 4), (3, 17), (1, 64), (2, 70)]:
        shape = (batch, seq, heads, size) if seq_major else (batch, heads, seq, size)
        q, k, v = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
        args = [q, k, v]
        if kind == "additive":
            mask = np.where(rng.random((batch, 1, 1, seq)) < 0.3, -1e4, 0.0).astype(np.float32)
        else:
            mask = rng.random((batch, heads, seq, seq)) < 0.7
            mask[..., 0, :] = False  # a fully masked row
        args += [] if kind == "none" else [mask]
        out = np.zeros_like(q)
        tensors = kernel.tensors(*args, out)
        kernel.run(*tensors)
        expected = reference(q, k, v, mask if kind != "none" else np.zeros(1, np.float32),
                             seq_major)
        np.testing.assert_allclose(tensors[-1].numpy(), expected, atol=1e-5,
                                   err_msg=f"batch {batch}, seq {seq}")


@pytest.mark.parametrize("spec", ["llvm", "llvm -mcpu=znver3"])
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("seq_major", [True, False], ids=["bshd", "bhsd"])
def test_query_key_and_value_read_from_heads_of_one_tensor(spec, dynamic, seq_major):
    """q, k, v as heads 0-2, 3-5 and 6-8 of one 9-head tensor (a combined projection's
    result), read in place: the result of three separate tensors."""
    target = parse_target(spec, num_threads=2)
    if not target.runs_on_host():
        pytest.skip(f"this host cannot run {spec!r} code")
    batch, heads, seq, size = 2, 3, 19, 16
    tile = AttentionPlan(batch, heads, seq, seq, size, size, 0.125, "additive",
                         target.vector_lanes, (seq_major,) * 4, (batch, 1, 1, seq), 2,
                         dynamic=dynamic, operand_heads=(9, 9, 9), head_offsets=(0, 3, 6))
    rng = np.random.default_rng(3)
    axis = 2 if seq_major else 1
    shape = [batch, seq, 9, size] if seq_major else [batch, 9, seq, size]
    packed = rng.standard_normal(shape).astype(np.float32)
    q, k, v = np.split(packed, 3, axis=axis)
    mask = np.where(rng.random((batch, 1, 1, seq)) < 0.2, -1e4, 0.0).astype(np.float32)
    kernel = CompiledKernel(attention_func(tile), "attention", target)
    tensors = kernel.tensors(packed, packed, packed, mask, np.zeros_like(q))
    kernel.run(*tensors)
    np.testing.assert_allclose(tensors[-1].numpy(), reference(q, k, v, mask, seq_major),
                               atol=1e-5)
