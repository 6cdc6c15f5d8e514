"""`sparsec compile FILE.mlir`: IR text in, compiled as it stands (issue 14, item 2).

``sparsec import m -o m.mlir && sparsec opt m.mlir -p ... -o m2.mlir && sparsec compile m2.mlir``
gives the artifact that compiling the model directly gives; the passes the IR records as run
(``sparsec.pipeline``, written by ``opt`` and by ``--dump-ir``) or whose results it holds are
not run again unless ``--rerun-passes``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from driver_helpers import SEQ_LEN, error_line
from typer.testing import CliRunner

import sparsec
from sparsec.commands import compile as compile_command
from sparsec.commands import import_model as import_command
from sparsec.commands import opt as opt_command
from sparsec.compiler import (
    PIPELINE_ATTR,
    CompileOptions,
    build_passes,
    load_ir,
    passes_run,
    recorded_pipeline,
    source_module,
)
from sparsec.runtime import random_inputs

UP_TO_SPARSIFY = "canonicalize,cse,sparsity-analysis,block-shape-selection{force=32x1},sparsify"
AFTER = "combine-parallel-linears,fusion,dce"  # canonicalize ran already


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    for command in (import_command, opt_command, compile_command):
        command.register(app)
    return app


def run(*args: object):
    return CliRunner().invoke(cli(), [str(a) for a in args])


def ok(*args: object):
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def imported(pruned_bert, tmp_path_factory) -> Path:
    """``sparsec import`` of the pruned tiny BERT, with its weights."""
    path = tmp_path_factory.mktemp("ir") / "m.mlir"
    ok("import", pruned_bert, "--seq-len", SEQ_LEN, "-o", path)
    return path


@pytest.fixture(scope="module")
def sparsified(imported) -> Path:
    """``imported`` after ``sparsec opt -p UP_TO_SPARSIFY``."""
    path = imported.with_name("m2.mlir")
    ok("opt", imported, "-p", UP_TO_SPARSIFY, "-o", path)
    return path


def test_opt_records_the_passes_it_ran(imported, sparsified):
    assert PIPELINE_ATTR not in imported.read_text()
    assert f'{PIPELINE_ATTR} = "{UP_TO_SPARSIFY}"' in sparsified.read_text()
    again = ok("opt", sparsified, "-p", "dce").stdout
    assert f'{PIPELINE_ATTR} = "{UP_TO_SPARSIFY},dce"' in again
    assert ok("opt", sparsified).stdout == sparsified.read_text()  # round-trips exactly


def test_import_opt_compile_gives_the_direct_compile(sparsified, pruned_artifact, tmp_path):
    out = tmp_path / "chain.sparsec"
    dumps = tmp_path / "dumps"
    ok("compile", sparsified, "-o", out, "--threads", "2", "--dump-ir", dumps,
       "--keep-resources")
    chain, direct = sparsec.load(out), sparsec.load(pruned_artifact)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pipeline"] == f"{UP_TO_SPARSIFY},{AFTER}"  # nothing run twice
    assert manifest["weights"] == json.loads((pruned_artifact / "manifest.json").read_text())[
        "weights"]
    assert chain.inputs == direct.inputs and chain.outputs == direct.outputs
    inputs = random_inputs(direct.inputs, seed=4)
    for ours, theirs in zip(chain(**inputs), direct(**inputs), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    # IR from before the fusion pass existed gets fused; the dumps show it.
    assert 'epilogue = ["gelu"]' in (dumps / "02-fusion.mlir").read_text()
    assert "sparsec.parts = array<i64: 64, 64, 64>" in (dumps / "01-combine-parallel-linears.mlir"
                                                        ).read_text()
    # The dumps record the pipeline too: compiling the last one would run nothing.
    last = load_ir(dumps / "03-dce.mlir")
    assert recorded_pipeline(last) == f"{UP_TO_SPARSIFY},{AFTER}"
    assert not [p for p in build_passes(CompileOptions()) if p.name not in passes_run(last, dumps)]


def test_unfused_ir_that_skips_fusion_lowers_each_op_apart(sparsified, pruned_artifact,
                                                          tmp_path):
    """IR recording fusion as run but holding no fused op (fusion not run, say) compiles
    without epilogues or layouts, to the same numbers; linears are not combined after fusion
    (attention would copy the slices)."""
    unfused = tmp_path / "unfused.mlir"
    unfused.write_text(sparsified.read_text().replace(
        f'{PIPELINE_ATTR} = "{UP_TO_SPARSIFY}"', f'{PIPELINE_ATTR} = "{UP_TO_SPARSIFY},fusion"'))
    out = tmp_path / "unfused.sparsec"
    ok("compile", unfused, "-o", out, "--threads", "2")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pipeline"] == f"{UP_TO_SPARSIFY},fusion,dce"
    fused_kernels = json.loads((pruned_artifact / "manifest.json").read_text())["kernels"]
    assert len(manifest["kernels"]) > len(fused_kernels)  # gelu, add, transposes apart
    inputs = random_inputs(sparsec.load(pruned_artifact).inputs, seed=5)
    for ours, theirs in zip(sparsec.load(out)(**inputs), sparsec.load(pruned_artifact)(**inputs),
                            strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_decisions_made_in_the_ir_are_kept(imported, tmp_path):
    selected = tmp_path / "selected.mlir"
    ok("opt", imported, "-p", "sparsity-analysis,block-shape-selection{force=16x1}", "-o",
       selected)
    _, passes = source_module(str(selected), None, CompileOptions(),
                                    build_passes(CompileOptions()), lambda stage: None)
    assert [p.name for p in passes] == ["canonicalize", "cse", "sparsify",
                                        "combine-parallel-linears", "fusion", "canonicalize",
                                        "dce"]
    _, rerun = source_module(str(selected), None, CompileOptions(rerun_passes=True),
                              build_passes(CompileOptions()), lambda stage: None)
    assert len(rerun) == 9
    out = tmp_path / "selected.sparsec"
    ok("compile", selected, "-o", out, "--threads", "2")
    weights = json.loads((out / "manifest.json").read_text())["weights"]
    assert {w["block_shape"] for w in weights if "encoder" in w["weight"]} == {"16x1"}


def test_results_of_the_sparsity_passes_count_as_run_without_a_record(sparsified, tmp_path):
    bare = tmp_path / "bare.mlir"
    text = sparsified.read_text()
    bare.write_text(text.replace(f' {{{PIPELINE_ATTR} = "{UP_TO_SPARSIFY}"}}', ""))
    assert PIPELINE_ATTR not in bare.read_text()
    assert passes_run(load_ir(bare), bare) == {"sparsity-analysis", "block-shape-selection",
                                               "sparsify"}


def test_ir_input_errors_are_one_line(imported, sparsified, tmp_path):
    elided = tmp_path / "elided.mlir"
    elided.write_text(ok("opt", imported, "--elide-resources").stdout)
    assert "has no weights: resource '" in error_line(run("compile", elided, "-o", tmp_path / "e"))
    assert "was elided when it was printed" in error_line(run("compile", elided))
    assert error_line(run("compile", sparsified, "--block-shape", "16x1")) == (
        f"error: --block-shape has no effect on '{sparsified}': sparsify already ran on it "
        "(--rerun-passes runs its passes again)")
    assert error_line(run("compile", sparsified, "--no-sparsity")).startswith(
        "error: --no-sparsity has no effect")
    assert error_line(run("compile", sparsified, "--seq-len", "8")).startswith(
        "error: --batch and --seq-len do not apply to IR text")
    broken = tmp_path / "broken.mlir"
    broken.write_text('"builtin.module"() ({\n  %0 = "sparsec.nope"(\n}) : () -> ()\n')
    located = run("compile", broken)  # as `sparsec opt` shows it: the line and a caret
    assert located.exit_code == 1 and "Traceback" not in located.output
    assert located.stderr.splitlines()[-3:] == [f"error: {broken}:3:1: expected ')' or a value "
                                                "(%name), got '}'", "}) : () -> ()",
                                                "^"]
    nameless = tmp_path / "nameless.mlir"
    nameless.write_text(imported.read_text().replace('sym_name = "forward"', 'sym_name = "f"'))
    assert error_line(run("compile", nameless)) == \
        f"error: '{nameless}' has no function @forward to compile"
    assert not (tmp_path / "e").exists()


def test_import_of_ir_text_says_what_reads_it(imported):
    assert error_line(run("import", imported)) == (
        f"error: '{imported}' is sparsec IR text, not a model; 'sparsec opt' and "
        "'sparsec compile' read it")
