"""`benchmarks/thread_scaling.py` switches TVM's pool call by call and reports each count.

No speed is asserted (the machine is shared): only that every round ran each thread count on a
pool of that size (the script refuses otherwise) and printed its lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import sparsec

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "thread_scaling.py"


def test_rounds_time_every_thread_count(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU()).eval()
    artifact = tmp_path / "mlp.sparsec"
    sparsec.compile(model, (torch.randn(8, 64),), sparsity=False, threads=2).save(artifact)
    result = subprocess.run([sys.executable, str(SCRIPT), str(artifact), "--threads", "1,2",
                             "--calls", "2", "--rounds", "2"], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "TVM_NUM_THREADS": "2"})
    assert result.returncode == 0, result.stdout + result.stderr
    rounds = re.findall(r"round \d: 1 threads [\d.]+ ms \(1\.00x\), 2 threads [\d.]+ ms",
                        result.stdout)
    assert len(rounds) == 2, result.stdout
    assert re.search(r"median speedup over the rounds: 1 threads 1\.00x, 2 threads [\d.]+x",
                     result.stdout)


def test_bad_counts_are_refused() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "missing.sparsec", "--threads", "0,2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--threads" in result.stderr.splitlines()[-1]
