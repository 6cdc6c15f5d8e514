"""A generic CPU schedule for the PrimFuncs that Relax legalization and fusion produce.

Hand-written kernels (linear, attention, matmul) come scheduled; everything else (elementwise
chains, reshapes and transposes, layer norm, softmax, reductions, gathers) is TE lowered by Relax
and gets this schedule: producers are inlined into their consumers, then every remaining block
runs parallel over its outer spatial loops and vectorized over the innermost ones when that
divides evenly. ``check_scheduled`` refuses a module where a PrimFunc with real work has neither a
parallel nor a vectorized loop (an unscheduled BERT-base takes seconds per inference).
"""

from __future__ import annotations

import contextlib
import math

import tvm
from tvm import tirx
from tvm.s_tir import Schedule
from tvm.s_tir.schedule import ScheduleError
from tvm_ffi import Array

SCHEDULED = "sparsec.scheduled"  # PrimFunc attribute: the function carries its own schedule
MIN_PARALLEL_WORK = 4096  # iterations below which a thread-pool launch costs more than it saves
MIN_CHECKED_WORK = 16384  # elements above which a PrimFunc must be parallel or vectorized


class UnscheduledError(Exception):
    """A PrimFunc with real work reached the build without a parallel or vectorized loop."""


def mark_scheduled(func: tirx.PrimFunc, family: str) -> tirx.PrimFunc:
    """Tag a hand-scheduled kernel so the generic scheduler leaves it alone."""
    # op_pattern 8 (opaque) keeps Relax fusion from merging it with its neighbours.
    return func.with_attrs({SCHEDULED: True, "sparsec.family": family, "op_pattern": 8})


def schedule_module(mod: tvm.IRModule, lanes: int) -> tvm.IRModule:
    """Schedule every PrimFunc of ``mod`` that is not already tagged as scheduled."""
    for gv, func in list(mod.functions.items()):
        if isinstance(func, tirx.PrimFunc) and not _is_scheduled(func):
            mod[gv] = schedule_func(func, lanes)
    return mod


def _is_scheduled(func: tirx.PrimFunc) -> bool:
    return bool(func.attrs is not None and func.attrs.get(SCHEDULED, False))


def schedule_func(func: tirx.PrimFunc, lanes: int) -> tirx.PrimFunc:
    """Inline producers, then parallelize and vectorize each block of ``func``."""
    return generic_schedule(func, lanes).mod["main"].with_attr(SCHEDULED, True)


def generic_schedule(func: tirx.PrimFunc, lanes: int) -> Schedule:
    """The traced schedule behind ``schedule_func`` (tuning replays its trace)."""
    sch = Schedule(func)
    _inline_producers(sch)
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        _schedule_block(sch, block, lanes)
    return sch


def _inline_producers(sch: Schedule) -> None:
    """Inline spatial blocks into their consumers (reshape/cast/elementwise chains)."""
    for block in sch.get_child_blocks(sch.get_sblock("root"))[:-1]:
        if _spatial(sch, block):
            # An output, or a block read at another iteration space, stays as it is.
            with contextlib.suppress(ScheduleError):
                sch.compute_inline(block)


def _spatial(sch: Schedule, block) -> bool:
    return all(int(iv.iter_type) == 0 for iv in sch.get(block).iter_vars)


def _schedule_block(sch: Schedule, block, lanes: int) -> None:
    loops = sch.get_loops(block)
    if not loops:
        return
    iter_types = [int(iv.iter_type) for iv in sch.get(block).iter_vars]
    if all(t == 0 for t in iter_types):
        _schedule_spatial(sch, loops, lanes)
    else:
        _schedule_reduction(sch, block, loops)


def _extent(sch: Schedule, loop) -> int | None:
    extent = sch.get(loop).extent
    return int(extent) if isinstance(extent, tirx.IntImm) else None


def _schedule_spatial(sch: Schedule, loops: list, lanes: int) -> None:
    """Vectorize the innermost loop (so lanes stay contiguous, free of div/mod), fuse the rest
    and run them in parallel."""
    extents = [_extent(sch, loop) for loop in loops]
    work = None if None in extents else math.prod(extents)
    inner, extent = loops[-1], extents[-1]
    width = math.gcd(extent, lanes) if extent is not None else 1
    outer_loops = loops[:-1]
    if width > 1:
        rest, vector = sch.split(inner, [None, width])
        sch.vectorize(vector)
        outer_loops = [*outer_loops, rest]
    else:  # a run-time extent is not split into vectors: it runs in parallel with the rest
        outer_loops = loops
    if not outer_loops:
        return
    fused = sch.fuse(*outer_loops) if len(outer_loops) > 1 else outer_loops[0]
    if work is None or work >= MIN_PARALLEL_WORK:
        sch.parallel(fused)


def _schedule_reduction(sch: Schedule, block, loops: list) -> None:
    """Run the outer loops that bind spatial iterators in parallel (TE puts them first)."""
    leading = []
    for loop, iv in zip(loops, sch.get(block).iter_vars, strict=False):
        if int(iv.iter_type) != 0:
            break
        leading.append(loop)
    if leading:
        sch.parallel(sch.fuse(*leading) if len(leading) > 1 else leading[0])


def check_scheduled(mod: tvm.IRModule, min_work: int = MIN_CHECKED_WORK) -> None:
    """Raise UnscheduledError naming every PrimFunc that has more than ``min_work`` elements in a
    buffer argument but no parallel or vectorized loop."""
    bad = []
    for gv, func in sorted(mod.functions.items(), key=lambda item: item[0].name_hint):
        if isinstance(func, tirx.PrimFunc) and _work(func) > min_work and not _has_fast_loop(
                func.body):
            bad.append(f"{gv.name_hint} ({_work(func)} elements)")
    if bad:
        raise UnscheduledError("unscheduled PrimFuncs (no parallel or vectorized loop): "
                               + ", ".join(bad))


def _work(func: tirx.PrimFunc) -> int | float:
    """Elements in the largest buffer argument (a run-time size counts as unbounded)."""
    sizes = [math.prod(int(d) if isinstance(d, tirx.IntImm) else math.inf for d in buf.shape)
             for buf in func.params if isinstance(buf, tirx.Buffer) and _is_buffer(buf)]
    return max(sizes, default=0)


def _is_buffer(param: tirx.Var) -> bool:
    """A buffer parameter (a scalar parameter has no shape)."""
    try:
        return param.shape is not None
    except AttributeError:
        return False


_FAST = (tirx.ForKind.PARALLEL, tirx.ForKind.VECTORIZED)
_CHILDREN = ("body", "seq", "then_case", "else_case", "block", "init")


def _has_fast_loop(stmt: object) -> bool:
    """True when ``stmt`` contains a parallel or vectorized ``For``."""
    if isinstance(stmt, tirx.For) and stmt.kind in _FAST:
        return True
    for name in _CHILDREN:
        child = getattr(stmt, name, None)
        if child is None:
            continue
        children = child if isinstance(child, list | tuple | Array) else [child]
        if any(_has_fast_loop(c) for c in children):
            return True
    return False
