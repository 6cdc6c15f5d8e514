"""The pass registry: pass name -> pass class, filled by ``@register_pass``.

Every module of the ``sparsec.passes`` package is imported on first lookup, so
a new pass file registers itself just by existing (no list to keep in sync).
"""

from __future__ import annotations

import importlib
import pkgutil

from .pass_base import Pass

_PASSES: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make a frozen-dataclass pass available by its ``name``."""
    if not cls.name:
        raise ValueError(f"pass class {cls.__name__} has no name")
    params = cls.__dict__.get("__dataclass_params__")  # the class's own, not inherited
    if params is None or not params.frozen:
        raise ValueError(f"pass '{cls.name}' must be a frozen dataclass")
    if _PASSES.get(cls.name, cls) is not cls:
        raise ValueError(f"pass '{cls.name}' is registered twice")
    _PASSES[cls.name] = cls
    return cls


def get_pass_class(name: str) -> type[Pass] | None:
    """The pass registered as ``name``, or None."""
    _load_passes()
    return _PASSES.get(name)


def registered_passes() -> list[type[Pass]]:
    """Every registered pass, sorted by name."""
    _load_passes()
    return [_PASSES[name] for name in sorted(_PASSES)]


def _load_passes() -> None:
    package = importlib.import_module(__package__)
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        importlib.import_module(f"{__package__}.{module}")


def list_passes_text() -> str:
    """What ``--list-passes`` prints: each pass, its summary, and its options."""
    lines = ["Available passes:"]
    for cls in registered_passes():
        lines.append(f"  {cls.name:<24} {cls.summary()}")
        lines.extend(f"      {info.describe()}" for info in cls.options())
    return "\n".join(lines)
