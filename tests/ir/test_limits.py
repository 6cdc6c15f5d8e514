"""The limits of ir/limits.py: each is a located diagnostic that names it, just past the limit,
and text right at the limit still parses, verifies, prints and round-trips."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable

import numpy as np
import pytest
from test_parse_errors import HEAD, RETURN, TAIL, VALID, with_attribute, with_line

from sparsec.ir import limits, verify
from sparsec.ir.attributes import DenseElementsAttr, format_attr_dict
from sparsec.ir.diagnostics import ParseError
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.ir.types import TensorType, f32


def error_of(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_module(text, "lim.mlir")
    return info.value


def round_trips(text: str) -> str:
    printed = print_op(parse_module(text, "lim.mlir"))
    assert print_op(parse_module(printed)) == printed
    return printed


def constant(value: str, type_: str) -> str:
    """A module whose function also defines an unused constant ``dense<value> : type_``."""
    return with_line(
        f'    %c = "sparsec.constant"() <{{value = dense<{value}> : {type_}}}> : () -> {type_}\n'
        '    %0 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>'
    )


def with_type(type_: str) -> str:
    """VALID with a type attribute (on the relu) holding ``type_``."""
    return with_attribute(f"{{t = {type_}}}")


COLUMN_OF_ATTRIBUTE = len('    %0 = "sparsec.relu"(%arg0) {t = ') + 1


# -- integer literals and types ------------------------------------------------


def test_integer_literal_digits() -> None:
    digits = "7" * (limits.MAX_LITERAL_DIGITS + 1)
    err = error_of(with_attribute(f"{{a = {digits}}}"))
    assert (err.line, err.col) == (4, COLUMN_OF_ATTRIBUTE)
    assert err.message == (f"integer literal has {limits.MAX_LITERAL_DIGITS + 1} digits, more "
                           f"than the limit of {limits.MAX_LITERAL_DIGITS}")
    hex_digits = "0x" + "F" * (limits.MAX_HEX_DIGITS + 1)
    assert error_of(with_attribute(f"{{a = {hex_digits}}}")).message == (
        f"hex literal has {limits.MAX_HEX_DIGITS + 1} digits, more than the limit of "
        f"{limits.MAX_HEX_DIGITS}")


def test_integer_literal_at_the_digit_limit_prints_back() -> None:
    value = "9" * limits.MAX_LITERAL_DIGITS
    printed = round_trips(with_attribute(f"{{a = {value} : i4000}}"))
    assert f"a = {value} : i4000" in printed
    huge_hex = "0x" + "F" * limits.MAX_HEX_DIGITS  # prints in decimal, and parses back
    assert f"a = {16**limits.MAX_HEX_DIGITS - 1} : i4000" in round_trips(
        with_attribute(f"{{a = {huge_hex} : i4000}}"))


def test_integer_type_width() -> None:
    too_wide = f"i{limits.MAX_INTEGER_WIDTH + 1}"
    err = error_of(with_type(too_wide))
    assert (err.line, err.col) == (4, COLUMN_OF_ATTRIBUTE)
    assert err.message == (f"integer type '{too_wide}' is wider than the limit of "
                           f"{limits.MAX_INTEGER_WIDTH} bits")
    assert "wider than the limit" in error_of(with_type("tensor<2xi" + "9" * 5000 + ">")).message
    widest = f"i{limits.MAX_INTEGER_WIDTH}"
    assert f"t = {widest}" in round_trips(with_type(widest))


def test_result_number_digits() -> None:
    text = with_line('    %0 = "sparsec.relu"(%arg0#' + "1" * 5000 + ") : (tensor<2xf32>) -> "
                     "tensor<2xf32>")
    err = error_of(text)
    assert (err.line, err.col) == (4, 25)
    assert "has 5000 digits, more than the limit of 1000" in err.message


# -- tensor types ----------------------------------------------------------------


def test_dimension_points_at_the_dimension() -> None:
    err = error_of(with_type(f"tensor<3x{2**62}xf32>"))
    assert (err.line, err.col) == (4, COLUMN_OF_ATTRIBUTE + len("tensor<3x"))
    assert err.message == f"dimension {2**62} is more than the limit of {2**62 - 1} (2^62 - 1)"
    err = error_of(with_type("tensor<99999999999999999999x" + "9" * 5000 + "xf32>"))
    assert err.message.startswith("dimension 99999999999999999999 is more than the limit")


def test_dimension_at_the_limit() -> None:
    type_ = f"tensor<{2**62 - 1}xi1>"
    assert f"t = {type_}" in round_trips(with_type(type_))
    assert "t = tensor<7xf32>" in round_trips(with_type("tensor<0007xf32>"))


def test_element_count() -> None:
    err = error_of(with_type(f"tensor<?x{2**31}x{2**31}xf32>"))
    assert (err.line, err.col) == (4, COLUMN_OF_ATTRIBUTE)
    assert err.message == (f"'tensor<?x2147483648x2147483648xf32>' has {2**62} elements, more "
                           f"than the limit of {2**62 - 1} (2^62 - 1)")
    round_trips(with_type(f"tensor<{2**31}x{2**31 - 1}xf32>"))


def test_rank() -> None:
    err = error_of(with_type("tensor<" + "1x" * (limits.MAX_RANK + 1) + "f32>"))
    assert err.message.endswith(f"has rank {limits.MAX_RANK + 1}, more than the limit of "
                                f"{limits.MAX_RANK}")
    round_trips(with_type("tensor<" + "1x" * limits.MAX_RANK + "f32>"))


def test_num_elements_is_exact_past_int64() -> None:
    assert TensorType((2**40, 2**40), f32).num_elements == 2**80


# -- dense constants -------------------------------------------------------------


def test_a_huge_splat_is_never_materialized() -> None:
    """10^12 float32 elements (4 TB) cost one element: the array is a broadcast view."""
    type_ = "tensor<1000000x1000000xf32>"
    printed = round_trips(constant("1.5", type_))
    assert f"dense<1.5> : {type_}" in printed
    module = parse_module(constant("1.5", type_))
    attr = next(op for op in module.walk() if op.name == "sparsec.constant").properties["value"]
    assert attr.array.strides == (0, 0) and attr.array.shape == (10**6, 10**6)
    assert attr.is_splat and attr.splat_value == 1.5
    assert attr == DenseElementsAttr(TensorType((10**6, 10**6), f32), np.float32(1.5))
    assert hash(attr) == hash(DenseElementsAttr(TensorType((10**6, 10**6), f32), np.float32(1.5)))


def test_splat_bytes() -> None:
    type_ = f"tensor<{2**62 - 1}xi64>"
    err = error_of(constant("7", type_))
    assert (err.line, err.col) == (4, len('    %c = "sparsec.constant"() <{value = dense<') + 1)
    assert err.message == (f"dense splat of {type_} would span {(2**62 - 1) * 8} bytes, more "
                           f"than the limit of {2**63 - 1} (2^63 - 1)")
    round_trips(constant("true", f"tensor<{2**62 - 1}xi1>"))  # one byte each: addressable


def test_inline_element_count() -> None:
    count = limits.MAX_INLINE_ELEMENTS + 1
    err = error_of(constant("[1.0, 2.0]", f"tensor<{count}xf32>"))
    assert (err.line, err.col) == (4, len('    %c = "sparsec.constant"() <{value = dense<[') + 1)
    assert err.message == (f"dense literal of tensor<{count}xf32> would hold {count} elements, "
                           f"more than the limit of {limits.MAX_INLINE_ELEMENTS} for inline "
                           "constants (a dense_resource holds any size)")


def test_an_empty_dense_literal_is_located_at_its_keyword() -> None:
    err = error_of(constant("[]", "tensor<2xf32>"))
    assert (err.line, err.col) == (4, len('    %c = "sparsec.constant"() <{value = ') + 1)
    assert err.message == "dense literal has shape [0] but the type is tensor<2xf32>"


def test_i64_spelt_unsigned_wraps_instead_of_overflowing() -> None:
    printed = round_trips(constant(f"[0, {2**63}]", "tensor<2xi64>"))
    assert f"dense<[0, {-(2**63)}]> : tensor<2xi64>" in printed
    assert f"dense<{-1}> : tensor<3xi8>" in round_trips(constant("255", "tensor<3xi8>"))


def test_negative_zero_is_not_a_splat_of_zero() -> None:
    """Splats compare bits: [0.0, -0.0] printed as dense<0.0> would lose the sign."""
    assert "dense<[0.0, -0.0]> : tensor<2xf32>" in round_trips(constant("[0.0, -0.0]",
                                                                        "tensor<2xf32>"))
    nan = "dense<0x7FC00000> : tensor<3xf32>"
    assert nan in round_trips(constant("[0x7FC00000, 0x7FC00000, 0x7FC00000]", "tensor<3xf32>"))


# -- nesting -----------------------------------------------------------------------

# Where each case's first bracket is, how many brackets are open there, and the text with the
# nested structure ``depth`` levels deep. The verifier and the printer recurse into all of them.
OPEN_AT_ATTRIBUTE = 5  # module ( {, func ( {, and the op's attribute dict {
NESTED: dict[str, Callable[[int], str]] = {
    "array": lambda n: with_attribute("{a = " + "[" * n + "1" + "]" * n + "}"),
    "dict": lambda n: with_attribute("{a = " + "{a = " * n + "1" + "}" * n + "}"),
    "function type": lambda n: with_attribute("{t = " + "() -> (" * n + "i1" + ")" * n + "}"),
    "regions": lambda n: HEAD + '    "builtin.module"() ({\n' * n
    + '    "builtin.module"() ({\n    }) : () -> ()\n' + "    }) : () -> ()\n" * n
    + '    %0 = "sparsec.relu"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>\n' + RETURN + TAIL,
}
DEEPEST = {  # the nesting that opens exactly MAX_NESTING brackets somewhere
    "array": limits.MAX_NESTING - OPEN_AT_ATTRIBUTE,
    "dict": limits.MAX_NESTING - OPEN_AT_ATTRIBUTE,
    "function type": limits.MAX_NESTING - OPEN_AT_ATTRIBUTE,
    "regions": (limits.MAX_NESTING - 4) // 2 - 1,  # each level opens '(' and '{'; '()' needs 1
}


def with_frames(budget: int, run: Callable[[], object]) -> object:
    """``run()`` with at most ``budget`` Python frames above the current one."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + budget)
    try:
        return run()
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("kind", sorted(NESTED))
def test_nesting_past_the_limit(kind: str) -> None:
    err = error_of(NESTED[kind](DEEPEST[kind] + 1))
    assert err.message.endswith(f"nests deeper than the limit of {limits.MAX_NESTING} open "
                                "brackets")
    assert err.source_line  # located on a real line, with a caret


