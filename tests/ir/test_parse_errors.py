"""Malformed IR text: each case gives `file:line:col: message`, the line, and a caret under it.

Each case is a small edit of one valid function (``VALID``); the expected
error is the caret line written under the offending source line.
"""

from __future__ import annotations

import random

import pytest
from test_roundtrip import CASES

from sparsec.ir.diagnostics import ParseError
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op

HEAD = """\
"builtin.module"() ({
  "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "f"}> ({
  ^bb0(%arg0: tensor<2xf32>):
"""
RELU = '    %0 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>\n'
RETURN = '    "func.return"(%0) : (tensor<2xf32>) -> ()\n'
TAIL = "  }) : () -> ()\n}) : () -> ()\n"
VALID = HEAD + RELU + RETURN + TAIL


def with_line(line: str) -> str:
    """VALID with the relu (line 4) replaced by ``line``."""
    return HEAD + line + "\n" + RETURN + TAIL


def with_attribute(attr_dict: str) -> str:
    """VALID with ``attr_dict`` on the relu."""
    return with_line(RELU.rstrip("\n").replace(" : ", f" {attr_dict} : ", 1))


def with_blob(blob_line: str, dialect: str = "builtin") -> str:
    constant = (
        '    %0 = "sparsec.constant"() <{value = dense_resource<w> : tensor<2xf32>}> '
        ": () -> tensor<2xf32>"
    )
    section = f"{{-#\n  dialect_resources: {{\n    {dialect}: {{\n{blob_line}\n    }}\n  }}\n#-}}\n"
    return with_line(constant) + section


