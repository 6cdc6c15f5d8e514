"""How much faster a compiled model runs on more threads, measured call by call in one process.

    python benchmarks/thread_scaling.py ARTIFACT [--threads 1,2] [--calls 20] [--rounds 3]

Each round is a fresh process that loads the artifact once and then alternates TVM's pool
between the thread counts before every timed call (``runtime.config_threadpool``), so that a
slow phase of a shared machine hits every count alike. It prints each count's median per round
and the speedup of each count over the first one, then the median speedup over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import sparsec  # noqa: F401  (first: it sets libgomp's spin before tvm loads torch)


def run_round(artifact: str, counts: list[int], calls: int) -> dict[int, float]:
    """Median seconds per call at each thread count, interleaved call by call."""
    import tvm

    from sparsec.runtime import load, random_inputs

    model = load(artifact, threads=max(counts))
    inputs = random_inputs(model.inputs)
    configure = tvm.get_global_func("runtime.config_threadpool")
    pool_threads = tvm.get_global_func("runtime.NumThreads")
    samples: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(calls):
        for count in counts:
            configure(1, count)  # 1: TVM's "big cores" mode, all cores alike here
            model(**inputs)  # the pool's new workers start and warm up
            if pool_threads() != count:
                raise SystemExit(f"TVM's pool has {pool_threads()} threads, asked for {count}")
            start = time.perf_counter()
            model(**inputs)
            samples[count].append(time.perf_counter() - start)
    return {count: statistics.median(times) for count, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        counts = [int(text) for text in args.threads.split(",")]
    except ValueError:
        parser.error(f"--threads: integers, comma-separated, got '{args.threads}'")
    if min(counts) < 1 or args.calls < 1 or args.rounds < 1:
        parser.error("--threads, --calls and --rounds must be at least 1")
    if args.round:
        medians = run_round(args.artifact, counts, args.calls)
        print(" ".join(f"{count}:{medians[count]}" for count in counts))
        return
    print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    speedups: dict[int, list[float]] = {count: [] for count in counts}
    for index in range(args.rounds):
        line = subprocess.run([sys.executable, __file__, args.artifact, "--round", "--threads",
                               args.threads, "--calls", str(args.calls)], check=True,
                              capture_output=True, text=True).stdout.split()[-len(counts):]
        medians = {int(a): float(b) for a, b in (item.split(":") for item in line)}
        base = medians[counts[0]]
        for count in counts:
            speedups[count].append(base / medians[count])
        print(f"round {index + 1}: " + ", ".join(
            f"{count} threads {medians[count] * 1e3:.1f} ms ({base / medians[count]:.2f}x)"
            for count in counts), flush=True)
    print("median speedup over the rounds: " + ", ".join(
        f"{count} threads {statistics.median(speedups[count]):.2f}x" for count in counts))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
