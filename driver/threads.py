"""Thread pools: the size of TVM's, set before it starts; how long PyTorch's OpenMP threads spin.

TVM reads ``TVM_NUM_THREADS`` once, when its pool starts (the first parallel kernel of the
process), so sparsec's ``--threads`` is written there before that.

TVM also pins each worker thread to one core (``TVM_BIND_THREADS``, on by default), which sparsec
keeps: on 2-core Zen 3, BERT-base pruned 90 % in 32x1 ran 7 % faster pinned than unpinned alone
(medians of 4 interleaved rounds, 37.0 vs 39.7 ms) and no slower right after a PyTorch call in
the same process, where unpinned workers made the following PyTorch call slower. What does distort
timings is two pools timed back to back: ``sparsec.timing.measure_side_by_side`` pauses before
each block so that the other pool's spinning workers have gone to sleep. ``TVM_BIND_THREADS=0``
unpins the workers (a machine where other processes keep cores busy may prefer it).

PyTorch's OpenMP runtime (GNU libgomp, loaded by ``import torch`` and by ``import tvm``) lets its
idle workers spin for 300,000 iterations after every parallel region: 8-10 ms of a core after
each PyTorch call on Zen 4, during which a sparsec call that follows shares a core with the
spinner (BERT-base 90 % 32x1: 26-34 ms right after a PyTorch call instead of 21-27 ms). libgomp
reads ``GOMP_SPINCOUNT`` once, when it loads, so ``import sparsec`` sets it to 30,000 (about
1 ms) unless the user set it or ``OMP_WAIT_POLICY``, or libgomp is loaded already: sparsec then
ran as fast after a PyTorch call as alone, and PyTorch eager no slower (BERT-base, 5 interleaved
processes each). ``OMP_WAIT_POLICY=PASSIVE`` stops the spinning too, but slowed PyTorch eager
by 5-20 %.
"""

from __future__ import annotations

import os
from pathlib import Path

CPU_TOPOLOGY = Path("/sys/devices/system/cpu")
OPENMP_SETTINGS = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
SHORT_SPIN = "30000"  # libgomp spin iterations: about 1 ms on Zen 4 (its default: 300,000)


def pool_size() -> int:
    """Threads TVM's pool has (or will have, once ``configure_thread_pool`` ran):
    ``TVM_NUM_THREADS``, else one per physical core this process may run on."""
    configured = os.environ.get("TVM_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return physical_cores()


def physical_cores() -> int:
    """Cores among the CPUs this process may run on, SMT siblings counted once (the usable CPU
    count where the topology cannot be read)."""
    cpus = os.sched_getaffinity(0)
    cores = set()
    for cpu in cpus:
        topology = CPU_TOPOLOGY / f"cpu{cpu}" / "topology"
        try:
            cores.add(((topology / "physical_package_id").read_text().strip(),
                       (topology / "core_id").read_text().strip()))
        except OSError:
            return len(cpus)
    return max(1, len(cores))


def configure_thread_pool(threads: int | None = None) -> None:
    """Give TVM's pool ``threads`` threads, by default ``pool_size()``; call before the first
    kernel runs (a pool that already started keeps its size).

    Left alone, TVM sizes its pool at half the logical CPUs on x86 (it assumes two SMT threads
    per core): on a VM whose 2 vCPUs are 2 cores that is one thread, and BERT-base ran at the
    speed of one core (53 ms instead of 29 ms, Zen 3, 90 % 32x1).
    """
    if threads is None:
        os.environ.setdefault("TVM_NUM_THREADS", str(pool_size()))
        return
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    os.environ["TVM_NUM_THREADS"] = str(threads)


def shorten_openmp_spin() -> None:
    """Set ``GOMP_SPINCOUNT`` to ``SHORT_SPIN`` for the libgomp this process will load, unless
    the user chose a spin setting or libgomp is loaded already (it has read its settings)."""
    if not any(name in os.environ for name in OPENMP_SETTINGS) and not openmp_loaded():
        os.environ["GOMP_SPINCOUNT"] = SHORT_SPIN


def openmp_loaded(maps: Path = Path("/proc/self/maps")) -> bool:
    """Whether GNU libgomp is mapped into this process (False where that cannot be read)."""
    try:
        return "libgomp" in maps.read_text()
    except OSError:
        return False


def spinning_openmp_warning() -> str | None:
    """A one-line warning when libgomp was loaded before sparsec could shorten its spin, with
    no spin setting of the user's: PyTorch calls then slow the sparsec calls that follow."""
    if any(name in os.environ for name in OPENMP_SETTINGS) or not openmp_loaded():
        return None
    return ("PyTorch's OpenMP workers spin for ~10 ms after each PyTorch call and slow the "
            "sparsec call that follows: import sparsec before torch or tvm, or set "
            f"GOMP_SPINCOUNT={SHORT_SPIN} before starting Python")
