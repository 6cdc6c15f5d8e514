"""Fixtures of the driver tests: a tiny saved BERT, and compiled artifacts of it.

Compiling takes seconds even for a tiny model, so each artifact is compiled once per session
and shared; tests that change an artifact work on a copy.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TVM_NUM_THREADS", "2")  # the machine's cores are shared

import shutil
from pathlib import Path

import pytest
from driver_helpers import SEQ_LEN, compile_artifact, invoke, saved_bert


@pytest.fixture(scope="session")
def torch_quiet():
    import torch
    import transformers

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    return torch


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, torch_quiet) -> Path:
    """A saved 2-layer BERT (hidden 64, 4 heads, vocab 200) with seeded random weights."""
    return saved_bert(tmp_path_factory.mktemp("models") / "tiny-bert", torch_quiet, 0,
                      num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)


@pytest.fixture(scope="session")
def pruned_bert(tiny_bert, tmp_path_factory) -> Path:
    """``tiny_bert`` pruned to 90 % sparsity in 32x1 blocks by ``sparsec prune``."""
    path = tmp_path_factory.mktemp("models") / "tiny-bert-pruned"
    result = invoke("prune", tiny_bert, "-o", path, "--block", "32x1", "--sparsity", "0.9",
                    "--seq-len", SEQ_LEN)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="session")
def dense_artifact(tiny_bert, tmp_path_factory) -> Path:
    return compile_artifact(tiny_bert, tmp_path_factory.mktemp("out") / "dense.sparsec",
                            "--no-sparsity")


@pytest.fixture(scope="session")
def pruned_artifact(pruned_bert, tmp_path_factory) -> Path:
    return compile_artifact(pruned_bert, tmp_path_factory.mktemp("out") / "pruned.sparsec",
                            "--block-shape", "32x1")


@pytest.fixture
def artifact_copy(dense_artifact, tmp_path) -> Path:
    """A copy of the dense artifact that a test may damage."""
    return Path(shutil.copytree(dense_artifact, tmp_path / "copy.sparsec"))


@pytest.fixture
def pruned_copy(pruned_artifact, tmp_path) -> Path:
    """A copy of the pruned (BSR) artifact that a test may damage."""
    return Path(shutil.copytree(pruned_artifact, tmp_path / "pruned-copy.sparsec"))
