"""The base of every pass: a frozen dataclass whose fields are its options.

    @register_pass
    @dataclass(frozen=True)
    class Canonicalize(Pass):
        '''Simplify ops with local rewrites. (docstring: summary, then before/after IR)'''

        name = "canonicalize"
        max_iterations: int = option(10, "rewrite sweeps before giving up")

        def apply(self, module: Operation) -> None: ...

Option ``max-iterations`` on the command line is field ``max_iterations``;
its string value is converted with the field's type hint. A pass checks its
option values in ``__post_init__`` (raising ``PassError``), so a bad pipeline
fails before any pass runs.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sparsec.ir.core import Operation
from sparsec.ir.diagnostics import PassError

OPTION_TYPES = "int, float, bool, str, tuple[str, ...] or tuple[int, ...]"


def option(default: Any, help: str) -> Any:
    """A pass option field with a default and a one-line help text for ``--list-passes``."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class OptionInfo:
    """One option of a pass, as the command line spells it."""

    name: str
    field: str
    type: Any
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        if self.type in (int, float, bool, str):
            return self.type.__name__
        return str(self.type).replace("typing.", "")

    def describe(self) -> str:
        """``name: type = default  help`` for ``--list-passes``."""
        default = format_option_value(self.default) or '""'
        text = f"{self.name}: {self.type_name} = {default}"
        return f"{text}  {self.help}" if self.help else text


@dataclass(frozen=True)
class Pass:
    """A transformation of a whole module; subclasses set ``name`` and implement ``apply``."""

    name: ClassVar[str] = ""

    def apply(self, module: Operation) -> None:
        raise NotImplementedError(f"pass '{self.name}' does not implement apply")

    @classmethod
    def summary(cls) -> str:
        """The first line of the docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def options(cls) -> list[OptionInfo]:
        hints = typing.get_type_hints(cls)
        return [
            OptionInfo(f.name.replace("_", "-"), f.name, hints[f.name], f.default,
                       f.metadata.get("help", ""))
            for f in dataclasses.fields(cls)
        ]

    @classmethod
    def from_options(cls, values: Mapping[str, str | None]) -> Pass:
        """An instance from command-line option strings (``{"block-shapes": "32x1,16x1"}``).

        A value of None is an option written without ``=value``: true for a bool option.
        """
        known = {o.name: o for o in cls.options()}
        kwargs = {}
        for key, text in values.items():
            if key not in known:
                valid = ", ".join(known) or "none"
                raise PassError(f"pass '{cls.name}' has no option '{key}' (valid options: {valid})")
            info = known[key]
            if text is None:
                if info.type is not bool:
                    raise PassError(f"option '{key}' of pass '{cls.name}' needs a value")
                text = "true"
            try:
                kwargs[info.field] = convert_option(text, info.type)
            except ValueError as err:
                raise PassError(
                    f"bad value '{text}' for option '{key}' of pass '{cls.name}': {err}"
                ) from None
        try:
            return cls(**kwargs)
        except PassError as err:  # raised by the pass's own checks in __post_init__
            raise PassError(f"pass '{cls.name}': {err}") from None

    def pipeline_text(self) -> str:
        """This pass as a pipeline element: ``name{opt=value ...}``, non-default options only."""
        changed = [
            f"{o.name}={format_option_value(getattr(self, o.field))}"
            for o in self.options()
            if getattr(self, o.field) != o.default
        ]
        return f"{self.name}{{{' '.join(changed)}}}" if changed else self.name

    @property
    def display_name(self) -> str:
        """The class name, as MLIR's IR dump headers show it."""
        return type(self).__name__


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def convert_option(text: str, type_: Any) -> Any:
    """Convert an option string with a type hint; ValueError says what was expected."""
    if type_ is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("expected true or false")
    if type_ is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected an integer") from None
    if type_ is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if type_ is str:
        return text
    if typing.get_origin(type_) is tuple:
        element = typing.get_args(type_)[0]
        return tuple(convert_option(item, element) for item in text.split(",")) if text else ()
    raise ValueError(f"unsupported option type {type_} (use {OPTION_TYPES})")


def format_option_value(value: Any) -> str:
    """The pipeline spelling of an option value (inverse of ``convert_option``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(format_option_value, value))
    return str(value)
