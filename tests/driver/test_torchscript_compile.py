"""`sparsec compile model.pt` of a TorchScript archive (torch.jit.trace(...).save), end to end.

Two traced BERTs are compiled and run against PyTorch: a tiny one, and a pruned one with
BERT-base's layer shapes (hidden 768, 12 heads, FFN 3072, 90 % of the encoder weights zeroed in
32x1 blocks) cut to 2 layers so that CI stays fast (the full 12 layers compile in about 30 s on
2 cores and agree as well). The artifact's inputs are named after the traced forward's
arguments, and its shapes are those the archive recorded.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from driver_helpers import TOLERANCE, invoke

import sparsec


def traced_bert(path: Path, torch, *, layers: int, hidden: int, seq: int,
                prune: bool = False) -> object:
    """Trace a seeded BertModel with positional (ids, mask, token types) and save it."""
    import transformers

    from sparsec.frontend.prune import prunable_weights, prune_state

    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=layers, hidden_size=hidden,
                                     num_attention_heads=hidden // 64,
                                     intermediate_size=4 * hidden, vocab_size=1000,
                                     return_dict=False)
    model = transformers.BertModel(config).eval()
    if prune:
        state = dict(model.named_parameters())
        prune_state(state, prunable_weights(state), (32, 1), 0.9)
    example = (torch.ones(1, seq, dtype=torch.long),) * 2 + (torch.zeros(1, seq, dtype=torch.long),)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about Python values
        torch.jit.trace(model, example).save(str(path))
    return model


def compiled_errors(model, artifact: Path, torch, seq: int) -> list[float]:
    """Max abs error per output of the artifact against the eager model, on padded inputs."""
    generator = torch.Generator().manual_seed(5)
    ids = torch.randint(0, 1000, (1, seq), generator=generator)
    mask = torch.ones(1, seq, dtype=torch.long)
    mask[0, -seq // 4:] = 0
    types = torch.zeros(1, seq, dtype=torch.long)
    types[0, seq // 2:] = 1
    with torch.no_grad():
        expected = model(ids, mask, types)
    ours = sparsec.load(artifact)(input_ids=ids, attention_mask=mask, token_type_ids=types)
    return [float(np.abs(a - b.numpy()).max()) for a, b in zip(ours, expected, strict=True)]


@pytest.mark.parametrize("size", ["tiny", "base-shaped pruned"])
def test_traced_bert_compiles_and_agrees_with_pytorch(tmp_path, torch_quiet, size):
    torch = torch_quiet
    shape = {"tiny": {"layers": 2, "hidden": 64, "seq": 16},
             "base-shaped pruned": {"layers": 2, "hidden": 768, "seq": 64, "prune": True}}[size]
    path = tmp_path / "model.pt"
    model = traced_bert(path, torch, **shape)
    out = tmp_path / "model.sparsec"
    result = invoke("compile", path, "-o", out, "--threads", "2")
    assert result.exit_code == 0, (result.output, result.exception)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(i["name"], i["shape"]) for i in manifest["inputs"]] == [
        (name, [1, shape["seq"]]) for name in ("input_ids", "attention_mask", "token_type_ids")]
    if shape.get("prune"):
        assert "13 linears (12 BSR, 1 dense)" in result.stdout
    errors = compiled_errors(model, out, torch, shape["seq"])
    assert max(errors) <= TOLERANCE, errors
