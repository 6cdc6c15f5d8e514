"""One artifact for a range of batch sizes and sequence lengths, from the command line:
`sparsec compile MODEL --batch 1..3 --seq-len 1..32`, then the artifact run at several sizes
against PyTorch (padded positions included), its manifest, `sparsec run`, and its bounds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driver_helpers import TOLERANCE, error_line, invoke

import sparsec

BATCH, SEQ = (1, 3), (1, 32)
SIZES = [(1, 1), (1, 9), (2, 17), (3, 32)]


@pytest.fixture(scope="module", params=["dense", "32x1"])
def dynamic_artifact(request, tiny_bert, pruned_bert, tmp_path_factory):
    """The model dir and the artifact compiled for batch 1..3, seq 1..32 (dense or BSR)."""
    model = tiny_bert if request.param == "dense" else pruned_bert
    kind = ["--no-sparsity"] if request.param == "dense" else ["--block-shape", "32x1"]
    out = tmp_path_factory.mktemp("dynamic") / f"{request.param}.sparsec"
    result = invoke("compile", model, "-o", out, "--batch", "1..3", "--seq-len", "..32",
                    "--threads", "2", *kind)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "batch 1..3" in result.output and "seq 1..32" in result.output
    return model, out


def padded(batch: int, seq: int) -> dict[str, np.ndarray]:
    """Token ids, a mask whose rows after the first end in padding, both token types."""
    rng = np.random.default_rng(batch * 100 + seq)
    mask = np.ones((batch, seq), np.int64)
    for row in range(1, batch):
        mask[row, max(1, seq - 3 * row):] = 0
    return {"input_ids": rng.integers(0, 200, (batch, seq)), "attention_mask": mask,
            "token_type_ids": rng.integers(0, 2, (batch, seq))}


def torch_outputs(model_dir, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import torch

    from sparsec.frontend.loader import load

    module = load(model_dir, seq_len=8).module  # the module; the traced size plays no part
    with torch.no_grad():
        out = module(**{name: torch.from_numpy(a) for name, a in inputs.items()})
    return [out.last_hidden_state.numpy(), out.pooler_output.numpy()]


@pytest.mark.parametrize("batch,seq", SIZES)
def test_one_artifact_matches_pytorch_at_every_size(dynamic_artifact, batch, seq):
    model_dir, artifact = dynamic_artifact
    inputs = padded(batch, seq)
    ours = sparsec.load(artifact)(**inputs)
    for got, want in zip(ours, torch_outputs(model_dir, inputs), strict=True):
        assert got.shape == want.shape
        assert float(np.max(np.abs(got - want))) <= TOLERANCE


def test_the_manifest_names_the_sizes_and_their_ranges(dynamic_artifact):
    manifest = json.loads((dynamic_artifact[1] / "manifest.json").read_text())
    assert manifest["sizes"] == {"batch": list(BATCH), "seq": list(SEQ)}
    assert [i["shape"] for i in manifest["inputs"]] == [["batch", "seq"]] * 3
    assert [o["shape"] for o in manifest["outputs"]] == [["batch", "seq", 64], ["batch", 64]]


def test_run_shows_the_ranges_and_the_shapes_of_this_run(dynamic_artifact, tmp_path):
    _, artifact = dynamic_artifact
    np.save(tmp_path / "ids.npy", padded(2, 5)["input_ids"])
    result = invoke("run", artifact, "--input", f"input_ids={tmp_path / 'ids.npy'}")
    assert result.exit_code == 0, result.output
    assert "sizes: batch 1..3, seq 1..32" in result.stdout
    assert "[2, 5, 64]" in result.stdout and "[2, 64]" in result.stdout


@pytest.mark.parametrize("shape,message", [
    ((1, 33), "input 'input_ids': seq 33 is outside 1..32"),
    ((4, 8), "input 'input_ids': batch 4 is outside 1..3"),
])
def test_sizes_out_of_range_are_one_line_errors(dynamic_artifact, tmp_path, shape, message):
    _, artifact = dynamic_artifact
    np.save(tmp_path / "ids.npy", np.zeros(shape, np.int64))
    result = invoke("run", artifact, "--input", f"input_ids={tmp_path / 'ids.npy'}")
    assert message in error_line(result)
    with pytest.raises(sparsec.InputError, match=message):
        sparsec.load(artifact)(input_ids=np.zeros(shape, np.int64))
