"""Fixtures for pass tests: build small `forward` functions through the IR API."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from sparsec.ir.attributes import DenseElementsAttr, TypeAttr
from sparsec.ir.core import Operation, Value
from sparsec.ir.dialects import builtin, func
from sparsec.ir.dialects.sparsec import Constant
from sparsec.ir.opdef import OpDef
from sparsec.ir.types import FunctionType, Type


class Emitter:
    """Appends ops to one block: ``emit(Add, [x, y])`` returns the new op's result."""

    def __init__(self, body) -> None:
        self.body = body

    def __call__(self, opdef: OpDef, operands: Sequence[Value] = (), properties=None,
                 result_types=None) -> Value:
        op = self.body.append(opdef.build(list(operands), properties, result_types))
        return op.result

    def const(self, values, dtype=np.float32) -> Value:
        """An inline constant holding ``values``."""
        attr = DenseElementsAttr.from_array(np.asarray(values, dtype=dtype))
        return self(Constant, properties={"value": attr})


def build_module(input_types: Sequence[Type], build: Callable[..., object]) -> Operation:
    """A module with one function `forward(inputs) -> build(emit, *args)`."""
    fn = func.func("forward", input_types, [])
    body = func.func_body(fn)
    outputs = build(Emitter(body), *body.args)
    outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    body.append(func.Return.build(outputs, result_types=()))
    ftype = FunctionType(tuple(input_types), tuple(v.type for v in outputs))
    fn.properties["function_type"] = TypeAttr(ftype)
    return builtin.module([fn])


def forward_ops(module: Operation) -> list[Operation]:
    """The ops of `forward`, in block order."""
    return func.func_body(builtin.module_body(module).ops[0]).ops


@pytest.fixture
def make_module():
    return build_module


@pytest.fixture
def body_ops():
    return forward_ops
