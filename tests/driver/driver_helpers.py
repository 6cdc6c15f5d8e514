"""Helpers of the driver tests: the CLI run in-process and its one-line errors, saved models."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TVM_NUM_THREADS", "2")  # the machine's cores are shared

from pathlib import Path

import typer
from typer.testing import CliRunner

from sparsec.commands import compile as compile_cmd
from sparsec.commands import prune as prune_cmd
from sparsec.commands import run as run_cmd

SEQ_LEN = 16
TOLERANCE = 1e-4


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)  # keep the commands sub-commands
    for module in (compile_cmd, run_cmd, prune_cmd):
        module.register(app)
    return app


def invoke(*args: str):
    """Run ``sparsec ARGS`` in-process; returns click's result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(cli(), [str(a) for a in args])


def error_line(result) -> str:
    """The one ``error:`` line a failed command printed last (after any finished stages)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert sum(line.startswith("error") for line in lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[-1]


def compile_artifact(model: Path, out: Path, *extra: str, seq_len: int = SEQ_LEN) -> Path:
    """`sparsec compile MODEL -o OUT EXTRA...` for 2 threads, checked to succeed."""
    result = invoke("compile", model, "-o", out, "--seq-len", seq_len, "--threads", "2", *extra)
    assert result.exit_code == 0, (result.output, result.exception)
    return out


def saved_bert(folder: Path, torch_quiet, seed: int, **config) -> Path:
    """A BERT (vocab 200, hidden 64 and the rest of ``config``) with weights seeded by
    ``seed``, saved to ``folder``."""
    import transformers

    torch_quiet.manual_seed(seed)
    bert = transformers.BertModel(transformers.BertConfig(vocab_size=200, hidden_size=64,
                                                          **config))
    bert.eval().save_pretrained(folder)
    return folder
