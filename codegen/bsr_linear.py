"""Block-sparse linear kernels: ``Y[M, N] = X[M, K] · Wᵀ`` (+ epilogue), ``W [N, K]`` in BSR.

A block ``RxC`` covers R output rows and C input columns of ``W``; the BSR arrays are
``data [nnzb, R, C]``, ``indices [nnzb]`` (block column, packed in 16 bits where every one fits)
and ``indptr [N/R + 1]`` (per block row), with N and K padded up to whole blocks. The number of
blocks is a symbolic size, so one compiled kernel serves every weight of the same shape whatever
its sparsity.

The loop nest is generated per block-shape family, against the target's vector width L
(float32 lanes):

- ``rows`` (R ≥ L, e.g. 32x1, 16x1, 32x32): a block's R rows are the vector and ``X[m, k]`` is
  broadcast; the register tile is (tokens × R). Blocks are stored column-major (``[nnzb, C, R]``)
  so that every vector load is contiguous.
- ``tokens`` (R < L, e.g. 1x1, 1x32, 4x4): X is first transposed into token panels
  ``Xᵀ [M/T, K, T]`` (zero padded), the tokens are the vector and a weight element is broadcast;
  the register tile is (R × T). Groups of block rows that fill whole output vectors sweep the
  panels one at a time and transpose their small ``Yᵀ`` into ``y`` at the end. One-row blocks
  of 4+ columns (1x4 ... 1x32) share no loaded vector of Xᵀ between rows that way; their groups
  (``column_sweep``, 128 rows) sweep the block columns instead: a column's slice of a panel stays
  in L1 while each block with that column adds its tile into its row of ``Yᵀ``. 1x1 blocks, and
  the others at a long K (the FFN's second linear), sweep a panel in K slices of 384 columns
  (``k_slices``), every block row of a 128-row group per slice, the sums carried in ``Yᵀ``: a
  slice of the panel stays in the caches nearest the core while the group's rows read it.

Two variants of the rows family serve a long K (the FFN's second linear, K = 3072): with tiles
of a few tokens (AVX2) K is swept in slices (``k_slices``: one parallel sweep over every block
row per slice, the partial sums kept in ``y``, the blocks of a row sorted and indexed per slice
by ``pointers``), so that a block row's weights stay in L1 while its token tiles reread them;
and one-vector block rows (16x1 on AVX-512, 8x1 on AVX2) read x transposed (``x_by_column``),
so that a tile's broadcasts come from one cache line instead of one per token (also at a short K
when the weight has more rows than columns to share the copy: the FFN's first linear).

With tiles of a few tokens, one-column blocks (``prefetch``) have every tile prefetch its share
of the next block row's weights, which a first tile would otherwise wait on.

Both are parallel over block rows, except that the rows family with tiles of a few tokens
(AVX2) splits the tokens among the threads (``token_parts``), each sweeping every block row over
its share: x and y then stay in the core of the thread that writes and reads them, as they do
in the layer norm and the next linear. Where a tile's rows of x outweigh a block's weights
(AVX-512 16x1 and 32x1, AVX2 8x1, 8x8 and 16x1) the tokens are split into tiles of 8 (6 for
AVX2 16x1) that each sweep every block row in turn (``tile_sweeps``): a tile's x stays in L1
while the weights stream.

Partial block rows (N % R) and partial token tiles get their own copy of the loop nest with
static extents, so that the hot loops carry no bounds checks. With a dynamic token count
(``BsrPlan.dynamic``) M is a run-time size: the register tiles stay, and the partial token tile
is emitted once per possible size (``loops.tiles``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tvm import tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T
from tvm.tirx.script.builder.frame import ForFrame

from sparsec.codegen.epilogue import Epilogue
from sparsec.codegen.kernel import CompiledKernel
from sparsec.codegen.loops import (
    Body,
    Extent,
    balanced_tiles,
    ceil_div,
    stack_buffer,
    symbolic_tokens,
    tiles,
)
from sparsec.codegen.target import CpuTarget
from sparsec.ir.bsr import BSR, parse_block_shape
from sparsec.passes.sparsity_analysis import DEFAULT_BLOCK_SHAPES

BLOCK_SHAPES = tuple(parse_block_shape(text) for text in DEFAULT_BLOCK_SHAPES)
MAX_TOKEN_TILE = 12  # rows family: broadcasts per loaded weight vector
ONE_ROW_TOKENS = 32  # tokens family, one-row blocks: tokens per panel
UNROLL_LIMIT = 64  # fully unroll a block's (R, C) loops up to this many multiply-adds
SMALL_TILE = 8  # rows family: token tiles this small sweep K in slices of SLICE_COLUMNS
MIN_SWEEP_TILE = 6  # rows family: the fewest tokens a tile that sweeps every block row holds
SLICE_COLUMNS = 768
X_CACHED_BYTES = 1 << 20  # rows family: x above this size (an L2 cache) is read as xᵀ
SWEPT_COLUMNS = 4  # tokens family: one-row blocks this wide or wider are swept by block column
SWEEP_GROUP_ROWS = 128  # column sweep: rows per group (6 groups at N = 768: two threads' share)
PANEL_SLICE = 384  # tokens family: columns per K slice of a token panel (1x1: any longer K)
LINE_FLOATS = 16  # floats per 64-byte cache line
LONG_K_SLICES = 4  # tokens family, blocks other than 1x1: only a K of this many slices is sliced
Index = int | np.ndarray | tirx.Expr  # an index computed alike in the packing and the kernel
TileLoop = Callable[[Body], None]  # calls body(m0, tokens) for each token tile of one sweep


@dataclass(frozen=True)
class BsrPlan:
    """Shapes, block shape, loop-nest family and register tile of one BSR kernel."""

    m: int  # tokens; with ``dynamic``, the most tokens a call may pass
    n: int
    k: int
    block: tuple[int, int]
    lanes: int
    family: str  # "rows" or "tokens"
    token_tile: int  # tokens per register tile (a multiple of lanes in the tokens family)
    group_rows: int = 1  # tokens family: block rows that share one sweep over the token panels
    epilogue: Epilogue = field(default_factory=Epilogue)
    dynamic: bool = False  # M is a run-time size (≤ m)
    k_slices: int = 1  # K swept in this many slices, every block row each (pack)
    x_by_column: bool = False  # rows family: x read as xᵀ, a tile's tokens side by side
    column_sweep: bool = False  # tokens family: a group sweeps block columns, sums kept in yᵀ
    column_sweep_blocks: int = 1  # column sweep: blocks of one block column per register tile
    prefetch: bool = False  # rows family: each token tile prefetches its share of the next row
    token_parts: int = 1  # rows family: threads that each sweep every block row over their tokens
    tile_sweeps: bool = False  # token parts: each token tile sweeps every block row in turn

    @property
    def share_tokens(self) -> int:
        """Tokens of each thread's share with ``token_parts`` (static plans; all with one)."""
        return self.m // self.token_parts

    @property
    def sweep_tokens(self) -> int:
        """Tokens whose tiles sweep the block rows together (static plans): one tile, a
        thread's share of the tokens, or all of them."""
        return self.token_tile if self.tile_sweeps else self.share_tokens

    @property
    def row_blocks(self) -> int:
        """Block rows of the padded weight."""
        return ceil_div(self.n, self.block[0])

    @property
    def padded_m(self) -> int:
        """M padded up to whole vectors in the last token tile (tokens family)."""
        full, rest = divmod(self.m, self.token_tile)
        return full * self.token_tile + ceil_div(rest, self.lanes) * self.lanes

    @property
    def padded_k(self) -> int:
        """K padded up to whole block columns."""
        return ceil_div(self.k, self.block[1]) * self.block[1]

    @property
    def column_blocks(self) -> int:
        """Block columns of the padded weight."""
        return self.padded_k // self.block[1]

    @property
    def groups(self) -> int:
        """Groups of block rows (tokens family)."""
        return ceil_div(self.row_blocks, self.group_rows)

    @property
    def layout(self) -> str:
        """The name of the packed arrays' layout (``rows``, ``rows-4slices``, ``tokens``,
        ``tokens-2slices``, ``tokens-sweep128``: 128 block rows per group); kernels of one
        layout share them."""
        if self.column_sweep:
            return f"tokens-sweep{self.group_rows}"
        return self.family + (f"-{self.k_slices}slices" if self.k_slices > 1 else "")

    @property
    def pointer_cells(self) -> int:
        """Entries of ``pointers`` less one: one per block row (and K slice), or with a column
        sweep one per (group, block column)."""
        if self.column_sweep:
            return self.groups * self.column_blocks
        return self.row_blocks * self.k_slices

    @property
    def index_dtype(self) -> str:
        """``indices``' element type: 16 bits whenever every block column (or, with a column
        sweep, block row) fits, since each block's index is read from memory with its values
        (1x1 at 80 %: 1.1-1.2x faster with 2-byte indices than with 4-byte ones, Zen 4)."""
        largest = self.row_blocks if self.column_sweep else self.column_blocks
        return "uint16" if largest <= 1 << 16 else "int32"

    @property
    def slice_columns(self) -> int:
        """Block columns per K slice."""
        return ceil_div(self.padded_k // self.block[1], self.k_slices)

    def sliced_cell(self, first: Index, count: Index, k_slice: Index, offset: Index) -> Index:
        """The pointer cell of K slice ``k_slice`` of block row ``first + offset``, whose group
        of block rows starts at ``first`` and holds ``count``: cells run by group, then slice,
        then row, as the tokens family's groups read them. So a slice's rows are adjacent and
        the weights stream from memory in order; with them ordered by row, a slice read every
        K-th stretch of the group's weights: 1.02-1.07x slower at K = 768 and 1.22-1.43x at
        K = 3072 (1x1, 80 and 90 %, AVX-512 and AVX2 code on Zen 4, weights not yet in the
        caches). The rows family, a group per block row, keeps them ordered by row: ordered by
        slice they measured even there (AVX2, 8x8 to 32x32 at K = 3072)."""
        return first * self.k_slices + k_slice * count + offset

    def pack(self, weight: BSR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``data, indices, pointers`` in this kernel's layout: data ``[nnzb, C, R]`` for the
        rows family; with K slices, each block row's blocks sorted by column and ``pointers``
        ``[row_blocks · k_slices + 1]`` where each (block row, slice) starts, in the order of
        ``sliced_cell`` (with one slice, that is ``indptr``); with a column sweep, ``indices``
        holds each block's row and ``pointers [groups · column_blocks + 1]`` where each (group,
        block column) starts."""
        if weight.dense_shape != (self.n, self.k) or weight.block != self.block:
            raise ValueError(f"BSR weight {weight.dense_shape} with block {weight.block} does not "
                             f"fit kernel N={self.n} K={self.k} block {self.block}")
        data, indices, pointers = weight.data, weight.indices, weight.indptr
        if self.k_slices > 1:
            data, indices, pointers = self._sliced(weight)
        if self.column_sweep:
            data, indices, pointers = self._by_block_column(weight)
        if self.family == "rows":
            data = data.transpose(0, 2, 1)
        return (np.ascontiguousarray(data), indices.astype(self.index_dtype),
                pointers.astype(np.int32))

    def _sliced(self, weight: BSR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The blocks of each block row sorted by column; where each (block row, K slice)
        starts, cells in ``sliced_cell``'s order."""
        row = _block_row_of_each_block(weight)
        group = self.group_rows if self.family == "tokens" else 1  # rows: one per block row
        first = row // group * group
        count = np.minimum(group, self.row_blocks - first)
        cell = self.sliced_cell(first, count, weight.indices // self.slice_columns, row - first)
        order, pointers = _cells((weight.indices, cell), cell, self.pointer_cells)
        return weight.data[order], weight.indices[order], pointers

    def _by_block_column(self, weight: BSR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The blocks of each group sorted by column, then row; ``indices`` holds block rows and
        ``pointers`` where each (group, block column) starts."""
        row = _block_row_of_each_block(weight)
        group = row // self.group_rows
        cell = group * self.column_blocks + weight.indices
        order, pointers = _cells((row, weight.indices, group), cell, self.pointer_cells)
        return weight.data[order], row[order], pointers


def _block_row_of_each_block(weight: BSR) -> np.ndarray:
    return np.repeat(np.arange(len(weight.indptr) - 1, dtype=np.int32), np.diff(weight.indptr))


def _cells(keys: tuple[np.ndarray, ...], cell: np.ndarray,
           cells: int) -> tuple[np.ndarray, np.ndarray]:
    """The order of the blocks by ``keys`` (the last one major, as ``np.lexsort``), which runs
    through ``cell`` in ascending order, and where each of the ``cells`` starts in it."""
    pointers = np.zeros(cells + 1, np.int32)
    np.cumsum(np.bincount(cell, minlength=cells), out=pointers[1:])
    return np.lexsort(keys), pointers


def plan_bsr_linear(m: int, n: int, k: int, block: tuple[int, int], target: CpuTarget,
                    epilogue: Epilogue | None = None, dynamic: bool = False) -> BsrPlan:
    """Pick the loop-nest family and register tile for a BSR linear on ``target`` (``dynamic``:
    M is known only at run time, at most ``m``)."""
    rows, cols = block
    lanes = target.vector_lanes
    registers = 32 if lanes >= 16 else 16
    budget = registers - 8  # accumulators; the rest hold loaded weights and broadcasts
    epilogue = epilogue or Epilogue()
    if rows >= lanes:
        most = max(1, min(m, MAX_TOKEN_TILE, budget // (rows // lanes)))
        # A one-vector block row broadcasts one x element per multiply-add, from as many rows
        # of x as the tile has tokens; once x outgrows the L2 cache those are misses, and xᵀ
        # holds a tile's tokens in one line: 1.1-1.5x faster at K = 3072 (Zen 4, both widths).
        # The copy into xᵀ (M x K) is shared by N / R block rows: with more rows than columns
        # it pays even when x fits (N = 3072, K = 768, 90 %: 16x1 1.25-1.3x at M = 128-1024,
        # 8x1 AVX2 1.22x), with as many it does not (N = K = 768: 0.87-0.98x at M = 128).
        by_column = rows == lanes and cols == 1 and (m * k * 4 > X_CACHED_BYTES or n > k)
        # A sweeping tile's sums, its block row's vectors of weights and a broadcast in registers
        vectors = rows // lanes
        sweep_tile = min(SMALL_TILE, (registers - vectors - 2) // vectors)
        sweeps = not dynamic and _tile_sweeps(m, k, block, most, sweep_tile, by_column,
                                              target.num_threads)
        # Every token tile rereads its block row's weights: with tiles of 8 tokens or fewer
        # (AVX2) a long row falls out of L1 between rereads. Slices of 768 columns ran 1.15-1.4x
        # faster at K = 3072 (AVX2 code on Zen 4; 8x8 1.12-1.19x), slower at K = 768 and with
        # the 12-token tiles of AVX-512 (0.86-0.93x).
        slices = ceil_div(k, SLICE_COLUMNS) if most <= SMALL_TILE and not (by_column or sweeps) \
            else 1
        # A block row's weights come from memory once, for its first tile, and with small
        # tiles of one-column blocks (128 B each for 32x1) the core waits on them: each tile
        # prefetching its share of the next row ran 1.02-1.05x faster (32x1 and 16x1 90 %,
        # cold weights, AVX2 code on Zen 4; BERT-base 32x1 1.03x end to end). With xᵀ, wider
        # blocks or 12-token tiles (AVX-512) it measured even (0.94-1.07x); with tile sweeps,
        # where the weights stream in order, 0.84-0.93x.
        prefetch = most <= SMALL_TILE and cols == 1 and not (by_column or sweeps)
        if sweeps:
            most = sweep_tile
        tile = most if dynamic else _balanced(m, most)
        parts = _token_parts(m, most, target.num_threads) if not dynamic else 1
        if parts > 1:
            tile = _balanced(m // parts, most)
        return BsrPlan(m, n, k, block, lanes, "rows", tile, epilogue=epilogue, dynamic=dynamic,
                       k_slices=slices, x_by_column=by_column, prefetch=prefetch,
                       token_parts=parts, tile_sweeps=sweeps)
    if rows == 1 and cols >= SWEPT_COLUMNS:
        return _column_sweep_plan(m, n, k, block, lanes, budget, epilogue, dynamic,
                                  target.num_threads)
    # Every multiply-add loads a fresh vector of Xᵀ that only a block's R rows share. For R = 1,
    # panels of 32 tokens measured fastest at 70-90 % sparsity on both widths (2 AVX-512 or 4
    # AVX2 vectors; wider panels fall out of the caches, narrower ones reload the weights more
    # often: 16 tokens ran 20-30 % slower on Zen 3); R ≥ 2 takes as many as the registers hold.
    limit = max(1, ONE_ROW_TOKENS // lanes) if rows == 1 else budget // rows
    # Powers of two only: 3 vectors of 8x8 blocks ran 1.3-1.8x slower than 2 (Zen 4, M 128-384)
    limit = 1 << (max(1, limit).bit_length() - 1)
    vectors = limit if dynamic else _least_padding(ceil_div(m, lanes), limit)
    group = max(1, lanes // rows)  # a group's outputs fill whole vectors of y
    # K slices of a panel, swept by groups of 128 rows. 1x1: every multiply-add loads its own
    # 128 B of a 96 KiB+ panel, from L2; slices ran 1.06-1.38x faster (Zen 4, both widths,
    # M = 128, N and K in 768 / 3072, 80 and 90 %; slices of 64-128 columns or 16-token panels
    # ran slower). Other shapes: 1.0-1.3x at K = 3072 (2x2, 4x4, 2x1, 4x1; 8x8 on AVX-512 even),
    # 0.9-1.06x at K = 768, so only a long K is sliced.
    slices = ceil_div(k, PANEL_SLICE)
    if block != (1, 1) and slices < LONG_K_SLICES:
        slices = 1
    if slices > 1:
        group = max(1, SWEEP_GROUP_ROWS // rows)
    vectors, parts = _panel_parts(m, lanes, vectors, target.num_threads, dynamic)
    return BsrPlan(m, n, k, block, lanes, "tokens", lanes * vectors, group, epilogue, dynamic,
                   k_slices=slices, token_parts=parts)


def _token_parts(m: int, most: int, threads: int) -> int:
    """Threads that split the tokens of a rows-family kernel, each sweeping every block row
    over its share (1: the block rows are split instead). Split by block rows, every thread
    reads all of x, half of it written by the other thread's core, and writes columns of y
    that the next kernel reads by token: where the cores talk slowly (this VM's slow
    stretches: 330 ns a round trip instead of 50-90) BERT-base 32x1 on AVX2 ran 28.5 ms, split
    by tokens 23.9 (18.9 -> 18.3 ms when they talk fast). That needs tiles of a few tokens, so
    that each thread still rereads a block row's weights many times: with 12-token tiles
    (AVX-512) swept a block row at a time it ran 1.04x slower, the weights now streaming into
    both cores (8-token tiles that each sweep every row pay there: ``_tile_sweeps``)."""
    if threads < 2 or most > SMALL_TILE or m % threads or m // threads < 4 * most:
        return 1
    return threads


def _tile_sweeps(m: int, k: int, block: tuple[int, int], most: int, tile: int, by_column: bool,
                 threads: int) -> bool:
    """Whether the tokens are split (``_token_parts``) into tiles of ``tile`` tokens (at most
    ``SMALL_TILE``, as many as the registers hold) that each sweep every block row before the
    next tile starts. A tile then keeps its rows of x (8 of 768 floats: 24 KiB) in L1 while the
    weights stream past, instead of a block row keeping its weights while the tiles' rows of x
    come from L2: a line of x per token per block (one with xᵀ) against a block's R·C/16 lines
    of weights. Where x's lines outnumber the weights' it ran 1.1-1.4x faster: AVX-512 16x1
    1.38x and 32x1 1.12-1.23x (12-token tiles before), AVX2 8x1 1.04-1.28x, 8x8 1.06-1.14x and
    16x1 (6-token tiles instead of 4) 1.09-1.38x (Zen 4, M = 128, N and K in 768 / 3072, 90 %,
    weights not yet in the caches and in them; medians of 4-6 processes). With tiles of 4 or
    2 tokens (AVX2 16x1 and 32x1 as they were) 0.7-1.05x, and at K = 3072 with x sliced or
    transposed (AVX2 8x8 0.88-1.05x, 8x1 0.88-0.97x, 16x1 0.96x).

    Blocks a line of x wide whose sweeping tiles hold more tokens than a tile that stays on one
    block row (AVX2 16x16: 6 against 4) sweep although their weights outweigh x: 1.20-1.30x
    with the weights cold, 1.14-1.19x hot, at every K (6-token tiles on one block row at a time
    1.11-1.16x); AVX-512 16x16, whose 12-token tiles stay, 0.90-1.16x with 8-token sweeps."""
    x_lines = 1 if by_column else tile
    weight_lines = block[0] * block[1] / LINE_FLOATS
    wide = block[1] >= LINE_FLOATS and tile > most
    sliced_or_transposed = k > SLICE_COLUMNS and (by_column or most <= SMALL_TILE) and not wide
    return (tile >= MIN_SWEEP_TILE and (x_lines > weight_lines or wide)
            and not sliced_or_transposed and _token_parts(m, tile, threads) > 1)


def _panel_parts(m: int, lanes: int, vectors: int, threads: int,
                 dynamic: bool) -> tuple[int, int]:
    """Vectors per token panel and the threads that split the panels of a tokens-family kernel,
    each transposing its share of x and sweeping every group of block rows over it (1: the
    groups are split instead). Split by groups, every thread read all of xᵀ, half of it written
    by the other core, and wrote columns of y for every token; split by panels, each reads all
    the weights (which no core writes) instead: 1.04-1.27x on AVX-512 (1x1, 4x4, 8x8, 1x32) and
    1.01-1.66x on AVX2 (1x1, 2x2, 4x4, 4x1, 1x8), Zen 4, M = 128, N and K in 768 / 3072, 90 %,
    medians of 4 processes. Every thread needs whole panels of a static token count, so a
    panel of all the tokens is halved until they split (AVX-512 2x2 and 2x1: 128 tokens into
    two panels of 64, 1.10-1.27x)."""
    if not dynamic and threads > 1:
        for fewer in (vectors >> i for i in range(vectors.bit_length())):  # powers of two
            if m % (threads * lanes * fewer) == 0:
                return fewer, threads
    return vectors, 1


def _column_sweep_plan(m: int, n: int, k: int, block: tuple[int, int], lanes: int, budget: int,
                       epilogue: Epilogue, dynamic: bool, threads: int) -> BsrPlan:
    """One-row blocks of 4+ columns, swept by block column (``column_sweep``): measured
    1.2-1.9x faster than sweeping block rows (Zen 4, both widths, M = 128, 90 %), where every
    multiply-add loaded its vector of Xᵀ from L2. A 32-column block amortizes its reads and
    writes of yᵀ over more multiply-adds and takes 64 tokens (AVX-512: 4 blocks at a time, so
    that each loaded vector of Xᵀ serves 4 rows; another 12-15 %); narrower ones 32 tokens, one
    block at a time (more blocks per tile ran slower)."""
    wide = block[1] >= 32
    blocks = 4 if wide and budget >= 16 else 1  # 4 blocks x 4 vectors of sums (AVX-512)
    limit = min((64 if wide else ONE_ROW_TOKENS) // lanes, budget // blocks)
    vectors = limit if dynamic else _least_padding(ceil_div(m, lanes), limit)
    vectors, parts = _panel_parts(m, lanes, vectors, threads, dynamic)
    return BsrPlan(m, n, k, block, lanes, "tokens", lanes * vectors, SWEEP_GROUP_ROWS, epilogue,
                   dynamic, column_sweep=True, column_sweep_blocks=blocks, token_parts=parts)


def build_bsr_linear(m: int, n: int, k: int, block: tuple[int, int], target: CpuTarget,
                     epilogue: Epilogue | None = None, dynamic: bool = False) -> BsrLinear:
    """Generate, schedule and compile the BSR linear kernel for these shapes on ``target``."""
    plan = plan_bsr_linear(m, n, k, block, target, epilogue, dynamic)
    return BsrLinear(plan, CompiledKernel(bsr_linear_func(plan), "bsr_linear", target))


class BsrLinear:
    """A compiled BSR linear kernel; call it with numpy arrays."""

    def __init__(self, plan: BsrPlan, kernel: CompiledKernel) -> None:
        self.plan = plan
        self.kernel = kernel

    def arguments(self, x: np.ndarray, weight: BSR, bias: np.ndarray | None = None,
                  residual: np.ndarray | None = None) -> list[np.ndarray]:
        """The kernel's argument list, output ``y`` last (zero-filled)."""
        plan = self.plan
        args = [np.ascontiguousarray(x, np.float32), *plan.pack(weight)]
        if plan.epilogue.bias:
            args.append(np.ascontiguousarray(bias, np.float32))
        if plan.epilogue.residual:
            args.append(np.ascontiguousarray(residual, np.float32))
        return [*args, np.zeros((len(args[0]), plan.n), np.float32)]

    def __call__(self, x: np.ndarray, weight: BSR, bias: np.ndarray | None = None,
                 residual: np.ndarray | None = None) -> np.ndarray:
        """``Y = epilogue(x · Wᵀ)`` as a new numpy array."""
        tensors = self.kernel.tensors(*self.arguments(x, weight, bias, residual))
        self.kernel.run(*tensors)
        return tensors[-1].numpy()


def bsr_linear_func(plan: BsrPlan) -> tirx.PrimFunc:
    """The scheduled TIR loop nest of ``plan`` (arguments: x, then ``plan.pack``'s data,
    indices and pointers, the epilogue's arguments, y)."""
    if plan.token_parts > 1 and (plan.dynamic or plan.m % plan.token_parts or (
            plan.family == "tokens" and plan.share_tokens % plan.token_tile)):
        raise ValueError(f"token parts need a static token count they divide (into whole "
                         f"panels), not {plan.m}{' (dynamic)' if plan.dynamic else ''} in "
                         f"{plan.token_parts}")
    rows, cols = plan.block
    data_shape = (cols, rows) if plan.family == "rows" else (rows, cols)
    with IRBuilder() as builder, T.prim_func():
        T.func_name("bsr_linear")
        T.func_attr({"tirx.noalias": True})
        nnzb = tirx.Var("nnzb", "int32")
        m = symbolic_tokens() if plan.dynamic else plan.m
        x = T.arg("x", T.Buffer((m, plan.k), "float32"))
        data = T.arg("data", T.Buffer((nnzb, *data_shape), "float32"))
        indices = T.arg("indices", T.Buffer((nnzb,), plan.index_dtype))
        indptr = T.arg("indptr", T.Buffer((plan.pointer_cells + 1,), "int32"))
        extra = plan.epilogue.declare_args(m, plan.n)
        y = T.arg("y", T.Buffer((m, plan.n), "float32"))
        kernel = _Kernel(plan, m, data, indices, indptr, extra, y)
        if plan.family == "rows":
            kernel.emit_rows(_by_column(plan, m, x) if plan.x_by_column
                             else _padded_columns(plan, m, x))
        else:
            kernel.emit_tokens(x)
    return builder.get()


@dataclass
class _Kernel:
    """Emits the loop nest of one plan into the current IRBuilder frame."""

    plan: BsrPlan
    m: Extent  # tokens: plan.m, or a symbolic size
    data: tirx.Buffer
    indices: tirx.Buffer
    indptr: tirx.Buffer
    extra: dict[str, tirx.Buffer]
    y: tirx.Buffer

    def emit_rows(self, x: tirx.Buffer) -> None:
        """Rows family: vector over a block's rows, ``x [M, Kp]`` element broadcast."""
        rows, cols = self.plan.block

        def tile(acc: tirx.Buffer, row_block: tirx.PrimExpr, m0: tirx.PrimExpr, tokens: int,
                 valid_rows: int, k_slice: tirx.PrimExpr | None, last: bool) -> None:
            self._fill(acc, tokens, rows)
            if self.plan.prefetch:
                self._prefetch_next_row(row_block, m0, k_slice)
            start = row_block
            if k_slice is not None:  # a later K slice goes on from the sums left in y
                start = self.plan.sliced_cell(row_block, 1, k_slice, 0)
                with T.unroll(0, tokens) as t, T.vectorized(0, valid_rows) as r:
                    earlier = self.y[m0 + t, row_block * rows + r]
                    T.buffer_store(acc, tirx.Select(k_slice == 0, tirx.const(0.0, "float32"),
                                                    earlier), [t, r])
            with T.serial(self.indptr[start], self.indptr[start + 1]) as j:
                column = self._index(j) * cols
                with _loop(cols, cols * rows * tokens) as c, T.unroll(0, tokens) as t, \
                        T.vectorized(0, rows) as r:
                    value = (x[column + c, m0 + t] if self.plan.x_by_column
                             else x[m0 + t, column + c])
                    T.buffer_store(acc, acc[t, r] + self.data[j, c, r] * value, [t, r])
            with T.unroll(0, tokens) as t, T.vectorized(0, valid_rows) as r:
                if last:
                    self._store(acc[t, r], m0 + t, row_block * rows + r)
                else:
                    T.buffer_store(self.y, acc[t, r], [m0 + t, row_block * rows + r])

        self._emit_row_blocks(tile)

    def emit_tokens(self, x: tirx.Buffer) -> None:
        """Tokens family: vector over the tokens of a panel of ``xt [tiles, Kp, T]`` (x
        transposed), weight element broadcast. Groups of block rows run in parallel; a group
        sweeps the token panels in its outer loop (one panel serves all its rows) and collects
        its tiles in a small ``Yᵀ`` buffer, which it then writes to ``y`` transposed, through
        the epilogue: storing the tiles straight into ``y`` strides it by N floats, and those
        stores all fall into the same few cache sets. With ``token_parts`` the threads split the
        token panels instead, each transposing its share of x and sweeping every group over it,
        so that its panels and its rows of y never leave its core."""
        plan = self.plan
        xt = _token_panels(plan, self.m)
        if plan.token_parts > 1:
            size = plan.share_tokens
            with T.parallel(0, plan.token_parts) as part:
                share = _Share(part * size, size, size)
                _transpose(plan, x, xt, share, T.serial)
                self._groups(xt, share, T.serial)
            return
        share = _Share(0, self.m, self._padded_tokens())
        _transpose(plan, x, xt, share, T.parallel)
        self._groups(xt, share, T.parallel)

    def _groups(self, xt: tirx.Buffer, share: _Share,
                loop: Callable[[int, Extent], ForFrame]) -> None:
        """Every group of block rows (in ``loop``) over the token panels of ``share``."""
        plan = self.plan
        rows, cols = plan.block
        lanes = plan.lanes

        def tile(acc: tirx.Buffer, yt: tirx.Buffer, cell: tirx.PrimExpr,
                 yt_row: tirx.PrimExpr, tile_index: tirx.PrimExpr, token0: tirx.PrimExpr,
                 tokens: int, carried: tirx.PrimExpr | None = None) -> None:
            """The blocks of pointer cell ``cell`` (a block row, or one K slice of it) into
            rows ``yt_row ...`` of ``yt`` (from column ``token0``); ``carried``: start from the
            sums already there."""
            # Vectors of exactly one register: LLVM splits a <48 x float> (3 or 6 vectors of a
            # panel) so badly that such a panel ran 4-20x slower than one of 2 or 4 (Zen 4).
            vectors = ceil_div(tokens, lanes)
            if carried is None:
                self._fill(acc, rows, vectors * lanes)
            else:
                with T.unroll(0, rows) as r, T.unroll(0, vectors) as v, \
                        T.vectorized(0, lanes) as t:
                    T.buffer_store(acc, tirx.Select(carried, yt[yt_row + r, token0 + v * lanes + t],
                                                    tirx.const(0.0, "float32")),
                                   [r, v * lanes + t])
            with T.serial(self.indptr[cell], self.indptr[cell + 1]) as j:
                column = self._index(j) * cols
                with _loop(cols, cols * rows * vectors) as c, T.unroll(0, vectors) as v, \
                        T.unroll(0, rows) as r, T.vectorized(0, lanes) as t:
                    token = v * lanes + t
                    T.buffer_store(acc, acc[r, token] + self.data[j, r, c]
                                   * xt[tile_index, column + c, token], [r, token])
            with T.unroll(0, rows) as r, T.unroll(0, vectors) as v, T.vectorized(0, lanes) as t:
                T.buffer_store(yt, acc[r, v * lanes + t], [yt_row + r, token0 + v * lanes + t])

        def group(index: tirx.PrimExpr, first: tirx.PrimExpr, count: int, outputs: int) -> None:
            yt = T.alloc_buffer((count * rows, share.width), "float32")
            # one for all copies of the tile
            acc = stack_buffer((rows * plan.column_sweep_blocks, plan.token_tile))
            if plan.column_sweep:
                self._column_sweep(acc, yt, xt, index, first, count, share)
            else:
                def panel(tile_index: tirx.PrimExpr, token0: tirx.PrimExpr, tokens: int) -> None:
                    slices = plan.k_slices  # outermost: a slice serves every row of the group
                    with T.serial(0, slices) as k_slice, T.serial(0, count) as r:
                        tile(acc, yt, plan.sliced_cell(first, count, k_slice, r), r * rows,
                             tile_index, token0, tokens,
                             carried=k_slice > 0 if slices > 1 else None)

                self._panels(panel, share)

            def store(i0: tirx.PrimExpr, width: int) -> None:
                with T.serial(0, share.tokens) as m, T.vectorized(0, width) as i:
                    self._store(yt[i0 + i, m], share.start + m, first * rows + i0 + i)

            tiles(outputs, lanes, store)

        size = plan.group_rows
        full_groups, rest_blocks = divmod(plan.row_blocks, size)
        if full_groups:
            with loop(0, full_groups) as g:
                group(g, g * size, size, size * rows)
        if rest_blocks:
            first = full_groups * size
            group(tirx.const(full_groups, "int32"), tirx.const(first, "int32"), rest_blocks,
                  plan.n - first * rows)

    def _column_sweep(self, acc: tirx.Buffer, yt: tirx.Buffer, xt: tirx.Buffer,
                      group: tirx.PrimExpr, first: tirx.PrimExpr, count: int,
                      share: _Share) -> None:
        """A group's sums in ``yt``, one block column at a time: the column's slice of a token
        panel (C · T floats) stays in L1 while every block row of the group with a block there
        reads it, and each block adds its register tile into its rows of ``yt``."""
        plan = self.plan
        rows, cols = plan.block
        lanes = plan.lanes
        with T.serial(0, count * rows) as r, T.serial(0, share.width // lanes) as v, \
                T.vectorized(0, lanes) as t:
            T.buffer_store(yt, tirx.const(0.0, "float32"), [r, v * lanes + t])

        blocks = plan.column_sweep_blocks

        def add_blocks(j0: tirx.PrimExpr, tile_blocks: int, tile_index: tirx.PrimExpr,
                       token0: tirx.PrimExpr, column_block: tirx.PrimExpr, vectors: int) -> None:
            """Blocks j0 .. j0 + tile_blocks - 1 (one block column) into their rows of yt."""

            def rows_of_yt(body: Callable[[tirx.PrimExpr, tirx.PrimExpr, tirx.PrimExpr], None]):
                with T.unroll(0, tile_blocks) as b, T.unroll(0, rows) as r, \
                        T.unroll(0, vectors) as v, T.vectorized(0, lanes) as t:
                    body((self._index(j0 + b) - first) * rows + r, b * rows + r, v * lanes + t)

            rows_of_yt(lambda row, sums, token: T.buffer_store(
                acc, yt[row, token0 + token], [sums, token]))
            with _loop(cols, cols * rows * vectors * tile_blocks) as c, \
                    T.unroll(0, vectors) as v, T.unroll(0, tile_blocks) as b, \
                    T.unroll(0, rows) as r, T.vectorized(0, lanes) as t:
                token, sums = v * lanes + t, b * rows + r
                T.buffer_store(acc, acc[sums, token] + self.data[j0 + b, r, c]
                               * xt[tile_index, column_block * cols + c, token], [sums, token])
            rows_of_yt(lambda row, sums, token: T.buffer_store(
                yt, acc[sums, token], [row, token0 + token]))

        def panel(tile_index: tirx.PrimExpr, token0: tirx.PrimExpr, tokens: int) -> None:
            vectors = ceil_div(tokens, lanes)
            with T.serial(0, plan.column_blocks) as column_block:
                cell = group * plan.column_blocks + column_block
                begin, end = self.indptr[cell], self.indptr[cell + 1]
                with T.serial(0, (end - begin) // blocks) as i:
                    add_blocks(begin + i * blocks, blocks, tile_index, token0, column_block,
                               vectors)
                if blocks > 1:
                    with T.serial(begin + (end - begin) // blocks * blocks, end) as j:
                        add_blocks(j, 1, tile_index, token0, column_block, vectors)

        self._panels(panel, share)

    def _panels(self, panel: Callable[[tirx.PrimExpr, tirx.PrimExpr, int], None],
                share: _Share) -> None:
        """``panel(index, token0, tokens)`` for every token panel of ``share`` (``token0``: its
        first token's column in the share's ``yt``): whole panels in a loop, then the partial one
        (with a symbolic M, one copy per width in whole vectors: lanes past M are computed but
        never stored)."""
        size, lanes = self.plan.token_tile, self.plan.lanes
        if isinstance(share.tokens, int):
            first = share.start // size
            full_tiles, rest_tokens = divmod(share.tokens, size)
            if full_tiles:
                with T.serial(0, full_tiles) as tile_index:
                    panel(first + tile_index, tile_index * size, size)
            if rest_tokens:
                panel(first + full_tiles, tirx.const(full_tiles * size, "int32"), rest_tokens)
            return
        with T.serial(0, share.tokens // size) as tile_index:
            panel(tile_index, tile_index * size, size)
        for vectors in range(1, size // lanes + 1):
            with T.If(ceil_div(share.tokens % size, lanes) == vectors), T.Then():
                whole = share.tokens // size
                panel(whole, whole * size, vectors * lanes)

    def _padded_tokens(self) -> Extent:
        """M padded up as the token panels cover it."""
        if isinstance(self.m, int):
            return self.plan.padded_m
        return ceil_div(self.m, self.plan.token_tile) * self.plan.token_tile

    def _emit_row_blocks(self, tile: Callable[..., None]) -> None:
        """Block rows in parallel, or with ``token_parts`` the threads' shares of the token
        tiles in parallel, each sweeping every block row (with ``tile_sweeps`` one tile at a
        time); the partial last block row gets its own static-extent copy. K slices, if any,
        are swept outermost (within a thread's share when the tokens are split): a slice of x
        stays in the cache while every block row uses it.

        Every tile of a block row shares one accumulator: one over 1 KiB (12 tokens x 32 rows)
        comes from TVM's workspace pool (``loops.stack_buffer``), at the top of the parallel
        body, and a symbolic M's copies of the tile (one per remainder) would each allocate and
        free theirs on every block row, whichever runs: 35 pool calls per block row cost more
        than the tiles."""
        rows = self.plan.block[0]
        full_rows, rest_rows = divmod(self.plan.n, rows)
        size = self.plan.token_tile

        def rows_of(block_row: Callable[[tirx.PrimExpr, int], None], loop=T.parallel) -> None:
            if full_rows:
                with loop(0, full_rows) as row_block:
                    block_row(row_block, rows)
            if rest_rows:
                block_row(tirx.const(full_rows, "int32"), rest_rows)

        if self.plan.token_parts > 1:
            with T.parallel(0, self.plan.token_parts) as part:
                acc = stack_buffer((size, rows))
                sweeps = self._token_sweeps(part)
                self._sliced(lambda k_slice, last: sweeps(lambda tiles_of: rows_of(
                    lambda row_block, valid: tiles_of(lambda m0, tokens: tile(
                        acc, row_block, m0, tokens, valid, k_slice, last)), T.serial)))
            return

        def block_row(row_block: tirx.PrimExpr, valid_rows: int, k_slice: tirx.PrimExpr | None,
                      last: bool) -> None:
            acc = stack_buffer((size, rows))
            balanced_tiles(self.m, size, lambda m0, tokens: tile(
                acc, row_block, m0, tokens, valid_rows, k_slice, last))

        self._sliced(lambda k_slice, last: rows_of(
            lambda row_block, valid: block_row(row_block, valid, k_slice, last)))

    def _sliced(self, sweep: Callable[[tirx.PrimExpr | None, bool], None]) -> None:
        """``sweep(k_slice, last)`` over the K slices (``None`` without slices)."""
        slices = self.plan.k_slices
        if slices == 1:
            sweep(None, True)
            return
        with T.serial(0, slices - 1) as k_slice:
            sweep(k_slice, False)
        sweep(tirx.const(slices - 1, "int32"), True)

    def _token_sweeps(self, part: tirx.PrimExpr) -> Callable[[Callable[[TileLoop], None]], None]:
        """The sweeps over the block rows of thread share ``part`` (M / token_parts tokens):
        ``sweep(tiles_of)`` once for the share, or with ``tile_sweeps`` once per token tile, where
        ``tiles_of(body)`` calls ``body(m0, tokens)`` for each tile of that sweep."""
        plan = self.plan
        share, size = plan.share_tokens, plan.token_tile
        start = part * share

        def sweeps(sweep: Callable[[TileLoop], None]) -> None:
            if plan.tile_sweeps:
                tiles(share, size, lambda m0, count: sweep(lambda body: body(start + m0, count)))
            else:
                sweep(lambda body: tiles(share, size, lambda m0, count: body(start + m0, count)))

        return sweeps

    def _prefetch_next_row(self, row_block: tirx.PrimExpr, m0: tirx.PrimExpr,
                           k_slice: tirx.PrimExpr | None) -> None:
        """Prefetch this token tile's share of the weights of the block row (or K slice of it)
        that this thread reads next: spread over the row's tiles, the next row streams in from
        memory while this one is computed."""
        plan = self.plan
        rows, cols = plan.block
        floats = rows * cols
        following = row_block + 1
        if k_slice is not None:
            following = plan.sliced_cell(following, 1, k_slice, 0)
        cell = tirx.min(following, plan.pointer_cells - 1)
        begin = self.indptr[cell]
        lines = ceil_div((self.indptr[cell + 1] - begin) * floats, LINE_FLOATS)
        size = plan.token_tile
        tokens = plan.sweep_tokens if plan.token_parts > 1 else self.m  # that sweep the rows
        share = ceil_div(lines, ceil_div(tokens, size))
        first = (m0 % tokens // size if plan.token_parts > 1 else m0 // size) * share
        with T.serial(0, share) as i, T.If(first + i < lines), T.Then():
            offset = begin * floats + (first + i) * LINE_FLOATS
            within = offset % floats
            element = self.data[offset // floats, within // rows, within % rows]
            address = tirx.call_intrin("handle", "tirx.address_of", element)
            # read, keep in every cache level, data cache
            T.evaluate(tirx.call_llvm_intrin("void", "llvm.prefetch.p0", address,
                                             *(tirx.const(v, "int32") for v in (0, 3, 1))))

    def _index(self, j: tirx.PrimExpr) -> tirx.PrimExpr:
        """Block ``j``'s entry of ``indices`` as an int32."""
        return self.indices[j].astype("int32")

    def _fill(self, acc: tirx.Buffer, outer: int, inner: int) -> None:
        """Zero ``acc[:outer, :inner]``, one register-wide store at a time (then the rest)."""
        lanes = self.plan.lanes
        vectors, rest = divmod(inner, lanes)
        zero = tirx.const(0.0, "float32")
        with T.unroll(0, outer) as a:
            if vectors:
                with T.unroll(0, vectors) as v, T.vectorized(0, lanes) as b:
                    T.buffer_store(acc, zero, [a, v * lanes + b])
            if rest:
                with T.vectorized(0, rest) as b:
                    T.buffer_store(acc, zero, [a, vectors * lanes + b])

    def _store(self, value: tirx.PrimExpr, m: tirx.PrimExpr, n: tirx.PrimExpr) -> None:
        T.buffer_store(self.y, self.plan.epilogue.apply(value, self.extra, m, n), [m, n])


def _padded_columns(plan: BsrPlan, tokens: Extent, x: tirx.Buffer) -> tirx.Buffer:
    """``x`` itself, or a zero-padded copy ``[M, Kp]`` when K is not a whole number of blocks."""
    if plan.padded_k == plan.k:
        return x
    padded = T.alloc_buffer((tokens, plan.padded_k), "float32")
    with T.parallel(0, tokens) as m, T.vectorized(0, plan.padded_k) as k:
        T.buffer_store(padded, tirx.if_then_else(k < plan.k, x[m, k], 0.0), [m, k])
    return padded


def _by_column(plan: BsrPlan, tokens: Extent, x: tirx.Buffer) -> tirx.Buffer:
    """``xᵀ [Kp, S]``, rows past K zeroed. The row stride S ≥ M is an odd number of cache
    lines, a precaution: at a power-of-two stride the rows a tile reads would share a few cache
    sets (at M = 128 it made no measurable difference)."""
    lines = ceil_div(tokens, 16) // 2 * 2 + 1
    xt = T.alloc_buffer((plan.padded_k, lines * 16), "float32")

    def copy(m0: tirx.PrimExpr, count: int) -> None:
        def columns(k0: tirx.PrimExpr, width: int) -> None:
            with T.unroll(0, count) as t, T.vectorized(0, width) as k:
                T.buffer_store(xt, x[m0 + t, k0 + k], [k0 + k, m0 + t])

        tiles(plan.k, plan.lanes, columns)

    tiles(tokens, plan.lanes, copy, T.parallel)
    if plan.padded_k > plan.k:
        with T.serial(plan.k, plan.padded_k) as k, T.serial(0, tokens) as t:
            T.buffer_store(xt, tirx.const(0.0, "float32"), [k, t])
    return xt


@dataclass(frozen=True)
class _Share:
    """The tokens that one sweep over the token panels covers: all of them, or a thread's."""

    start: Index  # the first token: a multiple of the panel size
    tokens: Extent
    width: Extent  # the tokens padded up as the panels cover them: columns of yᵀ


def _token_panels(plan: BsrPlan, tokens: Extent) -> tirx.Buffer:
    """``Xᵀ`` in token panels ``[tiles, Kp, T]``, so that a panel is contiguous."""
    return T.alloc_buffer((ceil_div(tokens, plan.token_tile), plan.padded_k, plan.token_tile),
                          "float32")


def _transpose(plan: BsrPlan, x: tirx.Buffer, xt: tirx.Buffer, share: _Share,
               loop: Callable[[int, Extent], ForFrame]) -> None:
    """The tokens of ``share`` from ``x`` into their panels of ``xt`` (vectors of them in
    ``loop``); rows past K are zeroed (padded blocks multiply them), tokens past M are left as
    they are (they only reach output lanes that are never stored)."""
    size = plan.token_tile

    # Scattering a row of x beats gathering a column of it.
    def copy(m0: tirx.PrimExpr, count: int) -> None:
        token = share.start + m0  # a whole vector into the share: within one panel

        def columns(k0: tirx.PrimExpr, width: int) -> None:
            with T.unroll(0, count) as t, T.vectorized(0, width) as k:
                T.buffer_store(xt, x[token + t, k0 + k], [token // size, k0 + k, token % size + t])

        tiles(plan.k, plan.lanes, columns)

    tiles(share.tokens, plan.lanes, copy, loop)
    if plan.padded_k > plan.k:
        with T.serial(0, ceil_div(share.tokens, size)) as tile, \
                T.serial(plan.k, plan.padded_k) as k, T.vectorized(0, size) as t:
            T.buffer_store(xt, tirx.const(0.0, "float32"), [share.start // size + tile, k, t])


def _loop(extent: int, unrolled_work: int) -> ForFrame:
    """A loop that is unrolled when its body stays small, else kept serial."""
    return T.unroll(0, extent) if unrolled_work <= UNROLL_LIMIT * 4 else T.serial(0, extent)


def _balanced(total: int, tile: int) -> int:
    """The smallest tile that covers ``total`` in as few tiles as ``tile`` does."""
    return ceil_div(total, ceil_div(total, tile))


def _least_padding(vectors: int, limit: int) -> int:
    """Vectors per tile (a power of two ≤ limit) that cover ``vectors`` with the least padding,
    largest first."""
    counts = [1 << i for i in range(limit.bit_length())]  # limit is one itself
    return min(counts, key=lambda v: (ceil_div(vectors, v) * v, -v))
