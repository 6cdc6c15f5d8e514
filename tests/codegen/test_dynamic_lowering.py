"""One compiled module, every batch and sequence length in range: run-time sizes through the
lowering (symbolic Relax shapes, the dynamic linear / attention / layer-norm kernels), checked
against the reference interpreter at several sizes, dense and BSR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparsec.codegen.build import build_module, run_built
from sparsec.codegen.lower import LoweringError, lower
from sparsec.codegen.target import parse_target
from sparsec.ir.interpreter import interpret
from sparsec.ir.parser import parse_module
from sparsec.passes import PassManager, parse_pipeline

LAYER = Path(__file__).parent / "fixtures" / "dynamic_layer.mlir"
SIZES = [(1, 1), (1, 7), (3, 16), (4, 40)]  # the ranges are batch 1..4, seq 1..40


def _layer(sparse: bool, text: str | None = None):
    module = parse_module(text or LAYER.read_text(), str(LAYER))
    rng = np.random.default_rng(0)
    for op in module.walk():
        if op.name == "sparsec.constant":
            attr = op.properties["value"]
            data = (rng.standard_normal(attr.type.shape) * 0.2).astype(np.float32)
            if sparse and attr.type.rank == 2:  # 3 of 4 blocks of 32x1 zero
                data.reshape(2, 32, 64)[:, :, rng.permutation(64)[:48]] = 0
            attr.resource.data = data
    if sparse:
        pipeline = "sparsity-analysis,block-shape-selection{force=32x1},sparsify"
        PassManager(parse_pipeline(pipeline)).run(module)
        assert "sparsec.bsr_linear" in {op.name for op in module.walk()}
    return module


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "bsr"])
@pytest.mark.parametrize("cpu", ["", " -mcpu=znver3"], ids=["host", "znver3"])
def test_one_module_runs_every_size_in_range(sparse, cpu):
    module = _layer(sparse)
    built = build_module(module, parse_target("llvm" + cpu))
    assert [s.shape for s in built.inputs] == [("batch", "seq", 64), ("batch", "seq")]
    assert [s.shape for s in built.outputs] == [("batch", "seq", 64), ("batch", 64)]
    rng = np.random.default_rng(1)
    for batch, seq in SIZES:
        x = rng.standard_normal((batch, seq, 64)).astype(np.float32)
        mask = rng.integers(0, 2, (batch, seq)).astype(bool)
        mask[0] = False  # a fully masked sequence: attention gives zeros, as torch does
        expected = interpret(module, [x, mask])
        for got, want in zip(run_built(built, [x, mask]), expected, strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_kernels_are_planned_for_the_largest_size():
    lowered = lower(_layer(False), parse_target("llvm -mcpu=znver3"))
    assert lowered.ranges == {"batch": (1, 4), "seq": (1, 40)}
    text = lowered.module.script()
    assert "batch * seq" in text  # the linear's token count is the product of the two sizes


def test_a_slice_that_can_run_past_a_run_time_size_is_refused():
    text = LAYER.read_text().replace("end = 1, start = 0", "end = 2, start = 0")
    with pytest.raises(LoweringError, match="can run past its end"):
        lower(_layer(False, text), parse_target("llvm"))
