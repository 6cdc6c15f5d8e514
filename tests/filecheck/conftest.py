"""Run the FileCheck suite from pytest: one item per ``.mlir`` file, run by lit.

lit itself reads the RUN lines (``lit.cfg.py`` configures it), so ``lit tests/filecheck`` and
``python -m pytest tests/filecheck`` run the same tests; a failing item shows lit's report
(each command, its output and exit status).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TIMEOUT_SECONDS = 600
LIT = [sys.executable, "-c", "import sys; from lit.main import main; sys.exit(main())"]


def run_lit(path: Path) -> tuple[bool, str]:
    """Run lit on one test file (``%t`` under a fresh folder); (passed, lit's report)."""
    with tempfile.TemporaryDirectory(prefix="sparsec-lit-") as exec_root:
        result = subprocess.run(
            [*LIT, "-v", "--param", f"exec_root={exec_root}", str(path)],
            capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
        )
    return result.returncode == 0, result.stdout + result.stderr


class LitFailure(Exception):
    """lit reported the test as failed; carries its report."""


class MlirFile(pytest.File):
    def collect(self):
        yield MlirTest.from_parent(self, name=self.path.name)


class MlirTest(pytest.Item):
    def runtest(self) -> None:
        passed, report = run_lit(self.path)
        if not passed:
            raise LitFailure(report)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, LitFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"lit: {self.path.name}"


def pytest_collect_file(parent, file_path: Path):
    if file_path.suffix == ".mlir":
        return MlirFile.from_parent(parent, path=file_path)
    return None
