"""Lower a sparsec IR function to one TVM Relax module.

Weights become parameters of ``main`` (after the inputs), never baked-in constants, so the
library stays small and its build time does not grow with the weights. Each op maps to:

- ``linear`` / ``bsr_linear``: the hand-scheduled dense or BSR kernel (``dense_linear.py``,
  ``bsr_linear.py``) on a ``[M, K]`` view, with the op's ``epilogue`` (exact gelu, residual add:
  see the ``fusion`` pass) in the kernel's store; weights are packed into the kernel's layout
  here, at build time. Other linears (weights computed at run time) become a batched matmul.
- ``attention``: the kernel of ``attention.py``, reading and writing each operand in the layout
  the op's ``layout`` property gives, and q, k, v from their ``head_offsets`` on when the op
  has them (one tensor holding all three: a combined projection's result, not copied).
- ``matmul``: the kernel of ``matmul.py``.
- everything else: the Relax op of the same meaning, legalized to TE later and scheduled by
  ``schedule.py`` (elementwise, casts, shapes, layer_norm, softmax, reductions, gathers).

Run-time sizes: each symbol of the function's ``sparsec.dim_ranges`` becomes a TIR variable in
the shapes of ``main``'s inputs, Relax infers the shapes after them, and an ``index`` value of the
IR (``sparsec.dim``) is the PrimExpr of that size. Linear, attention and layer-norm kernels are
then the dynamic plans, sized for the largest shapes the ranges allow.

Kernels are added through the BlockBuilder, which keeps one PrimFunc per distinct definition,
so layers of the same shape share their kernels.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tvm
import tvm_ffi
from tvm import relax, te, tirx
from tvm.sym import Analyzer

from sparsec.codegen.attention import AttentionPlan, attention_func
from sparsec.codegen.bsr_linear import bsr_linear_func, plan_bsr_linear
from sparsec.codegen.dense_linear import dense_linear_func, plan_dense_linear
from sparsec.codegen.epilogue import Epilogue
from sparsec.codegen.matmul import MatmulPlan, matmul_func
from sparsec.codegen.normalization import LayerNormPlan, layer_norm_func
from sparsec.codegen.scan import ScanPlan, cumsum_func
from sparsec.codegen.schedule import mark_scheduled
from sparsec.codegen.target import CpuTarget
from sparsec.errors import UserError
from sparsec.ir.attributes import DenseResourceAttr
from sparsec.ir.bsr import BSR
from sparsec.ir.core import BlockArgument, Operation, Value
from sparsec.ir.dialects import func as func_dialect
from sparsec.ir.dialects import sparsec
from sparsec.ir.dialects.sparsec import (
    DYNAMIC_SIZE,
    attention_heads,
    attention_layouts,
    linear_epilogue,
    linear_weights,
    swap_seq_heads,
)
from sparsec.ir.interpreter import find_function
from sparsec.ir.matchers import (
    BINARY_OPS,
    COMPARE_PREDICATES,
    REDUCE_KINDS,
    UNARY_OPS,
    constant_array,
    ints,
    table_for,
)
from sparsec.ir.types import TensorType, index

Size = int | tvm.ir.expr.Expr  # a static size, or a PrimExpr of the run-time sizes


def _spec_size(size: Size) -> int | str:
    """A size as the manifest records it: an int, or the symbol (expression) it is."""
    return size if isinstance(size, int) else str(size)


class LoweringError(UserError):
    """The IR holds something the code generator cannot lower (the message names the op)."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of the compiled model."""

    name: str
    shape: tuple[int | str, ...]  # a run-time size is its symbol ("batch", "seq")
    dtype: str  # numpy dtype name
    upper_bound: int | None = None  # exclusive bound on the values (token ids < vocab)


@dataclass
class Lowered:
    """The Relax module and what its ``main`` takes and gives."""

    module: tvm.IRModule
    param_names: list[str]
    params: list[np.ndarray]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol -> (min, max)


def _weights_unchecked(module: tvm.IRModule, inputs: int) -> tvm.IRModule:
    """``main`` with the Relax attribute ``num_input``: the VM then checks the type and shape of
    the inputs only, not of the ~200 weights after them on every call (1.3 us apiece, ~0.9 ms a
    BERT-base call). The runtime checks the weights once, when it loads them (artifact.py)."""
    main = module.get_global_var("main")
    module.update_func(main, module[main].with_attr("num_input", inputs))
    return module


