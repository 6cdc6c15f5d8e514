"""`sparsec analyze` on a tiny BERT whose weights are zeroed in known blocks and heads."""

from __future__ import annotations

import json
import os
import struct

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
import transformers
import typer
from typer.testing import CliRunner

from sparsec.commands import analyze

torch.set_num_threads(1)
transformers.logging.set_verbosity_error()

PREFIX = "encoder.layer"
QUERY = f"{PREFIX}.0.attention.self.query.weight"  # kept: 16x1 blocks, 1 in 8
KEY = f"{PREFIX}.0.attention.self.key.weight"  # head 2 pruned (rows 32-47)
OUTPUT = f"{PREFIX}.1.attention.output.dense.weight"  # reads no input from head 1 (cols 16-31)
FFN = f"{PREFIX}.1.intermediate.dense.weight"  # all zero
SEQ_LEN = "8"


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)  # keep `analyze` a sub-command
    analyze.register(app)
    return app


def run(*args: str):
    return CliRunner().invoke(cli(), ["analyze", *args])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The saved model and its pruned weights by name ([out, in] numpy arrays)."""
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                                     intermediate_size=128, vocab_size=200)
    model = transformers.BertModel(config).eval()
    params = dict(model.named_parameters())
    with torch.no_grad():
        # Block row r (output channels 16r..16r+15) keeps input column c when (r + c) % 8 == 0.
        keep = (torch.arange(4).reshape(4, 1) + torch.arange(64)) % 8 == 0
        params[QUERY].mul_(keep.repeat_interleave(16, dim=0))
        params[KEY][32:48] = 0
        params[OUTPUT][:, 16:32] = 0
        params[FFN].zero_()
    path = tmp_path_factory.mktemp("bert") / "pruned-bert"
    model.save_pretrained(path)
    weights = {name: p.detach().numpy().copy() for name, p in params.items()
               if name.endswith(".weight") and p.ndim == 2 and "embeddings" not in name}
    return path, weights


@pytest.fixture(scope="module")
def json_report(model_dir):
    path, _ = model_dir
    result = run(str(path), "--seq-len", SEQ_LEN, "--json", "--cost-model", "analytic",
                 "--block-shapes", "16x1,32x1,1x1,4x4", "--layer", "*.key.*=dense",
                 "--dense-above", "0.9")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def layer(report: dict, name: str) -> dict:
    (found,) = [entry for entry in report["layers"] if entry["weight"] == name]
    return found


def test_json_lists_every_linear_in_program_order_with_stable_keys(json_report, model_dir):
    _, weights = model_dir
    assert list(json_report) == ["model", "settings", "layers", "summary", "timing"]
    assert [entry["weight"] for entry in json_report["layers"]] == list(weights)
    for entry in json_report["layers"]:
        assert list(entry) == ["weight", "shape", "density", "nnz", "zero_rows", "zero_cols",
                               "zero_heads", "blocks", "best", "decision"]
        assert list(entry["shape"]) == list(weights[entry["weight"]].shape)
    assert json_report["settings"] == {"block_shapes": ["16x1", "32x1", "1x1", "4x4"],
                                       "force": "", "layers": ["*.key.*=dense"],
                                       "dense_above": 0.9, "cost_model": "analytic"}
    assert json_report["timing"]["analysis_seconds"] >= 0


def test_known_blocks_are_found_and_chosen(json_report):
    query = layer(json_report, QUERY)
    assert query["density"] == 0.125 and query["nnz"] == 512
    assert query["blocks"]["16x1"] == {"block_density": 0.125, "fill": 1.0, "nnzb": 32,
                                       "predicted_speedup": pytest.approx(2.56, rel=1e-3)}
    assert query["blocks"]["32x1"]["fill"] == 0.5  # each 32-row block is half one 16x1 block
    assert query["best"][0] == "16x1"
    # analytic: 64*64 / (8 * (64 + 64) + 32 * (16 / 1.0 + 2)) = 2.56
    assert query["decision"] == {"block_shape": "16x1", "predicted_speedup": 2.56,
                                 "reason": "cost model (analytic)"}


def test_pruned_heads_and_overrides(json_report):
    key = layer(json_report, KEY)
    assert (key["zero_heads"], key["zero_rows"], key["zero_cols"]) == ([2], 16, 0)
    assert key["decision"] == {"block_shape": "dense", "predicted_speedup": 1.0,
                               "reason": "layers override *.key.*"}
    output = layer(json_report, OUTPUT)
    assert (output["zero_heads"], output["zero_rows"], output["zero_cols"]) == ([1], 0, 16)


def test_all_zero_weight_costs_only_the_fixed_part(json_report):
    ffn = layer(json_report, FFN)
    rows, cols = ffn["shape"]
    fixed = 8.0 * (rows + cols)  # the analytic model's cost per input+output feature
    assert ffn["density"] == 0.0
    assert ffn["decision"]["predicted_speedup"] == pytest.approx(rows * cols / fixed, rel=1e-3)
    assert all(entry["nnzb"] == 0 for entry in ffn["blocks"].values())


def test_summary_totals_match_the_weights(json_report, model_dir):
    _, weights = model_dir
    summary = json_report["summary"]
    elements = sum(w.size for w in weights.values())
    nnz = sum(int(np.count_nonzero(w)) for w in weights.values())
    assert (summary["linears"], summary["weights"], summary["nnz"]) == (13, elements, nnz)
    assert summary["density"] == pytest.approx(nnz / elements)
    chosen = sum(w.size / (layer(json_report, name)["decision"]["predicted_speedup"] or np.inf)
                 for name, w in weights.items())
    assert summary["predicted_speedup"] == pytest.approx(elements / chosen, rel=1e-3)
    assert summary["bsr_linears"] == sum(entry["decision"]["block_shape"] != "dense"
                                         for entry in json_report["layers"])


def test_table_shows_layers_choices_summary_and_timing(model_dir, tmp_path):
    path, _ = model_dir
    png = tmp_path / "blocks.png"
    result = run(str(path), "--seq-len", SEQ_LEN, "--cost-model", "analytic",
                 "--plot", str(png))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert cells(lines, QUERY) == [QUERY, "64x64", "12.5%", "0", "32", "-", "16x1 12.5% 2.56x",
                                   "8x1 12.5% 2.47x", "4x1 12.5% 2.34x", "16x1 2.56x"]
    assert cells(lines, KEY)[2:6] == ["75.0%", "16", "0", "2"]
    assert cells(lines, OUTPUT)[2:6] == ["75.0%", "0", "16", "1"]
    assert cells(lines, FFN)[-1] == "32x32 5.33x"
    assert any(line.startswith("13 linears (") and "overall density" in line
               and "predicted speedup of all linears together: " in line for line in lines)
    assert any(line.startswith("analysis took ") and " s (model import " in line
               for line in lines)
    assert lines[-1] == f"wrote the block masks of 12 of 13 weights to {png}"

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 600 and height > 300
    assert [p.name for p in tmp_path.iterdir()] == ["blocks.png"]  # no temporary left behind


def cells(lines: list[str], weight: str) -> list[str]:
    """The cells of the table row of ``weight``."""
    (row,) = [line for line in lines if f"│ {weight} " in line]
    return [cell.strip() for cell in row.split("│")[1:-1]]


@pytest.mark.parametrize("args, message", [
    (["missing-model"], "error: 'missing-model': no such file or directory"),
    (["{model}", "--block-shapes", "16x1,3y1"],
     "error: bad option: block shape '3y1' is not of the form RxC"),
    (["{model}", "--block-shapes", ","], "error: --block-shapes: give at least one block shape"),
    (["{model}", "--block-shape", "huge"], "error: bad option: force: 'huge' is neither"),
    (["{model}", "--layer", "nonsense"], "error: bad option: layers entry 'nonsense' is not"),
    (["{model}", "--cost-model", "/no/such/costs.json"],
     "error: bad option: cost model file '/no/such/costs.json' does not exist"),
    (["{model}", "--plot", "blocks.jpg"], "error: --plot: 'blocks.jpg' must be a .png file"),
    (["{model}", "--plot", "/no/such/folder/blocks.png"],
     "error: --plot: folder '/no/such/folder' does not exist"),
])
def test_bad_input_is_one_error_line(model_dir, args, message):
    path, _ = model_dir
    result = run(*[arg.replace("{model}", str(path)) for arg in args])
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"\x00\x01garbage")
    result = run(str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: '{bad}' is not a model")
    assert result.stderr.count("\n") == 1
