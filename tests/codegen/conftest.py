"""Shared helpers for codegen tests: small IR functions built through the IR API, compiled and
compared with the reference interpreter."""

from __future__ import annotations

import os

os.environ.setdefault("TVM_NUM_THREADS", "2")

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from sparsec.codegen.build import Built, build_module, run_built
from sparsec.codegen.target import parse_target
from sparsec.ir.attributes import DenseElementsAttr, DenseResourceAttr, TypeAttr
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects import builtin, func
from sparsec.ir.dialects.sparsec import Constant
from sparsec.ir.interpreter import interpret, random_inputs
from sparsec.ir.opdef import OpDef
from sparsec.ir.types import FunctionType, Type


class Emitter:
    """Appends ops to one block: ``emit(Add, [x, y])`` returns the new op's result."""

    def __init__(self, body) -> None:
        self.body = body

    def __call__(self, opdef: OpDef, operands: Sequence[Value] = (), properties=None,
                 result_types=None) -> Value:
        return self.body.append(opdef.build(list(operands), properties, result_types)).result

    def const(self, values, dtype=np.float32) -> Value:
        """An inline ``dense<...>`` constant."""
        attr = DenseElementsAttr.from_array(np.asarray(values, dtype=dtype))
        return self(Constant, properties={"value": attr})

    def weight(self, key: str, values, dtype=np.float32) -> Value:
        """A resource constant (a weight: a parameter of the compiled ``main``)."""
        attr = DenseResourceAttr.from_array(key, np.asarray(values, dtype=dtype))
        return self(Constant, properties={"value": attr})


def build_ir(input_types: Sequence[Type], build: Callable[..., object]) -> Operation:
    """A module with one function ``forward(inputs) -> build(emit, *args)``."""
    fn = func.func("forward", input_types, [])
    body = func.func_body(fn)
    outputs = build(Emitter(body), *body.args)
    outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    body.append(func.Return.build(outputs, result_types=()))
    fn.properties["function_type"] = TypeAttr(
        FunctionType(tuple(input_types), tuple(v.type for v in outputs)))
    return builtin.module([fn])


@pytest.fixture(scope="session")
def target():
    return parse_target("llvm", num_threads=2)


def check_against_interpreter(module: Operation, target, inputs=None, *, int_high: int = 2,
                              atol: float = 1e-5) -> Built:
    """Build ``module``, run it, and compare every output with the interpreter's."""
    inputs = random_inputs(module, int_high=int_high) if inputs is None else inputs
    expected = interpret(module, inputs)
    built = build_module(module, target)
    actual = run_built(built, inputs)
    assert len(actual) == len(expected)
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert got.shape == want.shape, f"output #{i}: shape {got.shape} vs {want.shape}"
        assert got.dtype == want.dtype, f"output #{i}: dtype {got.dtype} vs {want.dtype}"
        if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
            np.testing.assert_array_equal(got, want, err_msg=f"output #{i}")
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol, err_msg=f"output #{i}")
    return built


@pytest.fixture
def make_module():
    return build_ir


@pytest.fixture
def check(target):
    """``check(module, inputs=None, int_high=2, atol=1e-5)``: compile, run, compare."""
    return lambda module, *args, **kwargs: check_against_interpreter(module, target, *args,
                                                                     **kwargs)
