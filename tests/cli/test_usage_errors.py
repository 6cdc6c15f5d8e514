"""Usage errors of any command (unknown option, missing argument) are one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compile"], "error: sparsec compile: Missing argument 'MODEL'."),
        (["opt", "--no-such-flag"], "error: sparsec opt: No such option: --no-such-flag"),
        (["frobnicate"], "error: sparsec: No such command 'frobnicate'."),
        (["prune", "model-dir"], "error: sparsec prune: Missing option '-o'."),
    ],
)
def test_usage_errors_are_one_line(args, message):
    done = subprocess.run([sys.executable, "-m", "sparsec.cli", *args], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not done.stdout


def test_no_arguments_shows_the_help():
    done = subprocess.run([sys.executable, "-m", "sparsec.cli"], capture_output=True, text=True)
    assert "Commands" in done.stdout and "compile" in done.stdout and not done.stderr
