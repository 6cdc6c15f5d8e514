"""Wall-clock timing for benchmarks and the demo: warm-up, then the median of repeats.

Two runtimes timed in one process distort each other through their thread pools: PyTorch's
OpenMP workers spin for a while after every call, TVM's workers spin between kernels, and each
pool's threads compete for the same cores. ``measure_side_by_side`` therefore times the
runtimes in alternating rounds with an idle pause before each block of calls (long enough for
the other pool's workers to stop spinning and sleep), and pools the samples of all rounds.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Longer than the spin phase of libgomp (about 300k iterations) and of TVM's pool, so that the
# pool of the runtime timed before has gone to sleep when the next one starts.
QUIET_PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class Timing:
    median: float  # seconds
    spread: float  # (max - min) / median over the repeats

    def __str__(self) -> str:
        return f"{self.median * 1e3:.1f} ms (±{self.spread / 2:.0%})"

    @classmethod
    def of(cls, samples: list[float]) -> Timing:
        """The median and spread of ``samples`` (seconds)."""
        median = statistics.median(samples)
        return cls(median, (max(samples) - min(samples)) / median if median else 0.0)


def measure(fn: Callable[[], object], repeat: int = 10, warmup: int = 2) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times; the median and spread."""
    return Timing.of(_samples(fn, repeat, warmup))


def measure_side_by_side(runners: Mapping[str, Callable[[], object]], repeat: int = 10,
                         rounds: int = 3, pause: float = QUIET_PAUSE_SECONDS
                         ) -> dict[str, Timing]:
    """Time every runner in ``rounds`` alternating blocks of calls, each block after an idle
    ``pause`` and one untimed call; ``repeat`` timed calls per runner in all."""
    if repeat < 1 or rounds < 1:
        raise ValueError(f"repeat and rounds must be at least 1, got {repeat} and {rounds}")
    rounds = min(rounds, repeat)
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for index in range(rounds):
        calls = repeat // rounds + (index < repeat % rounds)
        for name, fn in runners.items():
            time.sleep(pause)
            samples[name] += _samples(fn, calls, warmup=1)
    return {name: Timing.of(times) for name, times in samples.items()}


def side_by_side_note(threads: int, rounds: int = 3) -> str:
    """How ``measure_side_by_side`` timed, for the reader of the figures."""
    return (f"(every runtime on {threads} thread{'s' if threads > 1 else ''}, timed in {rounds} "
            f"alternating rounds, each after {QUIET_PAUSE_SECONDS:g} s idle so that no other "
            "pool is still spinning)")


def busy_machine_warning(threads: int) -> str | None:
    """A warning when other work already keeps the cores busy (timings then mislead: an
    OpenMP pool waiting at every barrier for a descheduled thread slows down most)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cores = os.cpu_count() or 1
    if load <= cores:
        return None
    return (f"warning: load average {load:.1f} on {cores} cores: other work competes with the "
            f"{threads} timed threads, so these timings (PyTorch's most) are unreliable")


def _samples(fn: Callable[[], object], repeat: int, warmup: int) -> list[float]:
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples
