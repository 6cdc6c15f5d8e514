"""TorchScript archives (``torch.jit.save``, e.g. of ``torch.jit.trace(model, ...)``) in.

    program, names = load_torchscript(copy, members, allow_pickle=False, batch=None,
                                      seq_len=None, shown=Path("model.pt"))

Loading a TorchScript archive runs no Python, but its TorchScript code can call
any registered operator, including ones that write or read files
(``torch.save``), and ``torch.jit.load`` runs its ``__setstate__`` methods. So
the archive is checked before torch reads it
(``archive_check.check_torchscript_archive``: pickles, no ``__setstate__``), and
the graph of ``forward`` after loading, before anything runs or converts it:
only torch's own ``aten::``/``prim::`` operators, none that touches files or
prints. ``--allow-pickle`` trusts the file and skips both.

The module is converted by torch's TorchScript-to-export converter
(``trace.from_torchscript``) at example inputs: the shapes the archive recorded
when it was traced, unless ``batch``/``seq_len`` say otherwise. The inputs are
named after ``forward``'s arguments (``input_ids``, ``attention_mask``, ...).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import torch
from torch.export import ExportedProgram

from .archive_check import check_torchscript_archive, torch_message, traced_input_types
from .errors import FrontendError
from .trace import from_torchscript

OPERATOR_NAMESPACES = ("aten::", "prim::")
# Operators of those namespaces with effects outside the tensors: files, the terminal.
UNSAFE_OPERATORS = frozenset({"aten::save", "aten::from_file", "aten::_print", "prim::Print"})
UNSEEN_CALLS = frozenset({"prim::CallMethod", "prim::CallFunction"})  # left after inlining
DEFAULT_SEQ_LEN = 128
MAX_INPUT_ELEMENTS = 1 << 26


def load_torchscript(copy: Path, names: list[str], *, allow_pickle: bool, batch: int | None,
                     seq_len: int | None, shown: Path) -> tuple[ExportedProgram, tuple[str, ...]]:
    """The static program of the TorchScript archive ``copy`` and its input names.

    ``copy`` and ``names`` come from ``archive_check.checked_copy``; messages
    name ``shown``, the user's file.
    """
    check_torchscript_archive(copy, names, allow_pickle, shown)
    recorded = traced_input_types(copy, names, shown)
    script = _jit_load(copy, shown)
    if not allow_pickle:
        check_operators(script, shown)
    inputs = argument_names(script, shown)
    args = example_inputs(inputs, recorded, batch, seq_len, _position_rows(script), shown)
    try:
        program = from_torchscript(script, args)
    except Exception as err:  # the converter and torch.export fail in many ways
        shapes = ", ".join(f"{name} {list(arg.shape)}" for name, arg in zip(inputs, args,
                                                                          strict=True))
        raise FrontendError(f"cannot convert TorchScript model '{shown}' at {shapes}: "
                            f"{torch_message(err)}") from None
    return program, inputs


def _jit_load(copy: Path, shown: Path) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load's deprecation warning
            return torch.jit.load(str(copy), map_location="cpu")
    except Exception as err:  # torch raises RuntimeError with a multi-line message
        raise FrontendError(f"cannot load TorchScript archive '{shown}': "
                            f"{torch_message(err)}") from None


def check_operators(script: torch.jit.ScriptModule, shown: Path) -> None:
    """Refuse a ``forward`` that calls an operator with effects beyond its tensors."""
    graph = _forward(script, shown).graph.copy()
    torch._C._jit_pass_inline(graph)
    blocks = [graph.block()]
    while blocks:
        for node in blocks.pop().nodes():
            kind = node.kind()
            if kind in UNSAFE_OPERATORS:
                why = "reads or writes files or prints"
            elif kind in UNSEEN_CALLS:
                why = "calls code that cannot be inspected"
            elif not kind.startswith(OPERATOR_NAMESPACES):
                why = "is not an operator of torch's tensor library"
            else:
                blocks.extend(node.blocks())
                continue
            raise FrontendError(f"'{shown}': its TorchScript code calls '{kind}', which {why}; "
                                "pass --allow-pickle (allow_pickle=True) only if you trust "
                                "the file")


def _forward(script: torch.jit.ScriptModule, shown: Path):
    forward = getattr(script, "forward", None)
    if forward is None or not hasattr(forward, "schema"):
        raise FrontendError(f"TorchScript archive '{shown}' has no forward method")
    return forward


def argument_names(script: torch.jit.ScriptModule, shown: Path) -> tuple[str, ...]:
    """The names of ``forward``'s arguments (all tensors), in order."""
    arguments = _forward(script, shown).schema.arguments[1:]  # after self
    for argument in arguments:
        if str(argument.type) != "Tensor":
            raise FrontendError(f"'{shown}': forward takes '{argument.name}' of type "
                                f"{argument.type}; only tensor inputs can be compiled")
    if not arguments:
        raise FrontendError(f"'{shown}': forward takes no inputs")
    return tuple(argument.name for argument in arguments)


def example_inputs(names: tuple[str, ...], recorded: list | None, batch: int | None,
                   seq_len: int | None, position_rows: int | None, shown: Path) -> tuple:
    """Example inputs: the recorded shapes and dtypes, ``batch``/``seq_len`` replacing
    their two dimensions when given; without a record, int64 ``[batch, seq_len]`` tensors.

    Masks are ones, everything else zeros (valid token ids and token types).
    """
    if (batch is not None and batch < 1) or (seq_len is not None and seq_len < 1):
        raise FrontendError(f"batch and seq_len must be positive, got {batch} and {seq_len}")
    if recorded is not None and len(recorded) == len(names):
        if (batch is not None or seq_len is not None) and any(len(s) != 2 for s, _ in recorded):
            raise FrontendError(f"'{shown}': --batch and --seq-len apply to [batch, seq_len] "
                                "inputs; this model was traced with "
                                f"{', '.join(str(list(s)) for s, _ in recorded)}")
        specs = [(tuple(s) if batch is None and seq_len is None else
                  (batch or s[0], seq_len or s[1]), dtype) for s, dtype in recorded]
    else:
        default = min(DEFAULT_SEQ_LEN, position_rows or DEFAULT_SEQ_LEN)
        specs = [((batch or 1, seq_len or default), torch.int64)] * len(names)
    for name, (shape, _) in zip(names, specs, strict=True):
        if math.prod(shape) > MAX_INPUT_ELEMENTS:
            raise FrontendError(f"'{shown}': input '{name}' of shape {list(shape)} is too large "
                                "to trace")
    return tuple(torch.ones(shape, dtype=dtype) if "mask" in name else
                 torch.zeros(shape, dtype=dtype)
                 for name, (shape, dtype) in zip(names, specs, strict=True))


def _position_rows(script: torch.jit.ScriptModule) -> int | None:
    """Rows of a BERT-style position embedding table: the longest sequence the model takes."""
    for name, tensor in script.named_parameters():
        if name.endswith("position_embeddings.weight") and tensor.dim() == 2:
            return int(tensor.shape[0])
    return None
