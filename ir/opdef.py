"""Operation definitions as data, and the registry of every known op.

An ``OpDef`` says what an op is: its operands (``"x"``, optional ``"bias?"``,
variadic ``"inputs*"``), its results, its properties and their attribute
kinds, its traits, and two functions: ``infer`` (result types from operand
types and properties) and ``verify`` (any further check). The generic verifier
uses them; builders use ``infer`` so callers rarely spell result types.

    Linear = define(
        "sparsec.linear", operands=("input", "weight", "bias?"),
        traits={PURE}, infer=infer_linear,
    )
    op = Linear.build([x, w, b])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .attributes import Attribute
from .core import Location, Operation, OpResult, Region, Value
from .types import TensorType, Type

# Traits
PURE = "pure"  # no side effects: erasable when unused, CSE-able
TERMINATOR = "terminator"  # ends a block
ELEMENTWISE = "elementwise"  # result[i] depends on operand[i] only (with broadcasting)
COMMUTATIVE = "commutative"
CONSTANT_LIKE = "constant"  # materialises a compile-time value, no operands


class VerifyError(Exception):
    """An op breaks its definition; the verifier adds the op and its location."""


@dataclass(frozen=True)
class OperandDef:
    name: str
    optional: bool = False
    variadic: bool = False

    @classmethod
    def parse(cls, spec: str) -> OperandDef:
        if spec.endswith("?"):
            return cls(spec[:-1], optional=True)
        if spec.endswith("*"):
            return cls(spec[:-1], variadic=True)
        return cls(spec)


@dataclass(frozen=True)
class PropDef:
    """A property: the attribute kinds it accepts, and whether it may be absent."""

    kinds: tuple[type[Attribute], ...]
    optional: bool = False


def prop(*kinds: type[Attribute], optional: bool = False) -> PropDef:
    return PropDef(tuple(kinds), optional)


InferFn = Callable[[Operation], Sequence[Type]]
VerifyFn = Callable[[Operation], None]


@dataclass(frozen=True)
class OpDef:
    name: str
    summary: str = ""
    operands: tuple[OperandDef, ...] = ()
    results: tuple[str, ...] = ("result",)
    properties: Mapping[str, PropDef] = field(default_factory=dict)
    traits: frozenset[str] = frozenset()
    regions: int = 0
    infer: InferFn | None = None
    verify: VerifyFn | None = None

    # -- operand access by name ----------------------------------------------
    def operand_groups(self, op: Operation) -> dict[str, list[Value]]:
        """Operands by definition name; optional/variadic groups may be empty."""
        fixed = sum(1 for o in self.operands if not (o.optional or o.variadic))
        extra = len(op.operands) - fixed
        groups: dict[str, list[Value]] = {}
        values = iter(op.operands)
        for o in self.operands:
            if o.variadic:
                take = extra
            elif o.optional:
                take = min(extra, 1)
            else:
                take = 1
            extra -= take if (o.optional or o.variadic) else 0
            groups[o.name] = [next(values) for _ in range(take)]
        return groups

    def operand(self, op: Operation, name: str) -> Value | None:
        group = self.operand_groups(op)[name]
        return group[0] if group else None

    def check_operand_count(self, count: int) -> str | None:
        fixed = sum(1 for o in self.operands if not (o.optional or o.variadic))
        optional = sum(1 for o in self.operands if o.optional)
        variadic = any(o.variadic for o in self.operands)
        if count < fixed or (not variadic and count > fixed + optional):
            expected = f"{fixed}" if not (optional or variadic) else f"at least {fixed}"
            if optional and not variadic:
                expected = f"{fixed} to {fixed + optional}"
            return f"expects {expected} operands, got {count}"
        return None

    # -- construction --------------------------------------------------------
    def build(
        self,
        operands: Sequence[Value] = (),
        properties: Mapping[str, Attribute] | None = None,
        result_types: Sequence[Type] | None = None,
        regions: Sequence[Region] = (),
        location: Location | None = None,
    ) -> Operation:
        """A new detached op; result types are inferred when not given."""
        op = Operation(self.name, operands, result_types or (), properties, None, regions, location)
        if result_types is None and self.results:  # an op without results infers nothing
            if self.infer is None:
                raise VerifyError(f"'{self.name}' cannot infer its result types; pass them")
            op.results = [OpResult(op, i, t) for i, t in enumerate(self.infer(op))]
        return op


_REGISTRY: dict[str, OpDef] = {}


def define(
    name: str,
    summary: str = "",
    operands: Sequence[str] = (),
    results: Sequence[str] = ("result",),
    properties: Mapping[str, PropDef] | None = None,
    traits: Sequence[str] = (),
    regions: int = 0,
    infer: InferFn | None = None,
    verify: VerifyFn | None = None,
) -> OpDef:
    """Declare an op and add it to the registry."""
    if name in _REGISTRY:
        raise ValueError(f"op '{name}' is defined twice")
    opdef = OpDef(
        name,
        summary,
        tuple(OperandDef.parse(s) for s in operands),
        tuple(results),
        dict(properties or {}),
        frozenset(traits),
        regions,
        infer,
        verify,
    )
    _REGISTRY[name] = opdef
    return opdef


def lookup(name: str) -> OpDef | None:
    _load_dialects()
    return _REGISTRY.get(name)


def registered_ops() -> list[OpDef]:
    _load_dialects()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def has_trait(name: str, trait: str) -> bool:
    opdef = lookup(name)
    return opdef is not None and trait in opdef.traits


def _load_dialects() -> None:
    # Importing the dialect modules runs their `define` calls.
    from .dialects import builtin, func, sparsec  # noqa: F401


def tensor_type(value: Value, what: str = "operand") -> TensorType:
    """The value's tensor type, or a VerifyError naming ``what``."""
    if not isinstance(value.type, TensorType):
        raise VerifyError(f"{what} must be a tensor, got {value.type}")
    return value.type
