"""OpenVINO (CPU plugin) on the benchmark's ONNX export, in a worker process: latency hint,
f32 inference precision (no bf16/f16 down-conversion), the benchmark's thread count."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import openvino
from protocol import Call, serve, timed


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    """The model read from ONNX and compiled for the CPU; one synchronous infer request."""
    core = openvino.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
              "INFERENCE_NUM_THREADS": str(spec["threads"])}
    compiled, seconds = timed(lambda: core.compile_model(core.read_model(spec["onnx"]), "CPU",
                                                         config))
    request = compiled.create_infer_request()
    feed = {port.get_any_name(): inputs[port.get_any_name()] for port in compiled.inputs}

    def call() -> list[np.ndarray]:
        results = request.infer(feed)
        return [results[port] for port in compiled.outputs]

    return call, {"version": openvino.__version__, "compile_s": seconds,
                  "threads": int(compiled.get_property("INFERENCE_NUM_THREADS"))}


if __name__ == "__main__":
    sys.exit(serve(load))
