"""A model compiled for ranges of batch and sequence length: the runtime binds each run-time size
from the inputs' shapes, the same in every input and within its range, before anything runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sparsec.artifact import ArtifactError, Manifest, TensorInfo, read_manifest
from sparsec.runtime import CompiledModel, InputError, bind_sizes, example_sizes, random_inputs

SIZES = {"batch": (1, 4), "seq": (1, 16)}
IDS = TensorInfo("input_ids", ("batch", "seq"), "int64", upper_bound=10)
MASK = TensorInfo("attention_mask", ("batch", "seq"), "int64")
POOLED = TensorInfo("pooled", ("batch", 8), "float32")


def dynamic_model() -> tuple[CompiledModel, list]:
    """A model whose code returns one [batch, 8] array per call, remembering the inputs."""
    calls: list = []

    def execute(arrays):
        calls.append(arrays)
        return [np.zeros((arrays[0].shape[0], 8), np.float32)]

    manifest = Manifest(inputs=(IDS, MASK), outputs=(POOLED,), params=(), target={"kind": "llvm"},
                        target_spec="llvm", threads=1, pipeline="", weights=(), kernels={},
                        versions={}, created="2026-01-01T00:00:00+00:00", sizes=SIZES)
    return CompiledModel(manifest, execute), calls


@pytest.mark.parametrize("batch,seq", [(1, 1), (3, 7), (4, 16)])
def test_every_size_in_range_runs(batch, seq):
    model, calls = dynamic_model()
    pooled = model(input_ids=np.zeros((batch, seq), np.int64))
    assert pooled.shape == (batch, 8)
    np.testing.assert_array_equal(calls[-1][1], np.ones((batch, seq), np.int64))  # default mask


@pytest.mark.parametrize("ids,mask,message", [
    ((2, 17), (2, 17), r"input 'input_ids': seq 17 is outside 1..16, the range the model was "
                       r"compiled for"),
    ((5, 3), (5, 3), r"input 'input_ids': batch 5 is outside 1..4"),
    ((2, 3), (2, 4), r"input 'attention_mask': seq is 4 here but 3 in 'input_ids' \(shape "
                     r"\[2, 4\]\)"),
    ((2, 3, 1), (2, 3), r"input 'input_ids': expected shape \[batch, seq\] \(batch 1..4, seq "
                        r"1..16\), got \[2, 3, 1\]"),
])
def test_sizes_out_of_range_or_disagreeing_are_refused_before_running(ids, mask, message):
    model, calls = dynamic_model()
    with pytest.raises(InputError, match=message):
        model(np.zeros(ids, np.int64), np.ones(mask, np.int64))
    assert calls == []


def test_bind_sizes_reads_them_from_the_shapes():
    arrays = [np.zeros((2, 5), np.int64), np.zeros((2, 5), np.int64)]
    assert bind_sizes((IDS, MASK), arrays, SIZES) == {"batch": 2, "seq": 5}


def test_random_inputs_take_the_sizes_given_or_a_default_in_range():
    assert example_sizes({"batch": (1, 32), "seq": (1, 512)}) == {"batch": 1, "seq": 128}
    assert example_sizes({"batch": (2, 4), "seq": (1, 64)}) == {"batch": 2, "seq": 64}
    arrays = random_inputs((IDS, MASK), sizes={"batch": 3, "seq": 9})
    assert arrays["input_ids"].shape == arrays["attention_mask"].shape == (3, 9)


def test_the_manifest_records_the_ranges(tmp_path):
    model, _ = dynamic_model()
    data = model.manifest.to_json()
    assert data["sizes"] == {"batch": [1, 4], "seq": [1, 16]}
    assert data["inputs"][0]["shape"] == ["batch", "seq"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    assert read_manifest(tmp_path).sizes == SIZES
    del data["sizes"]["seq"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match="'input_ids' has the size 'seq' that 'sizes' does "
                                            "not list"):
        read_manifest(tmp_path)
