"""Diagnostics for IR text: ``file:line:col: message``, the source line, a caret.

    model.mlir:3:24: use of undefined value '%7'
        %8 = "sparsec.relu"(%7) : (tensor<2xf32>) -> tensor<2xf32>
                            ^
"""

from __future__ import annotations

# A hostile input can make any echoed token or line megabytes long; a diagnostic stays readable.
MAX_MESSAGE = 400  # characters of the message (the middle is elided beyond)
MAX_SHOWN_LINE = 160  # characters of the source line shown around the caret


class ParseError(Exception):
    """Malformed IR text (syntax, semantics, or a verifier failure found while parsing)."""

    def __init__(self, message: str, filename: str, line: int, col: int, source_line: str = ""):
        self.message = _elide_middle(_escape_controls(message), MAX_MESSAGE)
        self.filename = filename
        self.line = line
        self.col = col
        self.source_line = source_line
        super().__init__(self._render())

    @classmethod
    def at(cls, message: str, filename: str, text: str, line: int, col: int) -> ParseError:
        """An error at 1-based ``line``:``col`` of ``text`` (its line is quoted).

        Lines end at '\\n' only, as the lexer counts them (``splitlines`` would also
        split at form feeds and Unicode line separators, and quote the wrong line).
        """
        lines = text.split("\n")
        source_line = lines[line - 1].removesuffix("\r") if 0 < line <= len(lines) else ""
        return cls(message, filename, line, col, source_line)

    def _render(self) -> str:
        head = f"{self.filename}:{self.line}:{self.col}: {self.message}"
        if not self.source_line:
            return head
        shown, caret = _window(_blank_controls(self.source_line), self.col - 1)
        # Keep tabs so the caret lines up however the terminal renders them.
        pad = "".join(c if c == "\t" else " " for c in shown[:caret])
        return f"{head}\n{shown}\n{pad}^"


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
