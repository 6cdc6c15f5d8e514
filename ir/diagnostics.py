"""Diagnostics for IR text: ``file:line:col: message``, the source line, a caret.

    model.mlir:3:24: use of undefined value '%7'
        %8 = "sparsec.relu"(%7) : (tensor<2xf32>) -> tensor<2xf32>
                            ^
"""

from __future__ import annotations


class ParseError(Exception):
    """Malformed IR text (syntax, semantics, or a verifier failure found while parsing)."""

    def __init__(self, message: str, filename: str, line: int, col: int, source_line: str = ""):
        self.message = message
        self.filename = filename
        self.line = line
        self.col = col
        self.source_line = source_line
        super().__init__(self._render())

    @classmethod
    def at(cls, message: str, filename: str, text: str, line: int, col: int) -> ParseError:
        """An error at 1-based ``line``:``col`` of ``text`` (its line is quoted)."""
        lines = text.splitlines()
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        return cls(message, filename, line, col, source_line)

    def _render(self) -> str:
        head = f"{self.filename}:{self.line}:{self.col}: {self.message}"
        if not self.source_line:
            return head
        # Keep tabs so the caret lines up however the terminal renders them.
        pad = "".join(c if c == "\t" else " " for c in self.source_line[: self.col - 1])
        return f"{head}\n{self.source_line}\n{pad}^"


def end_position(text: str) -> tuple[int, int]:
    """The 1-based line and column just past the last non-blank character of ``text``."""
    stripped = text.rstrip()
    line = stripped.count("\n") + 1
    col = len(stripped) - (stripped.rfind("\n") + 1) + 1
    return line, col
