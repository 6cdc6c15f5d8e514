"""Block magnitude pruning of a model's encoder linears (`sparsec prune`).

Each weight ``W[out, in]`` is cut into ``R x C`` blocks (zero-padded at the
edges, as BSR stores them); the blocks with the smallest L2 norm are zeroed
until the asked sparsity is reached, per weight or globally over all chosen
weights. This is how users and the benchmarks get block-sparse models without
a model hub; it is one-shot pruning, not a training pipeline, so the outputs
move: the report says by how much.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from sparsec.ir.bsr import padded_blocks

from .errors import FrontendError
from .loader import LoadedModel

# A weight inside a transformer layer: `encoder.layer.3.`, `transformer.layer.3.` (DistilBERT),
# `albert_layers.0.` (ALBERT).
LAYER_PATH = re.compile(r"(^|\.)(layer|albert_layers)\.\d+\.")
ATTENTION_PATH = re.compile(r"(^|\.)attention\.")
SCOPES = ("all", "attention")


def prunable_weights(state: dict[str, torch.Tensor], scope: str = "all") -> list[str]:
    """Names of the encoder linear weights (2-D ``*.weight`` inside a layer), in order."""
    if scope not in SCOPES:
        raise FrontendError(f"scope '{scope}' is not one of {', '.join(SCOPES)}")
    names = [
        name
        for name, tensor in state.items()
        if name.endswith(".weight") and tensor.ndim == 2 and LAYER_PATH.search(name)
    ]
    if scope == "attention":
        names = [n for n in names if ATTENTION_PATH.search(n)]
    return names


def block_norms(weight: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """L2 norm of every (padded) block: shape [ceil(N/R), ceil(K/C)]."""
    return np.sqrt(np.square(padded_blocks(weight, block)).sum(axis=(1, 3)))


def keep_mask(norms: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep the largest ``1 - sparsity`` fraction of blocks (ties broken by position)."""
    keep = round(norms.size * (1.0 - sparsity))
    mask = np.zeros(norms.size, dtype=bool)
    if keep:
        mask[np.argsort(-norms.reshape(-1), kind="stable")[:keep]] = True
    return mask.reshape(norms.shape)


def expand_mask(mask: np.ndarray, block: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """A block mask as an element mask of the (unpadded) weight."""
    full = np.repeat(np.repeat(mask, block[0], axis=0), block[1], axis=1)
    return full[: shape[0], : shape[1]]


@dataclass(frozen=True)
class PruneResult:
    weights: list[str]
    sparsity: float  # achieved, over the pruned weights' elements


def prune_state(
    state: dict[str, torch.Tensor],
    names: Iterable[str],
    block: tuple[int, int],
    sparsity: float,
    global_threshold: bool = False,
) -> PruneResult:
    """Zero the weakest blocks of ``state[name]`` in place for each name."""
    if not 0.0 <= sparsity < 1.0:
        raise FrontendError(f"sparsity must be in [0, 1), got {sparsity}")
    names = list(names)
    if not names:
        raise FrontendError("the model has no encoder linear weights to prune")
    arrays = {n: state[n].detach().float().numpy() for n in names}
    norms = {n: block_norms(a, block) for n, a in arrays.items()}
    if global_threshold:
        masks = _split(keep_mask(np.concatenate([v.reshape(-1) for v in norms.values()]), sparsity),
                       norms)
    else:
        masks = {n: keep_mask(v, sparsity) for n, v in norms.items()}
    zeros = total = 0
    with torch.no_grad():
        for name in names:
            element_mask = expand_mask(masks[name], block, arrays[name].shape)
            state[name].mul_(torch.from_numpy(element_mask).to(state[name].dtype))
            zeros += int((state[name] == 0).sum())
            total += state[name].numel()
    return PruneResult(names, zeros / total)


def _split(flat: np.ndarray, like: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out, start = {}, 0
    for name, norms in like.items():
        out[name] = flat[start : start + norms.size].reshape(norms.shape)
        start += norms.size
    return out


def output_similarity(before: torch.Tensor, after: torch.Tensor) -> tuple[float, float]:
    """(cosine similarity, max abs difference) of two outputs."""
    a, b = before.reshape(-1).double(), after.reshape(-1).double()
    cosine = float(torch.nn.functional.cosine_similarity(a, b, dim=0))
    return cosine, float((a - b).abs().max())


@dataclass(frozen=True)
class PruneReport:
    result: PruneResult
    cosine: float  # of the first output, pruned vs dense, on sample inputs
    max_abs_diff: float


def _state_of(loaded: LoadedModel) -> dict[str, torch.Tensor]:
    if loaded.program is not None:
        return loaded.program.state_dict
    return dict(loaded.module.named_parameters())


def _runner(loaded: LoadedModel, seed: int):
    """A function that runs the model on fixed sample inputs and returns its first output."""
    if loaded.program is not None:
        model = loaded.program.module()  # shares the program's parameter tensors
        args, kwargs = loaded.program.example_inputs
    else:
        model, args, kwargs = loaded.module, (), dict(loaded.example_inputs or {})
        ids = kwargs.get("input_ids")
        if ids is not None:  # random valid token ids: the traced ones are only placeholders
            generator = torch.Generator().manual_seed(seed)
            vocab = loaded.module.config.vocab_size
            kwargs["input_ids"] = torch.randint(vocab, ids.shape, generator=generator)

    def run() -> torch.Tensor:
        with torch.no_grad():
            out = model(*args, **kwargs)
        return torch.utils._pytree.tree_leaves(out)[0].clone()

    return run


def prune_loaded(
    loaded: LoadedModel,
    block: tuple[int, int],
    sparsity: float,
    scope: str = "all",
    global_threshold: bool = False,
    seed: int = 0,
) -> PruneReport:
    """Prune a loaded model in place and measure how far its first output moved."""
    if loaded.program is None and loaded.example_inputs is None:
        raise FrontendError("cannot run this module to check the pruning: it has no known "
                            "inputs (export it with torch.export.save first)")
    state = _state_of(loaded)
    run = _runner(loaded, seed)
    dense = run()
    result = prune_state(state, prunable_weights(state, scope), block, sparsity, global_threshold)
    cosine, diff = output_similarity(dense, run())
    return PruneReport(result, cosine, diff)


def saves_directory(loaded: LoadedModel) -> bool:
    """True when the pruned model is written as a Hugging Face directory."""
    return loaded.program is None


def save_loaded(loaded: LoadedModel, path: str | os.PathLike) -> None:
    """Write the model in the format it came in: export archive, or save_pretrained folder."""
    if loaded.program is not None:
        torch.export.save(loaded.program, path)
    elif hasattr(loaded.module, "save_pretrained"):
        from transformers.utils import logging

        logging.disable_progress_bar()  # the CLI shows its own progress
        loaded.module.save_pretrained(path)
    else:
        raise FrontendError("only Hugging Face models and torch.export archives can be saved")
