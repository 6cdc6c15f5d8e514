"""The `builtin` dialect: the module that holds everything else.

    "builtin.module"() ({
      "func.func"() <{...}> ({ ... }) : () -> ()
    }) : () -> ()
"""

from __future__ import annotations

from ..attributes import StringAttr
from ..core import Block, Operation, Region
from ..opdef import define, prop

Module = define(
    "builtin.module",
    "Top-level container of functions.",
    results=(),
    properties={"sym_name": prop(StringAttr, optional=True)},
    regions=1,
)


def module(ops: list[Operation] | None = None) -> Operation:
    """A new empty module (with ``ops`` appended to its body)."""
    body = Block()
    for op in ops or []:
        body.append(op)
    return Module.build(regions=[Region([body])], result_types=())


def module_body(op: Operation) -> Block:
    return op.regions[0].block
