"""TVM's thread pool: its size, set before the pool starts.

TVM reads ``TVM_NUM_THREADS`` once, when its pool starts (the first parallel kernel of the
process), so sparsec's ``--threads`` is written there before that.

TVM also pins each worker thread to one core (``TVM_BIND_THREADS``, on by default), which sparsec
keeps: on 2-core Zen 3, BERT-base pruned 90 % in 32x1 ran 7 % faster pinned than unpinned alone
(medians of 4 interleaved rounds, 37.0 vs 39.7 ms) and no slower right after a PyTorch call in
the same process, where unpinned workers made the following PyTorch call slower. What does distort
timings is two pools timed back to back: ``sparsec.timing.measure_side_by_side`` pauses before
each block so that the other pool's spinning workers have gone to sleep. ``TVM_BIND_THREADS=0``
unpins the workers (a machine where other processes keep cores busy may prefer it).
"""

from __future__ import annotations

import os
from pathlib import Path

CPU_TOPOLOGY = Path("/sys/devices/system/cpu")


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
