"""The verifier: SSA form, then every op against its definition.

Errors name the op and where it is (its source location when it was parsed,
else its position in the function), so a bad pass is easy to find.
"""

from __future__ import annotations

from .core import Block, IRError, Operation
from .diagnostics import VerificationError
from .opdef import OpDef, lookup


def verify(op: Operation) -> None:
    """Check ``op`` and everything nested in it; raise ``VerificationError``."""
    _verify_op(op)
    for region in op.regions:
        for block in region.blocks:
            _verify_block(block)


def _where(op: Operation) -> str:
    if op.location is not None:
        return f"{op.location}: "
    block = op.parent
    if block is not None and block.parent_op is not None:
        owner = block.parent_op
        name = owner.properties.get("sym_name")
        index = block.ops.index(op)
        return f"{'@' + name.value if name else owner.name}, op #{index}: "
    return ""


def _fail(op: Operation, message: str) -> VerificationError:
    detail = f"'{op.name}' op {message}"
    return VerificationError(f"{_where(op)}{detail}", op, detail)


def _verify_block(block: Block) -> None:
    try:
        ops = block.ops  # a cycle (use before definition) fails here
    except IRError as err:
        raise VerificationError(str(err)) from None
    for op in ops:
        for i, value in enumerate(op.operands):
            if value.block is not block:
                raise _fail(op, f"operand #{i} is defined outside its block")
        if _is_terminator(op) and op is not ops[-1]:
            raise _fail(op, "is a terminator but is not last in its block")
        verify(op)


def _is_terminator(op: Operation) -> bool:
    opdef = lookup(op.name)
    return opdef is not None and "terminator" in opdef.traits


def _verify_op(op: Operation) -> None:
    opdef = lookup(op.name)
    if opdef is None:
        raise _fail(op, "is not a registered operation")
    try:
        _check_against(op, opdef)
    except (VerificationError, IRError) as err:  # IRError: e.g. a cycle in a body the op inspects
        raise _fail(op, str(err)) from None


def _check_against(op: Operation, opdef: OpDef) -> None:
    problem = opdef.check_operand_count(len(op.operands))
    if problem:
        raise VerificationError(problem)
    if len(op.results) != len(opdef.results):
        raise VerificationError(f"expects {len(opdef.results)} results, got {len(op.results)}")
    if len(op.regions) != opdef.regions:
        raise VerificationError(f"expects {opdef.regions} regions, got {len(op.regions)}")
    for name, spec in opdef.properties.items():
        value = op.properties.get(name)
        if value is None:
            if not spec.optional:
                raise VerificationError(f"requires property '{name}'")
        elif not isinstance(value, spec.kinds):
            kinds = " or ".join(k.__name__ for k in spec.kinds)
            raise VerificationError(f"property '{name}' must be {kinds}, got {value}")
    unknown = sorted(set(op.properties) - set(opdef.properties))
    if unknown:
        raise VerificationError(f"has unknown properties: {', '.join(unknown)}")
    if opdef.infer is not None:
        inferred = list(opdef.infer(op))
        declared = [r.type for r in op.results]
        if inferred != declared:
            raise VerificationError(
                f"result types ({', '.join(map(str, declared))}) differ from the inferred "
                f"({', '.join(map(str, inferred))})"
            )
    if opdef.verify is not None:
        opdef.verify(op)
