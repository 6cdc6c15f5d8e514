"""Trace a module with torch.export: eval mode, static shapes, inference ATen graph.

``run_decompositions({})`` turns the training IR torch.export produces into the
functional inference IR without decomposing anything, so ``aten.linear``,
``layer_norm``, ``softmax`` and ``scaled_dot_product_attention`` stay whole
(one sparsec op each) instead of becoming ``addmm``/``var_mean`` chains.
"""

from __future__ import annotations

import warnings

import torch
from torch.export import ExportedProgram

from .errors import FrontendError


def export(module: torch.nn.Module, example_inputs: tuple | list | dict) -> ExportedProgram:
    """The exported program of ``module`` at the example inputs' shapes (eval mode)."""
    if isinstance(example_inputs, dict):
        args, kwargs = (), dict(example_inputs)
    elif isinstance(example_inputs, tuple | list):
        args, kwargs = tuple(example_inputs), {}
    else:
        args, kwargs = (example_inputs,), {}
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(module, args, kwargs, strict=False)
    except Exception as err:  # torch.export fails in many ways on untraceable code
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FrontendError(f"torch.export could not trace the model: {message}") from None
    finally:
        module.train(was_training)
    return inference_graph(program)


def inference_graph(program: ExportedProgram) -> ExportedProgram:
    """The functional inference IR of a program, with no op decomposed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return program.run_decompositions({})
