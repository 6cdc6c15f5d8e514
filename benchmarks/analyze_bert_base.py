"""How long `sparsec analyze` takes on BERT-base with 90 % of every encoder linear pruned.

    /work/venv/bin/python benchmarks/analyze_bert_base.py [--workdir DIR] [--threads 2]

Builds BERT-base (12 layers, hidden 768, random weights, seed 0), prunes every
encoder linear to 90 % sparsity in 32x1 blocks (block L2 norm, the top 10 % of
blocks of each weight kept), saves it with ``save_pretrained``, then runs
``sparsec analyze`` on it (and ``--json``) and prints the table and the
analysis time (the sparsity passes only; the model import is timed apart).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers

BLOCK = (32, 1)  # output rows x input columns of a torch [out, in] weight
KEEP = 0.10


def prune_blocks(weight: torch.Tensor, block: tuple[int, int], keep: float) -> torch.Tensor:
    """``weight`` with all but its ``keep`` fraction of highest-L2-norm blocks set to zero."""
    rows, cols = block
    n, k = weight.shape
    blocks = weight.reshape(n // rows, rows, k // cols, cols)
    norms = blocks.pow(2).sum(dim=(1, 3))
    kept = max(1, round(keep * norms.numel()))
    threshold = norms.flatten().topk(kept).values[-1]
    mask = (norms >= threshold)[:, None, :, None]
    return (blocks * mask).reshape(n, k)


def pruned_bert_base(path: Path) -> None:
    torch.manual_seed(0)
    model = transformers.BertModel(transformers.BertConfig()).eval()
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.startswith("encoder.") and isinstance(module, torch.nn.Linear):
                module.weight.copy_(prune_blocks(module.weight, BLOCK, KEEP))
    model.save_pretrained(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="keep the pruned model here (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "COLUMNS": "240"}
    with tempfile.TemporaryDirectory() as temp:
        path = Path(args.workdir or temp) / "bert-base-pruned-32x1"
        pruned_bert_base(path)
        command = [sys.executable, "-m", "sparsec.cli", "analyze", str(path), "--cost-model",
                   "analytic"]
        table = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        print(table.stdout)
        report = json.loads(subprocess.run([*command, "--json"], env=env, capture_output=True,
                                           text=True, check=True).stdout)
        timing, summary = report["timing"], report["summary"]
        print(f"analysis (sparsity-analysis + block-shape-selection, "
              f"{len(report['settings']['block_shapes'])} candidate shapes, "
              f"{summary['linears']} linears): {timing['analysis_seconds']:.2f} s; "
              f"import {timing['import_seconds']:.2f} s")


if __name__ == "__main__":
    main()
