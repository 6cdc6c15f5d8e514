"""ONNX Runtime (CPU execution provider) on the benchmark's ONNX export, in a worker process."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import onnxruntime
from protocol import Call, serve, timed


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    """A session with ``threads`` intra-op threads and no inter-op parallelism."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = spec["threads"]
    options.inter_op_num_threads = 1
    session, seconds = timed(lambda: onnxruntime.InferenceSession(
        spec["onnx"], options, providers=["CPUExecutionProvider"]))
    feed = {i.name: inputs[i.name] for i in session.get_inputs()}
    return (lambda: session.run(None, feed)), {"version": onnxruntime.__version__,
                                                "compile_s": seconds}


if __name__ == "__main__":
    sys.exit(serve(load))
