"""User-facing errors: one line, a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer


class UserError(Exception):
    """Bad input from the user (file, IR text, model, option); the message says what and where."""


@contextmanager
def reported_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn ``UserError`` (and ``kinds``) into `error: ...` on stderr and exit code 1."""
    try:
        yield
    except (UserError, *kinds) as err:
        print(f"error: {err}", file=sys.stderr)
        raise typer.Exit(1) from None

