"""One artifact for every batch and sequence length, against one compiled for each shape.

    python benchmarks/dynamic_shapes.py                       # BERT-base, 90 % in 32x1 blocks
    python benchmarks/dynamic_shapes.py --layers 2 --seqs 16,64 --batches 1 --repeat 6

The seeded BERT (``--layers``, ``--hidden``) is pruned to ``--sparsity`` in ``--block``
blocks and compiled once with ``--batch 1..MAX --seq-len 1..MAX`` (the dynamic artifact),
then, for every shape of ``--batches`` x ``--seqs``, compiled again for exactly that shape
(the static artifact). At each shape three workers, each a process of its own with the same
threads and inputs (a padded attention mask: the last quarter of every sequence but the
first is padding), are checked against PyTorch (max abs error <= 1e-3) and timed in
interleaved rounds (``peers/pool.py``): the dynamic artifact, the static one, and PyTorch
eager. The table gives each median, dynamic / static (issue 14's target: <= 1.15) and the
speedup of both over PyTorch. Writes ``dynamic.csv``/``.json``/``.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # the peers/ package beside this file

from peers import engines, pool, report
from peers.report import md_table

from sparsec.commands.bench import max_abs_error
from sparsec.ir.bsr import parse_block_shape

TOLERANCE = 1e-3
TARGET_RATIO = 1.15
RESULTS = Path(__file__).parent / "results" / "dynamic"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--block", default="32x1")
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--seqs", default="16,64,128,384")
    parser.add_argument("--repeat", type=int, default=30,
                        help="timed calls per worker at 128 tokens; fewer for larger shapes")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds the calls are split into (and the fewest calls)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--target", default="llvm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import torch

    from sparsec.frontend.models import seeded_bert
    from sparsec.frontend.prune import prunable_weights, prune_state

    args = parse_args(argv)
    batches, seqs = ([int(v) for v in text.split(",")] for text in (args.batches, args.seqs))
    model = seeded_bert(args.layers, args.hidden, args.seed, max_positions=max(512, *seqs))
    state = dict(model.named_parameters())
    prune_state(state, prunable_weights(state, "all"), parse_block_shape(args.block),
                args.sparsity)
    env = {"OMP_NUM_THREADS": str(args.threads), "TVM_NUM_THREADS": str(args.threads),
           "HF_HUB_OFFLINE": "1", **engines.QUIET_ENV}
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sparsec-dynamic-") as folder:
        work = Path(folder)
        torch.save(model.state_dict(), work / "state.pt")
        base = {"state": str(work / "state.pt"), "threads": args.threads, "layers": args.layers,
                "hidden": args.hidden, "seed": args.seed, "max_positions": max(512, *seqs),
                "target": args.target, "sparsity": True, "block_shape": args.block}
        dynamic, compile_s = compile_dynamic(model, args, batches, seqs, work / "dynamic.sparsec")
        print(f"dynamic artifact (batch 1..{max(batches)}, seq 1..{max(seqs)}) compiled in "
              f"{compile_s:.0f} s", flush=True)
        rows = [measure_shape(model, args, base, env, work, dynamic, batch, seq)
                for batch in batches for seq in seqs]
    from sparsec.codegen.target import host_cpu

    info = {"machine": report.machine(env), "llvm_cpu": host_cpu(),
            "load_average": [load_start, os.getloadavg()[0]],
            "threads": args.threads, "target": args.target, "model": f"BERT L{args.layers} "
            f"H{args.hidden}, {args.sparsity:.0%} in {args.block} blocks",
            "dynamic_compile_s": round(compile_s, 1), "command": " ".join(["python", *sys.argv])}
    write_reports(args.out, rows, info)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def compile_dynamic(model, args, batches, seqs, path: Path) -> tuple[Path, float]:
    """The one artifact for every shape (compiled here: nothing is timed in this process)."""
    from sparsec.compiler import CompileOptions, compile_model, write_artifact

    options = CompileOptions(target=args.target, threads=args.threads, block_shape=args.block,
                             batch=(1, max(batches)), seq_len=(1, max(seqs)))
    start = time.perf_counter()
    write_artifact(compile_model(model, None, options), path)
    return path, time.perf_counter() - start


def padded_inputs(model, batch: int, seq: int, seed: int) -> dict[str, np.ndarray]:
    """Random token ids; every sequence but the first has its last quarter padded."""
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, seq), np.int64)
    mask[1:, seq - seq // 4:] = 0
    return {"input_ids": rng.integers(0, model.config.vocab_size, (batch, seq)),
            "attention_mask": mask, "token_type_ids": np.zeros((batch, seq), np.int64)}


def measure_shape(model, args, base: dict, env: dict, work: Path, dynamic: Path, batch: int,
                  seq: int) -> dict:
    """Check and time the dynamic artifact, a static one and PyTorch at one shape."""
    import torch

    folder = work / f"b{batch}-s{seq}"
    folder.mkdir()
    inputs = padded_inputs(model, batch, seq, args.seed)
    np.savez(folder / "inputs.npz", **inputs)
    with torch.no_grad():
        reference = [t.numpy() for t in model(**{k: torch.from_numpy(v)
                                                 for k, v in inputs.items()}).to_tuple()]
    spec = {**base, "inputs": str(folder / "inputs.npz")}
    plans = {"dynamic": ("artifact_worker.py", {"artifact": str(dynamic)}),
             "static": ("sparsec_worker.py", {"artifact": str(folder / "static.sparsec")}),
             "PyTorch eager": ("pytorch_worker.py", {})}
    row = {"batch": batch, "seq": seq, "status": "ok"}
    workers: dict[str, pool.Worker] = {}
    try:
        for name, (script, extra) in plans.items():
            stem = name.split()[0].lower()
            worker = pool.start(name, sys.executable, script,
                                {**spec, **extra, "outputs": str(folder / f"{stem}.out.npz")},
                                folder, env)
            workers[name] = worker
            with np.load(folder / f"{stem}.out.npz") as archive:
                outputs = [archive[f"arr_{i}"] for i in range(len(archive.files))]
            row[f"{stem}_error"] = max_abs_error(reference, outputs)
            if not row[f"{stem}_error"] <= TOLERANCE:
                row["status"] = f"FAILED: {name} max abs error {row[f'{stem}_error']:.3g}"
        repeat = max(args.rounds, round(args.repeat * 128 / (batch * seq)))
        timings = pool.time_interleaved(workers, repeat, rounds=args.rounds)
    except pool.WorkerError as err:
        row["status"] = f"FAILED: {' '.join(str(err).split())}"
        return row
    finally:
        for worker in workers.values():
            worker.stop()
    static_compile = workers["static"].info.get("compile_s")
    row |= {"dynamic_ms": 1e3 * timings["dynamic"].median,
            "static_ms": 1e3 * timings["static"].median,
            "torch_ms": 1e3 * timings["PyTorch eager"].median, "calls": repeat,
            "static_compile_s": static_compile}
    row["dynamic_over_static"] = row["dynamic_ms"] / row["static_ms"]
    print(f"batch {batch} seq {seq}: dynamic {row['dynamic_ms']:.1f} ms, static "
          f"{row['static_ms']:.1f} ms ({row['dynamic_over_static']:.2f}x), PyTorch "
          f"{row['torch_ms']:.1f} ms", flush=True)
    return row


COLUMNS = ["batch", "seq", "dynamic_ms", "static_ms", "dynamic_over_static", "torch_ms",
           "dynamic_vs_torch", "static_vs_torch", "static_compile_s", "calls", "status"]


def records(rows: list[dict]) -> list[dict[str, str]]:
    out = []
    for row in rows:
        ok = row["status"] == "ok"
        out.append({
            "batch": str(row["batch"]), "seq": str(row["seq"]),
            "dynamic_ms": f"{row['dynamic_ms']:.1f}" if ok else "",
            "static_ms": f"{row['static_ms']:.1f}" if ok else "",
            "dynamic_over_static": f"{row['dynamic_over_static']:.2f}x" if ok else "",
            "torch_ms": f"{row['torch_ms']:.1f}" if ok else "",
            "dynamic_vs_torch": f"{row['torch_ms'] / row['dynamic_ms']:.2f}x" if ok else "",
            "static_vs_torch": f"{row['torch_ms'] / row['static_ms']:.2f}x" if ok else "",
            "static_compile_s": f"{row.get('static_compile_s') or 0:.0f}",
            "calls": str(row.get("calls", "")), "status": row["status"]})
    return out


def write_reports(out: Path, rows: list[dict], info: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table = records(rows)
    with open(out / "dynamic.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows(table)
    (out / "dynamic.json").write_text(json.dumps({"info": info, "rows": rows}, indent=2) + "\n")
    cpu, (start, end) = info["machine"], info["load_average"]
    versions = ", ".join(f"{k} {v}" for k, v in cpu["versions"].items() if v != "not installed")
    header = [f"- CPU: {cpu['cpu']} ({cpu['cores']} cores; LLVM CPU {info['llvm_cpu']}), "
              f"target `{info['target']}`, {info['threads']} threads",
              f"- model: {info['model']}; the dynamic artifact compiled once in "
              f"{info['dynamic_compile_s']} s",
              f"- load average {start:.2f} at the start, {end:.2f} at the end",
              f"- versions: {versions}", f"- rerun: `{info['command']}`",
              f"- dynamic / static target: <= {TARGET_RATIO}x; speedups are over PyTorch eager"]
    body = md_table(COLUMNS, [[r[c] for c in COLUMNS] for r in table])
    (out / "dynamic.md").write_text("\n".join(["# One dynamic artifact vs one per shape", "",
                                               *header, "", body, ""]))
    print(body)


if __name__ == "__main__":
    sys.exit(main())