def lower(module: Operation, target: CpuTarget, func_name: str = "forward") -> Lowered:
    """Lower function ``func_name`` of ``module`` to a Relax module with one ``main``."""
    func = find_function(module, func_name)
    return _Lowerer(func, target).run()


# -- signature ------------------------------------------------------------------------------


def _dtype(t: TensorType) -> str:
    return np.dtype(t.dtype).name


def _static_shape(t: TensorType, what: str) -> tuple[int, ...]:
    if not isinstance(t, TensorType) or not t.is_static:
        raise LoweringError(f"{what} has type {t}; only static tensor shapes can be compiled")
    return tuple(int(d) for d in t.shape)


def _names(func: Operation, legacy_key: str, names: list[str]) -> list[str]:
    """``names`` from ``arg_attrs``/``res_attrs``, or the older list attribute ``legacy_key``."""
    attr = func.attributes.get(legacy_key)
    legacy = [getattr(a, "value", str(a)) for a in attr] if attr is not None else []
    named = any(not re.fullmatch(r"(input|output)\d+", n) for n in names)
    return legacy if not named and len(legacy) == len(names) else names


_INDEX_PASSTHROUGH = {d.name: d for d in (
    sparsec.Cast, sparsec.Reshape, sparsec.Permute, sparsec.BroadcastTo, sparsec.Slice)}


def index_bounds(func: Operation) -> dict[int, int]:
    """Exclusive bounds of the function arguments that (through casts and shape ops) feed the
    indices of an ``embedding`` or ``take``: argument index -> smallest bound."""
    bounds: dict[int, int] = {}
    for op in func.regions[0].block.ops:
        if op.name == "sparsec.embedding":
            size, ids = sparsec.Embedding(op).table.type.shape[0], sparsec.Embedding(op).indices
        elif op.name == "sparsec.take":
            take = sparsec.Take(op)
            size, ids = take.input.type.shape[int(take.axis)], take.indices
        else:
            continue
        while not isinstance(ids, BlockArgument) and ids.definer.name in _INDEX_PASSTHROUGH:
            ids = _INDEX_PASSTHROUGH[ids.definer.name](ids.definer).input
        if isinstance(ids, BlockArgument) and size is not None:
            bounds[ids.index] = min(bounds.get(ids.index, size), int(size))
    return bounds


# -- the lowering ---------------------------------------------------------------------------


