"""The artifact on disk: manifest round trip and one-line errors for missing or corrupt parts.

These build small artifacts by hand (manifest, params, checksums and a stand-in library that
is never loaded), so they need no compiler; test_artifact_damage.py damages compiled ones.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest
from driver_helpers import error_line, invoke

from sparsec.artifact import (
    CHECKSUMS,
    LIBRARY,
    MANIFEST,
    MANIFEST_VERSION,
    PARAMS,
    ArtifactError,
    BsrLayout,
    Manifest,
    TensorInfo,
    WeightDecision,
    read_manifest,
    read_params,
    write_checksums,
    write_manifest,
    write_params,
)
from sparsec.compiler import default_output
from sparsec.runtime import load

WEIGHT = TensorInfo("encoder.fc.weight.bsr32x1.data", (3, 32, 1), "float32", finite=True)
INDICES = TensorInfo("encoder.fc.weight.bsr32x1.indices", (3,), "int32", finite=True)
INDPTR = TensorInfo("encoder.fc.weight.bsr32x1.indptr", (3,), "int32", finite=True)
BIAS = TensorInfo("encoder.fc.bias", (64,), "float32", finite=True)
LAYOUT = BsrLayout("encoder.fc.weight", (32, 1), (64, 32), WEIGHT.name, INDICES.name, INDPTR.name)


def sample_params() -> list[np.ndarray]:
    """A BSR weight of 64x32 in 32x1 blocks: two blocks in block row 0, one in row 1."""
    return [np.arange(96, dtype=np.float32).reshape(3, 32, 1), np.array([0, 5, 31], np.int32),
            np.array([0, 2, 3], np.int32), np.ones(64, np.float32)]


def sample_manifest() -> Manifest:
    return Manifest(
        inputs=(TensorInfo("input_ids", (1, 16), "int64", 200),
                TensorInfo("attention_mask", (1, 16), "int64")),
        outputs=(TensorInfo("last_hidden_state", (1, 16, 64), "float32"),),
        params=(WEIGHT, INDICES, INDPTR, BIAS),
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
        cpu_features=("sse", "sse2"),
        bsr=(LAYOUT,),
    )


def write_sample(folder, manifest: Manifest | None = None):
    manifest = manifest or sample_manifest()
    folder.mkdir()
    write_manifest(folder, manifest)
    write_params(folder, list(manifest.params), sample_params())
    (folder / LIBRARY).write_bytes(b"a stand-in: not ELF, never loaded by these tests")
    write_checksums(folder)
    return folder


def test_manifest_round_trip(tmp_path):
    folder = write_sample(tmp_path / "a.sparsec")
    data = json.loads((folder / MANIFEST).read_text())
    assert data["manifest_version"] == MANIFEST_VERSION
    assert data["inputs"][0] == {"name": "input_ids", "shape": [1, 16], "dtype": "int64",
                                 "upper_bound": 200}
    assert data["weights"][1]["predicted_speedup"] is None  # JSON has no infinity
    assert data["cpu_features"] == ["sse", "sse2"] and data["params"][0]["finite"] is True
    assert data["bsr"] == [{"weight": "encoder.fc.weight", "block": [32, 1],
                            "dense_shape": [64, 32], "data": WEIGHT.name,
                            "indices": INDICES.name, "indptr": INDPTR.name, "slices": 1,
                            "sweep_rows": 0}]
    assert read_manifest(folder) == sample_manifest()
    params = read_params(folder, sample_manifest())
    assert [p.shape for p in params] == [(3, 32, 1), (3,), (3,), (64,)]
    assert (folder / CHECKSUMS).read_text().splitlines()[1].endswith("  params.npz")


def test_summary_weighs_linears_by_size():
    totals = sample_manifest().summary()
    assert totals["linears"] == 3 and totals["bsr"] == 2
    dense = 64 * 32 + 64 * 64 + 32 * 64
    assert totals["density"] == pytest.approx((0.05 * 2048 + 0.9 * 2048) / dense)
    assert totals["predicted_speedup"] == pytest.approx(dense / (2048 / 8.5 + 0 + 2048))
    assert math.isinf(sample_manifest().weights[1].speedup)


def edit_manifest(folder, edit) -> None:
    data = json.loads((folder / MANIFEST).read_text())
    edit(data)
    (folder / MANIFEST).write_text(json.dumps(data))


def save_params(folder, **changes) -> None:
    """params.npz with some arrays replaced (None: left out)."""
    arrays = dict(zip([WEIGHT.name, INDICES.name, INDPTR.name, BIAS.name], sample_params(),
                      strict=True))
    arrays.update(changes)
    np.savez(folder / PARAMS, **{k: v for k, v in arrays.items() if v is not None})


def set_features(value):
    return lambda data: data.update(cpu_features=value)


# How to damage a sample artifact; every damage is resealed (SHA256SUMS rewritten to match),
# so the check behind the checksums is what must catch it.
DAMAGES = {
    "no manifest": (lambda f: (f / MANIFEST).unlink(),
                    "is not a sparsec artifact: no manifest.json"),
    "bad json": (lambda f: (f / MANIFEST).write_text("{\"inputs\": ["),
                 "is corrupt: not valid JSON"),
    "version": (lambda f: edit_manifest(f, lambda d: d.update(manifest_version=1)),
                f"has manifest version 1; this sparsec reads version {MANIFEST_VERSION}"),
    "missing field": (lambda f: edit_manifest(f, lambda d: d.pop("outputs")),
                      "is corrupt: 'outputs' is missing or not a list"),
    "bad dtype": (lambda f: edit_manifest(f, lambda d: d["inputs"][0].update(dtype="int65")),
                  "inputs[0] 'input_ids': unknown dtype 'int65'"),
    "no cpu features": (lambda f: edit_manifest(f, lambda d: d.pop("cpu_features")),
                        "is corrupt: 'cpu_features' is missing or not a list"),
    "cpu features a string": (lambda f: edit_manifest(f, set_features("avx2")),
                              "is corrupt: 'cpu_features' is missing or not a list"),
    "cpu feature not a name": (lambda f: edit_manifest(f, set_features(["avx2", 3])),
                               "'cpu_features' must list LLVM feature names"),
    "finite missing": (lambda f: edit_manifest(f, lambda d: d["params"][3].pop("finite")),
                       "params 'encoder.fc.bias': 'finite' is missing"),
    "bsr names no param": (lambda f: edit_manifest(f, lambda d: d["bsr"][0].update(indptr="x")),
                           "bsr[0] 'encoder.fc.weight': indptr 'x' is not among the params"),
    "bsr block not a pair": (lambda f: edit_manifest(f, lambda d: d["bsr"][0].update(block=[32])),
                             "'block' and 'dense_shape' must be two positive sizes each"),
    "no params": (lambda f: (f / PARAMS).unlink(), "is incomplete: no params.npz"),
    "corrupt params": (lambda f: (f / PARAMS).write_bytes(b"PK\x03\x04 not really a zip"),
                       "params.npz' is corrupt"),
    "params mismatch": (lambda f: save_params(f, **{BIAS.name: None}),
                        "does not match the manifest: missing ['encoder.fc.bias']"),
    "param shape": (lambda f: save_params(f, **{WEIGHT.name: np.zeros((4, 32, 1), np.float32)}),
                    "weight 'encoder.fc.weight.bsr32x1.data' is float32[4, 32, 1], the "
                    "manifest says float32[3, 32, 1]"),
    "param dtype": (lambda f: save_params(f, **{INDPTR.name: np.array([0, 2, 3], np.int64)}),
                    "weight 'encoder.fc.weight.bsr32x1.indptr' is int64[3], the manifest says "
                    "int32[3]"),
    "inf bias": (lambda f: save_params(f, **{BIAS.name: np.r_[np.ones(63), np.inf]
                                             .astype(np.float32)}),
                 "weight 'encoder.fc.bias' holds inf at index [63]; it was finite"),
    "nan data": (lambda f: save_params(f, **{WEIGHT.name: np.full((3, 32, 1), np.nan,
                                                                  np.float32)}),
                 "weight 'encoder.fc.weight.bsr32x1.data' holds nan at index [0, 0, 0]"),
    "indptr end": (lambda f: save_params(f, **{INDPTR.name: np.array([0, 2, 10**7], np.int32)}),
                   "BSR weight 'encoder.fc.weight' is corrupt: indptr runs from 0 to 10000000, "
                   "expected 0 to 3"),
    "indptr start": (lambda f: save_params(f, **{INDPTR.name: np.array([1, 2, 3], np.int32)}),
                     "indptr runs from 1 to 3, expected 0 to 3"),
    "indptr decreases": (lambda f: save_params(f, **{INDPTR.name: np.array([0, 4, 3],
                                                                           np.int32)}),
                         "indptr decreases after block row 1"),
    "index too large": (lambda f: save_params(f, **{INDICES.name: np.array([0, 10**6, 1],
                                                                           np.int32)}),
                        "block column 1000000 in indices is outside 0..31"),
    "index 32 of 32": (lambda f: save_params(f, **{INDICES.name: np.array([0, 32, 1], np.int32)}),
                       "block column 32 in indices is outside 0..31"),
    "negative index": (lambda f: save_params(f, **{INDICES.name: np.array([0, -1, 1],
                                                                          np.int32)}),
                       "block column -1 in indices is outside 0..31"),
    "no checksums": (lambda f: (f / CHECKSUMS).unlink(), "is incomplete: no SHA256SUMS"),
}
NOT_RESEALED = {"no manifest", "no params", "no checksums"}  # SHA256SUMS needs every file


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_artifacts_are_one_line_errors(tmp_path, how):
    folder = write_sample(tmp_path / "a.sparsec")
    damage, message = DAMAGES[how]
    damage(folder)
    if how not in NOT_RESEALED:
        write_checksums(folder)
    with pytest.raises(ArtifactError) as caught:
        load(folder)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", [MANIFEST, PARAMS, LIBRARY])
def test_a_changed_file_is_named(tmp_path, name):
    folder = write_sample(tmp_path / "a.sparsec")
    file = folder / name
    data = bytearray(file.read_bytes())
    if name == MANIFEST:  # still valid: the threads the schedules were made for
        data = data.replace(b'"threads": 2', b'"threads": 3')
    else:
        data[len(data) // 2] ^= 1  # one bit
    file.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=rf"'.*{name}' has changed since the artifact was "
                                            rf"written \(its SHA-256 differs from the one in "
                                            rf"SHA256SUMS\)"):
        load(folder)


@pytest.mark.parametrize(("text", "message"), [
    ("0" * 64 + "  manifest.json\n", "it lists ['manifest.json'], expected"),
    ("xyz  manifest.json\n", "is corrupt at line 1"),
], ids=["files missing", "not a digest"])
def test_malformed_checksums_are_refused(tmp_path, text, message):
    folder = write_sample(tmp_path / "a.sparsec")
    (folder / CHECKSUMS).write_text(text)
    with pytest.raises(ArtifactError, match=re.escape(message)):
        load(folder)


def test_a_big_endian_weight_is_read_in_native_order(tmp_path):
    folder = write_sample(tmp_path / "a.sparsec")
    save_params(folder, **{BIAS.name: np.arange(64, dtype=">f4")})
    bias = read_params(folder, sample_manifest())[3]
    assert bias.dtype.isnative and bias.tolist() == list(range(64))


def test_a_weight_written_with_inf_may_keep_it(tmp_path):
    """Only weights that were finite at compile time must stay finite."""
    infinite = TensorInfo(BIAS.name, BIAS.shape, BIAS.dtype, finite=False)
    manifest = sample_manifest()
    manifest.params = (WEIGHT, INDICES, INDPTR, infinite)
    folder = write_sample(tmp_path / "a.sparsec", manifest)
    save_params(folder, **{BIAS.name: np.full(64, -np.inf, np.float32)})
    assert np.isneginf(read_params(folder, manifest)[3]).all()


def test_missing_library_is_reported(tmp_path):
    folder = write_sample(tmp_path / "a.sparsec")
    (folder / LIBRARY).unlink()
    with pytest.raises(ArtifactError, match=r"is incomplete: no model\.so"):
        load(folder)


def test_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="no such artifact"):
        load(tmp_path / "missing.sparsec")
    file = tmp_path / "file.sparsec"
    file.write_text("x")
    with pytest.raises(ArtifactError, match="is not a sparsec artifact"):
        load(file)


@pytest.mark.parametrize("how", ["no manifest", "version", "params mismatch", "indptr end"])
def test_run_reports_a_damaged_artifact_in_one_line(tmp_path, how):
    folder = write_sample(tmp_path / "a.sparsec")
    damage, message = DAMAGES[how]
    damage(folder)
    if how not in NOT_RESEALED:
        write_checksums(folder)
    assert message in error_line(invoke("run", folder))


def test_run_reports_a_missing_artifact(tmp_path):
    assert "no such artifact" in error_line(invoke("run", tmp_path / "nothing.sparsec"))


@pytest.mark.parametrize(("model", "expected"), [
    ("path/to/bert-dir", "bert-dir.sparsec"), ("bert-dir/", "bert-dir.sparsec"),
    ("model.pt2", "model.sparsec"), ("/tmp/x/pruned.bert.pt2", "pruned.bert.sparsec"),
])
def test_default_output_is_the_model_name_in_the_current_folder(model, expected):
    assert str(default_output(model)) == expected


def test_bsr_layout_of_a_kernel_with_k_slices(tmp_path):
    # Block row 0 holds block columns 0 | 5 in slices of 16 columns, row 1 holds 31: indptr
    # starts every (block row, slice), 2 x 2 + 1 entries.
    indptr = TensorInfo(INDPTR.name, (5,), "int32", finite=True)
    sliced = replace(LAYOUT, slices=2)
    manifest = replace(sample_manifest(), params=(WEIGHT, INDICES, indptr, BIAS), bsr=(sliced,))
    folder = tmp_path / "sliced.sparsec"
    folder.mkdir()
    write_manifest(folder, manifest)
    arrays = sample_params()
    arrays[2] = np.array([0, 1, 2, 2, 3], np.int32)
    write_params(folder, list(manifest.params), arrays)
    assert read_manifest(folder).bsr == (sliced,)
    assert read_params(folder, manifest)[2].tolist() == [0, 1, 2, 2, 3]
    with pytest.raises(ArtifactError, match="indptr has 5 entries, expected 3"):
        read_params(folder, replace(manifest, bsr=(LAYOUT,)))
    arrays[2] = np.array([0, 1, 3, 2, 3], np.int32)  # cells run in the kernel's order
    write_params(folder, list(manifest.params), arrays)
    with pytest.raises(ArtifactError, match=r"indptr decreases after K-slice cell 2$"):
        read_params(folder, manifest)


def test_bsr_layout_of_a_column_sweep(tmp_path):
    # Groups of one block row; block columns 0 and 5 of row 0 and 31 of row 1: indptr starts
    # every (group, block column), 2 x 32 + 1 entries, and indices holds the block rows.
    swept = replace(LAYOUT, sweep_rows=1)
    indptr = TensorInfo(INDPTR.name, (65,), "int32", finite=True)
    manifest = replace(sample_manifest(), params=(WEIGHT, INDICES, indptr, BIAS), bsr=(swept,))
    folder = tmp_path / "swept.sparsec"
    folder.mkdir()
    write_manifest(folder, manifest)
    arrays = sample_params()
    counts = np.zeros(64, np.int32)
    counts[[0, 5, 32 + 31]] = 1
    arrays[1:3] = [np.array([0, 0, 1], np.int32), np.cumsum([0, *counts], dtype=np.int32)]
    write_params(folder, list(manifest.params), arrays)
    assert read_manifest(folder).bsr == (swept,)
    assert read_params(folder, manifest)[1].tolist() == [0, 0, 1]
    arrays[1] = np.array([0, 1, 1], np.int32)  # the second block names a row of group 1
    write_params(folder, list(manifest.params), arrays)
    with pytest.raises(ArtifactError, match=r"block row 1 in indices is outside its group 0\.\.0"):
        read_params(folder, manifest)


def test_bsr_layout_without_sweep_rows_is_swept_by_block_row():
    data = LAYOUT.to_json()
    del data["sweep_rows"]  # as written before column sweeps
    assert BsrLayout.from_json(data, "bsr[0]") == LAYOUT
    for wrong in ({"sweep_rows": -1}, {"sweep_rows": 8, "slices": 2}):
        with pytest.raises(ArtifactError, match="'sweep_rows' must be a size"):
            BsrLayout.from_json({**data, **wrong}, "bsr[0]")


def test_bsr_layout_without_slices_is_one_slice():
    data = LAYOUT.to_json()
    del data["slices"]  # as written before K slices
    assert BsrLayout.from_json(data, "bsr[0]") == LAYOUT
    with pytest.raises(ArtifactError, match="'slices' must be a positive integer"):
        BsrLayout.from_json({**data, "slices": 0}, "bsr[0]")
