"""`sparsec demo` end to end on a tiny model: the summary names the CPU, outputs agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys

TINY = ["--layers", "1", "--hidden", "64", "--seq-len", "16", "--repeat", "1", "--threads", "1"]


def demo(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TVM_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sparsec.cli", "demo", *TINY, *args],
                          capture_output=True, text=True, env=env)


def test_tiny_demo_names_the_cpu_and_checks_the_outputs(tmp_path):
    from sparsec.codegen.target import parse_target

    cpu = parse_target("llvm").describe()
    out = tmp_path / "demo.sparsec"
    first = demo("-o", str(out))
    assert first.returncode == 0, first.stderr
    assert re.search(rf"; wrote {re.escape(str(out))} \([\d.]+ MB\) for {re.escape(cpu)} in ",
                     first.stdout), first.stdout
    for name in ("sparsec dense", "sparsec sparse"):
        error = re.search(rf"^{name}: max abs error vs PyTorch (\S+)$", first.stdout, re.M)
        assert error and float(error.group(1)) <= 1e-3, first.stdout
    assert (out / "manifest.json").is_file()
