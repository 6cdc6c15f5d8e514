"""Cumulative sum along one axis: ``out[o, j, i] = sum(x[o, :j + 1, i])`` on an ``[O, N, I]`` view.

Relax has no CPU lowering of ``cumsum``, and a scan is a serial recurrence along N: the outer
rows run in parallel and the inner axis is the vector.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm import tirx
from tvm.script.ir_builder import IRBuilder
from tvm.script.ir_builder import tirx as T

from sparsec.codegen.attention import vector_loop


@dataclass(frozen=True)
class ScanPlan:
    """Shapes and dtypes of one cumsum kernel."""

    outer: int
    length: int
    inner: int
    in_dtype: str
    out_dtype: str
    lanes: int


def cumsum_func(plan: ScanPlan) -> tirx.PrimFunc:
    """The scheduled TIR of ``plan`` (arguments: x, out)."""
    p = plan
    # A root block: Relax's reshape detection requires one of a one-input function of this size.
    with IRBuilder() as builder, T.prim_func(s_tir=True):
        T.func_name("cumsum")
        T.func_attr({"tirx.noalias": True})
        x = T.arg("x", T.Buffer((p.outer, p.length, p.inner), p.in_dtype))
        out = T.arg("out", T.Buffer((p.outer, p.length, p.inner), p.out_dtype))
        with T.sblock("root"), T.parallel(0, p.outer) as o:
            vector_loop(p.inner, p.lanes, lambda i: T.buffer_store(
                out, tirx.Cast(p.out_dtype, x[o, 0, i]), [o, 0, i]))
            with T.serial(1, p.length) as j:
                vector_loop(p.inner, p.lanes, lambda i: T.buffer_store(
                    out, out[o, j - 1, i] + tirx.Cast(p.out_dtype, x[o, j, i]), [o, j, i]))
    return builder.get()
