"""Dense linear kernels against numpy: partial panels and token tiles, every epilogue, three
vector widths, and the packed weight layout."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.codegen.dense_linear import build_dense_linear, plan_dense_linear
from sparsec.codegen.epilogue import _ERF_P, _ERF_Q, Epilogue
from sparsec.codegen.target import parse_target

EPILOGUES = {
    "none": Epilogue(bias=False),
    "bias": Epilogue(),
    "gelu": Epilogue(gelu=True),
    "residual": Epilogue(residual=True),
    "gelu+residual": Epilogue(gelu=True, residual=True),
    "gelu-no-bias": Epilogue(bias=False, gelu=True),
}


def run(m, n, k, epilogue=EPILOGUES["bias"], spec="llvm", seed=0):
    kern = build_dense_linear(m, n, k, parse_target(spec, num_threads=2), epilogue)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    residual = rng.standard_normal((m, n)).astype(np.float32)
    expected = epilogue.reference(x.astype(np.float64) @ w.T.astype(np.float64), bias, residual)
    np.testing.assert_allclose(kern(x, w, bias, residual), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("m", "n", "k"), [(1, 50, 64), (7, 100, 70), (128, 48, 96),
                                           (13, 32, 1), (128, 100, 33)])
def test_shapes_with_partial_panels_and_tiles(m, n, k):
    run(m, n, k)


@pytest.mark.parametrize("spec", ["llvm", "llvm -mcpu=znver3"])
def test_one_dynamic_kernel_serves_every_token_count(spec):
    target = parse_target(spec, num_threads=2)
    if not target.runs_on_host():
        pytest.skip(f"this host cannot run {spec!r} code")
    epilogue = EPILOGUES["gelu+residual"]
    kern = build_dense_linear(128, 100, 70, target, epilogue, dynamic=True)
    rng = np.random.default_rng(4)
    w, bias = rng.standard_normal((100, 70), np.float32), rng.standard_normal(100, np.float32)
    for m in (1, 2, 5, 11, 12, 13, 25, 100):
        x, residual = rng.standard_normal((m, 70), np.float32), rng.standard_normal((m, 100),
                                                                                     np.float32)
        expected = epilogue.reference(x.astype(np.float64) @ w.T, bias, residual)
        np.testing.assert_allclose(kern(x, w, bias, residual), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", EPILOGUES)
def test_epilogues(name):
    run(7, 100, 70, EPILOGUES[name])


@pytest.mark.parametrize("spec", ["llvm -mcpu=haswell", "llvm -mcpu=x86-64"])
def test_narrower_vector_targets(spec):
    run(7, 100, 70, Epilogue(gelu=True, residual=True), spec)


def test_plan_tiles_from_the_vector_width():
    for spec, lanes in [("llvm -mcpu=skylake-avx512", 16), ("llvm -mcpu=haswell", 8)]:
        plan = plan_dense_linear(128, 768, 768, parse_target(spec))
        assert plan.panel == 2 * lanes
        assert plan.token_tile * plan.panel // lanes <= (32 if lanes == 16 else 16) - 4


def test_pack_is_panel_major_and_zero_padded():
    plan = plan_dense_linear(3, 40, 5, parse_target("llvm -mcpu=haswell"))  # panels of 16
    weight = np.arange(40 * 5, dtype=np.float32).reshape(40, 5)
    packed = plan.pack(weight)
    assert packed.shape == (3, 5, 16)
    assert packed[1, 2, 3] == weight[16 + 3, 2]
    assert not packed[2, :, 8:].any()
    with pytest.raises(ValueError, match="does not fit"):
        plan.pack(weight[:, :4])


def test_fast_erf_coefficients_are_accurate():
    """The rational erf used by the GELU epilogue, evaluated in numpy over [-6, 6]."""
    from scipy.special import erf

    x = np.linspace(-6, 6, 20001)
    clamped = np.clip(x, -4, 4)
    z = clamped * clamped
    approx = clamped * np.polyval(_ERF_P[::-1], z) / np.polyval(_ERF_Q[::-1], z)
    assert np.abs(approx - erf(x)).max() < 5e-7
