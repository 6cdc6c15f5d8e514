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


def balanced_tiles(extent: Extent, size: int, body: Body) -> None:
    """``tiles`` for a register tile over tokens: at a symbolic ``extent`` the remainder joins
    the last whole tile and the two run as tiles of about equal size (16 tokens by 12: 8 + 8, not
    12 + 4), as a static plan balances its tile: a sliver of a tile reuses each loaded weight
    vector for only a few tokens. A static extent is tiled as given (its plan balanced it)."""
    if isinstance(extent, int):
        tiles(extent, size, body)
        return
    whole, rest = extent // size, extent % size
    with T.If(tirx.Or(rest == 0, whole == 0)):
        with T.Then():
            tiles(extent, size, body)
        with T.Else():
            with T.serial(0, whole - 1) as index:
                body(index * size, size)
            start = (whole - 1) * size
            for extra in range(1, size):
                first = (size + extra + 1) // 2
                with T.If(rest == extra), T.Then():
                    body(start, first)
                    body(start + first, size + extra - first)


def stack_buffer(shape: tuple[int, ...], dtype: str = "float32") -> tirx.Buffer:
    """A small buffer of a loop body (register tile, partial sums, row statistics) that LLVM
    can keep on the stack and in registers. TVM puts a ``global``-scope buffer under 1 KiB on the
    stack, but every ``local``-scope one, whatever its size, and larger ones come from its
    workspace pool: a call to allocate and one to free each time the body runs. From an exported
    library (an artifact) those calls cost ~50 ns a pair: attention with 8,000 pairs a call ran
    1.58x slower (AVX2 code on Zen 4), where the in-process JIT showed no difference."""
    return T.alloc_buffer(shape, dtype)


def symbolic_tokens(name: str = "m") -> tirx.Var:
    """The symbolic token count of a dynamic-shape kernel (int64, as Relax shapes are)."""
    return tirx.Var(name, "int64")


def ceil_div(a: Extent, b: int) -> Extent:
    """``⌈a / b⌉`` of a static or symbolic ``a``."""
    return -(-a // b) if isinstance(a, int) else (a + b - 1) // b
