"""Fused scaled dot-product attention: ``softmax(q·kᵀ·scale + mask)·v`` in one loop nest.

Operands come flattened to one batch axis (``q [B, Sq, D]``, ``k [B, Sk, D]``, ``v [B, Sk, Dv]``,
``mask [B, Sq, Sk]``, boolean keep-mask or additive float). Batches (heads) run in parallel; each
first copies ``kᵀ [D, Sk]`` so that a query's scores are one vectorized row update per head
feature, then the softmax and the ``p·v`` sum run on that row while it is in registers / L1.
A fully masked row gives zeros, as ``torch.nn.functional.scaled_dot_product_attention`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tvm import tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

MASK_KINDS = ("none", "bool", "additive")


@dataclass(frozen=True)
class AttentionPlan:
    """Shapes of one attention kernel."""

    batch: int
    sq: int
    sk: int
    d: int
    dv: int
    scale: float
    mask: str  # one of MASK_KINDS
    lanes: int


def vector_loop(extent: int, lanes: int, body: Callable[[tirx.PrimExpr], None]) -> None:
    """``body(i)`` for ``i`` in ``range(extent)``: whole vectors of ``lanes``, then the rest."""
    full, rest = divmod(extent, lanes)
    if full:
        with T.serial(0, full) as chunk, T.vectorized(0, lanes) as lane:
            body(chunk * lanes + lane)
    if rest:
        with T.vectorized(0, rest) as lane:
            body(full * lanes + lane)


def attention_func(plan: AttentionPlan) -> tirx.PrimFunc:
    """The scheduled TIR of ``plan`` (arguments: q, k, v, [mask], out)."""
    p = plan
    f32 = "float32"
    with IRBuilder() as builder, T.prim_func():
        T.func_name("attention")
        T.func_attr({"tirx.noalias": True})
        q = T.arg("q", T.Buffer((p.batch, p.sq, p.d), f32))
        k = T.arg("k", T.Buffer((p.batch, p.sk, p.d), f32))
        v = T.arg("v", T.Buffer((p.batch, p.sk, p.dv), f32))
        mask = None
        if p.mask != "none":
            dtype = "bool" if p.mask == "bool" else f32
            mask = T.arg("mask", T.Buffer((p.batch, p.sq, p.sk), dtype))
        out = T.arg("out", T.Buffer((p.batch, p.sq, p.dv), f32))
        with T.parallel(0, p.batch) as b:
            kt = T.alloc_buffer((p.d, p.sk), f32)
            with T.serial(0, p.sk) as j, T.serial(0, p.d) as e:
                T.buffer_store(kt, k[b, j, e], [e, j])
            with T.serial(0, p.sq) as i:
                _query_row(p, q, kt, v, mask, out, b, i)
    return builder.get()


def _query_row(p: AttentionPlan, q, kt, v, mask, out, b, i) -> None:
    """Scores, softmax and output of query ``i`` of batch ``b``."""
    f32 = "float32"
    scores = T.alloc_buffer((p.sk,), f32, scope="local")
    acc = T.alloc_buffer((p.dv,), f32, scope="local")
    stats = T.alloc_buffer((2,), f32, scope="local")  # running max, then the sum of exponentials
    vector_loop(p.sk, p.lanes, lambda j: T.buffer_store(scores, tirx.const(0.0, f32), [j]))
    with T.serial(0, p.d) as e:
        vector_loop(p.sk, p.lanes, lambda j: T.buffer_store(
            scores, scores[j] + q[b, i, e] * kt[e, j], [j]))
    scale = tirx.const(p.scale, f32)
    minus_inf = tirx.const(float("-inf"), f32)

    def scaled(j):
        value = scores[j] * scale
        if p.mask == "bool":
            value = tirx.Select(mask[b, i, j], value, minus_inf)
        elif p.mask == "additive":
            value = value + mask[b, i, j]
        T.buffer_store(scores, value, [j])

    vector_loop(p.sk, p.lanes, scaled)
    T.buffer_store(stats, minus_inf, [0])
    with T.serial(0, p.sk) as j:
        T.buffer_store(stats, tirx.max(stats[0], scores[j]), [0])
    # A fully masked row has peak -inf: subtract 0 instead, so every weight is exp(-inf) = 0.
    peak = tirx.Select(stats[0] == minus_inf, tirx.const(0.0, f32), stats[0])
    vector_loop(p.sk, p.lanes, lambda j: T.buffer_store(scores, tirx.exp(scores[j] - peak), [j]))
    T.buffer_store(stats, tirx.const(0.0, f32), [1])
    with T.serial(0, p.sk) as j:
        T.buffer_store(stats, stats[1] + scores[j], [1])
    vector_loop(p.dv, p.lanes, lambda c: T.buffer_store(acc, tirx.const(0.0, f32), [c]))
    with T.serial(0, p.sk) as j:
        vector_loop(p.dv, p.lanes, lambda c: T.buffer_store(acc, acc[c] + scores[j] * v[b, j, c],
                                                            [c]))
    inverse = tirx.Select(stats[1] > 0, tirx.const(1.0, f32) / stats[1], tirx.const(0.0, f32))
    vector_loop(p.dv, p.lanes, lambda c: T.buffer_store(out, acc[c] * inverse, [b, i, c]))
