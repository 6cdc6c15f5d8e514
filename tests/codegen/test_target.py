"""Target specs: the spellings users write, the host CPU default, vector widths, and errors."""

from __future__ import annotations

import pytest

from sparsec.codegen.target import TargetError, host_cpu, parse_target
from sparsec.errors import UserError


def test_plain_llvm_is_the_host_cpu():
    target = parse_target("llvm")
    assert target.mcpu == host_cpu()
    assert target.as_dict()["mcpu"] == host_cpu()  # never TVM's generic SSE2 default


@pytest.mark.parametrize(("spec", "mcpu", "expected_cpu", "lanes"), [
    ("llvm -mcpu=skylake-avx512", None, "skylake-avx512", 16),
    ("llvm", "skylake-avx512", "skylake-avx512", 16),
    ("llvm", "-mcpu=haswell", "haswell", 8),
    ("llvm -mcpu=haswell", "haswell", "haswell", 8),
    ("llvm -mcpu=x86-64 -mattr=+avx2,+fma", None, "x86-64", 8),
    ("llvm -mcpu=x86-64", None, "x86-64", 4),
    ("llvm -mcpu=skylake-avx512 -mattr=-avx512f", None, "skylake-avx512", 8),
    ("  llvm   -mcpu=sandybridge ", None, "sandybridge", 8),
])
def test_specs_resolve_to_cpu_and_vector_width(spec, mcpu, expected_cpu, lanes):
    target = parse_target(spec, mcpu)
    assert target.mcpu == expected_cpu
    assert target.vector_lanes == lanes
    assert target.as_dict()["kind"] == "llvm"
    assert target.tvm_target().attrs["mcpu"] == expected_cpu


def test_mattr_is_kept_as_a_list():
    target = parse_target("llvm -mcpu=x86-64 -mattr=+avx2,+fma")
    assert target.mattr == ("+avx2", "+fma")
    assert target.as_dict()["mattr"] == ["+avx2", "+fma"]
    assert str(target).endswith("-mattr=+avx2,+fma")


def test_threads(monkeypatch):
    assert parse_target("llvm", num_threads=3).num_threads == 3
    monkeypatch.setenv("TVM_NUM_THREADS", "5")
    assert parse_target("llvm").num_threads == 5
    monkeypatch.delenv("TVM_NUM_THREADS")
    assert parse_target("llvm").num_threads >= 1


@pytest.mark.parametrize(("spec", "mcpu", "message"), [
    ("cuda", None, "unsupported target kind 'cuda'"),
    ("llvmx -mcpu=haswell", None, "unsupported target kind 'llvmx'"),
    ("", None, "empty target spec"),
    ("llvm -mcpu=notacpu", None, "unknown CPU 'notacpu'"),
    ("llvm", "cortex-a72", "unknown CPU 'cortex-a72'"),
    ("llvm -mcpu=haswell", "znver4", "conflicting CPUs 'haswell' and 'znver4'"),
    ("llvm -opt-level=3", None, "bad option '-opt-level=3'"),
    ("llvm mcpu=haswell", None, "bad option 'mcpu=haswell'"),
    ("llvm -mcpu=", None, "bad option '-mcpu='"),
    ("llvm -mattr=avx2", None, "bad -mattr feature 'avx2'"),
    ("llvm -mcpu='haswell", None, "cannot parse"),
])
def test_bad_targets_are_one_line_user_errors(spec, mcpu, message):
    with pytest.raises(TargetError, match=message) as info:
        parse_target(spec, mcpu)
    assert isinstance(info.value, UserError)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("target: ")