@dataclass
class _Lowerer:
    func: Operation
    target: CpuTarget
    bb: relax.BlockBuilder = field(default_factory=relax.BlockBuilder)
    values: dict[Value, relax.Expr] = field(default_factory=dict)
    param_vars: dict[str, relax.Var] = field(default_factory=dict)
    param_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    inline_names: dict[Value, str] = field(default_factory=dict)
    sizes: dict[Value, Size] = field(default_factory=dict)  # index values: their PrimExpr
    symbols: dict[str, tirx.Var] = field(default_factory=dict)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)

    def _resource_key(self, value: Value) -> str | None:
        """The parameter name of a constant: its resource key, or ``inline<n>`` for dense<...>."""
        if constant_array(value) is None:
            return None
        attr = value.definer.properties["value"]
        if isinstance(attr, DenseResourceAttr):
            return attr.key
        return self.inline_names.setdefault(value, f"inline{len(self.inline_names)}")

    def run(self) -> Lowered:
        block = self.func.regions[0].block
        in_names = _names(self.func, "sparsec.input_names", func_dialect.arg_names(self.func))
        bounds = index_bounds(self.func)
        inputs, input_vars = [], []
        for i, (arg, shape) in enumerate(zip(block.args, self._input_shapes(in_names),
                                             strict=True)):
            if not isinstance(arg.type, TensorType):
                raise LoweringError(f"input #{i} has type {arg.type}; only tensors can be inputs")
            inputs.append(TensorSpec(in_names[i], shape, _dtype(arg.type), bounds.get(i)))
            dims = [self.symbols[d] if isinstance(d, str) else d for d in shape]
            input_vars.append(relax.Var(in_names[i], relax.TensorType(dims, _dtype(arg.type))))
            self.values[arg] = input_vars[-1]
        with self.bb.function("main"):
            with self.bb.dataflow():
                for op in block.ops:
                    if op.name == "func.return":
                        returned = list(op.operands)
                        outputs = [self._get(v) for v in returned]
                    else:
                        self._lower_op(op)
                result = self.bb.emit_output(relax.Tuple(outputs))
            self.bb.emit_func_output(result, params=[*input_vars, *self.param_vars.values()])
        out_names = _names(self.func, "sparsec.output_names", func_dialect.result_names(self.func))
        outs = [TensorSpec(name, tuple(_spec_size(d) for d in self._dims_of(expr)),
                           _dtype(value.type))
                for name, expr, value in zip(out_names, outputs, returned, strict=True)]
        return Lowered(_weights_unchecked(self.bb.get(), len(input_vars)),
                       list(self.param_vars), list(self.param_arrays.values()), inputs, outs,
                       self.ranges)

    def _input_shapes(self, names: list[str]) -> list[tuple[int | str, ...]]:
        """Each input's shape, a run-time size as its symbol; makes the symbols' TIR variables."""
        self.ranges = func_dialect.dim_ranges(self.func)
        shapes = func_dialect.input_shapes(self.func)
        for name, shape in zip(names, shapes, strict=True):
            for size in shape:
                if isinstance(size, str) and size not in self.ranges:
                    raise LoweringError(f"input '{name}' has a run-time size '{size}' without a "
                                        "range; import the model with --batch/--seq-len ranges "
                                        "(e.g. --seq-len 1..512)")
        self.symbols = {name: tirx.Var(name, "int64") for name in self.ranges}
        return shapes

    # -- shapes -----------------------------------------------------------------------------

    def _dims_of(self, expr: relax.Expr) -> list[Size]:
        """The shape of a lowered tensor: ints where static, PrimExprs of the symbols else."""
        return [int(d) if isinstance(d, tirx.IntImm) else d for d in expr.ty.shape.values]

    def _dims(self, value: Value) -> list[Size]:
        return self._dims_of(self._get(value))

    def _bound(self, size: Size) -> int:
        """The largest value of ``size`` that the ranges allow."""
        return self._bounds(size)[1]

    def _bounds(self, size: Size) -> tuple[int, int]:
        """The smallest and largest values of ``size`` that the ranges allow."""
        if isinstance(size, int):
            return size, size
        analyzer = Analyzer()
        for name, var in self.symbols.items():
            low, high = self.ranges[name]
            analyzer.bind(var, tvm.ir.Range.from_min_extent(low, high - low + 1))
        bound = analyzer.const_int_bound(size)
        return int(bound.min_value), int(bound.max_value)

    # -- values and parameters --------------------------------------------------------------

    def _get(self, value: Value) -> relax.Expr | Size:
        if value.type == index:
            return self.sizes[value]
        if value not in self.values:
            self.values[value] = self._constant(value.definer)
        return self.values[value]

    def _constant(self, op: Operation) -> relax.Expr:
        attr = op.properties["value"]
        if isinstance(attr, DenseResourceAttr):
            return self._param(attr.key, lambda: attr.array)
        return relax.const(np.asarray(attr.array), _dtype(attr.type))

    def _param(self, name: str, make: Callable[[], np.ndarray]) -> relax.Var:
        """The parameter ``name`` of ``main``, created from ``make()`` on first use."""
        if name not in self.param_vars:
            try:
                array = np.ascontiguousarray(make())
            except ValueError as err:
                raise LoweringError(f"weight '{name}': {err}") from None
            self.param_arrays[name] = array
            self.param_vars[name] = relax.Var(
                name, relax.TensorType(array.shape, array.dtype.name))
        return self.param_vars[name]

    def _emit(self, expr: relax.Expr) -> relax.Var:
        return self.bb.emit(expr)

    def _call(self, func: tvm.tirx.PrimFunc, family: str, args: Sequence[relax.Expr],
              shape: Sequence[Size], dtype: str = "float32") -> relax.Var:
        gv = self.bb.add_func(mark_scheduled(func, family), family)
        return self._emit(relax.call_tir(gv, list(args), relax.TensorType(list(shape), dtype)))

    def _reshape(self, x: relax.Expr, shape: Sequence[Size]) -> relax.Expr:
        return self._emit(relax.op.reshape(x, list(shape)))

    # -- ops ------------------------------------------------------------------------------------

    def _lower_op(self, op: Operation) -> None:
        if op.name == "sparsec.constant":
            return  # lowered where it is used (as a parameter, a packed weight, or inline)
        if op.name in _LINEARS and _packable(op):
            self.values[op.result] = self._packed_linear(op)
            return
        lowering = _LOWERINGS.get(op.name)
        if lowering is None:
            raise LoweringError(f"{_where(op)}: '{op.name}' cannot be compiled yet")
        try:  # TVM reports bad shapes or dtypes as these when the op is built or normalized
            result = lowering(self, op, *[self._get(v) for v in op.operands])
            if op.result.type == index:
                self.sizes[op.result] = result
            else:
                self.values[op.result] = result if isinstance(result, relax.Var) else self._emit(
                    result)
        except (RuntimeError, TypeError, ValueError) as err:
            message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise LoweringError(f"{_where(op)}: '{op.name}': {message}") from None

    # -- linear ---------------------------------------------------------------------------------

    def _packed_linear(self, op: Operation) -> relax.Expr:
        """A linear with constant weights: its kernel, the epilogue in its store."""
        linear = _LINEARS[op.name](op)
        dims = self._dims(linear.input)
        k, n = dims[-1], op.result.type.shape[-1]
        m = math.prod(dims[:-1])  # a PrimExpr when the token count is a run-time size
        epilogue = _epilogue(op)
        args: list[relax.Expr] = [self._reshape(self._get(linear.input), (m, k))]
        if op.name == "sparsec.linear":
            func = self._dense_args(op, m, n, k, epilogue, args)
            family = "dense_linear"
        else:
            func = self._bsr_args(op, m, epilogue, args)
            family = "bsr_linear"
        if epilogue.bias:
            args.append(self._get(linear.bias))
        if epilogue.residual:
            args.append(self._reshape(self._get(linear.residual), (m, n)))
        y = self._call(func, family, args, (m, n))
        return self._reshape(y, (*dims[:-1], n))

    def _dense_args(self, op, m, n, k, epilogue, args) -> tvm.tirx.PrimFunc:
        dynamic = not isinstance(m, int)
        plan = plan_dense_linear(self._bound(m), n, k, self.target, epilogue, dynamic)
        weight = sparsec.Linear(op).weight
        key = self._resource_key(weight)
        if key is None:
            raise LoweringError(f"{_where(op)}: linear weight must be a constant to be packed")
        args.append(self._param(f"{key}:panels{plan.panel}",
                                lambda: plan.pack(np.asarray(constant_array(weight)))))
        return dense_linear_func(plan)

    def _bsr_args(self, op, m, epilogue, args) -> tvm.tirx.PrimFunc:
        bsr = sparsec.BsrLinear(op)
        block, (n, k) = ints(op, "block_shape"), ints(op, "dense_shape")
        dynamic = not isinstance(m, int)
        plan = plan_bsr_linear(self._bound(m), n, k, block, self.target, epilogue, dynamic)
        data, indices, indptr = bsr.data, bsr.indices, bsr.indptr
        keys = [self._resource_key(v) for v in (data, indices, indptr)]
        if None in keys:
            raise LoweringError(f"{_where(op)}: BSR data, indices and indptr must be constants")

        @functools.cache
        def packed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            weight = BSR(np.asarray(constant_array(data), np.float32),
                         constant_array(indices).astype(np.int32),
                         constant_array(indptr).astype(np.int32), block, (n, k))
            return plan.pack(weight)

        for position, key in enumerate(keys):
            args.append(self._param(f"{key}:{plan.layout}", lambda i=position: packed()[i]))
        return bsr_linear_func(plan)

    def linear_fallback(self, op: Operation, x, weight, bias=None, residual=None) -> relax.Expr:
        """A linear whose weight is not a constant: batched matmul with the transposed weight,
        then the epilogue as separate ops."""
        w_type = sparsec.Linear(op).weight.type
        wt = self._emit(relax.op.permute_dims(weight, [1, 0]))
        wt_type = TensorType(tuple(reversed(w_type.shape)), w_type.element_type)
        y = self.matmul_of(sparsec.Linear(op).input.type, wt_type, op.result.type, x, wt)
        if bias is not None:
            y = self._emit(relax.op.add(y, bias))
        if "gelu" in linear_epilogue(op):
            y = self._emit(relax.op.nn.gelu(y))
        return relax.op.add(y, residual) if residual is not None else y

    def matmul_of(self, lt: TensorType, rt: TensorType, out: TensorType, lhs, rhs) -> relax.Expr:
        """``lhs @ rhs`` with numpy broadcasting, through the batched matmul kernel."""
        out_shape = _static_shape(out, "matmul result")
        batch_shape, (m, n) = out_shape[:-2], out_shape[-2:]
        k = int(lt.shape[-1])
        b = math.prod(batch_shape)
        lhs3 = self._batched(lhs, lt, batch_shape, (m, k), b)
        rhs3 = self._batched(rhs, rt, batch_shape, (k, n), b)
        plan = MatmulPlan(b, m, k, n, _dtype(out), self.target.vector_lanes)
        y = self._call(matmul_func(plan), "batch_matmul", [lhs3, rhs3], (b, m, n), _dtype(out))
        return self._reshape(y, out_shape)

    def _batched(self, x, t: TensorType, batch_shape, tail, b) -> relax.Expr:
        if t.rank < 2:
            x = self._reshape(x, (1, *t.shape))
        full = (*batch_shape, *tail)
        if tuple(t.shape) != full:
            x = self._emit(relax.op.broadcast_to(x, list(full)))
        return self._reshape(x, (b, *tail))


