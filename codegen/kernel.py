"""A compiled TVM kernel: one PrimFunc built for a CPU target, callable with numpy arrays."""

from __future__ import annotations

import numpy as np
import tvm
from tvm import tirx

from sparsec.codegen.target import CpuTarget

ArrayLike = np.ndarray | tvm.runtime.Tensor


class CompiledKernel:
    """``func`` compiled for ``target``; arguments are passed in the PrimFunc's order."""

    def __init__(self, func: tirx.PrimFunc, name: str, target: CpuTarget) -> None:
        self.name = name
        self.target = target
        self.executable = tvm.compile(tvm.IRModule({name: func.with_attr("global_symbol", name)}),
                                      target.as_dict())
        self.module = self.executable.jit()
        self.device = tvm.cpu()

    def tensors(self, *arrays: ArrayLike) -> list[tvm.runtime.Tensor]:
        """Device tensors for ``arrays`` (tensors already on the device are passed through)."""
        return [a if isinstance(a, tvm.runtime.Tensor) else tvm.runtime.tensor(a, self.device)
                for a in arrays]

    def run(self, *arrays: ArrayLike) -> None:
        """Call the kernel; outputs are written in place into their (tensor) arguments."""
        self.module[self.name](*self.tensors(*arrays))

    def median_seconds(self, *arrays: ArrayLike, repeat: int = 30, min_ms: int = 20) -> float:
        """Median wall time of one call, after a warm-up call (each repeat lasts ≥ ``min_ms``)."""
        tensors = self.tensors(*arrays)
        self.module[self.name](*tensors)
        timer = self.module.time_evaluator(self.name, self.device, repeat=repeat,
                                           min_repeat_ms=min_ms)
        return float(np.median(timer(*tensors).results))
