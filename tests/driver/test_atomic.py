"""Atomic outputs (driver/atomic.py): permissions from the umask, stale temporaries of dead
writers removed, directories replaced in one step, and real compiles SIGKILLed while they
replace an artifact leave a whole artifact, old or new, at the output path."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

import sparsec
import sparsec.atomic as atomic
import sparsec.codegen.target as target_module
from sparsec.artifact import CHECKSUMS, MANIFEST, read_manifest, verify_checksums
from sparsec.atomic import PAUSE_ENV, atomic_path, write_text
from sparsec.commands.opt import write_atomically
from sparsec.errors import UserError

FOREIGN_TARGET = "llvm -mcpu=x86-64 -mattr=+amx-tile"  # builds on any x86 host, runs on few


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_outputs_follow_the_umask(tmp_path, umask):
    """mkstemp/mkdtemp make 0600/0700; results get what open() and mkdir() would give
    (`run -o`, `prune -o`, `--plot`, `--dump-ir`, the artifact; `import -o` and `opt -o`)."""
    old = os.umask(umask)
    try:
        write_text(tmp_path / "out.txt", "text\n")
        write_atomically(str(tmp_path / "out.mlir"), "module\n")
        with atomic_path(tmp_path / "out.d", directory=True) as temp:
            (temp / "inner").write_text("x")
        assert atomic.current_umask() == umask
    finally:
        os.umask(old)
    assert mode(tmp_path / "out.txt") == mode(tmp_path / "out.mlir") == 0o666 & ~umask
    assert mode(tmp_path / "out.d") == 0o777 & ~umask


def finished_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    dead = finished_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / f".out.sparsec-{dead}-k2j4_x").mkdir()
        (tmp_path / f".out.sparsec-{dead}-k2j4_x" / "model.so").write_bytes(b"half")
        (tmp_path / f".out.sparsec-{dead}-a9b8c7").write_bytes(b"")
        kept = [f".out.sparsec-{live.pid}-zz11yy", f".other.sparsec-{dead}-abcdef",
                ".out.sparsec-notapid"]
        for name in kept:
            (tmp_path / name).mkdir()
        with atomic_path(tmp_path / "out", directory=True) as temp:
            assert f".out.sparsec-{os.getpid()}-" in temp.name
            (temp / "a").write_text("new")
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", *kept])


@pytest.mark.parametrize("exchange", ["renameat2", "fallback"])
def test_a_directory_is_replaced_whole(tmp_path, monkeypatch, exchange):
    if exchange == "fallback":
        monkeypatch.setattr(atomic, "_renameat2", lambda: None)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old-only").write_text("old")
    with atomic_path(out, directory=True) as temp:
        (temp / "new-only").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["new-only"]


def test_an_old_directory_moved_aside_by_a_killed_writer_is_put_back(tmp_path, monkeypatch):
    """Without renameat2 a kill between the two renames leaves OUT only at its -old name."""
    aside = tmp_path / f".out.sparsec-{finished_pid()}-abcdef-old"
    aside.mkdir()
    (aside / "old-only").write_text("old")
    with pytest.raises(UserError, match="disk full"), atomic_path(tmp_path / "out",
                                                                  directory=True):
        raise UserError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out" / "old-only").read_text() == "old"


def test_a_file_cannot_replace_a_directory(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(UserError, match=r"cannot write '.*out': Is a directory"):
        write_text(tmp_path / "out", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- SIGKILL at chosen points of a real compile ------------------------------------------------

# point -> which artifact must be at OUT after the kill
KILL_POINTS = {"created": "old", "written": "old", "exchanged": "new"}


def compile_until_killed(model, out, point: str, marker) -> int:
    """Run `sparsec compile MODEL -o OUT` until the atomic write pauses at ``point``, then
    SIGKILL it; returns its process id."""
    log = marker.with_suffix(".log")
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sparsec.cli", "compile", str(model), "-o", str(out),
             "--seq-len", "16", "--threads", "2", "--no-sparsity", "--target", FOREIGN_TARGET],
            stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, PAUSE_ENV: f"{point}:{marker}", "TVM_NUM_THREADS": "2"})
        deadline = time.monotonic() + 900
        while not marker.exists():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the compile never reached the pause point"
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    return process.pid


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_compile_killed_while_replacing_leaves_a_whole_artifact(point, dense_artifact,
                                                                  tiny_bert, tmp_path):
    """The new artifact is built for a CPU this machine is not (AMX), as compiling for another
    CPU is allowed: where it lands at OUT, `sparsec run` must refuse it in one line."""
    out = tmp_path / "out.sparsec"
    shutil.copytree(dense_artifact, out)
    old = (out / CHECKSUMS).read_text()
    pid = compile_until_killed(tiny_bert, out, point, tmp_path / "paused")

    verify_checksums(out)  # whole, whichever it is
    assert ((out / CHECKSUMS).read_text() == old) == (KILL_POINTS[point] == "old")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.sparsec.")]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".out.sparsec.sparsec-{pid}-")
    if KILL_POINTS[point] == "new":
        assert read_manifest(out).cpu_features == ("amx-tile", "sse", "sse2")
        if "amx_tile" not in target_module.host_cpu_flags():
            result = subprocess.run([sys.executable, "-m", "sparsec.cli", "run", str(out)],
                                    capture_output=True, text=True, timeout=600)
            assert result.returncode == 1, result.stderr[-2000:]
            assert result.stderr.strip().startswith(f"error: artifact '{out}' needs CPU "
                                                    "features this machine lacks: amx-tile")

    sparsec.load(dense_artifact).save(out)  # the next write removes the dead writer's temp
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert (out / CHECKSUMS).read_text() == old and (out / MANIFEST).is_file()
