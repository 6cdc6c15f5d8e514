"""The numpy reference interpreter: what every sparsec op means.

Each op name maps to one small function (registered with ``@implements``)
that takes the op and its operand arrays and returns its result array(s).
Arithmetic happens in the operands' dtype (float32 stays float32, as in
PyTorch), and results are cast to the op's result element type, so the
numbers match PyTorch to ~1e-6 and a pass can be checked by running the IR
before and after it:

    outputs = interpret(module, [ids])
    assert_equivalent(before, after)        # random inputs from the signature

The interpreter is deterministic: ``dropout`` in training mode is refused.
Imports numpy and scipy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse
import scipy.special

from .attributes import DenseElementsAttr, DenseResourceAttr
from .core import Operation, Value
from .diagnostics import SparsecError
from .dialects import sparsec
from .dialects.func import Func, dim_ranges, input_shapes
from .dialects.sparsec import attention_heads, attention_layouts, fill_sizes, linear_epilogue
from .matchers import BINARY_OPS, COMPARE_PREDICATES, REDUCE_KINDS, UNARY_OPS, ints, table_for
from .types import FunctionType, TensorType, is_float, to_numpy_dtype


class InterpretError(SparsecError):
    """The IR or its inputs cannot be evaluated; the message names the op and the problem."""


Impl = Callable[..., np.ndarray | Sequence[np.ndarray]]
_IMPLS: dict[str, Impl] = {}


def implements(*names: str) -> Callable[[Impl], Impl]:
    """Register the decorated function as the meaning of the ops ``names``."""

    def register(fn: Impl) -> Impl:
        for name in names:
            if name in _IMPLS:
                raise ValueError(f"'{name}' has two implementations")
            _IMPLS[name] = fn
        return fn

    return register


def implemented_ops() -> list[str]:
    """Names of every op the interpreter can evaluate, sorted."""
    return sorted(_IMPLS)


# -- running ops and functions --------------------------------------------------


def evaluate_op(op: Operation, operands: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The results of ``op`` applied to ``operands`` (one array per result, in its type)."""
    impl = _IMPLS.get(op.name)
    if impl is None:
        raise InterpretError(f"the interpreter has no implementation of '{op.name}'")
    if len(operands) != len(op.operands):
        raise InterpretError(f"'{op.name}' has {len(op.operands)} operands, got {len(operands)}")
    with np.errstate(all="ignore"):  # inf and nan propagate silently, as in PyTorch
        produced = impl(op, *operands)
    produced = [produced] if isinstance(produced, np.ndarray) else list(produced)
    if len(produced) != len(op.results):
        raise InterpretError(f"'{op.name}' produced {len(produced)} results for {len(op.results)}")
    return [_as_result(op, r, array) for r, array in zip(op.results, produced, strict=True)]


def _as_result(op: Operation, result: Value, array: np.ndarray) -> np.ndarray:
    if not isinstance(result.type, TensorType):
        return array
    array = np.asarray(array).astype(result.type.dtype, copy=False)
    if not _shape_matches(array.shape, result.type.shape):
        raise InterpretError(
            f"'{op.name}' computed shape {list(array.shape)} but its result type is {result.type}"
        )
    return array


def _shape_matches(shape: Sequence[int], expected: Sequence[int | None]) -> bool:
    if len(shape) != len(expected):
        return False
    return all(e in (None, d) for d, e in zip(shape, expected, strict=True))


def find_function(module: Operation, name: str = "forward") -> Operation:
    """The ``func.func`` called ``name`` in ``module`` (or ``module`` itself if it is one)."""
    candidates = [module] if module.name == "func.func" else module.regions[0].block.ops
    for op in candidates:
        if op.name == "func.func" and Func(op).sym_name == name:
            return op
    raise InterpretError(f"no function named '{name}' in the module")


def function_type(func: Operation) -> FunctionType:
    """The signature of a ``func.func``."""
    return Func(func).function_type


