"""`sparsec bench`: time an artifact, alone or next to PyTorch eager on the same inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest
import typer
from driver_helpers import SEQ_LEN, TOLERANCE, error_line
from typer.testing import CliRunner

from sparsec.commands import bench as bench_cmd
from sparsec.commands.bench import check_agreement, max_abs_error
from sparsec.errors import UserError


def bench(*args) -> object:
    """`sparsec bench ARGS` in-process."""
    app = typer.Typer()
    app.callback()(lambda: None)
    bench_cmd.register(app)
    return CliRunner().invoke(app, ["bench", *(str(a) for a in args)])


def _error(output: str) -> float:
    return float(re.search(r"max abs error (\S+)", output).group(1))


def test_bench_times_the_artifact(dense_artifact):
    result = bench(dense_artifact, "--repeat", "3", "--threads", "2")
    assert result.exit_code == 0, result.output
    assert re.search(r"^sparsec: [\d.]+ ms \(±\d+%\) \(median of 3 runs\)$", result.stdout,
                     re.MULTILINE), result.stdout
    assert "PyTorch" not in result.stdout


@pytest.mark.parametrize(("artifact", "model"), [("dense_artifact", "tiny_bert"),
                                                 ("pruned_artifact", "pruned_bert")])
def test_compare_torch_gives_speedup_and_error(artifact, model, request):
    result = bench(request.getfixturevalue(artifact), "--repeat", "2", "--threads", "1",
                   "--compare-torch", request.getfixturevalue(model))
    assert result.exit_code == 0, result.output
    assert "PyTorch eager: " in result.stdout
    assert re.search(r"speedup over PyTorch: [\d.]+x", result.stdout)
    assert _error(result.stdout) <= TOLERANCE


def test_outputs_that_differ_from_torch_are_an_error(dense_artifact, pruned_bert):
    """The dense artifact against the pruned model: the error is real, not assumed, and above
    the tolerance it fails the command instead of being reported with exit status 0."""
    line = error_line(bench(dense_artifact, "--repeat", "1", "--compare-torch", pruned_bert))
    match = re.fullmatch(r"error: the outputs differ from PyTorch's: max abs error (\S+) > "
                         r"tolerance 0\.001 \(--compare-torch (.+)\)", line)
    assert match and float(match.group(1)) > 1e-2 and match.group(2) == str(pruned_bert)
    error = float(match.group(1))
    result = bench(dense_artifact, "--repeat", "1", "--compare-torch", pruned_bert,
                   "--tolerance", 2 * error)
    assert result.exit_code == 0, result.output
    assert _error(result.stdout) == pytest.approx(error, rel=1e-2)


def test_agreement_check():
    check_agreement(1e-3, 1e-3, "here")
    with pytest.raises(UserError, match=r"max abs error 0\.5 > tolerance 0\.1 \(here\)"):
        check_agreement(0.5, 0.1, "here")
    with pytest.raises(UserError, match="max abs error nan"):  # NaN never agrees
        check_agreement(float("nan"), 1.0, "here")


def test_given_inputs_are_used(dense_artifact, tiny_bert, tmp_path):
    ids = np.full((1, SEQ_LEN), 7, dtype=np.int64)
    np.savez(tmp_path / "in.npz", input_ids=ids)
    result = bench(dense_artifact, "--repeat", "1", "--inputs", tmp_path / "in.npz",
                   "--compare-torch", tiny_bert)
    assert result.exit_code == 0, result.output
    assert _error(result.stdout) <= TOLERANCE
    np.savez(tmp_path / "bad.npz", input_ids=np.full((1, SEQ_LEN), 500, dtype=np.int64))
    line = error_line(bench(dense_artifact, "--inputs", tmp_path / "bad.npz"))
    assert "input 'input_ids'" in line and "out of range" in line


@pytest.mark.parametrize(("args", "message"), [
    (["--repeat", "0"], "--repeat must be at least 1"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--inputs", "missing.npz"], "--inputs: no such file"),
    (["--compare-torch", "missing-model"], "--compare-torch: 'missing-model': no such file"),
    (["--tolerance", "-1"], "--tolerance must be at least 0, got -1"),
])
def test_bad_options_are_one_line_errors(dense_artifact, args, message):
    assert message in error_line(bench(dense_artifact, *args))


def test_missing_artifact_is_one_line_error(tmp_path):
    assert "no such artifact" in error_line(bench(tmp_path / "nope.sparsec"))


def test_compare_torch_rejects_a_config_file(dense_artifact, tiny_bert):
    line = error_line(bench(dense_artifact, "--compare-torch", tiny_bert / "config.json"))
    assert line.startswith("error: --compare-torch: ") and "JSON file, not a model" in line


def test_max_abs_error_checks_pairs():
    a, b = np.zeros((2, 3), np.float32), np.full((2, 3), -0.5, np.float32)
    assert max_abs_error([a, a], [a, b]) == 0.5
    with pytest.raises(UserError, match="in number"):
        max_abs_error([a], [a, a])
    with pytest.raises(UserError, match="shapes differ"):
        max_abs_error([a], [a.T])


def test_compare_torch_with_a_model_that_cannot_take_the_inputs(dense_artifact, tmp_path,
                                                                 torch_quiet):
    import transformers

    config = transformers.BertConfig(num_hidden_layers=1, hidden_size=64, num_attention_heads=4,
                                     intermediate_size=128, vocab_size=20)
    transformers.BertModel(config).eval().save_pretrained(tmp_path / "small-vocab")
    line = error_line(bench(dense_artifact, "--compare-torch", tmp_path / "small-vocab"))
    assert "does not run on the artifact's inputs" in line
