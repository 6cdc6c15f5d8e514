"""Shared helpers for frontend tests: tiny seeded BERT-family models and a numeric check."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
import transformers

from sparsec.ir.interpreter import interpret

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

TOLERANCE = 1e-4

CONFIGS = {
    "bert": (transformers.BertConfig, {}),
    "roberta": (transformers.RobertaConfig, {}),
    "distilbert": (transformers.DistilBertConfig, {}),
    "albert": (transformers.AlbertConfig, {"embedding_size": 32}),
    "electra": (transformers.ElectraConfig, {"embedding_size": 48}),
}
HEADS = ["Model", "ForSequenceClassification", "ForMaskedLM", "ForTokenClassification"]
CLASS_PREFIX = {"bert": "Bert", "roberta": "Roberta", "distilbert": "DistilBert",
                "albert": "Albert", "electra": "Electra"}


def tiny_config(arch: str) -> transformers.PretrainedConfig:
    """2 layers, hidden 64, 4 heads, vocab 100: fast, but every code path of the real model."""
    config_class, extra = CONFIGS[arch]
    if arch == "distilbert":
        sizes = {"dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 128}
    else:
        sizes = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 128}
    return config_class(vocab_size=100, max_position_embeddings=64, num_labels=3,
                        **sizes, **extra)


def tiny_model(arch: str, head: str = "Model", seed: int = 0) -> torch.nn.Module:
    """A randomly initialised (seeded) tiny model of ``arch`` with ``head``, in eval mode."""
    torch.manual_seed(seed)
    model_class = getattr(transformers, CLASS_PREFIX[arch] + head)
    return model_class(tiny_config(arch)).eval()


def token_inputs(model: torch.nn.Module, batch: int, seq_len: int, seed: int = 1) -> dict:
    """Random token ids, a mask with padding at the end of the last row, zero token types."""
    from sparsec.frontend.loader import hf_example_inputs

    inputs = hf_example_inputs(model, batch, seq_len)
    generator = torch.Generator().manual_seed(seed)
    inputs["input_ids"] = torch.randint(2, model.config.vocab_size, (batch, seq_len),
                                        generator=generator)
    if "attention_mask" in inputs and seq_len > 3:
        inputs["attention_mask"][-1, -3:] = 0
    return inputs


def torch_outputs(model: torch.nn.Module, inputs: dict) -> list[np.ndarray]:
    with torch.no_grad():
        result = model(**inputs)
    values = result.values() if hasattr(result, "values") else result
    return [v.numpy() for v in values]


def max_error(module, model: torch.nn.Module, inputs: dict) -> list[float]:
    """Max abs difference per output between the interpreted IR and PyTorch eager."""
    ours = interpret(module, [v.numpy() for v in inputs.values()])
    theirs = torch_outputs(model, inputs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    return [float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs, strict=True)]


@pytest.fixture
def bert() -> torch.nn.Module:
    return tiny_model("bert")
