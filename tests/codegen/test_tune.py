"""Tuning with meta_schedule: a tiny module tuned with a handful of trials stays correct against
the interpreter, a second build reuses the database without a trial, bad options are one line."""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from sparsec.codegen.build import build_module, run_built
from sparsec.codegen.tune import (
    MIN_TUNED_WORK,
    TuneError,
    TuneOptions,
    check_tuning_support,
    open_database_folder,
)
from sparsec.ir.attributes import FloatAttr, IntegerAttr, i64_array
from sparsec.ir.dialects import sparsec as S
from sparsec.ir.interpreter import interpret, random_inputs
from sparsec.ir.types import f32, tensor

TRIALS = 4
HIDDEN = 64


@functools.cache
def _supported() -> str:
    """Empty when this install can tune, else why not (the one-line error)."""
    try:
        check_tuning_support()
    except TuneError as err:
        return str(err)
    return ""


requires_tuning = pytest.mark.skipif(bool(_supported()), reason=_supported() or "supported")


def layer_norm_softmax(make_module):
    """``softmax(layer_norm(x) * 2)``: two generic kernels of 128 x 64 elements."""
    rng = np.random.default_rng(0)

    def build(emit, x):
        normed = emit(S.LayerNorm, [x, emit.weight("ln.weight", rng.standard_normal(HIDDEN)),
                                    emit.weight("ln.bias", rng.standard_normal(HIDDEN))],
                      {"normalized_shape": i64_array([HIDDEN]), "epsilon": FloatAttr(1e-5)})
        scaled = emit(S.Mul, [normed, emit.const(2.0)])
        return emit(S.Softmax, [scaled], {"axis": IntegerAttr(1)})

    return make_module([tensor((128, HIDDEN), f32)], build)


def _records(folder: Path) -> int:
    path = folder / "database_tuning_record.json"
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.exists() else 0


@requires_tuning
def test_tuned_build_is_correct_and_the_database_is_reused(make_module, target, tmp_path):
    module = layer_norm_softmax(make_module)
    inputs = random_inputs(module)
    expected = interpret(module, inputs)
    stages: list[str] = []
    options = TuneOptions(trials=TRIALS, database=str(tmp_path / "db"))

    first = build_module(module, target, progress=stages.append, tune=options)
    np.testing.assert_allclose(run_built(first, inputs)[0], expected[0], rtol=1e-5, atol=1e-5)
    report = first.tuning
    assert report is not None and report.kernels
    assert all(k.tuned_now for k in report.kernels)
    assert [s for s in stages if s.startswith("tuning kernel")] == [
        f"tuning kernel {i}/{len(report.kernels)}: {k.name}"
        for i, k in enumerate(report.kernels, start=1)]
    # Every kernel was measured (a failed build or run would leave an infinite time) ...
    assert all(math.isfinite(k.best_seconds) and math.isfinite(k.generic_seconds)
               for k in report.kernels)
    # ... and the generic schedule competes, so the best is never slower than it.
    assert all(k.best_seconds <= k.generic_seconds for k in report.kernels)
    records = _records(tmp_path / "db")
    assert records > len(report.kernels)  # one generic record per kernel, plus the trials

    stages.clear()
    second = build_module(module, target, progress=stages.append, tune=options)
    assert not any(s.startswith("tuning kernel") for s in stages)
    assert _records(tmp_path / "db") == records  # not a single new trial
    assert not any(k.tuned_now for k in second.tuning.kernels)
    assert [k.best_seconds for k in second.tuning.kernels] == [
        k.best_seconds for k in report.kernels]
    np.testing.assert_allclose(run_built(second, inputs)[0], expected[0], rtol=1e-5, atol=1e-5)
    assert "from the database" in second.tuning.summary()


def test_small_kernels_are_not_tuned(make_module, target, tmp_path):
    """Below MIN_TUNED_WORK elements nothing is tuned, so no trial runs and nothing is written."""
    module = make_module([tensor((4, 8), f32)], lambda emit, x: emit(S.Tanh, [x]))
    assert MIN_TUNED_WORK > 4 * 8
    if _supported():
        pytest.skip(_supported())
    built = build_module(module, target, tune=TuneOptions(trials=2, database=str(tmp_path)))
    assert built.tuning is not None and built.tuning.kernels == ()
    assert _records(tmp_path) == 0


def test_default_build_has_no_tuning(make_module, target):
    module = make_module([tensor((4, 8), f32)], lambda emit, x: emit(S.Tanh, [x]))
    assert build_module(module, target).tuning is None


@pytest.mark.parametrize("trials", [0, -3, 1.5, True])
def test_bad_trial_count_is_one_line(trials):
    with pytest.raises(TuneError, match=r"^--tune: TRIALS must be a positive integer") as err:
        TuneOptions(trials=trials)
    assert "\n" not in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_database_is_one_line(target, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(TuneError, match=r"^--tune-db: cannot write the tuning database") as err:
        open_database_folder(TuneOptions(1, str(locked / "db")), target)
    assert "\n" not in str(err.value)


def test_database_that_is_a_file_is_one_line(target, tmp_path):
    path = tmp_path / "db.json"
    path.write_text(json.dumps({}))
    with pytest.raises(TuneError, match=r"^--tune-db: cannot write the tuning database") as err:
        open_database_folder(TuneOptions(1, str(path)), target)
    assert "\n" not in str(err.value)


def test_default_database_is_per_cpu_in_the_cache(target, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = open_database_folder(TuneOptions(1), target)
    assert folder == tmp_path / "sparsec" / "tuning" / target.mcpu
    assert folder.is_dir()


def test_compile_tune_refuses_a_target_this_cpu_cannot_run(tmp_path):
    """Tuning measures candidates here: a foreign ISA is refused before the model is read."""
    import subprocess
    import sys

    from sparsec.codegen.target import parse_target

    foreign = "llvm -mcpu=x86-64 -mattr=+amx-tile"
    if parse_target(foreign).runs_on_host():
        pytest.skip("this host has AMX")
    (tmp_path / "model.pt2").write_bytes(b"never read")
    done = subprocess.run([sys.executable, "-m", "sparsec.cli", "compile", "model.pt2", "--tune",
                           "2", "--target", foreign], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: --tune for x86-64 needs CPU features this machine "
                                  "lacks: amx-tile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt2"]
