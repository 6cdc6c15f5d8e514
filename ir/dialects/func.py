"""The `func` dialect: functions and their return.

    "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "forward"}> ({
    ^bb0(%arg0: tensor<2xf32>):
      "func.return"(%arg0) : (tensor<2xf32>) -> ()
    }) : () -> ()
"""

from __future__ import annotations

from collections.abc import Sequence

from ..attributes import ArrayAttr, DictAttr, StringAttr, TypeAttr
from ..core import Block, Operation, Region
from ..opdef import TERMINATOR, VerifyError, define, prop
from ..types import FunctionType, Type


def _verify_func(op: Operation) -> None:
    ftype = Func(op).function_type
    if not isinstance(ftype, FunctionType):
        raise VerifyError(f"function_type must be a function type, got {ftype}")
    body = op.regions[0].block
    arg_types = tuple(a.type for a in body.args)
    if arg_types != ftype.inputs:
        raise VerifyError(
            f"entry block arguments ({', '.join(map(str, arg_types))}) do not match "
            f"the function inputs ({', '.join(map(str, ftype.inputs))})"
        )
    _verify_per_value_attrs(op, "arg_attrs", len(ftype.inputs), "input")
    _verify_per_value_attrs(op, "res_attrs", len(ftype.results), "result")
    ret = body.terminator
    if ret is None or ret.name != "func.return":
        raise VerifyError("function body must end with 'func.return'")
    returned = tuple(v.type for v in ret.operands)
    if returned != ftype.results:
        raise VerifyError(
            f"'func.return' returns ({', '.join(map(str, returned))}) but the function "
            f"type promises ({', '.join(map(str, ftype.results))})"
        )


def _verify_per_value_attrs(op: Operation, key: str, count: int, what: str) -> None:
    attrs = op.properties.get(key)
    if attrs is None:
        return
    if len(attrs) != count or not all(isinstance(a, DictAttr) for a in attrs):
        raise VerifyError(f"{key} must hold one dictionary per {what} ({count})")


Func = define(
    "func.func",
    "A function: one region whose entry block arguments are its inputs.",
    results=(),
    properties={
        "sym_name": prop(StringAttr),
        "function_type": prop(TypeAttr),
        "sym_visibility": prop(StringAttr, optional=True),
        # MLIR's per-argument / per-result attribute dicts; sparsec keeps names there.
        "arg_attrs": prop(ArrayAttr, optional=True),
        "res_attrs": prop(ArrayAttr, optional=True),
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
    return Func(op).sym_name


NAME_ATTR = "sparsec.name"


def _names(op: Operation, key: str, count: int, prefix: str) -> list[str]:
    attrs = op.properties.get(key)
    names = []
    for i in range(count):
        entry = attrs[i].as_dict().get(NAME_ATTR) if attrs is not None else None
        names.append(entry.value if isinstance(entry, StringAttr) else f"{prefix}{i}")
    return names


def arg_names(op: Operation) -> list[str]:
    """The function's input names (``arg_attrs`` ``sparsec.name``), else input0, input1, ..."""
    return _names(op, "arg_attrs", len(Func(op).function_type.inputs), "input")


def result_names(op: Operation) -> list[str]:
    """The function's output names (``res_attrs`` ``sparsec.name``), else output0, ..."""
    return _names(op, "res_attrs", len(Func(op).function_type.results), "output")


def set_names(op: Operation, inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """Record input and output names in ``arg_attrs`` / ``res_attrs``."""
    for key, names in (("arg_attrs", inputs), ("res_attrs", outputs)):
        op.properties[key] = ArrayAttr(tuple(DictAttr({NAME_ATTR: StringAttr(n)}) for n in names))