def interpret(
    module: Operation, inputs: Sequence[np.ndarray], func_name: str = "forward"
) -> list[np.ndarray]:
    """Run function ``func_name`` of ``module`` on ``inputs``, op by op; returns its outputs."""
    func = find_function(module, func_name)
    body = func.regions[0].block
    env: dict[Value, np.ndarray] = dict(
        zip(body.args, _checked_inputs(func, inputs), strict=True)
    )
    for index, op in enumerate(body.ops):
        if op.name == "func.return":
            return [env[v] for v in op.operands]
        try:
            results = evaluate_op(op, [env[v] for v in op.operands])
        except InterpretError as err:
            where = op.location or f"@{func_name}, op #{index}"
            raise InterpretError(f"{where}: {err}") from None
        env.update(zip(op.results, results, strict=True))
    raise InterpretError(f"function '{func_name}' does not end with 'func.return'")


def _checked_inputs(func: Operation, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    expected = function_type(func).inputs
    if len(inputs) != len(expected):
        raise InterpretError(f"the function takes {len(expected)} inputs, got {len(inputs)}")
    checked = []
    for i, (array, type_) in enumerate(zip(inputs, expected, strict=True)):
        array = np.asarray(array)
        if array.dtype != type_.dtype:
            raise InterpretError(f"input #{i} has dtype {array.dtype}, expected {type_}")
        if not _shape_matches(array.shape, type_.shape):
            raise InterpretError(f"input #{i} has shape {list(array.shape)}, expected {type_}")
        checked.append(array)
    _check_sizes(func, checked)
    return checked


def _check_sizes(func: Operation, inputs: Sequence[np.ndarray]) -> None:
    """Every named run-time size is one size across the inputs, and in its range."""
    ranges, seen = dim_ranges(func), {}
    for i, (array, shape) in enumerate(zip(inputs, input_shapes(func), strict=True)):
        for axis, symbol in enumerate(shape):
            if isinstance(symbol, int):
                continue
            size = seen.setdefault(symbol, array.shape[axis])
            if size != array.shape[axis]:
                raise InterpretError(f"input #{i} has {array.shape[axis]} on axis {axis} where "
                                     f"another input has {size} ('{symbol}')")
            low, high = ranges.get(symbol, (0, size))
            if not low <= size <= high:
                raise InterpretError(f"input #{i}: '{symbol}' = {size} is outside its range "
                                     f"{low}..{high}")


# -- ground truth for pass tests --------------------------------------------------


def random_inputs(
    module: Operation, seed: int = 0, int_high: int = 2, func_name: str = "forward"
) -> list[np.ndarray]:
    """Random inputs for the function's signature: floats ~ N(0, 1), integers in [0, int_high)."""
    rng = np.random.default_rng(seed)
    inputs = []
    for i, type_ in enumerate(function_type(find_function(module, func_name)).inputs):
        if not isinstance(type_, TensorType) or not type_.is_static:
            raise InterpretError(f"input #{i} ({type_}) is not static; pass inputs explicitly")
        if is_float(type_.element_type):
            inputs.append(rng.standard_normal(type_.shape).astype(type_.dtype))
        else:
            high = 2 if type_.dtype == np.bool_ else int_high
            inputs.append(rng.integers(0, high, size=type_.shape).astype(type_.dtype))
    return inputs


def assert_equivalent(
    before: Operation,
    after: Operation,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    seed: int = 0,
    func_name: str = "forward",
) -> None:
    """Assert both modules compute the same outputs on the same (random by default) inputs."""
    if inputs is None:
        inputs = random_inputs(before, seed=seed, func_name=func_name)
    expected = interpret(before, inputs, func_name)
    actual = interpret(after, inputs, func_name)
    if len(expected) != len(actual):
        raise AssertionError(f"before has {len(expected)} outputs, after has {len(actual)}")
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if want.shape != got.shape or want.dtype != got.dtype:
            raise AssertionError(
                f"output #{i}: {got.dtype}{list(got.shape)} after, {want.dtype}{list(want.shape)} "
                "before"
            )
        if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            error = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
            raise AssertionError(
                f"output #{i} differs: max abs error {error:.3g} (rtol={rtol}, atol={atol})"
            )


# -- helpers -------------------------------------------------------------------------


def _result_dtype(op: Operation, index: int = 0) -> np.dtype:
    return to_numpy_dtype(op.results[index].type.element_type)


def _check_indices(ids: np.ndarray, size: int, what: str, where: str = "") -> None:
    # Never wrap or clamp: an out-of-range id is a bug upstream (TVM's take would segfault).
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        bad = ids[(ids < 0) | (ids >= size)].reshape(-1)[0]
        raise InterpretError(f"{what} {bad} is out of range [0, {size}){where}")


# -- constants ---------------------------------------------------------------------------


@implements("sparsec.constant")
def _constant(op: Operation) -> np.ndarray:
    value = op.properties["value"]
    if isinstance(value, DenseResourceAttr) and value.resource.data is None:
        raise InterpretError(f"resource '{value.key}' was elided; its data is needed to run")
    if not isinstance(value, DenseElementsAttr | DenseResourceAttr):
        raise InterpretError(f"'sparsec.constant' value {value} is not a tensor")
    return np.asarray(value.array)


@implements("func.return")
def _return(op: Operation, *values: np.ndarray) -> list[np.ndarray]:
    return list(values)


# -- elementwise ---------------------------------------------------------------------------


def _div(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    if np.issubdtype(lhs.dtype, np.integer):
        raise InterpretError("'sparsec.div' needs float operands")
    return np.true_divide(lhs, rhs)


def _pow(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    if np.issubdtype(rhs.dtype, np.integer) and np.any(rhs < 0):
        raise InterpretError("'sparsec.pow' of integers to a negative power")
    return np.power(lhs, rhs)


_BINARY = table_for(BINARY_OPS, {
    "sparsec.add": np.add,
    "sparsec.sub": np.subtract,
    "sparsec.mul": np.multiply,
    "sparsec.div": _div,
    "sparsec.pow": _pow,
    "sparsec.maximum": np.maximum,  # nan wins, as in torch.maximum
    "sparsec.minimum": np.minimum,
    "sparsec.and": np.logical_and,
    "sparsec.or": np.logical_or,
})

_COMPARE = table_for(COMPARE_PREDICATES, {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
})

_SQRT_2 = math.sqrt(2.0)  # Python floats keep float32 math in float32
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + scipy.special.erf(x / _SQRT_2))


_UNARY = table_for(UNARY_OPS, {
    "sparsec.neg": np.negative,
    "sparsec.exp": np.exp,
    "sparsec.log": np.log,
    "sparsec.sqrt": np.sqrt,
    "sparsec.rsqrt": lambda x: 1.0 / np.sqrt(x),
    "sparsec.tanh": np.tanh,
    "sparsec.erf": scipy.special.erf,
    "sparsec.relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),
    "sparsec.sigmoid": scipy.special.expit,  # stable for large |x|
    "sparsec.abs": np.abs,
    "sparsec.not": np.logical_not,
})


def _register_elementwise() -> None:
    for name, binary in _BINARY.items():
        implements(name)(lambda op, lhs, rhs, fn=binary: fn(lhs, rhs))
    for name, unary in _UNARY.items():
        implements(name)(lambda op, x, fn=unary: fn(x))


_register_elementwise()


@implements("sparsec.cmp")
def _cmp(op: Operation, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return _COMPARE[sparsec.Compare(op).predicate](lhs, rhs)


@implements("sparsec.where")
def _where(op: Operation, cond: np.ndarray, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.where(cond, lhs, rhs)


@implements("sparsec.gelu")
def _gelu_op(op: Operation, x: np.ndarray) -> np.ndarray:
    return _gelu(x, sparsec.Gelu(op).approximate)


@implements("sparsec.dropout")
def _dropout(op: Operation, x: np.ndarray) -> np.ndarray:
    if sparsec.Dropout(op).train:
        raise InterpretError("'sparsec.dropout' with train=true is random, not deterministic")
    return x


@implements("sparsec.cast")
def _cast(op: Operation, x: np.ndarray) -> np.ndarray:
    return x.astype(_result_dtype(op))  # float -> int truncates toward zero, like torch


# -- linear algebra --------------------------------------------------------------------------


@implements("sparsec.linear")
def _linear(
    op: Operation, x: np.ndarray, weight: np.ndarray, bias=None, residual=None
) -> np.ndarray:
    y = np.matmul(x, weight.T)
    return _epilogue(op, y if bias is None else y + bias, residual)


@implements("sparsec.bsr_linear")
def _bsr_linear(
    op: Operation,
    x: np.ndarray,
    data: np.ndarray,
    indices: np.ndarray,
    indptr: np.ndarray,
    bias: np.ndarray | None = None,
    residual: np.ndarray | None = None,
) -> np.ndarray:
    """``x @ W.T + b`` where W[N, K] is stored in BSR form, padded to whole blocks (see bsr.py)."""
    weight = _bsr_matrix(op, data, indices, indptr)
    n, k = ints(op, "dense_shape")
    rows = x.reshape(-1, k)
    padded = np.zeros((rows.shape[0], weight.shape[1]), dtype=x.dtype)
    padded[:, :k] = rows
    y = np.asarray(weight @ padded.T).T[:, :n].reshape((*x.shape[:-1], n))
    return _epilogue(op, y if bias is None else y + bias, residual)


def _epilogue(op: Operation, y: np.ndarray, residual: np.ndarray | None) -> np.ndarray:
    """The epilogue stages, computed as the gelu and add ops they stand for would."""
    if "gelu" in linear_epilogue(op):
        y = _gelu(y, "none")
    return y if residual is None else y + residual


def _bsr_matrix(
    op: Operation, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray
) -> scipy.sparse.bsr_matrix:
    rows, cols = ints(op, "block_shape")
    n, k = ints(op, "dense_shape")
    block_rows, block_cols = -(-n // rows), -(-k // cols)
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices):
        raise InterpretError(
            f"indptr must rise from 0 to the number of blocks {len(indices)}, "
            f"got {indptr.tolist()}"
        )
    _check_indices(indices, block_cols, "block column index")
    shape = (block_rows * rows, block_cols * cols)
    return scipy.sparse.bsr_matrix((data, indices, indptr), shape=shape, blocksize=(rows, cols))


@implements("sparsec.matmul")
def _matmul(op: Operation, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.matmul(lhs, rhs)


@implements("sparsec.attention")
def _attention(
    op: Operation, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask=None
) -> np.ndarray:
    """Like torch's scaled_dot_product_attention: a fully masked row attends to nothing (0).
    Operands and result in layout bshd are read and written with seq and heads swapped."""
    layouts = attention_layouts(op)
    q, k, v = (_heads_first(a, layout) for a, layout in zip((q, k, v), layouts[:3], strict=True))
    sliced = attention_heads(op)
    if sliced is not None:
        heads, starts = sliced
        q, k, v = (a[:, start:start + heads] for a, start in zip((q, k, v), starts, strict=True))
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) * q.dtype.type(sparsec.Attention(op).scale)
    if mask is not None and mask.dtype == np.bool_:
        scores = np.where(mask, scores, -np.inf).astype(q.dtype)
    elif mask is not None:
        scores = scores + mask
    peak = np.max(scores, axis=-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isfinite(peak), peak, 0))
    total = np.sum(weights, axis=-1, keepdims=True)
    probs = np.where(total > 0, weights / np.where(total > 0, total, 1), 0).astype(q.dtype)
    return _heads_first(np.matmul(probs, v), layouts[3])


def _heads_first(array: np.ndarray, layout: str) -> np.ndarray:
    """``array`` with seq and heads swapped when its layout is bshd (its own inverse)."""
    return np.swapaxes(array, 1, 2) if layout == "bshd" else array


# -- normalisation ---------------------------------------------------------------------------


@implements("sparsec.softmax")
def _softmax(op: Operation, x: np.ndarray) -> np.ndarray:
    axis = sparsec.Softmax(op).axis
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


@implements("sparsec.layer_norm")
def _layer_norm(op: Operation, x: np.ndarray, weight=None, bias=None) -> np.ndarray:
    axes = tuple(range(x.ndim - len(ints(op, "normalized_shape")), x.ndim))
    mean = np.mean(x, axis=axes, keepdims=True)
    var = np.mean(np.square(x - mean), axis=axes, keepdims=True)  # biased, as torch
    y = (x - mean) / np.sqrt(var + x.dtype.type(sparsec.LayerNorm(op).epsilon))
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


# -- indexing and shapes --------------------------------------------------------------------


@implements("sparsec.embedding")
def _embedding(op: Operation, table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    _check_indices(ids, table.shape[0], "embedding id")
    return table[ids]


@implements("sparsec.take")
def _take(op: Operation, x: np.ndarray, ids: np.ndarray) -> np.ndarray:
    axis = sparsec.Take(op).axis
    _check_indices(ids, x.shape[axis], "take index", f" along axis {axis}")
    return np.take(x, ids, axis=axis)


@implements("sparsec.reshape")
def _reshape(op: Operation, x: np.ndarray, *sizes: np.ndarray) -> np.ndarray:
    shape = fill_sizes(ints(op, "shape"), sizes)
    if math.prod(shape) != x.size:
        raise InterpretError(f"cannot reshape {list(x.shape)} to {list(shape)}")
    return x.reshape(shape)


@implements("sparsec.permute")
def _permute(op: Operation, x: np.ndarray) -> np.ndarray:
    return np.transpose(x, ints(op, "perm"))


@implements("sparsec.slice")
def _slice(op: Operation, x: np.ndarray, *dynamic_end: np.ndarray) -> np.ndarray:
    view, index = sparsec.Slice(op), [slice(None)] * x.ndim
    (end,) = fill_sizes((view.end,), dynamic_end)
    index[view.axis] = slice(view.start, end, view.step)
    return x[tuple(index)]


@implements("sparsec.concat")
def _concat(op: Operation, *inputs: np.ndarray) -> np.ndarray:
    return np.concatenate(inputs, axis=sparsec.Concat(op).axis)


@implements("sparsec.broadcast_to")
def _broadcast_to(op: Operation, x: np.ndarray, *sizes: np.ndarray) -> np.ndarray:
    shape = fill_sizes(ints(op, "shape"), sizes)
    try:
        return np.broadcast_to(x, shape).copy()
    except ValueError:
        raise InterpretError(f"cannot broadcast {list(x.shape)} to {list(shape)}") from None


@implements("sparsec.dim")
def _dim(op: Operation, x: np.ndarray) -> np.ndarray:
    return np.asarray(x.shape[sparsec.Dim(op).axis], np.int64)


@implements("sparsec.arange")
def _arange(op: Operation, end: np.ndarray) -> np.ndarray:
    return np.arange(int(end), dtype=np.int64)


@implements("sparsec.index")
def _index(op: Operation, x: np.ndarray, *indices: np.ndarray) -> np.ndarray:
    for axis, ids in enumerate(indices):
        _check_indices(ids, x.shape[axis], "index", f" along axis {axis}")
    try:
        return x[tuple(indices)]
    except IndexError as err:  # index shapes that do not broadcast at run time
        raise InterpretError(f"index tensors: {err}") from None


_REDUCTIONS = table_for(REDUCE_KINDS, {
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
})


@implements("sparsec.reduce")
def _reduce(op: Operation, x: np.ndarray) -> np.ndarray:
    view = sparsec.Reduce(op)
    if view.kind not in _REDUCTIONS:
        raise InterpretError(f"unknown reduction kind '{view.kind}'")
    return _REDUCTIONS[view.kind](x, axis=ints(op, "axes"), keepdims=view.keepdim)


@implements("sparsec.cumsum")
def _cumsum(op: Operation, x: np.ndarray) -> np.ndarray:
    return np.cumsum(x, axis=sparsec.Cumsum(op).axis, dtype=_result_dtype(op))
