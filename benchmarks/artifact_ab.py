"""Compiled models timed against each other in one process, call by call (an A/B of artifacts).

    python benchmarks/artifact_ab.py BEFORE.sparsec AFTER.sparsec [MORE.sparsec ...]
                                     [--seconds 30] [--window 2] [--threads 2]

Every artifact is loaded into one process (one thread pool) and called in turn on the same
inputs, one call each, over and over; every ``--window`` seconds each artifact's median is
written down. A shared machine's slow stretches (on this VM: seconds to minutes in which the
cores talk 4x slower) then fall on every artifact alike, and the ratio of two artifacts within
one window holds where their absolute times do not: separate runs of one artifact moved
1.3-1.4x from hour to hour. Prints each window's medians, then each artifact's median over the
windows and the median (min-max) of its per-window speedup over the first artifact.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import sparsec  # noqa: F401  (first: it sets libgomp's spin before tvm loads torch)


def time_windows(paths: list[str], seconds: float, window: float,
                 threads: int) -> list[list[float]]:
    """Per window, each artifact's median seconds per call, the calls alternating."""
    from sparsec.runtime import load, random_inputs

    models = [load(path, threads=threads) for path in paths]
    specs = {tuple(model.inputs) for model in models}
    if len(specs) != 1:
        raise SystemExit("error: the artifacts take different inputs; an A/B needs the same")
    inputs = random_inputs(models[0].inputs)
    for model in models:
        model(**inputs)  # warm up: first-call work stays out of the windows
    windows = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        samples: list[list[float]] = [[] for _ in models]
        close = time.perf_counter() + window
        while time.perf_counter() < close:
            for model, times in zip(models, samples, strict=True):
                start = time.perf_counter()
                model(**inputs)
                times.append(time.perf_counter() - start)
        windows.append([statistics.median(times) for times in samples])
    return windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", help="two or more .sparsec artifacts")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to time in all")
    parser.add_argument("--window", type=float, default=2.0, help="seconds per window")
    parser.add_argument("--threads", type=int, default=None,
                        help="TVM's pool size (default: TVM_NUM_THREADS, else the cores)")
    args = parser.parse_args()
    if len(args.artifacts) < 2:
        parser.error("give two or more artifacts to compare")
    if args.seconds <= 0 or args.window <= 0 or args.window > args.seconds:
        parser.error("--seconds and --window must be positive, the window no longer than all")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    missing = [path for path in args.artifacts if not os.path.exists(path)]
    if missing:
        parser.error(f"no such artifact: {missing[0]}")
    print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    windows = time_windows(args.artifacts, args.seconds, args.window, args.threads)
    for index, medians in enumerate(windows, 1):
        print(f"window {index}: " + "  ".join(f"{m * 1e3:.2f} ms" for m in medians))
    for column, path in enumerate(args.artifacts):
        times = [medians[column] for medians in windows]
        speedups = [medians[0] / medians[column] for medians in windows]
        print(f"{path}: median {statistics.median(times) * 1e3:.2f} ms, speedup over the first "
              f"{statistics.median(speedups):.3f}x ({min(speedups):.3f}-{max(speedups):.3f}x)"
              f" in {len(windows)} windows")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
