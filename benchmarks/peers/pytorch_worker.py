"""PyTorch eager (the baseline), in a worker process of its own (see ``protocol.py``)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from protocol import Call, serve
from torch_model import load_bert, outputs, tensors


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    """The model in eager mode, without autograd."""
    model, feed = load_bert(spec), tensors(inputs)

    def call() -> list[np.ndarray]:
        with torch.no_grad():
            return outputs(model(**feed))

    return call, {"version": torch.__version__, "threads": torch.get_num_threads()}


if __name__ == "__main__":
    sys.exit(serve(load))
