"""Every registered op: a valid build that verifies, and invalid ones the verifier rejects."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sparsec.ir import Block, Operation, VerificationError, lookup, registered_ops, verify
from sparsec.ir.attributes import (
    BoolAttr,
    DenseElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    Resource,
    StringAttr,
    i64_array,
)
from sparsec.ir.dialects.func import Return, func
from sparsec.ir.types import f32, i1, i32, i64, tensor

F = f32


def t(*shape, elem=F):
    return tensor(shape, elem)


def build(name: str, operand_types, properties=None, result_types=None) -> Operation:
    """A detached op whose operands are fresh block arguments of the given types."""
    args = Block(list(operand_types)).args
    return lookup(name).build(args, properties or {}, result_types)


AXIS1 = {"axis": IntegerAttr(1)}

# name -> (operand types, properties, expected result type, explicit result types or None)
VALID = {
    "sparsec.constant": (
        [], {"value": DenseElementsAttr.from_array(np.ones((2, 3), np.float32))}, t(2, 3), None
    ),
    "sparsec.linear": ([t(2, 5, 8), t(4, 8), t(4)], {}, t(2, 5, 4), None),
    "sparsec.bsr_linear": (
        [t(3, 7), t(2, 2, 3), t(2, elem=i32), t(4, elem=i32), t(5)],
        {"block_shape": i64_array([2, 3]), "dense_shape": i64_array([5, 7])},
        t(3, 5),
        None,
    ),
    "sparsec.matmul": ([t(2, 1, 3, 4), t(5, 4, 6)], {}, t(2, 5, 3, 6), None),
    "sparsec.attention": (
        [t(2, 4, 3, 8), t(2, 4, 5, 8), t(2, 4, 5, 6), t(2, 1, 1, 5, elem=i1)],
        {"scale": FloatAttr(0.5, f32)},
        t(2, 4, 3, 6),
        None,
    ),
    "sparsec.add": ([t(2, 3), t(3)], {}, t(2, 3), None),
    "sparsec.sub": ([t(2, 1), t(1, 3)], {}, t(2, 3), None),
    "sparsec.mul": ([t(2, 3), t(2, 3)], {}, t(2, 3), None),
    "sparsec.div": ([t(2, 3), t(1)], {}, t(2, 3), None),
    "sparsec.pow": ([t(2, 3), t()], {}, t(2, 3), None),
    "sparsec.maximum": ([t(4), t(4)], {}, t(4), None),
    "sparsec.minimum": ([t(4), t(4)], {}, t(4), None),
    "sparsec.and": ([t(4, elem=i1), t(4, elem=i1)], {}, t(4, elem=i1), None),
    "sparsec.or": ([t(4, elem=i1), t(1, elem=i1)], {}, t(4, elem=i1), None),
    "sparsec.cmp": ([t(2, 3), t(3)], {"predicate": StringAttr("lt")}, t(2, 3, elem=i1), None),
    "sparsec.where": ([t(2, 3, elem=i1), t(3), t(2, 1)], {}, t(2, 3), None),
    "sparsec.neg": ([t(3, elem=i64)], {}, t(3, elem=i64), None),
    "sparsec.exp": ([t(3)], {}, t(3), None),
    "sparsec.log": ([t(3)], {}, t(3), None),
    "sparsec.sqrt": ([t(3)], {}, t(3), None),
    "sparsec.rsqrt": ([t(3)], {}, t(3), None),
    "sparsec.tanh": ([t(3)], {}, t(3), None),
    "sparsec.erf": ([t(3)], {}, t(3), None),
    "sparsec.relu": ([t(3)], {}, t(3), None),
    "sparsec.sigmoid": ([t(3)], {}, t(3), None),
    "sparsec.abs": ([t(3)], {}, t(3), None),
    "sparsec.not": ([t(3, elem=i1)], {}, t(3, elem=i1), None),
    "sparsec.gelu": ([t(3)], {"approximate": StringAttr("tanh")}, t(3), None),
    "sparsec.dropout": ([t(3)], {"p": FloatAttr(0.1), "train": BoolAttr(False)}, t(3), None),
    "sparsec.cast": ([t(2, 3)], {}, t(2, 3, elem=i64), [t(2, 3, elem=i64)]),
    "sparsec.softmax": ([t(2, 3)], AXIS1, t(2, 3), None),
    "sparsec.layer_norm": (
        [t(2, 3, 4), t(3, 4), t(3, 4)],
        {"normalized_shape": i64_array([3, 4]), "epsilon": FloatAttr(1e-5)},
        t(2, 3, 4),
        None,
    ),
    "sparsec.embedding": ([t(10, 4), t(2, 3, elem=i64)], {}, t(2, 3, 4), None),
    "sparsec.take": ([t(5, 6), t(2, elem=i64)], AXIS1, t(5, 2), None),
    "sparsec.reshape": ([t(2, 6)], {"shape": i64_array([3, 4])}, t(3, 4), None),
    "sparsec.permute": ([t(2, 3, 4)], {"perm": i64_array([2, 0, 1])}, t(4, 2, 3), None),
    "sparsec.slice": (
        [t(4, 10)],
        {"axis": IntegerAttr(1), "start": IntegerAttr(1), "end": IntegerAttr(20),
         "step": IntegerAttr(3)},
        t(4, 3),
        None,
    ),
    "sparsec.concat": ([t(2, 3), t(2, 5)], AXIS1, t(2, 8), None),
    "sparsec.broadcast_to": ([t(3, 1)], {"shape": i64_array([2, 3, 4])}, t(2, 3, 4), None),
    "sparsec.reduce": (
        [t(2, 3, 4)],
        {"kind": StringAttr("mean"), "axes": i64_array([0, 2]), "keepdim": BoolAttr(True)},
        t(1, 3, 1),
        None,
    ),
    "sparsec.cumsum": ([t(2, 3, elem=i64)], AXIS1, t(2, 3, elem=i64), None),
}


def test_every_sparsec_op_has_a_valid_case_and_a_summary():
    names = {d.name for d in registered_ops() if d.name.startswith("sparsec.")}
    assert names <= set(VALID), f"ops without a valid case: {sorted(names - set(VALID))}"
    for opdef in registered_ops():
        assert opdef.summary, f"'{opdef.name}' has no summary"


def test_every_op_but_cast_infers_its_result_types():
    for opdef in registered_ops():
        if opdef.name.startswith("sparsec.") and opdef.name != "sparsec.cast":
            assert opdef.infer is not None, opdef.name


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_op_builds_and_verifies(name):
    operand_types, properties, expected, result_types = VALID[name]
    op = build(name, operand_types, properties, result_types)
    assert [r.type for r in op.results] == [expected]
    verify(op)


def bad(name, operand_types, properties, result_types, message):
    return pytest.param(name, operand_types, properties, result_types, message, id=message[:40])


B23 = {"block_shape": i64_array([2, 3]), "dense_shape": i64_array([5, 7])}
ELIDED = DenseResourceAttr(Resource("w", None), t(2, 2))
SHORT = DenseResourceAttr(Resource("w", np.zeros(3, np.float32)), t(2, 2))

INVALID = [
    bad("sparsec.add", [t(2, 3), t(4)], {}, [t(2, 3)], "do not broadcast"),
    bad("sparsec.add", [t(2, 3), t(2, 3, elem=i64)], {}, [t(2, 3)], "element types differ"),
    bad("sparsec.add", [t(2, 3)], {}, [t(2, 3)], "expects 2 operands, got 1"),
    bad("sparsec.add", [t(3), t(3)], {"alpha": IntegerAttr(1)}, [t(3)], "unknown properties"),
    bad("sparsec.add", [t(3), t(3)], {}, [t(4)], "differ from the inferred"),
    bad("sparsec.div", [t(3, elem=i64), t(3, elem=i64)], {}, [t(3, elem=i64)], "float element"),
    bad("sparsec.and", [t(3), t(3)], {}, [t(3)], "must have element type i1"),
    bad("sparsec.not", [t(3, elem=i32)], {}, [t(3, elem=i32)], "must have element type i1"),
    bad("sparsec.exp", [t(3, elem=i64)], {}, [t(3, elem=i64)], "must have a float element type"),
    bad("sparsec.cmp", [t(3), t(3)], {"predicate": StringAttr("lte")}, [t(3, elem=i1)],
        "predicate 'lte' is not one of"),
    bad("sparsec.cmp", [t(3), t(3)], {"predicate": IntegerAttr(1)}, [t(3, elem=i1)],
        "property 'predicate' must be StringAttr"),
    bad("sparsec.where", [t(3), t(3), t(3)], {}, [t(3)], "condition must have element type i1"),
    bad("sparsec.gelu", [t(3)], {"approximate": StringAttr("erf")}, [t(3)], "approximate must"),
    bad("sparsec.gelu", [t(3)], {}, [t(3)], "requires property 'approximate'"),
    bad("sparsec.dropout", [t(3)], {"p": FloatAttr(1.5), "train": BoolAttr(False)}, [t(3)],
        "p must be in [0, 1], got 1.5"),
    bad("sparsec.cast", [t(2, 3)], {}, [t(3, 2, elem=i64)], "cast changes the shape"),
    bad("sparsec.cast", [t(2, 3)], {}, [], "expects 1 results, got 0"),
    bad("sparsec.softmax", [t(2, 3)], {"axis": IntegerAttr(2)}, [t(2, 3)],
        "axis 2 is out of range for rank 2"),
    bad("sparsec.softmax", [t(2, 3, elem=i64)], AXIS1, [t(2, 3, elem=i64)], "float element"),
    bad("sparsec.cumsum", [t(2, 3)], {"axis": IntegerAttr(5)}, [t(2, 3)], "axis 5 is out of range"),
    bad("sparsec.reduce", [t(2, 3)],
        {"kind": StringAttr("prod"), "axes": i64_array([1]), "keepdim": BoolAttr(False)},
        [t(2)], "kind 'prod' is not one of sum, mean, max, min"),
    bad("sparsec.reduce", [t(2, 3)],
        {"kind": StringAttr("sum"), "axes": i64_array([1, 1]), "keepdim": BoolAttr(False)},
        [t(2)], "axes [1, 1] are invalid for rank 2"),
    bad("sparsec.linear", [t(2, 8), t(4, 7)], {}, [t(2, 4)], "input features do not match"),
    bad("sparsec.linear", [t(2, 8), t(4, 8), t(5)], {}, [t(2, 4)], "bias tensor<5xf32>"),
    bad("sparsec.linear", [t(2, 8)], {}, [t(2, 4)], "expects 2 to 4 operands, got 1"),
    bad("sparsec.bsr_linear", [t(3, 7), t(2, 2, 2), t(2, elem=i32), t(4, elem=i32)], B23,
        [t(3, 5)], "does not hold 2x3 blocks"),
    bad("sparsec.bsr_linear", [t(3, 7), t(2, 2, 3), t(2, elem=i32), t(3, elem=i32)], B23,
        [t(3, 5)], "indptr length must be block rows + 1: 3 vs 4"),
    bad("sparsec.bsr_linear", [t(3, 7), t(2, 2, 3), t(2, elem=f32), t(4, elem=i32)], B23,
        [t(3, 5)], "indices and indptr must be integer"),
    bad("sparsec.bsr_linear", [t(3, 7), t(10, 2, 3), t(10, elem=i32), t(4, elem=i32)], B23,
        [t(3, 5)], "10 blocks do not fit a 5x7 weight"),
    bad("sparsec.bsr_linear", [t(3, 7), t(2, 2, 3), t(2, elem=i32), t(4, elem=i32), t(6)], B23,
        [t(3, 5)], "bias tensor<6xf32> does not match 5 output features"),
    bad("sparsec.bsr_linear", [t(3, 7), t(2, 2, 3), t(2, elem=i32), t(3, elem=i32)],
        {"block_shape": i64_array([2, 0]), "dense_shape": i64_array([5, 7])}, [t(3, 5)],
        "block_shape must be two positive sizes"),
    bad("sparsec.matmul", [t(3, 4), t(5, 6)], {}, [t(3, 6)], "contracting dimensions differ"),
    bad("sparsec.matmul", [t(4), t(4, 6)], {}, [t(6)], "rank>=2"),
    bad("sparsec.attention", [t(1, 3, 8), t(1, 5, 8), t(1, 5, 6), t(1, 3, 5, elem=i64)],
        {"scale": FloatAttr(1.0)}, [t(1, 3, 6)], "mask must be i1"),
    bad("sparsec.attention", [t(1, 3, 8), t(1, 5, 8), t(1, 5, 6), t(1, 3, 4)],
        {"scale": FloatAttr(1.0)}, [t(1, 3, 6)], "do not broadcast"),
    bad("sparsec.attention", [t(1, 3, 8), t(1, 5, 7), t(1, 5, 6)], {"scale": FloatAttr(1.0)},
        [t(1, 3, 6)], "head sizes differ"),
    bad("sparsec.layer_norm", [t(2, 3)],
        {"normalized_shape": i64_array([2]), "epsilon": FloatAttr(1e-5)}, [t(2, 3)],
        "not the trailing shape"),
    bad("sparsec.layer_norm", [t(2, 3)],
        {"normalized_shape": i64_array([3]), "epsilon": FloatAttr(-1.0)}, [t(2, 3)],
        "epsilon must be >= 0"),
    bad("sparsec.embedding", [t(10, 4), t(3)], {}, [t(3, 4)], "integer ids"),
    bad("sparsec.take", [t(5, 6), t(2)], AXIS1, [t(5, 2)], "indices must be integers"),
    bad("sparsec.reshape", [t(2, 6)], {"shape": i64_array([5, 2])}, [t(5, 2)], "cannot reshape"),
    # 3 * 6148914691236517206 is 2^64 + 2: an int64 product wraps to 2 and matched
    bad("sparsec.reshape", [t(2)], {"shape": i64_array([3, 6148914691236517206])},
        [t(3, 6148914691236517206)], "(2 elements) to [3, 6148914691236517206]"),
    bad("sparsec.permute", [t(2, 3)], {"perm": i64_array([0, 0])}, [t(2, 2)], "not a permutation"),
    bad("sparsec.slice", [t(4)],
        {"axis": IntegerAttr(0), "start": IntegerAttr(3), "end": IntegerAttr(1),
         "step": IntegerAttr(1)}, [t(0)], "must have 0 <= start <= end"),
    bad("sparsec.concat", [t(2, 3), t(3, 3)], AXIS1, [t(2, 6)], "differ in dimension 0"),
    bad("sparsec.concat", [], AXIS1, [t(2)], "at least one operand"),
    bad("sparsec.broadcast_to", [t(3, 2)], {"shape": i64_array([3, 4])}, [t(3, 4)],
        "do not broadcast"),
    bad("sparsec.constant", [], {"value": SHORT}, [t(2, 2)], "holds 3 elements"),
    bad("sparsec.constant", [], {"value": FloatAttr(1.0)}, [t()], "property 'value' must be"),
]


@pytest.mark.parametrize("name, operand_types, properties, result_types, message", INVALID)
def test_invalid_op_is_rejected(name, operand_types, properties, result_types, message):
    op = Operation(name, Block(operand_types).args, result_types, properties)
    with pytest.raises(VerificationError, match=re.escape(message)) as err:
        verify(op)
    assert f"'{name}' op" in str(err.value)


BINARY = ["sparsec.sub", "sparsec.mul", "sparsec.pow", "sparsec.maximum", "sparsec.minimum",
          "sparsec.or"]
TRANSCENDENTAL = ["sparsec.log", "sparsec.sqrt", "sparsec.rsqrt", "sparsec.tanh", "sparsec.erf",
                  "sparsec.sigmoid", "sparsec.gelu"]
UNARY = ["sparsec.neg", "sparsec.relu", "sparsec.abs"]


def test_every_sparsec_op_has_an_invalid_case():
    rejected = {case.values[0] for case in INVALID} | {*BINARY, *TRANSCENDENTAL, *UNARY}
    missing = sorted(set(VALID) - rejected)
    assert not missing, f"ops without an invalid case: {missing}"


@pytest.mark.parametrize("name", BINARY)
def test_binary_ops_reject_shapes_that_do_not_broadcast(name):
    elem = i1 if name == "sparsec.or" else f32
    op = Operation(name, Block([t(2, 3, elem=elem), t(2, elem=elem)]).args, [t(2, 3, elem=elem)])
    with pytest.raises(VerificationError, match="do not broadcast"):
        verify(op)


@pytest.mark.parametrize("name", TRANSCENDENTAL)
def test_transcendental_ops_need_floats(name):
    props = {"approximate": StringAttr("none")} if name == "sparsec.gelu" else {}
    op = Operation(name, Block([t(3, elem=i64)]).args, [t(3, elem=i64)], props)
    with pytest.raises(VerificationError, match="must have a float element type"):
        verify(op)


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_reject_a_changed_result_type(name):
    op = Operation(name, Block([t(3)]).args, [t(4)])
    with pytest.raises(VerificationError, match="differ from the inferred"):
        verify(op)


def test_elided_resource_still_verifies():
    # Inspection dumps elide weights; the IR stays valid, only running it needs the data.
    op = build("sparsec.constant", [], {"value": ELIDED})
    verify(op)
    assert op.result.type == t(2, 2)


def test_error_names_the_function_and_op_position():
    f = func("forward", [t(2, 3)], [t(2, 3)])
    body = f.regions[0].block
    softmax = Operation("sparsec.softmax", [body.args[0]], [t(2, 3)], {"axis": IntegerAttr(7)})
    bad_op = body.append(softmax)
    body.append(Return.build([bad_op.result]))
    with pytest.raises(VerificationError, match=r"^@forward, op #0: 'sparsec.softmax' op axis 7"):
        verify(f)
