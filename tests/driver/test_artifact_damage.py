"""Damaged compiled artifacts are refused in one line, never crash, never run silently wrong.

Each test damages a copy of a real compiled tiny BERT (the pruned one has BSR weights). Most
damages are "resealed": ``SHA256SUMS`` is rewritten to match, as a careless edit or a tool
could, so that the checks behind the checksums are what must catch them. Damages that crashed
the process before these checks (SIGSEGV in a BSR kernel, SIGBUS in ``dlopen``) run
``sparsec run`` in a subprocess: a crash then fails the test instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import typer
from driver_helpers import error_line, invoke
from typer.testing import CliRunner

import sparsec
import sparsec.codegen.target as target_module
from sparsec.artifact import (
    LIBRARY,
    MANIFEST,
    PARAMS,
    ArtifactError,
    check_library,
    write_checksums,
)
from sparsec.commands import bench as bench_cmd
from sparsec.runtime import random_inputs

# A weight with BSR arrays of its own (query, key and value share theirs: combined)
OUTPUT = "encoder.layer.0.attention.output.dense.weight"


def edit_params(folder, edit) -> None:
    with np.load(folder / PARAMS) as archive:
        arrays = {name: archive[name] for name in archive.files}
    edit(arrays)
    np.savez(folder / PARAMS, **arrays)


def edit_manifest(folder, edit) -> None:
    data = json.loads((folder / MANIFEST).read_text())
    edit(data)
    (folder / MANIFEST).write_text(json.dumps(data, indent=2))


def bsr_array(arrays: dict, weight: str, role: str) -> str:
    """The param name of one BSR array of ``weight`` (``role``: data, indices, indptr)."""
    return next(name for name in arrays if name.startswith(f"{weight}.bsr") and f".{role}" in name)


def run_in_subprocess(artifact) -> subprocess.CompletedProcess:
    """`sparsec run ARTIFACT` in its own process: a crash is a negative return code."""
    return subprocess.run([sys.executable, "-m", "sparsec.cli", "run", str(artifact)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "TVM_NUM_THREADS": "2"})


def assert_refused(result: subprocess.CompletedProcess, message: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


# -- item 4: BSR triples and weights are checked before any kernel runs -----------------------


def set_in(role: str, index: int, value) -> object:
    def edit(arrays: dict) -> None:
        arrays[bsr_array(arrays, OUTPUT, role)][index] = value
    return edit


CRASHES = {  # damage -> the refusal; each crashed `sparsec run` (SIGSEGV, SIGBUS) before
    "indptr ends at 10^7": (lambda f: edit_params(f, set_in("indptr", -1, 10**7)),
                            "indptr runs from 0 to 10000000, expected 0 to"),
    "index 65535": (lambda f: edit_params(f, set_in("indices", 0, 65535)),  # uint16's largest
                    "block column 65535 in indices is outside 0..63"),
    "indptr decreases": (lambda f: edit_params(f, set_in("indptr", 1, 10**4)),
                         "indptr decreases after block row 1"),
    "library cut in half": (lambda f: (f / LIBRARY).write_bytes(
                                (f / LIBRARY).read_bytes()[:(f / LIBRARY).stat().st_size // 2]),
                            "model.so' is corrupt: truncated"),
}


@pytest.mark.parametrize("how", CRASHES)
def test_damage_that_crashed_is_refused_in_a_subprocess(pruned_copy, how):
    damage, message = CRASHES[how]
    damage(pruned_copy)
    write_checksums(pruned_copy)
    assert_refused(run_in_subprocess(pruned_copy), message)


SILENT = {  # damage -> the refusal; each ran with exit 0 and wrong outputs before
    "index one past the end": (set_in("indices", 0, 64),
                               "block column 64 in indices is outside 0..63"),
    "NaN in BSR data": (lambda a: a[bsr_array(a, OUTPUT, "data")].flat.__setitem__(0, np.nan),
                        f"weight '{OUTPUT}.bsr32x1.data:rows' holds nan at index [0, 0, 0]"),
    "inf in a layer norm": (lambda a: a["embeddings.LayerNorm.weight"].__setitem__(7, np.inf),
                            "weight 'embeddings.LayerNorm.weight' holds inf at index [7]"),
}


@pytest.mark.parametrize("how", SILENT)
def test_damage_that_ran_silently_wrong_is_refused(pruned_copy, how):
    edit, message = SILENT[how]
    edit_params(pruned_copy, edit)
    write_checksums(pruned_copy)
    with pytest.raises(ArtifactError, match=r"params\.npz'") as caught:
        sparsec.load(pruned_copy)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_every_bsr_weight_is_recorded_with_its_layout(pruned_artifact):
    manifest = sparsec.load(pruned_artifact).manifest
    bsr = {w.weight: w for w in manifest.weights if w.block_shape != "dense"}
    assert bsr and sorted(w for layout in manifest.bsr for w in layout.weights) == sorted(bsr)
    for layout in manifest.bsr:
        parts = [bsr[weight].shape for weight in layout.weights]
        assert layout.block == (32, 1)
        assert layout.dense_shape == (sum(rows for rows, _ in parts), parts[0][1])
    combined = [layout.weights for layout in manifest.bsr if len(layout.weights) > 1]
    assert combined[0] == tuple(f"encoder.layer.0.attention.self.{name}.weight"
                                for name in ("query", "key", "value"))
    assert all(info.finite for info in manifest.params)


# -- item 5: checksums of every file --------------------------------------------------------


def test_swapped_weights_are_refused(pruned_copy):
    """Two same-shaped weights swapped ran with a max error of 4.6 and exit 0."""
    def swap(arrays: dict) -> None:
        other = bsr_array(arrays, OUTPUT.replace("layer.0", "layer.1"), "data")
        first = bsr_array(arrays, OUTPUT, "data")
        arrays[first], arrays[other] = arrays[other], arrays[first]

    edit_params(pruned_copy, swap)
    assert_refused_here(pruned_copy, "params.npz' has changed since the artifact was written")


def test_swapped_manifest_inputs_are_refused(pruned_copy):
    """Swapped input entries fed the mask in as token ids (max error 2.6, exit 0)."""
    def swap(data: dict) -> None:
        data["inputs"][:2] = data["inputs"][1::-1]

    edit_manifest(pruned_copy, swap)
    assert_refused_here(pruned_copy, "manifest.json' has changed since the artifact was written")
    write_checksums(pruned_copy)  # the library's own argument names still tell
    assert_refused_here(pruned_copy, "model.so' does not match the manifest: argument 0 of main "
                                     "is 'input_ids', the manifest says 'attention_mask'")


def assert_refused_here(artifact, message: str) -> None:
    """`sparsec run` in-process (the damage cannot crash): one error line with ``message``."""
    assert message in error_line(invoke("run", artifact))


# -- item 6: what TVM would raise is one error line -----------------------------------------


def test_another_models_library_is_refused(pruned_copy, dense_artifact):
    shutil.copy(dense_artifact / LIBRARY, pruned_copy / LIBRARY)
    write_checksums(pruned_copy)
    assert_refused_here(pruned_copy, "does not match the manifest: its main takes 33 arguments, "
                                     "the manifest lists")


def test_an_extra_manifest_input_is_refused(pruned_copy):
    def add(data: dict) -> None:
        data["inputs"].append({"name": "extra", "shape": [1, 16], "dtype": "int64",
                               "upper_bound": None})

    edit_manifest(pruned_copy, add)
    write_checksums(pruned_copy)
    assert_refused_here(pruned_copy, "argument 3 of main is 'embeddings.word_embeddings.weight', "
                                     "the manifest says 'extra'")


def test_consistently_reshaped_weights_fail_in_one_line(pruned_copy):
    """The manifest and params agree, the library does not: TVM's ValueError, as one line."""
    name = "embeddings.LayerNorm.weight"
    edit_params(pruned_copy, lambda a: a.__setitem__(name, a[name].reshape(8, 8)))

    def reshape(data: dict) -> None:
        next(p for p in data["params"] if p["name"] == name)["shape"] = [8, 8]

    edit_manifest(pruned_copy, reshape)
    write_checksums(pruned_copy)
    model = sparsec.load(pruned_copy)
    with pytest.raises(ArtifactError, match=r"model\.so' failed: ValueError: .*ndim") as caught:
        model(**random_inputs(model.inputs))
    assert "\n" not in str(caught.value)
    assert "failed: ValueError" in error_line(invoke("run", pruned_copy))


