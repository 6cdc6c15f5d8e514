"""Loop helpers shared by the hand-written kernels: tiles of a static or symbolic extent.

A kernel's hot loop nests keep static extents, so that LLVM unrolls and vectorizes them without
bounds checks. An extent that is only known at run time (the token count of a dynamic-shape
model) is cut into whole tiles in a loop, and the partial tile is emitted once per possible
remainder, each copy static and guarded by ``extent % size == rest``: a few more copies of the
same code instead of checks in every iteration.
"""

from __future__ import annotations

from collections.abc import Callable

from tvm import tirx
from tvm.script.ir_builder import tirx as T
from tvm.tirx.script.builder.frame import ForFrame

Extent = int | tirx.Expr  # a static size, or one known at run time
Body = Callable[[tirx.Expr, int], None]


def tiles(extent: Extent, size: int, body: Body,
          loop: Callable[[int, Extent], ForFrame] = T.serial) -> None:
    """``body(start, size)`` over the whole tiles of ``range(extent)`` in ``loop``, then
    ``body(start, rest)`` for the partial tile with its static size ``rest``."""
    if isinstance(extent, int):
        full, rest = divmod(extent, size)
        if full:
            with loop(0, full) as index:
                body(index * size, size)
        if rest:
            body(tirx.const(full * size, "int32"), rest)
        return
    with loop(0, extent // size) as index:
        body(index * size, size)
    start = extent // size * size
    for rest in range(1, size):
        with T.If(extent % size == rest), T.Then():
            body(start, rest)


def symbolic_tokens(name: str = "m") -> tirx.Var:
    """The symbolic token count of a dynamic-shape kernel (int64, as Relax shapes are)."""
    return tirx.Var(name, "int64")


def ceil_div(a: Extent, b: int) -> Extent:
    """``⌈a / b⌉`` of a static or symbolic ``a``."""
    return -(-a // b) if isinstance(a, int) else (a + b - 1) // b
