"""`sparsec compile` options: the target spellings and the errors found before any import.

The target is resolved before the model is read, so these stop early and stay fast: a fake
``compile_model`` records the resolved target and stops the command.
"""

from __future__ import annotations

import re

import pytest
import typer
from driver_helpers import SEQ_LEN, cli, error_line, invoke

import sparsec.compiler
from sparsec.compiler import CompileOptions, build_passes, default_output, resolve_target
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
    assert sparse.endswith("sparsify,combine-parallel-linears,fusion,canonicalize,dce")
    dense = format_pipeline(build_passes(CompileOptions(sparsity=False)))
    assert dense == "canonicalize,cse,combine-parallel-linears,fusion,canonicalize,dce"


def test_the_output_help_names_the_default_the_command_uses():
    """`-o`'s help gives an example of the default name; the command derives the same one."""
    command = typer.main.get_command(cli()).commands["compile"]
    (output,) = [p for p in command.params if "--output" in p.opts]
    example = re.search(r"\((\S+) -> (\S+)\)", output.help)
    assert example, output.help
    assert str(default_output(example.group(1))) == example.group(2)
    assert str(default_output("models/bert-dir/")) == "bert-dir.sparsec"


def test_a_folder_that_is_not_an_artifact_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep me")
    message = error_line(invoke("compile", "model.pt2", "-o", "results"))
    assert message == ("error: cannot write 'results': it is a folder with files but not a "
                       "sparsec artifact (give another -o)")
    assert (tmp_path / "results" / "notes.txt").read_text() == "keep me"


def test_summary_names_the_cpu_and_says_when_it_replaces(tiny_bert, tmp_path, monkeypatch):
    """The summary names the CPU the code is for, says "replaced" when an artifact was at the
    output, and a target this machine cannot run still compiles, with one warning line."""
    from sparsec.codegen import target as target_module
    from sparsec.codegen.target import host_cpu, parse_target

    out = tmp_path / "bert.sparsec"
    args = ("compile", tiny_bert, "-o", out, "--no-sparsity", "--seq-len", SEQ_LEN,
            "--threads", "2")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    summary = first.stdout.strip().splitlines()[-1]
    cpu = parse_target("llvm").describe()  # e.g. "znver3 (AVX2, 8 float lanes)"
    assert re.search(rf"; wrote {re.escape(str(out))} \([\d.]+ MB\) for "
                     rf"{re.escape(cpu)} in [\d.]+ s$", summary), summary
    assert "warning" not in first.stderr

    monkeypatch.setattr(target_module, "host_cpu_flags", lambda: frozenset({"sse", "sse2"}))
    second = invoke(*args)
    assert second.exit_code == 0, second.output
    assert re.search(rf"; replaced the existing {re.escape(str(out))} \([\d.]+ MB\) for "
                     rf"{re.escape(cpu)} in ", second.stdout)
    (warning,) = [line for line in second.stderr.splitlines() if "warning" in line]
    assert warning.startswith(f"warning: the artifact will not run on this machine: code for "
                              f"{host_cpu()} uses ")
    assert "avx2" in warning and warning.endswith(f"which this CPU ({host_cpu()}) lacks")
    assert (out / "manifest.json").is_file()
