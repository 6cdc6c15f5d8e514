"""Compile, load and run tiny BERTs (dense and pruned 90 % in 32x1 blocks) and compare every
output with PyTorch eager; `sparsec run`, `--dump-ir`, atomic output, damaged artifacts."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from driver_helpers import SEQ_LEN, TOLERANCE, compile_artifact, error_line, invoke

import sparsec
import sparsec.compiler
from sparsec.artifact import LIBRARY, MANIFEST, ArtifactError, write_checksums
from sparsec.errors import UserError


def sample_inputs(seed: int = 1) -> dict[str, np.ndarray]:
    """Token ids of a 200-word vocabulary, a mask with padding at the end, both token types."""
    rng = np.random.default_rng(seed)
    mask = np.ones((1, SEQ_LEN), np.int64)
    mask[0, -3:] = 0
    return {"input_ids": rng.integers(0, 200, (1, SEQ_LEN)),
            "attention_mask": mask,
            "token_type_ids": (np.arange(SEQ_LEN) >= SEQ_LEN // 2).astype(np.int64)[None]}


def torch_outputs(model_dir, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import torch

    from sparsec.frontend.loader import load

    module = load(model_dir, seq_len=SEQ_LEN).module
    with torch.no_grad():
        out = module(**{name: torch.from_numpy(a) for name, a in inputs.items()})
    return [out.last_hidden_state.numpy(), out.pooler_output.numpy()]


def assert_matches_pytorch(model: sparsec.CompiledModel, model_dir) -> None:
    inputs = sample_inputs()
    ours = model(**inputs)
    expected = torch_outputs(model_dir, inputs)
    assert [o.name for o in model.outputs] == ["last_hidden_state", "pooler_output"]
    for got, want in zip(ours, expected, strict=True):
        assert got.shape == want.shape and got.dtype == np.float32
        assert float(np.max(np.abs(got - want))) <= TOLERANCE


def test_dense_model_matches_pytorch(dense_artifact, tiny_bert):
    model = sparsec.load(dense_artifact)
    assert [(i.name, i.shape, i.dtype, i.upper_bound) for i in model.inputs] == [
        ("input_ids", (1, SEQ_LEN), "int64", 200), ("attention_mask", (1, SEQ_LEN), "int64", None),
        ("token_type_ids", (1, SEQ_LEN), "int64", 2)]
    assert_matches_pytorch(model, tiny_bert)
    manifest = model.manifest
    assert manifest.weights == ()
    assert manifest.pipeline == "canonicalize,cse,combine-parallel-linears,fusion,canonicalize,dce"


def test_pruned_model_matches_pytorch(pruned_artifact, pruned_bert):
    model = sparsec.load(pruned_artifact)
    assert_matches_pytorch(model, pruned_bert)
    encoder = [w for w in model.manifest.weights if w.weight.startswith("encoder.")]
    assert len(encoder) == 12
    assert all(w.block_shape == "32x1" for w in encoder)
    assert all(w.density == pytest.approx(0.1, abs=0.02) for w in encoder)
    assert all(w.speedup > 1 for w in encoder)
    assert "bsr_linear" in model.manifest.kernels


def test_manifest_records_target_versions_and_pipeline(pruned_artifact):
    data = json.loads((pruned_artifact / MANIFEST).read_text())
    from sparsec.codegen.target import host_cpu

    assert data["target"]["kind"] == "llvm" and data["target"]["mcpu"] == host_cpu()
    assert data["target_spec"] == "llvm" and data["threads"] == 2
    assert set(data["versions"]) >= {"sparsec", "tvm"}
    assert "block-shape-selection{" in data["pipeline"] and "force=32x1" in data["pipeline"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", data["created"])
    assert len(data["params"]) == len(np.load(pruned_artifact / "params.npz").files)


def test_compile_prints_the_decision_table(pruned_bert, tmp_path):
    result = invoke("compile", pruned_bert, "-o", tmp_path / "p.sparsec", "--seq-len", SEQ_LEN,
                    "--block-shape", "32x1", "--layer", "*.query.*=dense", "--threads", "2")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "encoder.layer" in line]
    assert len(rows) == 12
    query = next(r for r in rows if "layer.0.attention.self.query" in r)
    key = next(r for r in rows if "layer.0.attention.self.key" in r)
    assert "dense" in query and "1.00x" in query and " - " in query
    assert "32x1" in key and re.search(r"\b(9|10|11)\.\d%", key)
    assert re.search(r"│ (rows|rows-\dslices) +│", key)  # the kernel layout of 32x1 blocks
    summary = result.stdout.strip().splitlines()[-1]
    pooler = next(r for r in result.stdout.splitlines() if "pooler.dense.weight" in r)
    assert "dense" in pooler and "100.0%" in pooler  # --block-shape leaves dense weights dense
    assert re.match(r"13 linears \(10 BSR, 3 dense\), weight density \d+\.\d%, predicted "
                    r"speedup of the linears \d+\.\d\dx; \d+ kernels; wrote ", summary)
    for stage in ("Loading the model", "Running pass sparsify", "Compiling", "Writing"):
        assert stage in result.stderr


def test_save_and_load_round_trip(dense_artifact, tmp_path):
    model = sparsec.load(dense_artifact)
    model.save(tmp_path / "copy.sparsec")
    copy = sparsec.load(tmp_path / "copy.sparsec")
    inputs = sample_inputs(seed=3)
    for a, b in zip(model(**inputs), copy(**inputs), strict=True):
        np.testing.assert_array_equal(a, b)
    assert copy.manifest == model.manifest


def test_python_api_compiles_a_module(torch_quiet):
    torch = torch_quiet
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(),
                              torch.nn.Linear(64, 16)).eval()
    with torch.no_grad():
        mlp[0].weight[:, 8:] = 0  # 75 % zero columns: worth BSR
    x = torch.randn(4, 32)
    model = sparsec.compile(mlp, (x,), threads=2, block_shape="16x1")
    # The forced shape applies to the sparse layer; the dense one stays dense (dense-above).
    assert [w.block_shape for w in model.manifest.weights] == ["16x1", "dense"]
    got = model(x)  # a torch tensor in, numpy out
    with torch.no_grad():
        want = mlp(x).numpy()
    assert isinstance(got, np.ndarray)
    assert float(np.max(np.abs(got - want))) <= TOLERANCE
    with pytest.raises(sparsec.InputError, match="expected shape"):
        model(torch.randn(2, 32))


def test_python_api_refuses_unknown_options():
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        sparsec.compile("model.pt2", blocksize="32x1")


# -- sparsec run --------------------------------------------------------------------------


def test_run_on_random_inputs_saves_the_outputs(dense_artifact, tmp_path):
    out = tmp_path / "out.npz"
    result = invoke("run", dense_artifact, "--seed", "4", "--repeat", "3", "--output", out)
    assert result.exit_code == 0, result.output
    assert "output last_hidden_state: float32[1, 16, 64] [" in result.stdout
    assert re.search(r"time: \d+\.\d+ ms \(median of 3 runs\)", result.stdout)
    saved = np.load(out)
    model = sparsec.load(dense_artifact)
    from sparsec.runtime import random_inputs

    expected = model(**random_inputs(model.inputs, seed=4))
    np.testing.assert_array_equal(saved["last_hidden_state"], expected[0])
    np.testing.assert_array_equal(saved["pooler_output"], expected[1])


def test_run_on_given_inputs(dense_artifact, tmp_path):
    inputs = sample_inputs()
    np.save(tmp_path / "ids.npy", inputs["input_ids"])
    np.savez(tmp_path / "rest.npz", attention_mask=inputs["attention_mask"],
             token_type_ids=inputs["token_type_ids"])
    out = tmp_path / "out.npz"
    result = invoke("run", dense_artifact, "--input", f"input_ids={tmp_path / 'ids.npy'}",
                    "--inputs", tmp_path / "rest.npz", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.count(" given") == 3
    expected = sparsec.load(dense_artifact)(**inputs)
    np.testing.assert_array_equal(np.load(out)["last_hidden_state"], expected[0])


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((1, 8), np.int64), "input 'input_ids': expected shape [1, 16], got [1, 8]"),
    (np.zeros((1, 16), np.int32), "input 'input_ids': expected dtype int64, got int32"),
    (np.full((1, 16), 200), "input 'input_ids': value 200 at index [0, 0] is out of range"),
    (np.full((1, 16), -1), "input 'input_ids': value -1 at index [0, 0] is out of range"),
], ids=["shape", "dtype", "too large", "negative"])
def test_run_refuses_bad_inputs(dense_artifact, tmp_path, array, message):
    np.save(tmp_path / "ids.npy", array)
    result = invoke("run", dense_artifact, "--input", f"input_ids={tmp_path / 'ids.npy'}")
    assert error_line(result).startswith(f"error: {message}")


def test_run_refuses_unknown_names_and_files(dense_artifact, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(3))
    unknown = invoke("run", dense_artifact, "--input", f"input_idz={tmp_path / 'x.npy'}")
    assert error_line(unknown) == "error: unknown input 'input_idz' (the inputs are input_ids, " \
                                  "attention_mask, token_type_ids)"
    missing = invoke("run", dense_artifact, "--input", "input_ids=nothing.npy")
    assert error_line(missing) == "error: --input input_ids: no such file 'nothing.npy'"
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert "cannot read" in error_line(invoke("run", dense_artifact, "--inputs",
                                              tmp_path / "bad.npz"))
    assert "expected NAME=FILE.npy" in error_line(invoke("run", dense_artifact, "--input", "x"))


def test_direct_calls_refuse_bad_ids(dense_artifact):
    model = sparsec.load(dense_artifact)
    inputs = sample_inputs()
    inputs["input_ids"][0, 5] = 10_000  # would read far outside the embedding table
    with pytest.raises(sparsec.InputError, match=r"value 10000 at index \[0, 5\]"):
        model(**inputs)
    with pytest.raises(sparsec.InputError, match="missing input 'input_ids'"):
        model(attention_mask=inputs["attention_mask"])


# -- damaged artifacts ----------------------------------------------------------------------


def test_truncated_library_is_refused_before_loading(artifact_copy):
    library = artifact_copy / LIBRARY
    library.write_bytes(library.read_bytes()[:1000])  # dlopen would die of SIGBUS on it
    with pytest.raises(ArtifactError, match=r"model\.so' has changed since the artifact was "
                                            "written") as caught:
        sparsec.load(artifact_copy)
    assert "\n" not in str(caught.value)
    assert "has changed" in error_line(invoke("run", artifact_copy))


def test_a_library_tvm_cannot_load_is_a_one_line_error(artifact_copy):
    library = artifact_copy / LIBRARY
    library.write_bytes(b"not a shared library")
    write_checksums(artifact_copy)
    with pytest.raises(ArtifactError, match=r"cannot load .*model\.so") as caught:
        sparsec.load(artifact_copy)
    assert "\n" not in str(caught.value)


def test_library_from_another_tvm_is_refused(artifact_copy):
    manifest = artifact_copy / MANIFEST
    data = json.loads(manifest.read_text())
    data["versions"]["tvm"] = "0.19.0"
    manifest.write_text(json.dumps(data))
    write_checksums(artifact_copy)
    with pytest.raises(ArtifactError, match=r"built with TVM 0\.19\.0"):
        sparsec.load(artifact_copy)


# -- --dump-ir and atomic output --------------------------------------------------------------


def test_dump_ir_writes_every_stage(pruned_bert, tmp_path):
    dumps = tmp_path / "ir"
    compile_artifact(pruned_bert, tmp_path / "p.sparsec", "--dump-ir", dumps)
    names = sorted(p.name for p in dumps.iterdir())
    assert names == ["00-import.mlir", "01-canonicalize.mlir", "02-cse.mlir",
                     "03-sparsity-analysis.mlir", "04-block-shape-selection.mlir",
                     "05-sparsify.mlir", "06-combine-parallel-linears.mlir", "07-fusion.mlir",
                     "08-canonicalize.mlir", "09-dce.mlir"]
    assert '"sparsec.bsr_linear"' not in (dumps / "04-block-shape-selection.mlir").read_text()
    sparsified = (dumps / "05-sparsify.mlir").read_text()
    assert '"sparsec.bsr_linear"' in sparsified and "sparsec.decision" in sparsified
    assert "dialect_resources" not in sparsified  # weights elided by default
    assert "epilogue" not in sparsified and "layout" not in sparsified
    combined = (dumps / "06-combine-parallel-linears.mlir").read_text()  # each layer's QKV
    assert combined.count("sparsec.parts = array<i64: 64, 64, 64>") == 2
    slices = sparsified.count('"sparsec.slice"')  # the pooler's first token
    assert combined.count('"sparsec.slice"') == slices + 6
    fused = (dumps / "07-fusion.mlir").read_text()  # each layer's FFN, attention output, QKV
    assert fused.count('epilogue = ["gelu"]') == fused.count('epilogue = ["residual"]') / 2 == 2
    assert fused.count('layout = ["bshd", "bshd", "bshd", "bshd"]') == 2
    assert fused.count("head_offsets = array<i64: 0, 4, 8>, heads = 4") == 2
    assert '"sparsec.gelu"' not in fused and '"sparsec.permute"' not in fused
    assert fused.count('"sparsec.slice"') == slices  # attention reads q, k, v in place


class Interrupt(KeyboardInterrupt):
    pass


@pytest.mark.parametrize("failure", [UserError("disk full"), Interrupt()],
                         ids=["error", "ctrl-c"])
def test_a_failed_compile_leaves_no_output(tiny_bert, tmp_path, monkeypatch, failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(sparsec.compiler, "write_params", fail)
    out = tmp_path / "out.sparsec"
    result = invoke("compile", tiny_bert, "-o", out, "--seq-len", SEQ_LEN, "--no-sparsity")
    assert result.exit_code != 0
    if isinstance(failure, UserError):
        assert error_line(result) == "error: disk full"
    assert list(tmp_path.iterdir()) == []  # no artifact, no temporary left behind


def test_a_failed_recompile_keeps_the_previous_artifact(artifact_copy, tiny_bert, monkeypatch):
    before = {p.name: p.read_bytes() for p in artifact_copy.iterdir()}

    def fail(*args, **kwargs):
        raise UserError("disk full")

    monkeypatch.setattr(sparsec.compiler, "write_manifest", fail)
    result = invoke("compile", tiny_bert, "-o", artifact_copy, "--seq-len", SEQ_LEN,
                    "--no-sparsity")
    assert error_line(result) == "error: disk full"
    assert {p.name: p.read_bytes() for p in artifact_copy.iterdir()} == before
    assert sorted(p.name for p in artifact_copy.parent.iterdir()) == [artifact_copy.name]
