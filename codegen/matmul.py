"""Batched matmul ``out[b] = lhs[b] · rhs[b]`` (``lhs [B, M, K]``, ``rhs [B, K, N]``).

For ``sparsec.matmul`` between activations (weights go through the linear kernels). Rows of all
batches run in parallel; each row is accumulated in place, vectorized over N, so every step of
the K loop is one broadcast and a row update of ``rhs`` that streams contiguously.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm import tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

from sparsec.codegen.attention import vector_loop


@dataclass(frozen=True)
class MatmulPlan:
    """Shapes of one batched matmul kernel."""

    batch: int
    m: int
    k: int
    n: int
    dtype: str
    lanes: int


def matmul_func(plan: MatmulPlan) -> tirx.PrimFunc:
    """The scheduled TIR of ``plan`` (arguments: lhs, rhs, out)."""
    p = plan
    with IRBuilder() as builder, T.prim_func():
        T.func_name("batch_matmul")
        T.func_attr({"tirx.noalias": True})
        lhs = T.arg("lhs", T.Buffer((p.batch, p.m, p.k), p.dtype))
        rhs = T.arg("rhs", T.Buffer((p.batch, p.k, p.n), p.dtype))
        out = T.arg("out", T.Buffer((p.batch, p.m, p.n), p.dtype))
        with T.parallel(0, p.batch * p.m) as row:
            b, i = row // p.m, row % p.m
            vector_loop(p.n, p.lanes, lambda j: T.buffer_store(
                out, tirx.const(0, p.dtype), [b, i, j]))
            with T.serial(0, p.k) as kk:
                vector_loop(p.n, p.lanes, lambda j: T.buffer_store(
                    out, out[b, i, j] + lhs[b, i, kk] * rhs[b, kk, j], [b, i, j]))
    return builder.get()
