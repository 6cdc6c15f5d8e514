"""Textual pass pipelines, written as MLIR writes them.

    canonicalize,cse,dce
    sparsity-analysis{block-shapes=32x1,16x1 threshold=0.5},dce
    builtin.module(canonicalize,cse)          (MLIR's explicit anchor, accepted too)

Options go in braces after the pass name, separated by spaces; list values
are comma separated; a bool option written alone means true.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sparsec.ir.diagnostics import PassError, PipelineError

from .pass_base import Pass
from .registry import get_pass_class, registered_passes

_MODULE_ANCHOR = re.compile(r"builtin\.module\s*\((.*)\)", re.DOTALL)
_ELEMENT = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*(?:\{(.*)\})?\s*", re.DOTALL)


def parse_pipeline(text: str) -> list[Pass]:
    """The passes of ``text``, in order; raises ``PipelineError`` with a one-line message."""
    body = text.strip()
    anchored = _MODULE_ANCHOR.fullmatch(body)
    if anchored:
        body = anchored.group(1).strip()
    if not body:
        return []
    return [_parse_element(element) for element in _split_top_level(body)]


def format_pipeline(passes: Sequence[Pass]) -> str:
    """The pipeline text of ``passes`` (parses back to equal passes)."""
    return ",".join(p.pipeline_text() for p in passes)


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside braces (list option values contain commas too)."""
    elements, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"unbalanced '}}' at column {i + 1} of pass pipeline '{text}'")
        elif char == "," and depth == 0:
            elements.append(text[start:i])
            start = i + 1
    if depth > 0:
        raise PipelineError(f"unbalanced '{{' in pass pipeline '{text}': missing '}}'")
    elements.append(text[start:])
    for element in elements:
        if not element.strip():
            raise PipelineError(f"empty pass name in pass pipeline '{text}'")
    return elements


def _parse_element(element: str) -> Pass:
    match = _ELEMENT.fullmatch(element)
    if match is None:
        expected = "expected name or name{opt=value ...}"
        raise PipelineError(f"malformed pass '{element.strip()}' ({expected})")
    name, options_text = match.group(1), match.group(2)
    cls = get_pass_class(name)
    if cls is None:
        known = ", ".join(c.name for c in registered_passes())
        raise PipelineError(f"unknown pass '{name}' (known passes: {known})")
    try:
        return cls.from_options(_parse_options(name, options_text or ""))
    except PassError as err:
        raise PipelineError(str(err)) from None


def _parse_options(pass_name: str, text: str) -> dict[str, str | None]:
    """``a=1 b=x,y flag`` -> ``{"a": "1", "b": "x,y", "flag": None}``."""
    options: dict[str, str | None] = {}
    for token in text.split():
        key, has_value, value = token.partition("=")
        if not key:
            raise PipelineError(f"option '{token}' of pass '{pass_name}' has no name")
        if key in options:
            raise PipelineError(f"option '{key}' of pass '{pass_name}' is given twice")
        options[key] = value if has_value else None
    return options
