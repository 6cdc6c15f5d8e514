"""A benchmark worker for the tests: PyTorch eager (as ``pytorch_worker.py``), with faults.

The spec's ``fake`` entry says how it misbehaves: ``offset`` (added to every output),
``crash`` (raise while loading), ``die_in_round`` (exit inside that timing request, 1-based),
``log`` (a file to which it appends ``start``/``end`` lines with times around every timing
request, to check that no two engines ever run at once).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks" / "peers"))

import protocol
import pytorch_worker


def load(spec, inputs):
    fake = spec.get("fake", {})
    if fake.get("crash"):
        raise RuntimeError("engine\nexploded")
    call, info = pytorch_worker.load(spec, inputs)
    offset = fake.get("offset", 0.0)
    requests = 0

    def faulty() -> list:
        return [out + offset for out in call()]

    def samples(_, repeat: int) -> list[float]:
        nonlocal requests
        requests += 1
        if requests == fake.get("die_in_round"):
            os._exit(3)
        with open(fake["log"], "a", encoding="utf-8") as log:
            log.write(f"start {spec['name']} {time.perf_counter()}\n")
        result = real_samples(faulty, repeat)
        with open(fake["log"], "a", encoding="utf-8") as log:
            log.write(f"end {spec['name']} {time.perf_counter()}\n")
        return result

    protocol.samples = samples
    return faulty, {**info, "fake": True}


real_samples = protocol.samples

if __name__ == "__main__":
    sys.exit(protocol.serve(load))
