"""Atomic outputs: a result appears whole at its path, or not at all.

Everything is written to a temporary sibling ``.NAME.sparsec-PID-XXXX`` first and moved into
place only when complete, so a failure, Ctrl-C or SIGKILL never leaves a half-written result at
the path, and never destroys a previous good one:

- a file replaces the old one with ``rename``, which is atomic;
- a directory replaces the old one with ``renameat2(RENAME_EXCHANGE)`` (Linux): the two swap
  names in one step, then the temporary name, now holding the old directory, is removed. Where
  that call is missing, the old directory is moved aside first (a kill in between leaves it only
  at ``.NAME.sparsec-PID-XXXX-old``; the next write of NAME puts it back).

Temporaries carry the writer's process id. Each write removes the ones of NAME whose writer is
dead (a killed run's leftovers) and leaves those of live writers alone. Results get the
permissions the umask gives (``mkstemp`` alone would make them private).

Test hook: with ``SPARSEC_TEST_PAUSE_AT=POINT:MARKER`` in the environment, a write that reaches
POINT (``created``: temporary made, nothing in it; ``written``: temporary complete, not moved;
``exchanged``: new result in place, old one not yet removed) creates the file MARKER and sleeps,
so that a test can kill the process exactly there.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError

PAUSE_ENV = "SPARSEC_TEST_PAUSE_AT"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_ASIDE = "-old"  # suffix of an old directory moved aside (no renameat2)


@contextmanager
def atomic_path(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``."""
    target = Path(path).absolute()
    if not target.parent.is_dir():
        raise UserError(f"cannot write '{path}': folder '{target.parent}' does not exist")
    remove_stale_temps(target)
    try:
        temp = _make_temp(target, directory)
    except OSError as err:
        raise UserError(f"cannot write '{path}': {err.strerror}") from None
    try:
        _pause("created")
        yield temp
        _pause("written")
        _replace(temp, target)
    except BaseException:
        _remove(temp)
        raise


def _make_temp(target: Path, directory: bool) -> Path:
    """An empty file or directory beside ``target`` with the umask's permissions."""
    prefix = f".{target.name}.sparsec-{os.getpid()}-"
    if directory:
        temp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
        os.close(fd)
        temp = Path(name)
    temp.chmod((0o777 if directory else 0o666) & ~current_umask())
    return temp


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (threads may be creating
    files meanwhile), else by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _replace(temp: Path, target: Path) -> None:
    try:
        if temp.is_dir() and (target.exists() or target.is_symlink()):
            if target.is_symlink() or not target.is_dir():
                raise UserError(f"cannot write '{target}': it exists and is not a directory")
            _exchange(temp, target)  # now temp holds the old directory
            _pause("exchanged")
            _remove(temp)
        else:
            os.replace(temp, target)
    except OSError as err:
        raise UserError(f"cannot write '{target}': {err.strerror}") from None


def _exchange(temp: Path, target: Path) -> None:
    """Swap the names of two directories, atomically where the kernel can."""
    renameat2 = _renameat2()
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(temp), _AT_FDCWD, os.fsencode(target),
                     _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS):  # not: "this file system cannot"
            raise OSError(code, os.strerror(code))
    aside = temp.with_name(temp.name + _ASIDE)
    target.rename(aside)
    try:
        temp.rename(target)
    except OSError:
        aside.rename(target)
        raise
    aside.rename(temp)


def _renameat2() -> Callable[..., int] | None:
    """libc's ``renameat2`` (glibc 2.28+), or None elsewhere."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    return function


def remove_stale_temps(target: Path) -> None:
    """Remove the temporaries of ``target`` left by dead writers; put back an old directory a
    killed writer had moved aside, if nothing took its place."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.sparsec-(\d+)-[\w-]+")
    try:
        entries = sorted(os.scandir(target.parent), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _alive(int(match[1])):
            continue
        path = Path(entry.path)
        if entry.name.endswith(_ASIDE) and not (target.exists() or target.is_symlink()):
            path.rename(target)
        else:
            _remove(path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this one included; another user's counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pause(point: str) -> None:
    """The test hook of the module docstring."""
    wanted, _, marker = os.environ.get(PAUSE_ENV, "").partition(":")
    if wanted == point and marker:
        Path(marker).write_text(str(os.getpid()), encoding="ascii")
        time.sleep(3600)


def _remove(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a full disk is a ``UserError``)."""
    with atomic_path(path) as temp:
        try:
            temp.write_text(text, encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write '{path}': {err.strerror}") from None
