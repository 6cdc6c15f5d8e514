"""TorchScript archives (torch.jit.save) in: converted by torch's converter, checked before loading.

A traced tiny BERT (the format TVM's PyTorch frontend read, and the usual ``model.pt``) imports
with its inputs named after ``forward``'s arguments, at the shapes it was traced with or at
``--batch``/``--seq-len``, and the IR gives PyTorch's outputs. Hostile archives (a pickle naming
a Python function, TorchScript code with ``__setstate__``, which ``torch.jit.load`` runs, or a
``forward`` calling ``torch.save``) are one-line refusals before anything runs; no message
advises ``weights_only=False``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers
import typer
from conftest import TOLERANCE, tiny_config
from typer.testing import CliRunner

from sparsec.commands import analyze as analyze_command
from sparsec.commands import import_model as import_command
from sparsec.commands import prune as prune_command
from sparsec.frontend import FrontendError, import_model
from sparsec.frontend.loader import load
from sparsec.ir.dialects import func
from sparsec.ir.interpreter import find_function, function_type, interpret

SEQ = 12
ARGUMENTS = ["input_ids", "attention_mask", "token_type_ids"]


def traced_bert(path: Path, seq: int = SEQ) -> torch.nn.Module:
    """Trace a seeded tiny BertModel with positional (ids, mask, token types) and save it."""
    config = tiny_config("bert")
    config.return_dict = False  # tuples out, as torch.jit.trace needs
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    example = (torch.ones(1, seq, dtype=torch.long),) * 2 + (torch.zeros(1, seq, dtype=torch.long),)
    with torch.no_grad(), pytest.warns(torch.jit.TracerWarning):
        torch.jit.trace(model, example).save(str(path))
    return model


@pytest.fixture(scope="module")
def traced(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    path = tmp_path_factory.mktemp("ts") / "model.pt"
    return path, traced_bert(path)


def sample(batch: int, seq: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 100, (batch, seq), generator=generator)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[-1, -3:] = 0
    types = torch.zeros(batch, seq, dtype=torch.long)
    types[:, seq // 2:] = 1
    return [ids, mask, types]


def errors_vs_torch(module, model: torch.nn.Module, inputs: list[torch.Tensor]) -> list[float]:
    ours = interpret(module, [t.numpy() for t in inputs])
    with torch.no_grad():
        theirs = model(*inputs)
    return [float(np.abs(a - b.numpy()).max()) for a, b in zip(ours, theirs, strict=True)]


def test_traced_bert_imports_at_its_traced_shapes_with_named_inputs(traced):
    path, model = traced
    module = import_model(path)
    forward = find_function(module)
    assert func.arg_names(forward) == ARGUMENTS
    assert [str(t) for t in function_type(forward).inputs] == ["tensor<1x12xi64>"] * 3
    errors = errors_vs_torch(module, model, sample(1, SEQ))
    assert max(errors) <= TOLERANCE, errors


def test_batch_and_seq_len_replace_the_traced_shapes(traced):
    path, model = traced
    module = import_model(path, batch=2, seq_len=20)
    assert [str(t) for t in function_type(find_function(module)).inputs] == \
        ["tensor<2x20xi64>"] * 3
    errors = errors_vs_torch(module, model, sample(2, 20))
    assert max(errors) <= TOLERANCE, errors


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    for command in (import_command, analyze_command, prune_command):
        command.register(app)
    return app


def test_prune_and_analyze_take_a_torchscript_archive(traced, tmp_path):
    path, _ = traced
    out = tmp_path / "pruned.pt2"
    pruned = CliRunner().invoke(cli(), ["prune", str(path), "--block", "4x1", "--sparsity", "0.5",
                                        "-o", str(out)])
    assert pruned.exit_code == 0, pruned.output
    assert "pruned 12 weights to 50.0% sparsity" in pruned.stderr
    assert zipfile.is_zipfile(out) and load(out).program is not None  # a torch.export archive
    analyzed = CliRunner().invoke(cli(), ["analyze", str(path), "--json", "--cost-model",
                                          "analytic"])
    assert analyzed.exit_code == 0, analyzed.output
    assert '"encoder.layer.0.attention.self.query.weight"' in analyzed.stdout


# -- refusals ---------------------------------------------------------------------------------


class Scale(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.full((4,), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class Restoring(Scale):
    """Its ``__setstate__`` writes a file: torch.jit.load runs it."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    @torch.jit.export
    def __getstate__(self) -> tuple[torch.Tensor, str, bool]:
        return (self.weight, self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[torch.Tensor, str, bool]) -> None:
        torch.save(state[0], state[1])
        self.weight = state[0]
        self.marker = state[1]
        self.training = state[2]


class Saving(Scale):
    """Its ``forward`` writes a file."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.save(x, self.marker)
        return x * self.weight


def scripted(module: torch.nn.Module, path: Path) -> Path:
    torch.jit.script(module).save(str(path))
    return path


def rewritten(source: Path, target: Path, suffix: str, data: bytes) -> Path:
    """``source`` with the member ending in ``suffix`` replaced by ``data``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            new.writestr(name, data if name.endswith(suffix) else old.read(name))
    return target


