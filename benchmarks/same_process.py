"""sparsec next to PyTorch in one process: alone, right after a PyTorch call, after idle gaps.

    python benchmarks/same_process.py ARTIFACT HF_MODEL_DIR [--calls 20] [--rounds 2]
    GOMP_SPINCOUNT=300000 python benchmarks/same_process.py ...   # libgomp's default spin

Each round is a fresh process that loads both models and then times sparsec calls in three
situations, interleaved call by call (so that a slow phase of a shared machine hits all three
alike):

- ``alone``: right after another sparsec call;
- ``after-torch``: right after a PyTorch eager call of the same model (its OpenMP workers may
  still be spinning: see ``sparsec.threads``);
- ``gap``: after an idle 10-100 ms (sporadic requests; TVM's workers gone to sleep).

It prints the median and minimum of each, the PyTorch call's median, and how much CPU time
PyTorch's idle workers burned in the 50 ms after a call. The artifact's inputs must be token ids
(and masks) that the Hugging Face model takes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time

import sparsec  # noqa: F401  (first: it sets libgomp's spin before torch loads it)

MODES = ("alone", "after-torch", "gap")


def other_threads_cpu_ms() -> float:
    """CPU time (ms) that this process's threads other than the caller have used so far."""
    me = str(threading.get_native_id())
    total = 0
    for task in os.listdir("/proc/self/task"):
        if task != me:
            with open(f"/proc/self/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
    return total / 1e6


def run_round(args: argparse.Namespace) -> None:
    """One round, in this process: print a line per mode."""
    import numpy as np
    import torch
    from transformers import AutoModel

    from sparsec.runtime import load

    model = load(args.artifact, threads=args.threads)
    ids = np.random.default_rng(0).integers(0, model.inputs[0].upper_bound or 1000,
                                            model.inputs[0].shape)
    torch.set_num_threads(args.threads)
    torch_model = AutoModel.from_pretrained(args.model).eval()
    torch_ids = torch.from_numpy(ids)
    torch_times = []

    def torch_call() -> None:
        start = time.perf_counter()
        with torch.no_grad():
            torch_model(input_ids=torch_ids)
        torch_times.append(time.perf_counter() - start)

    before = {"alone": lambda: model(input_ids=ids), "after-torch": torch_call,
              "gap": lambda: time.sleep(random.uniform(0.01, 0.1))}
    torch_call()
    spin_start = other_threads_cpu_ms()
    time.sleep(0.05)
    spin = other_threads_cpu_ms() - spin_start
    model(input_ids=ids)
    times = {mode: [] for mode in MODES}
    for _ in range(args.calls):
        for mode in MODES:
            before[mode]()
            start = time.perf_counter()
            model(input_ids=ids)
            times[mode].append(time.perf_counter() - start)
    for mode in MODES:
        print(f"{mode:>11}: median {statistics.median(times[mode]) * 1e3:6.1f} ms, "
              f"min {min(times[mode]) * 1e3:6.1f} ms")
    print(f"    PyTorch: median {statistics.median(torch_times) * 1e3:6.1f} ms; its idle workers "
          f"burned {spin:.1f} ms CPU in the 50 ms after a call", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact")
    parser.add_argument("model", help="the Hugging Face directory the artifact was compiled from")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.round:
        run_round(args)
        return
    print(f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT')}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    for _ in range(args.rounds):
        subprocess.run([sys.executable, __file__, args.artifact, args.model, "--round",
                        "--calls", str(args.calls), "--threads", str(args.threads)], check=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
