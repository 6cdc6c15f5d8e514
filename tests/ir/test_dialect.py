"""Every registered op: a valid build that verifies, and invalid ones the verifier rejects."""

from __future__ import annotations

import re
from pathlib import Path

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
from sparsec.ir.types import f32, i1, i32, i64, index, tensor

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
    "sparsec.dim": ([t(None, 3)], {"axis": IntegerAttr(0)}, index, None),
    "sparsec.arange": ([index], {}, t(None, elem=i64), None),
    "sparsec.index": ([t(4, 5, 6), t(2, 1, elem=i64), t(3, elem=i32)], {}, t(2, 3, 6), None),
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


ELIDED = DenseResourceAttr(Resource("w", None), t(2, 2))

# The invalid cases of every op are IR text: tests/filecheck/dialect/invalid-*.mlir, run with
# `sparsec opt --verify-diagnostics`. Here only what text cannot say.
INVALID_CASES = Path(__file__).parents[1] / "filecheck" / "dialect"
_ANNOTATED_OP = re.compile(r'expected-error\s*@\+1\b.*\n\s*(?:%\S+ = )?"(sparsec\.\w+)"')


def test_every_sparsec_op_has_an_invalid_case():
    text = "\n".join(p.read_text() for p in sorted(INVALID_CASES.glob("invalid*.mlir")))
    rejected = set(_ANNOTATED_OP.findall(text))
    missing = sorted(set(VALID) - rejected)
    assert not missing, f"ops without an invalid case in {INVALID_CASES}: {missing}"


def test_reshape_checks_sizes_without_int64_overflow():
    # 3 * 6148914691236517206 is 2^64 + 2: an int64 product wraps to 2 and matched. The parser
    # refuses such a dimension, so only an op built in Python reaches this check.
    shape = [3, 6148914691236517206]
    op = Operation("sparsec.reshape", Block([t(2)]).args, [t(*shape)], {"shape": i64_array(shape)})
    message = re.escape("(2 elements) to [3, 6148914691236517206]")
    with pytest.raises(VerificationError, match=message):
        verify(op)


def test_constant_resource_must_fill_its_type():
    # In IR text the parser finds a short blob first (tests/ir/test_parse_errors.py).
    short = DenseResourceAttr(Resource("w", np.zeros(3, np.float32)), t(2, 2))
    op = Operation("sparsec.constant", [], [t(2, 2)], {"value": short})
    with pytest.raises(VerificationError, match=r"'sparsec\.constant' op .*holds 3 elements"):
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