def refusal(path: Path, **options: Any) -> str:
    with pytest.raises(FrontendError) as caught:
        load(path, **options)
    message = str(caught.value)
    assert "\n" not in message and not ("weights_only" in message and "False" in message)
    return message


def test_scripted_module_without_recorded_inputs_loads(tmp_path):
    path = scripted(Scale(), tmp_path / "scale.pt")
    loaded = load(path, seq_len=4)
    assert loaded.input_names == ("x",)
    module = import_model(path, batch=3, seq_len=4)
    assert [str(t) for t in function_type(find_function(module)).inputs] == ["tensor<3x4xi64>"]


def test_setstate_is_refused_before_torch_runs_it(tmp_path):
    marker = tmp_path / "setstate-ran"
    path = scripted(Restoring(str(marker)), tmp_path / "restoring.pt")
    assert "defines __setstate__" in refusal(path) and not marker.exists()
    load(path, allow_pickle=True, seq_len=4)  # trusted: torch.jit.load runs it
    assert marker.exists()


def test_forward_calling_torch_save_is_refused_before_anything_runs_it(tmp_path):
    marker = tmp_path / "forward-ran"
    path = scripted(Saving(str(marker)), tmp_path / "saving.pt")
    message = refusal(path, seq_len=4)
    assert "calls 'aten::save', which reads or writes files" in message
    assert "--allow-pickle" in message and not marker.exists()


def python_global_pickle(marker: Path) -> bytes:
    """A protocol-2 pickle calling ``posix.system('touch MARKER')``."""
    command = f"touch {marker}".encode()
    return (b"\x80\x02cposix\nsystem\nq\x00X" + len(command).to_bytes(4, "little") + command
            + b"q\x01\x85q\x02Rq\x03.")


@pytest.mark.parametrize("member", ["/data.pkl", "/constants.pkl"])
def test_pickle_naming_a_python_function_is_refused(tmp_path, member):
    marker = tmp_path / "pickle-ran"
    path = rewritten(scripted(Scale(), tmp_path / "scale.pt"), tmp_path / "hostile.pt", member,
                     python_global_pickle(marker))
    message = refusal(path)
    assert f"{member.strip('/')}' is a pickle naming the Python object 'posix.system'" in message
    assert not marker.exists()


def test_torchbind_object_and_computed_global_are_refused(tmp_path):
    source = scripted(Scale(), tmp_path / "scale.pt")
    torchbind = rewritten(source, tmp_path / "bind.pt", "/data.pkl",
                          b"\x80\x02c__torch__.torch.classes.quantized\nLinearPackedParamsBase\n"
                          b")\x81.")
    assert "a TorchBind object" in refusal(torchbind)
    computed = rewritten(source, tmp_path / "stack.pt", "/data.pkl",
                         b"\x80\x04\x8c\x05posix\x8c\x06system\x93.")
    assert "looks up an object by a computed name" in refusal(computed)


def test_recorded_inputs_holding_more_than_tensors_are_refused(traced, tmp_path):
    marker = tmp_path / "traced-inputs-ran"
    path = rewritten(traced[0], tmp_path / "hostile.pt", "/traced_inputs.pkl",
                     python_global_pickle(marker))
    assert "posix.system" in refusal(path) and not marker.exists()
    trusted = rewritten(traced[0], tmp_path / "odd.pt", "/traced_inputs.pkl",
                        b"\x80\x02]q\x00.")  # an empty list: no recorded shapes
    assert load(trusted, allow_pickle=True, seq_len=SEQ).input_names == tuple(ARGUMENTS)


def test_incomplete_archive_is_refused(tmp_path):
    source = scripted(Scale(), tmp_path / "scale.pt")
    path = tmp_path / "no-code.pt"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            if "/code/" not in name:
                new.writestr(name, old.read(name))
    assert "is incomplete: it has no TorchScript code" in refusal(path)


def test_state_dict_of_a_traced_model_keeps_its_clear_message(traced, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(torch.jit.load(str(traced[0])).state_dict(), path)
    assert "of weights, not a model" in refusal(path)


def test_torchscript_as_pytorch_model_bin_gives_no_unsafe_advice(traced, tmp_path):
    folder = tmp_path / "hf"
    tiny_config("bert").save_pretrained(folder)
    (folder / "pytorch_model.bin").write_bytes(traced[0].read_bytes())
    assert refusal(folder).endswith("pytorch_model.bin' is a TorchScript archive "
                                    "(torch.jit.save), not a file of weights")


def test_cli_import_of_a_hostile_archive_is_one_line(tmp_path):
    marker = tmp_path / "cli-ran"
    path = scripted(Saving(str(marker)), tmp_path / "saving.pt")
    result = CliRunner().invoke(cli(), ["import", str(path), "--seq-len", "4"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: ")
    assert "aten::save" in lines[0] and not marker.exists()
    assert not os.path.exists(marker)
