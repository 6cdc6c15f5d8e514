"""Rewrite rules as data, and a greedy driver that applies them to a fixpoint.

A ``Pattern`` pairs an op name with a function that looks at one op and
returns its replacement, or None when it does not apply:

    def fold_double_neg(op):             # neg(neg(x)) -> x
        inner = op.operands[0].definer
        if isinstance(inner, Operation) and inner.name == "sparsec.neg":
            return inner.operands[0]
        return None

    PATTERNS = [Pattern("sparsec.neg", fold_double_neg)]
    apply_patterns_greedily(module, PATTERNS)

A replacement is a value (for a one-result op), a list of values, or a new
detached operation. Values may be results of new detached ops, which may use
other new detached ops: the driver inserts them all ahead of the op it
replaces, and erases the ones that end up unused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sparsec.ir.core import Block, BlockArgument, IRError, Operation, Value

Replacement = Operation | Value | Sequence[Value]
RewriteFn = Callable[[Operation], Replacement | None]


@dataclass(frozen=True)
class Pattern:
    """Rewrite ops named ``op_name`` (None: every op) with ``rewrite``."""

    op_name: str | None
    rewrite: RewriteFn

    @property
    def name(self) -> str:
        return self.rewrite.__name__


@dataclass(frozen=True)
class RewriteResult:
    """How many rewrites were applied, in how many sweeps, and whether a fixpoint was reached."""

    rewrites: int
    sweeps: int
    converged: bool


def apply_patterns_greedily(
    root: Operation, patterns: Sequence[Pattern], max_iterations: int = 10
) -> RewriteResult:
    """Sweep every op nested in ``root`` until no pattern applies (at most ``max_iterations``)."""
    by_name: dict[str | None, list[Pattern]] = {}
    for pattern in patterns:
        by_name.setdefault(pattern.op_name, []).append(pattern)
    total = 0
    for sweep in range(1, max_iterations + 1):
        count = _sweep(root, by_name)
        total += count
        if count == 0:
            return RewriteResult(total, sweep, converged=True)
    return RewriteResult(total, max_iterations, converged=False)


def _sweep(root: Operation, by_name: dict[str | None, list[Pattern]]) -> int:
    """One pass over the ops in block order; ops created during it wait for the next one."""
    count = 0
    for op in [op for op in root.walk() if op is not root]:
        if op.parent is None:  # erased earlier in this sweep
            continue
        for pattern in by_name.get(op.name, []) + by_name.get(None, []):
            replacement = pattern.rewrite(op)
            if replacement is not None and replace_op(op, replacement):
                count += 1
                break
    return count


def replace_op(op: Operation, replacement: Replacement) -> bool:
    """Replace ``op`` (which must be in a block) and erase it; False if nothing changes."""
    block = op.parent
    if block is None:
        raise IRError(f"cannot replace '{op.name}': it is not in a block")
    if isinstance(replacement, Operation):
        values = list(replacement.results)
    else:
        values = [replacement] if isinstance(replacement, Value) else list(replacement)
    if len(values) == len(op.results) and all(
        new is old for new, old in zip(values, op.results, strict=True)
    ):
        return False
    _check_types(op, values)
    created: list[Operation] = []
    for value in values:
        _insert_new(value.definer, block, op, created)
    op.replace_all_uses_with(values)
    op.erase()
    for new_op in reversed(created):  # users before the ops they use
        if not new_op.has_uses:
            new_op.erase()
    return True


def _insert_new(
    definer: Operation | BlockArgument, block: Block, before: Operation, created: list[Operation]
) -> None:
    """Insert ``definer`` if it is a detached op, after the detached ops it uses."""
    if not isinstance(definer, Operation) or definer.parent is not None:
        return
    for value in definer.operands:
        _insert_new(value.definer, block, before, created)
    block.insert(definer, before=before)
    created.append(definer)


def _check_types(op: Operation, values: Sequence[Value]) -> None:
    if len(values) != len(op.results):
        raise IRError(f"'{op.name}' has {len(op.results)} results, replaced with {len(values)}")
    for old, new in zip(op.results, values, strict=True):
        if old.type != new.type:
            raise IRError(f"'{op.name}' result of type {old.type} replaced with a {new.type}")
