"""Predicted run time of the linear kernels the code generator emits.

``block-shape-selection`` asks this model, per weight, how long the dense
GEMM and the BSR kernel of each block shape would take, and keeps the
fastest. Two sources:

- ``analytic``: throughput relative to the dense GEMM, per block shape, from
  how the generated loop nest vectorizes it (block rows that fill a vector
  run at near-dense speed; narrow blocks vectorize over tokens and pay for
  index loads and scattered stores);
- ``calibrated``: the same form with numbers measured on this CPU by
  ``sparsec calibrate`` (codegen measures its own kernels), cached as JSON
  under ``~/.cache/sparsec`` keyed by CPU name and sparsec version.

The model never imports tvm: calibration writes the file, the pass reads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sparsec.ir.bsr import parse_block_shape

from .pass_base import PassError

VERSION = "0.1.2"  # bump when the emitted kernels change enough to invalidate calibrations

# Float32 lanes of one vector register; the analytic model assumes AVX-512.
DEFAULT_VECTOR_LANES = 16


@dataclass(frozen=True)
class ShapeCost:
    """BSR kernel cost of one block shape, in units of one dense multiply-add per token.

    ``efficiency`` is the kernel's FLOP rate on stored block elements as a
    fraction of the dense GEMM's; ``block_overhead`` is the extra time per
    stored block; ``fixed_cost`` is the time per input plus output feature
    that does not depend on the sparsity (layout changes such as the
    transposes of the tokens-vectorized kernels).
    """

    efficiency: float
    block_overhead: float = 0.0
    fixed_cost: float = 0.0


def analytic_shape_cost(rows: int, cols: int, lanes: int = DEFAULT_VECTOR_LANES) -> ShapeCost:
    """The cost of the loop nest codegen generates for ``rows x cols`` blocks, by family.

    Fitted to the kernels' time per stored element at 128 tokens, 50-90 % sparsity
    (``benchmarks/kernel_speed.py``; both ISAs within about 30 %: Zen 4 AVX-512 and Zen 3 AVX2):
    blocks whose rows fill a vector cost about one dense multiply-add per element; one-row
    blocks about two (each multiply-add loads its own vector of tokens, a weight element is
    shared by nothing; 1x1 swept in K slices, 1.9), or 1.7 with 4+ columns (swept by block
    column: a column's tokens stay in L1 while every block row of a group reads them); rows in
    between share every vector of tokens they load.
    """
    fixed = 8.0  # output and block-row walk, per input + output feature, whatever the sparsity
    if rows >= lanes:  # broadcast-FMA over block rows, like the dense kernel
        return ShapeCost(1.0, block_overhead=2.0, fixed_cost=fixed)
    if rows == 1:  # 4+ columns: by block column (0.55-0.7); 1x1: in K slices (0.45 x 1.15)
        return ShapeCost(0.6 if cols >= 4 else 0.52, block_overhead=0.5, fixed_cost=fixed)
    reuse = min(1.0, rows * cols / lanes)
    return ShapeCost(0.7 + 0.3 * reuse, block_overhead=0.5, fixed_cost=fixed)


@dataclass(frozen=True)
class CostModel:
    """Seconds-free cost model: times are in dense multiply-adds per token (dense = N*K)."""

    source: str = "analytic"
    lanes: int = DEFAULT_VECTOR_LANES
    shapes: dict[str, ShapeCost] = field(default_factory=dict)

    def shape_cost(self, block: tuple[int, int]) -> ShapeCost:
        key = f"{block[0]}x{block[1]}"
        return self.shapes.get(key) or analytic_shape_cost(*block, lanes=self.lanes)

    @staticmethod
    def dense_cost(n: int, k: int) -> float:
        return float(n * k)

    def bsr_cost(self, n: int, k: int, block: tuple[int, int], nnzb: int) -> float:
        cost = self.shape_cost(block)
        per_block = block[0] * block[1] / cost.efficiency + cost.block_overhead
        return cost.fixed_cost * (n + k) + nnzb * per_block

    def predicted_speedup(self, n: int, k: int, block: tuple[int, int], nnzb: int) -> float:
        """Dense time over BSR time (inf when nothing costs anything)."""
        bsr = self.bsr_cost(n, k, block, nnzb)
        return float("inf") if bsr == 0 else self.dense_cost(n, k) / bsr

    def to_json(self) -> str:
        return json.dumps(
            {"version": VERSION, **asdict(self)}, indent=2, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str, origin: str) -> CostModel:
        try:
            raw = json.loads(text)
            shapes = {}
            for key, value in raw["shapes"].items():
                parse_block_shape(key)
                shapes[key] = ShapeCost(float(value["efficiency"]), float(value["block_overhead"]),
                                        float(value.get("fixed_cost", 0.0)))
                cost = shapes[key]
                if not cost.efficiency > 0 or cost.block_overhead < 0 or cost.fixed_cost < 0:
                    raise ValueError(f"shape {key} needs efficiency > 0, block_overhead >= 0 "
                                     "and fixed_cost >= 0")
            if int(raw["lanes"]) < 1:
                raise ValueError(f"lanes must be >= 1, got {raw['lanes']}")
            return cls(str(raw["source"]), int(raw["lanes"]), shapes)
        except KeyError as err:
            raise PassError(f"{origin}: not a sparsec cost model (missing key {err})") from None
        except (ValueError, TypeError, AttributeError) as err:
            raise PassError(f"{origin}: not a sparsec cost model ({err})") from None


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "sparsec"


def calibration_path(cpu: str) -> Path:
    """Where the calibration of ``cpu`` for this sparsec version is cached."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in cpu) or "host"
    return cache_dir() / f"cost-model-{safe}-v{VERSION}.json"


def load_cost_model(spec: str, cpu: str = "") -> CostModel:
    """``analytic``, ``auto`` (the cached calibration of ``cpu`` if any), or a JSON path."""
    if spec == "analytic":
        return CostModel()
    if spec == "auto":
        path = calibration_path(cpu or "host")
        return CostModel.from_json(_read(path), str(path)) if path.is_file() else CostModel()
    path = Path(spec)
    if not path.is_file():
        raise PassError(f"cost model file '{spec}' does not exist")
    return CostModel.from_json(_read(path), spec)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PassError(f"cannot read cost model file '{path}': {err}") from None
