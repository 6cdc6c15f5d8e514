"""TVM's pool must not pin its threads: after sparsec's first parallel kernel every thread of the
process may still run on every core the process could use before."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROGRAM = """
import os
from sparsec.threads import configure_thread_pool
{configure}
import numpy as np
from sparsec.codegen.bsr_linear import build_bsr_linear
from sparsec.codegen.target import parse_target
from sparsec.ir.bsr import dense_to_bsr

def cores(tid):
    with open(f"/proc/{{os.getpid()}}/task/{{tid}}/status") as status:
        return status.read().split("Cpus_allowed_list:")[1].split()[0]

before = cores(os.getpid())
kernel = build_bsr_linear(16, 64, 32, (8, 1), parse_target("llvm -mcpu=x86-64", num_threads=2))
weight = np.ones((64, 32), np.float32)
kernel(np.ones((16, 32), np.float32), dense_to_bsr(weight, (8, 1)), np.zeros(64, np.float32))
threads = os.listdir(f"/proc/{{os.getpid()}}/task")
assert len(threads) >= 2  # the pool started
print(all(cores(tid) == before for tid in threads))
"""


def threads_keep_their_cores(configure: str, env: dict[str, str]) -> bool:
    done = subprocess.run([sys.executable, "-c", PROGRAM.format(configure=configure)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


@pytest.fixture
def env():
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores to see pinning")
    return {k: v for k, v in os.environ.items() if not k.startswith("TVM_")}


def test_configured_pool_leaves_every_thread_on_every_core(env):
    assert threads_keep_their_cores("configure_thread_pool(2)", env)


def test_tvm_default_pins_its_workers(env):
    """What configure_thread_pool prevents (TVM's own default)."""
    assert not threads_keep_their_cores("os.environ['TVM_NUM_THREADS'] = '2'", env)


def test_user_choice_is_kept(env):
    assert not threads_keep_their_cores("configure_thread_pool(2)",
                                           {**env, "TVM_BIND_THREADS": "1"})
