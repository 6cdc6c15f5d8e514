"""Translate a torch.export program (an ATen graph) into the sparsec dialect.

The graph is walked once in order. Every node becomes one of:

- an IR value (user inputs are the arguments of ``@forward``; ops come from the
  table in ``aten_ops.py``, one small function per ATen op);
- a ``Known`` tensor: parameters, buffers, and anything computed from buffers
  and constants alone (``arange``, position ids, mask scaffolding) is folded
  here with torch and enters the IR only as a ``sparsec.constant`` when an op
  needs it. Parameters are never folded, so every weight keeps its name;
- nothing, for eval-mode no-ops (dropout, clone, alias, asserts);
- a ``Size``: a run-time size (a torch.export symbol, from ``sym_size.int``).

A program exported with dynamic shapes has symbols for some input sizes. Each
becomes a ``?`` in the IR types; the first input axis that carries a symbol is
where ``sparsec.dim`` reads it (once, on first use), and ops that make a ``?``
take that value as a size operand. ``@forward`` names every symbol and gives
it the range torch recorded (``func.set_dynamic_dims``).

Unmapped ops do not stop the walk: all are collected and reported together,
each with the module and source line it came from.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
import torch
from torch import fx
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind
from torch.utils._sympy.numbers import int_oo

from sparsec.ir import Location, Operation, Value, verify
from sparsec.ir.attributes import (
    DenseElementsAttr,
    DenseResourceAttr,
    TypeAttr,
    to_attr,
)
from sparsec.ir.dialects import builtin, func, sparsec
from sparsec.ir.opdef import PURE, OpDef, has_trait
from sparsec.ir.types import FunctionType, TensorType, from_numpy_dtype

from .errors import FrontendError, UnsupportedOpsError

INLINE_LIMIT = 16  # constants with at most this many elements (or splats) print inline
LARGEST_SIZE = 2**31 - 1  # an upper bound above this is no bound (torch uses int_oo or ~2**63)


@dataclass(eq=False)
class Known:
    """A tensor known at compile time; ``key`` names it when it is a weight or buffer."""

    tensor: torch.Tensor
    key: str
    foldable: bool = True  # False for parameters: they stay named weights


@dataclass(frozen=True)
class Size:
    """A run-time size: the value of ``sym_size.int`` on a dimension torch.export made symbolic."""

    symbol: sympy.Symbol


SymbolicShape = tuple  # of int (a static size) or sympy.Expr (a run-time one)


class Unmapped:
    """Stands for the result of an op with no translation (or of anything using one)."""


class TranslateError(FrontendError):
    """An op is mapped but this use of it is not supported; the walk reports it with its source."""


Translated = Value | Known | Size | tuple | None
TranslateFn = Callable[["Translator", fx.Node], Translated]

# Ops that are the identity in an eval-mode, functional graph.
PASSTHROUGH = {
    torch.ops.aten.clone.default,
    torch.ops.aten.alias.default,
    torch.ops.aten.detach.default,
    torch.ops.aten.contiguous.default,
    torch.ops.aten.lift_fresh_copy.default,
}
# Checks torch.export leaves in the graph; they produce nothing.
ASSERTS = {
    torch.ops.aten._assert_tensor_metadata.default,
    torch.ops.aten._assert_async.msg,
    torch.ops.aten._assert_scalar.default,
    torch.ops.aten.sym_constrain_range_for_size.default,
}
# Ops that must never be folded (their value is not a function of their inputs).
RANDOM = {torch.ops.aten.rand.default, torch.ops.aten.randn.default, torch.ops.aten.bernoulli.p}


def op_name(target: object) -> str:
    """``aten.linear.default`` for an OpOverload, the function name otherwise."""
    return str(target) if isinstance(target, torch._ops.OpOverload) else getattr(
        target, "__name__", str(target)
    )


def source_of(node: fx.Node) -> str:
    """Where a node came from: its module path and the innermost model source line."""
    stack = node.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0] if stack else ""
    where = f"in {path or '<root module>'}"
    frame = _model_frame(node.meta.get("stack_trace") or "")
    return f"{where} ({frame})" if frame else where


def _model_frame(stack_trace: str) -> str:
    """``file.py:123: code`` of the innermost frame outside torch itself."""
    lines = stack_trace.strip().splitlines()
    best = ""
    for i, line in enumerate(lines):
        line = line.strip()
        if not line.startswith('File "'):
            continue
        path, _, rest = line[6:].partition('", line ')
        if "/torch/" in path:
            continue
        number = rest.split(",")[0]
        code = lines[i + 1].strip() if i + 1 < len(lines) else ""
        best = f"{path.rsplit('/', 1)[-1]}:{number}: {code}".rstrip(": ")
    return best


def location_of(node: fx.Node) -> Location | None:
    """The innermost model source line of a node as an IR location."""
    frame = _model_frame(node.meta.get("stack_trace") or "")
    if not frame:
        return None
    file, line, *_ = frame.split(":")
    return Location(file, int(line)) if line.isdigit() else Location(file)


def tensor_type_of(value: torch.Tensor, names: dict | None = None) -> TensorType:
    """The IR tensor type of a real or fake torch tensor (``?`` for a run-time size; ``names``
    spells the symbols in the error about a size that is an expression of them)."""
    shape = tuple(_ir_dim(d, names or {}) for d in symbolic_shape(value))
    return TensorType(shape, element_type_of(value.dtype))


def symbolic_shape(value: torch.Tensor) -> SymbolicShape:
    """A tensor's shape: ints for static sizes, sympy expressions for run-time ones."""
    return tuple(d if isinstance(d, int) else _sym_expr(d) for d in value.shape)