def _where(op: Operation) -> str:
    return str(op.location) if op.location else f"op '{op.name}'"


_LINEARS = {d.name: d for d in (sparsec.Linear, sparsec.BsrLinear)}


def _epilogue(op: Operation) -> Epilogue:
    """The epilogue of linear ``op``: its bias operand, then its ``epilogue`` stages."""
    stages = linear_epilogue(op)
    bias = _LINEARS[op.name](op).bias is not None
    return Epilogue(bias=bias, gelu="gelu" in stages, residual="residual" in stages)


def _packable(op: Operation) -> bool:
    """A float32 linear whose weight (BSR arrays) are constants, packed at build time."""
    return all(_dtype(v.type) == "float32" for v in (op.operands[0], op.result)) and all(
        constant_array(w) is not None for w in linear_weights(op))


# -- the table of simple lowerings ------------------------------------------------------------

Lowering = Callable[..., relax.Expr]
_LOWERINGS: dict[str, Lowering] = {}


def _lowers(*names: str) -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for name in names:
            _LOWERINGS[name] = fn
        return fn

    return register


# Ops the table has no entry for, and why (tests/ir/test_op_registry.py checks that every
# registered op has an entry in the table or a line here).
LOWERED_ELSEWHERE = {
    "builtin.module": "holds the function; lower() finds it",
    "func.func": "becomes Relax's main (_Lowerer.run)",
    "func.return": "its operands are main's outputs (_Lowerer.run)",
    "sparsec.constant": "lowered where it is used: a parameter, a packed weight or inline",
    "sparsec.bsr_linear": "only with constant float32 BSR arrays, packed at build time "
                          "(_packed_linear); no kernel takes BSR arrays computed at run time",
}


