"""The lit configuration itself: a wrong CHECK line, a failing command or a crash must fail.

Each case is a file in a throwaway suite whose lit.cfg.py loads the real one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lit_runner import run_lit

LIT_CONFIG = Path(__file__).with_name("lit.cfg.py")


@pytest.fixture
def lit_file(tmp_path):
    (tmp_path / "lit.cfg.py").write_text(
        "import os\n"
        f"lit_config.load_config(config, {str(LIT_CONFIG)!r})\n"
        "config.test_source_root = os.path.dirname(__file__)\n"
    )

    def write(text: str) -> Path:
        path = tmp_path / "case.mlir"
        path.write_text(text)
        return path

    return write


def test_matching_check_passes(lit_file):
    passed, report = run_lit(lit_file("// RUN: echo hello | filecheck %s\n// CHECK: hello\n"))
    assert passed, report


def test_wrong_check_fails_with_the_output(lit_file):
    passed, report = run_lit(lit_file("// RUN: echo hello world | filecheck %s\n"
                                      "// CHECK: goodbye\n"))
    assert not passed
    assert "goodbye" in report and "hello world" in report


def test_every_run_line_runs(lit_file):
    text = "// RUN: true\n// RUN: echo second | filecheck %s\n// CHECK: first\n"
    passed, report = run_lit(lit_file(text))
    assert not passed and "echo second" in report


def test_pipefail_catches_a_failing_producer(lit_file):
    passed, _ = run_lit(lit_file("// RUN: false | cat\n"))
    assert not passed


@pytest.mark.parametrize(("command", "expected"), [
    ("not false", True),
    ("not true", False),
    ("not bash -c 'kill -9 $$'", False),  # a crash is not an expected failure
])
def test_not_inverts_the_exit_status(lit_file, command, expected):
    passed, report = run_lit(lit_file(f"// RUN: {command}\n"))
    assert passed is expected, report


def test_substitutions_and_continuation_lines(lit_file, tmp_path):
    text = (
        "// RUN: echo %%s > %t && cat %t \\\n"
        "// RUN:   | filecheck %s\n"
        "// CHECK: {{^}}%s\n"
        f"// RUN: test %S = {tmp_path}\n"
    )
    passed, report = run_lit(lit_file(text))
    assert passed, report


def test_sparsec_comes_from_this_venv(lit_file):
    venv_bin = Path(sys.executable).parent
    passed, report = run_lit(lit_file("// RUN: which sparsec | filecheck %s\n"
                                      f"// CHECK: {{{{^}}}}{venv_bin}/sparsec\n"))
    assert passed, report


def test_a_file_without_run_lines_fails(lit_file):
    passed, report = run_lit(lit_file("// CHECK: nothing runs this\n"))
    assert not passed and "UNRESOLVED" in report
