"""The sparsity passes on synthetic weights whose block structure is known by construction.

sparsity-analysis must measure it exactly for every candidate shape; the BSR
layout must round-trip; block-shape-selection must follow the cost model and
its overrides; and the whole pipeline down to sparsify must compute the same
numbers as before (the reference interpreter is the judge).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sparsec.ir.attributes import DenseResourceAttr
from sparsec.ir.bsr import block_mask, bsr_to_dense, dense_to_bsr, parse_block_shape
from sparsec.ir.dialects.sparsec import Constant, Linear, Tanh
from sparsec.ir.interpreter import assert_equivalent
from sparsec.ir.types import f32, tensor
from sparsec.ir.verifier import verify
from sparsec.passes import PassError, PassManager, parse_pipeline
from sparsec.passes.block_shape_selection import DECISION_ATTR, BlockShapeSelection
from sparsec.passes.cost_model import (
    CostModel,
    ShapeCost,
    analytic_shape_cost,
    calibration_path,
    load_cost_model,
)
from sparsec.passes.sparsity_analysis import (
    DEFAULT_BLOCK_SHAPES,
    SPARSITY_ATTR,
    SparsityAnalysis,
    block_masks,
    linears,
)

# Weight shapes that every default block shape divides, and shapes that none but 1x1 does.
WEIGHT_SHAPES = [(64, 64), (96, 32), (50, 37), (7, 45)]


def block_pruned(rng: np.random.Generator, shape: tuple[int, int], block: tuple[int, int],
                 keep: float) -> tuple[np.ndarray, np.ndarray]:
    """A float32 weight whose nonzero blocks of ``block`` are exactly a random mask; (weight, mask).

    Kept blocks are completely nonzero within the weight (the padding of edge
    blocks is not part of it), so the mask is what the analysis must find.
    """
    rows, cols = block
    mask = rng.random((math.ceil(shape[0] / rows), math.ceil(shape[1] / cols))) < keep
    elements = np.kron(mask, np.ones(block, dtype=bool))[: shape[0], : shape[1]]
    magnitudes = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return np.where(elements, magnitudes, 0.0).astype(np.float32), mask


def linear_module(make_module, weights: dict[str, np.ndarray], tokens: int = 3):
    """``forward(x)`` returning one linear per named weight (resources), all reading ``x``."""
    k = next(iter(weights.values())).shape[1]

    def build(emit, x):
        outputs = []
        for name, weight in weights.items():
            attr = DenseResourceAttr.from_array(name, weight)
            outputs.append(emit(Linear, [x, emit(Constant, properties={"value": attr})]))
        return outputs

    return make_module([tensor((tokens, k), f32)], build)


def analysis_of(op, shape: str) -> dict:
    entry = op.attributes[SPARSITY_ATTR]["blocks"][shape]
    return {key: entry[key].value for key in ("block_density", "fill", "nnzb")}


def decision_of(op) -> tuple[str, float, str]:
    decision = op.attributes[DECISION_ATTR]
    return tuple(decision[k].value for k in ("block_shape", "predicted_speedup", "reason"))


# -- sparsity-analysis ----------------------------------------------------------------


@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("block_text", DEFAULT_BLOCK_SHAPES)
def test_known_block_pattern_is_measured_exactly(make_module, block_text, weight_shape):
    block = parse_block_shape(block_text)
    rng = np.random.default_rng(
        DEFAULT_BLOCK_SHAPES.index(block_text) * 10 + WEIGHT_SHAPES.index(weight_shape))
    weight, mask = block_pruned(rng, weight_shape, block, keep=0.3)
    module = linear_module(make_module, {"w": weight})
    SparsityAnalysis().apply(module)

    (op,) = linears(module)
    nnz = int(np.count_nonzero(weight))
    stored = int(mask.sum()) * block[0] * block[1]
    assert analysis_of(op, block_text) == {
        "block_density": pytest.approx(mask.mean(), rel=1e-5),
        "fill": pytest.approx(nnz / stored if stored else 1.0, rel=1e-5),
        "nnzb": int(mask.sum()),
    }
    assert op.attributes[SPARSITY_ATTR]["nnz"].value == nnz
    assert sorted(op.attributes[SPARSITY_ATTR]["blocks"].as_dict()) == sorted(DEFAULT_BLOCK_SHAPES)


@pytest.mark.parametrize("weight_shape", [(50, 37), (64, 96), (1, 7)], ids=str)
def test_masks_derived_from_finer_masks_equal_direct_ones(weight_shape):
    # Shapes that tile each other (2x5 -> 6x10, 3x5 -> 6x10), or not, with and without padding.
    shapes = tuple(parse_block_shape(t) for t in (*DEFAULT_BLOCK_SHAPES, "3x5", "2x5", "6x10",
                                                   "64x1", "1x3", "7x7"))
    weight = np.random.default_rng(6).standard_normal(weight_shape)
    weight[np.abs(weight) < 1.5] = 0
    masks = block_masks(weight != 0, shapes)
    for shape in shapes:
        assert np.array_equal(masks[shape], block_mask(weight, shape)), shape


def test_all_zero_weight_stores_nothing_for_any_shape(make_module):
    module = linear_module(make_module, {"w": np.zeros((50, 37), np.float32)})
    SparsityAnalysis().apply(module)
    (op,) = linears(module)
    sparsity = op.attributes[SPARSITY_ATTR]
    assert (sparsity["density"].value, sparsity["nnz"].value) == (0.0, 0)
    assert (sparsity["zero_rows"].value, sparsity["zero_cols"].value) == (50, 37)
    for shape in DEFAULT_BLOCK_SHAPES:
        assert analysis_of(op, shape) == {"block_density": 0.0, "fill": 1.0, "nnzb": 0}


def test_zero_rows_and_columns_are_counted(make_module):
    weight = np.ones((10, 6), np.float32)
    weight[[1, 4, 5]] = 0
    weight[:, [0, 3]] = 0
    module = linear_module(make_module, {"w": weight})
    SparsityAnalysis(block_shapes=("2x1",)).apply(module)
    sparsity = linears(module)[0].attributes[SPARSITY_ATTR]
    assert (sparsity["zero_rows"].value, sparsity["zero_cols"].value) == (3, 2)
    assert sparsity["nnz"].value == 7 * 4


# -- the BSR layout ---------------------------------------------------------------------


@pytest.mark.parametrize("weight_shape", WEIGHT_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("block", [(1, 1), (4, 1), (32, 1), (1, 8), (16, 16), (3, 5), (64, 64)],
                         ids=lambda b: f"{b[0]}x{b[1]}")
def test_dense_bsr_round_trip_is_exact(weight_shape, block):
    rng = np.random.default_rng(7)
    weight, mask = block_pruned(rng, weight_shape, block, keep=0.4)
    bsr = dense_to_bsr(weight, block)
    assert bsr.nnzb == mask.sum()
    assert bsr.data.shape == (bsr.nnzb, *block) and bsr.data.dtype == np.float32
    assert bsr.indices.dtype == np.int32 and bsr.indptr.dtype == np.int32
    assert list(bsr.indptr) == [0, *np.cumsum(mask.sum(axis=1))]
    for row in range(mask.shape[0]):
        assert list(bsr.indices[bsr.indptr[row]:bsr.indptr[row + 1]]) == list(
            np.flatnonzero(mask[row]))
    assert np.array_equal(bsr_to_dense(bsr), weight)


@pytest.mark.parametrize("block", [(1, 1), (3, 5), (32, 1)], ids=lambda b: f"{b[0]}x{b[1]}")
def test_all_zero_and_all_dense_weights_round_trip(block):
    full = np.arange(1, 7 * 45 + 1, dtype=np.float32).reshape(7, 45)
    for weight in (np.zeros((7, 45), np.float32), full):
        bsr = dense_to_bsr(weight, block)
        assert bsr.nnzb == block_mask(weight, block).sum()
        assert np.array_equal(bsr_to_dense(bsr), weight)


# -- the whole pipeline: same numbers before and after -----------------------------------


def pruned_mlp(make_module, rng: np.random.Generator):
    """x[2, 5, 48] -> linear(64, bias) -> tanh -> linear(40) -> linear(24, bias): block-pruned."""
    w1, _ = block_pruned(rng, (64, 48), (16, 1), keep=0.2)
    w2, _ = block_pruned(rng, (40, 64), (1, 8), keep=0.3)
    w3, _ = block_pruned(rng, (24, 40), (4, 4), keep=0.5)
    w3[:, :8] = 0  # some whole input columns too

    def build(emit, x):
        def linear(name, value, weight, bias=None):
            attr = DenseResourceAttr.from_array(name, weight)
            operands = [value, emit(Constant, properties={"value": attr})]
            return emit(Linear, operands + ([emit.const(bias)] if bias is not None else []))

        h = emit(Tanh, [linear("fc1.weight", x, w1, rng.standard_normal(64))])
        h = linear("fc2.weight", h, w2)
        return linear("fc3.weight", h, w3, rng.standard_normal(24))

    return make_module([tensor((2, 5, 48), f32)], build)


def run_pipeline(module, text: str) -> None:
    PassManager(parse_pipeline(text)).run(module)
    verify(module)


@pytest.mark.parametrize("force", ["1x1", "4x1", "16x1", "32x1", "1x8", "8x8", "3x5", "64x64"])
def test_sparsified_module_computes_the_same(make_module, body_ops, force):
    before = pruned_mlp(make_module, np.random.default_rng(1))
    after = before.clone()
    run_pipeline(after, f"sparsity-analysis,block-shape-selection{{force={force}}},sparsify")
    ops = [op.name for op in body_ops(after)]
    assert ops.count("sparsec.bsr_linear") == 3 and "sparsec.linear" not in ops
    assert_equivalent(before, after, rtol=1e-5, atol=1e-5)


def test_cost_model_choices_compute_the_same(make_module, body_ops):
    before = pruned_mlp(make_module, np.random.default_rng(2))
    after = before.clone()
    run_pipeline(after, "sparsity-analysis,block-shape-selection{cost-model=analytic},sparsify")
    assert "sparsec.bsr_linear" in [op.name for op in body_ops(after)]
    assert_equivalent(before, after, rtol=1e-5, atol=1e-5)


# -- block-shape-selection ----------------------------------------------------------------


def test_choice_is_the_shape_with_the_best_predicted_speedup(make_module):
    weight, _ = block_pruned(np.random.default_rng(3), (128, 96), (16, 1), keep=0.1)
    module = linear_module(make_module, {"w": weight})
    BlockShapeSelection(cost_model="analytic").apply(module)
    shape, speedup, reason = decision_of(linears(module)[0])

    model = CostModel()
    predicted = {
        text: model.predicted_speedup(128, 96, parse_block_shape(text),
                                      int(block_mask(weight, parse_block_shape(text)).sum()))
        for text in DEFAULT_BLOCK_SHAPES
    }
    assert shape == max(predicted, key=predicted.get)
    assert speedup == pytest.approx(predicted[shape], rel=1e-3)
    assert reason == "cost model (analytic)"


@pytest.mark.parametrize(("pruned", "chosen"), [((1, 32), "1x32"), ((1, 1), "1x1")])
def test_one_row_blocks_of_four_columns_cost_less_per_element(make_module, pruned, chosen):
    # codegen sweeps 1x4..1x32 by block column (activations from L1): 0.6 of the rows family's
    # speed per element against 0.52 for 1x1 (K slices of a token panel)
    assert analytic_shape_cost(1, 4).efficiency > analytic_shape_cost(1, 1).efficiency
    weight, _ = block_pruned(np.random.default_rng(5), (128, 128), pruned, keep=0.1)
    module = linear_module(make_module, {"w": weight})
    BlockShapeSelection(cost_model="analytic").apply(module)
    assert decision_of(linears(module)[0])[0] == chosen


def test_overrides_in_order_layers_then_dense_above_then_force(make_module):
    rng = np.random.default_rng(4)
    sparse, _ = block_pruned(rng, (32, 32), (8, 1), keep=0.1)
    dense = rng.standard_normal((32, 32)).astype(np.float32)
    weights = {"enc.0.q.weight": sparse, "enc.0.ffn.weight": sparse, "head.weight": dense}

    def choices(**options) -> list[tuple[str, str]]:
        module = linear_module(make_module, weights)
        BlockShapeSelection(cost_model="analytic", **options).apply(module)
        return [(decision_of(op)[0], decision_of(op)[2]) for op in linears(module)]

    assert choices() == [
        ("8x1", "cost model (analytic)"),
        ("8x1", "cost model (analytic)"),
        ("dense", "density 1 > dense-above 0.5"),
    ]
    # A forced shape leaves the dense head dense; only naming it in `layers` forces it.
    kept_dense = ("dense", "density 1 > dense-above 0.5")
    assert choices(force="2x2") == [("2x2", "forced"), ("2x2", "forced"), kept_dense]
    assert choices(force="2x2", layers=("*.q.*=dense", "enc.*=1x4")) == [
        ("dense", "layers override *.q.*"),
        ("1x4", "layers override enc.*"),
        kept_dense,
    ]
    assert choices(force="2x2", layers=("head.*=2x2",))[2] == ("2x2", "layers override head.*")
    assert choices(dense_above=1.0)[2][0] == "dense"  # dense enough that BSR never pays
    density = f"{np.count_nonzero(sparse) / sparse.size:.3g}"
    assert choices(dense_above=0.05)[:2] == [("dense", f"density {density} > dense-above 0.05")] * 2


def test_forced_shape_reports_the_model_prediction(make_module):
    weight, mask = block_pruned(np.random.default_rng(5), (48, 40), (4, 4), keep=0.25)
    module = linear_module(make_module, {"w": weight})
    BlockShapeSelection(cost_model="analytic", force="4x4").apply(module)
    expected = CostModel().predicted_speedup(48, 40, (4, 4), int(mask.sum()))
    assert decision_of(linears(module)[0])[1] == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("options, message", [
    ({"force": "4"}, "force: '4' is neither a block shape RxC nor 'dense'"),
    ({"layers": ("nothing",)}, "layers entry 'nothing' is not GLOB=RxC or GLOB=dense"),
    ({"layers": ("x=0x4",)}, "'0x4' is neither a block shape RxC nor 'dense'"),
    ({"block_shapes": ("2x1", "ax1")}, "block shape 'ax1' is not of the form RxC"),
])
def test_bad_selection_options_are_pass_errors(make_module, options, message):
    module = linear_module(make_module, {"w": np.eye(4, dtype=np.float32)})
    with pytest.raises(PassError, match=message.replace("*", r"\*")):
        BlockShapeSelection(cost_model="analytic", **options).apply(module)


# -- the cost model file ---------------------------------------------------------------------


def calibrated() -> CostModel:
    return CostModel("calibrated", 8, {"4x1": ShapeCost(0.7, 1.5), "32x1": ShapeCost(0.95, 0.5)})


def test_cost_model_json_round_trip(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(calibrated().to_json())
    assert load_cost_model(str(path)) == calibrated()
    # Shapes the file does not measure fall back to the analytic guess for its lane count.
    model = load_cost_model(str(path))
    assert model.shape_cost((2, 2)) != model.shape_cost((4, 1)) == ShapeCost(0.7, 1.5)


def test_auto_uses_the_cached_calibration_of_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert load_cost_model("auto", "skylake-avx512").source == "analytic"  # nothing cached
    path = calibration_path("skylake-avx512")
    assert path.parent == tmp_path / "sparsec"
    path.parent.mkdir()
    path.write_text(calibrated().to_json())
    assert load_cost_model("auto", "skylake-avx512") == calibrated()
    assert load_cost_model("auto", "znver4").source == "analytic"


@pytest.mark.parametrize("text, message", [
    ("not json", "not a sparsec cost model"),
    ('{"source": "x", "lanes": 8}', "missing key 'shapes'"),
    ('{"source": "x", "lanes": 8, "shapes": []}', "not a sparsec cost model"),
    ('{"source": "x", "lanes": 8, "shapes": {"4y1": {"efficiency": 1, "block_overhead": 0}}}',
     "block shape '4y1'"),
    ('{"source": "x", "lanes": 8, "shapes": {"4x1": {"efficiency": 0, "block_overhead": 0}}}',
     "efficiency > 0"),
    ('{"source": "x", "lanes": 0, "shapes": {}}', "lanes must be >= 1"),
])
def test_malformed_cost_model_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(PassError, match=message) as info:
        load_cost_model(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_and_unreadable_cost_model_files(tmp_path):
    with pytest.raises(PassError, match="does not exist"):
        load_cost_model(str(tmp_path / "absent.json"))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PassError, match="cannot read cost model file"):
        load_cost_model(str(binary))
