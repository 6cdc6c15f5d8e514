"""``torch.compile`` (inductor, default mode) in a worker process of its own; the first call
compiles, and its duration is recorded as the compile time. The inductor cache is a fresh
folder per worker (``TORCHINDUCTOR_CACHE_DIR`` from the coordinator), so it is a cold compile."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from protocol import Call, serve, timed
from torch_model import load_bert, outputs, tensors


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    """The model compiled by inductor; compiled on its first call, here."""
    model = torch.compile(load_bert(spec), backend="inductor")
    feed = tensors(inputs)

    def call() -> list[np.ndarray]:
        with torch.no_grad():
            return outputs(model(**feed))

    _, seconds = timed(call)
    return call, {"version": torch.__version__, "compile_s": seconds, "backend": "inductor"}


if __name__ == "__main__":
    sys.exit(serve(load))