# name -> (text, expected "line:col: message", expected caret line)
ERRORS = {
    "unknown_op": (
        with_line('    %0 = "sparsec.rleu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:10: unknown operation 'sparsec.rleu' (did you mean 'sparsec.relu'?)",
        "         ^",
    ),
    "undefined_value": (
        with_line('    %0 = "sparsec.relu"(%7) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:25: use of undefined value '%7'",
        "                        ^",
    ),
    "redefined_value": (
        HEAD + RELU + RELU + RETURN + TAIL,
        "5:5: redefinition of value '%0' (first defined at 4:5)",
        "    ^",
    ),
    "operand_count_vs_types": (
        with_line('    %0 = "sparsec.relu"(%arg0, %arg0) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:10: 'sparsec.relu' op has 2 operands but its type lists 1",
        "         ^",
    ),
    "operand_type_mismatch": (
        with_line('    %0 = "sparsec.relu"(%arg0) : (tensor<3xf32>) -> tensor<2xf32>'),
        "4:25: '%arg0' has type tensor<2xf32> but is used as tensor<3xf32>",
        "                        ^",
    ),
    "bad_tensor_type": (
        with_line('    %0 = "sparsec.relu"(%arg0) : (tensor<2x>) -> tensor<2xf32>'),
        "4:35: bad tensor type 'tensor<2x>': expected dimensions (like '2x?x') and an element type",
        "                                  ^",
    ),
    "unclosed_tensor_type": (
        with_line('    %0 = "sparsec.relu"(%arg0) : (tensor<2xf32) -> tensor<2xf32>'),
        "4:35: tensor type 'tensor<2xf32' is missing its closing '>'",
        "                                  ^",
    ),
    "unknown_element_type": (
        with_line('    %0 = "sparsec.relu"(%arg0) : (tensor<2xf31>) -> tensor<2xf32>'),
        "4:35: unknown element type 'f31' in 'tensor<2xf31>'",
        "                                  ^",
    ),
    "unterminated_string": (
        with_line('    %0 = "sparsec.relu(%arg0) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:10: unterminated string",
        "         ^",
    ),
    "unterminated_region": (
        HEAD + RELU + RETURN,
        "2:87: region is never closed (missing '}' before the end)",
        " " * 86 + "^",
    ),
    "input_ends_inside_an_op": (
        HEAD + '    %0 = "sparsec.relu"(%arg0',
        "4:30: unexpected end of input, expected ')' or ','",
        " " * 29 + "^",
    ),
    "wrong_result_count": (
        with_line('    %0:2 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:5: operation defines 1 result but binds 2 names",
        "    ^",
    ),
    "result_number_out_of_range": (
        HEAD + RELU + '    %1 = "sparsec.relu"(%0#1) : (tensor<2xf32>) -> tensor<2xf32>\n'
        + RETURN + TAIL,
        "5:25: '%0' has 1 result",
        "                        ^",
    ),
    "custom_syntax": (
        with_line("    %0 = sparsec.relu %arg0 : tensor<2xf32>"),
        "4:10: expected an operation in generic form (\"dialect.op\"(...) : ...), got "
        "'sparsec.relu' (custom syntax is not supported)",
        "         ^",
    ),
    "stray_character": (
        with_line('    %0 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32> ?'),
        "4:67: unexpected character '?'",
        " " * 66 + "^",
    ),
    "unknown_escape": (
        with_attribute('{s = "a\\qb"}'),
        "4:39: unknown escape '\\q' in string",
        " " * 38 + "^",
    ),
    "duplicate_attribute": (
        with_attribute("{a = 1, a = 2}"),
        "4:40: duplicate key 'a' in attribute dictionary",
        " " * 39 + "^",
    ),
    "integer_out_of_range": (
        with_attribute("{a = 300 : i8}"),
        "4:37: integer 300 does not fit in i8",
        " " * 36 + "^",
    ),
    "dense_shape_mismatch": (
        with_line(
            '    %0 = "sparsec.constant"() <{value = dense<[1.0, 2.0, 3.0]> : tensor<2xf32>}> '
            ": () -> tensor<2xf32>"
        ),
        "4:48: dense literal has shape [3] but the type is tensor<2xf32>",
        " " * 47 + "^",
    ),
    "value_from_outside_the_region": (
        HEAD
        + '    "func.func"() <{function_type = () -> (), sym_name = "g"}> ({\n'
        + '      "func.return"(%arg0) : (tensor<2xf32>) -> ()\n'
        + "    }) : () -> ()\n"
        + RELU + RETURN + TAIL,
        "5:21: '%arg0' is defined outside this region (regions are isolated from above)",
        " " * 20 + "^",
    ),
    "op_after_terminator": (
        HEAD + RELU + RETURN
        + '    %1 = "sparsec.relu"(%0) : (tensor<2xf32>) -> tensor<2xf32>\n' + TAIL,
        "6:5: 'sparsec.relu' follows the terminator of its block",
        "    ^",
    ),
    "unranked_tensor": (
        with_line('    %0 = "sparsec.relu"(%arg0) : (tensor<*xf32>) -> tensor<2xf32>'),
        "4:35: unranked tensor type 'tensor<*xf32>' is not supported",
        " " * 34 + "^",
    ),
    "unknown_resource": (
        with_blob('      v: "0x040000000000803F0000803F"'),
        "11:7: unknown resource 'v': no dense_resource attribute uses it",
        "      ^",
    ),
    "bad_blob_hex": (
        with_blob('      w: "0x040000000000803F00G0803F"'),
        "11:31: bad hex digit in blob of resource 'w'",
        " " * 30 + "^",
    ),
    "blob_size_mismatch": (
        with_blob('      w: "0x040000000000803F"'),
        "11:10: resource 'w' holds 1 element but tensor<2xf32> at 4:56 needs 2",
        " " * 9 + "^",
    ),
    "blob_alignment": (
        with_blob('      w: "0x030000000000803F0000803F"'),
        "11:10: blob of resource 'w' has alignment 3, not a power of 2",
        " " * 9 + "^",
    ),
    "blob_in_another_dialect": (
        with_blob('      w: "0x040000000000803F0000803F"', dialect="sparsec"),
        "10:5: unknown resource dialect 'sparsec' (only builtin)",
        "    ^",
    ),
    "duplicate_block_label": (
        HEAD + "  ^bb0:\n" + RETURN + TAIL,
        "4:3: redefinition of block '^bb0'",
        "  ^",
    ),
    "tab_indented_line": (
        with_line('\t%0 = "sparsec.relu"(%arg9) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:22: use of undefined value '%arg9'",
        "\t" + " " * 20 + "^",
    ),
    # Verifier failures found while parsing point at the op too.
    "verifier_operand_count": (
        with_line('    %0 = "sparsec.add"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:5: 'sparsec.add' op expects 2 operands, got 1",
        "    ^",
    ),
    "verifier_missing_property": (
        with_line('    %0 = "sparsec.softmax"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>'),
        "4:5: 'sparsec.softmax' op requires property 'axis'",
        "    ^",
    ),
    "verifier_inferred_type": (
        HEAD + '    %1 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<3xf32>\n'
        + RELU + RETURN + TAIL,
        "4:5: 'sparsec.relu' op result types (tensor<3xf32>) differ from the inferred "
        "(tensor<2xf32>)",
        "    ^",
    ),
    "verifier_result_count": (
        HEAD
        + '    %0:2 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>)\n'
        + '    "func.return"(%0#1) : (tensor<2xf32>) -> ()\n' + TAIL,
        "4:5: 'sparsec.relu' op expects 1 results, got 2",
        "    ^",
    ),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_message_position_and_caret(name: str) -> None:
    text, expected, caret = ERRORS[name]
    with pytest.raises(ParseError) as info:
        parse_module(text, "bad.mlir")
    line_number = int(expected.split(":")[0])
    assert str(info.value).splitlines() == [
        f"bad.mlir:{expected}",
        text.splitlines()[line_number - 1],
        caret,
    ]


def test_the_valid_base_parses() -> None:
    assert print_op(parse_module(VALID)) == VALID


def test_verifier_errors_can_be_skipped() -> None:
    text = ERRORS["verifier_missing_property"][0]
    module = parse_module(text, verify=False)
    assert [op.name for op in module.walk()][-2:] == ["sparsec.softmax", "func.return"]


def test_error_fields() -> None:
    with pytest.raises(ParseError) as info:
        parse_module(ERRORS["undefined_value"][0], "x.mlir")
    err = info.value
    assert (err.filename, err.line, err.col) == ("x.mlir", 4, 25)
    assert err.message == "use of undefined value '%7'"


def test_mangled_input_never_raises_anything_but_parse_error() -> None:
    """Random cuts, duplications and stray tokens in valid modules: a ParseError or a module."""
    rng = random.Random(2024)
    texts = [print_op(CASES[name]()) for name in sorted(CASES)]
    pieces = ['%0', '"sparsec.softmax"', "(", ")", "{", "}", "<", ">", ":", ",", "->", "#1",
              "tensor<?x4xf32>", "i32", '"', "\\", "0x7F", "1.5", "dense<", "[", "^bb0", "{-#"]
    for _ in range(300):
        text = rng.choice(texts)
        cut = rng.randrange(len(text))
        edit = rng.random()
        if edit < 0.4:
            text = text[:cut] + text[cut + rng.randint(1, 6) :]
        elif edit < 0.8:
            text = text[:cut] + rng.choice(pieces) + text[cut:]
        else:
            start = rng.randrange(len(text))
            text = text[:cut] + text[start : start + 8] + text[cut:]
        try:
            parse_module(text, "m.mlir")
        except ParseError as err:
            assert str(err).startswith("m.mlir:")


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    """The lexer stops at the first bracket past the limit (7 are open where the literal starts)."""
    deep_dense = with_line(
        '    %0 = "sparsec.constant"() <{value = dense<' + "[" * 5000 + "1.0" + "]" * 5000
        + "> : tensor<1xf32>}> : () -> tensor<1xf32>"
    )
    with pytest.raises(ParseError, match="4:168: '\\[' nests deeper than the limit of 128 open"):
        parse_module(deep_dense, "deep.mlir")
    deeper_than_rank = with_line(
        '    %0 = "sparsec.constant"() <{value = dense<[[1.0]]> : tensor<1xf32>}> '
        ": () -> tensor<1xf32>"
    )
    with pytest.raises(ParseError, match="4:49: dense literal nests deeper than the rank"):
        parse_module(deeper_than_rank, "deep.mlir")
    deep_regions = '"builtin.module"() ({\n' * 1200 + "}) : () -> ()\n" * 1200
    with pytest.raises(ParseError, match="65:17: '\\(' nests deeper than the limit of 128 open"):
        parse_module(deep_regions, "deep.mlir")


def test_one_error_hierarchy() -> None:
    from sparsec.ir import diagnostics as d
    from sparsec.ir.core import IRError
    from sparsec.ir.opdef import VerifyError

    assert VerifyError is d.VerificationError and IRError is d.IRError
    for kind in (d.ParseError, d.IRError, d.VerificationError, d.PassError, d.PipelineError):
        assert issubclass(kind, d.SparsecError)
    assert issubclass(d.PassFailure, d.PassError)


def test_a_pass_failure_points_where_its_cause_does() -> None:
    from sparsec.ir.diagnostics import PassFailure, SparsecError

    cause = SparsecError("bad op", "m.mlir", 3, 5, "  %0 = x")
    failure = PassFailure(f"pass 'p' produced invalid IR: {cause}", cause)
    assert failure.position() == ("m.mlir", 3, 5)
    assert str(cause).splitlines() == ["m.mlir:3:5: bad op", "  %0 = x", "    ^"]
    assert SparsecError("no place").position() is None
