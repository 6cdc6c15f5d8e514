"""The IR printer: MLIR generic operation syntax, plus the resource blobs of weights.

    "builtin.module"() ({
      "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"}> ({
      ^bb0(%arg0: tensor<2xf32>):
        %0 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
        "func.return"(%0) : (tensor<2xf32>) -> ()
      }) : () -> ()
    }) : () -> ()
    {-#
      dialect_resources: {
        builtin: {
          fc.weight: "0x040000000000803F"
        }
      }
    #-}

Values are renamed deterministically: block arguments ``%arg0, %arg1, ...``
and results ``%0, %1, ...`` in block order, counted afresh in every region
(our regions are isolated from above, like ``func.func``). A multi-result op
binds one name, ``%0:2``, whose results are used as ``%0#0`` and ``%0#1``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

from .attributes import (
    ArrayAttr,
    Attribute,
    DenseResourceAttr,
    DictAttr,
    Resource,
    format_attr_dict,
    is_bare_id,
    quote,
)
from .core import Block, IRError, Operation, Region, Value
from .types import FunctionType, Type

INDENT = "  "
UNKNOWN_VALUE = "<<UNKNOWN SSA VALUE>>"  # an operand defined outside what is printed


def print_op(op: Operation, *, elide_resources: bool = False) -> str:
    """``op`` (usually a ``builtin.module``) in generic syntax, then its resource blobs.

    With ``elide_resources`` the blob section is left out; the attributes still
    read ``dense_resource<key>``, which MLIR accepts without the data.
    """
    printer = _Printer()
    printer.print_op(op, "", _Counter())
    text = "\n".join(printer.lines) + "\n"
    if not elide_resources:
        text += format_resources(printer.resources.values())
    return text


def format_resources(resources: Iterable[Resource]) -> str:
    """The ``{-# dialect_resources: ... #-}`` section for the resources that hold data."""
    blobs = [
        f"{INDENT * 3}{_resource_key(r.key)}: \"{encode_blob(r.data)}\""
        for r in resources
        if r.data is not None
    ]
    if not blobs:
        return ""
    body = ",\n".join(blobs)
    return (
        f"{{-#\n{INDENT}dialect_resources: {{\n{INDENT * 2}builtin: {{\n"
        f"{body}\n{INDENT * 2}}}\n{INDENT}}}\n#-}}\n"
    )


def encode_blob(data: np.ndarray) -> str:
    """MLIR's blob spelling: ``0x``, the alignment as a little-endian uint32, the raw data."""
    little_endian = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
    alignment = struct.pack("<I", max(data.dtype.itemsize, 1))
    return "0x" + (alignment + little_endian.tobytes()).hex().upper()


def _resource_key(key: str) -> str:
    return key if is_bare_id(key) else quote(key)


class _Counter:
    """The next free result and argument numbers of one region."""

    def __init__(self) -> None:
        self.results = 0
        self.args = 0


class _Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[Value, str] = {}
        self.resources: dict[str, Resource] = {}
        self._type_text: dict[Type, str] = {}

    def print_op(self, op: Operation, indent: str, counter: _Counter) -> None:
        head = self._bind_results(op, counter)
        operands = ", ".join(self.names.get(v, UNKNOWN_VALUE) for v in op.operands)
        text = f"{indent}{head}{quote(op.name)}({operands})"
        if op.properties:
            text += f" <{self._attr_dict(op.properties)}>"
        if op.regions:
            self.lines.append(text + " ({")
            for i, region in enumerate(op.regions):
                if i:
                    self.lines.append(indent + "}, {")
                self._print_region(region, indent)
            text = indent + "})"
        if op.attributes:
            text += f" {self._attr_dict(op.attributes)}"
        self.lines.append(f"{text} : {self._function_type(op)}")

    def _bind_results(self, op: Operation, counter: _Counter) -> str:
        if not op.results:
            return ""
        name = f"%{counter.results}"
        counter.results += 1
        if len(op.results) == 1:
            self.names[op.results[0]] = name
            return f"{name} = "
        for i, result in enumerate(op.results):
            self.names[result] = f"{name}#{i}"
        return f"{name}:{len(op.results)} = "

    def _print_region(self, region: Region, indent: str) -> None:
        counter = _Counter()
        for i, block in enumerate(region.blocks):
            ops = block.ops
            # The entry label may be left out, unless the block would then vanish or lose args.
            if i or block.args or not ops:
                self.lines.append(f"{indent}{self._block_label(block, i, counter)}")
            for op in ops:
                self.print_op(op, indent + INDENT, counter)

    def _block_label(self, block: Block, index: int, counter: _Counter) -> str:
        args = []
        for arg in block.args:
            name = f"%arg{counter.args}"
            counter.args += 1
            self.names[arg] = name
            args.append(f"{name}: {self._type(arg.type)}")
        return f"^bb{index}({', '.join(args)}):" if args else f"^bb{index}:"

    def _function_type(self, op: Operation) -> str:
        inputs = ", ".join(self._type(v.type) for v in op.operands)
        results = [r.type for r in op.results]
        if len(results) == 1 and not isinstance(results[0], FunctionType):
            return f"({inputs}) -> {self._type(results[0])}"
        return f"({inputs}) -> ({', '.join(self._type(t) for t in results)})"

    def _type(self, type_: Type) -> str:
        text = self._type_text.get(type_)
        if text is None:
            text = self._type_text[type_] = str(type_)
        return text

    def _attr_dict(self, entries: dict[str, Attribute]) -> str:
        for value in entries.values():
            self._collect_resources(value)
        return format_attr_dict(entries)

    def _collect_resources(self, attr: Attribute) -> None:
        if isinstance(attr, DenseResourceAttr):
            seen = self.resources.setdefault(attr.key, attr.resource)
            if seen is not attr.resource:
                raise IRError(f"two different resources are named '{attr.key}'")
        elif isinstance(attr, ArrayAttr):
            for value in attr.values:
                self._collect_resources(value)
        elif isinstance(attr, DictAttr):
            for _, value in attr.entries:
                self._collect_resources(value)
