"""The `block-shape-selection` pass: per weight, BSR with which block shape, or dense?"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from sparsec.ir.attributes import DictAttr, FloatAttr, StringAttr
from sparsec.ir.bsr import block_mask, format_block_shape, parse_block_shape
from sparsec.ir.core import Operation
from sparsec.ir.types import f64

from .cost_model import CostModel, load_cost_model
from .pass_base import Pass, PassError, option
from .registry import register_pass
from .sparsity_analysis import (
    DEFAULT_BLOCK_SHAPES,
    SPARSITY_ATTR,
    analyze,
    linears,
    parse_block_shapes,
    weight_of,
    weight_shape,
)

DECISION_ATTR = "sparsec.decision"
DENSE = "dense"


@dataclass(frozen=True)
class Choice:
    block_shape: str  # "RxC" or "dense"
    speedup: float  # predicted, over the dense kernel
    reason: str


def stored_blocks(op: Operation, block: tuple[int, int]) -> int:
    """Nonzero blocks of the op's weight, from the analysis attribute when it has the shape."""
    analysis = op.attributes.get(SPARSITY_ATTR)
    key = format_block_shape(block)
    if isinstance(analysis, DictAttr):
        entry = analysis["blocks"].as_dict().get(key)
        if entry is not None:
            return int(entry["nnzb"].value)
    named = weight_of(op)
    assert named is not None
    return int(block_mask(named[1], block).sum())


def _check_choice(text: str, where: str) -> str:
    if text == DENSE:
        return text
    try:
        return format_block_shape(parse_block_shape(text))
    except ValueError:
        raise PassError(f"{where}: '{text}' is neither a block shape RxC nor 'dense'") from None


