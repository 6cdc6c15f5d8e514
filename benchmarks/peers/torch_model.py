"""The benchmark's model inside a worker: the seeded BERT with the weights the coordinator
pruned (a ``torch.save``d state dict), and the inputs as torch tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def load_bert(spec: dict[str, Any]) -> torch.nn.Module:
    """The seeded BERT of ``spec`` (layers, hidden, seed, max_positions) with its weights."""
    from sparsec.frontend.models import seeded_bert

    torch.set_num_threads(spec["threads"])
    model = seeded_bert(spec["layers"], spec["hidden"], spec["seed"],
                        max_positions=spec["max_positions"])
    model.load_state_dict(torch.load(spec["state"], weights_only=True))
    return model


def tensors(inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """The inputs as torch tensors (converted once, outside the timed calls)."""
    return {name: torch.from_numpy(array) for name, array in inputs.items()}


def outputs(result: Any) -> list[np.ndarray]:
    """A model's output leaves as numpy arrays."""
    return [t.numpy() for t in torch.utils._pytree.tree_leaves(result)]
