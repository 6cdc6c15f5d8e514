"""`sparsec analyze`: how sparse is each linear weight of a model, and which block shape fits it?

    sparsec analyze path/to/hf-model
    sparsec analyze model.pt2 --block-shapes 32x1,16x1,1x1 --layer '*.attention.*=dense'
    sparsec analyze model.pt2 --json > sparsity.json
    sparsec analyze model.pt2 --plot blocks.png                 # says where it wrote the PNG

Imports the model, runs ``sparsity-analysis`` and ``block-shape-selection``,
and prints one row per linear: density, structured zeros, the three block
shapes with the best predicted speedup, and the chosen one. The summary's
speedup is the cost model's: the dense time of all linears together over
their time with the chosen kernels. Bad input is one ``error:`` line, exit 1.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from sparsec.commands.import_model import import_with_status
from sparsec.errors import UserError, reported_errors
from sparsec.ir.bsr import block_mask, parse_block_shape
from sparsec.ir.core import Operation
from sparsec.ir.dialects.sparsec import Linear
from sparsec.options import (
    DEFAULT_BLOCK_SHAPES_TEXT,
    AllowMissingWeightsOption,
    AllowPickleOption,
    BatchOption,
    BlockShapeOption,
    BlockShapesOption,
    CostModelOption,
    DenseAboveOption,
    LayerOption,
    ModelArgument,
    SeqLenOption,
    size_value,
)
from sparsec.passes import PassError, PassManager
from sparsec.passes.block_shape_selection import DECISION_ATTR, DENSE, BlockShapeSelection
from sparsec.passes.cost_model import CostModel, load_cost_model
from sparsec.passes.sparsity_analysis import (
    SPARSITY_ATTR,
    SparsityAnalysis,
    linears,
    weight_of,
)
from sparsec.report import (
    MaskPanel,
    json_number,
    percent,
    speedup_text,
    table,
    write_mask_plot,
)

BEST_SHAPES = 3  # block shapes listed per layer
MAX_PLOTTED = 12  # weights drawn by --plot


@dataclass(frozen=True)
class ShapeReport:
    """One candidate block shape of one weight."""

    block_shape: str
    block_density: float
    fill: float
    nnzb: int
    speedup: float  # predicted, over dense


@dataclass(frozen=True)
class LayerReport:
    """What the passes found for one linear weight."""

    weight: str
    shape: tuple[int, int]  # [out, in]
    density: float
    nnz: int
    zero_rows: int
    zero_cols: int
    zero_heads: tuple[int, ...]
    shapes: tuple[ShapeReport, ...]  # best predicted speedup first
    choice: str  # "RxC" or "dense"
    speedup: float
    reason: str
    data: np.ndarray = field(repr=False, compare=False)

    @property
    def dense_cost(self) -> float:
        return float(self.shape[0] * self.shape[1])

    @property
    def chosen_cost(self) -> float:
        return self.dense_cost / self.speedup  # 0 for an all-zero weight (infinite speedup)


def layer_report(op: Operation, model: CostModel, candidates: list[str]) -> LayerReport:
    """The report of a linear that both passes have annotated."""
    sparsity, decision = op.attributes[SPARSITY_ATTR], op.attributes[DECISION_ATTR]
    n, k = (int(d) for d in Linear(op).weight.type.shape)
    shapes = []
    for key, entry in sparsity["blocks"].as_dict().items():
        nnzb = int(entry["nnzb"].value)
        speedup = model.predicted_speedup(n, k, parse_block_shape(key), nnzb)
        shapes.append(ShapeReport(key, entry["block_density"].value, entry["fill"].value, nnzb,
                                  speedup))
    shapes.sort(key=lambda s: (-s.speedup, candidates.index(s.block_shape)))
    named = weight_of(op)
    assert named is not None  # the analysis only annotates constant weights
    return LayerReport(
        weight=sparsity["weight"].value,
        shape=(n, k),
        density=sparsity["density"].value,
        nnz=int(sparsity["nnz"].value),
        zero_rows=int(sparsity["zero_rows"].value),
        zero_cols=int(sparsity["zero_cols"].value),
        zero_heads=tuple(int(h) for h in sparsity["zero_heads"]),
        shapes=tuple(shapes),
        choice=decision["block_shape"].value,
        speedup=decision["predicted_speedup"].value,
        reason=decision["reason"].value,
        data=named[1],
    )


def summary(layers: list[LayerReport]) -> dict:
    """Totals over all linears: element density and the predicted speedup of them together."""
    elements = sum(layer.shape[0] * layer.shape[1] for layer in layers)
    nnz = sum(layer.nnz for layer in layers)
    chosen = sum(layer.chosen_cost for layer in layers)
    dense = sum(layer.dense_cost for layer in layers)
    bsr = sum(layer.choice != DENSE for layer in layers)
    return {
        "linears": len(layers),
        "bsr_linears": bsr,
        "dense_linears": len(layers) - bsr,
        "weights": elements,
        "nnz": nnz,
        "density": nnz / elements if elements else 0.0,
        "predicted_speedup": dense / chosen if chosen else (math.inf if dense else 1.0),
    }


def analyze_module(module: Operation, analysis: SparsityAnalysis,
                   selection: BlockShapeSelection, model: CostModel) -> list[LayerReport]:
    """Run both passes on ``module`` and report every linear they annotated, in program order."""
    PassManager([analysis, selection]).run(module)
    candidates = list(analysis.block_shapes)
    return [layer_report(op, model, candidates) for op in linears(module)
            if DECISION_ATTR in op.attributes]


# -- output -------------------------------------------------------------------------------


def layer_json(layer: LayerReport) -> dict:
    return {
        "weight": layer.weight,
        "shape": list(layer.shape),
        "density": layer.density,
        "nnz": layer.nnz,
        "zero_rows": layer.zero_rows,
        "zero_cols": layer.zero_cols,
        "zero_heads": list(layer.zero_heads),
        "blocks": {
            s.block_shape: {"block_density": s.block_density, "fill": s.fill, "nnzb": s.nnzb,
                            "predicted_speedup": json_number(s.speedup)}
            for s in layer.shapes
        },
        "best": [s.block_shape for s in layer.shapes[:BEST_SHAPES]],
        "decision": {"block_shape": layer.choice, "predicted_speedup": json_number(layer.speedup),
                     "reason": layer.reason},
    }


def report_json(model: str, layers: list[LayerReport], settings: dict, timing: dict) -> str:
    """The whole report as JSON with stable keys (an infinite speedup is ``null``)."""
    totals = summary(layers)
    totals["predicted_speedup"] = json_number(totals["predicted_speedup"])
    document = {
        "model": model,
        "settings": settings,
        "layers": [layer_json(layer) for layer in layers],
        "summary": totals,
        "timing": timing,
    }
    return json.dumps(document, indent=2)


def _heads(heads: tuple[int, ...]) -> str:
    return ",".join(map(str, heads)) if heads else "-"


def _shape_cell(shape: ShapeReport) -> str:
    return f"{shape.block_shape} {percent(shape.block_density)} {speedup_text(shape.speedup)}"


def print_report(console: Console, model: str, layers: list[LayerReport], timing: dict) -> None:
    """The per-layer table, the summary line, and the time the analysis took."""
    ranks = ["best", "2nd", "3rd"][:BEST_SHAPES]
    columns = [("weight", "left"), ("shape", "right"), ("density", "right"),
               ("zero rows", "right"), ("zero cols", "right"), ("zero heads", "left"),
               *[(f"{rank} (blocks, speedup)", "left") for rank in ranks], ("chosen", "left")]
    rows = [
        [layer.weight, f"{layer.shape[0]}x{layer.shape[1]}", percent(layer.density),
         str(layer.zero_rows), str(layer.zero_cols), _heads(layer.zero_heads),
         *[_shape_cell(s) for s in layer.shapes[:BEST_SHAPES]],
         *[""] * (BEST_SHAPES - len(layer.shapes[:BEST_SHAPES])),
         layer.choice if layer.choice == DENSE else f"{layer.choice} {speedup_text(layer.speedup)}"]
        for layer in layers
    ]
    console.print(table(f"Sparsity of the linear weights of {model}", columns, rows))
    totals = summary(layers)
    console.print(
        f"{totals['linears']} linears ({totals['bsr_linears']} BSR, {totals['dense_linears']} "
        f"dense), {totals['weights']:,} weights, overall density {percent(totals['density'])}; "
        f"predicted speedup of all linears together: "
        f"{speedup_text(totals['predicted_speedup'])}",
        markup=False,
    )
    console.print(f"analysis took {timing['analysis_seconds']:.2f} s "
                  f"(model import {timing['import_seconds']:.2f} s)")


def plot_blocks(path: str, model: str, layers: list[LayerReport]) -> str:
    """Heatmaps of the chosen block masks (weights chosen for BSR first, then dense ones);
    returns the line that says where they went."""
    if not layers:
        raise UserError("--plot: the model has no linear with a constant weight to draw")
    ordered = [la for la in layers if la.choice != DENSE] + [la for la in layers
                                                             if la.choice == DENSE]
    panels = []
    for layer in ordered[:MAX_PLOTTED]:
        block = (1, 1) if layer.choice == DENSE else parse_block_shape(layer.choice)
        mask = block_mask(layer.data, block)
        label = "dense (1x1 mask)" if layer.choice == DENSE else layer.choice
        panels.append(MaskPanel(f"{layer.weight}\n{label}: {percent(mask.mean())} of blocks",
                                mask))
    shown = f"{len(panels)} of {len(layers)} weights" if len(layers) > len(panels) else "weights"
    name = Path(model).name or model
    write_mask_plot(path, panels, f"{name}: block density of the chosen shapes ({shown})")
    return f"wrote the block masks of {len(panels)} of {len(layers)} weights to {path}"


# -- the command --------------------------------------------------------------------------


def _check_plot_path(plot: str) -> None:
    """Fail before the (slow) import, not after it, when the PNG cannot be written."""
    if not plot.lower().endswith(".png"):
        raise UserError(f"--plot: '{plot}' must be a .png file")
    if not Path(plot).absolute().parent.is_dir():
        raise UserError(f"--plot: folder '{Path(plot).absolute().parent}' does not exist")
    import matplotlib  # noqa: F401  (a missing package fails now, not after the import)


def _host_cpu() -> str:
    """This machine's CPU name, whose calibration (`sparsec calibrate`) "auto" looks for."""
    from sparsec.codegen.target import host_cpu

    return host_cpu()


