"""sparsec next to PyTorch in one process: alone, right after a PyTorch call, after idle gaps.

    python benchmarks/same_process.py ARTIFACT HF_MODEL_DIR [--calls 20] [--rounds 3]

Each mode runs in a fresh process (so no pool is warm from another mode), the modes alternate
over ``--rounds``, and each prints the median and minimum of ``--calls`` timed sparsec calls:

- ``alone``: back-to-back calls;
- ``after-torch``: each sparsec call right after a PyTorch eager call of the same model (its
  OpenMP workers still spinning);
- ``gap``: each call after an idle 10-100 ms (sporadic requests; TVM's workers gone to sleep).

The artifact's inputs must be token ids (and masks) that the Hugging Face model takes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

MODES = ("alone", "after-torch", "gap")


def run_mode(args: argparse.Namespace) -> None:
    """One mode, in this process: print its line."""
    import numpy as np

    from sparsec.runtime import load

    model = load(args.artifact, threads=args.threads)
    rng = np.random.default_rng(0)
    ids = model.inputs[0]
    inputs = {"input_ids": rng.integers(0, ids.upper_bound or 1000, ids.shape)}
    before = None
    if args.mode == "after-torch":
        import torch
        from transformers import AutoModel

        torch.set_num_threads(args.threads)
        torch_model = AutoModel.from_pretrained(args.model).eval()
        torch_inputs = {"input_ids": torch.from_numpy(inputs["input_ids"])}

        def before() -> None:
            with torch.no_grad():
                torch_model(**torch_inputs)
    elif args.mode == "gap":
        def before() -> None:
            time.sleep(random.uniform(0.01, 0.1))
    model(**inputs)
    times = []
    for _ in range(args.calls):
        if before is not None:
            before()
        start = time.perf_counter()
        model(**inputs)
        times.append(time.perf_counter() - start)
    print(f"{args.mode:>11}: median {statistics.median(times) * 1e3:6.1f} ms, "
          f"min {min(times) * 1e3:6.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact")
    parser.add_argument("model", help="the Hugging Face directory the artifact was compiled from")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        run_mode(args)
        return
    print(f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    for _ in range(args.rounds):
        for mode in MODES:
            subprocess.run([sys.executable, __file__, args.artifact, args.model, "--mode", mode,
                            "--calls", str(args.calls), "--threads", str(args.threads)],
                           check=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
