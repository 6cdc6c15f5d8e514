"""Round trips of the IR text form: print -> parse -> print gives the same text.

One case per registered op, one per attribute kind and type, and the syntax
corners (multi-result ops, several regions and blocks, elided resources).
``CASES`` is shared with ``test_xdsl.py``, which feeds the same text to xDSL.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from sparsec.ir import Block, Operation, Region, Value, registered_ops, verify
from sparsec.ir.attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    TypeAttr,
    UnitAttr,
    i64_array,
)
from sparsec.ir.dialects import sparsec as sp
from sparsec.ir.dialects.builtin import module
from sparsec.ir.dialects.func import Func, Return
from sparsec.ir.opdef import OpDef
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.ir.types import (
    FunctionType,
    Type,
    bf16,
    f16,
    f32,
    f64,
    i1,
    i8,
    i32,
    i64,
    index,
    tensor,
)


class Body:
    """Builds the body of ``func.func @f`` op by op, then wraps it in a verified module."""

    def __init__(self, *arg_types: Type):
        self.block = Block(arg_types)
        self.args = self.block.args

    def __call__(
        self,
        opdef: OpDef,
        *operands: Value,
        result_types: list[Type] | None = None,
        **properties: Attribute,
    ) -> Value:
        op = opdef.build(list(operands), properties, result_types)
        self.block.append(op)
        return op.results[0]

    def constant(self, array: np.ndarray, key: str | None = None) -> Value:
        if key is None:
            return self(sp.Constant, value=DenseElementsAttr.from_array(array))
        return self(sp.Constant, value=DenseResourceAttr.from_array(key, array))

    def module(self, *returned: Value) -> Operation:
        self.block.append(Return.build(list(returned), result_types=()))
        ftype = FunctionType(tuple(a.type for a in self.args), tuple(v.type for v in returned))
        props = {"sym_name": StringAttr("f"), "function_type": TypeAttr(ftype)}
        func = Func.build(properties=props, regions=[Region([self.block])], result_types=())
        result = module([func])
        verify(result)
        return result


T = tensor((2, 4))
B = tensor((2, 4), i1)
RNG = np.random.default_rng(0)


def unary(opdef: OpDef, type_: Type = T, **properties: Attribute) -> Callable[[], Operation]:
    def make() -> Operation:
        body = Body(type_)
        return body.module(body(opdef, body.args[0], **properties))

    return make


def binary(opdef: OpDef, type_: Type = T, rhs: Type | None = None) -> Callable[[], Operation]:
    """``opdef`` on a [2, 4] and a broadcast [4] operand."""

    def make() -> Operation:
        body = Body(type_, rhs or tensor((4,), type_.element_type))
        return body.module(body(opdef, *body.args))

    return make


def _linear() -> Operation:
    body = Body(tensor((2, 8)))
    weight = body.constant(RNG.standard_normal((4, 8)).astype(np.float32), "fc.weight")
    bias = body.constant(np.array([0.5, -1.0, 0.0, 2.0], np.float32))
    return body.module(body(sp.Linear, body.args[0], weight, bias))


def _bsr_linear() -> Operation:
    body = Body(tensor((2, 8)))
    data = body.constant(RNG.standard_normal((3, 2, 4)).astype(np.float32), "bsr.data")
    indices = body.constant(np.array([0, 1, 1], np.int32))
    indptr = body.constant(np.array([0, 2, 3], np.int32))
    shapes = {"block_shape": i64_array([2, 4]), "dense_shape": i64_array([4, 8])}
    return body.module(body(sp.BsrLinear, body.args[0], data, indices, indptr, **shapes))


def _matmul() -> Operation:
    body = Body(tensor((2, 3, 4)), tensor((4, 5)))
    return body.module(body(sp.Matmul, *body.args))


def _attention() -> Operation:
    qkv = tensor((1, 2, 4, 8))
    body = Body(qkv, qkv, qkv, tensor((1, 1, 1, 4)))
    scale = FloatAttr(1 / math.sqrt(8), f32)
    return body.module(body(sp.Attention, *body.args, scale=scale))


def _compare() -> Operation:
    body = Body(T, T)
    return body.module(body(sp.Compare, *body.args, predicate=StringAttr("lt")))


def _where() -> Operation:
    body = Body(B, T, tensor((4,)))
    return body.module(body(sp.Where, *body.args))


def _cast() -> Operation:
    body = Body(T)
    return body.module(body(sp.Cast, body.args[0], result_types=[tensor((2, 4), f16)]))


def _layer_norm() -> Operation:
    body = Body(tensor((2, 3, 4)), tensor((4,)), tensor((4,)))
    props = {"normalized_shape": i64_array([4]), "epsilon": FloatAttr(1e-12, f32)}
    return body.module(body(sp.LayerNorm, *body.args, **props))


def _embedding() -> Operation:
    body = Body(tensor((2, 3), i64))
    table = body.constant(RNG.standard_normal((10, 4)).astype(np.float32), "embeddings.word")
    return body.module(body(sp.Embedding, table, body.args[0]))


def _take() -> Operation:
    body = Body(tensor((5, 4)), tensor((2,), i32))
    return body.module(body(sp.Take, *body.args, axis=IntegerAttr(0)))


def _slice() -> Operation:
    body = Body(tensor((2, 10)))
    props = {k: IntegerAttr(v) for k, v in dict(axis=1, start=1, end=9, step=3).items()}
    return body.module(body(sp.Slice, body.args[0], **props))


def _concat() -> Operation:
    body = Body(tensor((2, 4)), tensor((3, 4)))
    return body.module(body(sp.Concat, *body.args, axis=IntegerAttr(0)))


def _reduce() -> Operation:
    body = Body(tensor((2, 3, 4)))
    props = {"kind": StringAttr("mean"), "axes": i64_array([2]), "keepdim": BoolAttr(True)}
    return body.module(body(sp.Reduce, body.args[0], **props))


def _dynamic_sizes() -> Operation:
    """Run-time sizes: dim, arange, index, and reshape / broadcast_to / slice taking sizes."""
    body = Body(tensor((None, None, 8)), tensor((None, None), i1))
    x, mask = body.args
    b, s = (body(sp.Dim, x, axis=IntegerAttr(a)) for a in (0, 1))
    heads = body(sp.Reshape, x, b, s, shape=i64_array([-1, -1, 2, 4]))
    rows = body(sp.Reshape, body(sp.Arange, b), b, shape=i64_array([-1, 1]))
    keys = body(sp.Reshape, body(sp.Arange, s), s, shape=i64_array([1, -1]))
    gathered = body(sp.Index, mask, rows, keys)
    wide = body(sp.BroadcastTo, gathered, b, s, shape=i64_array([-1, 3, -1]))
    positions = body.constant(np.arange(16, dtype=np.int64).reshape(1, 16))
    ends = {k: IntegerAttr(v) for k, v in dict(axis=1, start=0, end=-1, step=1).items()}
    return body.module(heads, wide, body(sp.Slice, positions, s, **ends))


OP_CASES: dict[str, Callable[[], Operation]] = {
    "dynamic_sizes": _dynamic_sizes,
    "abs": unary(sp.Abs),
    "neg": unary(sp.Neg),
    "exp": unary(sp.Exp),
    "log": unary(sp.Log),
    "sqrt": unary(sp.Sqrt),
    "rsqrt": unary(sp.Rsqrt),
    "tanh": unary(sp.Tanh),
    "erf": unary(sp.Erf),
    "relu": unary(sp.Relu),
    "sigmoid": unary(sp.Sigmoid),
    "not": unary(sp.LogicalNot, B),
    "gelu": unary(sp.Gelu, approximate=StringAttr("tanh")),
    "dropout": unary(sp.Dropout, p=FloatAttr(0.1, f32), train=BoolAttr(False)),
    "softmax": unary(sp.Softmax, tensor((2, 3, 4)), axis=IntegerAttr(2)),
    "cumsum": unary(sp.Cumsum, tensor((2, 4), i64), axis=IntegerAttr(1)),
    "reshape": unary(sp.Reshape, shape=i64_array([4, 2])),
    "permute": unary(sp.Permute, tensor((2, 3, 4)), perm=i64_array([0, 2, 1])),
    "broadcast_to": unary(sp.BroadcastTo, tensor((1, 4)), shape=i64_array([3, 2, 4])),
    "add": binary(sp.Add),
    "sub": binary(sp.Sub),
    "mul": binary(sp.Mul),
    "div": binary(sp.Div),
    "pow": binary(sp.Pow),
    "maximum": binary(sp.Maximum),
    "minimum": binary(sp.Minimum),
    "and": binary(sp.LogicalAnd, B),
    "or": binary(sp.LogicalOr, B, B),
    "cmp": _compare,
    "where": _where,
    "cast": _cast,
    "linear": _linear,
    "bsr_linear": _bsr_linear,
    "matmul": _matmul,
    "attention": _attention,
    "layer_norm": _layer_norm,
    "embedding": _embedding,
    "take": _take,
    "slice": _slice,
    "concat": _concat,
    "reduce": _reduce,
}


# -- attributes and types ---------------------------------------------------------


def annotated(**attributes: Attribute) -> Operation:
    """A relu carrying ``attributes`` as discardable attributes (printed ``{...}``)."""
    body = Body(T)
    result = body(sp.Relu, body.args[0])
    result.op.attributes.update(attributes)
    return body.module(result)


def dense(array: np.ndarray) -> DenseElementsAttr:
    return DenseElementsAttr.from_array(np.asarray(array))


ATTRIBUTE_CASES: dict[str, Callable[[], Operation]] = {
    "integers": lambda: annotated(
        plain=IntegerAttr(3), i32=IntegerAttr(-7, i32), i8=IntegerAttr(255, i8),
        idx=IntegerAttr(12, index), i1=IntegerAttr(1, i1), big=IntegerAttr(-(2**63)),
    ),
    "floats": lambda: annotated(
        eps=FloatAttr(1e-05, f32), f64=FloatAttr(0.1), neg_zero=FloatAttr(-0.0, f32),
        big=FloatAttr(1.5e300), half=FloatAttr(0.5, f16), brain=FloatAttr(2.0, bf16),
        tiny=FloatAttr(5e-324),
    ),
    "special_floats": lambda: annotated(
        inf=FloatAttr(math.inf, f32), ninf=FloatAttr(-math.inf), nan=FloatAttr(math.nan, f32),
        hinf=FloatAttr(math.inf, f16), binf=FloatAttr(-math.inf, bf16),
    ),
    "strings": lambda: annotated(
        plain=StringAttr("forward"), empty=StringAttr(""),
        escapes=StringAttr('say "hi"\\ \n\tand \x01\x7f'), unicode=StringAttr("héllo → ∞"),
        **{"quoted key": StringAttr("needs quotes"), "$odd.key": IntegerAttr(1)},
    ),
    "bools_and_units": lambda: annotated(yes=BoolAttr(True), no=BoolAttr(False), flag=UnitAttr()),
    "arrays": lambda: annotated(
        empty=ArrayAttr(()),
        mixed=ArrayAttr(
            (IntegerAttr(1), StringAttr("a"), UnitAttr(), ArrayAttr((BoolAttr(True),)))
        ),
    ),
    "dicts": lambda: annotated(
        empty=DictAttr({}),
        nested=DictAttr({"b": IntegerAttr(2), "a": DictAttr({"flag": UnitAttr()})}),
    ),
    "dense_arrays": lambda: annotated(
        i64=i64_array([1, -2, 3]), i32=DenseArrayAttr(i32, (7,)), empty=DenseArrayAttr(i64, ()),
        f32=DenseArrayAttr(f32, (1.0, -0.5, 1e-05)), i1=DenseArrayAttr(i1, (True, False)),
        f64=DenseArrayAttr(f64, (2.5, -1e300)),
    ),
    "dense_array_specials": lambda: annotated(
        f64=DenseArrayAttr(f64, (math.inf, 2.5)), f32=DenseArrayAttr(f32, (math.nan,)),
    ),
    "dense_elements": lambda: annotated(
        splat=dense(np.full((2, 3), 0.25, np.float32)),
        nested=dense(np.arange(6, dtype=np.int64).reshape(2, 3)),
        bools=dense(np.array([[True, False], [False, True]])),
        bool_splat=dense(np.ones((3,), bool)),
        rank0=dense(np.float32(3.5)),
        int8=dense(np.array([-128, 0, 127], np.int8)),
        half=dense(np.array([0.5, 65504.0, np.inf], np.float16)),
        f64=dense(np.array([np.nan, -np.inf, 1e-300])),
        one=dense(np.array([7], np.int32)),
        empty=dense(np.zeros((0,), np.float32)),
        empty_rows=dense(np.zeros((2, 0), np.float32)),
    ),
    "types": lambda: annotated(
        tensor=TypeAttr(tensor((1, 128, 768))), dynamic=TypeAttr(tensor((None, 768))),
        rank0=TypeAttr(tensor((), f32)), scalar=TypeAttr(bf16), idx=TypeAttr(tensor((4,), index)),
        fn=TypeAttr(FunctionType((T, i32), (T,))), fn2=TypeAttr(FunctionType((), (f16, i8))),
        fn0=TypeAttr(FunctionType((), ())),
        fn_of_fn=TypeAttr(FunctionType((FunctionType((i1,), (i1,)),), (FunctionType((), (i1,)),))),
    ),
    "symbols": lambda: annotated(callee=SymbolRefAttr("forward"), odd=SymbolRefAttr("has space")),
}


def _all_types() -> Operation:
    """A function whose arguments are every type kind, returned as they are."""
    types = [i1, i8, i32, i64, f16, bf16, f32, f64, index, tensor((1, 128, 768)),
             tensor((None, 768)), tensor((), f32), tensor((2, None, 3), i1)]
    body = Body(*types)
    return body.module(*body.args)


def _resources() -> Operation:
    """Weights of every dtype, one shared by two constants (one blob, one Resource)."""
    body = Body(tensor((2, 8)))
    weight = RNG.standard_normal((4, 8)).astype(np.float32)
    weight[0, 0] = np.float32(np.nan)  # bit-exact, whatever the payload
    first = body.constant(weight, "encoder.layer.0.weight")
    shared = DenseResourceAttr(first.op.properties["value"].resource, tensor((4, 8)))
    second = body(sp.Constant, value=shared)
    arrays = {
        "w_f64": RNG.standard_normal(5), "w_f16": RNG.standard_normal(3).astype(np.float16),
        "w_i64": np.array([1, -1, 2**40]), "w_i32": np.array([3, 4], np.int32),
        "w_i8": np.array([-5, 5], np.int8), "w_bool": np.array([True, False, True]),
        "rank0": np.array(1.5, np.float32),
    }
    for key, array in arrays.items():
        body.constant(array, key)
    x = body.args[0]
    return body.module(body(sp.Add, body(sp.Linear, x, first), body(sp.Linear, x, second)))


SYNTAX_CASES: dict[str, Callable[[], Operation]] = {
    "empty_module": lambda: module(),
    "all_types": _all_types,
    "resources": _resources,
}

CASES = {**OP_CASES, **ATTRIBUTE_CASES, **SYNTAX_CASES}


def round_trip(text: str, *, verify: bool = True) -> str:
    return print_op(parse_module(text, "case.mlir", verify=verify))


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip(name: str) -> None:
    text = print_op(CASES[name]())
    assert round_trip(text) == text


def test_every_registered_op_has_a_case() -> None:
    covered = {op.name for make in CASES.values() for op in make().walk()}
    missing = sorted(d.name for d in registered_ops() if d.name not in covered)
    assert not missing, f"add round-trip cases for {missing}"


def test_printed_form() -> None:
    text = print_op(OP_CASES["linear"]())
    lines = text.splitlines()
    assert lines[0] == '"builtin.module"() ({'
    assert lines[1] == (
        '  "func.func"() <{function_type = (tensor<2x8xf32>) -> tensor<2x4xf32>, '
        'sym_name = "f"}> ({'
    )
    assert lines[2] == "  ^bb0(%arg0: tensor<2x8xf32>):"
    assert lines[3] == (
        '    %0 = "sparsec.constant"() <{value = dense_resource<fc.weight> : '
        "tensor<4x8xf32>}> : () -> tensor<4x8xf32>"
    )
    assert lines[4] == (
        '    %1 = "sparsec.constant"() <{value = dense<[0.5, -1.0, 0.0, 2.0]> : '
        "tensor<4xf32>}> : () -> tensor<4xf32>"
    )
    assert lines[5] == (
        '    %2 = "sparsec.linear"(%arg0, %0, %1) : (tensor<2x8xf32>, tensor<4x8xf32>, '
        "tensor<4xf32>) -> tensor<2x4xf32>"
    )
    assert lines[6:10] == [
        '    "func.return"(%2) : (tensor<2x4xf32>) -> ()',
        "  }) : () -> ()",
        "}) : () -> ()",
        "{-#",
    ]
    assert lines[10:12] == ["  dialect_resources: {", "    builtin: {"]
    assert lines[12].startswith('      fc.weight: "0x04000000')
    assert lines[13:] == ["    }", "  }", "#-}"]


def test_resources_round_trip_bit_for_bit() -> None:
    original = _resources()
    parsed = parse_module(print_op(original))
    before = {a.key: a for a in _resource_attrs(original)}
    after = _resource_attrs(parsed)
    assert {a.key for a in after} == set(before)
    for attr in after:
        expected = before[attr.key].array
        assert attr.array.dtype == expected.dtype
        assert attr.array.shape == expected.shape
        assert attr.array.tobytes() == expected.tobytes()
    shared = [a for a in after if a.key == "encoder.layer.0.weight"]
    assert len(shared) == 2 and shared[0].resource is shared[1].resource


def test_elided_resources_have_no_data() -> None:
    elided = print_op(_resources(), elide_resources=True)
    assert "{-#" not in elided and "dense_resource<w_f64> : tensor<5xf64>" in elided
    parsed = parse_module(elided)
    assert all(a.resource.data is None for a in _resource_attrs(parsed))
    assert print_op(parsed) == elided


def _resource_attrs(op: Operation) -> list[DenseResourceAttr]:
    values = [v for o in op.walk() for v in o.properties.values()]
    return [v for v in values if isinstance(v, DenseResourceAttr)]


# -- syntax corners ---------------------------------------------------------------


def test_multi_result_ops() -> None:
    """`%0:2 = ...` binds one name; its results are used as `%0#0` and `%0#1`."""
    block = Block([T])
    pair = Operation("sparsec.add", [block.args[0], block.args[0]], [T, T])
    block.append(pair)
    block.append(Operation("sparsec.sub", [pair.results[1], pair.results[0]], [T]))
    text = print_op(Operation("builtin.module", regions=[Region([block])]))
    assert '%0:2 = "sparsec.add"(%arg0, %arg0) : (tensor<2x4xf32>, tensor<2x4xf32>) -> ' \
           "(tensor<2x4xf32>, tensor<2x4xf32>)" in text
    assert '"sparsec.sub"(%0#1, %0#0)' in text
    assert round_trip(text, verify=False) == text


def test_several_regions_and_blocks() -> None:
    first, second = Block([T]), Block()
    second.append(Operation("sparsec.relu", [second.add_argument(B)], [B]))
    regions = [Region([first, second]), Region(), Region([Block()])]
    text = print_op(Operation("builtin.module", regions=regions))
    assert text.splitlines() == [
        '"builtin.module"() ({',
        "^bb0(%arg0: tensor<2x4xf32>):",
        "^bb1(%arg1: tensor<2x4xi1>):",
        '  %0 = "sparsec.relu"(%arg1) : (tensor<2x4xi1>) -> tensor<2x4xi1>',
        "}, {",
        "}, {",
        "^bb0:",
        "}) : () -> ()",
    ]
    assert round_trip(text, verify=False) == text


def test_any_value_names_and_comments() -> None:
    text = """// a comment before everything
