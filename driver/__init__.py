"""sparsec: an ahead-of-time compiler for sparse transformer inference on CPUs.

    import sparsec
    model = sparsec.compile(bert, target="llvm -mcpu=skylake-avx512", block_shape="32x1")
    hidden = model(input_ids=ids, attention_mask=mask)
    model.save("bert.sparsec")
    model = sparsec.load("bert.sparsec")

Importing ``sparsec`` is cheap: torch and tvm are imported only when a model is compiled
or loaded, so ``import sparsec.ir`` stays free of both.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import TYPE_CHECKING, Any

from sparsec.threads import shorten_openmp_spin

if TYPE_CHECKING:
    from sparsec.runtime import CompiledModel

shorten_openmp_spin()  # before torch or tvm load libgomp (see sparsec.threads)

__version__ = "0.1.0"

__all__ = ["ArtifactError", "CompiledModel", "InputError", "compile", "load"]

# Names re-exported lazily from the runtime (importing it at start-up would import numpy).
_RUNTIME_NAMES = {"CompiledModel": "sparsec.runtime", "InputError": "sparsec.runtime",
                  "ArtifactError": "sparsec.artifact"}


def __getattr__(name: str) -> Any:
    if name in _RUNTIME_NAMES:
        import importlib

        return getattr(importlib.import_module(_RUNTIME_NAMES[name]), name)
    raise AttributeError(f"module 'sparsec' has no attribute '{name}'")


def compile(  # shadows the builtin on purpose: the public name, as torch.compile
    model: Any,
    example_inputs: Any = None,
    *,
    target: str = "llvm",
    sparsity: bool = True,
    block_shape: str | None = None,
    batch: int | tuple[int, int] | None = None,
    seq_len: int | tuple[int, int] | None = None,
    threads: int | None = None,
    **pass_options: Any,
) -> CompiledModel:
    """Compile ``model`` and return it ready to call.

    ``model`` is an ``nn.Module`` (Hugging Face models need no ``example_inputs``: they are
    traced with ``batch`` x ``seq_len`` token ids, by default 1 x min(128, the model's
    positions); a ``(min, max)`` range instead of a size gives one model that runs every size in
    it), a ``torch.export.ExportedProgram``, or a path (export archive, TorchScript
    archive, Hugging Face directory, or IR text from ``sparsec import`` / ``sparsec opt``).
    ``target`` is an LLVM CPU target such as ``"llvm -mcpu=skylake-avx512"`` (``"llvm"``: this
    machine's CPU). ``block_shape`` forces one choice ("32x1", "dense") for every weight;
    ``sparsity=False`` keeps every weight dense.
    ``threads`` sets the threads the schedules are made for and the runtime uses.
    ``pass_options`` are further fields of ``sparsec.compiler.CompileOptions`` (``layers``,
    ``dense_above``, ``cost_model``, ``block_shapes``, ``min_speedup``, ``dump_ir`` ...).
    """
    from sparsec.compiler import CompileOptions, compile_model, write_artifact
    from sparsec.runtime import load as load_artifact

    known = {f.name for f in dataclasses.fields(CompileOptions)}
    unknown = sorted(set(pass_options) - known)
    if unknown:
        raise TypeError(f"sparsec.compile() got unexpected keyword argument(s) {unknown}; "
                        f"accepted: {sorted(known)}")
    if "layers" in pass_options:
        pass_options["layers"] = tuple(pass_options["layers"])
    options = CompileOptions(target=target, sparsity=sparsity, block_shape=block_shape or "",
                             batch=batch, seq_len=seq_len, threads=threads, **pass_options)
    compilation = compile_model(model, example_inputs, options)
    folder = tempfile.TemporaryDirectory(prefix="sparsec-")  # lives as long as the model
    path = os.path.join(folder.name, "model.sparsec")
    write_artifact(compilation, path)
    return load_artifact(path, threads=threads, keep_alive=folder)


def load(path: str | os.PathLike, *, threads: int | None = None) -> CompiledModel:
    """Open an artifact written by ``sparsec compile`` or ``CompiledModel.save``."""
    from sparsec.runtime import load as load_artifact

    return load_artifact(path, threads=threads)
