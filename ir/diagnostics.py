"""The errors sparsec raises, one hierarchy, and how a located one reads.

    SparsecError            anything a user can cause (frontend, codegen, driver errors too)
      ParseError            malformed IR text
      IRError               an invalid IR construction or mutation
      VerificationError     an op breaks its definition (``VerifyError`` is the same class)
      PassError             a pass cannot run; PassFailure: it failed or broke the IR
      PipelineError         a malformed pass pipeline

A located error reads ``file:line:col: message``, then the source line and a caret:

    model.mlir:3:24: use of undefined value '%7'
        %8 = "sparsec.relu"(%7) : (tensor<2xf32>) -> tensor<2xf32>
                            ^

Nothing here imports the CLI: the command line alone prefixes ``error: `` and exits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Operation

# A hostile input can make any echoed token or line megabytes long; a diagnostic stays readable.
MAX_MESSAGE = 400  # characters of the message (the middle is elided beyond)
MAX_SHOWN_LINE = 160  # characters of the source line shown around the caret


class SparsecError(Exception):
    """Any error a user can cause: a bad file, option, model or IR. The message says what;
    with a location (``filename``, ``line``, ``col``, optionally the ``source_line``) the text
    reads ``file:line:col: message``, then the line and a caret under the column.

    The library raises these; only the CLI (``sparsec.errors.reported_errors``) prints them,
    as ``error: <text>``, and exits with status 1.
    """

    def __init__(self, message: str, filename: str = "", line: int = 0, col: int = 0,
                 source_line: str = "") -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.col = col
        self.source_line = source_line
        super().__init__(self._render())

    def position(self) -> tuple[str, int, int] | None:
        """``(file, line, col)`` the error points at, when it points at a line of a file."""
        return (self.filename, self.line, self.col) if self.line else None

    def _render(self) -> str:
        if not self.line:
            return self.message
        head = f"{self.filename}:{self.line}:{self.col}: {self.message}"
        if not self.source_line:
            return head
        shown, caret = _window(_blank_controls(self.source_line), self.col - 1)
        # Keep tabs so the caret lines up however the terminal renders them.
        pad = "".join(c if c == "\t" else " " for c in shown[:caret])
        return f"{head}\n{shown}\n{pad}^"


class ParseError(SparsecError):
    """Malformed IR text (syntax, semantics, or a verifier failure found while parsing).

    The message echoes the input, so its control characters are escaped and its middle is
    elided past ``MAX_MESSAGE`` characters.
    """

    def __init__(self, message: str, filename: str, line: int, col: int, source_line: str = ""):
        message = _elide_middle(_escape_controls(message), MAX_MESSAGE)
        super().__init__(message, filename, line, col, source_line)

    @classmethod
    def at(cls, message: str, filename: str, text: str, line: int, col: int) -> ParseError:
        """An error at 1-based ``line``:``col`` of ``text`` (its line is quoted).

        Lines end at '\\n' only, as the lexer counts them (``splitlines`` would also
        split at form feeds and Unicode line separators, and quote the wrong line).
        """
        lines = text.split("\n")
        source_line = lines[line - 1].removesuffix("\r") if 0 < line <= len(lines) else ""
        return cls(message, filename, line, col, source_line)


class IRError(SparsecError):
    """An invalid IR construction or mutation (a bug in a pass or frontend)."""


class VerificationError(SparsecError):
    """An op breaks its definition.

    An op's own checks raise it with the problem alone (``VerifyError`` is its other name);
    the verifier re-raises it with ``op``, the offending op, and ``detail``, the message
    without the op's location, so a parser can point a caret at the op instead.
    """

    def __init__(self, message: str, op: Operation | None = None, detail: str | None = None):
        super().__init__(message)
        self.op = op
        self.detail = message if detail is None else detail

    def position(self) -> tuple[str, int, int] | None:
        location = self.op.location if self.op is not None else None
        if location is None or not location.line:
            return None
        return location.file, location.line, location.col


class PassError(SparsecError):
    """A pass cannot run (bad option value, input it does not support); one line."""


class PassFailure(PassError):
    """A pass failed while running, or left invalid IR behind; the message names the pass.

    ``cause`` is the error it wraps: the location of its diagnostic is the cause's.
    """

    def __init__(self, message: str, cause: SparsecError | None = None):
        super().__init__(message)
        self.cause = cause

    def position(self) -> tuple[str, int, int] | None:
        return self.cause.position() if self.cause is not None else None


class PipelineError(SparsecError):
    """A pass pipeline's text is malformed, names an unknown pass or a bad option."""


