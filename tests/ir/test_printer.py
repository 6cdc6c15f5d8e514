"""The printer on its own: layout, value numbering, resource blobs."""

from __future__ import annotations

import numpy as np
import pytest
from test_roundtrip import OP_CASES, Body

from sparsec.ir import IRError, Operation
from sparsec.ir.attributes import DenseResourceAttr, FloatAttr, IntegerAttr, Resource
from sparsec.ir.dialects import sparsec as sp
from sparsec.ir.dialects.builtin import module, module_body
from sparsec.ir.dialects.func import func_body
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import UNKNOWN_VALUE, encode_blob, format_resources, print_op
from sparsec.ir.types import f32, tensor


def two_functions() -> Operation:
    first, second = OP_CASES["add"](), OP_CASES["relu"]()
    func = module_body(second).ops[0]
    module_body(second).remove(func)
    module_body(first).append(func)
    return first


def test_numbering_restarts_in_every_function() -> None:
    lines = print_op(two_functions()).splitlines()
    defs = [line.split(" = ")[0].strip() for line in lines if " = " in line and "func" not in line]
    assert defs == ["%0", "%0"]
    labels = [line.strip() for line in lines if line.strip().startswith("^bb")]
    assert labels == [
        "^bb0(%arg0: tensor<2x4xf32>, %arg1: tensor<4xf32>):",
        "^bb0(%arg0: tensor<2x4xf32>):",
    ]


def test_two_space_indent_per_level() -> None:
    text = print_op(OP_CASES["relu"]())
    assert text == (
        '"builtin.module"() ({\n'
        '  "func.func"() <{function_type = (tensor<2x4xf32>) -> tensor<2x4xf32>, '
        'sym_name = "f"}> ({\n'
        "  ^bb0(%arg0: tensor<2x4xf32>):\n"
        '    %0 = "sparsec.relu"(%arg0) : (tensor<2x4xf32>) -> tensor<2x4xf32>\n'
        '    "func.return"(%0) : (tensor<2x4xf32>) -> ()\n'
        "  }) : () -> ()\n"
        "}) : () -> ()\n"
    )


def test_printing_is_deterministic() -> None:
    assert print_op(OP_CASES["attention"]()) == print_op(OP_CASES["attention"]())


def test_properties_and_attributes_are_separate() -> None:
    body = Body(tensor((2, 3)))
    result = body(sp.Softmax, body.args[0], axis=IntegerAttr(1))
    result.op.attributes["sparsity"] = FloatAttr(0.5, f32)
    text = print_op(body.module(result))
    assert '"sparsec.softmax"(%arg0) <{axis = 1}> {sparsity = 0.5 : f32} : ' in text


def test_an_op_alone_names_outside_values_as_unknown() -> None:
    relu = next(op for op in OP_CASES["relu"]().walk() if op.name == "sparsec.relu")
    assert print_op(relu) == (
        f'%0 = "sparsec.relu"({UNKNOWN_VALUE}) : (tensor<2x4xf32>) -> tensor<2x4xf32>\n'
    )


def test_blob_is_alignment_then_little_endian_data() -> None:
    assert encode_blob(np.array([1.0], np.float32)) == "0x040000000000803F"
    assert encode_blob(np.array([1], np.int64)) == "0x080000000100000000000000"
    assert encode_blob(np.array([1], ">i4")) == "0x0400000001000000"  # big-endian input
    assert encode_blob(np.array([True, False])) == "0x010000000100"


def test_resource_section_layout_and_quoted_keys() -> None:
    resources = [
        Resource("plain.key", np.array([1.0], np.float32)),
        Resource("needs quoting", np.array([2], np.int8)),
        Resource("elided"),
    ]
    assert format_resources(resources) == (
        "{-#\n"
        "  dialect_resources: {\n"
        "    builtin: {\n"
        '      plain.key: "0x040000000000803F",\n'
        '      "needs quoting": "0x0100000002"\n'
        "    }\n"
        "  }\n"
        "#-}\n"
    )
    assert format_resources([Resource("elided")]) == ""


def test_quoted_resource_keys_round_trip() -> None:
    body = Body(tensor((2,)))
    weight = body.constant(np.array([1.5, -2.0], np.float32), "layer 0/weight")
    text = print_op(body.module(body(sp.Add, body.args[0], weight)))
    assert 'dense_resource<"layer 0/weight"> : tensor<2xf32>' in text
    assert print_op(parse_module(text)) == text


def test_two_resources_with_one_key_are_refused() -> None:
    body = Body(tensor((2,)))
    a = body.constant(np.zeros(2, np.float32), "w")
    b = body(sp.Constant, value=DenseResourceAttr.from_array("w", np.ones(2, np.float32)))
    broken = body.module(body(sp.Add, a, b))
    with pytest.raises(IRError, match="two different resources are named 'w'"):
        print_op(broken)


def test_empty_module_keeps_its_block() -> None:
    text = print_op(module())
    assert text == '"builtin.module"() ({\n^bb0:\n}) : () -> ()\n'
    assert len(module_body(parse_module(text)).ops) == 0


def test_func_body_helper_sees_parsed_ops() -> None:
    parsed = parse_module(print_op(OP_CASES["linear"]()))
    names = [op.name for op in func_body(module_body(parsed).ops[0]).ops]
    assert names == ["sparsec.constant", "sparsec.constant", "sparsec.linear", "func.return"]