@pytest.mark.parametrize("kind", sorted(NESTED))
def test_nesting_at_the_limit_fits_well_inside_the_recursion_limit(kind: str) -> None:
    """Parse, verify, print, hash and compare the deepest text the parser accepts, with 600
    frames to spare: the default recursion limit of 1000 leaves 400 for callers."""
    text = NESTED[kind](DEEPEST[kind])

    def everything() -> str:
        module = parse_module(text)
        verify(module)
        for op in module.walk():
            hash(tuple(op.attributes.values()))
            assert op.attributes == dict(op.attributes)
            format_attr_dict(op.attributes)
        printed = print_op(module)
        assert print_op(parse_module(printed)) == printed
        return printed

    with_frames(600, everything)


def test_the_valid_base_is_nowhere_near_a_limit() -> None:
    assert print_op(parse_module(VALID)) == VALID


# -- diagnostics stay readable ---------------------------------------------------


def test_a_megabyte_token_makes_a_short_diagnostic() -> None:
    text = with_line('    %0 = "sparsec.' + "r" * 1_000_000 + '"(%arg0) : (tensor<2xf32>) -> '
                     "tensor<2xf32>")
    err = error_of(text)
    assert err.message.startswith("unknown operation 'sparsec.rrr") and " ... " in err.message
    assert len(str(err)) < 1000
    assert str(err).splitlines()[2].index("^") == err.col - 1  # the line is shown from its start


