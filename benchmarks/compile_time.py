"""Compile time and inference time of a BERT built by sparsec, next to PyTorch eager.

    TVM_NUM_THREADS=2 python benchmarks/compile_time.py                  # BERT-base, dense + 90 %
    TVM_NUM_THREADS=2 python benchmarks/compile_time.py --layers 2 --hidden 64 --heads 4 --seq 16

For each variant (dense, and block-pruned to ``--sparsity`` in ``--block`` blocks), the model is
built from a config with random weights, imported, run through the pass pipeline and compiled;
the script prints the time of each build stage, the median inference time of the compiled model
and of PyTorch eager in the same run (both on ``--threads`` threads), the largest difference of
their outputs, and where the compiled model's time goes per kernel family (VM profiler).
The machine may be shared: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
import transformers
import tvm
from tvm import relax

from sparsec.codegen.build import build_module
from sparsec.codegen.target import parse_target
from sparsec.frontend import import_model
from sparsec.frontend.prune import prunable_weights, prune_state
from sparsec.ir.bsr import parse_block_shape
from sparsec.passes import PassManager, parse_pipeline

PIPELINE = "canonicalize,cse,sparsity-analysis,block-shape-selection{force=%s},sparsify,fusion,dce"


def make_model(args: argparse.Namespace, sparsity: float) -> torch.nn.Module:
    torch.manual_seed(0)
    config = transformers.BertConfig(
        num_hidden_layers=args.layers, hidden_size=args.hidden, num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden, vocab_size=args.vocab)
    model = transformers.BertModel(config).eval()
    if sparsity:
        state = model.state_dict()
        prune_state(state, prunable_weights(state), parse_block_shape(args.block), sparsity)
    return model


def median_seconds(run, repeat: int) -> float:
    run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile_families(vm: relax.VirtualMachine, args: list, runs: int = 5) -> dict[str, float]:
    """Milliseconds per kernel family (PrimFunc name without its numbering) per inference, timed
    around every call the VM makes (so it includes a little Python overhead per call)."""
    totals: dict[str, float] = defaultdict(float)
    started: list[float] = []

    def instrument(func, symbol, before_run, ret_value, *call_args) -> int:
        if before_run:
            started.append(time.perf_counter())
        else:
            totals[re.sub(r"\d+", "", str(symbol))] += (time.perf_counter() - started.pop()) * 1e3
        return 0

    vm["main"](*args)  # warm-up
    vm.set_instrument(instrument)
    for _ in range(runs):
        vm["main"](*args)
    vm.set_instrument(None)
    return {name: ms / runs for name, ms in sorted(totals.items(), key=lambda item: -item[1])}


def bench(args: argparse.Namespace, label: str, sparsity: float, target) -> None:
    model = make_model(args, sparsity)
    start = time.perf_counter()
    module = import_model(model, seq_len=args.seq)
    imported = time.perf_counter()
    force = args.block if sparsity else "dense"
    PassManager(parse_pipeline(PIPELINE % force)).run(module)
    passes = time.perf_counter()
    stages: dict[str, float] = {}
    last = [time.perf_counter(), None]

    def progress(stage: str) -> None:
        now = time.perf_counter()
        if last[1] is not None:
            stages[last[1]] = now - last[0]
        last[:] = [now, stage]

    built = build_module(module, target, progress=progress)
    progress("done")
    print(f"\n== {label}: import {imported - start:.1f} s, passes {passes - imported:.1f} s, "
          + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
          + f" -> codegen total {sum(stages.values()):.2f} s")
    print(f"   kernels: {built.kernels}")

    rng = np.random.default_rng(0)
    ids = rng.integers(0, args.vocab, (1, args.seq)).astype(np.int64)
    mask = np.ones((1, args.seq), np.int64)
    types = np.zeros((1, args.seq), np.int64)
    device = tvm.cpu()
    vm = relax.VirtualMachine(built.executable, device)
    tensors = [tvm.runtime.tensor(a, device) for a in [ids, mask, types, *built.params]]
    ours = median_seconds(lambda: vm["main"](*tensors), args.repeat)
    outputs = [o.numpy() for o in vm["main"](*tensors)]
    torch_inputs = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
                    "token_type_ids": torch.tensor(types)}
    with torch.no_grad():
        eager = median_seconds(lambda: model(**torch_inputs), args.repeat)
        expected = model(**torch_inputs).last_hidden_state.numpy()
    error = float(np.abs(outputs[0] - expected).max())
    print(f"   inference: sparsec {ours * 1e3:.2f} ms, torch eager {eager * 1e3:.2f} ms, "
          f"speedup {eager / ours:.2f}x, max abs error {error:.2e}")
    families = profile_families(vm, tensors)
    total = sum(families.values())
    print("   time per kernel (profiled run): " + ", ".join(
        f"{name} {ms:.2f} ms ({100 * ms / total:.0f}%)" for name, ms in families.items()
        if ms / total >= 0.01))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=30522)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--block", default="32x1")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--target", default="llvm")
    args = parser.parse_args()
    os.environ.setdefault("TVM_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    target = parse_target(args.target, num_threads=args.threads)
    print(f"target {target}, {args.threads} threads, BERT {args.layers} layers, hidden "
          f"{args.hidden}, seq {args.seq}")
    bench(args, "dense", 0.0, target)
    if args.sparsity:
        bench(args, f"pruned {args.sparsity:.0%} in {args.block} blocks", args.sparsity, target)


if __name__ == "__main__":
    main()
