"""A BERT whose FFN is long enough (intermediate 2304) for the long-K variants, compiled from the
command line for AVX2 (runs on every x86-64 host here): 32x1 blocks sweep the second FFN linear
in K slices, 8x1 blocks read its x by column, 1x32 blocks sweep groups of 128 rows by block
column, 1x1 and 4x4 blocks sweep token panels in K slices of 384 columns. Each artifact records its
layout (slices, rows per sweep group) in the manifest, reloads through the artifact checks and
matches PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driver_helpers import TOLERANCE, invoke, saved_bert

import sparsec
from sparsec.codegen.bsr_linear import plan_bsr_linear
from sparsec.codegen.target import parse_target
from sparsec.ir.bsr import parse_block_shape

SEQ_LEN = 128  # x of the second FFN linear: 128 x 2304 floats, over 1 MiB
TARGET = "llvm -mcpu=znver3"


@pytest.fixture(scope="module")
def long_ffn_bert(tmp_path_factory, torch_quiet):
    return saved_bert(tmp_path_factory.mktemp("models") / "long-ffn-bert", torch_quiet, 3,
                      num_hidden_layers=1, num_attention_heads=1, intermediate_size=2304)


def pruned(model, block: str, folder):
    out = folder / f"pruned-{block}"
    result = invoke("prune", model, "-o", out, "--block", block, "--sparsity", "0.9",
                    "--seq-len", str(SEQ_LEN))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(("block", "slices", "by_column", "sweep_rows"), [
    ("32x1", 3, False, 0), ("8x1", 1, True, 0), ("1x32", 1, False, 128), ("1x1", 6, False, 0),
    ("4x4", 6, False, 0)])
def test_long_k_variants_match_pytorch(long_ffn_bert, tmp_path, block, slices, by_column,
                                       sweep_rows):
    plan = plan_bsr_linear(SEQ_LEN, 64, 2304, parse_block_shape(block), parse_target(TARGET))
    assert (plan.k_slices, plan.x_by_column, plan.column_sweep) == (slices, by_column,
                                                                    sweep_rows > 0)
    model = pruned(long_ffn_bert, block, tmp_path)
    artifact = tmp_path / f"{block}.sparsec"
    result = invoke("compile", model, "-o", artifact, "--target", TARGET, "--threads", "2",
                    "--seq-len", str(SEQ_LEN), "--block-shape", block)
    assert result.exit_code == 0, (result.output, result.exception)
    layouts = json.loads((artifact / "manifest.json").read_text())["bsr"]
    second_ffn = [layout for layout in layouts if layout["dense_shape"] == [64, 2304]]
    assert [(layout["slices"], layout["sweep_rows"]) for layout in second_ffn] == [
        (slices, sweep_rows)]

    import torch

    from sparsec.frontend.loader import load

    rng = np.random.default_rng(0)
    inputs = {"input_ids": rng.integers(0, 200, (1, SEQ_LEN)),
              "attention_mask": np.ones((1, SEQ_LEN), np.int64)}
    ours = sparsec.load(artifact)(**inputs)
    with torch.no_grad():
        want = load(model, seq_len=SEQ_LEN).module(
            **{name: torch.from_numpy(a) for name, a in inputs.items()})
    assert float(np.max(np.abs(ours[0] - want.last_hidden_state.numpy()))) <= TOLERANCE
