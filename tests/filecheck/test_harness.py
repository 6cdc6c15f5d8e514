"""The FileCheck harness itself: a wrong CHECK line, a failing command or a crash must fail."""

from __future__ import annotations

import pytest


@pytest.fixture
def mlir_file(tmp_path):
    def write(text: str):
        path = tmp_path / "case.mlir"
        path.write_text(text)
        return path

    return write


def test_matching_check_passes(filecheck_run, mlir_file):
    passed, _ = filecheck_run(mlir_file("// RUN: echo hello | filecheck %s\n// CHECK: hello\n"))
    assert passed


def test_wrong_check_fails_with_the_output(filecheck_run, mlir_file):
    passed, transcript = filecheck_run(
        mlir_file("// RUN: echo hello world | filecheck %s\n// CHECK: goodbye\n")
    )
    assert not passed
    assert "goodbye" in transcript and "echo hello world" in transcript


def test_every_run_line_runs(filecheck_run, mlir_file):
    text = "// RUN: true\n// RUN: echo second | filecheck %s\n// CHECK: first\n"
    passed, transcript = filecheck_run(mlir_file(text))
    assert not passed and "echo second" in transcript


def test_pipefail_catches_a_failing_producer(filecheck_run, mlir_file):
    passed, _ = filecheck_run(mlir_file("// RUN: false | cat\n"))
    assert not passed


@pytest.mark.parametrize(("command", "expected"), [
    ("not false", True),
    ("not true", False),
    ("not bash -c 'kill -9 $$'", False),  # a crash is not an expected failure
])
def test_not_inverts_the_exit_status(filecheck_run, mlir_file, command, expected):
    passed, _ = filecheck_run(mlir_file(f"// RUN: {command}\n"))
    assert passed is expected


def test_substitutions_and_continuation_lines(filecheck_run, mlir_file, tmp_path):
    text = (
        "// RUN: echo %%s > %t && cat %t \\\n"
        "// RUN:   | filecheck %s\n"
        "// CHECK: {{^}}%s\n"
        "// RUN: test %S = " + str(tmp_path) + "\n"
    )
    passed, transcript = filecheck_run(mlir_file(text))
    assert passed, transcript


def test_sparsec_comes_from_this_venv(filecheck_run, mlir_file):
    passed, transcript = filecheck_run(mlir_file("// RUN: command -v sparsec | filecheck %s\n"
                                                 "// CHECK: /bin/sparsec\n"))
    assert passed, transcript


def test_a_file_without_run_lines_fails(filecheck_run, mlir_file):
    passed, transcript = filecheck_run(mlir_file("// CHECK: nothing runs this\n"))
    assert not passed and "no RUN line" in transcript
