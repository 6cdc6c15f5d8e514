"""Target specs: the spellings users write, the host CPU default, vector widths, and errors."""

from __future__ import annotations

import pytest

from sparsec.codegen.target import TargetError, host_cpu, host_cpu_flags, parse_target
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


@pytest.mark.parametrize(("spec", "present", "absent"), [
    ("llvm -mcpu=skylake-avx512", {"avx512f", "avx512bw", "avx2", "fma"}, {"amx-tile"}),
    ("llvm -mcpu=znver3", {"avx2", "fma", "avx"}, {"avx512f"}),
    ("llvm -mcpu=haswell", {"avx2", "fma"}, {"avx512f"}),
    ("llvm -mcpu=x86-64", {"sse2"}, {"avx", "avx2", "fma"}),
    ("llvm -mcpu=skylake-avx512 -mattr=-avx512f", {"avx2"}, {"avx512f"}),
    ("llvm -mcpu=znver3 -mattr=+amx-tile", {"amx-tile", "avx2"}, {"avx512f"}),
])
def test_isa_features_follow_cpu_and_mattr(spec, present, absent):
    features = set(parse_target(spec).isa_features())
    assert present <= features
    assert not absent & features
    assert "64bit" not in features  # tuning and mode flags are not instruction sets


def test_missing_features_are_checked_against_the_host_flags(monkeypatch):
    from sparsec.codegen import target as target_module

    avx2_host = frozenset({"sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "avx2",
                           "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt"})
    monkeypatch.setattr(target_module, "host_cpu_flags", lambda: avx2_host)
    avx512 = parse_target("llvm -mcpu=skylake-avx512")
    assert target_module.missing_host_features(avx512.isa_features()) == [
        "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl"]
    assert not avx512.runs_on_host()
    assert parse_target("llvm -mcpu=haswell").runs_on_host()
    with pytest.raises(TargetError, match=r"^this artifact needs CPU features this machine lacks: "
                                          r"avx512bw, .*avx512vl \(this CPU is .*--target llvm"):
        avx512.check_runs_on_host("this artifact")


def test_the_host_runs_its_own_code_and_not_amx():
    assert parse_target("llvm").runs_on_host()
    amx = parse_target("llvm -mcpu=x86-64 -mattr=+amx-tile")
    if "amx_tile" not in host_cpu_flags():
        assert not amx.runs_on_host()


@pytest.mark.parametrize(("spec", "text"), [
    ("llvm -mcpu=skylake-avx512", "skylake-avx512 (AVX-512, 16 float lanes)"),
    ("llvm -mcpu=znver3", "znver3 (AVX2, 8 float lanes)"),
    ("llvm -mcpu=sandybridge", "sandybridge (AVX, 8 float lanes)"),
    ("llvm -mcpu=x86-64", "x86-64 (SSE, 4 float lanes)"),
])
def test_describe_names_cpu_and_isa(spec, text):
    assert parse_target(spec).describe() == text