def lowered_ops() -> list[str]:
    """Names of every op the table lowers, sorted."""
    return sorted(_LOWERINGS)


_BINARY = table_for(BINARY_OPS, {
    "sparsec.add": relax.op.add, "sparsec.sub": relax.op.subtract,
    "sparsec.mul": relax.op.multiply, "sparsec.div": relax.op.divide,
    "sparsec.pow": relax.op.power, "sparsec.maximum": relax.op.maximum,
    "sparsec.minimum": relax.op.minimum, "sparsec.and": relax.op.logical_and,
    "sparsec.or": relax.op.logical_or,
})
_UNARY = table_for(UNARY_OPS, {
    "sparsec.neg": relax.op.negative, "sparsec.exp": relax.op.exp, "sparsec.log": relax.op.log,
    "sparsec.sqrt": relax.op.sqrt, "sparsec.rsqrt": relax.op.rsqrt, "sparsec.tanh": relax.op.tanh,
    "sparsec.erf": relax.op.erf, "sparsec.relu": relax.op.nn.relu,
    "sparsec.sigmoid": relax.op.sigmoid, "sparsec.abs": relax.op.abs,
    "sparsec.not": relax.op.logical_not,
})
_COMPARE = table_for(COMPARE_PREDICATES, {
    "eq": relax.op.equal, "ne": relax.op.not_equal, "lt": relax.op.less,
    "le": relax.op.less_equal, "gt": relax.op.greater, "ge": relax.op.greater_equal,
})
_REDUCE = table_for(REDUCE_KINDS, {
    "sum": relax.op.sum, "mean": relax.op.mean, "max": relax.op.max, "min": relax.op.min,
})


def _register_elementwise() -> None:
    for name, fn in _BINARY.items():
        _lowers(name)(lambda low, op, a, b, fn=fn: fn(a, b))
    for name, fn in _UNARY.items():
        _lowers(name)(lambda low, op, a, fn=fn: fn(a))


_register_elementwise()


@_lowers("sparsec.cmp")
def _cmp(low: _Lowerer, op: Operation, a, b) -> relax.Expr:
    return _COMPARE[sparsec.Compare(op).predicate](a, b)