# Control characters (and Unicode line breaks) from the text must not reach the terminal raw:
# a decoded "\0A" would split the one-line message, an ESC would restyle the terminal.
_CONTROLS = {c: f"\\{c:02X}" for c in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROLS |= {0x2028: "\\u2028", 0x2029: "\\u2029"}
_BLANKED = {c: "?" for c in _CONTROLS if c != ord("\t")}  # one column each: the caret stays put


def _escape_controls(message: str) -> str:
    return message.translate(_CONTROLS)


def _blank_controls(line: str) -> str:
    return line.translate(_BLANKED)


def _elide_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


def _window(line: str, caret: int) -> tuple[str, int]:
    """At most MAX_SHOWN_LINE characters of ``line`` around index ``caret``, and the caret's
    index in them ('...' marks a cut)."""
    if len(line) <= MAX_SHOWN_LINE:
        return line, caret
    start = min(max(caret - MAX_SHOWN_LINE // 2, 0), len(line) - MAX_SHOWN_LINE)
    end = start + MAX_SHOWN_LINE
    shown = ("..." if start else "") + line[start:end] + ("..." if end < len(line) else "")
    return shown, caret - start + (3 if start else 0)


def end_position(text: str) -> tuple[int, int]:
    """The 1-based line and column just past the last non-blank character of ``text``."""
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    col = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return line, col


# Checking diagnostics against `// expected-error {{...}}` annotations, as mlir-opt's
# --verify-diagnostics does. An annotation applies to its own line, to the line N away
# (`@+N`, `@-N`), or to the nearest line above or below without an annotation (`@above`,
# `@below`); the diagnostic's message must contain the text between the braces.
_ANNOTATION = re.compile(
    r"//.*?expected-(error|warning|note)\s*(@[+-][0-9]+|@above|@below)?\s*\{\{(.*?)\}\}"
)


@dataclass(frozen=True)
class ExpectedDiagnostic:
    """One annotation: a diagnostic of ``kind`` at ``line`` whose message contains ``text``."""

    kind: str
    line: int
    text: str


def expected_diagnostics(text: str) -> list[ExpectedDiagnostic]:
    """The annotations of ``text``, with the 1-based lines they point at."""
    lines = text.split("\n")
    annotated = {n for n, line in enumerate(lines, 1) if _ANNOTATION.search(line)}
    expected = []
    for number, line in enumerate(lines, 1):
        for match in _ANNOTATION.finditer(line):
            kind, offset, message = match.groups()
            target = _target_line(number, offset or "", annotated)
            expected.append(ExpectedDiagnostic(kind, target, message))
    return expected


def _target_line(number: int, offset: str, annotated: set[int]) -> int:
    if offset in ("@above", "@below"):
        step = -1 if offset == "@above" else 1
        target = number + step
        while target in annotated:
            target += step
        return target
    return number + int(offset[1:]) if offset else number


def unmatched_diagnostics(filename: str, expected: list[ExpectedDiagnostic],
                          produced: list[SparsecError]) -> list[str]:
    """What differs between the errors ``produced`` and those ``expected``, one line each:
    ``file:line:col: unexpected error: ...`` and ``file:line: expected error "..." was not
    produced``. Empty when every expected error came and nothing else did."""
    missing = list(expected)  # sparsec emits errors only: an expected warning or note stays
    problems = []
    for err in produced:
        position = err.position()
        line = position[1] if position else 0
        found = next((e for e in missing if e.kind == "error" and e.line == line
                      and e.text in err.message), None)
        if found is not None:
            missing.remove(found)
            continue
        where = ":".join(map(str, position)) if position else filename
        problems.append(f"{where}: unexpected error: {err.message}")
    problems += [f'{filename}:{e.line}: expected {e.kind} "{e.text}" was not produced'
                 for e in missing]
    return problems
