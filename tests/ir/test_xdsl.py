"""The printed IR is valid MLIR: xDSL parses every module of the round-trip tests.

xDSL is MLIR's Python sibling; its generic-syntax parser follows MLIR's. The
``sparsec`` dialect is unknown to it (unregistered ops are allowed), while
``builtin`` and ``func`` are its own, so xDSL also checks those ops' properties.

Known gaps, where xDSL differs from MLIR on text that MLIR accepts:
- ``array<f64: 0x7FF0000000000000>``: MLIR reads a hex element of a float
  array as its bit pattern (the only way to spell inf and nan); xDSL rejects it.
- ``dense<[0x7F800000]> : tensor<1xf32>``: both accept it, but xDSL reads the
  hex as the integer value instead of the bit pattern.
- ``dense_resource<"a key">``: MLIR accepts a quoted key; xDSL only bare ones
  (every key our frontend makes is a bare identifier).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_roundtrip import ATTRIBUTE_CASES, CASES, SYNTAX_CASES
from xdsl.context import Context
from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects.builtin import Builtin, DenseResourceAttr, ModuleOp
from xdsl.dialects.func import Func
from xdsl.ir import Dialect
from xdsl.ir import Operation as XOperation
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError as XdslParseError

from sparsec.ir import attributes
from sparsec.ir.printer import print_op

XDSL_GAPS = {"dense_array_specials"}


def parse_with_xdsl(text: str) -> tuple[ModuleOp, Context]:
    context = Context(allow_unregistered=True)
    # xDSL keeps resource blobs in the dialect object: a fresh one per parse keeps keys as ours.
    blobs = OpAsmDialectInterface()
    context.load_dialect(Dialect("builtin", [*Builtin.operations], [*Builtin.attributes], [blobs]))
    context.load_dialect(Func)
    return Parser(context, text, "case.mlir").parse_module(), context


def op_name(op: XOperation) -> str:
    """The op's name, also for ops xDSL does not know (it keeps theirs as `op_name__`)."""
    name = op.attributes.get("op_name__")
    return name.data if name is not None else op.name


@pytest.mark.parametrize("name", sorted(set(CASES) - XDSL_GAPS))
def test_xdsl_parses_the_printed_module(name: str) -> None:
    ours = CASES[name]()
    module, _ = parse_with_xdsl(print_op(ours))
    assert [op_name(op) for op in module.walk()] == [op.name for op in ours.walk()]


@pytest.mark.parametrize("name", sorted(XDSL_GAPS))
def test_known_xdsl_gaps(name: str) -> None:
    with pytest.raises(XdslParseError, match="Expected float literal"):
        parse_with_xdsl(print_op(CASES[name]()))


def test_xdsl_parses_elided_resources() -> None:
    text = print_op(SYNTAX_CASES["resources"](), elide_resources=True)
    assert "{-#" not in text and "dense_resource<" in text
    parse_with_xdsl(text)


def test_xdsl_reads_our_resource_blobs() -> None:
    ours = SYNTAX_CASES["resources"]()
    module, context = parse_with_xdsl(print_op(ours))
    storage = context.get_dialect("builtin").get_interface(OpAsmDialectInterface)
    theirs = [
        value
        for op in module.walk()
        for value in op.properties.values()
        if isinstance(value, DenseResourceAttr)
    ]
    expected = [
        value
        for op in ours.walk()
        for value in op.properties.values()
        if isinstance(value, attributes.DenseResourceAttr)
    ]
    assert len(theirs) == len(expected) == 9
    for their_attr, our_attr in zip(theirs, expected, strict=True):
        handle = their_attr.resource_handle.data
        assert handle == our_attr.key
        blob = bytes.fromhex(storage.lookup(handle)[2:])
        assert blob[4:] == our_attr.array.tobytes()
        assert int.from_bytes(blob[:4], "little") == our_attr.array.dtype.itemsize


def test_xdsl_agrees_on_attribute_values() -> None:
    module, _ = parse_with_xdsl(print_op(ATTRIBUTE_CASES["floats"]()))
    relu = next(op for op in module.walk() if op_name(op) == "sparsec.relu")
    assert relu.attributes["eps"].value.data == float(np.float32(1e-05))
    assert relu.attributes["tiny"].value.data == 5e-324
    assert np.signbit(relu.attributes["neg_zero"].value.data)
    module, _ = parse_with_xdsl(print_op(ATTRIBUTE_CASES["integers"]()))
    relu = next(op for op in module.walk() if op_name(op) == "sparsec.relu")
    assert relu.attributes["big"].value.data == -(2**63)
    assert relu.attributes["i32"].value.data == -7