@_lowers("sparsec.where")
def _where_op(low: _Lowerer, op: Operation, cond, a, b) -> relax.Expr:
    return relax.op.where(cond, a, b)


@_lowers("sparsec.gelu")
def _gelu(low: _Lowerer, op: Operation, x) -> relax.Expr:
    exact = sparsec.Gelu(op).approximate == "none"
    return relax.op.nn.gelu(x) if exact else relax.op.nn.gelu_tanh(x)


@_lowers("sparsec.dropout")
def _dropout(low: _Lowerer, op: Operation, x) -> relax.Expr:
    if sparsec.Dropout(op).train:
        raise LoweringError(f"{_where(op)}: dropout in training mode cannot be compiled")
    return x


@_lowers("sparsec.cast")
def _cast(low: _Lowerer, op: Operation, x) -> relax.Expr:
    dtype = _dtype(op.result.type)
    if dtype == "bool":  # numpy and torch: nonzero is true (LLVM's truncation keeps one bit)
        zero = relax.const(np.zeros((), _dtype(sparsec.Cast(op).input.type)))
        return relax.op.not_equal(x, zero)
    return relax.op.astype(x, dtype)


@_lowers("sparsec.linear")
def _linear_unpacked(low: _Lowerer, op: Operation, x, weight, bias=None, residual=None
                     ) -> relax.Expr:
    return low.linear_fallback(op, x, weight, bias, residual)


@_lowers("sparsec.matmul")
def _matmul(low: _Lowerer, op: Operation, lhs, rhs) -> relax.Expr:
    view = sparsec.Matmul(op)
    return low.matmul_of(view.lhs.type, view.rhs.type, op.result.type, lhs, rhs)


@_lowers("sparsec.attention")
def _attention(low: _Lowerer, op: Operation, q, k, v, mask=None) -> relax.Expr:
    layouts, view = attention_layouts(op), sparsec.Attention(op)
    names = ("query", "key", "value")
    qt, kt, vt = (swap_seq_heads(getattr(view, name).type, layout, name)
                  for layout, name in zip(layouts[:3], names, strict=True))
    if any(_dtype(t) != "float32" for t in (qt, kt, vt)):
        raise LoweringError(f"{_where(op)}: attention is compiled for float32 only")
    if not op.result.type.is_static:
        return _dynamic_attention(low, op, layouts, q, k, v, mask)
    _static_shape(op.result.type, "attention result")
    out_shape = tuple(int(d) for d in swap_seq_heads(op.result.type, layouts[3], "result").shape)
    batch_shape, (sq, dv) = out_shape[:-2], out_shape[-2:]
    sk, d = int(kt.shape[-2]), int(qt.shape[-1])
    heads_first = len(batch_shape) == 2
    bh = tuple(batch_shape) if heads_first else (1, math.prod(batch_shape))
    sliced = attention_heads(op)  # rank 4: read in place, as are bshd operands
    args = []
    for x, t, tail, layout in zip((q, k, v), (qt, kt, vt), ((sq, d), (sk, d), (sk, dv)),
                                  layouts[:3], strict=True):
        args.append(x if layout == "bshd" or sliced else low._reshape(
            low._batched(x, t, batch_shape, tail, bh[1] * bh[0]), (*bh, *tail)))
    kind, mask_shape = "none", None
    if mask is not None:
        mt = view.mask.type
        kind = "bool" if _dtype(mt) == "bool" else "additive"
        mask_shape = tuple(int(n) for n in mt.shape)
        if not heads_first or len(mask_shape) != 4:  # else the kernel broadcasts it in place
            mask_shape = (*bh, sq, sk)
            mask = low._reshape(low._batched(mask, mt, batch_shape, (sq, sk), math.prod(bh)),
                                mask_shape)
        args.append(mask)
    seq_major = tuple(layout == "bshd" for layout in layouts)
    plan = AttentionPlan(bh[0], bh[1], sq, sk, d, dv, float(view.scale), kind,
                         low.target.vector_lanes, seq_major, mask_shape, low.target.num_threads,
                         **_head_slices(sliced, [int(t.shape[1]) for t in (qt, kt, vt)]))
    if seq_major[3]:
        return low._call(attention_func(plan), "attention", args, (bh[0], sq, bh[1], dv))
    y = low._call(attention_func(plan), "attention", args, (*bh, sq, dv))
    return low._reshape(y, out_shape)


