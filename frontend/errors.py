"""Errors the frontend raises; all are user errors the CLI prints as `error: ...`."""

from __future__ import annotations

from sparsec.ir.diagnostics import SparsecError


class FrontendError(SparsecError):
    """The model cannot be loaded, traced or translated; the message says why and where."""


class UnsupportedOpsError(FrontendError):
    """The traced graph uses ATen ops with no sparsec translation (all of them are listed)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"the model uses {len(problems)} ATen op(s) sparsec cannot translate:\n"
                         f"{lines}")
