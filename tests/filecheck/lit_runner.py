"""Run lit on one FileCheck test file: shared by the pytest collector (conftest.py) and the
tests of the lit configuration (test_harness.py). A module of its own, as ``conftest`` is not
a unique module name when pytest collects several test folders at once."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

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