def _dynamic_attention(low: _Lowerer, op: Operation, layouts, q, k, v, mask) -> relax.Expr:
    """Self-attention over a run-time batch and sequence length: the dynamic kernel, reading
    every operand in its own layout (rank 4) and the mask in its broadcast shape."""
    view = sparsec.Attention(op)
    shapes = [low._dims(x) for x in (view.query, view.key, view.value)]
    if any(len(dims) != 4 for dims in shapes) or (mask is not None and view.mask.type.rank != 4):
        raise LoweringError(f"{_where(op)}: attention with run-time sizes needs rank-4 "
                            "query, key, value and mask")
    shapes = [dims if layout == "bshd" else [dims[0], dims[2], dims[1], dims[3]]
              for dims, layout in zip(shapes, layouts[:3], strict=True)]
    (b, s, h, d), (_, sk, _, _), (_, _, _, dv) = shapes
    sliced = attention_heads(op)
    h = sliced[0] if sliced else h
    if not tvm_ffi.structural_equal(s, sk):
        raise LoweringError(f"{_where(op)}: attention with run-time sizes is compiled for "
                            "self-attention only (as many keys as queries)")
    kind, mask_shape, args = "none", None, [q, k, v]
    if mask is not None:
        kind = "bool" if _dtype(view.mask.type) == "bool" else "additive"
        mask_shape = tuple(1 if size == 1 else low._bound(size) for size in low._dims(view.mask))
        args.append(mask)
    seq_major = tuple(layout == "bshd" for layout in layouts)
    plan = AttentionPlan(low._bound(b), int(h), low._bound(s), low._bound(s), int(d), int(dv),
                         float(view.scale), kind, low.target.vector_lanes, seq_major, mask_shape,
                         low.target.num_threads, dynamic=True,
                         **_head_slices(sliced, [int(dims[2]) for dims in shapes]))
    out = (b, s, h, dv) if seq_major[3] else (b, h, s, dv)
    return low._call(attention_func(plan), "attention", args, out)


def _head_slices(sliced: tuple[int, tuple[int, int, int]] | None, operand_heads: list[int]
                 ) -> dict[str, Any]:
    """The plan fields of an attention that reads its heads from slices of its operands."""
    if sliced is None:
        return {}
    return {"operand_heads": tuple(operand_heads), "head_offsets": sliced[1]}


@_lowers("sparsec.softmax")
def _softmax(low: _Lowerer, op: Operation, x) -> relax.Expr:
    return relax.op.nn.softmax(x, axis=int(sparsec.Softmax(op).axis))


@_lowers("sparsec.layer_norm")
def _layer_norm(low: _Lowerer, op: Operation, x, weight=None, bias=None) -> relax.Expr:
    view, normalized = sparsec.LayerNorm(op), list(ints(op, "normalized_shape"))
    dtype = _dtype(op.result.type)
    weight = weight if weight is not None else relax.const(np.ones(normalized, dtype))
    bias = bias if bias is not None else relax.const(np.zeros(normalized, dtype))
    shape = low._dims(view.input)
    if len(normalized) == 1 and dtype == "float32":
        rows = math.prod(shape[:-1])  # a PrimExpr with run-time sizes
        plan = LayerNormPlan(low._bound(rows), shape[-1], float(view.epsilon),
                             low.target.vector_lanes, dynamic=not isinstance(rows, int))
        flat = low._reshape(x, (rows, plan.size))
        y = low._call(layer_norm_func(plan), "layer_norm", [flat, weight, bias],
                      (rows, plan.size))
        return low._reshape(y, shape)
    rank = view.input.type.rank
    axes = list(range(rank - len(normalized), rank))
    return relax.op.nn.layer_norm(x, weight, bias, axes, epsilon=float(view.epsilon))


@_lowers("sparsec.embedding")
def _embedding(low: _Lowerer, op: Operation, table, ids) -> relax.Expr:
    # "clip" keeps memory safe; the runtime refuses out-of-range ids before they get here.
    return relax.op.take(table, ids, axis=0, mode="clip")


@_lowers("sparsec.take")
def _take(low: _Lowerer, op: Operation, x, ids) -> relax.Expr:
    return relax.op.take(x, ids, axis=int(sparsec.Take(op).axis), mode="clip")


def _with_sizes(op: Operation, sizes: Sequence[Size]) -> list[Size]:
    """The ``shape`` property of ``op`` with its run-time sizes (DYNAMIC_SIZE) filled in."""
    given = iter(sizes)
    return [next(given) if d == DYNAMIC_SIZE else d for d in ints(op, "shape")]


