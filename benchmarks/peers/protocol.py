"""The worker side of the benchmark's engine processes (stdlib and numpy only: DeepSparse's
worker runs this under its own venv's Python 3.10, without sparsec or torch).

Each engine is timed in a process of its own, since the thread pools of two runtimes in one
process slow each other down (sparsec timed right after PyTorch in one process ran 2x slower
than alone). A worker is started as ``python WORKER.py SPEC.json``; the spec names the
inputs (``.npz``), where to write the outputs (``.npz``) and the engine's own settings. It

1. loads its engine and runs it once on the inputs, writes the outputs for the coordinator to
   check against PyTorch, and answers ``{"ready": {...engine facts...}}`` (or ``{"error":
   "..."}``, then exits 1);
2. then waits, blocked on a read of its stdin, for ``{"time": N}``: one untimed call, then N
   timed ones, answered with ``{"samples": [seconds, ...]}``. End of input ends it.

Replies are JSON lines on a private copy of stdout; fd 1 itself is pointed at stderr so that
whatever an engine prints cannot corrupt the protocol.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

Call = Callable[[], list[np.ndarray]]
Loader = Callable[[dict[str, Any], dict[str, np.ndarray]], tuple[Call, dict[str, Any]]]


def serve(load: Loader) -> int:
    """Run the worker: ``load(spec, inputs)`` returns a call without arguments (its inputs
    already converted to what the engine takes) and a dict of facts about the engine."""
    channel = _private_stdout()
    try:
        with open(sys.argv[1], encoding="utf-8") as file:
            spec = json.load(file)
        with np.load(spec["inputs"]) as archive:
            inputs = {name: archive[name] for name in archive.files}
        call, info = load(spec, inputs)
        outputs = [np.asarray(out) for out in call()]
        np.savez(spec["outputs"], *outputs)
    except Exception as err:  # the coordinator shows it as the row's status
        _send(channel, {"error": f"{type(err).__name__}: {' '.join(str(err).split())}"})
        return 1
    _send(channel, {"ready": info})
    for line in sys.stdin:  # blocked here while the other engines are timed
        request = json.loads(line)
        _send(channel, {"samples": samples(call, int(request["time"]))})
    return 0


def samples(call: Call, repeat: int) -> list[float]:
    """One untimed call (caches, the pool waking up), then ``repeat`` timed ones (seconds)."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the seconds it took (compile times are recorded with this)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _private_stdout() -> IO[str]:
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    os.dup2(2, 1)
    return channel


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()
