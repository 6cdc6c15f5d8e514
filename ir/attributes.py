"""IR attributes: immutable compile-time values attached to operations.

Every attribute is hashable and compares by value (CSE relies on it), and its
``str`` is its MLIR spelling. Weights are ``DenseResourceAttr``: the attribute
holds a key and a shared ``Resource`` blob that the printer writes into the
``{-# dialect_resources ... #-}`` section.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .types import (
    FloatType,
    IntegerType,
    TensorType,
    Type,
    bf16,
    f16,
    f32,
    f64,
    from_numpy_dtype,
    i1,
    i64,
)


class Attribute:
    """Base of every attribute."""


def format_float(value: float, type_: Type = f64) -> str:
    """An MLIR float literal that parses back to exactly ``value``.

    MLIR requires a '.' in decimal floats (``1.0e-05``, not ``1e-05``) and
    spells inf/nan as the hex bit pattern of the type.
    """
    if not math.isfinite(value):
        if type_ == bf16:  # bf16 is the top half of an f32
            return "0x" + struct.pack(">f", value)[:2].hex().upper()
        fmt = {f16: ">e", f32: ">f"}.get(type_, ">d")
        return "0x" + struct.pack(fmt, value).hex().upper()
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}" if exponent else mantissa


def parse_hex_float(text: str, type_: Type | None = None) -> float:
    """Inverse of the hex spelling ``format_float`` uses for inf and nan.

    The bit pattern must be as wide as ``type_`` (when given), as MLIR requires.
    """
    raw = bytes.fromhex(text[2:].rjust(2 * _HEX_BYTES.get(type_, 0), "0"))
    if type_ == bf16 and len(raw) == 2:
        return struct.unpack(">f", raw + b"\0\0")[0]
    formats = {2: ">e", 4: ">f", 8: ">d"}
    if len(raw) not in formats or (type_ in _HEX_BYTES and len(raw) != _HEX_BYTES[type_]):
        width = f"{_HEX_BYTES[type_]}" if type_ in _HEX_BYTES else "2, 4 or 8"
        raise ValueError(f"hex float {text} is not {width} bytes")
    return struct.unpack(formats[len(raw)], raw)[0]


_HEX_BYTES = {f16: 2, bf16: 2, f32: 4, f64: 8}


@dataclass(frozen=True)
class IntegerAttr(Attribute):
    value: int
    type: Type = i64

    def __str__(self) -> str:
        return str(self.value) if self.type == i64 else f"{self.value} : {self.type}"


@dataclass(frozen=True)
class FloatAttr(Attribute):
    value: float
    type: Type = f64

    def __str__(self) -> str:
        return f"{format_float(self.value, self.type)} : {self.type}"


@dataclass(frozen=True)
class BoolAttr(Attribute):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True)
class UnitAttr(Attribute):
    """Presence-only attribute; prints as a bare name in attribute dicts."""

    def __str__(self) -> str:
        return "unit"


def quote(text: str) -> str:
    """An MLIR string literal (escapes as two hex digits, like MLIR)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class StringAttr(Attribute):
    value: str

    def __str__(self) -> str:
        return quote(self.value)


@dataclass(frozen=True)
class TypeAttr(Attribute):
    value: Type

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class SymbolRefAttr(Attribute):
    name: str

    def __str__(self) -> str:
        return "@" + (self.name if is_bare_id(self.name) else quote(self.name))


@dataclass(frozen=True)
class ArrayAttr(Attribute):
    values: tuple[Attribute, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def __iter__(self):
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> Attribute:
        return self.values[i]

    def __str__(self) -> str:
        return "[" + ", ".join(map(str, self.values)) + "]"


def is_bare_id(name: str) -> bool:
    """True when ``name`` is an MLIR bare-id: ``(letter|_)(letter|digit|_|$|.)*``."""
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c in "_$.") for c in name)


def format_attr_dict(entries: Mapping[str, Attribute]) -> str:
    """``{a = 1, b}``: keys sorted so the output is deterministic; unit attrs bare."""
    parts = []
    for key in sorted(entries):
        name = key if is_bare_id(key) else quote(key)
        value = entries[key]
        parts.append(name if isinstance(value, UnitAttr) else f"{name} = {value}")
    return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class DictAttr(Attribute):
    entries: tuple[tuple[str, Attribute], ...]

    def __init__(self, entries: Mapping[str, Attribute] | Iterable[tuple[str, Attribute]]):
        items = entries.items() if isinstance(entries, Mapping) else entries
        object.__setattr__(self, "entries", tuple(sorted(items, key=lambda kv: kv[0])))

    def as_dict(self) -> dict[str, Attribute]:
        return dict(self.entries)

    def __getitem__(self, key: str) -> Attribute:
        return self.as_dict()[key]

    def __str__(self) -> str:
        return format_attr_dict(self.as_dict())


