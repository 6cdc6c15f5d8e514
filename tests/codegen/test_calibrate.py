"""Calibration: the cost model fitted to this CPU's kernels, cached, and used by selection."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sparsec.codegen.calibrate import block_sparse_weight, calibrate
from sparsec.codegen.target import parse_target
from sparsec.ir.bsr import block_mask
from sparsec.passes.cost_model import CostModel, calibration_path, load_cost_model


@pytest.mark.parametrize("block", [(32, 1), (1, 4), (3, 5)])
def test_reference_weights_have_the_asked_block_density(block):
    weight = block_sparse_weight(96, 70, block, 0.25, np.random.default_rng(0))
    mask = block_mask(weight, block)
    assert mask.mean() == pytest.approx(0.25, abs=1 / mask.size)


def test_calibration_fits_every_asked_shape():
    model = calibrate(parse_target("llvm"), ("1x1", "32x1"))
    assert model.source.startswith("calibrated on ") and set(model.shapes) == {"1x1", "32x1"}
    for cost in model.shapes.values():
        assert cost.efficiency > 0 and cost.fixed_cost >= 0 and cost.block_overhead == 0
    # Vectorizing a 32-row block beats one multiply-add per block per token vector.
    assert model.shapes["32x1"].efficiency > model.shapes["1x1"].efficiency
    again = CostModel.from_json(model.to_json(), "round trip")
    assert again == model


def test_cli_caches_the_model_where_auto_finds_it(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = tmp_path / "model.json"
    done = subprocess.run([sys.executable, "-m", "sparsec.cli", "calibrate", "--block-shapes",
                           "16x1", "-o", str(out)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    cpu = parse_target("llvm").mcpu
    cached = tmp_path / "sparsec" / calibration_path(cpu).name
    assert json.loads(cached.read_text()) == json.loads(out.read_text())
    assert "16x1" in done.stdout and str(cached) in done.stdout


def test_cli_rejects_a_bad_block_shape(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "sparsec.cli", "calibrate", "--block-shapes",
                           "16by1"], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: --block-shapes: block shape '16by1'")
    assert not (tmp_path / "sparsec").exists()


def test_auto_uses_the_cached_calibration(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert load_cost_model("auto", "somecpu").source == "analytic"
    path = calibration_path("somecpu")
    path.parent.mkdir(parents=True)
    path.write_text(CostModel("calibrated on somecpu", 8, {}).to_json())
    assert load_cost_model("auto", "somecpu").source == "calibrated on somecpu"