def _sym_expr(size: torch.SymInt) -> int | sympy.Expr:
    expr = size.node.expr
    return int(expr) if expr.is_Integer else expr


def _ir_dim(size: int | sympy.Expr, names: dict) -> int | None:
    if isinstance(size, int):
        return size
    if size.is_Symbol:
        return None
    spelled = size.xreplace({s: sympy.Symbol(n) for s, n in names.items()})
    raise TranslateError(f"size {spelled} is not a plain batch or sequence size")


def element_type_of(dtype: torch.dtype):
    try:
        return from_numpy_dtype(torch.empty((), dtype=dtype).numpy().dtype)
    except (TypeError, ValueError):
        raise FrontendError(f"tensors of dtype {dtype} are not supported") from None


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().contiguous().numpy()


class Translator:
    """Walks an exported program and builds the ``@forward`` function."""

    def __init__(self, program: ExportedProgram, table: dict[object, TranslateFn],
                 axis_names: dict[int, str] | None = None, takes_sizes: set | None = None):
        self.program = program
        self.table = table
        self.takes_sizes = takes_sizes or set()  # ops whose run-time size arguments are read
        self.axis_names = axis_names or {}
        self.size_names: dict[sympy.Symbol, str] = {}
        self._size_homes: dict[sympy.Symbol, tuple[Value, int]] = {}  # (input, axis) holding it
        self._size_values: dict[sympy.Symbol, Value] = {}
        self._same_size: dict[sympy.Symbol, sympy.Symbol] = {}  # symbol -> the one named first
        self._input_nodes: list[fx.Node] = []
        self.env: dict[fx.Node, Translated | Unmapped] = {}
        self.node: fx.Node | None = None  # the node being translated
        self.func: Operation | None = None
        self._constants: dict[Known, Value] = {}
        self._weights_by_storage: dict[tuple, Known] = {}

    # -- values -----------------------------------------------------------------------------------
    def value(self, arg: object, like: Value | None = None) -> Value:
        """The IR value of a node, Known tensor or Python scalar (scalars take ``like``'s dtype)."""
        if isinstance(arg, fx.Node):
            arg = self.env[arg]
        if isinstance(arg, Value):
            return arg
        if isinstance(arg, Known):
            return self._materialize(arg)
        if isinstance(arg, bool | int | float):
            return self.scalar(arg, like.type.element_type if like is not None else None)
        if isinstance(arg, Size):
            raise TranslateError(f"the run-time size {self.size_names.get(arg.symbol, arg.symbol)}"
                                 " is used as a tensor value, which is not supported")
        raise TranslateError(f"expected a tensor operand, got {arg!r}")

    def known(self, arg: object) -> Known | None:
        """The compile-time tensor behind ``arg``, if there is one."""
        found = self.env.get(arg) if isinstance(arg, fx.Node) else None
        return found if isinstance(found, Known) else None

    def scalar(self, number: bool | int | float, element_type=None) -> Value:
        """A rank-0 constant; without an element type, torch's default for the Python type."""
        if element_type is None:
            dtype = {bool: np.bool_, int: np.int64, float: np.float32}[type(number)]
            array = np.array(number, dtype=dtype)
        else:
            array = np.array(number).astype(TensorType((), element_type).dtype)
        return self.constant(DenseElementsAttr.from_array(array))

    def constant(self, value: DenseElementsAttr | DenseResourceAttr) -> Value:
        return self.emit(sparsec.Constant, [], {"value": value})

    # -- run-time sizes ---------------------------------------------------------------------------
    def size(self, symbol: sympy.Expr) -> Value:
        """The ``index`` value of a run-time size: a ``sparsec.dim`` of the first input axis that
        carries it, emitted on first use."""
        symbol = self._same_size.get(symbol, symbol)
        if symbol not in self._size_values:
            if symbol not in self._size_homes:
                raise TranslateError(f"size {symbol} is not the size of an input's axis")
            arg, axis = self._size_homes[symbol]
            self._size_values[symbol] = self.emit(sparsec.Dim, [arg], {"axis": axis})
        return self._size_values[symbol]

    def shape_operands(self, shape: SymbolicShape) -> tuple[list[int], list[Value]]:
        """A ``shape`` property (-1 for each run-time size) and the size operands it takes."""
        static = [_ir_dim(d, self.size_names) for d in shape]
        sizes = [self.size(d) for d, s in zip(shape, static, strict=True) if s is None]
        return [sparsec.DYNAMIC_SIZE if d is None else d for d in static], sizes

    def symbolic_shape(self, node: object) -> SymbolicShape | None:
        """A node's traced shape (ints and sympy symbols), None when it is no tensor."""
        value = node.meta.get("val") if isinstance(node, fx.Node) else None
        return symbolic_shape(value) if isinstance(value, torch.Tensor) else None

    def _materialize(self, known: Known) -> Value:
        if known not in self._constants:
            array = to_numpy(known.tensor)
            if known.foldable and (array.size <= INLINE_LIMIT or _is_splat(array)):
                attr = DenseElementsAttr.from_array(array)
            else:
                attr = DenseResourceAttr.from_array(known.key, array)
            self._constants[known] = self.constant(attr)
        return self._constants[known]

    # -- ops --------------------------------------------------------------------------------------
    def emit(
        self,
        opdef: OpDef,
        operands: Sequence[Value],
        properties: dict[str, object] | None = None,
        result_type: TensorType | None = None,
    ) -> Value:
        """Build an op at the end of ``@forward`` and return its single result."""
        props = {k: to_attr(v) for k, v in (properties or {}).items()}
        types = None if result_type is None else [result_type]
        location = location_of(self.node) if self.node is not None else None
        op = opdef.build(list(operands), props, types, location=location)
        func.func_body(self.func).append(op)
        return op.result

    def result_type(self, node: fx.Node | None = None) -> TensorType:
        """The IR type of a node's (single tensor) result, from its traced metadata."""
        value = (node or self.node).meta.get("val")
        if not isinstance(value, torch.Tensor):
            raise TranslateError(f"'{op_name((node or self.node).target)}' has no tensor result")
        return tensor_type_of(value, self.size_names)

    def cast(self, value: Value, element_type) -> Value:
        """``value`` converted to ``element_type`` (itself when it already is)."""
        if value.type.element_type == element_type:
            return value
        result_type = TensorType(value.type.shape, element_type)
        return self.emit(sparsec.Cast, [value], result_type=result_type)

    # -- the walk ---------------------------------------------------------------------------------
    def run(self) -> Operation:
        """The verified ``builtin.module`` holding ``@forward``."""
        graph = self.program.graph_module.graph
        inputs = self._bind_inputs(graph)
        outputs_node = next(n for n in graph.nodes if n.op == "output")
        problems: list[str] = []
        for node in graph.nodes:
            if node.op == "call_function":
                self.node = node
                self.env[node] = self._translate(node, problems)
        self.node = None
        if problems:
            raise UnsupportedOpsError(problems)
        results = self._return(outputs_node)
        _set_signature(self.func, [v.type for v in inputs], [v.type for v in results])
        func.set_names(self.func, *self._names())
        if self._size_homes:
            func.set_dynamic_dims(self.func, *self._dynamic_dims())
        _erase_dead_ops(func.func_body(self.func))
        module = builtin.module([self.func])
        verify(module)
        return module

    def _bind_inputs(self, graph: fx.Graph) -> list[Value]:
        specs = {s.arg.name: s for s in self.program.graph_signature.input_specs}
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        user = [n for n in placeholders if specs[n.name].kind == InputKind.USER_INPUT]
        for node in user:
            if not isinstance(node.meta.get("val"), torch.Tensor):
                raise FrontendError(f"input '{node.name}' is not a tensor")
        self._name_sizes(user)
        self._input_nodes = user
        self.func = func.func("forward", [self._input_type(n) for n in user], [])
        args = func.func_body(self.func).args
        for node, arg in zip(user, args, strict=True):
            self.env[node] = arg
            for axis, size in enumerate(symbolic_shape(node.meta["val"])):
                if not isinstance(size, int) and size.is_Symbol:
                    self._size_homes.setdefault(size, (arg, axis))
        for node in placeholders:
            spec = specs[node.name]
            if spec.kind != InputKind.USER_INPUT:
                self.env[node] = self._state(spec)
        return list(args)

    def _name_sizes(self, inputs: list[fx.Node]) -> None:
        """Name each symbol of the inputs' shapes by ``axis_names`` of the first axis carrying
        it; its own name (s18) where there is none.

        Every input was exported with the same Dim on a named axis, which declares those sizes
        equal, yet torch may still give each input a symbol of its own (it does for a range
        of 1..2): a second symbol on a named axis is the first one's size under another name.
        """
        first: dict[str, sympy.Symbol] = {}
        for node in inputs:
            for axis, size in enumerate(symbolic_shape(node.meta["val"])):
                if isinstance(size, int) or not size.is_Symbol or size in self.size_names:
                    continue
                name = self.axis_names.get(axis)
                if name is None:
                    name = str(size)
                elif name in first:
                    self._same_size[size] = first[name]
                first.setdefault(name, size)
                self.size_names[size] = name

    def _dynamic_dims(self) -> tuple[list[list[str]], dict[str, tuple[int, int]]]:
        """Each input's size names (one per ``?``) and every size's range."""
        dims = []
        for node in self._input_nodes:
            shape = symbolic_shape(node.meta["val"])
            dims.append([self.size_names[d] for d in shape if not isinstance(d, int)])
        ranges = {self.size_names[s]: self._range(s) for s in self._size_homes}
        return dims, ranges

    def _input_type(self, node: fx.Node) -> TensorType:
        try:
            return self.result_type(node)
        except TranslateError as err:
            raise FrontendError(f"input '{node.name}': {err}") from None

    def _range(self, symbol: sympy.Symbol) -> tuple[int, int]:
        name = self.size_names[symbol]
        bounds = self.program.range_constraints.get(symbol)
        upper = None if bounds is None else bounds.upper
        if upper is None or upper is int_oo or not upper.is_Integer or int(upper) > LARGEST_SIZE:
            raise FrontendError(f"no upper bound for size {name}; give dynamic_shapes a max")
        return max(int(bounds.lower), 1), int(upper)

    def _state(self, spec) -> Known:
        """A parameter, buffer or constant; tied parameters share one Known (one constant)."""
        if spec.kind == InputKind.PARAMETER:
            tensor = self.program.state_dict[spec.target]
        elif spec.kind == InputKind.BUFFER:
            source = self.program.state_dict if spec.persistent else self.program.constants
            tensor = source.get(spec.target, self.program.constants.get(spec.target))
        elif spec.kind == InputKind.CONSTANT_TENSOR:
            tensor = self.program.constants[spec.target]
        else:
            raise FrontendError(f"unsupported graph input '{spec.arg.name}' ({spec.kind.name})")
        if not isinstance(tensor, torch.Tensor):
            raise FrontendError(f"'{spec.target}' is not a tensor")
        storage = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
                   tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if spec.kind == InputKind.PARAMETER and storage in self._weights_by_storage:
            return self._weights_by_storage[storage]
        known = Known(tensor.detach(), spec.target, foldable=spec.kind != InputKind.PARAMETER)
        if spec.kind == InputKind.PARAMETER:
            self._weights_by_storage[storage] = known
        return known

    def _translate(self, node: fx.Node, problems: list[str]) -> Translated | Unmapped:
        target = node.target
        if target in ASSERTS:
            return None
        inputs = [self.env.get(n) for n in node.all_input_nodes]
        if target in PASSTHROUGH:
            return self.env[node.args[0]]
        if target is operator.getitem:
            source = self.env[node.args[0]]
            return source if isinstance(source, Unmapped) else source[node.args[1]]
        foldable = self._foldable(node, inputs)
        if target not in self.table and not foldable:
            problems.append(f"{op_name(target)} {source_of(node)}")
            return Unmapped()
        if any(isinstance(v, Unmapped) for v in inputs):
            return Unmapped()  # a consequence of an op already reported
        if foldable:
            return self._fold(node)
        try:
            self._check_size_arguments(node, inputs)
            return self.table[target](self, node)
        except TranslateError as err:
            problems.append(f"{op_name(target)} {source_of(node)}: {err}")
            return Unmapped()

    def _check_size_arguments(self, node: fx.Node, inputs: list) -> None:
        sizes = [v for v in inputs if isinstance(v, Size)]
        if sizes and node.target not in self.takes_sizes:
            name = self.size_names.get(sizes[0].symbol, sizes[0].symbol)
            raise TranslateError(f"the run-time size {name} is used as a value, which is not "
                                 "supported")

    def _foldable(self, node: fx.Node, inputs: list) -> bool:
        return (
            isinstance(node.target, torch._ops.OpOverload)
            and node.target not in RANDOM
            and all(isinstance(v, Known) and v.foldable for v in inputs)
        )

    def _fold(self, node: fx.Node) -> Translated:
        def concrete(arg):
            found = self.env.get(arg) if isinstance(arg, fx.Node) else None
            return found.tensor if isinstance(found, Known) else arg

        args = fx.node.map_aggregate(node.args, concrete)
        kwargs = fx.node.map_aggregate(node.kwargs, concrete)
        with torch.no_grad():
            result = node.target(*args, **kwargs)
        key = self.derived_key(node)
        if isinstance(result, tuple | list):
            return tuple(Known(r, f"{key}.{i}") if isinstance(r, torch.Tensor) else r
                         for i, r in enumerate(result))
        return Known(result, key) if isinstance(result, torch.Tensor) else result

    @staticmethod
    def derived_key(node: fx.Node, suffix: str = "") -> str:
        """A resource key for a constant made here: module path, node name, what it is."""
        stack = node.meta.get("nn_module_stack") or {}
        path = list(stack.values())[-1][0] if stack else ""
        parts = [p for p in (path, node.name, suffix) if p]
        return ".".join(parts)

    def _return(self, outputs_node: fx.Node) -> list[Value]:
        specs = self.program.graph_signature.output_specs
        for spec in specs:
            if spec.kind != OutputKind.USER_OUTPUT:
                raise FrontendError(
                    f"the model mutates '{spec.target}' while running ({spec.kind.name}); "
                    "only side-effect-free inference graphs can be imported"
                )
        results = []
        for arg in outputs_node.args[0]:
            if not isinstance(arg, fx.Node):
                raise FrontendError(f"the model returns a non-tensor value {arg!r}")
            results.append(self.value(arg))
        func.func_body(self.func).append(func.Return.build(results, result_types=()))
        return results

    def _names(self) -> tuple[list[str], list[str]]:
        """Input names, and output names (a dict-like output, e.g. a ModelOutput, has keys)."""
        signature = self.program.graph_signature
        out_spec = self.program.call_spec.out_spec
        outputs = _output_names(out_spec, len(signature.user_outputs))
        return [str(n) for n in signature.user_inputs], outputs