"builtin.module"() ({  // trailing comment
  "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "g"}> ({
  ^entry(%x: tensor<2xf32>):
    %foo_1 = "sparsec.relu"(%x) : (tensor<2xf32>) -> tensor<2xf32>
    %12 = "sparsec.neg"(%foo_1) : (tensor<2xf32>) -> tensor<2xf32>
    %a.b$-c = "sparsec.add"(%12, %foo_1) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    "func.return"(%a.b$-c) : (tensor<2xf32>) -> ()
  }) : () -> ()
}) : () -> ()
"""
    printed = print_op(parse_module(text))
    assert '%2 = "sparsec.add"(%1, %0)' in printed
    assert '"func.return"(%2)' in printed


def test_top_level_ops_are_wrapped_in_a_module() -> None:
    """As in MLIR, ops at the top level that are not one module get an implicit one."""
    func_text = print_op(OP_CASES["relu"]()).splitlines()[1:-1]
    text = "\n".join(line[2:] for line in func_text)
    parsed = parse_module(text, "bare.mlir")
    assert parsed.name == "builtin.module"
    assert print_op(parsed) == print_op(OP_CASES["relu"]())
    assert parsed.location is not None and str(parsed.location) == "bare.mlir:1:1"


def test_locations_point_at_each_op() -> None:
    parsed = parse_module(print_op(OP_CASES["linear"]()), "lin.mlir")
    linear = next(op for op in parsed.walk() if op.name == "sparsec.linear")
    assert str(linear.location) == "lin.mlir:6:5"
    assert str(parsed.location) == "lin.mlir:1:1"
