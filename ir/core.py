"""The IR core: values, operations, blocks and regions.

A block's dataflow graph lives in a ``networkx.MultiDiGraph``. Its nodes are
the block's operations and block arguments (the things that define values);
an edge ``definer -> user`` with key ``i`` says "operand ``i`` of ``user`` is
a value defined by ``definer``" and carries that value. Use lists, users and
the topological order all come from the graph, so they can never go stale.
Passes use the methods here, never the graph itself.

The core knows no op by name: an operation carries the traits of its definition
(``OpDef.build``, the parser and ``clone`` pass them), and a block keeps the op
with the ``terminator`` trait last.

Each operation also keeps its operand list (the edge keys say the same);
only the methods below change either, and they change both together.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from .attributes import Attribute
from .types import Type

TERMINATOR = "terminator"  # trait: the op ends its block


@dataclass(frozen=True)
class Location:
    """Where an operation came from: a file position, or a model source line."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file


from .diagnostics import IRError as IRError  # noqa: E402  (one error hierarchy)


@dataclass(frozen=True)
class Use:
    """Operand ``index`` of ``user`` reads the value."""

    user: Operation
    index: int


class Value:
    """An SSA value: an operation result or a block argument."""

    type: Type

    @property
    def definer(self) -> Operation | BlockArgument:
        """The graph node that defines this value."""
        raise NotImplementedError

    @property
    def block(self) -> Block | None:
        raise NotImplementedError

    @property
    def uses(self) -> list[Use]:
        block = self.block
        if block is None or self.definer not in block.graph:
            return []
        edges = block.graph.out_edges(self.definer, keys=True, data="value")
        return [Use(user, key) for _, user, key, value in edges if value is self]

    @property
    def users(self) -> list[Operation]:
        """Distinct users, in the order their uses were made."""
        return list(dict.fromkeys(use.user for use in self.uses))

    @property
    def has_uses(self) -> bool:
        return bool(self.uses)

    def replace_all_uses_with(self, new: Value) -> None:
        if new is self:
            return
        for use in self.uses:
            use.user.set_operand(use.index, new)


class OpResult(Value):
    def __init__(self, op: Operation, index: int, type_: Type):
        self.op, self.index, self.type = op, index, type_

    @property
    def definer(self) -> Operation:
        return self.op

    @property
    def block(self) -> Block | None:
        return self.op.parent

    def __repr__(self) -> str:
        return f"<result {self.index} of {self.op.name}: {self.type}>"


class BlockArgument(Value):
    def __init__(self, owner: Block, index: int, type_: Type):
        self.owner, self.index, self.type = owner, index, type_

    @property
    def definer(self) -> BlockArgument:
        return self

    @property
    def block(self) -> Block:
        return self.owner

    def __repr__(self) -> str:
        return f"<arg {self.index}: {self.type}>"


_creation_order = itertools.count()


