"""IR types: scalar element types and ranked tensors.

Types are immutable, hashable values; their ``str`` is their MLIR spelling, so
the printer never needs a type switch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class Type:
    """Base of every IR type."""


@dataclass(frozen=True)
class IntegerType(Type):
    """Signless integer ``iN`` (i1 is the boolean type)."""

    width: int

    def __str__(self) -> str:
        return f"i{self.width}"


@dataclass(frozen=True)
class FloatType(Type):
    """IEEE float (``f16``, ``f32``, ``f64``) or ``bf16``."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class IndexType(Type):
    def __str__(self) -> str:
        return "index"


@dataclass(frozen=True)
class FunctionType(Type):
    """``(inputs) -> results``; a single result prints without parentheses."""

    inputs: tuple[Type, ...]
    results: tuple[Type, ...]

    def __str__(self) -> str:
        ins = ", ".join(map(str, self.inputs))
        if len(self.results) == 1 and not isinstance(self.results[0], FunctionType):
            return f"({ins}) -> {self.results[0]}"
        return f"({ins}) -> ({', '.join(map(str, self.results))})"


DYNAMIC = None  # a dynamic dimension, printed `?`


@dataclass(frozen=True)
class TensorType(Type):
    """Ranked tensor; a ``None`` dimension is dynamic."""

    shape: tuple[int | None, ...]
    element_type: Type

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_static(self) -> bool:
        return all(d is not None for d in self.shape)

    @property
    def num_elements(self) -> int:
        """The element count, exact (a Python int: no int64 overflow for absurd shapes)."""
        if not self.is_static:
            raise ValueError(f"{self} has dynamic dimensions")
        return math.prod(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return to_numpy_dtype(self.element_type)

    def with_shape(self, shape: tuple[int | None, ...]) -> TensorType:
        return TensorType(tuple(shape), self.element_type)

    def __str__(self) -> str:
        dims = "".join(("?" if d is None else str(d)) + "x" for d in self.shape)
        return f"tensor<{dims}{self.element_type}>"


i1 = IntegerType(1)
i8 = IntegerType(8)
i32 = IntegerType(32)
i64 = IntegerType(64)
f16 = FloatType("f16")
bf16 = FloatType("bf16")
f32 = FloatType("f32")
f64 = FloatType("f64")
index = IndexType()

_NUMPY = {
    i1: np.dtype(np.bool_),
    i8: np.dtype(np.int8),
    i32: np.dtype(np.int32),
    i64: np.dtype(np.int64),
    index: np.dtype(np.int64),
    f16: np.dtype(np.float16),
    f32: np.dtype(np.float32),
    f64: np.dtype(np.float64),
}
_FROM_NUMPY = {dt: t for t, dt in _NUMPY.items() if t != index}


def to_numpy_dtype(t: Type) -> np.dtype:
    """The numpy dtype that holds values of element type ``t``."""
    try:
        return _NUMPY[t]
    except KeyError:
        raise ValueError(f"element type {t} has no numpy equivalent") from None


def from_numpy_dtype(dtype: np.dtype) -> Type:
    """The element type of a numpy dtype (bool -> i1)."""
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"numpy dtype {dtype} has no IR element type") from None


def is_float(t: Type) -> bool:
    return isinstance(t, FloatType)


def is_integer(t: Type) -> bool:
    return isinstance(t, IntegerType | IndexType)


def tensor(shape: tuple[int | None, ...] | list[int | None],
           element_type: Type = f32) -> TensorType:
    """Shorthand constructor: ``tensor((1, 128), i64)``."""
    return TensorType(tuple(shape), element_type)
