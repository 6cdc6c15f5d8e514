"""Wall-clock timing for benchmarks and the demo: warm-up, then the median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median: float  # seconds
    spread: float  # (max - min) / median over the repeats

    def __str__(self) -> str:
        return f"{self.median * 1e3:.1f} ms (±{self.spread / 2:.0%})"


def measure(fn: Callable[[], object], repeat: int = 10, warmup: int = 2) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; the median and spread."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    return Timing(median, (max(samples) - min(samples)) / median if median else 0.0)
