"""Shared pieces of the reports sparsec commands print: number formats, tables, block plots.

Plots use matplotlib's object API with the Agg canvas (no pyplot, no global
backend state) and are written atomically: the PNG appears whole or not at all.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from rich.table import Table
from rich.text import Text

from sparsec.atomic import atomic_path

# Longest side, in cells, of a plotted mask: bigger masks are shown as the block density of
# groups of neighbouring blocks, so a 24x3072 mask stays readable in a small panel.
MAX_PLOT_CELLS = 128


def percent(fraction: float) -> str:
    """``0.1234`` -> ``"12.3%"``."""
    return f"{100 * fraction:.1f}%"


def speedup_text(speedup: float) -> str:
    """``6.123`` -> ``"6.12x"``; an infinite speedup (nothing left to compute) is ``"inf"``."""
    return f"{speedup:.2f}x" if math.isfinite(speedup) else "inf"


def json_number(value: float) -> float | None:
    """``value`` for JSON output, which has no infinity: ``None`` stands for it."""
    return value if math.isfinite(value) else None


def table(title: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]],
          caption: str | None = None) -> Table:
    """A rich table of ``columns`` (header, justify) pairs; cells never wrap: names stay whole."""
    result = Table(title=title, caption=caption, caption_justify="left")
    for header, justify in columns:
        result.add_column(header, justify=justify, no_wrap=True)
    for row in rows:
        result.add_row(*(Text(cell) for cell in row))  # names are text, not rich markup
    return result


class MaskPanel(NamedTuple):
    """One subplot: a title and a boolean block mask (block rows x block columns)."""

    title: str
    mask: np.ndarray


def pooled_density(mask: np.ndarray, max_cells: int = MAX_PLOT_CELLS) -> np.ndarray:
    """The fraction of True entries in groups of ``mask`` cells, at most ``max_cells`` a side."""
    starts = [np.arange(0, size, math.ceil(size / max_cells)) for size in mask.shape]
    values = mask.astype(np.float64)
    counts = np.ones_like(values)
    for axis, index in enumerate(starts):
        values = np.add.reduceat(values, index, axis=axis)
        counts = np.add.reduceat(counts, index, axis=axis)
    return values / counts


def write_mask_plot(path: str | os.PathLike, panels: Sequence[MaskPanel], title: str) -> None:
    """A grid of block-density heatmaps, one per panel, written atomically as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.4 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    image = None
    for ax, panel in zip(axes, panels, strict=False):
        rows, cols = panel.mask.shape  # axes count blocks even when cells pool several
        image = ax.imshow(pooled_density(panel.mask), cmap="viridis", vmin=0.0, vmax=1.0,
                          aspect="auto", interpolation="nearest", extent=(0, cols, rows, 0))
        ax.set_title(panel.title, fontsize=8)
        ax.set_xlabel("input block column", fontsize=7)
        ax.set_ylabel("output block row", fontsize=7)
        ax.tick_params(labelsize=6)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    figure.suptitle(title, fontsize=10)
    figure.colorbar(image, ax=list(axes), shrink=0.6, label="block density")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue())
