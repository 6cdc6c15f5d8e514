"""DeepSparse on the benchmark's ONNX export, in a worker process run by the Python of its own
venv (``benchmarks/setup_deepsparse.sh``): Python 3.10, numpy and deepsparse only.

The export is opset 14 with the classic additive attention mask, which DeepSparse runs
entirely (``fraction_of_supported_ops`` 1.0); anything it cannot run falls back to a slower
path, so the fraction is recorded with the time.
"""

from __future__ import annotations

import sys
from typing import Any

import deepsparse
import numpy as np
from protocol import Call, serve, timed


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    """An engine for the export's batch size on ``threads`` cores."""
    batch = int(next(iter(inputs.values())).shape[0])
    engine, seconds = timed(lambda: deepsparse.compile_model(
        spec["onnx"], batch_size=batch, num_cores=spec["threads"]))
    feed = [inputs[name] for name in engine.input_names]

    def call() -> list[np.ndarray]:
        return engine.run(feed)

    return call, {"version": deepsparse.__version__, "compile_s": seconds,
                  "fraction_of_supported_ops": float(engine.fraction_of_supported_ops),
                  "threads": int(engine.num_cores)}


if __name__ == "__main__":
    sys.exit(serve(load))
