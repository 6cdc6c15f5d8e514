"""Fused scaled dot-product attention: ``softmax(q·kᵀ·scale + mask)·v`` in one loop nest.

Operands are ``[B, H, S, D]`` or, when the lowering folded the permutes around attention into the
kernel, ``[B, S, H, D]`` (the layout the linear kernels read and write); the mask keeps its own
broadcast shape ``[B|1, H|1, Sq|1, Sk]`` (boolean keep-mask or additive float), so neither is
copied; q, k and v may be heads of larger operands (``head_offsets``: the query, key and value
projections combined into one tensor), read in place. Tasks of (batch, head, block of query rows)
run in parallel, as few blocks per head as give every thread two tasks. Each task first copies ``kᵀ
[D, Sk]`` so that ``q·kᵀ`` is a small GEMM whose register tile (rows × vectors of keys) is fed by
one broadcast of ``q`` and one vector load of ``kᵀ`` per step; the row softmax runs on the scores
while they are in L1, with a vectorizable ``exp``; ``p·v`` is a second register-tiled GEMM
vectorized over ``v``'s contiguous feature axis. A row tile that would run past the end is moved
back to overlap the previous one (it rewrites identical values), so every tile has static extents.
A fully masked row gives zeros, as ``torch.nn.functional.scaled_dot_product_attention`` does.

With ``dynamic``, the batch and the sequence length (self-attention: as many keys as queries) are
run-time sizes: the keys are padded up to whole score tiles (``kᵀ`` zero-filled, their scores
``-inf``), so the hot loops keep their static tiles; sequences shorter than one row tile take a
one-row tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from tvm import tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

from sparsec.codegen.loops import Extent, ceil_div, stack_buffer, symbolic_tokens

MASK_KINDS = ("none", "bool", "additive")
F32 = "float32"
TASKS_PER_THREAD = 2  # parallel tasks per thread at least, for balance
SCORE_ACCUMULATORS = 8  # q·kᵀ register tile: query rows × vectors of keys


@dataclass(frozen=True)
class AttentionPlan:
    """Shapes, layouts and tiling of one attention kernel."""

    batch: int
    heads: int
    sq: int
    sk: int
    d: int
    dv: int
    scale: float
    mask: str  # one of MASK_KINDS
    lanes: int
    # q, k, v, out stored [B, S, H, D] (True) rather than [B, H, S, D] (False)
    seq_major: tuple[bool, bool, bool, bool] = (False, False, False, False)
    mask_shape: tuple[int, int, int, int] | None = None  # default: [B, H, Sq, Sk]
    threads: int = 1
    max_rows: int = 4  # query rows per register tile, when there are as many
    # batch and sequence length known at run time (at most batch and sq = sk); mask_shape then
    # says which mask axes broadcast (1) and which have the full run-time size (any other value)
    dynamic: bool = False
    # q, k, v are heads offset .. offset + heads of operands with this many heads (one tensor
    # holding all three, as a combined projection writes them); default: heads, from 0
    operand_heads: tuple[int, int, int] | None = None
    head_offsets: tuple[int, int, int] = (0, 0, 0)

    @property
    def rows_per_task(self) -> int:
        """Query rows of one parallel task: every row of a head (one kᵀ copy per head, which
        costs as much as a sixth of the kernel) unless the heads alone are too few tasks for the
        threads."""
        heads = self.batch * self.heads
        groups = max(1, -(-TASKS_PER_THREAD * self.threads // heads))
        tiles = -(-self.sq // self.rows)
        return -(-tiles // groups) * self.rows

    @property
    def rows(self) -> int:
        """Query rows per register tile."""
        return min(self.max_rows, self.sq)

    def one_row(self) -> AttentionPlan:
        """This plan with one query row per register tile."""
        return replace(self, max_rows=1)

    @property
    def key_block(self) -> int:
        """Scores per row of the ``q·kᵀ`` register tile: rows × vectors of keys make
        ``SCORE_ACCUMULATORS`` accumulators on either width. (AVX-512 with 16, 4 rows × 4
        vectors, ran 1.2-1.6x slower at seq 384 and 0.97-1.1x at seq 128; AVX2 with 4, 4 rows ×
        1 vector, 1.25x slower; Zen 4.)"""
        return min(self.sk, max(1, SCORE_ACCUMULATORS // self.rows) * self.lanes)

    @property
    def value_block(self) -> int:
        """Output features per row of the ``p·v`` register tile (rows × vectors of accumulators
        use half the vector registers)."""
        registers = 32 if self.lanes >= 16 else 16
        return min(self.dv, max(1, registers // 2 // self.rows) * self.lanes)


def vector_loop(extent: int, lanes: int, body: Callable[[tirx.PrimExpr], None]) -> None:
    """``body(i)`` for ``i`` in ``range(extent)``: whole vectors of ``lanes``, then the rest."""
    full, rest = divmod(extent, lanes)
    if full:
        with T.serial(0, full) as chunk, T.vectorized(0, lanes) as lane:
            body(chunk * lanes + lane)
    if rest:
        with T.vectorized(0, rest) as lane:
            body(full * lanes + lane)


# exp(x) = 2^n · e^r with n = round(x / ln 2) and |r| ≤ ln 2 / 2; e^r by its Taylor series to r^6
# (relative error < 5e-7 measured). ln 2 is split in two so that r is exact to float32 rounding.
_LOG2E = 1.4426950408889634
_LN2_HI, _LN2_LO = 0.693145751953125, 1.428606765330187e-06
_EXP_TAYLOR = (1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1.0, 1.0)
_EXP_FLOOR = -88.0  # exp(-88) underflows float32: n = -127 makes the exponent bits 0, i.e. 0.0


def fast_exp(x: tirx.PrimExpr) -> tirx.PrimExpr:
    """A vectorizable float32 ``exp`` for ``x ≤ 0`` (``-inf`` gives exactly 0)."""
    x = tirx.max(x, tirx.const(_EXP_FLOOR, F32))
    n = tirx.floor(x * tirx.const(_LOG2E, F32) + tirx.const(0.5, F32))
    r = x - n * tirx.const(_LN2_HI, F32) - n * tirx.const(_LN2_LO, F32)
    poly = tirx.const(_EXP_TAYLOR[0], F32)
    for c in _EXP_TAYLOR[1:]:
        poly = poly * r + tirx.const(c, F32)
    bits = tirx.shift_left(tirx.Cast("int32", n) + 127, 23)
    return poly * tirx.reinterpret(F32, bits)


def attention_func(plan: AttentionPlan) -> tirx.PrimFunc:
    """The scheduled TIR of ``plan`` (arguments: q, k, v, [mask], out)."""
    p = plan
    with IRBuilder() as builder, T.prim_func():
        T.func_name("attention")
        T.func_attr({"tirx.noalias": True})
        batch, sq, sk = _extents(p)
        shapes = [(sq, p.d), (sk, p.d), (sk, p.dv)]
        q, k, v = (T.arg(name, T.Buffer(_layout(p, batch, major, s, f, heads), F32))
                   for name, major, (s, f), heads in zip(
                       "qkv", p.seq_major, shapes, p.operand_heads or (p.heads,) * 3,
                       strict=False))
        mask = None
        if p.mask != "none":
            dtype = "bool" if p.mask == "bool" else F32
            mask = T.arg("mask", T.Buffer(_mask_shape(p, batch, sq, sk), dtype))
        out = T.arg("out", T.Buffer(_layout(p, batch, p.seq_major[3], sq, p.dv), F32))
        if not p.dynamic:
            _heads(p, q, k, v, mask, out, batch, sq, sk)
        else:  # a sequence shorter than a row tile takes one-row tiles
            with T.If(sq >= p.rows):
                with T.Then():
                    _heads(p, q, k, v, mask, out, batch, sq, sk)
                with T.Else():
                    _heads(p.one_row(), q, k, v, mask, out, batch, sq, sk)
    return builder.get()


def _heads(p: AttentionPlan, q, k, v, mask, out, batch: Extent, sq: Extent, sk: Extent) -> None:
    """Every (batch, head, group of row tiles) task in parallel."""
    tiles = ceil_div(sq, p.rows)
    if p.dynamic:  # groups per head as for one sequence: a static divisor keeps indices short
        groups = max(1, -(-TASKS_PER_THREAD * p.threads // p.heads))
        per_task = ceil_div(tiles, groups)
        keys = ceil_div(sk, p.key_block) * p.key_block  # whole score tiles
    else:
        per_task = p.rows_per_task // p.rows
        groups = ceil_div(tiles, per_task)
        keys = sk
    with T.parallel(0, batch * p.heads * groups) as task:
        b, h, group = task // (p.heads * groups), task // groups % p.heads, task % groups
        kt = T.alloc_buffer((p.d, keys), F32)
        # Scattering a contiguous row of k beats gathering a strided column (11 % of the
        # kernel on Zen 3).
        with T.serial(0, sk) as j:
            vector_loop(p.d, p.lanes, lambda e, j=j: T.buffer_store(
                kt, _at(k, p.seq_major[1], b, h + p.head_offsets[1], j, e), [e, j]))
        if p.dynamic:  # padded keys: finite scores (masked to -inf later), zero weights
            with T.serial(sk, keys) as j, T.serial(0, p.d) as e:
                T.buffer_store(kt, tirx.const(0.0, F32), [e, j])
        # One score buffer per task, not per row tile: over 1 KiB (or of a run-time size), it
        # comes from TVM's workspace pool, a call to allocate and one to free each time.
        scores = T.alloc_buffer((p.rows, keys), F32, scope="global" if p.dynamic else "local")
        first = group * per_task
        with T.serial(0, tirx.min(per_task, tiles - first)) as t:
            i0 = tirx.min((first + t) * p.rows, sq - p.rows)
            _row_tile(p, q, kt, scores, v, mask, out, b, h, i0, sk, keys)


def _extents(p: AttentionPlan) -> tuple[Extent, Extent, Extent]:
    """Batch, query and key counts: the plan's, or run-time sizes."""
    if not p.dynamic:
        return p.batch, p.sq, p.sk
    seq = symbolic_tokens("seq")
    return symbolic_tokens("batch"), seq, seq