def _output_names(out_spec, count: int) -> list[str]:
    """Names from a dict-like output (e.g. a Hugging Face ModelOutput), else output0, output1..."""
    context = getattr(out_spec, "context", None)
    if isinstance(context, list | tuple) and len(context) == count and all(
        isinstance(c, str) for c in context
    ):
        return list(context)
    return [f"output{i}" for i in range(count)]


def _set_signature(op: Operation, inputs: list, outputs: list) -> None:
    """The function type, once the results are known (the body is built first)."""
    op.properties["function_type"] = TypeAttr(FunctionType(tuple(inputs), tuple(outputs)))


def _is_splat(array: np.ndarray) -> bool:
    flat = array.reshape(-1)
    return flat.size > 0 and bool(np.all(flat == flat[0]))


def _erase_dead_ops(block) -> None:
    """Drop pure ops whose results nobody uses (e.g. a weight transpose folded into linear)."""
    for op in reversed(block.ops):
        if has_trait(op.name, PURE) and not op.has_uses:
            op.erase()


def translate(program: ExportedProgram, axis_names: dict[int, str] | None = None) -> Operation:
    """The sparsec ``builtin.module`` of an exported program (verified).

    A run-time size carried by input axis ``a`` is named ``axis_names[a]`` (e.g. {0: "batch",
    1: "seq"} when every input was exported with those Dims), else by its torch symbol.
    """
    from .aten_ops import TABLE, TAKES_SIZES

    return Translator(program, TABLE, axis_names, TAKES_SIZES).run()
