"""Collect every ``.mlir`` file under tests/filecheck as a lit-style test.

A file's ``// RUN:`` lines (a trailing ``\\`` continues one onto the next) run
with bash, ``set -o pipefail``, in the file's folder:

    // RUN: sparsec opt %s -p canonicalize --split-input-file | filecheck %s
    // RUN: not sparsec opt %s -p nosuchpass 2>&1 | filecheck %s --check-prefix=ERR

Substitutions: ``%s`` the file, ``%S`` its folder, ``%t`` a temporary path
(one per file, as in lit; not created), ``%%`` a literal ``%``. The venv's
bin folder comes first on PATH, and ``not CMD`` succeeds when CMD exits with
a (non-signal) failure. The test fails with the command and all it printed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

RUN_PREFIX = re.compile(r"^\s*//\s*RUN:\s?(.*)$")
TIMEOUT_SECONDS = 120

# `not` inverts an exit status, as LLVM's does; a crash (killed by a signal) still fails.
NOT_HELPER = """
not() {
  "$@"
  local status=$?
  [ "$status" -ne 0 ] && [ "$status" -lt 128 ]
}
"""


def run_lines(path: Path) -> list[str]:
    """The RUN commands of ``path``, continuation lines joined."""
    commands, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        match = RUN_PREFIX.match(line)
        if match is None:
            continue
        text = match.group(1).rstrip()
        if text.endswith("\\"):
            pending += text[:-1] + " "
        else:
            commands.append(pending + text)
            pending = ""
    if pending:
        commands.append(pending)
    return commands


def substitute(command: str, path: Path, temp: Path) -> str:
    """Expand %s, %S, %t and %% (one left-to-right scan, so %% never spawns another)."""
    table = {
        "%s": shlex.quote(str(path)),
        "%S": shlex.quote(str(path.parent)),
        "%t": shlex.quote(str(temp)),
        "%%": "%",
    }
    return re.sub(r"%[sSt%]", lambda m: table[m.group(0)], command)


def run_file(path: Path) -> tuple[bool, str]:
    """Run every RUN line of ``path``; (passed, a transcript of what ran and printed)."""
    commands = run_lines(path)
    if not commands:
        return False, f"{path} has no RUN line"
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    transcript = []
    with tempfile.TemporaryDirectory(prefix="filecheck-") as temp_dir:
        temp = Path(temp_dir) / f"{path.stem}.tmp"
        for command in commands:
            script = substitute(command, path, temp)
            result = subprocess.run(
                ["bash", "-c", f"set -o pipefail\n{NOT_HELPER}\n{script}"],
                cwd=path.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
            transcript.append(f"$ {script}\n{result.stdout}{result.stderr}")
            if result.returncode != 0:
                transcript.append(f"(exit status {result.returncode})")
                return False, "\n".join(transcript)
    return True, "\n".join(transcript)


class FileCheckFailure(Exception):
    """A RUN line failed; carries the transcript."""


class MlirFile(pytest.File):
    def collect(self):
        yield MlirTest.from_parent(self, name=self.path.name)


class MlirTest(pytest.Item):
    def runtest(self) -> None:
        passed, transcript = run_file(self.path)
        if not passed:
            raise FileCheckFailure(transcript)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, FileCheckFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"filecheck: {self.path.name}"


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix == ".mlir":
        return MlirFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def filecheck_run():
    """``run_file`` itself, so the harness can be tested on files it did not collect."""
    return run_file