def test_a_long_line_is_shown_around_the_caret() -> None:
    line = '    %0 = "sparsec.relu"(%arg0) {' + "a = 1, " * 1000 + "b = ?, " + "c = 2, " * 1000
    err = error_of(with_line(line + "} : (tensor<2xf32>) -> tensor<2xf32>"))
    shown, caret = str(err).splitlines()[1:]
    assert shown.startswith("...") and shown.endswith("...")
    assert shown[caret.index("^")] == "?"


def test_line_separators_other_than_newline_do_not_shift_the_quoted_line() -> None:
    """U+2028 and form feed are not line breaks for the lexer, so not for the quote either."""
    text = with_line('    %0 = "sparsec.relu"(%arg9) : (tensor<2xf32>) -> tensor<2xf32>')
    text = text.replace('sym_name = "f"', 'sym_name = "f\u2028\x0c"', 1)
    err = error_of(text)
    assert err.line == 4
    assert err.source_line == '    %0 = "sparsec.relu"(%arg9) : (tensor<2xf32>) -> tensor<2xf32>'


def test_control_characters_never_reach_the_terminal_raw() -> None:
    """A decoded newline would split the one-line message; an ESC would restyle the terminal."""
    text = with_line('    %0 = "sparsec.re\\0Alu\\1B[31m\x1b\x9b"(%arg0) : (tensor<2xf32>) -> '
                     "tensor<2xf32>")
    err = error_of(text)
    assert err.message == "unknown operation 'sparsec.re\\0Alu\\1B[31m\\1B\\9B' (did you mean " \
                          "'sparsec.relu'?)"
    _, shown, caret = str(err).splitlines()
    assert shown == text.splitlines()[3].replace("\x1b", "?").replace("\x9b", "?")
    assert caret.index("^") == 9
