"""TVM's thread pool, set up to share the process and the machine with other work.

TVM reads its settings from the environment once, when its pool starts (the first parallel
kernel of the process), so they are set here before that:

- ``TVM_NUM_THREADS``: the pool's size (sparsec's ``--threads``).
- ``TVM_BIND_THREADS=0``: by default TVM pins each worker thread of its pool to one core.
  A pinned worker cannot move off a core that another process, or another runtime's pool in
  this process (PyTorch's OpenMP workers spin after every call), keeps busy, and every parallel
  kernel then waits at its barrier for the starved worker. Unpinned, the OS scheduler places
  the threads where there is room.

A value the user exported already is kept (``TVM_BIND_THREADS=1`` restores pinning).
"""

from __future__ import annotations

import os


def pool_size() -> int:
    """Threads TVM's pool has (or will have): ``TVM_NUM_THREADS``, else the usable cores."""
    configured = os.environ.get("TVM_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0))


def configure_thread_pool(threads: int | None = None) -> None:
    """Size TVM's pool (``threads``, when given) and leave its threads unpinned; call before the
    first kernel runs (later calls cannot change a pool that already started)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        os.environ["TVM_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TVM_BIND_THREADS", "0")
