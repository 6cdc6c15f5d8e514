"""BSR linear kernels against numpy: every block shape × density × token count, padded and
empty block rows, empty weights, epilogues, and three vector widths.

One kernel is compiled per (block shape, M, target) and reused for every density: the number of
blocks is a symbolic size of the kernel.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pytest

from sparsec.codegen.bsr_linear import (
    BLOCK_SHAPES,
    BsrLinear,
    bsr_linear_func,
    build_bsr_linear,
    plan_bsr_linear,
)
from sparsec.codegen.epilogue import Epilogue
from sparsec.codegen.kernel import CompiledKernel
from sparsec.codegen.target import parse_target
from sparsec.ir.bsr import BSR, bsr_to_dense, dense_to_bsr

N, K = 50, 70  # neither is a whole number of blocks for most shapes
DENSITIES = (0.0, 0.05, 0.3, 1.0)
TOKENS = (1, 7, 128)
BIAS = Epilogue()
# Planning tests name their target; tests that execute a kernel run the host and every named
# target the host can execute (an AVX-512 plan still compiles and plans on an AVX2-only host).
TARGETS = {"host": "llvm", "avx512": "llvm -mcpu=skylake-avx512", "znver3": "llvm -mcpu=znver3",
           "avx2": "llvm -mcpu=haswell", "sse": "llvm -mcpu=x86-64"}


def runnable(name: str) -> str:
    """``name``, or a skip when the host cannot execute code for that target."""
    if not parse_target(TARGETS[name]).runs_on_host():
        pytest.skip(f"this host cannot run {TARGETS[name]!r} code")
    return name


@functools.cache
def kernel(block, m, target="host", n=N, k=K, epilogue=BIAS):
    return build_bsr_linear(m, n, k, block, parse_target(TARGETS[target], num_threads=2), epilogue)


def block_sparse(n, k, block, density, seed):
    """A random ``W [n, k]`` whose nonzeros fill about ``density`` of the (padded) blocks."""
    rng = np.random.default_rng(seed)
    rows, cols = block
    mask = rng.random((-(-n // rows), -(-k // cols))) < density
    return (rng.standard_normal((n, k)) * np.kron(mask, np.ones(block))[:n, :k]).astype(np.float32)


def check(kern, weight, seed=0, bias=True, m=None):
    m, n = m or kern.plan.m, kern.plan.n
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((m, weight.shape[1])).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32) if bias else None
    bsr = dense_to_bsr(weight, kern.plan.block)
    expected = x.astype(np.float64) @ weight.T.astype(np.float64) + (b if bias else 0)
    np.testing.assert_allclose(kern(x, bsr, b), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("m", TOKENS)
@pytest.mark.parametrize("block", BLOCK_SHAPES, ids=lambda b: f"{b[0]}x{b[1]}")
def test_every_block_shape_density_and_token_count(block, m):
    for density in DENSITIES:
        check(kernel(block, m), block_sparse(N, K, block, density, seed=m), seed=m)


# Token counts around every tile size a dynamic plan can pick (1..12 rows-family tokens, 8-32
# tokens-family panels): every partial tile and panel width, and whole ones.
DYNAMIC_TOKENS = (1, 2, 5, 8, 11, 12, 13, 24, 31, 33, 64, 100)


@pytest.mark.parametrize("target", ["host", "znver3", "avx512"])
@pytest.mark.parametrize("block", [(32, 1), (16, 1), (8, 8), (4, 4), (1, 1), (1, 32), (2, 1)],
                         ids=str)
def test_one_dynamic_kernel_serves_every_token_count(block, target):
    dynamic = build_bsr_linear(128, N, K, block, parse_target(TARGETS[runnable(target)],
                                                               num_threads=2), BIAS, dynamic=True)
    weight = block_sparse(N, K, block, 0.3, seed=5)
    for m in DYNAMIC_TOKENS:
        check(dynamic, weight, seed=m, m=m)


@pytest.mark.parametrize("spec", ["llvm -mcpu=znver3", "llvm -mcpu=skylake-avx512"])
def test_a_dynamic_kernel_shares_one_accumulator_across_its_tile_copies(spec):
    # A symbolic M has a copy of the register tile per remainder; each copy allocating its own
    # accumulator (over 1 KiB: from TVM's workspace pool) cost ~35 pool calls per block row,
    # which made the dynamic kernel 2.5x slower than the static one at 16 tokens.
    kernel = build_bsr_linear(128, 3072, 768, (32, 1), parse_target(spec, num_threads=2), BIAS,
                              dynamic=True)
    assembly = kernel.kernel.executable.mod.inspect_source("asm")
    assert assembly.count("AllocWorkspace@GOTPCREL") <= 4


@pytest.mark.parametrize("target", ["avx512", "znver3"])
@pytest.mark.parametrize("block", [(32, 1), (1, 1), (4, 4)], ids=str)
def test_dynamic_plan_takes_the_largest_register_tile(block, target):
    spec = parse_target(TARGETS[target])
    dynamic = plan_bsr_linear(128, N, K, block, spec, dynamic=True)
    static = plan_bsr_linear(120, N, K, block, spec)  # balanced down for 120 tokens
    assert dynamic.dynamic and dynamic.family == static.family
    assert dynamic.token_tile >= static.token_tile
    larger = plan_bsr_linear(4096, N, K, block, spec, dynamic=True)
    assert dynamic.token_tile == larger.token_tile  # the tile does not depend on the maximum


@pytest.mark.parametrize("target", ["avx512", "znver3"])
@pytest.mark.parametrize("block", [(2, 1), (4, 4), (8, 8), (4, 1), (8, 1), (1, 1)], ids=str)
@pytest.mark.parametrize("m", [24, 48, 128, 384, 1024])
def test_token_panels_are_a_power_of_two_vectors(block, target, m):
    # 3 or 6 vectors (48 or 96 tokens on AVX-512) measured 1.3-1.8x slower than 2 or 4
    for dynamic in (False, True):
        plan = plan_bsr_linear(m, N, K, block, parse_target(TARGETS[target]), dynamic=dynamic)
        if plan.family == "tokens":
            vectors = plan.token_tile // plan.lanes
            assert vectors & (vectors - 1) == 0, (plan.token_tile, plan.lanes)


def test_dynamic_epilogue_takes_a_residual_of_the_run_time_size():
    epilogue = Epilogue(gelu=True, residual=True)
    dynamic = build_bsr_linear(64, N, K, (16, 1), parse_target("llvm", num_threads=2), epilogue,
                               dynamic=True)
    weight = block_sparse(N, K, (16, 1), 0.4, seed=9)
    rng = np.random.default_rng(2)
    for m in (3, 17):
        x, b = rng.standard_normal((m, K), np.float32), rng.standard_normal(N, np.float32)
        residual = rng.standard_normal((m, N), np.float32)
        expected = epilogue.reference(x @ weight.T, b, residual)
        got = dynamic(x, dense_to_bsr(weight, (16, 1)), b, residual)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("block", BLOCK_SHAPES, ids=lambda b: f"{b[0]}x{b[1]}")
def test_whole_blocks_and_empty_block_rows(block):
    rows, cols = block
    n, k = 2 * rows * 3, cols * 3
    weight = block_sparse(n, k, block, 0.6, seed=3)
    weight[rows : 3 * rows] = 0.0  # two empty block rows
    check(kernel(block, 7, n=n, k=k), weight)


@pytest.mark.parametrize("block", [(1, 1), (4, 4), (32, 1), (1, 32)], ids=str)
def test_all_zero_weight_gives_the_bias(block):
    kern = kernel(block, 7)
    bsr = dense_to_bsr(np.zeros((N, K), np.float32), block)
    assert bsr.nnzb == 0 and bsr.data.shape == (0, *block)
    x = np.ones((7, K), np.float32)
    bias = np.arange(N, dtype=np.float32)
    np.testing.assert_array_equal(kern(x, bsr, bias), np.broadcast_to(bias, (7, N)))


@pytest.mark.parametrize("target", ["avx2", "sse"])
@pytest.mark.parametrize("block", [(1, 1), (4, 1), (8, 1), (16, 1), (1, 8), (8, 8), (32, 32)],
                         ids=lambda b: f"{b[0]}x{b[1]}")
def test_narrower_vector_targets(block, target):
    for density in (0.0, 0.3, 1.0):
        check(kernel(block, 7, runnable(target)), block_sparse(N, K, block, density, seed=5))


@pytest.mark.parametrize(("target", "rows_family", "tokens_family"), [
    ("avx512", [(16, 1), (32, 1), (16, 16), (32, 32)], [(1, 1), (4, 4), (1, 32), (8, 1)]),
    ("znver3", [(8, 1), (16, 1), (32, 1), (8, 8)], [(1, 1), (4, 4), (1, 32), (4, 1)]),
    ("sse", [(4, 1), (4, 4), (32, 1)], [(1, 1), (2, 2), (1, 32)]),
])
def test_family_follows_the_vector_width(target, rows_family, tokens_family):
    cpu = parse_target(TARGETS[target])
    for block in rows_family:
        assert plan_bsr_linear(128, 768, 768, block, cpu).family == "rows"
    for block in tokens_family:
        plan = plan_bsr_linear(128, 768, 768, block, cpu)
        assert plan.family == "tokens" and plan.token_tile % cpu.vector_lanes == 0


# M = 36 leaves a partial token tile, N = 100 a partial group of block rows, on both widths.
PARTIAL_TILES = [(1, 1), (2, 2), (2, 1), (4, 4)]


@pytest.mark.parametrize("target", ["avx512", "znver3"])
@pytest.mark.parametrize("block", PARTIAL_TILES, ids=str)
def test_plans_with_partial_token_tiles_and_row_groups(block, target):
    plan = plan_bsr_linear(36, 100, K, block, parse_target(TARGETS[target]))
    assert plan.family == "tokens"
    assert plan.m % plan.token_tile
    assert plan.row_blocks % plan.group_rows and plan.row_blocks > plan.group_rows


@pytest.mark.parametrize("target", ["host", "avx512", "znver3"])
@pytest.mark.parametrize("block", PARTIAL_TILES, ids=str)
def test_whole_and_partial_token_tiles_in_several_row_groups(block, target):
    kern = kernel(block, 36, runnable(target), n=100)
    for density in (0.05, 0.5):
        check(kern, block_sparse(100, K, block, density, seed=13))


@pytest.mark.parametrize(("target", "registers"), [("avx512", 32), ("znver3", 16), ("avx2", 16)])
@pytest.mark.parametrize("block", [(1, 1), (2, 2), (4, 1), (2, 1)], ids=str)
def test_tokens_tile_fits_the_registers_and_groups_fill_whole_vectors(block, target, registers):
    cpu = parse_target(TARGETS[target])
    plan = plan_bsr_linear(128, 768, 768, block, cpu)
    vectors = plan.token_tile // plan.lanes
    assert plan.family == "tokens" and vectors >= 1
    assert block[0] > 1 or plan.token_tile == 32  # one-row blocks: panels of 32 tokens
    assert block[0] * vectors <= registers - 4  # accumulators, with room for loads/broadcasts
    if block != (1, 1):  # 1x1 sweeps K slices in groups of 128 rows (below)
        assert plan.group_rows * block[0] == plan.lanes


@pytest.mark.parametrize(("target", "registers"), [("avx512", 32), ("znver3", 16), ("sse", 16)])
@pytest.mark.parametrize("block", [(32, 1), (16, 1), (32, 32)], ids=str)
def test_rows_tile_fits_the_registers(block, target, registers):
    plan = plan_bsr_linear(128, 768, 768, block, parse_target(TARGETS[target]))
    assert plan.family == "rows"
    assert plan.token_tile * (block[0] // plan.lanes) <= registers - 2


@pytest.mark.parametrize("block", [(32, 1), (2, 2)], ids=str)
def test_gelu_and_residual_epilogue(block):
    epilogue = Epilogue(bias=True, gelu=True, residual=True)
    kern = kernel(block, 7, epilogue=epilogue)
    rng = np.random.default_rng(7)
    weight = block_sparse(N, K, block, 0.3, seed=7)
    x = rng.standard_normal((7, K)).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    residual = rng.standard_normal((7, N)).astype(np.float32)
    expected = epilogue.reference(x.astype(np.float64) @ weight.T, bias, residual)
    got = kern(x, dense_to_bsr(weight, block), bias, residual)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_no_bias():
    kern = kernel((4, 1), 7, epilogue=Epilogue(bias=False))
    check(kern, block_sparse(N, K, (4, 1), 0.3, seed=9), bias=False)


@pytest.mark.parametrize("block", BLOCK_SHAPES, ids=lambda b: f"{b[0]}x{b[1]}")
def test_dense_to_bsr_round_trip(block):
    weight = block_sparse(N, K, block, 0.3, seed=11)
    bsr = dense_to_bsr(weight, block)
    rows, cols = block
    assert bsr.indptr.shape == (-(-N // rows) + 1,)
    assert bsr.indptr.dtype == bsr.indices.dtype == np.int32
    assert (np.diff(bsr.indptr) >= 0).all() and bsr.indptr[-1] == bsr.nnzb
    assert np.all(bsr.indices < -(-K // cols))
    np.testing.assert_array_equal(bsr_to_dense(bsr), weight)


def test_weight_that_does_not_fit_the_kernel_is_refused():
    kern = kernel((4, 1), 7)
    with pytest.raises(ValueError, match="does not fit"):
        kern.plan.pack(dense_to_bsr(np.zeros((N, K), np.float32), (2, 1)))
    wrong = BSR(np.zeros((0, 4, 1), np.float32), np.zeros(0, np.int32),
                np.zeros(14, np.int32), (4, 1), (N + 4, K))
    with pytest.raises(ValueError, match="does not fit"):
        kern.plan.pack(wrong)


# -- rows family: K slices and x by column (planned for K = 3072; forced here on small shapes) --

ROWS_VARIANTS = {"3 slices": {"k_slices": 3}, "x by column": {"x_by_column": True},
                 "both": {"k_slices": 2, "x_by_column": True},
                 "prefetch": {"prefetch": True, "k_slices": 1, "x_by_column": False},
                 "prefetch, 3 slices": {"prefetch": True, "k_slices": 3},
                 "no prefetch": {"prefetch": False, "k_slices": 1, "x_by_column": False},
                 # 18 tokens a share: 4 tiles of 4 and one of 2; 12 a share: 2 of 5 and one of 2
                 "2 token parts": {"token_parts": 2, "token_tile": 4, "tile_sweeps": False},
                 "2 token parts, tile sweeps": {"token_parts": 2, "token_tile": 4,
                                                "tile_sweeps": True, "prefetch": False},
                 "3 token parts, tile sweeps, 3 slices, prefetch": {
                     "token_parts": 3, "token_tile": 5, "tile_sweeps": True, "k_slices": 3,
                     "prefetch": True},
                 "3 token parts, 3 slices, prefetch": {"token_parts": 3, "token_tile": 5,
                                                       "k_slices": 3, "prefetch": True},
                 "2 token parts, x by column": {"token_parts": 2, "token_tile": 6,
                                                "x_by_column": True},
                 "one token share": {"token_parts": 1}}
STATIC_ONLY = {"2 token parts", "3 token parts, 3 slices, prefetch", "2 token parts, x by column",
               "2 token parts, tile sweeps", "3 token parts, tile sweeps, 3 slices, prefetch"}


def forced(plan, target, **variant):
    plan = replace(plan, **variant)
    return BsrLinear(plan, CompiledKernel(bsr_linear_func(plan), "bsr_linear", target))


@pytest.mark.parametrize("target", ["host", "znver3"])
@pytest.mark.parametrize("variant", ROWS_VARIANTS, ids=str)
@pytest.mark.parametrize("block", [(32, 1), (16, 1), (16, 16)], ids=str)
def test_rows_family_variants_with_the_whole_epilogue(block, variant, target):
    # 100 = 3 whole 32-row blocks + a partial one; K = 70 slices into 24 + 24 + 22 columns (or
    # 5 16-column blocks, the last padded); slices of a block row may hold no block at all.
    cpu = parse_target(TARGETS[runnable(target)], num_threads=2)
    epilogue = Epilogue(bias=True, gelu=True, residual=True)
    kern = forced(plan_bsr_linear(36, 100, K, block, cpu, epilogue), cpu, **ROWS_VARIANTS[variant])
    assert kern.plan.family == "rows"
    rng = np.random.default_rng(3)
    x = rng.standard_normal((36, K)).astype(np.float32)
    bias = rng.standard_normal(100).astype(np.float32)
    residual = rng.standard_normal((36, 100)).astype(np.float32)
    for density in (0.0, 0.1, 0.5, 1.0):
        weight = block_sparse(100, K, block, density, seed=int(density * 10))
        expected = epilogue.reference(x.astype(np.float64) @ weight.T, bias, residual)
        got = kern(x, dense_to_bsr(weight, block), bias, residual)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", sorted(set(ROWS_VARIANTS) - STATIC_ONLY), ids=str)
def test_rows_family_variants_at_every_dynamic_token_count(variant):
    cpu = parse_target("llvm", num_threads=2)
    plan = plan_bsr_linear(128, N, K, (32, 1), cpu, BIAS, dynamic=True)
    kern = forced(plan, cpu, **ROWS_VARIANTS[variant])
    weight = block_sparse(N, K, (32, 1), 0.3, seed=5)
    for m in DYNAMIC_TOKENS:
        check(kern, weight, seed=m, m=m)


def test_slices_sort_each_block_row_and_point_at_every_slice():
    plan = replace(plan_bsr_linear(8, 4, 8, (2, 2), parse_target(TARGETS["znver3"])),
                   family="rows", k_slices=2)  # two block columns per slice
    # block row 0 holds block columns 3, 0 (unsorted), block row 1 only column 1
    data = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    weight = BSR(data, np.array([3, 0, 1], np.int32), np.array([0, 2, 3], np.int32), (2, 2),
                 (4, 8))
    packed, indices, pointers = plan.pack(weight)
    np.testing.assert_array_equal(indices, [0, 3, 1])
    np.testing.assert_array_equal(pointers, [0, 1, 2, 3, 3])  # (row, slice) ranges of indices
    np.testing.assert_array_equal(packed[0], data[1].T)  # sorted with its index, [C, R] layout
    np.testing.assert_array_equal(packed[1], data[0].T)


@pytest.mark.parametrize(("target", "block", "k", "slices"), [
    ("znver3", (32, 1), 3072, 4), ("znver3", (32, 1), 768, 1), ("avx2", (32, 1), 3072, 4),
    ("avx512", (32, 1), 3072, 1), ("znver3", (8, 8), 3072, 4), ("avx512", (16, 16), 3072, 1),
    ("znver3", (8, 1), 3072, 1)])  # 8x1: x by column instead
def test_small_token_tiles_slice_a_long_k(target, block, k, slices):
    plan = plan_bsr_linear(128, 768, k, block, parse_target(TARGETS[target]))
    assert plan.family == "rows"
    assert plan.token_tile <= 8 or slices == 1
    assert plan.k_slices == slices


@pytest.mark.parametrize(("target", "block", "m", "n", "k", "by_column"), [
    ("avx512", (16, 1), 128, 768, 3072, True),  # x outgrows L2
    ("avx512", (16, 1), 384, 768, 768, True),
    ("avx512", (16, 1), 128, 3072, 768, True),  # x fits, but more rows than columns share xᵀ
    ("avx512", (16, 1), 128, 768, 768, False),
    ("avx512", (32, 1), 128, 768, 3072, False), ("avx512", (32, 1), 128, 3072, 768, False),
    ("avx512", (16, 16), 128, 768, 3072, False), ("znver3", (8, 1), 128, 768, 3072, True),
    ("znver3", (8, 1), 128, 3072, 768, True), ("znver3", (8, 1), 128, 768, 768, False),
    ("znver3", (16, 1), 128, 768, 3072, False)])
def test_one_vector_block_rows_read_x_by_column_when_it_outgrows_l2_or_serves_more_rows(
        target, block, m, n, k, by_column):
    plan = plan_bsr_linear(m, n, k, block, parse_target(TARGETS[target]))
    assert plan.x_by_column == by_column


@pytest.mark.parametrize(("target", "block", "n", "k", "prefetch"), [
    ("znver3", (32, 1), 768, 768, True), ("avx2", (32, 1), 768, 3072, True),
    ("znver3", (16, 1), 768, 3072, True),
    ("znver3", (16, 1), 3072, 768, False),  # tile sweeps
    ("znver3", (8, 1), 3072, 768, False),  # x by column
    ("znver3", (8, 8), 768, 768, False), ("znver3", (32, 32), 768, 768, False),
    ("avx512", (32, 1), 768, 768, False), ("avx512", (16, 1), 768, 3072, False)])  # 12-token tiles
def test_small_tiles_of_one_column_blocks_prefetch_the_next_block_row(target, block, n, k,
                                                                      prefetch):
    plan = plan_bsr_linear(128, n, k, block, parse_target(TARGETS[target]))
    assert plan.prefetch == prefetch
    assert ("llvm.prefetch" in bsr_linear_func(plan).script()) == prefetch


@pytest.mark.parametrize(("target", "block", "m", "threads", "parts", "tile"), [
    ("znver3", (32, 1), 128, 2, 2, 2), ("avx2", (16, 1), 128, 2, 2, 6),  # 6: tile sweeps
    ("znver3", (8, 8), 128, 2, 2, 8), ("znver3", (32, 1), 36, 3, 3, 2),
    ("znver3", (32, 1), 128, 1, 1, 2),  # one thread
    ("znver3", (32, 1), 7, 2, 1, 2),  # shares of unequal size
    ("znver3", (8, 8), 48, 2, 1, 8),  # 3 tiles a share: too few rereads of the weights
    ("avx512", (16, 16), 128, 2, 1, 12),  # 12-token tiles
    ("avx512", (32, 1), 128, 2, 2, 8)])  # 8-token tiles that sweep the block rows
def test_small_token_tiles_split_the_tokens_among_the_threads(target, block, m, threads, parts,
                                                              tile):
    plan = plan_bsr_linear(m, 768, 768, block, parse_target(TARGETS[target], num_threads=threads))
    assert (plan.family, plan.token_parts, plan.token_tile) == ("rows", parts, tile)
    dynamic = plan_bsr_linear(m, 768, 768, block, parse_target(TARGETS[target], num_threads=2),
                              dynamic=True)
    assert dynamic.token_parts == 1


@pytest.mark.parametrize(("target", "block", "n", "k", "tile"), [
    ("avx512", (32, 1), 768, 768, 8), ("avx512", (32, 1), 768, 3072, 8),
    ("avx512", (16, 1), 768, 768, 8),
    ("avx512", (16, 1), 3072, 768, 0),  # xᵀ: one line of x a block, as many as weights
    ("avx512", (16, 16), 768, 768, 0),  # 16 lines of weights a block
    ("znver3", (8, 1), 768, 768, 8), ("znver3", (8, 1), 3072, 768, 8),
    ("znver3", (8, 8), 768, 768, 8), ("znver3", (16, 1), 768, 768, 6),  # 12 sums in registers
    ("znver3", (8, 1), 768, 3072, 0), ("znver3", (8, 8), 768, 3072, 0),  # long K
    ("znver3", (16, 1), 768, 3072, 0),
    ("znver3", (32, 1), 768, 768, 0), ("znver3", (32, 32), 768, 768, 0),  # 2-token tiles
    # a line of x wide, 6 tokens a sweep against 4 on one block row: at every K
    ("znver3", (16, 16), 768, 768, 6), ("znver3", (16, 16), 768, 3072, 6),
    ("znver3", (16, 16), 3072, 768, 6)])
def test_tiles_sweep_the_block_rows_where_x_outweighs_the_weights(target, block, n, k, tile):
    plan = plan_bsr_linear(128, n, k, block, parse_target(TARGETS[target], num_threads=2))
    assert plan.tile_sweeps == bool(tile)
    rows = n // block[0]
    tile_outer = f"T.grid({plan.m // plan.token_parts // plan.token_tile}, {rows})" in (
        bsr_linear_func(plan).script())
    assert tile_outer == bool(tile)
    if tile:
        assert (plan.token_parts, plan.token_tile, plan.k_slices, plan.prefetch) == (
            2, tile, 1, False)
        registers = 32 if plan.lanes == 16 else 16
        assert tile * block[0] // plan.lanes + block[0] // plan.lanes + 2 <= registers


@pytest.mark.parametrize(("m", "threads", "dynamic"), [(48, 2, False), (128, 1, False),
                                                       (127, 2, False), (128, 2, True)])
def test_tile_sweeps_need_a_static_token_split_with_enough_tiles(m, threads, dynamic):
    cpu = parse_target(TARGETS["avx512"], num_threads=threads)
    plan = plan_bsr_linear(m, 768, 768, (32, 1), cpu, dynamic=dynamic)
    assert not plan.tile_sweeps and plan.token_parts == 1 and plan.token_tile > 8


def test_token_parts_refuse_a_token_count_they_do_not_divide():
    plan = plan_bsr_linear(36, 64, 64, (32, 1), parse_target(TARGETS["znver3"], num_threads=2))
    with pytest.raises(ValueError, match="token parts need a static token count"):
        bsr_linear_func(replace(plan, m=35, token_parts=2))
    with pytest.raises(ValueError, match="dynamic"):
        bsr_linear_func(replace(plan, token_parts=2, dynamic=True))


# -- tokens family: one-row blocks of 4+ columns swept by block column --


@pytest.mark.parametrize(("target", "block", "tokens", "blocks"), [
    ("avx512", (1, 32), 64, 4), ("avx512", (1, 16), 32, 1), ("avx512", (1, 4), 32, 1),
    ("znver3", (1, 32), 64, 1), ("znver3", (1, 8), 32, 1), ("sse", (1, 32), 32, 1)])
def test_one_row_blocks_of_four_columns_or_more_are_swept_by_block_column(target, block, tokens,
                                                                           blocks):
    cpu = parse_target(TARGETS[target])
    plan = plan_bsr_linear(128, 768, 768, block, cpu)
    assert (plan.family, plan.column_sweep) == ("tokens", True)
    assert (plan.token_tile, plan.column_sweep_blocks) == (tokens, blocks)
    registers = 32 if plan.lanes == 16 else 16
    assert plan.column_sweep_blocks * plan.token_tile // plan.lanes <= registers - 8  # sums
    assert plan.groups == 6  # of 128 rows: three for each of two threads
    for other in [(1, 1), (2, 2), (4, 4), (1, 2)]:
        assert not plan_bsr_linear(128, 768, 768, other, cpu).column_sweep


def test_column_sweep_packs_each_group_by_block_column_then_row():
    plan = replace(plan_bsr_linear(8, 6, 8, (1, 4), parse_target(TARGETS["znver3"])),
                   group_rows=4)  # groups: rows 0-3 and 4-5; two block columns
    # row 0 holds block columns 1 and 0 (unsorted), row 2 column 0, row 5 column 1
    data = np.arange(16, dtype=np.float32).reshape(4, 1, 4)
    weight = BSR(data, np.array([1, 0, 0, 1], np.int32), np.array([0, 2, 2, 3, 3, 3, 4], np.int32),
                 (1, 4), (6, 8))
    packed, rows, pointers = plan.pack(weight)
    np.testing.assert_array_equal(rows, [0, 2, 0, 5])  # (group, column) runs, rows ascending
    np.testing.assert_array_equal(pointers, [0, 2, 3, 3, 4])
    np.testing.assert_array_equal(packed, data[[1, 2, 0, 3]])


def check_whole_epilogue(kern, densities, seed_scale):
    """``kern`` (bias, GELU and residual epilogue) against numpy at each block density."""
    plan = kern.plan
    rng = np.random.default_rng(plan.m)
    x = rng.standard_normal((plan.m, plan.k)).astype(np.float32)
    bias = rng.standard_normal(plan.n).astype(np.float32)
    residual = rng.standard_normal((plan.m, plan.n)).astype(np.float32)
    for density in densities:
        weight = block_sparse(plan.n, plan.k, plan.block, density,
                              seed=int(density * seed_scale))
        expected = plan.epilogue.reference(x.astype(np.float64) @ weight.T, bias, residual)
        got = kern(x, dense_to_bsr(weight, plan.block), bias, residual)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# N = 300: two whole groups of 128 rows and a partial one; M = 36 / 100 partial token panels;
# densities leave (group, column) runs of every length, some not a multiple of a 4-block tile.
@pytest.mark.parametrize("target", ["host", "znver3", "avx512"])
@pytest.mark.parametrize("block", [(1, 4), (1, 8), (1, 32)], ids=str)
@pytest.mark.parametrize("m", [36, 100])
def test_column_sweep_with_the_whole_epilogue(block, target, m):
    cpu = parse_target(TARGETS[runnable(target)], num_threads=2)
    epilogue = Epilogue(bias=True, gelu=True, residual=True)
    kern = build_bsr_linear(m, 300, K, block, cpu, epilogue)
    assert kern.plan.column_sweep and kern.plan.groups == 3
    check_whole_epilogue(kern, (0.0, 0.05, 0.5, 1.0), seed_scale=20)


@pytest.mark.parametrize("target", ["host", "avx512"])
def test_column_sweep_at_every_dynamic_token_count(target):
    cpu = parse_target(TARGETS[runnable(target)], num_threads=2)
    kern = build_bsr_linear(128, 300, K, (1, 32), cpu, BIAS, dynamic=True)
    assert kern.plan.column_sweep and kern.plan.dynamic
    weight = block_sparse(300, K, (1, 32), 0.3, seed=5)
    for m in DYNAMIC_TOKENS:
        check(kern, weight, seed=m, m=m)


# -- tokens family: 1x1 blocks sweep each token panel in K slices --


@pytest.mark.parametrize("target", ["avx512", "znver3", "sse"])
@pytest.mark.parametrize(("k", "slices"), [(64, 1), (384, 1), (385, 2), (768, 2), (3072, 8)])
def test_one_by_one_blocks_sweep_k_slices_of_384_columns_in_groups_of_128_rows(target, k,
                                                                              slices):
    cpu = parse_target(TARGETS[target])
    plan = plan_bsr_linear(128, 768, k, (1, 1), cpu)
    assert (plan.family, plan.k_slices, plan.token_tile) == ("tokens", slices, 32)
    assert plan.group_rows == (128 if slices > 1 else plan.lanes)
    assert plan.layout == ("tokens" if slices == 1 else f"tokens-{slices}slices")
    assert plan.pointer_cells == 768 * slices
    for other in [(2, 2), (4, 4), (2, 1), (1, 4)]:  # others: only a long K (below)
        other_plan = plan_bsr_linear(128, 768, k, other, cpu)
        if other_plan.family == "tokens" and not other_plan.column_sweep:
            assert other_plan.k_slices == (8 if k == 3072 else 1)


def test_token_panel_slices_are_packed_by_group_then_slice_then_row():
    # 1x1, 3 block rows in groups of 2, K = 4 in 2 slices of 2 columns
    plan = replace(plan_bsr_linear(8, 3, 4, (1, 1), parse_target(TARGETS["avx512"])),
                   k_slices=2, group_rows=2)
    dense = np.array([[1, 0, 2, 0],    # row 0: slice 0 holds column 0, slice 1 column 2
                      [0, 3, 0, 4],    # row 1: columns 1 | 3
                      [5, 6, 7, 0]],   # row 2 (a group of its own): columns 0, 1 | 2
                     np.float32)
    packed, indices, pointers = plan.pack(dense_to_bsr(dense, (1, 1)))
    # group 0: slice 0 of rows 0, 1, then slice 1 of rows 0, 1; group 1: row 2's slices
    np.testing.assert_array_equal(packed.ravel(), [1, 3, 2, 4, 5, 6, 7])
    np.testing.assert_array_equal(indices, [0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_array_equal(pointers, [0, 1, 2, 3, 4, 6, 7])
    cells = [plan.sliced_cell(first, count, k_slice, row - first)
             for first, count, rows in [(0, 2, (0, 1)), (2, 1, (2,))]
             for k_slice in range(2) for row in rows]
    assert cells == list(range(6))  # the kernel's order of reading is the packing's


@pytest.mark.parametrize(("target", "block", "group"), [
    ("avx512", (2, 2), 64), ("avx512", (4, 1), 32), ("avx512", (8, 8), 16), ("znver3", (4, 4), 32),
    ("znver3", (2, 1), 64)])
def test_other_tokens_family_blocks_slice_only_a_long_k(target, block, group):
    cpu = parse_target(TARGETS[target])
    long_k = plan_bsr_linear(128, 768, 3072, block, cpu)
    assert (long_k.family, long_k.k_slices, long_k.group_rows) == ("tokens", 8, group)
    assert plan_bsr_linear(128, 768, 1152, block, cpu).k_slices == 1  # 3 slices' worth


# N = 300: two whole groups of 128 rows and a partial one (1x1; 2x2: whole groups of 64 block
# rows); K = 1000 / 1600: slices of 334, 334, 332 / 5 slices of 320 columns, 4x4 and 2x1 blocks
# with a partial last block column; M = 36 / 100: partial token panels; densities leave slices
# with no block at all.
@pytest.mark.parametrize("target", ["host", "znver3", "avx512"])
@pytest.mark.parametrize(("block", "k", "slices"), [((1, 1), 1000, 3), ((2, 2), 1600, 5),
                                                    ((4, 4), 1598, 5), ((2, 1), 1600, 5)],
                         ids=str)
@pytest.mark.parametrize("m", [36, 100])
def test_k_slices_of_token_panels_with_the_whole_epilogue(target, block, k, slices, m):
    cpu = parse_target(TARGETS[runnable(target)], num_threads=2)
    epilogue = Epilogue(bias=True, gelu=True, residual=True)
    kern = build_bsr_linear(m, 300, k, block, cpu, epilogue)
    if kern.plan.family != "tokens":  # 2x1 on SSE-only hosts
        pytest.skip("rows family on this target")
    assert (kern.plan.k_slices, kern.plan.group_rows * block[0]) == (slices, 128)
    check_whole_epilogue(kern, (0.0, 0.002, 0.1, 1.0), seed_scale=1000)


# Each thread transposes its own panels and sweeps every group over them: 2 or 3 shares of two
# panels each, with K slices (1x1), a partial last block column (4x4), a column sweep (1x8).
@pytest.mark.parametrize("target", ["host", "znver3"])
@pytest.mark.parametrize(("block", "k"), [((1, 1), 1000), ((4, 4), 1598), ((1, 8), K),
                                          ((2, 1), K)], ids=str)
@pytest.mark.parametrize("parts", [2, 3])
def test_token_panels_split_among_the_threads_with_the_whole_epilogue(target, block, k, parts):
    cpu = parse_target(TARGETS[runnable(target)], num_threads=2)
    epilogue = Epilogue(bias=True, gelu=True, residual=True)
    plan = plan_bsr_linear(128, 300, k, block, cpu, epilogue)
    if plan.family != "tokens":  # 2x1 on SSE-only hosts
        pytest.skip("rows family on this target")
    plan = replace(plan, m=parts * 2 * plan.token_tile, token_parts=parts)
    kern = BsrLinear(plan, CompiledKernel(bsr_linear_func(plan), "bsr_linear", cpu))
    check_whole_epilogue(kern, (0.0, 0.05, 0.5, 1.0), seed_scale=20)


@pytest.mark.parametrize(("target", "block", "m", "threads", "parts", "tile"), [
    ("znver3", (1, 1), 128, 2, 2, 32), ("znver3", (4, 4), 128, 2, 2, 16),
    ("avx512", (2, 2), 128, 2, 2, 64),  # a panel of all 128 tokens halved to split
    ("avx512", (1, 32), 128, 2, 2, 64),  # column sweep
    ("avx512", (8, 8), 96, 3, 3, 32), ("znver3", (1, 1), 100, 2, 1, 8),  # partial panels
    ("znver3", (1, 1), 128, 1, 1, 32)])  # one thread
def test_token_panels_are_split_among_the_threads_in_whole_panels(target, block, m, threads,
                                                                   parts, tile):
    cpu = parse_target(TARGETS[target], num_threads=threads)
    plan = plan_bsr_linear(m, 768, 768, block, cpu)
    assert (plan.family, plan.token_parts, plan.token_tile) == ("tokens", parts, tile)
    assert plan_bsr_linear(m, 768, 768, block, cpu, dynamic=True).token_parts == 1
    script = bsr_linear_func(plan).script()
    # split by panels: one parallel loop that transposes and sweeps; else two (xᵀ, groups)
    assert script.count("T.parallel(") == (1 if parts > 1 else 2)


def test_token_panel_parts_refuse_shares_of_partial_panels():
    plan = plan_bsr_linear(128, 64, 64, (1, 1), parse_target(TARGETS["znver3"], num_threads=2))
    with pytest.raises(ValueError, match="whole panels"):
        bsr_linear_func(replace(plan, m=96, token_parts=2))  # 48 tokens: one and a half panels


@pytest.mark.parametrize("target", ["host", "znver3"])
def test_one_by_one_k_slices_at_every_dynamic_token_count(target):
    cpu = parse_target(TARGETS[runnable(target)], num_threads=2)
    kern = build_bsr_linear(128, 300, 800, (1, 1), cpu, BIAS, dynamic=True)
    assert kern.plan.k_slices == 3 and kern.plan.dynamic
    weight = block_sparse(300, 800, (1, 1), 0.1, seed=5)
    for m in DYNAMIC_TOKENS:
        check(kern, weight, seed=m, m=m)


# -- indices in 16 bits where every block column (or swept block row) fits --


@pytest.mark.parametrize(("block", "n", "k", "dtype"), [
    ((1, 1), 768, 3072, np.uint16), ((32, 1), 768, 768, np.uint16), ((1, 32), 768, 768, np.uint16),
    ((1, 1), 4, 65536, np.uint16), ((1, 1), 4, 65537, np.int32), ((1, 2), 4, 140000, np.int32)])
def test_indices_take_16_bits_where_they_fit(block, n, k, dtype):
    plan = plan_bsr_linear(3, n, k, block, parse_target(TARGETS["znver3"]))
    assert plan.index_dtype == np.dtype(dtype).name
    weight = BSR(np.ones((1, *block), np.float32), np.array([plan.column_blocks - 1], np.int32),
                 np.array([0] + [1] * plan.row_blocks, np.int32), block, (n, k))
    _, indices, _ = plan.pack(weight)
    assert indices.dtype == dtype and indices[0] == (0 if plan.column_sweep else
                                                     plan.column_blocks - 1)


@pytest.mark.parametrize("k", [65536, 65537])
def test_the_last_block_column_either_side_of_16_bits(k):
    kern = build_bsr_linear(3, 4, k, (1, 1), parse_target("llvm", num_threads=2))
    weight = np.zeros((4, k), np.float32)
    weight[1, k - 1] = 2.0
    weight[3, 0] = -1.0
    check(kern, weight)