def _mask_shape(p: AttentionPlan, batch: Extent, sq: Extent, sk: Extent) -> tuple[Extent, ...]:
    shape = p.mask_shape or (p.batch, p.heads, p.sq, p.sk)
    if not p.dynamic:
        return shape
    full = (batch, p.heads, sq, sk)
    return tuple(1 if size == 1 else run_time for size, run_time in zip(shape, full, strict=True))


def _layout(p: AttentionPlan, batch: Extent, seq_major: bool, s: Extent, f: int,
            heads: int | None = None) -> tuple[Extent, ...]:
    heads = heads or p.heads
    return (batch, s, heads, f) if seq_major else (batch, heads, s, f)


def _at(buf: tirx.Buffer, seq_major: bool, b, h, s, f) -> tirx.PrimExpr:
    return buf[b, s, h, f] if seq_major else buf[b, h, s, f]


def _column_tiles(extent: int, width: int, body: Callable[[tirx.PrimExpr], None]) -> None:
    """``body(start)`` for tiles of ``width`` covering ``range(extent)``; the last one is moved
    back to end at ``extent`` (``width ≤ extent``)."""
    count = -(-extent // width)
    if count == 1:
        body(tirx.const(0, "int32"))
        return
    with T.serial(0, count) as c:
        body(tirx.min(c * width, extent - width))


def _row_tile(p: AttentionPlan, q, kt, scores, v, mask, out, b, h, i0, sk: Extent,
              keys: Extent) -> None:
    """Scores (into ``scores``), softmax and output of query rows ``i0 .. i0 + rows`` of head
    ``(b, h)``."""
    rows = p.rows
    inverse = stack_buffer((rows,))
    width = p.key_block

    def score_block(j0: tirx.PrimExpr) -> None:
        acc = stack_buffer((rows, width))
        with T.unroll(0, rows) as r, T.vectorized(0, width) as c:
            T.buffer_store(acc, tirx.const(0.0, F32), [r, c])
        with T.serial(0, p.d) as e, T.unroll(0, rows) as r, T.vectorized(0, width) as c:
            query = _at(q, p.seq_major[0], b, h + p.head_offsets[0], i0 + r, e)
            T.buffer_store(acc, acc[r, c] + query * kt[e, j0 + c], [r, c])
        with T.unroll(0, rows) as r, T.vectorized(0, width) as c:
            T.buffer_store(scores, _masked(p, mask, acc[r, c], b, h, i0 + r, j0 + c, sk),
                           [r, j0 + c])

    if p.dynamic:  # keys are padded to whole tiles
        with T.serial(0, keys // width) as c:
            score_block(c * width)
    else:
        _column_tiles(p.sk, width, score_block)
    with T.serial(0, rows) as r:
        _softmax_row(p, scores, inverse, r, keys)
    width = p.value_block

    def value_block(c0: tirx.PrimExpr) -> None:
        acc = stack_buffer((rows, width))
        with T.unroll(0, rows) as r, T.vectorized(0, width) as c:
            T.buffer_store(acc, tirx.const(0.0, F32), [r, c])
        with T.serial(0, sk) as j, T.unroll(0, rows) as r, T.vectorized(0, width) as c:
            value = _at(v, p.seq_major[2], b, h + p.head_offsets[2], j, c0 + c)
            T.buffer_store(acc, acc[r, c] + scores[r, j] * value, [r, c])
        with T.unroll(0, rows) as r, T.vectorized(0, width) as c:
            index = [b, i0 + r, h, c0 + c] if p.seq_major[3] else [b, h, i0 + r, c0 + c]
            T.buffer_store(out, acc[r, c] * inverse[r], index)

    _column_tiles(p.dv, width, value_block)


def _masked(p: AttentionPlan, mask, score, b, h, i, j, sk: Extent) -> tirx.PrimExpr:
    """``score · scale`` with the mask applied (``-inf`` where a boolean mask is false, and for
    the padding keys of a dynamic plan)."""
    value = score * tirx.const(p.scale, F32)
    if p.mask != "none":
        mb, mh, mq, _ = p.mask_shape or (p.batch, p.heads, p.sq, p.sk)
        zero = tirx.const(0, "int32")
        keep = mask[b if mb != 1 else zero, h if mh != 1 else zero, i if mq != 1 else zero,
                    tirx.min(j, sk - 1) if p.dynamic else j]
        if p.mask == "bool":
            value = tirx.Select(keep, value, tirx.const(float("-inf"), F32))
        else:
            value = value + keep
    if p.dynamic:
        value = tirx.Select(j < sk, value, tirx.const(float("-inf"), F32))
    return value


def _softmax_row(p: AttentionPlan, scores, inverse, r, keys: Extent) -> None:
    """Replace row ``r`` of ``scores`` by its exponentials (less the row max) and set
    ``inverse[r]`` to one over their sum (0 for a fully masked row). Whole vectors go through
    per-lane partial results folded in halves; the remainder is scalar, so no key counts twice."""
    lanes = 1 << (min(p.lanes, p.sk).bit_length() - 1)  # a power of two, for the folding
    full = keys // lanes
    minus_inf = tirx.const(float("-inf"), F32)
    partial = stack_buffer((lanes,))
    total = stack_buffer((2,))  # the row max, then the sum

    def reduce(combine, start, slot: int, step: Callable[[tirx.PrimExpr], tirx.PrimExpr]):
        """``total[slot]`` = ``start`` combined with ``step(j)`` for every key ``j``."""
        with T.vectorized(0, lanes) as lane:
            T.buffer_store(partial, start, [lane])
        with T.serial(0, full) as chunk, T.vectorized(0, lanes) as lane:
            T.buffer_store(partial, combine(partial[lane], step(chunk * lanes + lane)), [lane])
        half = lanes // 2
        while half:
            with T.vectorized(0, half) as lane:
                T.buffer_store(partial, combine(partial[lane], partial[lane + half]), [lane])
            half //= 2
        T.buffer_store(total, partial[0], [slot])
        with T.serial(full * lanes, keys) as j:
            T.buffer_store(total, combine(total[slot], step(j)), [slot])

    reduce(tirx.max, minus_inf, 0, lambda j: scores[r, j])
    # A fully masked row has peak -inf: subtract 0 instead, so every weight is exp(-inf) = 0.
    peak = tirx.Select(total[0] == minus_inf, tirx.const(0.0, F32), total[0])
    T.buffer_store(total, peak, [0])

    def exponential(j: tirx.PrimExpr) -> tirx.PrimExpr:
        weight = fast_exp(scores[r, j] - total[0])
        T.buffer_store(scores, weight, [r, j])
        return scores[r, j]

    reduce(lambda a, b: a + b, tirx.const(0.0, F32), 1, exponential)
    sum_ = total[1]
    T.buffer_store(inverse, tirx.Select(sum_ > 0, tirx.const(1.0, F32) / sum_,
                                        tirx.const(0.0, F32)), [r])