@dataclass(frozen=True)
class DenseArrayAttr(Attribute):
    """``array<i64: 1, 2, 3>``: a flat list of scalars (shapes, permutations, axes)."""

    element_type: Type
    values: tuple[int | float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def __iter__(self):
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> int | float:
        return self.values[i]

    def __str__(self) -> str:
        if not self.values:
            return f"array<{self.element_type}>"
        if isinstance(self.element_type, FloatType):
            body = ", ".join(format_float(v, self.element_type) for v in self.values)
        elif self.element_type == i1:
            body = ", ".join("true" if v else "false" for v in self.values)
        else:
            body = ", ".join(str(int(v)) for v in self.values)
        return f"array<{self.element_type}: {body}>"


def i64_array(values: Iterable[int]) -> DenseArrayAttr:
    return DenseArrayAttr(i64, tuple(int(v) for v in values))


def _format_scalar(value: object, element_type: Type) -> str:
    if element_type == i1:
        return "true" if value else "false"
    if isinstance(element_type, IntegerType):
        return str(int(value))
    return format_float(float(value), element_type)


def _format_nested(array: np.ndarray, element_type: Type) -> str:
    if array.ndim == 0:
        return _format_scalar(array.item(), element_type)
    return "[" + ", ".join(_format_nested(sub, element_type) for sub in array) + "]"


@dataclass(frozen=True, eq=False)
class DenseElementsAttr(Attribute):
    """Inline tensor constant, ``dense<[1.0, 2.0]> : tensor<2xf32>`` (splats print once).

    Built from a scalar (a splat), ``array`` is a read-only broadcast view of it: a
    ``dense<0.0> : tensor<1000000x1000000xf32>`` costs one element, never four terabytes.
    """

    type: TensorType
    array: np.ndarray
    _splat: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        array = np.asarray(self.array, dtype=self.type.dtype)
        if array.ndim == 0:
            array = np.broadcast_to(array, self.type.shape)  # a view: no copy per element
        if array.shape != self.type.shape:
            raise ValueError(f"dense data of shape {array.shape} does not match {self.type}")
        array.setflags(write=False)
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "_splat", _splat_of(array))

    @classmethod
    def from_array(cls, array: np.ndarray) -> DenseElementsAttr:
        array = np.asarray(array)
        return cls(TensorType(array.shape, from_numpy_dtype(array.dtype)), array)

    @property
    def is_splat(self) -> bool:
        """Every element has the same bits (so 0.0 and -0.0 differ, and a NaN splat is one)."""
        return self._splat is not None

    @property
    def splat_value(self) -> bool | int | float:
        """The element of a splat (``is_splat`` must hold)."""
        if self._splat is None:
            raise ValueError(f"{self.type} constant is not a splat")
        return self._splat.item()

    def _key(self) -> tuple[TensorType, bytes]:
        data = self._splat if self._splat is not None else self.array
        return self.type, data.tobytes()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DenseElementsAttr) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        if self._splat is not None and self.array.size > 1:
            body = _format_scalar(self._splat.item(), self.type.element_type)
        else:
            body = _format_nested(self.array, self.type.element_type)
        return f"dense<{body}> : {self.type}"


def _splat_of(array: np.ndarray) -> np.ndarray | None:
    """The first element when all elements are bit-identical, else None (cheap on a view)."""
    if array.size == 0:
        return None
    first = np.array(array[(0,) * array.ndim])  # a 0-d copy
    if all(stride == 0 for stride in array.strides):  # a broadcast scalar
        return first
    bits = np.dtype(f"u{array.dtype.itemsize}")
    flat = np.ascontiguousarray(array).reshape(-1).view(bits)
    return first if bool(np.all(flat == flat[0])) else None


@dataclass(eq=False)
class Resource:
    """A named blob shared by every ``dense_resource`` attribute with its key.

    ``data`` is None when the module was printed with resources elided.
    """

    key: str
    data: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True, eq=False)
class DenseResourceAttr(Attribute):
    """A weight stored out of line: ``dense_resource<key> : tensor<768x768xf32>``."""

    resource: Resource
    type: TensorType

    @classmethod
    def from_array(cls, key: str, array: np.ndarray) -> DenseResourceAttr:
        array = np.asarray(array, order="C")  # (ascontiguousarray would make rank 0 rank 1)
        array.setflags(write=False)
        return cls(Resource(key, array), TensorType(array.shape, from_numpy_dtype(array.dtype)))

    @property
    def key(self) -> str:
        return self.resource.key

    @property
    def array(self) -> np.ndarray:
        if self.resource.data is None:
            raise ValueError(f"resource '{self.key}' has no data (it was elided when printed)")
        return self.resource.data.reshape(self.type.shape)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DenseResourceAttr)
            and self.key == other.key
            and self.type == other.type
        )

    def __hash__(self) -> int:
        return hash((self.key, self.type))

    def __str__(self) -> str:
        key = self.key if is_bare_id(self.key) else quote(self.key)
        return f"dense_resource<{key}> : {self.type}"


ElementsAttr = DenseElementsAttr | DenseResourceAttr


def to_attr(value: object) -> Attribute:
    """Wrap a plain Python value (int, float, bool, str, list, dict, Type) as an attribute."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return BoolAttr(value)
    if isinstance(value, int):
        return IntegerAttr(value)
    if isinstance(value, float):
        return FloatAttr(value)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, Type):
        return TypeAttr(value)
    if isinstance(value, list | tuple):
        return ArrayAttr(tuple(to_attr(v) for v in value))
    if isinstance(value, Mapping):
        return DictAttr({k: to_attr(v) for k, v in value.items()})
    if isinstance(value, np.ndarray):
        return DenseElementsAttr.from_array(value)
    raise TypeError(f"cannot make an attribute of {value!r}")
