"""Build a sparsec IR module into one TVM Relax VM executable for a CPU target.

    built = build_module(module, parse_target("llvm"))
    outputs = run_built(built, [ids, mask, token_types])

Stages (reported to ``progress``): "lowering" (IR -> Relax, ``lower.py``), "scheduling"
(legalize, fuse, share identical kernels, schedule every PrimFunc, refuse unscheduled ones),
"compiling" (``tvm.compile``). Weights are parameters of ``main`` after the inputs; they are
returned in ``Built.params`` for the caller to save beside the library.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import tvm
from tvm import relax, tirx

from sparsec.codegen.lower import LoweringError, TensorSpec, lower
from sparsec.codegen.schedule import UnscheduledError, check_scheduled, schedule_module
from sparsec.codegen.target import CpuTarget
from sparsec.ir.core import Operation

if TYPE_CHECKING:
    from sparsec.codegen.tune import TuneOptions, TuneReport

__all__ = ["Built", "LoweringError", "TensorSpec", "UnscheduledError", "build_module",
           "run_built", "schedule_relax"]


@dataclass
class Built:
    """A compiled model: the VM executable and what its ``main`` takes and gives."""

    executable: object  # tvm relax VM executable; "main" takes inputs..., then params...
    param_names: list[str]
    params: list[np.ndarray]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    kernels: dict[str, int]  # kernel family -> distinct PrimFuncs
    tuning: TuneReport | None = None  # set when built with ``tune``
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # run-time sizes


def build_module(module: Operation, target: CpuTarget, *,
                 progress: Callable[[str], None] | None = None,
                 tune: TuneOptions | None = None) -> Built:
    """Lower, schedule and compile the ``forward`` function of ``module`` for ``target``;
    with ``tune``, meta_schedule tunes the generically scheduled kernels (``tune.py``)."""
    step = progress or (lambda stage: None)
    step("lowering")
    lowered = lower(module, target)
    step("scheduling")
    reports: list[TuneReport] = []
    mod = schedule_relax(lowered.module, target, tune, step, reports.append)
    step("compiling")
    executable = tvm.compile(mod, target.tvm_target(), relax_pipeline=_lowering_passes())
    return Built(executable, lowered.param_names, lowered.params, lowered.inputs,
                 lowered.outputs, kernel_families(mod), reports[0] if reports else None,
                 lowered.ranges)


def schedule_relax(mod: tvm.IRModule, target: CpuTarget, tune: TuneOptions | None = None,
                   progress: Callable[[str], None] | None = None,
                   report: Callable[[TuneReport], None] | None = None) -> tvm.IRModule:
    """Legalize and fuse the Relax ops, share identical kernels, tune (with ``tune``: the
    ``TuneReport`` goes to ``report``), schedule every PrimFunc and check that none is left
    unscheduled."""
    mod = tvm.transform.Sequential([
        relax.transform.LegalizeOps(),
        relax.transform.AnnotateTIROpPattern(),
        relax.transform.FoldConstant(),
        relax.transform.FuseOps(),
        relax.transform.FuseTIR(),
        relax.transform.RewriteDataflowReshape(),  # before scheduling hides the reshape pattern
        relax.transform.DeadCodeElimination(),
    ])(mod)
    if tune is not None:
        from sparsec.codegen.tune import tune_module  # meta_schedule only when asked for

        mod, tuning = tune_module(mod, target, tune, progress)
        (report or (lambda _: None))(tuning)
    mod = schedule_module(mod, target.vector_lanes)
    check_scheduled(mod)
    return mod


def _lowering_passes() -> tvm.transform.Pass:
    """The default CPU pipeline after fusion (fusing again would undo the schedules)."""
    from tvm.relax.backend.cpu_generic import pipeline

    llvm = tvm.target.Target("llvm")
    return tvm.transform.Sequential([*pipeline.dataflow_lower_passes(llvm),
                                     *pipeline.finalize_passes(llvm)])


def kernel_families(mod: tvm.IRModule) -> dict[str, int]:
    """Distinct PrimFuncs per kernel family (the family attribute, else the name without
    its numbering)."""
    counts: Counter[str] = Counter()
    for gv, func in mod.functions.items():
        if isinstance(func, tirx.PrimFunc):
            family = func.attrs.get("sparsec.family") if func.attrs is not None else None
            counts[str(family) if family else re.sub(r"\d+", "", gv.name_hint)] += 1
    return dict(sorted(counts.items()))


def run_built(built: Built, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run ``built`` in-process on numpy inputs (parameters uploaded on every call)."""
    device = tvm.cpu()
    vm = relax.VirtualMachine(built.executable, device)
    args = [tvm.runtime.tensor(np.ascontiguousarray(a), device) for a in [*inputs, *built.params]]
    result = vm["main"](*args)
    return [r.numpy() for r in result]
