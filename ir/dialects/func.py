"""The `func` dialect: functions and their return.

    "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "forward"}> ({
    ^bb0(%arg0: tensor<2xf32>):
      "func.return"(%arg0) : (tensor<2xf32>) -> ()
    }) : () -> ()
"""

from __future__ import annotations

from collections.abc import Sequence

from ..attributes import StringAttr, TypeAttr
from ..core import Block, Operation, Region
from ..opdef import TERMINATOR, VerifyError, define, prop
from ..types import FunctionType, Type


def _verify_func(op: Operation) -> None:
    ftype = op.properties["function_type"]
    if not isinstance(ftype.value, FunctionType):
        raise VerifyError(f"function_type must be a function type, got {ftype.value}")
    body = op.regions[0].block
    arg_types = tuple(a.type for a in body.args)
    if arg_types != ftype.value.inputs:
        raise VerifyError(
            f"entry block arguments ({', '.join(map(str, arg_types))}) do not match "
            f"the function inputs ({', '.join(map(str, ftype.value.inputs))})"
        )
    ret = body.terminator
    if ret is None or ret.name != "func.return":
        raise VerifyError("function body must end with 'func.return'")
    returned = tuple(v.type for v in ret.operands)
    if returned != ftype.value.results:
        raise VerifyError(
            f"'func.return' returns ({', '.join(map(str, returned))}) but the function "
            f"type promises ({', '.join(map(str, ftype.value.results))})"
        )


Func = define(
    "func.func",
    "A function: one region whose entry block arguments are its inputs.",
    results=(),
    properties={
        "sym_name": prop(StringAttr),
        "function_type": prop(TypeAttr),
        "sym_visibility": prop(StringAttr, optional=True),
    },
    regions=1,
    verify=_verify_func,
)

Return = define(
    "func.return",
    "Returns its operands from the enclosing function.",
    operands=("operands*",),
    results=(),
    traits=(TERMINATOR,),
)


def func(name: str, inputs: Sequence[Type], outputs: Sequence[Type]) -> Operation:
    """A new function with an empty body whose block arguments are ``inputs``."""
    ftype = FunctionType(tuple(inputs), tuple(outputs))
    props = {"sym_name": StringAttr(name), "function_type": TypeAttr(ftype)}
    return Func.build(properties=props, regions=[Region([Block(inputs)])], result_types=())


def func_body(op: Operation) -> Block:
    return op.regions[0].block


def func_name(op: Operation) -> str:
    return op.properties["sym_name"].value
