"""sparsec.frontend: PyTorch / Hugging Face models -> the sparsec IR.

    module = import_model("path/to/bert")                  # HF folder, .pt2, TorchScript, ...
    module = import_model(my_module, (ids, mask))          # an in-memory nn.Module

    module = import_model("path/to/bert", batch=(1, 32), seq_len=(1, 512))  # run-time sizes

The model is traced with torch.export (eval mode, static shapes unless ``batch`` /
``seq_len`` is a (min, max) range) and each ATen op is translated by the table in
``aten_ops.py``. The only package that imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from sparsec.ir import Operation
from sparsec.ir.dialects import func
from sparsec.ir.interpreter import find_function

from .errors import FrontendError, UnsupportedOpsError
from .loader import (
    FIXED_SHAPES,
    SizeOption,
    dynamic_shapes,
    hf_example_inputs,
    is_range,
    load,
    size_names,
    size_option,
)
from .trace import export, has_run_time_sizes, inference_graph
from .translate import translate

__all__ = ["FrontendError", "UnsupportedOpsError", "import_model"]


def import_model(
    source: str | os.PathLike | torch.nn.Module | torch.export.ExportedProgram,
    example_inputs: tuple | list | dict | None = None,
    *,
    batch: SizeOption = None,
    seq_len: SizeOption = None,
    allow_pickle: bool = False,
    allow_missing_weights: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Operation:
    """The verified ``builtin.module`` (one ``@forward`` function) of a model.

    ``source`` is a path (torch.export archive, TorchScript archive, Hugging Face
    directory, or a pickled module with ``allow_pickle=True``), an ``nn.Module``
    (with ``example_inputs``, positional tuple or keyword dict; Hugging Face
    models default to ``batch`` x ``seq_len`` token ids: 1 x min(128, the
    model's position table) unless given), or an ``ExportedProgram``. A
    TorchScript archive is traced at the input shapes it recorded, or at
    ``batch`` x ``seq_len`` where given.
    ``batch`` / ``seq_len`` may be a ``(min, max)`` range: a module traced here is then
    exported with that size symbolic (axis 0 / axis 1 of every tensor input, named
    "batch" / "seq") and the IR has ``?`` sizes valid across the range. A program (or
    .pt2) exported with ``dynamic_shapes`` keeps its own symbolic sizes and ranges; a
    static one, or a TorchScript archive, cannot take a range.
    ``allow_missing_weights`` accepts a Hugging Face checkpoint that lacks some
    of its model's weights (transformers initialises them at random).
    ``progress`` is told each stage ("loading", "tracing", "translating").
    """
    step = progress or (lambda stage: None)
    batch, seq_len = size_option("batch", batch), size_option("seq_len", seq_len)
    ranges = is_range(batch) or is_range(seq_len)
    input_names, dims = None, None
    if isinstance(source, torch.export.ExportedProgram):
        if ranges and not has_run_time_sizes(source):
            raise FrontendError(f"the exported program {FIXED_SHAPES}")
        program = inference_graph(source)
    else:
        if isinstance(source, torch.nn.Module):
            module, inputs = source, example_inputs
            if inputs is None and hasattr(getattr(source, "config", None), "vocab_size"):
                inputs = hf_example_inputs(source, batch, seq_len)
        else:
            step("loading")
            loaded = load(source, batch=batch, seq_len=seq_len, allow_pickle=allow_pickle,
                          allow_missing_weights=allow_missing_weights)
            if loaded.program is not None:
                module, inputs, input_names = None, None, loaded.input_names
                program = inference_graph(loaded.program)
            else:
                module, inputs = loaded.module, example_inputs or loaded.example_inputs
        if module is not None:
            if inputs is None:
                raise FrontendError("example inputs are needed to trace this module "
                                    "(its input shapes are unknown)")
            step("tracing")
            dims = dynamic_shapes(inputs, batch, seq_len)
            program = export(module, inputs, dims)
    step("translating")
    module = translate(program, size_names(batch, seq_len) if dims is not None else None)
    if input_names is not None:
        _rename_inputs(module, input_names)
    return module


def _rename_inputs(module: Operation, names: tuple[str, ...]) -> None:
    """Give ``@forward``'s inputs ``names`` (its outputs keep theirs)."""
    forward = find_function(module, "forward")
    func.set_names(forward, list(names), func.result_names(forward))
