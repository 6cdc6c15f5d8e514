"""sparsec in a worker process of its own: traces the model, compiles it with the spec's
options, writes the artifact and runs it through ``sparsec.runtime.load``.

Spec options: ``target``, ``sparsity`` (False: "TVM without BSR"), ``block_shape`` ("" lets
the cost model decide, as a user would get it), ``choice`` (also record what the cost model
would pick without the forced shape), ``profile`` (milliseconds per kernel kind).
"""

from __future__ import annotations

import collections
import re
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
from protocol import Call, serve, timed
from torch_model import load_bert, tensors


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    """Compile, write, load; the facts are the compile time and the per-weight choices."""
    import sparsec
    from sparsec.compiler import CompileOptions, compile_model, write_artifact
    from sparsec.frontend.trace import export
    from sparsec.runtime import load as load_artifact

    batch, seq_len = next(iter(inputs.values())).shape[:2]
    options = CompileOptions(target=spec["target"], threads=spec["threads"], batch=batch,
                             seq_len=seq_len, sparsity=spec["sparsity"],
                             block_shape=spec["block_shape"])
    program = export(load_bert(spec), tensors(inputs))
    compilation, seconds = timed(lambda: compile_model(program, None, options))
    write_artifact(compilation, spec["artifact"])
    compiled = load_artifact(spec["artifact"], threads=spec["threads"])
    info: dict[str, Any] = {"version": sparsec.__version__, "compile_s": seconds,
                            "compiled": count_shapes(d.block_shape
                                                     for d in compiled.manifest.weights)}
    if spec.get("choice"):
        info["cost_model_choice"] = cost_model_choice(program, options)
    if spec.get("profile"):
        info["profile_ms"] = profile(compilation.built, inputs, spec["repeat"])
    return (lambda: list(compiled(**inputs))), info


def count_shapes(shapes) -> str:
    """Block shapes as "32x1 x48, dense x24", most frequent first."""
    counts = collections.Counter(shapes)
    return ", ".join(f"{shape} x{n}" for shape, n in sorted(counts.items(),
                                                             key=lambda kv: (-kv[1], kv[0])))


def cost_model_choice(program: Any, options: Any) -> str:
    """What block-shape-selection picks when no block shape is forced."""
    from sparsec.compiler import build_passes, resolve_target, weight_decisions
    from sparsec.frontend import import_model
    from sparsec.passes import PassManager

    module = import_model(program)
    cpu = resolve_target(options).mcpu  # 'auto' looks for this CPU's calibration
    PassManager(build_passes(replace(options, block_shape=""), cpu)).run(module)
    return count_shapes(d.block_shape for d in weight_decisions(module))


def kernel_kind(symbol: str) -> str:
    """A VM call's symbol as a kind of work: ``bsr_linear3`` -> ``bsr_linear``."""
    if symbol.startswith("vm.builtin."):
        return "VM builtins"
    if symbol.startswith("fused_") or symbol in ("logical_and", "add", "multiply"):
        return "fused elementwise"
    kind = re.sub(r"\d+$", "", symbol)
    return "embedding (take)" if kind == "take" else kind


def profile(built: Any, inputs: dict[str, np.ndarray], repeat: int) -> dict[str, float]:
    """Milliseconds per call by kernel kind, timed around each VM call by an instrument hook,
    on the compiled module in memory (the artifact on disk is only read by ``load``)."""
    import tvm
    from tvm import relax

    device = tvm.cpu()
    vm = relax.VirtualMachine(built.executable, device)
    args = [tvm.runtime.tensor(inputs[spec.name], device) for spec in built.inputs]
    args += [tvm.runtime.tensor(p, device) for p in built.params]
    vm["main"](*args)  # warm-up, untimed
    totals: collections.Counter[str] = collections.Counter()
    started: dict[str, float] = {}

    def instrument(func, symbol, before_run, ret_value, *call_args) -> int:
        if before_run:
            started[symbol] = time.perf_counter()
        else:
            totals[kernel_kind(symbol)] += time.perf_counter() - started.pop(symbol)
        return 0  # VMInstrumentReturnKind.NO_OP

    vm.set_instrument(instrument)
    for _ in range(repeat):
        vm["main"](*args)
    return {kind: 1e3 * seconds / repeat for kind, seconds in sorted(totals.items())}


if __name__ == "__main__":
    sys.exit(serve(load))
