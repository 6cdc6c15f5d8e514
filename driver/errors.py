"""The CLI side of errors: the one place where an error becomes `error: ...` and exit status 1.

The errors themselves live in ``sparsec.ir.diagnostics`` (no CLI import there): the library
raises them, the commands run inside ``reported_errors``. ``UserError`` is the root class,
``SparsecError``, under the name the driver's code and older imports use.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sparsec.ir.diagnostics import SparsecError

UserError = SparsecError


def format_error(err: object) -> str:
    """``error: message``; a located error reads ``error: file:line:col: message``, then the
    source line and a caret."""
    return f"error: {str(err).rstrip()}"


@contextmanager
def reported_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Print any ``SparsecError`` (and ``kinds``) as ``format_error`` does and exit with 1."""
    try:
        yield
    except (SparsecError, *kinds) as err:
        print(format_error(err), file=sys.stderr)
        raise SystemExit(1) from None
