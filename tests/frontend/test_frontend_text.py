"""Unmapped ops are all reported with their source; the IR text round-trips; `sparsec import`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from conftest import TOLERANCE, tiny_model, token_inputs, torch_outputs
from typer.testing import CliRunner

from sparsec.commands import import_model as import_command
from sparsec.frontend import UnsupportedOpsError, import_model
from sparsec.ir.interpreter import interpret
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op

sys.path.insert(0, str(Path(__file__).parents[1] / "ir"))
from test_xdsl import op_name, parse_with_xdsl


class Trigonometry(torch.nn.Module):
    """Uses ops sparsec has no translation for, twice in one place and once in another."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        waves = torch.cos(self.proj(x))
        return torch.sinh(waves) + torch.cos(waves)


def test_unmapped_ops_are_listed_together_with_their_source() -> None:
    with pytest.raises(UnsupportedOpsError) as info:
        import_model(Trigonometry(), (torch.ones(2, 4),))
    problems = info.value.problems
    assert [p.split()[0] for p in problems] == ["aten.cos.default", "aten.sinh.default",
                                                "aten.cos.default"]
    assert all("test_frontend_text.py:" in p for p in problems)
    assert "waves = torch.cos(self.proj(x))" in problems[0]
    assert "return torch.sinh(waves) + torch.cos(waves)" in problems[1]
    assert str(info.value).startswith("the model uses 3 ATen op(s) sparsec cannot translate:")


@pytest.fixture(scope="module")
def bert_text():
    model = tiny_model("bert", "ForSequenceClassification")
    inputs = token_inputs(model, 1, 8)
    return print_op(import_model(model, inputs)), model, inputs


def test_printed_ir_round_trips(bert_text) -> None:
    text, _, _ = bert_text
    assert print_op(parse_module(text, "bert.mlir")) == text


def test_reparsed_ir_computes_the_same_outputs(bert_text) -> None:
    text, model, inputs = bert_text
    (ours,) = interpret(parse_module(text, "bert.mlir"), [v.numpy() for v in inputs.values()])
    (theirs,) = torch_outputs(model, inputs)
    assert np.max(np.abs(ours - theirs)) <= TOLERANCE


def test_xdsl_accepts_the_imported_module(bert_text) -> None:
    text, _, _ = bert_text
    module, _ = parse_with_xdsl(text)
    names = {op_name(op) for op in module.walk()}
    assert {"sparsec.linear", "sparsec.attention", "sparsec.layer_norm"} <= names
    elided = print_op(parse_module(text, "bert.mlir"), elide_resources=True)
    parse_with_xdsl(elided)


# -- sparsec import ------------------------------------------------------------------------------


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)  # keep `import` a sub-command
    import_command.register(app)
    return app


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    model = tiny_model("bert", "ForTokenClassification")
    path = tmp_path_factory.mktemp("hf")
    model.save_pretrained(path)
    return path, model


def test_import_writes_a_complete_reloadable_module(hf_dir, tmp_path) -> None:
    path, model = hf_dir
    out = tmp_path / "model.mlir"
    result = CliRunner().invoke(_cli(), ["import", str(path), "-o", str(out), "--batch", "2",
                                         "--seq-len", "5"])
    assert result.exit_code == 0, result.output
    module = parse_module(out.read_text(), str(out))
    inputs = token_inputs(model, 2, 5)
    (ours,) = interpret(module, [v.numpy() for v in inputs.values()])
    (theirs,) = torch_outputs(model, inputs)
    assert np.max(np.abs(ours - theirs)) <= TOLERANCE


def test_import_prints_elided_ir_to_stdout(hf_dir) -> None:
    path, _ = hf_dir
    result = CliRunner().invoke(_cli(), ["import", str(path), "--seq-len", "4",
                                         "--elide-resources"])
    assert result.exit_code == 0
    assert "dense_resource<bert.encoder.layer.0.attention.self.query.weight>" in result.stdout
    assert "{-#" not in result.stdout
    assert result.stdout.startswith('"builtin.module"()')


@pytest.mark.parametrize("args, message", [
    (["missing.pt2"], "error: 'missing.pt2': no such file or directory"),
    (["--allow-pickle", "missing.pt"], "error: 'missing.pt': no such file"),
])
def test_import_errors_are_one_line_and_exit_1(args, message) -> None:
    result = CliRunner().invoke(_cli(), ["import", *args])
    assert result.exit_code == 1
    assert result.stderr.strip() == message or result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_import_refuses_pickles_without_the_flag(tmp_path) -> None:
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    result = CliRunner().invoke(_cli(), ["import", str(path)])
    assert result.exit_code == 1
    assert "--allow-pickle" in result.stderr and "arbitrary code" in result.stderr


def test_import_of_a_hf_export_archive_in_a_fresh_process(tmp_path) -> None:
    """The archive returns a ModelOutput: torch needs transformers' pytree registration."""
    model = tiny_model("bert", "ForMaskedLM")
    archive = tmp_path / "bert.pt2"
    torch.export.save(torch.export.export(model, (), token_inputs(model, 1, 6)), archive)
    done = subprocess.run(
        [sys.executable, "-m", "sparsec.cli", "import", str(archive), "--elide-resources"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert 'res_attrs = [{sparsec.name = "logits"}]' in done.stdout
