"""Operation definitions as data, and the registry of every known op.

An ``OpDef`` says what an op is: its operands (``"x"``, optional ``"bias?"``,
variadic ``"inputs*"``), its results, its properties and their attribute
kinds, its traits, and two functions: ``infer`` (result types from operand
types and properties) and ``verify`` (any further check). The generic verifier
uses them; builders use ``infer`` so callers rarely spell result types, and
give the op its definition's traits. Calling an ``OpDef`` on an op gives a
view that reads its operands and properties by name:

    Linear = define(
        "sparsec.linear", operands=("input", "weight", "bias?"),
        traits={PURE}, infer=infer_linear,
    )
    op = Linear.build([x, w, b])
    Linear(op).bias           # the Value b, or None without a bias
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .attributes import (
    ArrayAttr,
    Attribute,
    BoolAttr,
    DenseArrayAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TypeAttr,
)
from .core import TERMINATOR as TERMINATOR  # a trait the core reads (terminators stay last)
from .core import IRError, Location, Operation, OpResult, Region, Value
from .types import TensorType, Type

# Traits
PURE = "pure"  # no side effects: erasable when unused, CSE-able
ELEMENTWISE = "elementwise"  # result[i] depends on operand[i] only (with broadcasting)
COMMUTATIVE = "commutative"
CONSTANT_LIKE = "constant"  # materialises a compile-time value, no operands


from .diagnostics import VerificationError as VerifyError  # noqa: E402  (the same class)


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
    view: type[OpView] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "view", _view_class(self))

    def __call__(self, op: Operation) -> OpView:
        """``op`` seen through this definition: operands and properties by name."""
        return self.view(op)

    # -- operand access by name ----------------------------------------------
    def operand_groups(self, op: Operation) -> dict[str, list[Value]]:
        """Operands by definition name; optional/variadic groups may be empty."""
        fixed = sum(1 for o in self.operands if not (o.optional or o.variadic))
        extra = max(len(op.operands) - fixed, 0)
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
            groups[o.name] = list(itertools.islice(values, take))
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
        op = Operation(self.name, operands, result_types or (), properties, None, regions, location,
                       self.traits)
        if result_types is None and self.results:  # an op without results infers nothing
            if self.infer is None:
                raise VerifyError(f"'{self.name}' cannot infer its result types; pass them")
            op.results = [OpResult(op, i, t) for i, t in enumerate(self.infer(op))]
        return op


# -- views: operands and properties by name -------------------------------------


class OpView:
    """One op seen through its definition: operands and properties as attributes.

        linear = Linear(op)             # an IRError unless op is a 'sparsec.linear'
        linear.input, linear.weight     # Values
        linear.bias                     # None when the optional operand is absent
        Attention(op).scale             # a property's Python value (a float here)

    Every ``OpDef`` has its own subclass (``OpDef.view``) with one read-only
    attribute per operand and property. A variadic operand reads as a tuple; a
    property as its ``plain_value`` (``IntegerAttr`` -> int, ``array<i64: ...>`` ->
    tuple of ints, ``["gelu"]`` -> ("gelu",)), or None when an optional one is absent.
    """

    __slots__ = ("op",)
    opdef: ClassVar[OpDef]

    def __init__(self, op: Operation):
        if op.name != self.opdef.name:
            raise IRError(f"'{op.name}' op viewed as '{self.opdef.name}'")
        self.op = op

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.op!r}>"


def plain_value(attr: Attribute) -> Any:
    """An attribute as a Python value: ints, floats, bools, strings, types, tuples of
    numbers (``array<...>``) or of plain values (``[...]``); any other attribute (dense
    constants, dictionaries) is returned as it is."""
    if isinstance(attr, IntegerAttr | FloatAttr | BoolAttr | StringAttr | TypeAttr):
        return attr.value
    if isinstance(attr, DenseArrayAttr):
        return attr.values
    if isinstance(attr, ArrayAttr):
        return tuple(plain_value(a) for a in attr)
    return attr


_VIEW_OWN_NAMES = frozenset(("op", "opdef"))


def _view_class(opdef: OpDef) -> type[OpView]:
    """The ``OpView`` subclass of ``opdef``: one property per operand and op property."""
    names = [o.name for o in opdef.operands] + list(opdef.properties)
    clashes = sorted({n for n in names if names.count(n) > 1 or n in _VIEW_OWN_NAMES})
    if clashes:
        raise ValueError(f"op '{opdef.name}' cannot name an operand or property {clashes}")
    members: dict[str, object] = {"__slots__": (), "opdef": opdef}
    for operand in opdef.operands:
        members[operand.name] = property(_operand_getter(operand))
    for name, spec in opdef.properties.items():
        members[name] = property(_property_getter(name, spec.optional))
    class_name = "".join(p.capitalize() for p in opdef.name.replace(".", "_").split("_"))
    return type(f"{class_name}View", (OpView,), members)


def _operand_getter(operand: OperandDef) -> Callable[[OpView], Any]:
    def get(view: OpView) -> Value | tuple[Value, ...] | None:
        group = view.opdef.operand_groups(view.op)[operand.name]
        if operand.variadic:
            return tuple(group)
        if not group and not operand.optional:
            raise IRError(f"'{view.op.name}' op has no operand '{operand.name}'")
        return group[0] if group else None

    get.__doc__ = f"Operand '{operand.name}'."
    return get


def _property_getter(name: str, optional: bool) -> Callable[[OpView], Any]:
    def get(view: OpView) -> Any:
        attr = view.op.properties.get(name)
        if attr is None and not optional:
            raise IRError(f"'{view.op.name}' op has no property '{name}'")
        return None if attr is None else plain_value(attr)

    get.__doc__ = f"Property '{name}' as a Python value."
    return get


# -- the registry -----------------------------------------------------------------

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
