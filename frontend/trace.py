"""Trace a module with torch.export: eval mode, inference ATen graph, static shapes unless
``dynamic_shapes`` (torch.export's own argument) makes some input sizes run-time sizes.

A TorchScript module is converted by torch's TorchScript-to-export converter and
then made static the same way (``from_torchscript``).

``run_decompositions({})`` turns the training IR torch.export produces into the
functional inference IR without decomposing anything, so ``aten.linear``,
``layer_norm``, ``softmax`` and ``scaled_dot_product_attention`` stay whole
(one sparsec op each) instead of becoming ``addmm``/``var_mean`` chains.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import torch
from torch import fx
from torch.export import ExportedProgram

from .errors import FrontendError


def export(module: torch.nn.Module, example_inputs: tuple | list | dict,
           dynamic_shapes: dict | tuple | None = None) -> ExportedProgram:
    """The exported program of ``module`` at the example inputs' shapes (eval mode).

    ``dynamic_shapes`` is passed to ``torch.export.export``: the sizes it marks with a
    ``torch.export.Dim`` stay symbolic, with the Dim's range.
    """
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
            program = torch.export.export(module, args, kwargs, strict=False,
                                          dynamic_shapes=dynamic_shapes)
    except Exception as err:  # torch.export fails in many ways on untraceable code
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FrontendError(f"torch.export could not trace the model: {message}") from None
    finally:
        module.train(was_training)
    return inference_graph(program)


def has_run_time_sizes(program: ExportedProgram) -> bool:
    """Whether some input of the program has a symbolic (run-time) size."""
    user_inputs = set(program.graph_signature.user_inputs)
    return any(
        not isinstance(d, int) and not d.node.expr.is_Integer
        for node in program.graph_module.graph.nodes
        if node.op == "placeholder" and node.name in user_inputs
        and isinstance(node.meta.get("val"), torch.Tensor)
        for d in node.meta["val"].shape
    )


def inference_graph(program: ExportedProgram) -> ExportedProgram:
    """The functional inference IR of a program, with no op decomposed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return program.run_decompositions({})


def from_torchscript(script: torch.jit.ScriptModule, args: tuple) -> ExportedProgram:
    """The static inference program of a TorchScript module at the shapes of ``args``.

    torch's own converter (``torch._export.converter``) turns the TorchScript graph
    into an ExportedProgram with dynamic shapes. Its module is then specialised to
    ``args``: a scalar computed only from shapes and constants (a traced
    ``seq_len + past_length``, say) becomes a literal, the TorchScript parameters
    become parameters again (the converter makes every weight a buffer), and it is
    exported once more with static shapes. Raises whatever torch raises.
    """
    from torch._export.converter import TS2EPConverter

    with torch.no_grad(), _quiet_conversion():
        module = TS2EPConverter(script, args).convert().module()
        _specialize(module, args)
        _restore_parameters(module, [name for name, _ in script.named_parameters()])
        program = torch.export.export(module, args, strict=False)
    return inference_graph(program)


@contextlib.contextmanager
def _quiet_conversion() -> Iterator[None]:
    """The converter logs a warning per specialised dimension; our errors say what matters."""
    loggers = [logging.getLogger(name) for name in ("torch._export", "torch.export")]
    levels = [logger.level for logger in loggers]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for logger in loggers:
                logger.setLevel(logging.ERROR)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


SHAPE_OPS = (torch.ops.aten.sym_size.int, torch.ops.aten.sym_numel.default,
             torch.ops.aten.sym_stride.int)


class _StaticScalars(fx.Interpreter):
    """Runs a graph once, noting the value of every node and whether it depends only on
    shapes, constants and module state (not on the values of the inputs)."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.static: dict[fx.Node, bool] = {}
        self.values: dict[fx.Node, object] = {}

    def run_node(self, node: fx.Node) -> object:
        value = super().run_node(node)
        if node.op == "get_attr":
            static = True
        elif node.op == "call_function":
            seeded = torch.Tag.nondeterministic_seeded in getattr(node.target, "tags", ())
            static = node.target in SHAPE_OPS or (
                not seeded and all(self.static[n] for n in node.all_input_nodes))
        else:
            static = False
        self.static[node], self.values[node] = static, value
        return value


def _specialize(module: fx.GraphModule, args: tuple) -> None:
    """Replace every static Python scalar (see ``_StaticScalars``) by its value."""
    recorder = _StaticScalars(module)
    recorder.run(*args)
    for node in list(module.graph.nodes):
        value = recorder.values.get(node)
        if not (recorder.static.get(node) and node.op == "call_function"
                and type(value) in (int, float, bool)):
            continue
        for user in list(node.users):
            user.args = fx.node.map_arg(user.args, lambda n, v=value, o=node: v if n is o else n)
            user.kwargs = fx.node.map_arg(user.kwargs,
                                          lambda n, v=value, o=node: v if n is o else n)
    module.graph.eliminate_dead_code()
    module.recompile()


def _restore_parameters(module: torch.nn.Module, names: list[str]) -> None:
    """Register the buffers named ``names`` as (frozen) parameters: weights stay named
    weights in the IR, and tied ones stay one constant."""
    for name in names:
        prefix, _, leaf = name.rpartition(".")
        try:
            owner = module.get_submodule(prefix) if prefix else module
        except AttributeError:
            continue  # a parameter the graph does not use
        if leaf in owner._buffers:
            tensor = owner._buffers.pop(leaf)
            owner.register_parameter(leaf, torch.nn.Parameter(tensor, requires_grad=False))
