"""Run the FileCheck suite from pytest: one item per ``.mlir`` file, run by lit.

lit itself reads the RUN lines (``lit.cfg.py`` configures it), so ``lit tests/filecheck`` and
``python -m pytest tests/filecheck`` run the same tests; a failing item shows lit's report
(each command, its output and exit status).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lit_runner import run_lit


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
