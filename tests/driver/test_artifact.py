"""The artifact on disk: manifest round trip and one-line errors for missing or corrupt parts.

These build small artifacts by hand (manifest + params, no library), so they need no compiler.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from driver_helpers import error_line, invoke

from sparsec.artifact import (
    MANIFEST,
    MANIFEST_VERSION,
    PARAMS,
    ArtifactError,
    Manifest,
    TensorInfo,
    WeightDecision,
    read_manifest,
    read_params,
    write_manifest,
    write_params,
)
from sparsec.compiler import default_output
from sparsec.runtime import load

WEIGHT = TensorInfo("encoder.fc.weight.bsr32x1.data", (3, 32, 1), "float32")
BIAS = TensorInfo("encoder.fc.bias", (64,), "float32")


def sample_manifest() -> Manifest:
    return Manifest(
        inputs=(TensorInfo("input_ids", (1, 16), "int64", 200),
                TensorInfo("attention_mask", (1, 16), "int64")),
        outputs=(TensorInfo("last_hidden_state", (1, 16, 64), "float32"),),
        params=(WEIGHT, BIAS),
        target={"kind": "llvm", "mcpu": "skylake-avx512", "mtriple": "x86_64-pc-linux-gnu"},
        target_spec="llvm -mcpu=skylake-avx512",
        threads=2,
        pipeline="canonicalize,cse,sparsity-analysis,block-shape-selection,sparsify,"
                 "canonicalize,dce",
        weights=(WeightDecision("encoder.fc.weight", (64, 32), 0.05, "32x1", 8.5, "forced"),
                 WeightDecision("encoder.zero.weight", (64, 64), 0.0, "32x1", None, "forced"),
                 WeightDecision("encoder.out.weight", (32, 64), 0.9, "dense", 1.0, "density")),
        kernels={"bsr_linear": 2, "dense_linear": 1},
        versions={"sparsec": "0.1.0", "tvm": "0.27.0"},
        created="2026-01-01T00:00:00+00:00",
        model="tiny-bert",
    )


def write_sample(folder, manifest: Manifest | None = None):
    manifest = manifest or sample_manifest()
    folder.mkdir()
    write_manifest(folder, manifest)
    write_params(folder, list(manifest.params),
                 [np.arange(96, dtype=np.float32).reshape(3, 32, 1), np.ones(64, np.float32)])
    return folder


def test_manifest_round_trip(tmp_path):
    folder = write_sample(tmp_path / "a.sparsec")
    data = json.loads((folder / MANIFEST).read_text())
    assert data["manifest_version"] == MANIFEST_VERSION
    assert data["inputs"][0] == {"name": "input_ids", "shape": [1, 16], "dtype": "int64",
                                 "upper_bound": 200}
    assert data["weights"][1]["predicted_speedup"] is None  # JSON has no infinity
    assert read_manifest(folder) == sample_manifest()
    params = read_params(folder, sample_manifest())
    assert [p.shape for p in params] == [(3, 32, 1), (64,)]


def test_summary_weighs_linears_by_size():
    totals = sample_manifest().summary()
    assert totals["linears"] == 3 and totals["bsr"] == 2
    dense = 64 * 32 + 64 * 64 + 32 * 64
    assert totals["density"] == pytest.approx((0.05 * 2048 + 0.9 * 2048) / dense)
    assert totals["predicted_speedup"] == pytest.approx(dense / (2048 / 8.5 + 0 + 2048))
    assert math.isinf(sample_manifest().weights[1].speedup)


def damage(folder, how: str) -> None:
    manifest = folder / MANIFEST
    data = json.loads(manifest.read_text())
    if how == "no manifest":
        manifest.unlink()
    elif how == "bad json":
        manifest.write_text(manifest.read_text()[:40])
    elif how == "version":
        manifest.write_text(json.dumps({**data, "manifest_version": MANIFEST_VERSION + 1}))
    elif how == "missing field":
        del data["outputs"]
        manifest.write_text(json.dumps(data))
    elif how == "bad dtype":
        data["inputs"][0]["dtype"] = "int65"
        manifest.write_text(json.dumps(data))
    elif how == "no params":
        (folder / PARAMS).unlink()
    elif how == "corrupt params":
        (folder / PARAMS).write_bytes(b"PK\x03\x04 not really a zip")
    elif how == "params mismatch":
        np.savez(folder / PARAMS, **{WEIGHT.name: np.zeros((3, 32, 1), np.float32)})
    elif how == "param shape":
        np.savez(folder / PARAMS, **{WEIGHT.name: np.zeros((4, 32, 1), np.float32),
                                     BIAS.name: np.ones(64, np.float32)})


DAMAGES = {
    "no manifest": "is not a sparsec artifact: no manifest.json",
    "bad json": "is corrupt: not valid JSON",
    "version": f"has manifest version {MANIFEST_VERSION + 1}; this sparsec reads version",
    "missing field": "is corrupt: 'outputs' is missing or not a list",
    "bad dtype": "inputs[0] 'input_ids': unknown dtype 'int65'",
    "no params": "is incomplete: no params.npz",
    "corrupt params": "params.npz' is corrupt",
    "params mismatch": "does not match the manifest: missing ['encoder.fc.bias']",
    "param shape": "weight 'encoder.fc.weight.bsr32x1.data' is float32[4, 32, 1], the manifest "
                   "says float32[3, 32, 1]",
}


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_artifacts_are_one_line_errors(tmp_path, how):
    folder = write_sample(tmp_path / "a.sparsec")
    damage(folder, how)
    with pytest.raises(ArtifactError) as caught:
        load(folder)
    assert DAMAGES[how] in str(caught.value) and "\n" not in str(caught.value)


def test_missing_library_is_reported(tmp_path):
    folder = write_sample(tmp_path / "a.sparsec")
    with pytest.raises(ArtifactError, match=r"is incomplete: no model\.so"):
        load(folder)


def test_library_with_another_checksum_is_refused(tmp_path):
    folder = write_sample(tmp_path / "a.sparsec")
    (folder / "model.so").write_bytes(b"\x7fELF truncated")
    with pytest.raises(ArtifactError, match="checksum does not match the manifest"):
        load(folder)


def test_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="no such artifact"):
        load(tmp_path / "missing.sparsec")
    file = tmp_path / "file.sparsec"
    file.write_text("x")
    with pytest.raises(ArtifactError, match="is not a sparsec artifact"):
        load(file)


@pytest.mark.parametrize("how", ["no manifest", "version", "params mismatch"])
def test_run_reports_a_damaged_artifact_in_one_line(tmp_path, how):
    folder = write_sample(tmp_path / "a.sparsec")
    damage(folder, how)
    assert DAMAGES[how] in error_line(invoke("run", folder))


def test_run_reports_a_missing_artifact(tmp_path):
    assert "no such artifact" in error_line(invoke("run", tmp_path / "nothing.sparsec"))


@pytest.mark.parametrize(("model", "expected"), [
    ("path/to/bert-dir", "bert-dir.sparsec"), ("bert-dir/", "bert-dir.sparsec"),
    ("model.pt2", "model.sparsec"), ("/tmp/x/pruned.bert.pt2", "pruned.bert.sparsec"),
])
def test_default_output_is_the_model_name_in_the_current_folder(model, expected):
    assert str(default_output(model)) == expected
