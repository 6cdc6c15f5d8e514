"""`benchmarks/artifact_ab.py` times artifacts against each other in alternating calls.

No speed is asserted (the machine is shared): only that every window timed every artifact, the
summary names each with its speedup over the first (1.000x for the first itself), and bad
arguments are refused in one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import sparsec

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "artifact_ab.py"


def mlp_artifact(path: Path, width: int) -> Path:
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(width, 64), torch.nn.ReLU()).eval()
    sparsec.compile(model, (torch.randn(8, width),), sparsity=False, threads=2).save(path)
    return path


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TVM_NUM_THREADS": "2"})


def test_every_window_times_every_artifact(tmp_path: Path) -> None:
    first, second = (mlp_artifact(tmp_path / f"{name}.sparsec", 64) for name in "ab")
    result = run(str(first), str(second), "--seconds", "1", "--window", "0.25")
    assert result.returncode == 0, result.stdout + result.stderr
    windows = re.findall(r"^window \d+: [\d.]+ ms  [\d.]+ ms$", result.stdout, re.MULTILINE)
    assert len(windows) >= 3, result.stdout
    assert re.search(rf"^{re.escape(str(first))}: median [\d.]+ ms, speedup over the first "
                     rf"1\.000x \(1\.000-1\.000x\) in {len(windows)} windows$", result.stdout,
                     re.MULTILINE)
    assert re.search(rf"^{re.escape(str(second))}: median [\d.]+ ms, speedup over the first "
                     r"[\d.]+x \([\d.]+-[\d.]+x\)", result.stdout, re.MULTILINE)


def test_artifacts_with_other_inputs_are_refused(tmp_path: Path) -> None:
    first = mlp_artifact(tmp_path / "a.sparsec", 64)
    other = mlp_artifact(tmp_path / "b.sparsec", 32)
    result = run(str(first), str(other), "--seconds", "1", "--window", "0.5")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the artifacts take different inputs; an A/B needs the same")


def test_bad_arguments_are_refused_in_one_line(tmp_path: Path) -> None:
    for arguments, words in [(["one.sparsec"], "two or more"),
                             (["a.sparsec", "b.sparsec", "--window", "5", "--seconds", "1"],
                              "--window"),
                             (["a.sparsec", "b.sparsec"], "no such artifact: a.sparsec")]:
        result = run(*arguments)
        assert result.returncode == 2 and words in result.stderr.splitlines()[-1], result.stderr
