"""Dense linear kernels: ``Y[M, N] = X[M, K] · Wᵀ`` (+ bias, GELU, residual), ``W [N, K]``.

The wheel has no BLAS, so the GEMM is generated here. The weight is packed once, at compile time,
into panels ``Wp [N / P, K, P]`` of P = 2 × L output columns (L = float32 lanes), so that the
inner loop loads whole vectors. The register tile is (tokens × P): every step of the K loop loads
two weight vectors, broadcasts one ``X[m, k]`` per token and issues one multiply-add per
(token, vector). Panels run in parallel; a panel (K × P floats, 96 KiB at K = 768) stays in L2
while every token tile reuses it, which measured as fast as K blocking for K up to 3072 here.
The epilogue is applied on the store. With a dynamic token count the kernel takes M at run time
and keeps the same register tile (``loops.tiles`` emits the partial tiles).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tvm import tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

from sparsec.codegen.epilogue import Epilogue
from sparsec.codegen.kernel import CompiledKernel
from sparsec.codegen.loops import balanced_tiles, stack_buffer, symbolic_tokens
from sparsec.codegen.target import CpuTarget


@dataclass(frozen=True)
class DensePlan:
    """Shapes and tiling of one dense linear kernel."""

    m: int  # tokens; with ``dynamic``, the most tokens a call may pass
    n: int
    k: int
    lanes: int
    panel: int  # output columns per packed panel (a multiple of lanes)
    token_tile: int  # tokens per register tile
    epilogue: Epilogue = field(default_factory=Epilogue)
    dynamic: bool = False  # M is a run-time size (≤ m)

    @property
    def panels(self) -> int:
        """Number of weight panels (the last one may be partial)."""
        return -(-self.n // self.panel)

    def pack(self, weight: np.ndarray) -> np.ndarray:
        """``W [N, K]`` -> ``Wp [panels, K, P]``, zero padded past N."""
        if weight.shape != (self.n, self.k):
            raise ValueError(f"weight shape {weight.shape} does not fit kernel N={self.n} "
                             f"K={self.k}")
        padded = np.zeros((self.panels * self.panel, self.k), np.float32)
        padded[: self.n] = weight
        return np.ascontiguousarray(padded.reshape(self.panels, self.panel, self.k)
                                    .transpose(0, 2, 1))


def plan_dense_linear(m: int, n: int, k: int, target: CpuTarget,
                      epilogue: Epilogue | None = None, dynamic: bool = False) -> DensePlan:
    """Pick the panel width and register tile for ``target`` (``dynamic``: M is known only at
    run time, at most ``m``)."""
    lanes = target.vector_lanes
    registers = 32 if lanes >= 16 else 16
    vectors = 2  # weight vectors per K step: two loads feed up to 2 × 12 multiply-adds
    panel = vectors * lanes
    budget = registers - vectors - 2  # accumulators; the rest hold weights and a broadcast
    tile = max(1, min(m, budget // vectors, 12))
    if not dynamic:
        tile = -(-m // -(-m // tile))  # as few tiles as before, but balanced
    return DensePlan(m, n, k, lanes, panel, tile, epilogue or Epilogue(), dynamic)


def build_dense_linear(m: int, n: int, k: int, target: CpuTarget,
                       epilogue: Epilogue | None = None, dynamic: bool = False) -> DenseLinear:
    """Generate, schedule and compile the dense linear kernel for these shapes on ``target``."""
    plan = plan_dense_linear(m, n, k, target, epilogue, dynamic)
    return DenseLinear(plan, CompiledKernel(dense_linear_func(plan), "dense_linear", target))


class DenseLinear:
    """A compiled dense linear kernel; call it with numpy arrays."""

    def __init__(self, plan: DensePlan, kernel: CompiledKernel) -> None:
        self.plan = plan
        self.kernel = kernel

    def arguments(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                  residual: np.ndarray | None = None) -> list[np.ndarray]:
        """The kernel's argument list (weight packed), output ``y`` last (zero-filled)."""
        plan = self.plan
        args = [np.ascontiguousarray(x, np.float32), plan.pack(weight)]
        if plan.epilogue.bias:
            args.append(np.ascontiguousarray(bias, np.float32))
        if plan.epilogue.residual:
            args.append(np.ascontiguousarray(residual, np.float32))
        return [*args, np.zeros((len(args[0]), plan.n), np.float32)]

    def __call__(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 residual: np.ndarray | None = None) -> np.ndarray:
        """``Y = epilogue(x · Wᵀ)`` as a new numpy array."""
        tensors = self.kernel.tensors(*self.arguments(x, weight, bias, residual))
        self.kernel.run(*tensors)
        return tensors[-1].numpy()


def dense_linear_func(plan: DensePlan) -> tirx.PrimFunc:
    """The scheduled TIR loop nest of ``plan`` (arguments: x, packed weight, epilogue
    arguments, y)."""
    with IRBuilder() as builder, T.prim_func():
        T.func_name("dense_linear")
        T.func_attr({"tirx.noalias": True})
        m = symbolic_tokens() if plan.dynamic else plan.m
        x = T.arg("x", T.Buffer((m, plan.k), "float32"))
        weight = T.arg("weight", T.Buffer((plan.panels, plan.k, plan.panel), "float32"))
        extra = plan.epilogue.declare_args(m, plan.n)
        y = T.arg("y", T.Buffer((m, plan.n), "float32"))
        _emit(plan, m, x, weight, extra, y)
    return builder.get()


def _emit(plan: DensePlan, tokens: int | tirx.PrimExpr, x: tirx.Buffer, weight: tirx.Buffer,
          extra: dict[str, tirx.Buffer], y: tirx.Buffer) -> None:
    """Panels in parallel, token tiles inside, the whole K loop innermost; the partial panel and
    the partial token tile get their own copy of the nest with static extents."""
    p = plan.panel
    full_panels, rest_columns = divmod(plan.n, p)

    def panel(index: tirx.PrimExpr, columns: int) -> None:
        # one accumulator for every copy of the tile (one over 1 KiB comes from TVM's workspace
        # pool, once per copy, on every panel: loops.stack_buffer)
        acc = stack_buffer((plan.token_tile, p))

        def tile(m0: tirx.PrimExpr, tokens: int) -> None:
            with T.unroll(0, tokens) as t, T.vectorized(0, p) as c:
                T.buffer_store(acc, tirx.const(0.0, "float32"), [t, c])
            with T.serial(0, plan.k) as k, T.unroll(0, tokens) as t, T.vectorized(0, p) as c:
                T.buffer_store(acc, acc[t, c] + weight[index, k, c] * x[m0 + t, k], [t, c])
            with T.unroll(0, tokens) as t, T.vectorized(0, columns) as c:
                m, n = m0 + t, index * p + c
                T.buffer_store(y, plan.epilogue.apply(acc[t, c], extra, m, n), [m, n])

        balanced_tiles(tokens, plan.token_tile, tile)

    if full_panels:
        with T.parallel(0, full_panels) as index:
            panel(index, p)
    if rest_columns:
        panel(tirx.const(full_panels, "int32"), rest_columns)
