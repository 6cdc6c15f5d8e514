"""Defaults that fit the model (issue 14, item 4), and the README's Python example as written.

Inputs Hugging Face defaults may be omitted at run time: ``token_type_ids`` become zeros and
``attention_mask`` ones, shaped like ``input_ids`` (decided by name, for a model that takes
``input_ids``). A model with 64 positions compiles at 64 tokens without ``--seq-len``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from driver_helpers import SEQ_LEN, TOLERANCE, invoke

from sparsec.artifact import Manifest, TensorInfo
from sparsec.runtime import CompiledModel, InputError, default_fill, random_inputs

README = Path(__file__).resolve().parents[2] / "README.md"
IDS = TensorInfo("input_ids", (2, 4), "int64", upper_bound=10)
MASK = TensorInfo("attention_mask", (2, 4), "int64")
TYPES = TensorInfo("token_type_ids", (2, 4), "int64", upper_bound=2)


def echo_model(*inputs: TensorInfo) -> tuple[CompiledModel, list]:
    """A model whose code returns its inputs (as float32), remembering each call's arrays."""
    calls: list = []

    def execute(arrays):
        calls.append(arrays)
        return [a.astype(np.float32) for a in arrays]

    outputs = tuple(TensorInfo(f"out{i}", info.shape, "float32") for i, info in enumerate(inputs))
    manifest = Manifest(inputs=inputs, outputs=outputs, params=(), target={"kind": "llvm"},
                        target_spec="llvm", threads=1, pipeline="", weights=(), kernels={},
                        versions={}, created="2026-01-01T00:00:00+00:00")
    return CompiledModel(manifest, execute), calls


def test_omitted_token_types_are_zeros_and_omitted_mask_ones():
    model, calls = echo_model(IDS, MASK, TYPES)
    ids = np.full((2, 4), 3, np.int64)
    model(input_ids=ids)
    np.testing.assert_array_equal(calls[-1][1], np.ones((2, 4), np.int64))
    np.testing.assert_array_equal(calls[-1][2], np.zeros((2, 4), np.int64))
    mask = np.array([[1, 1, 0, 0]] * 2)
    model(ids, mask)  # positionally, as the README's keyword call
    np.testing.assert_array_equal(calls[-1][1], mask)
    np.testing.assert_array_equal(calls[-1][2], np.zeros((2, 4), np.int64))


def test_only_hugging_face_inputs_of_a_model_taking_input_ids_have_defaults():
    other = TensorInfo("positions", (2, 4), "int64")
    assert default_fill(other, (IDS, other)) is None
    assert default_fill(MASK, (MASK,)) is None  # no input_ids
    assert default_fill(TensorInfo("attention_mask", (2, 5), "int64"), (IDS,)) is None
    model, calls = echo_model(IDS, other)
    with pytest.raises(InputError, match="missing input 'positions'"):
        model(input_ids=np.zeros((2, 4), np.int64))
    assert calls == []


def test_sparsec_run_fills_in_the_defaults(dense_artifact, tmp_path):
    np.save(tmp_path / "ids.npy", np.arange(SEQ_LEN, dtype=np.int64)[None])
    result = invoke("run", dense_artifact, "--input", f"input_ids={tmp_path / 'ids.npy'}")
    assert result.exit_code == 0, result.output
    assert f"input  attention_mask: int64[1, {SEQ_LEN}] default (ones)" in result.stdout
    assert f"input  token_type_ids: int64[1, {SEQ_LEN}] default (zeros)" in result.stdout
    arrays = random_inputs([TYPES], among=(IDS, TYPES))
    np.testing.assert_array_equal(arrays["token_type_ids"], np.zeros((2, 4), np.int64))


def readme_python_example() -> str:
    """The Python block of the README's `sparsec compile` section."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    block = next(b for b in blocks if "sparsec.load(" in b)
    assert "hidden, pooled = model(input_ids=ids, attention_mask=mask)" in block
    return block


def test_the_readme_python_example_works_as_written(tmp_path, torch_quiet, monkeypatch):
    import transformers

    torch = torch_quiet
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=1, hidden_size=64, num_attention_heads=4,
                                     intermediate_size=128, vocab_size=200,
                                     max_position_embeddings=64)  # the default seq is 64
    hf_model = transformers.BertModel(config).eval()
    hf_model.save_pretrained(tmp_path / "bert-pruned")
    monkeypatch.chdir(tmp_path)
    compiled = invoke("compile", "bert-pruned/", "--target", "llvm", "-o", "bert.sparsec",
                      "--threads", "2")  # as the README's CLI example, for this CPU
    assert compiled.exit_code == 0, compiled.output
    ids = np.random.default_rng(0).integers(0, 200, (1, 64))
    mask = torch.ones(1, 64, dtype=torch.int64)
    mask[0, -5:] = 0
    namespace = {"ids": ids, "mask": mask, "hf_model": hf_model}
    exec(readme_python_example(), namespace)  # the README's own code, as written
    with torch.no_grad():
        expected = hf_model(input_ids=torch.from_numpy(ids), attention_mask=mask)
    for ours, theirs in zip((namespace["hidden"], namespace["pooled"]),
                            (expected.last_hidden_state, expected.pooler_output), strict=True):
        assert float(np.abs(ours - theirs.numpy()).max()) <= TOLERANCE
    again = namespace["compiled"](input_ids=ids, attention_mask=mask)
    np.testing.assert_allclose(again[0], namespace["hidden"], rtol=0, atol=1e-5)
    assert os.path.isfile(tmp_path / "bert.sparsec" / "manifest.json")  # saved over the old one