# -- item 7: byte order of inputs -----------------------------------------------------------


def test_big_endian_inputs_are_converted(dense_artifact, tmp_path):
    model = sparsec.load(dense_artifact)
    inputs = random_inputs(model.inputs, seed=2)
    swapped = {name: array.astype(array.dtype.newbyteorder(">")) for name, array in
               inputs.items()}
    for got, want in zip(model(**swapped), model(**inputs), strict=True):
        np.testing.assert_array_equal(got, want)
    np.save(tmp_path / "ids.npy", swapped["input_ids"])
    result = invoke("run", dense_artifact, "--input", f"input_ids={tmp_path / 'ids.npy'}")
    assert result.exit_code == 0, result.output
    with pytest.raises(sparsec.InputError, match="expected dtype int64, got int32"):
        model(**{**inputs, "input_ids": inputs["input_ids"].astype(">i4")})


# -- issue 12 item 2: the CPU features the code needs ---------------------------------------


def bench(*args) -> object:
    app = typer.Typer()
    app.callback()(lambda: None)
    bench_cmd.register(app)
    return CliRunner().invoke(app, ["bench", *(str(a) for a in args)])


def test_the_manifest_records_the_targets_cpu_features(dense_artifact):
    manifest = sparsec.load(dense_artifact).manifest
    assert manifest.cpu_features == target_module.parse_target("llvm").isa_features()
    assert {"sse2", "avx2"} <= set(manifest.cpu_features)  # this machine: AVX2 (Zen 3)


def test_load_run_and_bench_refuse_a_cpu_without_the_features(dense_artifact, monkeypatch):
    monkeypatch.setattr(target_module, "host_cpu_flags", lambda: frozenset({"sse", "sse2"}))
    with pytest.raises(ArtifactError, match="needs CPU features this machine lacks: avx, avx2"
                       ) as caught:
        sparsec.load(dense_artifact)
    assert "rebuild with --target llvm" in str(caught.value)
    for result in (invoke("run", dense_artifact), bench(dense_artifact, "--repeat", "1")):
        line = error_line(result)
        assert line.startswith(f"error: artifact '{dense_artifact}' needs CPU features this "
                               "machine lacks: avx, ")


def test_a_library_is_checked_against_its_elf_layout(artifact_copy):
    """A library cut short dies of SIGBUS in dlopen even when its checksum was rewritten."""
    library = artifact_copy / LIBRARY
    image = bytearray(library.read_bytes())
    assert check_library(artifact_copy) == library
    # No section table (as `strip` may leave it), then cut inside the last loaded segment.
    image[40:48] = bytes(8)  # e_shoff
    image[60:62] = bytes(2)  # e_shnum
    phoff, phnum = int.from_bytes(image[32:40], "little"), int.from_bytes(image[56:58], "little")
    ends = [int.from_bytes(image[at + 8:at + 16], "little")
            + int.from_bytes(image[at + 32:at + 40], "little")
            for at in range(phoff, phoff + 56 * phnum, 56)]
    library.write_bytes(bytes(image[:max(ends) - 1]))
    with pytest.raises(ArtifactError, match=rf"model\.so' is corrupt: truncated \({max(ends) - 1} "
                                            rf"bytes\): segment \d+ ends at byte {max(ends)}"):
        check_library(artifact_copy)
