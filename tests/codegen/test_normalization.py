"""The layer-norm kernel against float64 numpy: static row counts, and one dynamic kernel at
every row count (rows are a run-time size)."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.codegen.kernel import CompiledKernel
from sparsec.codegen.normalization import LayerNormPlan, layer_norm_func
from sparsec.codegen.target import parse_target

EPSILON = 1e-12


def expected(x, weight, bias):
    x = x.astype(np.float64)
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + EPSILON) * weight + bias


def run(kernel, rows, size, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, size)) * 3 + 5).astype(np.float32)
    weight, bias = (rng.standard_normal(size).astype(np.float32) for _ in range(2))
    tensors = kernel.tensors(x, weight, bias, np.zeros_like(x))
    kernel.run(*tensors)
    np.testing.assert_allclose(tensors[-1].numpy(), expected(x, weight, bias), rtol=1e-4,
                               atol=1e-4, err_msg=f"{rows} rows of {size}")


# sizes: whole chunks of partial sums (768), chunks then vectors then single floats (100, 312),
# fewer floats than one vector (5); the host's width and AVX2's (which every x86-64 host here runs)
@pytest.mark.parametrize("cpu", ["llvm", "llvm -mcpu=haswell"])
@pytest.mark.parametrize(("rows", "size"), [(1, 768), (7, 100), (3, 312), (128, 5)])
def test_static_rows(rows, size, cpu):
    target = parse_target(cpu, num_threads=2)
    plan = LayerNormPlan(rows, size, EPSILON, target.vector_lanes)
    run(CompiledKernel(layer_norm_func(plan), "layer_norm", target), rows, size, seed=rows)


@pytest.mark.parametrize("size", [768, 37])
def test_one_dynamic_kernel_serves_every_row_count(size):
    target = parse_target("llvm", num_threads=2)
    plan = LayerNormPlan(4096, size, EPSILON, target.vector_lanes, dynamic=True)
    kernel = CompiledKernel(layer_norm_func(plan), "layer_norm", target)
    for rows in (1, 3, 64, 129):
        run(kernel, rows, size, seed=rows)
