"""The `func` dialect: functions and their return.

    "func.func"() <{function_type = (tensor<2xf32>) -> tensor<2xf32>, sym_name = "forward"}> ({
    ^bb0(%arg0: tensor<2xf32>):
      "func.return"(%arg0) : (tensor<2xf32>) -> ()
    }) : () -> ()
"""

from __future__ import annotations

from collections.abc import Sequence

from ..attributes import ArrayAttr, DenseArrayAttr, DictAttr, StringAttr, TypeAttr
from ..core import Block, Operation, Region
from ..opdef import TERMINATOR, VerifyError, define, prop
from ..types import FunctionType, Type, i64


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
    _verify_dynamic_dims(op)
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


def _verify_dynamic_dims(op: Operation) -> None:
    """Each input names its run-time sizes (one symbol per ``?``) and each symbol has a range."""
    ranges = dim_ranges(op)
    for name, (low, high) in ranges.items():
        if not 1 <= low <= high:
            raise VerifyError(f"size '{name}' has the range {low}..{high}; it needs "
                              "1 <= min <= max")
    for i, (arg_type, attrs) in enumerate(zip(Func(op).function_type.inputs, _arg_dicts(op),
                                              strict=True)):
        names = attrs.get(DIMS_ATTR)
        if names is None:
            continue
        dynamic = sum(1 for d in getattr(arg_type, "shape", ()) if d is None)
        if len(names) != dynamic or not all(isinstance(n, StringAttr) for n in names):
            raise VerifyError(f"input #{i}: {DIMS_ATTR} must name each of its {dynamic} "
                              "run-time sizes")
        for n in names:
            if n.value not in ranges:
                raise VerifyError(f"input #{i}: size '{n.value}' has no range in {RANGES_ATTR}")


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
    """Record input and output names in ``arg_attrs`` / ``res_attrs`` (other entries stay)."""
    for key, names in (("arg_attrs", inputs), ("res_attrs", outputs)):
        old = op.properties.get(key)
        dicts = [a.as_dict() for a in old] if old is not None and len(old) == len(names) else [
            {} for _ in names]
        op.properties[key] = ArrayAttr(tuple(
            DictAttr({**d, NAME_ATTR: StringAttr(n)}) for d, n in zip(dicts, names, strict=True)))


# -- run-time sizes ---------------------------------------------------------------------------
# A function with `?` dimensions in its inputs names each one by a symbol (the same symbol is the
# same size) and gives every symbol its range:
#
#   "func.func"() <{arg_attrs = [{sparsec.dims = ["batch", "seq"], sparsec.name = "input_ids"}],
#                   function_type = (tensor<?x?xi64>) -> ..., sym_name = "forward"}> ({...})
#       {sparsec.dim_ranges = {batch = array<i64: 1, 32>, seq = array<i64: 1, 512>}} : () -> ()

DIMS_ATTR = "sparsec.dims"
RANGES_ATTR = "sparsec.dim_ranges"


def _arg_dicts(op: Operation) -> list[dict]:
    attrs = op.properties.get("arg_attrs")
    count = len(Func(op).function_type.inputs)
    return [a.as_dict() for a in attrs] if attrs is not None else [{} for _ in range(count)]


def dim_ranges(op: Operation) -> dict[str, tuple[int, int]]:
    """Symbol -> (min, max) of the function's run-time sizes (empty when all are static)."""
    attr = op.attributes.get(RANGES_ATTR)
    if attr is None:
        return {}
    if not isinstance(attr, DictAttr):
        raise VerifyError(f"{RANGES_ATTR} must be a dictionary, got {attr}")
    ranges = {}
    for name, bounds in attr.entries:
        values = tuple(getattr(bounds, "values", ()))
        if len(values) != 2:
            raise VerifyError(f"{RANGES_ATTR}: '{name}' must be array<i64: min, max>")
        ranges[name] = (int(values[0]), int(values[1]))
    return ranges


def input_shapes(op: Operation) -> list[tuple[int | str, ...]]:
    """Each input's shape: static sizes as ints, run-time sizes as their symbol (an unnamed one
    as ``<input>.<axis>``)."""
    shapes = []
    for i, (arg_type, attrs) in enumerate(zip(Func(op).function_type.inputs, _arg_dicts(op),
                                              strict=True)):
        names = iter(n.value for n in attrs.get(DIMS_ATTR, ()))
        shape = getattr(arg_type, "shape", ())
        shapes.append(tuple(d if d is not None else next(names, f"input{i}.{axis}")
                            for axis, d in enumerate(shape)))
    return shapes


def set_dynamic_dims(op: Operation, dims: Sequence[Sequence[str]],
                     ranges: dict[str, tuple[int, int]]) -> None:
    """Name each input's run-time sizes (``dims[i]``: one symbol per ``?``) and record the
    range of every symbol; keeps the inputs' other argument attributes (their names)."""
    arg_dicts = _arg_dicts(op)
    for attrs, names in zip(arg_dicts, dims, strict=True):
        if names:
            attrs[DIMS_ATTR] = ArrayAttr(tuple(StringAttr(n) for n in names))
    op.properties["arg_attrs"] = ArrayAttr(tuple(DictAttr(a) for a in arg_dicts))
    op.attributes[RANGES_ATTR] = DictAttr(
        {name: DenseArrayAttr(i64, (low, high)) for name, (low, high) in ranges.items()})
