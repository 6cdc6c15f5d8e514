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
its ratio to torch's dense GFLOP/s. The kernels of one N are timed in ``--rounds`` rounds (torch,
sparsec dense, every BSR kernel, then again), each a median of ``--repeat`` calls after warm-up
and an idle pause, and each kernel's time is its best round: a shared machine that slows down
for seconds at a time then slows no kernel's figure more than another's (medians of one pass
swung 0.6-1.3x from run to run here). A process can also run one kernel slowly all along (its
buffers land in memory where they land): ``--processes 3`` runs the whole benchmark in three
fresh processes and reports each kernel's median time and ratio over them. Compare ratios, not
absolute times.
Prints a table and writes ``benchmarks/results/kernels.csv``. (Not named ``kernels.py``: a
script's folder comes first on ``sys.path``, and that name hid Hugging Face's ``kernels``
package from transformers in every script here.)
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
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
from sparsec.timing import QUIET_PAUSE_SECONDS  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # the peers/ package beside this file
from peers.engines import BASELINE_ISAS, baseline_env  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FIELDS = ["n", "k", "m", "kernel", "block", "sparsity", "nnz", "microseconds", "gflops",
          "ratio_to_torch"]


CLOCK = time.perf_counter
WARMUP_SECONDS = 0.1


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """Median time of one call ``run()`` on ``CLOCK``, after warm-up calls for at least
    ``WARMUP_SECONDS`` (after an idle pause the pool's workers wake and the caches refill;
    five calls of a 0.1 ms kernel are half a millisecond of that)."""
    calls, start = 0, time.perf_counter()
    while calls < 5 or time.perf_counter() - start < WARMUP_SECONDS:
        run()
        calls += 1
    times = []
    for _ in range(repeat):
        start = CLOCK()
        run()
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
    """Every kernel at ``N = n``, timed in ``args.rounds`` interleaved rounds; rows for the CSV."""
    import torch  # after main() has set the baseline's ISA

    m, k = args.m, args.k
    target = parse_target(args.target, num_threads=args.threads)
    x = rng.standard_normal((m, k)).astype(np.float32)
    weight = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, weight, bias))

    def torch_linear() -> None:
        with torch.no_grad():
            torch.nn.functional.linear(tx, tw, tb)

    dense = build_dense_linear(m, n, k, target)
    # (kernel, block, sparsity, nnz, one call)
    entries = [("torch dense", "-", 0.0, n * k, torch_linear),
               ("sparsec dense", "-", 0.0, n * k, _caller(dense, dense.arguments(x, weight, bias)))]
    for block in args.blocks:
        kern = build_bsr_linear(m, n, k, block, target)
        for sparsity in args.sparsity:
            bsr = dense_to_bsr(block_pruned(weight, block, sparsity, rng), block)
            entries.append(("sparsec bsr", f"{block[0]}x{block[1]}", sparsity,
                            bsr.nnzb * block[0] * block[1], _caller(kern, kern.arguments(x, bsr,
                                                                                         bias))))
    seconds: list[list[float]] = [[] for _ in entries]
    for _ in range(args.rounds):
        for index, entry in enumerate(entries):
            time.sleep(QUIET_PAUSE_SECONDS)  # the other runtime's pool goes quiet first
            seconds[index].append(median_seconds(entry[4], args.repeat))
    best = [min(times) for times in seconds]
    return [row(n, args, name, block, sparsity, nnz, best[index],
                m * nnz / best[index] / (m * n * k / best[0]))
            for index, (name, block, sparsity, nnz, _) in enumerate(entries)]


def _caller(compiled: object, arguments: list[np.ndarray]) -> Callable[[], object]:
    """A no-argument call of a compiled kernel on ``arguments`` (TVM tensors made once)."""
    tensors = compiled.kernel.tensors(*arguments)
    run = compiled.kernel.module[compiled.kernel.name]
    return lambda: run(*tensors)


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
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per kernel and round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds (each kernel's best)")
    parser.add_argument("--processes", type=int, default=1,
                        help="run in this many fresh processes; median of their figures")
    parser.add_argument("--target", default="llvm")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by this thread's CPU time (with TVM_NUM_THREADS=1 everything "
                             "runs on it), which other processes' load barely moves")
    parser.add_argument("--baseline-isa", choices=BASELINE_ISAS, default="native",
                        help="avx2: torch as on an AVX2-only CPU, to time AVX2 code "
                             "(--target 'llvm -mcpu=znver3') on an AVX-512 host on even terms")
    parser.add_argument("--csv", type=Path, default=RESULTS / "kernels.csv")
    return parser.parse_args()


def combine_processes(args: argparse.Namespace) -> list[dict]:
    """This script run ``args.processes`` times in fresh processes; per kernel the median time
    and the median ratio over them (one process can run a kernel slow all along: its memory
    lands where it lands)."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for index in range(args.processes):
            out = Path(folder) / f"run{index}.csv"
            # argparse keeps an option's last value: these override the parent's own
            command = [sys.executable, __file__, *sys.argv[1:], "--processes", "1", "--csv",
                       str(out)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            with out.open() as handle:
                runs.append(list(csv.DictReader(handle)))
    rows = []
    for cells in zip(*runs, strict=True):
        first = cells[0]
        seconds = statistics.median(float(cell["microseconds"]) for cell in cells) / 1e6
        rows.append(row(int(first["n"]), args, first["kernel"], first["block"],
                        float(first["sparsity"]), int(first["nnz"]), seconds,
                        statistics.median(float(cell["ratio_to_torch"]) for cell in cells)))
    return rows


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
    if args.processes > 1:
        rows = combine_processes(args)
    else:
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
