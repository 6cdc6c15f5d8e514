"""IR -> Relax lowering: parameters, epilogues, signature, bounds and errors (no compile)."""

from __future__ import annotations

import numpy as np
import pytest
from tvm import tirx

from sparsec.codegen.lower import LoweringError, lower
from sparsec.ir.attributes import BoolAttr, FloatAttr, StringAttr, i64_array
from sparsec.ir.dialects import func
from sparsec.ir.dialects import sparsec as S
from sparsec.ir.types import i32, i64, tensor
from sparsec.passes.fusion import Fusion

W = np.arange(12, dtype=np.float32).reshape(3, 4)


def primfunc_names(lowered) -> list[str]:
    return sorted(gv.name_hint for gv, f in lowered.module.functions.items()
                  if isinstance(f, tirx.PrimFunc))


def _linear_gelu_add(emit, x, r):
    y = emit(S.Linear, [x, emit.weight("fc.weight", W), emit.weight("fc.bias", np.ones(3))])
    return emit(S.Add, [r, emit(S.Gelu, [y], {"approximate": StringAttr("none")})])


def test_a_fused_linear_is_one_kernel_with_packed_weight(make_module, target):
    module = make_module([tensor((2, 4)), tensor((2, 3))], _linear_gelu_add)
    Fusion().apply(module)
    lowered = lower(module, target)
    assert primfunc_names(lowered) == ["dense_linear"]
    assert lowered.param_names[0].startswith("fc.weight:panels")
    assert lowered.param_names[1] == "fc.bias"
    text = lowered.module.script()
    assert "gelu" not in text and "R.add" not in text


def test_an_unfused_linear_lowers_its_gelu_and_add_apart(make_module, target):
    """IR the fusion pass did not run on: the same kernel, then the gelu and the add."""
    lowered = lower(make_module([tensor((2, 4)), tensor((2, 3))], _linear_gelu_add), target)
    assert primfunc_names(lowered) == ["dense_linear"]
    text = lowered.module.script()
    assert "R.nn.gelu" in text and "R.add" in text


def test_a_shared_weight_is_one_parameter(make_module, target):
    def build(emit, x):
        w = emit.weight("shared", W)
        return emit(S.Linear, [emit(S.Linear, [x, emit.weight("sq", np.eye(4))]), w]), \
            emit(S.Linear, [x, w])

    lowered = lower(make_module([tensor((2, 4))], build), target)
    assert [n.split(":")[0] for n in lowered.param_names] == ["sq", "shared"]


def test_names_and_index_bounds(make_module, target):
    table = np.zeros((50, 4), np.float32)

    def build(emit, ids, other):
        flat = emit(S.Reshape, [emit(S.Cast, [ids], result_types=[tensor((2, 3), i32)])],
                    {"shape": i64_array([6])})
        return emit(S.Embedding, [emit.weight("emb", table), flat]), other

    module = make_module([tensor((2, 3), i64), tensor((5,))], build)
    fn = module.regions[0].block.ops[0]
    func.set_names(fn, ["ids", "x"], ["hidden", "same"])
    lowered = lower(module, target)
    assert [(s.name, s.shape, s.dtype, s.upper_bound) for s in lowered.inputs] == [
        ("ids", (2, 3), "int64", 50), ("x", (5,), "float32", None)]
    assert [s.name for s in lowered.outputs] == ["hidden", "same"]


def test_training_dropout_is_a_lowering_error(make_module, target):
    module = make_module([tensor((4,))], lambda emit, x: emit(
        S.Dropout, [x], {"p": FloatAttr(0.5), "train": BoolAttr(True)}))
    with pytest.raises(LoweringError, match="training mode"):
        lower(module, target)


def test_run_time_size_without_a_range_is_a_lowering_error(make_module, target):
    module = make_module([tensor((None, 4))], lambda emit, x: emit(S.Neg, [x]))
    with pytest.raises(LoweringError, match=r"input 'input0' has a run-time size 'input0.0' "
                                            r"without a range; import the model with"):
        lower(module, target)
