"""Timing helpers: side-by-side rounds alternate the runtimes, and a loaded machine is named."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sparsec import timing
from sparsec.timing import Timing, busy_machine_warning, measure, measure_side_by_side


def test_side_by_side_alternates_blocks_and_pools_every_round():
    calls: list[str] = []
    runners = {name: (lambda name=name: calls.append(name)) for name in ("torch", "sparsec")}
    result = measure_side_by_side(runners, repeat=7, rounds=3, pause=0.0)
    assert set(result) == {"torch", "sparsec"}
    # Each block is one untimed call plus its share of the 7 timed calls: 3, 2, 2.
    blocks = [("torch", 4), ("sparsec", 4), ("torch", 3), ("sparsec", 3), ("torch", 3),
              ("sparsec", 3)]
    assert calls == [name for name, count in blocks for _ in range(count)]


def test_side_by_side_pauses_before_every_block(monkeypatch):
    pauses: list[float] = []
    monkeypatch.setattr(timing.time, "sleep", pauses.append)
    measure_side_by_side({"a": lambda: None, "b": lambda: None}, repeat=2, rounds=2, pause=0.5)
    assert pauses == [0.5] * 4


@pytest.mark.parametrize(("repeat", "rounds"), [(0, 1), (1, 0)])
def test_side_by_side_needs_calls(repeat, rounds):
    with pytest.raises(ValueError, match="at least 1"):
        measure_side_by_side({"a": lambda: None}, repeat=repeat, rounds=rounds, pause=0.0)


def test_timing_of_samples():
    assert Timing.of([1.0, 2.0, 4.0]) == Timing(2.0, 1.5)
    assert measure(lambda: None, repeat=3).median >= 0


def test_busy_machine_is_named(monkeypatch):
    monkeypatch.setattr(timing.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (3.5, 1.0, 1.0))
    assert busy_machine_warning(2) == (
        "warning: load average 3.5 on 2 cores: other work competes with the 2 timed threads, "
        "so these timings (PyTorch's most) are unreliable")
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (1.5, 1.0, 1.0))
    assert busy_machine_warning(2) is None


def test_thread_pool_size(monkeypatch):
    from sparsec.threads import configure_thread_pool, physical_cores, pool_size

    monkeypatch.delenv("TVM_NUM_THREADS", raising=False)
    assert pool_size() == physical_cores() <= len(timing.os.sched_getaffinity(0))
    configure_thread_pool(3)
    assert timing.os.environ["TVM_NUM_THREADS"] == "3" and pool_size() == 3
    configure_thread_pool(None)
    assert pool_size() == 3
    with pytest.raises(ValueError, match="at least 1"):
        configure_thread_pool(0)


def test_physical_cores_count_smt_siblings_once(monkeypatch, tmp_path):
    from sparsec import threads

    for cpu, core in enumerate([0, 0, 1, 1, 2]):  # two cores with two threads each, one alone
        topology = tmp_path / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text("0\n")
        (topology / "core_id").write_text(f"{core}\n")
    monkeypatch.setattr(threads, "CPU_TOPOLOGY", tmp_path)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    assert threads.physical_cores() == 3
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {1, 4})
    assert threads.physical_cores() == 2
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {4, 5})  # cpu5 unreadable
    assert threads.physical_cores() == 2


def test_default_pool_has_a_thread_per_core():
    """TVM alone would size its pool at half the logical CPUs (one thread on a 2-vCPU VM)."""
    pytest.importorskip("tvm")
    code = ("import tvm; from sparsec.threads import configure_thread_pool, pool_size; "
            "configure_thread_pool(); "
            "print(tvm.get_global_func('runtime.NumThreads')(), pool_size())")
    env = {k: v for k, v in timing.os.environ.items() if k != "TVM_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    from sparsec.threads import physical_cores

    assert out == [str(physical_cores())] * 2