class Operation:
    """One operation: name, SSA operands and results, attributes, regions.

    ``properties`` are the op's own attributes (printed ``<{...}>``, checked by
    its definition); ``attributes`` are discardable annotations such as
    analysis results (printed ``{...}``). ``traits`` are those of the op's
    definition (see ``ir/opdef.py``).
    """

    def __init__(
        self,
        name: str,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        properties: Mapping[str, Attribute] | None = None,
        attributes: Mapping[str, Attribute] | None = None,
        regions: Sequence[Region] = (),
        location: Location | None = None,
        traits: frozenset[str] = frozenset(),
    ):
        self.name = name
        self.traits = frozenset(traits)
        self._operands: list[Value] = list(operands)
        self.results = [OpResult(self, i, t) for i, t in enumerate(result_types)]
        self.properties: dict[str, Attribute] = dict(properties or {})
        self.attributes: dict[str, Attribute] = dict(attributes or {})
        self.regions: list[Region] = []
        for region in regions:
            self.add_region(region)
        self.location = location
        self.parent: Block | None = None
        self._order: tuple[float, int] = (0.0, next(_creation_order))

    @property
    def is_terminator(self) -> bool:
        return TERMINATOR in self.traits

    # -- operands and results ------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def set_operand(self, index: int, value: Value) -> None:
        block = self.parent
        if block is not None:
            _check_same_block(self, value)
            block.graph.remove_edge(self._operands[index].definer, self, key=index)
            block.graph.add_edge(value.definer, self, key=index, value=value)
            if not block._ordered_before(value.definer, self):
                block.changed()
        self._operands[index] = value

    @property
    def result(self) -> OpResult:
        """The single result of a one-result op."""
        if len(self.results) != 1:
            raise IRError(f"'{self.name}' has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def users(self) -> list[Operation]:
        return list(dict.fromkeys(u for r in self.results for u in r.users))

    @property
    def has_uses(self) -> bool:
        return any(r.has_uses for r in self.results)

    def replace_all_uses_with(self, values: Sequence[Value] | Operation) -> None:
        new = values.results if isinstance(values, Operation) else list(values)
        if len(new) != len(self.results):
            raise IRError(f"replacing {len(self.results)} results of '{self.name}' with {len(new)}")
        for old, value in zip(self.results, new, strict=True):
            old.replace_all_uses_with(value)

    # -- regions and nesting -------------------------------------------------
    def add_region(self, region: Region) -> Region:
        if region.parent is not None:
            raise IRError("region already belongs to an operation")
        region.parent = self
        self.regions.append(region)
        return region

    @property
    def parent_op(self) -> Operation | None:
        block = self.parent
        region = block.parent if block else None
        return region.parent if region else None

    def walk(self) -> Iterator[Operation]:
        """This op, then every nested op, each block in topological order."""
        yield self
        for region in self.regions:
            for block in region.blocks:
                for op in block.ops:
                    yield from op.walk()

    def erase(self) -> None:
        """Remove this op from its block; its results must have no uses left."""
        if self.has_uses:
            users = ", ".join(f"'{u.name}'" for u in self.users)
            raise IRError(f"cannot erase '{self.name}': its results are still used by {users}")
        if self.parent is not None:
            self.parent.remove(self)

    def clone(self, mapping: dict[Value, Value] | None = None) -> Operation:
        """A deep copy; operands are looked up in ``mapping`` (values of cloned ops go in it)."""
        mapping = {} if mapping is None else mapping
        op = Operation(
            self.name,
            [mapping.get(v, v) for v in self._operands],
            [r.type for r in self.results],
            self.properties,
            self.attributes,
            [region.clone(mapping) for region in self.regions],
            self.location,
            self.traits,
        )
        mapping.update(zip(self.results, op.results, strict=True))
        return op

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def _check_same_block(user: Operation, value: Value) -> None:
    if value.block is not user.parent:
        raise IRError(f"operand of '{user.name}' is defined outside its block")


class Block:
    """A list of operations in SSA form, with typed arguments.

    Operations are kept in a topological order of the dataflow graph; among
    ops that do not depend on each other, the order they were inserted wins,
    so printing is deterministic. Terminators always come last.
    """

    def __init__(self, arg_types: Sequence[Type] = ()):
        self.graph = nx.MultiDiGraph()
        self.args: list[BlockArgument] = []
        self.parent: Region | None = None
        self._ops_cache: list[Operation] | None = None
        self._end = 0.0  # order key of the next appended op
        for t in arg_types:
            self.add_argument(t)

    def add_argument(self, type_: Type) -> BlockArgument:
        arg = BlockArgument(self, len(self.args), type_)
        self.args.append(arg)
        self.graph.add_node(arg)
        return arg

    def changed(self) -> None:
        self._ops_cache = None

    @property
    def ops(self) -> list[Operation]:
        """The operations in order (cached until the block changes)."""
        if self._ops_cache is None:
            self._ops_cache = self._topological_order()
        return list(self._ops_cache)

    def _topological_order(self) -> list[Operation]:
        def key(node: Operation | BlockArgument) -> tuple:
            if isinstance(node, BlockArgument):
                return (0, node.index, 0)
            return (2 if node.is_terminator else 1, *node._order)

        try:
            order = nx.lexicographical_topological_sort(self.graph, key=key)
            ops = [n for n in order if isinstance(n, Operation)]
        except nx.NetworkXUnfeasible:
            raise IRError("the block's dataflow graph has a cycle") from None
        self._renumber(ops)
        return ops

    def _ordered_before(self, node: Operation | BlockArgument, op: Operation) -> bool:
        """True when the cached order has ``node`` ahead of ``op`` (so it stays valid)."""
        if self._ops_cache is None:
            return False
        return isinstance(node, BlockArgument) or node._order[0] < op._order[0]

    def _renumber(self, ops: list[Operation]) -> None:
        # Order keys follow the current order, so a key between two neighbours lands exactly there.
        for position, op in enumerate(ops):
            op._order = (float(position), op._order[1])
        self._end = float(len(ops))

    def __len__(self) -> int:
        return sum(1 for n in self.graph if isinstance(n, Operation))

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.ops)

    @property
    def terminator(self) -> Operation | None:
        ops = self.ops
        return ops[-1] if ops and ops[-1].is_terminator else None

    def append(self, op: Operation) -> Operation:
        """Add ``op`` to this block (after everything it depends on)."""
        return self.insert(op)

    def insert(self, op: Operation, before: Operation | None = None) -> Operation:
        """Add ``op``; with ``before``, right ahead of that op (or after its operands if later)."""
        if op.parent is not None:
            raise IRError(f"'{op.name}' is already in a block")
        if before is not None and before.parent is not self:
            raise IRError(f"cannot insert before '{before.name}': it is not in this block")
        for value in op._operands:
            if value.block is not self:
                raise IRError(f"operand of '{op.name}' is defined outside its block")
        ops = self.ops if before is not None else []
        index = ops.index(before) if before is not None else len(ops)
        position = self._end if before is None else self._key_between(ops, index)
        self._end = max(self._end, position + 1)
        op.parent = self
        op._order = (position, op._order[1])
        self.graph.add_node(op)
        for i, value in enumerate(op._operands):
            self.graph.add_edge(value.definer, op, key=i, value=value)
        # Inserted where its operands are already defined, the op leaves the others' order as
        # it was: keep the cache instead of sorting again.
        keeps_order = (before is not None and not op.is_terminator
                       and all(self._ordered_before(v.definer, op) for v in op._operands))
        self._ops_cache = [*ops[:index], op, *ops[index:]] if keeps_order else None
        return op

    def _key_between(self, ops: list[Operation], index: int) -> float:
        """An order key between ``ops[index]`` and the op before it."""
        key = ops[index]._order[0]
        previous = ops[index - 1]._order[0] if index else key - 1
        if not previous < (previous + key) / 2 < key:  # floats ran out of room
            self._renumber(ops)
            return self._key_between(ops, index)
        return (previous + key) / 2

    def remove(self, op: Operation) -> None:
        if op.parent is not self:
            raise IRError(f"'{op.name}' is not in this block")
        self.graph.remove_node(op)
        op.parent = None
        if self._ops_cache is not None:  # the others keep their order: no need to sort again
            self._ops_cache.remove(op)

    @property
    def parent_op(self) -> Operation | None:
        return self.parent.parent if self.parent else None

    def clone(self, mapping: dict[Value, Value]) -> Block:
        block = Block([a.type for a in self.args])
        mapping.update(zip(self.args, block.args, strict=True))
        for op in self.ops:
            block.append(op.clone(mapping))
        return block


class Region:
    """An ordered list of blocks owned by an operation (ours hold one block)."""

    def __init__(self, blocks: Sequence[Block] = ()):
        self.blocks: list[Block] = []
        self.parent: Operation | None = None
        for block in blocks:
            self.add_block(block)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        """The single block of a single-block region."""
        if len(self.blocks) != 1:
            raise IRError(f"region has {len(self.blocks)} blocks, not one")
        return self.blocks[0]

    def clone(self, mapping: dict[Value, Value]) -> Region:
        return Region([b.clone(mapping) for b in self.blocks])
