"""Atomic outputs: a result appears whole at its path, or not at all.

Everything is written to a temporary sibling first and renamed into place
only when complete, so a failure or Ctrl-C never leaves a half-written file
or directory behind (and never destroys a previous good one).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError


@contextmanager
def atomic_path(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``."""
    target = Path(path).absolute()
    if not target.parent.is_dir():
        raise UserError(f"cannot write '{path}': folder '{target.parent}' does not exist")
    prefix = f".{target.name}.sparsec-"
    try:
        if directory:
            temp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
            os.close(fd)
            temp = Path(name)
    except OSError as err:
        raise UserError(f"cannot write '{path}': {err.strerror}") from None
    try:
        yield temp
        _replace(temp, target)
    except BaseException:
        _remove(temp)
        raise


def _replace(temp: Path, target: Path) -> None:
    if temp.is_dir() and target.exists():
        if not target.is_dir():
            raise UserError(f"cannot write '{target}': it exists and is not a directory")
        old = target.with_name(f".{target.name}.sparsec-old")
        _remove(old)
        target.rename(old)
        temp.rename(target)
        _remove(old)
    else:
        os.replace(temp, target)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