@_lowers("sparsec.reshape")
def _reshape(low: _Lowerer, op: Operation, x, *sizes) -> relax.Expr:
    return relax.op.reshape(x, _with_sizes(op, sizes))


@_lowers("sparsec.permute")
def _permute(low: _Lowerer, op: Operation, x) -> relax.Expr:
    return relax.op.permute_dims(x, list(ints(op, "perm")))


@_lowers("sparsec.slice")
def _slice(low: _Lowerer, op: Operation, x, *dynamic_end) -> relax.Expr:
    view = sparsec.Slice(op)
    axis = int(view.axis)
    size = low._dims(view.input)[axis]
    if not isinstance(size, int):  # a static slice that every size in range holds, or none
        if dynamic_end or low._bounds(size)[0] < int(view.end):
            raise LoweringError(f"{_where(op)}: this slice of an axis of run-time size can run "
                                "past its end; only slices within its smallest size compile")
        return relax.op.strided_slice(x, [axis], [int(view.start)], [int(view.end)],
                                      [int(view.step)], assume_inbound=True)
    start = min(int(view.start), size)
    if dynamic_end:  # in range by the function's size ranges: checked here, not at run time
        end = dynamic_end[0]
        if low._bound(end) > size:
            raise LoweringError(f"{_where(op)}: the slice end can reach {low._bound(end)}, "
                                f"beyond the {size} entries of axis {axis}")
    else:
        end = min(int(view.end), size)
    return relax.op.strided_slice(x, [axis], [start], [end], [int(view.step)],
                                  assume_inbound=True)


@_lowers("sparsec.concat")
def _concat(low: _Lowerer, op: Operation, *xs) -> relax.Expr:
    return relax.op.concat(list(xs), axis=int(sparsec.Concat(op).axis))


@_lowers("sparsec.broadcast_to")
def _broadcast_to(low: _Lowerer, op: Operation, x, *sizes) -> relax.Expr:
    return relax.op.broadcast_to(x, _with_sizes(op, sizes))


@_lowers("sparsec.dim")
def _dim(low: _Lowerer, op: Operation, x) -> Size:
    return low._dims_of(x)[sparsec.Dim(op).axis]


@_lowers("sparsec.arange")
def _arange(low: _Lowerer, op: Operation, end) -> relax.Expr:
    return relax.op.arange(0, end, 1, "int64")


@_lowers("sparsec.index")
def _index(low: _Lowerer, op: Operation, x, *indices) -> relax.Expr:
    """x[i0, i1, ...] as one TE gather; indices are clamped into range (memory safety), as
    ``take`` does in "clip" mode."""
    view = sparsec.Index(op)
    index_shapes = [low._dims(v) for v in view.indices]
    rank = max(len(shape) for shape in index_shapes)
    padded = [[1] * (rank - len(shape)) + shape for shape in index_shapes]
    batch = [next((d for d in dims if not (isinstance(d, int) and d == 1)), 1)
             for dims in zip(*padded, strict=True)]

    def gather(data, *ids):
        def element(*i):
            coords = []
            for axis, (idx, shape) in enumerate(zip(ids, padded, strict=True)):
                at = [0 if isinstance(size, int) and size == 1 else i[j]
                      for j, size in enumerate(shape)][rank - len(idx.shape):]
                limit = data.shape[axis] - 1
                coords.append(tirx.max(tirx.min(idx[tuple(at)], limit), 0))
            return data[(*coords, *i[rank:])]
        return te.compute([*batch, *data.shape[len(ids):]], element, name="index")

    return low.bb.emit_te(gather, x, *indices)


@_lowers("sparsec.reduce")
def _reduce(low: _Lowerer, op: Operation, x) -> relax.Expr:
    view = sparsec.Reduce(op)
    return _REDUCE[view.kind](x, axis=list(ints(op, "axes")), keepdims=view.keepdim)


@_lowers("sparsec.cumsum")
def _cumsum(low: _Lowerer, op: Operation, x) -> relax.Expr:
    view = sparsec.Cumsum(op)
    shape = _static_shape(view.input.type, "cumsum input")
    axis = int(view.axis)
    outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    plan = ScanPlan(outer, shape[axis], inner, _dtype(view.input.type),
                    _dtype(op.result.type), low.target.vector_lanes)
    view = low._reshape(x, (outer, shape[axis], inner))
    y = low._call(cumsum_func(plan), "cumsum", [view], (outer, shape[axis], inner),
                  plan.out_dtype)
    return low._reshape(y, shape)