@register_pass
@dataclass(frozen=True)
class BlockShapeSelection(Pass):
    """Choose per weight the block shape, or dense, with the lowest predicted run time.

    The prediction comes from the cost model of the kernels codegen emits
    (``cost-model=auto`` uses this CPU's calibration when one is cached,
    else the analytic model). Overrides, strongest first: ``layers``
    (weight-name globs: a weight named there gets its choice whatever its
    density), ``dense-above`` (weights denser than this stay dense), then
    ``force`` (one choice for every other weight: forcing a block shape
    never puts a dense weight such as a pooler into BSR). Needs constant
    weights; runs ``sparsity-analysis`` itself on any linear it has not seen.

    Before (run as ``block-shape-selection{block-shapes=2x1,1x2 cost-model=analytic}``):

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<[[1.0, 0.0, 0.0, 2.0], [3.0, 0.0, 0.0, 4.0],
            [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
        %1 = "sparsec.linear"(%arg0, %0) {sparsec.sparsity = {blocks = {
            "1x2" = {block_density = 0.625 : f64, fill = 0.5 : f64, nnzb = 5},
            "2x1" = {block_density = 0.375 : f64, fill = 0.833333 : f64, nnzb = 3}},
            density = 0.3125 : f64, nnz = 5, weight = "<inline>", zero_cols = 2,
            zero_heads = array<i64>, zero_rows = 1}}
            : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
        "func.return"(%1) : (tensor<2x4xf32>) -> ()

    After (this weight is too small for BSR to pay; a big one at this density picks a shape):

        ^bb0(%arg0: tensor<2x4xf32>):
        %0 = "sparsec.constant"() <{value = dense<[[1.0, 0.0, 0.0, 2.0], [3.0, 0.0, 0.0, 4.0],
            [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]> : tensor<4x4xf32>}> : () -> tensor<4x4xf32>
        %1 = "sparsec.linear"(%arg0, %0) {sparsec.decision = {block_shape = "dense",
            predicted_speedup = 1.0 : f64,
            reason = "cost model (analytic): no shape beats dense by 1.1x"},
            sparsec.sparsity = {blocks = {
            "1x2" = {block_density = 0.625 : f64, fill = 0.5 : f64, nnzb = 5},
            "2x1" = {block_density = 0.375 : f64, fill = 0.833333 : f64, nnzb = 3}},
            density = 0.3125 : f64, nnz = 5, weight = "<inline>", zero_cols = 2,
            zero_heads = array<i64>, zero_rows = 1}}
            : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
        "func.return"(%1) : (tensor<2x4xf32>) -> ()
    """

    name = "block-shape-selection"
    block_shapes: tuple[str, ...] = option(DEFAULT_BLOCK_SHAPES, "candidate block shapes, RxC")
    force: str = option("", "one choice for every weight not above dense-above: RxC or dense")
    layers: tuple[str, ...] = option((), "per-weight choices GLOB=RxC|dense, first match wins")
    dense_above: float = option(0.5, "weights with a higher element density stay dense")
    min_speedup: float = option(1.1, "choose BSR only if predicted at least this much faster")
    cost_model: str = option("auto", "analytic, auto (cached calibration if any) or a JSON file")
    cpu: str = option("", "CPU whose cached calibration 'auto' looks for")

    def __post_init__(self) -> None:
        parse_block_shapes(self.block_shapes)
        if self.force:
            _check_choice(self.force, "force")
        self._overrides()

    def apply(self, module: Operation) -> None:
        model = load_cost_model(self.cost_model, self.cpu)
        overrides = self._overrides()
        candidates = parse_block_shapes(self.block_shapes)
        for op in linears(module):
            named = weight_of(op)
            if named is None:
                continue
            if SPARSITY_ATTR not in op.attributes:
                op.attributes[SPARSITY_ATTR] = analyze(op, candidates)
            choice = self._choose(op, named[0], overrides, candidates, model)
            op.attributes[DECISION_ATTR] = DictAttr(
                {
                    "block_shape": StringAttr(choice.block_shape),
                    "predicted_speedup": FloatAttr(float(f"{choice.speedup:.4g}"), f64),
                    "reason": StringAttr(choice.reason),
                }
            )

    def _overrides(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.layers:
            glob, sep, choice = item.rpartition("=")
            if not sep or not glob:
                raise PassError(f"layers entry '{item}' is not GLOB=RxC or GLOB=dense")
            pairs.append((glob, _check_choice(choice, f"layers entry '{item}'")))
        return pairs

    def _choose(
        self,
        op: Operation,
        weight_name: str,
        overrides: list[tuple[str, str]],
        candidates: tuple[tuple[int, int], ...],
        model: CostModel,
    ) -> Choice:
        for glob, choice in overrides:
            if fnmatch.fnmatchcase(weight_name, glob):
                return self._forced(op, choice, f"layers override {glob}", model)
        density = op.attributes[SPARSITY_ATTR]["density"].value
        if density > self.dense_above:
            return Choice(DENSE, 1.0, f"density {density:.3g} > dense-above {self.dense_above}")
        if self.force:
            return self._forced(op, _check_choice(self.force, "force"), "forced", model)
        return self._cheapest(op, candidates, model)

    @staticmethod
    def _forced(op: Operation, choice: str, reason: str, model: CostModel) -> Choice:
        if choice == DENSE:
            return Choice(DENSE, 1.0, reason)
        block = parse_block_shape(choice)
        n, k = weight_shape(op)
        speedup = model.predicted_speedup(n, k, block, stored_blocks(op, block))
        return Choice(choice, speedup, reason)

    def _cheapest(
        self, op: Operation, candidates: tuple[tuple[int, int], ...], model: CostModel
    ) -> Choice:
        n, k = weight_shape(op)
        speedups = {
            block: model.predicted_speedup(n, k, block, stored_blocks(op, block))
            for block in candidates
        }
        # Ties (e.g. an all-zero weight: every shape is free) go to the largest block: fewest
        # block rows to walk.
        best = max(candidates, key=lambda b: (speedups[b], b[0] * b[1], -candidates.index(b)))
        reason = f"cost model ({model.source})"
        if speedups[best] < self.min_speedup:
            return Choice(DENSE, 1.0, f"{reason}: no shape beats dense by {self.min_speedup}x")
        return Choice(format_block_shape(best), speedups[best], reason)


def read_decision(op: Operation) -> str | None:
    """The chosen block shape ("RxC" or "dense") of a linear, if selection has run."""
    decision = op.attributes.get(DECISION_ATTR)
    return decision["block_shape"].value if isinstance(decision, DictAttr) else None