def _passes(block_shapes: str, force: str, layer: list[str], dense_above: float,
            cost_model: str) -> tuple[SparsityAnalysis, BlockShapeSelection, CostModel]:
    """The two passes and the cost model, checked before the (slow) model import."""
    shapes = tuple(s.strip() for s in block_shapes.split(",") if s.strip())
    if not shapes:
        raise UserError("--block-shapes: give at least one block shape RxC")
    try:
        analysis = SparsityAnalysis(block_shapes=shapes)
        cpu = _host_cpu() if cost_model == "auto" else ""
        selection = BlockShapeSelection(block_shapes=shapes, force=force, layers=tuple(layer),
                                        dense_above=dense_above, cost_model=cost_model, cpu=cpu)
        return analysis, selection, load_cost_model(cost_model, cpu)
    except PassError as err:
        raise UserError(f"bad option: {err}") from None


def analyze_command(
    model: ModelArgument,
    block_shapes: BlockShapesOption = DEFAULT_BLOCK_SHAPES_TEXT,
    force: BlockShapeOption = "",
    layer: LayerOption = None,
    dense_above: DenseAboveOption = 0.5,
    cost_model: CostModelOption = "auto",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON instead of the table.")
    ] = False,
    plot: Annotated[
        str | None,
        typer.Option("--plot", metavar="FILE.png",
                     help="Also draw the chosen block masks into this PNG file."),
    ] = None,
    batch: BatchOption = None,
    seq_len: SeqLenOption = None,
    allow_pickle: AllowPickleOption = False,
    allow_missing_weights: AllowMissingWeightsOption = False,
) -> None:
    """Measure the sparsity of every linear weight and the block shape each would use."""
    with reported_errors():
        if plot is not None:
            _check_plot_path(plot)
        analysis, selection, costs = _passes(block_shapes, force, layer or [], dense_above,
                                             cost_model)
        with Console(stderr=True).status("Starting") as status:
            start = time.perf_counter()
            module = import_with_status(model, status, batch=size_value(batch),
                                        seq_len=size_value(seq_len),
                                        allow_pickle=allow_pickle,
                                        allow_missing_weights=allow_missing_weights)
            imported = time.perf_counter()
            status.update("Analysing the weights...")
            layers = analyze_module(module, analysis, selection, costs)
            timing = {"import_seconds": round(imported - start, 3),
                      "analysis_seconds": round(time.perf_counter() - imported, 3)}
            plotted = None
            if plot is not None:
                status.update("Drawing the block masks...")
                plotted = plot_blocks(plot, model, layers)
        if as_json:
            settings = {"block_shapes": list(analysis.block_shapes), "force": force,
                        "layers": list(layer or []), "dense_above": dense_above,
                        "cost_model": costs.source}
            sys.stdout.write(report_json(model, layers, settings, timing) + "\n")
        else:
            console = Console() if sys.stdout.isatty() else Console(width=240)
            print_report(console, model, layers, timing)
        if plotted is not None:  # on stderr with --json, which keeps stdout one JSON document
            print(plotted, file=sys.stderr if as_json else sys.stdout)


def register(app: typer.Typer) -> None:
    """Add the `analyze` command to the CLI."""
    app.command("analyze")(analyze_command)
