"""Fit the block-shape cost model to this CPU by timing the kernels codegen emits.

For every block shape the BSR kernel is timed at two block densities on a
reference linear (128 tokens, 768 x 768); the line through the two points
gives the cost per stored block (slope) and the cost that does not shrink
with sparsity (intercept), both in units of our dense kernel's time per
multiply-add. ``block-shape-selection`` reads the result from the cache
(``passes/cost_model.py``), so its choices follow real timings.

Six times the blocks take 2-5.3x as long (every default shape, AVX-512 and
AVX2 code on Zen 4). A busy machine can invert the two points (seen with a test
run on the other core: a 1x1 "efficiency" of 3 million, blocks for free), so the
pair is timed again, each density keeping its fastest time, until the denser
one takes at least ``MIN_GROWTH`` times as long; after ``ATTEMPTS`` the
calibration is refused rather than fitted to noise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sparsec.codegen.bsr_linear import build_bsr_linear
from sparsec.codegen.dense_linear import build_dense_linear
from sparsec.codegen.target import CpuTarget
from sparsec.ir.bsr import dense_to_bsr, parse_block_shape
from sparsec.ir.diagnostics import SparsecError
from sparsec.passes.cost_model import CostModel, ShapeCost
from sparsec.passes.sparsity_analysis import DEFAULT_BLOCK_SHAPES
from sparsec.threads import configure_thread_pool

REFERENCE = (128, 768, 768)  # tokens, output features, input features
DENSITIES = (0.05, 0.3)  # block densities the line is fitted through
MIN_GROWTH = 1.5  # the denser point must take this many times as long as the sparser one
ATTEMPTS = 4  # timings of the pair before a calibration that cannot tell them apart is refused


class CalibrationError(SparsecError):
    """Timings too noisy to fit a cost to (the machine is busy)."""


def block_sparse_weight(n: int, k: int, block: tuple[int, int], density: float,
                        rng: np.random.Generator) -> np.ndarray:
    """A random ``[n, k]`` weight whose nonzero blocks are a ``density`` fraction of all."""
    rows, cols = -(-n // block[0]), -(-k // block[1])
    mask = np.zeros(rows * cols, dtype=bool)
    mask[rng.choice(mask.size, max(1, round(density * mask.size)), replace=False)] = True
    full = np.kron(mask.reshape(rows, cols), np.ones(block, dtype=bool))[:n, :k]
    return np.where(full, rng.standard_normal((n, k)), 0).astype(np.float32)


def dense_seconds_per_mac(target: CpuTarget, rng: np.random.Generator) -> float:
    m, n, k = REFERENCE
    kernel = build_dense_linear(m, n, k, target)
    x = rng.standard_normal((m, k)).astype(np.float32)
    weight = rng.standard_normal((n, k)).astype(np.float32)
    bias = np.zeros(n, np.float32)
    return kernel.kernel.median_seconds(*kernel.arguments(x, weight, bias)) / (n * k)


def shape_cost(block: tuple[int, int], target: CpuTarget, unit: float,
               rng: np.random.Generator) -> ShapeCost:
    """The fitted cost of one block shape (see the module docstring)."""
    m, n, k = REFERENCE
    kernel = build_bsr_linear(m, n, k, block, target)
    x = rng.standard_normal((m, k)).astype(np.float32)
    bias = np.zeros(n, np.float32)
    samples = []
    for density in DENSITIES:
        bsr = dense_to_bsr(block_sparse_weight(n, k, block, density, rng), block)
        samples.append((bsr.nnzb, kernel.arguments(x, bsr, bias)))
    (nnzb0, t0), (nnzb1, t1) = _growing_times(kernel.kernel.median_seconds, samples, block)
    slope = (t1 - t0) / (nnzb1 - nnzb0)
    intercept = max(t0 - slope * nnzb0, 0.0)
    return ShapeCost(block[0] * block[1] * unit / slope, 0.0, intercept / unit / (n + k))


def _growing_times(time: Callable[..., float], samples: list[tuple[int, list]],
                   block: tuple[int, int]) -> list[tuple[int, float]]:
    """``(blocks, fastest seconds)`` of each sample, timed in turn until the second (denser)
    takes ``MIN_GROWTH`` times as long as the first."""
    best = [float("inf")] * len(samples)
    for _ in range(ATTEMPTS):
        best = [min(seconds, time(*arguments)) for seconds, (_, arguments)
                in zip(best, samples, strict=True)]
        if best[1] >= MIN_GROWTH * best[0]:
            return [(blocks, seconds) for seconds, (blocks, _) in zip(best, samples, strict=True)]
    (sparse, _), (dense, _) = samples
    raise CalibrationError(
        f"calibrating {block[0]}x{block[1]} blocks: {dense} blocks took {best[1] * 1e6:.0f} us, "
        f"{sparse} blocks {best[0] * 1e6:.0f} us, too close to fit a cost per block in "
        f"{ATTEMPTS} tries (is the machine busy? run sparsec calibrate again when it is quiet)")


def calibrate(target: CpuTarget, shapes: tuple[str, ...] = DEFAULT_BLOCK_SHAPES,
              progress: Callable[[str], None] | None = None, seed: int = 0) -> CostModel:
    """Time every shape's kernel on ``target`` and return the fitted cost model.

    Timing runs the kernels here, so a target this CPU cannot execute is refused before any work.
    """
    target.check_runs_on_host(f"calibrating for {target.mcpu}")
    configure_thread_pool(target.num_threads)
    step = progress or (lambda stage: None)
    rng = np.random.default_rng(seed)
    step("dense")
    unit = dense_seconds_per_mac(target, rng)
    costs = {}
    for text in shapes:
        step(text)
        costs[text] = shape_cost(parse_block_shape(text), target, unit, rng)
    return CostModel(f"calibrated on {target.mcpu}", target.vector_lanes, costs)
