"""The IR parser: MLIR generic syntax (``grammar.lark``) to a ``builtin.module``.

lark parses with LALR(1) and calls a method of ``_IRBuilder`` each time it
reduces a grammar rule (an inline transformer: no parse tree), so the IR is
built in one pass, in text order. That order matters: a region's ops are
reduced before the op that owns the region, and values are resolved where
they are used, so every check can point at the exact token at fault.

Every problem, from a stray character to a verifier failure, is raised as a
``ParseError`` that reads ``file:line:col: message``, then the line, then a caret.
So is text past one of the bounds in ``limits.py`` (nesting, digits, dimensions,
element counts), checked where the text first crosses it: no input can overflow
int64, exhaust the recursion limit or allocate a tensor's worth of memory.
"""

from __future__ import annotations

import difflib
import gc
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import limits, verifier
from .attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    Resource,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnitAttr,
    parse_hex_float,
)
from .core import Block, IRError, Location, Operation, Region, Value
from .diagnostics import ParseError, end_position
from .dialects.builtin import Module
from .opdef import TERMINATOR, lookup, registered_ops
from .types import (
    FloatType,
    FunctionType,
    IndexType,
    IntegerType,
    TensorType,
    Type,
    bf16,
    f16,
    f32,
    f64,
    i1,
    i64,
    index,
    to_numpy_dtype,
)

_SCALAR_TYPES: dict[str, Type] = {"f16": f16, "bf16": bf16, "f32": f32, "f64": f64, "index": index}
_TENSOR_BODY = re.compile(r"((?:(?:\?|[0-9]+)x)*)([A-Za-z_][A-Za-z0-9_]*)")
_INTEGER_TYPE = re.compile(r"i([1-9][0-9]*)")
_ESCAPE = re.compile(r'\\(?:([0-9A-Fa-f]{2})|(["\\nt])|(.?))')
_ESCAPED = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def parse_module(text: str, filename: str = "<stdin>", *, verify: bool = True) -> Operation:
    """Parse IR text into its ``builtin.module`` (top-level ops without one are wrapped).

    Every op gets ``op.location = Location(filename, line, col)``. With
    ``verify``, the verifier runs too and its errors point at the op.
    Raises ``ParseError`` for any malformed input.
    """
    with _lock, _gc_paused():
        builder = _builder()
        builder.reset(text, filename)
        try:
            module = _lark().parse(text)
        except UnexpectedInput as err:
            raise _syntax_error(err, builder) from None
        finally:
            builder.reset("", "")
    if verify:  # (the parser's nesting limit keeps its recursion shallow)
        try:
            verifier.verify(module)
        except verifier.VerificationError as err:
            raise _verifier_error(err, text, filename) from None
    return module


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing allocates millions of objects and frees none: cyclic GC passes would be wasted
    work (a third of the parse time on a 100k-op module)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# lark builds the LALR tables once; the builder holds per-parse state, so one parse at a time.
_lock = threading.Lock()


@cache
def _builder() -> _IRBuilder:
    return _IRBuilder()


@cache
def _lark() -> Lark:
    grammar = Path(__file__).with_name("grammar.lark").read_text()
    builder = _builder()
    callbacks = dict.fromkeys(_OPENING, builder.open_bracket)
    callbacks |= dict.fromkeys(_CLOSING, builder.close_bracket)
    callbacks |= {"INT": builder.check_digits, "HEX": builder.check_digits}
    return Lark(grammar, parser="lalr", transformer=builder, maybe_placeholders=True,
                lexer_callbacks=callbacks)


# lark's names for the bracket tokens: the lexer counts them, so no structure can nest deeper
# than limits.MAX_NESTING and overflow the stack of the code that later recurses into it.
_OPENING = ("LPAR", "LSQB", "LBRACE", "LESSTHAN")
_CLOSING = ("RPAR", "RSQB", "RBRACE", "MORETHAN")


# -- the builder: one method per grammar rule -----------------------------------


@dataclass
class _Binding:
    """A name bound in a region: the values it stands for, and where it was defined."""

    values: tuple[Value, ...]
    token: Token


