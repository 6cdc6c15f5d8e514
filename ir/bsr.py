"""The block-sparse-row (BSR) layout of `sparsec.bsr_linear` weights.

A weight ``W[N, K]`` (torch's [out, in]) with block shape ``R x C`` is cut
into ``ceil(N/R) x ceil(K/C)`` blocks; the last block row / column is padded
with zeros when R or C does not divide N or K. Only blocks holding a nonzero
are stored:

    data    [nnzb, R, C]       the blocks, row-major by (block row, block col)
    indices [nnzb]     int32   block column of each stored block
    indptr  [N/R + 1]  int32   blocks of block row i are data[indptr[i]:indptr[i+1]]

The conversion is exact: every nonzero is kept, nothing is rounded.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

_BLOCK_SHAPE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


def parse_block_shape(text: str) -> tuple[int, int]:
    """``"32x1"`` -> ``(32, 1)``; raises ValueError on anything else."""
    match = _BLOCK_SHAPE.match(text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ValueError(f"block shape '{text}' is not of the form RxC with R, C >= 1")
    return int(match[1]), int(match[2])


def format_block_shape(shape: tuple[int, int]) -> str:
    return f"{shape[0]}x{shape[1]}"


def padded_blocks(weight: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """The weight as ``[N/R, R, K/C, C]`` blocks, zero-padded to whole blocks."""
    rows, cols = block
    n, k = weight.shape
    pad_n, pad_k = -n % rows, -k % cols
    padded = np.pad(weight, ((0, pad_n), (0, pad_k))) if pad_n or pad_k else weight
    return padded.reshape((n + pad_n) // rows, rows, (k + pad_k) // cols, cols)


def block_mask(weight: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """``mask[i, j]`` is True when block (i, j) holds a nonzero."""
    return grouped_any(weight != 0, *block)


def grouped_any(mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """OR of every ``rows x cols`` group of a boolean mask (zero-padded to whole groups).

    Columns are OR-ed as whole strided slices and rows over a middle axis:
    numpy reduces a tiny innermost axis (``any(axis=-1)`` on groups of 4)
    some 20x slower.
    """
    n, k = mask.shape
    padded = np.pad(mask, ((0, -n % rows), (0, -k % cols))) if n % rows or k % cols else mask
    by_cols = padded if cols == 1 else np.logical_or.reduce([padded[:, i::cols]
                                                             for i in range(cols)])
    return by_cols.reshape(-1, rows, by_cols.shape[1]).any(axis=1) if rows > 1 else by_cols


class BSR(NamedTuple):
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    block: tuple[int, int]
    dense_shape: tuple[int, int]

    @property
    def nnzb(self) -> int:
        return int(self.indices.shape[0])


def dense_to_bsr(weight: np.ndarray, block: tuple[int, int]) -> BSR:
    """Exact BSR form of a 2-D weight (see the module docstring for the layout)."""
    if weight.ndim != 2:
        raise ValueError(f"BSR needs a 2-D weight, got shape {weight.shape}")
    blocks = padded_blocks(weight, block)
    mask = block_mask(weight, block)
    block_rows, block_cols = np.nonzero(mask)  # row-major order
    data = blocks.transpose(0, 2, 1, 3)[block_rows, block_cols]
    indptr = np.zeros(mask.shape[0] + 1, dtype=np.int32)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    return BSR(
        np.ascontiguousarray(data, dtype=weight.dtype),
        block_cols.astype(np.int32),
        indptr,
        block,
        (int(weight.shape[0]), int(weight.shape[1])),
    )


def bsr_to_dense(bsr: BSR) -> np.ndarray:
    """The dense ``[N, K]`` weight a BSR form stands for."""
    rows, cols = bsr.block
    n, k = bsr.dense_shape
    block_rows = len(bsr.indptr) - 1
    block_cols = -(-k // cols)
    blocks = np.zeros((block_rows, block_cols, rows, cols), dtype=bsr.data.dtype)
    row_of_block = np.repeat(np.arange(block_rows), np.diff(bsr.indptr))
    blocks[row_of_block, bsr.indices] = bsr.data
    dense = blocks.transpose(0, 2, 1, 3).reshape(block_rows * rows, block_cols * cols)
    return dense[:n, :k]
