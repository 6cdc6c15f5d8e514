"""Kernel throughput: sparsec's BSR and dense linear kernels next to torch's dense linear.

    python benchmarks/kernel_speed.py                  # M=128, K=768, N in {768, 3072}, 2 threads
    python benchmarks/kernel_speed.py --n 768 --blocks 32x1,1x1 --sparsity 0.9 --repeat 50
    TVM_NUM_THREADS=4 python benchmarks/kernel_speed.py  # torch and TVM both on 4 threads
    TVM_NUM_THREADS=1 python benchmarks/kernel_speed.py --cpu-time  # one core, CPU time
    python benchmarks/kernel_speed.py --target "llvm -mcpu=znver3" --baseline-isa avx2
                                      # AVX2 code and an AVX2 torch on an AVX-512 host

For every N, in one run on the same threads: ``torch.nn.functional.linear`` on the dense weight
(GFLOP/s = 2·M·N·K / t), sparsec's dense GEMM (same formula), and the BSR kernel for every
block shape × sparsity (effective GFLOP/s = 2·M·nnz / t, nnz = stored block elements), each with
its ratio to torch's dense GFLOP/s. Each figure is the median of ``--repeat`` timed calls after
warm-up; torch is timed before and after the sparsec kernels of each N and the median of both
is the reference. The machine may be shared: compare ratios, not absolute times.
Prints a table and writes ``benchmarks/results/kernels.csv``. (Not named ``kernels.py``: a
script's folder comes first on ``sys.path``, and that name hid Hugging Face's ``kernels``
package from transformers in every script here.)
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TVM_NUM_THREADS", "2")  # read once, when TVM's thread pool starts
THREADS = int(os.environ["TVM_NUM_THREADS"])

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from sparsec.codegen.bsr_linear import BLOCK_SHAPES, build_bsr_linear  # noqa: E402
from sparsec.codegen.dense_linear import build_dense_linear  # noqa: E402
from sparsec.codegen.target import parse_target  # noqa: E402
from sparsec.ir.bsr import dense_to_bsr  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # the peers/ package beside this file
from peers.engines import BASELINE_ISAS, baseline_env  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FIELDS = ["n", "k", "m", "kernel", "block", "sparsity", "nnz", "microseconds", "gflops",
          "ratio_to_torch"]


CLOCK = time.perf_counter


def median_seconds(run: Callable[..., object], repeat: int, *args: object) -> float:
    """Median time of one call ``run(*args)`` after five warm-up calls, on ``CLOCK``."""
    for _ in range(5):
        run(*args)
    times = []
    for _ in range(repeat):
        start = CLOCK()
        run(*args)
        times.append(CLOCK() - start)
    return statistics.median(times)


def block_pruned(weight: np.ndarray, block: tuple[int, int], sparsity: float,
                 rng: np.random.Generator) -> np.ndarray:
    """``weight`` with a random ``sparsity`` fraction of its (padded) blocks zeroed."""
    n, k = weight.shape
    rows, cols = block
    grid = (-(-n // rows), -(-k // cols))
    keep = np.ones(grid[0] * grid[1], bool)
    keep[rng.permutation(keep.size)[: round(sparsity * keep.size)]] = False
    mask = np.kron(keep.reshape(grid), np.ones(block, bool))[:n, :k]
    return weight * mask


def bench_n(n: int, args: argparse.Namespace, rng: np.random.Generator) -> list[dict]:
    """Every kernel at ``N = n``; rows for the CSV."""
    import torch  # after main() has set the baseline's ISA

    m, k = args.m, args.k
    target = parse_target(args.target, num_threads=args.threads)
    x = rng.standard_normal((m, k)).astype(np.float32)
    weight = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, weight, bias))
    dense_flop = 2 * m * n * k

    def torch_seconds() -> float:
        with torch.no_grad():
            return median_seconds(torch.nn.functional.linear, args.repeat, tx, tw, tb)

    torch_times = [torch_seconds()]
    measured: list[tuple[str, str, float, int, float]] = []
    dense = build_dense_linear(m, n, k, target)
    tensors = dense.kernel.tensors(*dense.arguments(x, weight, bias))
    run = dense.kernel.module[dense.kernel.name]
    measured.append(("sparsec dense", "-", 0.0, n * k,
                     median_seconds(run, args.repeat, *tensors)))
    for block in args.blocks:
        kern = build_bsr_linear(m, n, k, block, target)
        run = kern.kernel.module[kern.kernel.name]
        for sparsity in args.sparsity:
            bsr = dense_to_bsr(block_pruned(weight, block, sparsity, rng), block)
            tensors = kern.kernel.tensors(*kern.arguments(x, bsr, bias))
            nnz = bsr.nnzb * block[0] * block[1]
            measured.append(("sparsec bsr", f"{block[0]}x{block[1]}", sparsity, nnz,
                             median_seconds(run, args.repeat, *tensors)))
    torch_times.append(torch_seconds())
    torch_time = statistics.median(torch_times)
    torch_gflops = dense_flop / torch_time / 1e9
    rows = [row(n, args, "torch dense", "-", 0.0, n * k, torch_time, 1.0)]
    for name, block_name, sparsity, nnz, seconds in measured:
        gflops = 2 * m * nnz / seconds / 1e9
        rows.append(row(n, args, name, block_name, sparsity, nnz, seconds,
                        gflops / torch_gflops))
    return rows


def row(n: int, args: argparse.Namespace, kernel: str, block: str, sparsity: float, nnz: int,
        seconds: float, ratio: float) -> dict:
    """One CSV row (GFLOP/s on the stored nonzeros)."""
    return {"n": n, "k": args.k, "m": args.m, "kernel": kernel, "block": block,
            "sparsity": sparsity, "nnz": nnz, "microseconds": round(seconds * 1e6, 1),
            "gflops": round(2 * args.m * nnz / seconds / 1e9, 1), "ratio_to_torch": round(ratio, 2)}


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    """The results as one table per N (rich)."""
    console = Console()
    for n in args.n:
        table = Table(title=f"M={args.m} K={args.k} N={n}, {args.threads} threads "
                            "(GFLOP/s on nonzeros; ratio to torch dense)")
        for column in ("kernel", "block", "sparsity", "µs", "GFLOP/s", "× torch"):
            table.add_column(column, justify="left" if column in ("kernel", "block") else "right")
        for r in (r for r in rows if r["n"] == n):
            table.add_row(r["kernel"], r["block"], f"{r['sparsity']:.0%}" if r["sparsity"] else "-",
                          f"{r['microseconds']:.0f}", f"{r['gflops']:.1f}",
                          f"{r['ratio_to_torch']:.2f}")
        console.print(table)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=128)
    parser.add_argument("--k", type=int, default=768)
    parser.add_argument("--n", type=lambda s: [int(v) for v in s.split(",")], default=[768, 3072])
    parser.add_argument("--blocks", default=BLOCK_SHAPES, type=lambda s: [
        tuple(int(v) for v in b.split("x")) for b in s.split(",")])
    parser.add_argument("--sparsity", type=lambda s: [float(v) for v in s.split(",")],
                        default=[0.5, 0.7, 0.9])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--target", default="llvm")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by this thread's CPU time (with TVM_NUM_THREADS=1 everything "
                             "runs on it), which other processes' load barely moves")
    parser.add_argument("--baseline-isa", choices=BASELINE_ISAS, default="native",
                        help="avx2: torch as on an AVX2-only CPU, to time AVX2 code "
                             "(--target 'llvm -mcpu=znver3') on an AVX-512 host on even terms")
    parser.add_argument("--csv", type=Path, default=RESULTS / "kernels.csv")
    return parser.parse_args()


def main() -> None:
    global CLOCK
    args = parse_args()
    args.threads = THREADS
    if args.cpu_time:
        if THREADS != 1:
            raise SystemExit("error: --cpu-time needs TVM_NUM_THREADS=1 (one thread does all work)")
        CLOCK = time.thread_time
    os.environ.update(baseline_env(args.baseline_isa))
    import torch

    torch.set_num_threads(THREADS)
    print(f"torch's kernels: {torch.backends.cpu.get_cpu_capability()}")
    rng = np.random.default_rng(0)
    rows = [r for n in args.n for r in bench_n(n, args, rng)]
    print_table(rows, args)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