@dataclass
class _RegionState:
    """A region being parsed: its blocks so far and the names bound in it."""

    open_token: Token | None
    blocks: list[Block] = field(default_factory=list)
    names: dict[str, _Binding] = field(default_factory=dict)
    labels: dict[str, Token] = field(default_factory=dict)
    terminated: Block | None = None  # the block whose terminator has been seen


class _IRBuilder:
    """Builds the IR while lark parses; each method implements the rule it quotes."""

    def reset(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.region_stack = [_RegionState(None)]  # the top level is a region too
        self.resources: dict[str, Resource] = {}
        self.resource_types: dict[str, list[tuple[TensorType, Token]]] = {}
        self.blobs: dict[str, Token] = {}
        self.depth = 0  # brackets open at the current token

    def error(self, message: str, token: Token) -> ParseError:
        return ParseError.at(message, self.filename, self.text, token.line, token.column)

    # -- lexer callbacks: limits checked token by token ------------------------

    def open_bracket(self, token: Token) -> Token:
        self.depth += 1
        if self.depth > limits.MAX_NESTING:
            raise self.error(
                f"'{token}' nests deeper than the limit of {limits.MAX_NESTING} open brackets",
                token,
            )
        return token

    def close_bracket(self, token: Token) -> Token:
        self.depth = max(self.depth - 1, 0)  # a stray closer is the parser's to report
        return token

    def check_digits(self, token: Token) -> Token:
        what, digits, limit = "integer literal", len(token.lstrip("-")), limits.MAX_LITERAL_DIGITS
        if token.type == "HEX":
            what, digits, limit = "hex literal", len(token) - 2, limits.MAX_HEX_DIGITS
        if digits > limit:
            raise self.error(f"{what} has {digits} digits, more than the limit of {limit}", token)
        return token

    # -- operations ----------------------------------------------------------

    def start(self, children: list) -> Operation:
        """start: operation* [file_metadata]"""
        top = self.region_stack[0]
        ops = [c for c in children if isinstance(c, Operation)]
        if len(ops) == 1 and ops[0].name == "builtin.module":
            top.blocks[0].remove(ops[0])
            return ops[0]
        body = top.blocks or [Block()]
        location = Location(self.filename, 1, 1)
        return Module.build(regions=[Region(body)], result_types=(), location=location)

    def operation(self, children: list) -> Operation:
        """operation: [op_results] STRING "(" [value_uses] ")" [properties] [regions]
        [attr_dict] ":" function_type"""
        results, name_token, operands, properties, regions, attributes, ftype = children
        name = self.decode_string(name_token)
        opdef = lookup(name)
        if opdef is None:
            raise self.error(f"unknown operation '{name}'{_suggestion(name)}", name_token)
        # Checks against the op's definition (operand and result counts...) are the verifier's.
        operands = operands or []
        self.check_operand_types(name, name_token, operands, ftype)
        bound = sum(count for _, count in results or [])
        if results and bound != len(ftype.results):
            raise self.error(
                f"operation defines {_plural(len(ftype.results), 'result')} but binds "
                f"{_plural(bound, 'name')}",
                results[0][0],
            )
        first = results[0][0] if results else name_token
        op = Operation(
            name,
            [value for value, _ in operands],
            ftype.results,
            properties,
            attributes,
            regions or (),
            Location(self.filename, first.line, first.column),
            opdef.traits,
        )
        self.append(op, first, TERMINATOR in opdef.traits)
        self.bind_results(op, results or [])
        return op

    def check_operand_types(
        self, name: str, name_token: Token, operands: list, ftype: FunctionType
    ) -> None:
        if len(operands) != len(ftype.inputs):
            raise self.error(
                f"'{name}' op has {len(operands)} operands but its type lists "
                f"{len(ftype.inputs)}",
                name_token,
            )
        for (value, token), expected in zip(operands, ftype.inputs, strict=True):
            if value.type != expected:
                raise self.error(
                    f"'{token}' has type {value.type} but is used as {expected}", token
                )

    def append(self, op: Operation, token: Token, is_terminator: bool) -> None:
        region = self.region_stack[-1]
        if not region.blocks:
            region.blocks.append(Block())
        block = region.blocks[-1]
        if region.terminated is block:
            raise self.error(f"'{op.name}' follows the terminator of its block", token)
        try:
            block.append(op)
        except IRError as err:
            raise self.error(str(err), token) from None
        if is_terminator:
            region.terminated = block

    def bind_results(self, op: Operation, results: list[tuple[Token, int]]) -> None:
        start = 0
        for token, count in results:
            self.bind(token, tuple(op.results[start : start + count]))
            start += count

    def bind(self, token: Token, values: tuple[Value, ...]) -> None:
        names = self.region_stack[-1].names
        previous = names.get(str(token))
        if previous is not None:
            where = f"{previous.token.line}:{previous.token.column}"
            raise self.error(f"redefinition of value '{token}' (first defined at {where})", token)
        names[str(token)] = _Binding(values, token)

    def op_results(self, children: list) -> list[tuple[Token, int]]:
        """op_results: op_result ("," op_result)* "=" """
        return children

    def op_result(self, children: list) -> tuple[Token, int]:
        """op_result: VALUE_ID [":" INT]"""
        token, count = children
        self.check_definable(token)
        if count is not None and int(count) < 1:
            raise self.error(f"'{token}:{count}' must bind at least one result", count)
        return token, 1 if count is None else int(count)

    def check_definable(self, token: Token) -> None:
        if "#" in token:
            raise self.error(f"cannot define '{token}': '#' is only for uses", token)

    def value_uses(self, children: list) -> list[tuple[Value, Token]]:
        """value_uses: value_use ("," value_use)*"""
        return children

    def value_use(self, children: list) -> tuple[Value, Token]:
        """value_use: VALUE_ID"""
        (token,) = children
        name, _, number = token.partition("#")
        binding = self.region_stack[-1].names.get(name)
        if binding is None:
            raise self.error(self.undefined_message(name), token)
        if len(number) > limits.MAX_LITERAL_DIGITS:
            raise self.error(f"result number in '{_shorten(token)}' has {len(number)} digits, "
                             f"more than the limit of {limits.MAX_LITERAL_DIGITS}", token)
        position = int(number) if number else 0
        if position >= len(binding.values):
            raise self.error(f"'{name}' has {_plural(len(binding.values), 'result')}", token)
        return binding.values[position], token

    def undefined_message(self, name: str) -> str:
        if any(name in region.names for region in self.region_stack[:-1]):
            return f"'{name}' is defined outside this region (regions are isolated from above)"
        return f"use of undefined value '{name}'"

    def properties(self, children: list) -> dict[str, Attribute]:
        """properties: "<" attr_dict ">" """
        return children[0]

    # -- regions and blocks --------------------------------------------------

    def regions(self, children: list) -> list[Region]:
        """regions: "(" region ("," region)* ")" """
        return children

    def region_open(self, children: list) -> None:
        """!region_open: "{" """
        self.region_stack.append(_RegionState(children[0]))

    def region(self, children: list) -> Region:
        """region: region_open operation* block* "}" """
        return Region(self.region_stack.pop().blocks)

    def block(self, children: list) -> None:
        """block: block_label operation*"""

    def block_label(self, children: list) -> None:
        """block_label: BLOCK_ID [block_args] ":" """
        token, args = children
        region = self.region_stack[-1]
        if token in region.labels:
            raise self.error(f"redefinition of block '{token}'", token)
        region.labels[str(token)] = token
        block = Block([type_ for _, type_ in args or []])
        region.blocks.append(block)
        for (name, _), arg in zip(args or [], block.args, strict=True):
            self.bind(name, (arg,))

    def block_args(self, children: list) -> list[tuple[Token, Type]]:
        """block_args: "(" [block_arg ("," block_arg)*] ")" """
        return [c for c in children if c is not None]

    def block_arg(self, children: list) -> tuple[Token, Type]:
        """block_arg: VALUE_ID ":" type"""
        token, type_ = children
        self.check_definable(token)
        return token, type_

    # -- types ---------------------------------------------------------------

    def scalar_type(self, children: list) -> Type:
        """scalar_type: BARE_ID"""
        (token,) = children
        type_ = self.scalar(token, token)
        if type_ is None:
            raise self.error(f"unknown type '{_shorten(token)}'", token)
        return type_

    def scalar(self, name: str, token: Token) -> Type | None:
        """The scalar type ``name`` (None if there is none); an ``iN`` too wide is an error."""
        if name in _SCALAR_TYPES:
            return _SCALAR_TYPES[name]
        if _INTEGER_TYPE.fullmatch(name) is None:
            return None
        if len(name) - 1 > 8 or int(name[1:]) > limits.MAX_INTEGER_WIDTH:
            raise self.error(f"integer type '{_shorten(name)}' is wider than the limit of "
                             f"{limits.MAX_INTEGER_WIDTH} bits", token)
        return IntegerType(int(name[1:]))

    def tensor_type(self, children: list) -> TensorType:
        """tensor_type: TENSOR_TYPE"""
        (token,) = children
        type_ = _TENSOR_CACHE.get(token)
        if type_ is None:
            type_ = self.parse_tensor_type(token)
            if len(_TENSOR_CACHE) >= _TENSOR_CACHE_SIZE:  # bounded: texts may be hostile
                _TENSOR_CACHE.clear()
            _TENSOR_CACHE[str(token)] = type_
        return type_

    def parse_tensor_type(self, token: Token) -> TensorType:
        if not token.endswith(">"):
            raise self.error(f"tensor type '{_shorten(token)}' is missing its closing '>'", token)
        body = token[len("tensor<") : -1]
        if body.startswith("*"):
            raise self.error(f"unranked tensor type '{_shorten(token)}' is not supported", token)
        match = _TENSOR_BODY.fullmatch(body)
        if match is None:
            raise self.error(
                f"bad tensor type '{_shorten(token)}': expected dimensions (like '2x?x') and an "
                "element type",
                token,
            )
        element = self.scalar(match[2], token)
        if element is None:
            raise self.error(f"unknown element type '{_shorten(match[2])}' in "
                             f"'{_shorten(token)}'", token)
        shape = self.dimensions(match[1].split("x")[:-1], token)
        elements = math.prod(d for d in shape if d is not None)
        if elements > limits.MAX_ELEMENTS:
            raise self.error(f"'{_shorten(token)}' has {elements} elements, more than the limit "
                             f"of {limits.MAX_ELEMENTS} (2^62 - 1)", token)
        return TensorType(shape, element)

    def dimensions(self, dims: list[str], token: Token) -> tuple[int | None, ...]:
        """The dimensions of a tensor type, each within limits.MAX_DIMENSION."""
        if len(dims) > limits.MAX_RANK:
            raise self.error(f"'{_shorten(token)}' has rank {len(dims)}, more than the limit "
                             f"of {limits.MAX_RANK}", token)
        shape: list[int | None] = []
        column = token.column + len("tensor<")
        for dim in dims:
            size = None if dim == "?" else dim.lstrip("0") or "0"
            if size is not None and (len(size) > 19 or int(size) > limits.MAX_DIMENSION):
                message = (f"dimension {_shorten(dim)} is more than the limit of "
                           f"{limits.MAX_DIMENSION} (2^62 - 1)")
                raise ParseError.at(message, self.filename, self.text, token.line, column)
            shape.append(None if size is None else int(size))
            column += len(dim) + 1
        return tuple(shape)

    def function_type(self, children: list) -> FunctionType:
        """function_type: "(" [type_list] ")" "->" function_results"""
        inputs, results = children
        return FunctionType(inputs or (), results)

    def function_results(self, children: list) -> tuple[Type, ...]:
        """function_results: "(" [type_list] ")" | scalar_type | tensor_type"""
        (result,) = children
        if result is None:
            return ()
        return result if isinstance(result, tuple) else (result,)

    def type_list(self, children: list) -> tuple[Type, ...]:
        """type_list: type ("," type)*"""
        return tuple(children)

    # -- attributes ----------------------------------------------------------

    def attr_dict(self, children: list) -> dict[str, Attribute]:
        """attr_dict: "{" [attr_entry ("," attr_entry)*] "}" """
        entries: dict[str, Attribute] = {}
        for entry in children:
            if entry is None:
                continue
            token, name, value = entry
            if name in entries:
                raise self.error(f"duplicate key '{name}' in attribute dictionary", token)
            entries[name] = value
        return entries

    def attr_entry(self, children: list) -> tuple[Token, str, Attribute]:
        """attr_entry: attr_name ["=" attribute]"""
        token, value = children
        return token, self.decode_name(token), UnitAttr() if value is None else value

    def attr_name(self, children: list) -> Token:
        """attr_name: BARE_ID | STRING"""
        return children[0]

    def number_attr(self, children: list) -> Attribute:
        """number_attr: number [":" type]"""
        token, type_ = children
        if type_ is None:
            if token.type == "FLOAT":
                return FloatAttr(float(token))
            return IntegerAttr(self.int_value(token, i64))
        if isinstance(type_, FloatType):
            return FloatAttr(self.float_value(token, type_), type_)
        if isinstance(type_, IntegerType | IndexType):
            return IntegerAttr(self.int_value(token, type_), type_)
        raise self.error(f"a number cannot have type {type_}", token)

    def string_attr(self, children: list) -> StringAttr:
        """string_attr: STRING"""
        return StringAttr(self.decode_string(children[0]))

    def bool_attr(self, children: list) -> BoolAttr:
        """attribute: BOOL -> bool_attr"""
        return BoolAttr(children[0] == "true")

    def unit_attr(self, children: list) -> UnitAttr:
        """attribute: "unit" -> unit_attr"""
        return UnitAttr()

    def array_attr(self, children: list) -> ArrayAttr:
        """array_attr: "[" [attribute ("," attribute)*] "]" """
        return ArrayAttr(tuple(c for c in children if c is not None))

    def dict_attr(self, children: list) -> DictAttr:
        """dict_attr: attr_dict"""
        return DictAttr(children[0])

    def type_attr(self, children: list) -> TypeAttr:
        """type_attr: type"""
        return TypeAttr(children[0])

    def symbol_attr(self, children: list) -> SymbolRefAttr:
        """symbol_attr: SYMBOL"""
        token = children[0]
        name = token[1:]
        if name.startswith('"'):
            name = self.decode_string(Token.new_borrow_pos("STRING", name, token), offset=1)
        return SymbolRefAttr(name)

    def dense_attr(self, children: list) -> DenseElementsAttr:
        """dense_attr: dense_keyword "<" dense_literal ">" ":" type"""
        keyword, literal, type_ = children
        token = _first_token(literal, keyword)
        type_ = self.static_tensor(type_, "dense", token)
        if isinstance(literal, Token):  # a splat: one element, broadcast (never materialized)
            size = type_.num_elements * type_.dtype.itemsize
            if size > limits.MAX_SPLAT_BYTES:
                raise self.error(f"dense splat of {type_} would span {size} bytes, more than "
                                 f"the limit of {limits.MAX_SPLAT_BYTES} (2^63 - 1)", token)
            value = self.dense_element(literal, type_.element_type)
            return DenseElementsAttr(type_, np.array(value, dtype=type_.dtype))
        if type_.num_elements > limits.MAX_INLINE_ELEMENTS:
            raise self.error(
                f"dense literal of {type_} would hold {type_.num_elements} elements, more than "
                f"the limit of {limits.MAX_INLINE_ELEMENTS} for inline constants (a "
                "dense_resource holds any size)",
                token,
            )
        shape, flat = self.flatten(literal, token, type_.rank)
        if shape != tuple(type_.shape):
            raise self.error(
                f"dense literal has shape {list(shape)} but the type is {type_}", token
            )
        values = [self.dense_element(t, type_.element_type) for t in flat]
        return DenseElementsAttr(type_, np.array(values, dtype=type_.dtype).reshape(shape))

    def dense_keyword(self, children: list) -> Token:
        """!dense_keyword: "dense" """
        return children[0]

    def dense_list(self, children: list) -> list:
        """dense_list: "[" [dense_literal ("," dense_literal)*] "]" """
        return [c for c in children if c is not None]

    def flatten(
        self, literal: list, token: Token, rank: int
    ) -> tuple[tuple[int, ...], list[Token]]:
        """The shape of a nested list literal and its elements in row-major order."""
        if isinstance(literal, Token):
            return (), [literal]
        if rank == 0:  # checked on the way down, so absurd nesting cannot exhaust the stack
            raise self.error("dense literal nests deeper than the rank of its type", token)
        parts = [self.flatten(item, token, rank - 1) for item in literal]
        shapes = {shape for shape, _ in parts}
        if len(shapes) > 1:
            raise self.error("dense literal is not rectangular (its lists differ in shape)", token)
        inner = shapes.pop() if shapes else ()
        return (len(literal), *inner), [t for _, flat in parts for t in flat]

    def dense_resource_attr(self, children: list) -> DenseResourceAttr:
        """dense_resource_attr: "dense_resource" "<" resource_key ">" ":" type"""
        token, type_ = children
        key = self.decode_name(token)
        type_ = self.static_tensor(type_, "dense_resource", token)
        uses = self.resource_types.setdefault(key, [])
        if uses and uses[0][0].element_type != type_.element_type:
            first = uses[0][1]
            raise self.error(
                f"resource '{key}' holds {uses[0][0].element_type} elements (it is used as "
                f"{uses[0][0]} at {first.line}:{first.column}), not {type_.element_type}",
                token,
            )
        uses.append((type_, token))
        resource = self.resources.setdefault(key, Resource(key))
        return DenseResourceAttr(resource, type_)

    def resource_key(self, children: list) -> Token:
        """resource_key: BARE_ID | STRING"""
        return children[0]

    def dense_array_attr(self, children: list) -> DenseArrayAttr:
        """dense_array_attr: array_keyword "<" type [":" dense_scalar ("," dense_scalar)*] ">" """
        keyword, type_, *tokens = children
        if not isinstance(type_, IntegerType | FloatType):
            raise self.error(f"array<...> needs an integer or float element type, not {type_}",
                             keyword)
        return DenseArrayAttr(type_, tuple(self.element(t, type_) for t in tokens if t is not None))

    def array_keyword(self, children: list) -> Token:
        """!array_keyword: "array" """
        return children[0]

    # -- scalars -------------------------------------------------------------

    def element(self, token: Token, type_: Type) -> bool | int | float:
        """One element of a dense or array literal, as a value of ``type_``."""
        if type_ == i1:
            if token.type != "BOOL":
                raise self.error(f"i1 elements are written true or false, not {token}", token)
            return token == "true"
        if token.type == "BOOL":
            raise self.error(f"'{token}' is not a {type_} value", token)
        if isinstance(type_, FloatType):
            return self.float_value(token, type_)
        return self.int_value(token, type_)

    def dense_element(self, token: Token, type_: Type) -> bool | int | float:
        """An element of a numpy-backed dense literal: signless integers wrap to two's
        complement (numpy's int64 cannot hold 2^63, which is a valid i64 spelling)."""
        value = self.element(token, type_)
        if isinstance(type_, IntegerType | IndexType) and type_ != i1:
            width = 64 if isinstance(type_, IndexType) else type_.width
            if value >= 1 << (width - 1):
                value -= 1 << width
        return value

    def int_value(self, token: Token, type_: Type) -> int:
        if token.type == "FLOAT":
            raise self.error(f"float literal {token} cannot have integer type {type_}", token)
        value = int(token, 16) if token.type == "HEX" else int(token)
        width = 64 if isinstance(type_, IndexType) else type_.width
        if not -(1 << (width - 1)) <= value < (1 << width):
            raise self.error(f"integer {token} does not fit in {type_}", token)
        return value

    def float_value(self, token: Token, type_: FloatType) -> float:
        if token.type == "INT":
            raise self.error(
                f"integer literal {token} cannot have float type {type_} (write {token}.0)", token
            )
        if token.type == "HEX":
            try:
                return parse_hex_float(token, type_)
            except ValueError as err:
                raise self.error(str(err), token) from None
        value = float(token)
        limit = {f16: 65504.0, bf16: 3.3895313892515355e38, f32: 3.4028234663852886e38}
        if abs(value) > limit.get(type_, math.inf):
            raise self.error(f"float {token} is out of range for {type_}", token)
        return value

    def static_tensor(self, type_: Type, what: str, token: Token) -> TensorType:
        if not isinstance(type_, TensorType) or not type_.is_static:
            raise self.error(f"{what} needs a static tensor type, not {type_}", token)
        try:
            to_numpy_dtype(type_.element_type)
        except ValueError as err:
            raise self.error(str(err), token) from None
        return type_

    def decode_name(self, token: Token) -> str:
        return self.decode_string(token) if token.type == "STRING" else str(token)

    def decode_string(self, token: Token, offset: int = 0) -> str:
        """The text of a string literal, escapes decoded (``\\XX`` are UTF-8 bytes)."""
        body = token[1:-1]
        if "\\" not in body:
            return body
        out, last = bytearray(), 0
        for match in _ESCAPE.finditer(body):
            hex_digits, char, bad = match.groups()
            if bad is not None:
                column = token.column + offset + 1 + match.start()
                raise ParseError.at(f"unknown escape '\\{bad}' in string", self.filename,
                                    self.text, token.line, column)
            out += body[last : match.start()].encode()
            out += bytes([int(hex_digits, 16)]) if hex_digits else _ESCAPED[char].encode()
            last = match.end()
        out += body[last:].encode()
        try:
            return out.decode()
        except UnicodeDecodeError:
            raise self.error("string is not valid UTF-8", token) from None

    # -- the resource section ------------------------------------------------

    def file_metadata(self, children: list) -> None:
        """file_metadata: "{-#" [metadata_entry ("," metadata_entry)*] "#-}" """

    def metadata_entry(self, children: list) -> None:
        """metadata_entry: metadata_name ":" "{" [resource_dialect ("," resource_dialect)*] "}" """

    def metadata_name(self, children: list) -> None:
        """metadata_name: BARE_ID"""
        (token,) = children
        if token != "dialect_resources":
            raise self.error(f"unsupported file metadata '{token}' (only dialect_resources)",
                             token)

    def resource_dialect(self, children: list) -> None:
        """resource_dialect: resource_dialect_name ":" "{"
        [resource_blob ("," resource_blob)*] "}" """

    def resource_dialect_name(self, children: list) -> None:
        """resource_dialect_name: BARE_ID"""
        (token,) = children
        if token != "builtin":
            raise self.error(f"unknown resource dialect '{token}' (only builtin)", token)

    def resource_blob(self, children: list) -> None:
        """resource_blob: resource_key ":" STRING"""
        key_token, blob = children
        key = self.decode_name(key_token)
        if key in self.blobs:
            first = self.blobs[key]
            raise self.error(
                f"resource '{key}' is defined twice (first at {first.line}:{first.column})",
                key_token,
            )
        self.blobs[key] = key_token
        uses = self.resource_types.get(key)
        if not uses:
            raise self.error(
                f"unknown resource '{key}': no dense_resource attribute uses it", key_token
            )
        data = self.decode_blob(key, blob, uses[0][0])
        for type_, token in uses:
            if data.size != type_.num_elements:
                raise self.error(
                    f"resource '{key}' holds {_plural(data.size, 'element')} but {type_} at "
                    f"{token.line}:{token.column} needs {type_.num_elements}",
                    blob,
                )
        self.resources[key].data = data.reshape(uses[0][0].shape)

    def decode_blob(self, key: str, blob: Token, type_: TensorType) -> np.ndarray:
        """MLIR's blob: "0x", a little-endian uint32 alignment, then the raw data."""
        text = blob[1:-1]
        if not text.startswith("0x"):
            raise self.error(f"blob of resource '{key}' must be a hex string starting 0x", blob)
        try:
            raw = bytes.fromhex(text[2:])
        except ValueError as err:
            found = re.search(r"position (\d+)", str(err))
            column = blob.column + 3 + int(found[1]) if found else blob.column
            raise ParseError.at(f"bad hex digit in blob of resource '{key}'", self.filename,
                                self.text, blob.line, column) from None
        if len(raw) < 4:
            raise self.error(f"blob of resource '{key}' is too short to hold its alignment", blob)
        alignment = int.from_bytes(raw[:4], "little")
        if alignment == 0 or alignment & (alignment - 1):
            raise self.error(
                f"blob of resource '{key}' has alignment {alignment}, not a power of 2", blob
            )
        dtype = type_.dtype.newbyteorder("<")
        if (len(raw) - 4) % dtype.itemsize:
            raise self.error(
                f"blob of resource '{key}' holds {len(raw) - 4} bytes, not a whole number of "
                f"{type_.element_type} elements",
                blob,
            )
        return np.frombuffer(raw, dtype=dtype, offset=4).astype(type_.dtype, copy=False)


_TENSOR_CACHE: dict[str, TensorType] = {}
_TENSOR_CACHE_SIZE = 4096


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _first_token(literal: Token | list, default: Token) -> Token:
    """The first element token of a (nested) dense literal, else ``default``."""
    pending = [literal]
    while pending:
        item = pending.pop()
        if isinstance(item, Token):
            return item
        pending.extend(reversed(item))
    return default


def _suggestion(name: str) -> str:
    close = difflib.get_close_matches(name, [d.name for d in registered_ops()], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- lark and verifier errors as ParseErrors -------------------------------------

_TOKEN_NAMES = {
    "VALUE_ID": "a value (%name)",
    "BLOCK_ID": "a block label (^bb0)",
    "SYMBOL": "a symbol (@name)",
    "STRING": "a string",
    "TENSOR_TYPE": "a tensor type",
    "BARE_ID": "an identifier",
    "FLOAT": "a float",
    "HEX": "a hex number",
    "INT": "an integer",
    "BOOL": "true or false",
    "$END": "the end of input",
}


def _syntax_error(err: UnexpectedInput, builder: _IRBuilder) -> ParseError:
    text, filename = builder.text, builder.filename
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        message = "unterminated string" if char == '"' else f"unexpected character '{char}'"
        return ParseError.at(message, filename, text, err.line, err.column)
    assert isinstance(err, UnexpectedToken)
    token = err.token
    if token.type == "$END":
        open_regions = [r.open_token for r in builder.region_stack if r.open_token is not None]
        if open_regions and "RBRACE" in err.expected:  # the input ends between two ops
            brace = open_regions[-1]
            return ParseError.at("region is never closed (missing '}' before the end)",
                                 filename, text, brace.line, brace.column)
        line, col = end_position(text)
        return ParseError.at(f"unexpected end of input, expected {_expected(err)}",
                             filename, text, line, col)
    if token.type == "BARE_ID" and "STRING" in err.expected:
        message = (f"expected an operation in generic form (\"dialect.op\"(...) : ...), "
                   f"got '{token}' (custom syntax is not supported)")
    else:
        message = f"expected {_expected(err)}, got '{_shorten(token)}'"
    return ParseError.at(message, filename, text, token.line, token.column)


def _expected(err: UnexpectedToken) -> str:
    names = sorted({_describe(name) for name in err.expected})
    if len(names) > 6:
        return "something else"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _describe(terminal: str) -> str:
    if terminal in _TOKEN_NAMES:
        return _TOKEN_NAMES[terminal]
    pattern = _lark().get_terminal(terminal).pattern
    return f"'{pattern.value}'"


def _shorten(token: Token) -> str:
    return token if len(token) <= 40 else token[:37] + "..."


def _verifier_error(err: verifier.VerificationError, text: str, filename: str) -> ParseError:
    location = err.op.location if err.op is not None else None
    if location is None or location.file != filename:
        return ParseError(str(err), filename, 1, 1)
    return ParseError.at(err.detail, filename, text, location.line, location.col)


__all__ = ["ParseError", "parse_module"]
