"""`sparsec compile` options: the target spellings and the errors found before any import.

The target is resolved before the model is read, so these stop early and stay fast: a fake
``compile_model`` records the resolved target and stops the command.
"""

from __future__ import annotations

import pytest
from driver_helpers import error_line, invoke

import sparsec.compiler
from sparsec.compiler import CompileOptions, build_passes, resolve_target
from sparsec.errors import UserError

SKYLAKE = {"kind": "llvm", "mcpu": "skylake-avx512"}


@pytest.fixture
def resolved(monkeypatch):
    """The (target dict, options) each `sparsec compile` resolved, in call order."""
    seen = []

    def fake_compile_model(source, example_inputs=None, options=None, progress=None):
        seen.append((resolve_target(options).as_dict(), options))
        raise UserError("stopped before import")

    monkeypatch.setattr(sparsec.compiler, "compile_model", fake_compile_model)
    return seen


@pytest.mark.parametrize(("args", "expected"), [
    (["--target", "llvm", "-mcpu=skylake-avx512"], SKYLAKE),
    (["--target", "llvm", "-mcpu", "skylake-avx512"], SKYLAKE),
    (["--target", "llvm -mcpu=skylake-avx512 -mattr=+avx512f"], {**SKYLAKE,
                                                                  "mattr": ["+avx512f"]}),
    (["--target", "llvm", "-mcpu=skylake-avx512", "-mattr=+avx512f,-avx512bw"],
     {**SKYLAKE, "mattr": ["+avx512f", "-avx512bw"]}),
    (["-o", "x.sparsec", "--target", "llvm", "-mcpu=znver4"], {"kind": "llvm", "mcpu": "znver4"}),
], ids=["separate -mcpu=", "separate -mcpu VALUE", "one string", "separate -mattr", "after -o"])
def test_target_spellings(resolved, tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    assert error_line(invoke("compile", "model.pt2", *args)) == "error: stopped before import"
    target, _ = resolved[0]
    assert {key: target[key] for key in expected} == expected
    assert target["mtriple"]  # always filled in: TVM's default would be a generic x86-64


def test_plain_llvm_is_the_host_cpu(resolved, tmp_path, monkeypatch):
    from sparsec.codegen.target import host_cpu

    monkeypatch.chdir(tmp_path)
    invoke("compile", "model.pt2", "--target", "llvm")
    invoke("compile", "model.pt2")
    assert [target["mcpu"] for target, _ in resolved] == [host_cpu(), host_cpu()]


def test_cli_options_reach_the_compiler(resolved, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    invoke("compile", "model.pt2", "--block-shape", "16x1", "--layer", "*.query.*=dense",
           "--layer", "*.key.*=32x1", "--dense-above", "0.7", "--cost-model", "analytic",
           "--batch", "2", "--seq-len", "32", "--threads", "3", "--dump-ir", "ir")
    _, options = resolved[0]
    assert options == CompileOptions(
        target="llvm", threads=3, block_shape="16x1", layers=("*.query.*=dense", "*.key.*=32x1"),
        dense_above=0.7, cost_model="analytic", batch=2, seq_len=32, dump_ir="ir")


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "cuda"], "target: unsupported target kind 'cuda' (only 'llvm' CPUs)"),
    (["--target", "llvm", "-mcpu=pentium9000"], "target: unknown CPU 'pentium9000'"),
    (["--target", "llvm -mcpu=nehalem", "-mcpu=znver4"],
     "target: conflicting CPUs 'nehalem' and 'znver4'"),
    (["--target", "llvm -mfloat=soft"], "target: bad option '-mfloat=soft'"),
    (["--target", "llvm -mattr=+avx2", "-mattr=+fma"], "target: -mattr given twice"),
    (["--target", "llvm", "-mattr=avx2"], "target: bad -mattr feature 'avx2'"),
    (["--target", ""], "target: empty target spec"),
    (["--threads", "0"], "--threads must be at least 1, got 0"),
    (["--block-shape", "3x"], "bad sparsity option: force: '3x' is neither a block shape"),
    (["--layer", "nonsense"], "bad sparsity option: layers entry 'nonsense' is not GLOB=RxC"),
    (["--cost-model", "missing.json"],
     "bad sparsity option: cost model file 'missing.json' does not exist"),
    (["--tune", "-1"], "--tune: TRIALS must be a positive integer, got -1"),
    (["--tune", "2", "--tune-db", "model.pt2"],
     "--tune-db: cannot write the tuning database 'model.pt2'"),
])
def test_bad_options_are_one_line_errors_before_the_import(tmp_path, monkeypatch, args,
                                                           message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt2").write_bytes(b"never read")
    assert error_line(invoke("compile", "model.pt2", *args)).startswith(f"error: {message}")
    assert list(tmp_path.iterdir()) == [tmp_path / "model.pt2"]  # nothing written


def test_missing_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert error_line(invoke("compile", "missing.pt2")) == \
        "error: 'missing.pt2': no such file or directory"
    assert list(tmp_path.iterdir()) == []


def test_output_folder_must_exist(tmp_path):
    message = error_line(invoke("compile", "model.pt2", "-o", tmp_path / "no" / "out.sparsec"))
    assert message.startswith("error: cannot write") and "does not exist" in message


def test_output_must_not_be_a_file(tmp_path):
    (tmp_path / "out").write_text("keep me")
    message = error_line(invoke("compile", "model.pt2", "-o", tmp_path / "out"))
    assert "exists and is not a directory" in message
    assert (tmp_path / "out").read_text() == "keep me"


def test_pipelines_with_and_without_sparsity():
    from sparsec.passes import format_pipeline

    sparse = format_pipeline(build_passes(CompileOptions(block_shape="32x1")))
    assert sparse.startswith("canonicalize,cse,sparsity-analysis")
    assert "block-shape-selection{" in sparse and "force=32x1" in sparse
    assert sparse.endswith("sparsify,canonicalize,dce")
    dense = format_pipeline(build_passes(CompileOptions(sparsity=False)))
    assert dense == "canonicalize,cse,canonicalize,dce"
