"""Every registered op is complete: a verifier, a meaning in the interpreter, a lowering.

One place says what an op is (its ``OpDef``); this test checks that the tables that give it
meaning elsewhere (``ir/interpreter.py``, ``codegen/lower.py``, ``frontend/aten_ops.py``,
``ir/matchers.py``) agree with the registry, and that ``ir/core.py`` stays registry-free.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from sparsec.ir import interpreter, matchers
from sparsec.ir.core import Block, Operation
from sparsec.ir.dialects.func import Return, func
from sparsec.ir.dialects.sparsec import Neg
from sparsec.ir.opdef import ELEMENTWISE, TERMINATOR, lookup, registered_ops
from sparsec.ir.parser import parse_module
from sparsec.ir.types import f32, tensor

IR_DIR = Path(interpreter.__file__).parent
ALL_OPS = [d.name for d in registered_ops()]

# Ops whose meaning is their body: interpret() finds the function in the module and runs it.
STRUCTURAL = {"builtin.module", "func.func"}


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_with_results_checks_them(name):
    opdef = lookup(name)
    assert opdef.summary, f"'{name}' has no summary"
    if opdef.results:
        assert opdef.infer or opdef.verify, f"'{name}' neither infers nor verifies its results"


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_has_an_interpreter_implementation(name):
    assert name in interpreter.implemented_ops() or name in STRUCTURAL


def test_interpreter_implements_only_registered_ops():
    stale = sorted(set(interpreter.implemented_ops()) - set(ALL_OPS))
    assert not stale, f"implementations of unknown ops: {stale}"


@pytest.fixture(scope="module")
def lower():
    pytest.importorskip("tvm")  # only this part needs TVM
    return importlib.import_module("sparsec.codegen.lower")


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_has_a_lowering_or_says_why_not(lower, name):
    assert name in lower.lowered_ops() or name in lower.LOWERED_ELSEWHERE, (
        f"'{name}' has no lowering in codegen/lower.py and is not in its LOWERED_ELSEWHERE")


def test_lowering_lists_only_registered_ops_once(lower):
    tabled, elsewhere = set(lower.lowered_ops()), set(lower.LOWERED_ELSEWHERE)
    assert not (tabled | elsewhere) - set(ALL_OPS), sorted((tabled | elsewhere) - set(ALL_OPS))
    assert not tabled & elsewhere, f"lowered and listed as lowered elsewhere: {tabled & elsewhere}"
    assert all(reason.strip() for reason in lower.LOWERED_ELSEWHERE.values())


# -- op families: the one list each, and the registry agree ------------------------------------


def _plain_elementwise(operand_names: tuple[str, ...]) -> set[str]:
    """Elementwise ops with these operands and no properties (cast changes the element type)."""
    return {
        d.name for d in registered_ops()
        if ELEMENTWISE in d.traits and not d.properties and d.name != "sparsec.cast"
        and tuple(o.name for o in d.operands) == operand_names
    }


def test_unary_and_binary_lists_are_exactly_those_families():
    assert set(matchers.UNARY_OPS) == _plain_elementwise(("input",))
    assert set(matchers.BINARY_OPS) == _plain_elementwise(("lhs", "rhs"))
    assert len(set(matchers.UNARY_OPS)) == len(matchers.UNARY_OPS)
    assert len(set(matchers.BINARY_OPS)) == len(matchers.BINARY_OPS)


# -- traits live on the definition; the core never asks the registry -------------------------


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):  # nested (function-level) imports too
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_core_does_not_import_the_registry():
    imported = _imported_modules(IR_DIR / "core.py")
    assert not {m for m in imported if "opdef" in m or "dialects" in m or "verifier" in m}


def test_ops_carry_their_definitions_traits():
    text = """
    "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "forward"}> ({
    ^bb0(%arg0: tensor<2xf32>):
      %0 = "sparsec.neg"(%arg0) : (tensor<2xf32>) -> tensor<2xf32>
      "func.return"(%0) : (tensor<2xf32>) -> ()
    }) : () -> ()
    """
    module = parse_module(text)
    for op in module.walk():
        assert op.traits == lookup(op.name).traits, op.name
        assert op.clone().traits == op.traits
    assert Neg.build([Block([tensor((2,), f32)]).args[0]]).traits == Neg.traits


def test_the_terminator_trait_keeps_an_op_last():
    f = func("forward", [tensor((2,), f32)], [tensor((2,), f32)])
    body = f.regions[0].block
    (x,) = body.args
    ret = body.append(Return.build([x]))
    late = body.append(Neg.build([x]))
    assert TERMINATOR in ret.traits and ret.is_terminator
    assert body.ops == [late, ret] and body.terminator is ret
    # An op made without its definition's traits is, to the core, no terminator.
    assert not Operation("func.return", [x]).is_terminator


# -- the frontend emits only complete ops ----------------------------------------------------


# The frontend gives these ops their result type; their verifier checks it.
GIVEN_RESULT_TYPE = {"sparsec.cast": "the target element type is the caller's; the shape is kept"}


def test_ops_the_frontend_emits_are_registered_and_infer_their_types():
    pytest.importorskip("torch")
    aten_ops = importlib.import_module("sparsec.frontend.aten_ops")
    emitted = set()
    for name in ("aten_ops", "translate"):
        source = Path(aten_ops.__file__).with_name(f"{name}.py").read_text()
        tree = ast.parse(source)
        emitted |= {
            node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "sparsec" and node.attr[:1].isupper()
            and not node.attr.isupper()  # constants such as DYNAMIC_SIZE
        }
    assert len(emitted) > 20, f"too few sparsec op definitions found: {sorted(emitted)}"
    for attr in sorted(emitted):
        opdef = getattr(aten_ops.sparsec, attr)
        assert lookup(opdef.name) is opdef, attr
        if opdef.name in GIVEN_RESULT_TYPE:
            assert opdef.verify is not None, opdef.name
        else:
            assert opdef.infer is not None, f"the frontend emits '{opdef.name}', which cannot infer"
