"""CPU targets: user target specs -> TVM's dict form, plus the facts schedules are generated from.

TVM 0.27 refuses target strings such as ``"llvm -mcpu=skylake-avx512"``, and ``{"kind": "llvm"}``
alone means a generic x86-64 (SSE2 only), not the host. So every spec is parsed here, the host CPU
is filled in when none is named, and the CPU name is checked against the LLVM inside TVM.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace

import tvm
from tvm.target import codegen as llvm_info

from sparsec.ir.diagnostics import SparsecError
from sparsec.threads import pool_size

# float32 lanes of the widest vector register, for the first ISA extension the CPU has.
_VECTOR_LANES_BY_FEATURE = (("avx512f", 16), ("avx", 8))
_DEFAULT_VECTOR_LANES = 4  # SSE, NEON and other 128-bit ISAs
_OPTIONS = ("mcpu", "mattr", "mtriple")

# Instruction-set extensions generated code may use, LLVM name -> Linux /proc/cpuinfo flag. A
# CPU without one of these traps (SIGILL) on the first such instruction; LLVM's other "features"
# are tuning hints that cannot crash, so they are not recorded.
ISA_FEATURE_FLAGS = {
    "sse": "sse", "sse2": "sse2", "sse3": "pni", "ssse3": "ssse3", "sse4.1": "sse4_1",
    "sse4.2": "sse4_2", "sse4a": "sse4a", "popcnt": "popcnt", "lzcnt": "abm", "movbe": "movbe",
    "bmi": "bmi1", "bmi2": "bmi2", "f16c": "f16c", "fma": "fma", "avx": "avx", "avx2": "avx2",
    "avxvnni": "avx_vnni", "avx512f": "avx512f", "avx512cd": "avx512cd", "avx512bw": "avx512bw",
    "avx512dq": "avx512dq", "avx512vl": "avx512vl", "avx512ifma": "avx512ifma",
    "avx512vbmi": "avx512vbmi", "avx512vbmi2": "avx512_vbmi2", "avx512vnni": "avx512_vnni",
    "avx512bitalg": "avx512_bitalg", "avx512vpopcntdq": "avx512_vpopcntdq",
    "avx512bf16": "avx512_bf16", "avx512fp16": "avx512_fp16", "amx-tile": "amx_tile",
    "amx-int8": "amx_int8", "amx-bf16": "amx_bf16", "gfni": "gfni", "vaes": "vaes",
    "vpclmulqdq": "vpclmulqdq",
}


class TargetError(SparsecError):
    """A target spec that cannot be compiled for (unknown kind, CPU, or option)."""


@dataclass(frozen=True)
class CpuTarget:
    """A resolved LLVM CPU target and the facts the kernel schedules are generated from."""

    mcpu: str
    mtriple: str
    mattr: tuple[str, ...] = ()
    vector_lanes: int = _DEFAULT_VECTOR_LANES
    num_threads: int = 1

    def as_dict(self) -> dict[str, object]:
        """The dict form TVM accepts (``tvm.compile(mod, target.as_dict())``)."""
        spec: dict[str, object] = {"kind": "llvm", "mcpu": self.mcpu, "mtriple": self.mtriple}
        if self.mattr:
            spec["mattr"] = list(self.mattr)
        return spec

    def tvm_target(self) -> tvm.target.Target:
        """The ``tvm.target.Target`` for this CPU."""
        return tvm.target.Target(self.as_dict())

    def isa_features(self) -> tuple[str, ...]:
        """The instruction-set extensions code built for this target may use (LLVM names)."""
        features = llvm_info.llvm_get_cpu_features(self.tvm_target())
        return tuple(sorted(name for name in ISA_FEATURE_FLAGS if name in features))

    def describe(self) -> str:
        """``znver3 (AVX2, 8 float lanes)`` -- how reports name the CPU code is built for."""
        isa = {16: "AVX-512", 8: "AVX2" if "avx2" in self.isa_features() else "AVX"}
        return f"{self.mcpu} ({isa.get(self.vector_lanes, 'SSE')}, {self.vector_lanes} float lanes)"

    def runs_on_host(self) -> bool:
        """Whether this machine's CPU has every extension the code may use."""
        return not missing_host_features(self.isa_features())

    def check_runs_on_host(self, what: str) -> None:
        """Raise ``TargetError`` unless ``what`` (code for this target) can run on this CPU."""
        missing = missing_host_features(self.isa_features())
        if missing:
            raise TargetError(host_cannot_run(what, missing))

    def __str__(self) -> str:
        mattr = f" -mattr={','.join(self.mattr)}" if self.mattr else ""
        return f"llvm -mcpu={self.mcpu} -mtriple={self.mtriple}{mattr}"


def host_cpu() -> str:
    """The host CPU name as LLVM knows it (e.g. ``znver4``, ``skylake-avx512``)."""
    return str(llvm_info.llvm_get_system_cpu())


def host_cpu_flags() -> frozenset[str]:
    """The CPU flags of this machine (Linux ``/proc/cpuinfo``), or the host CPU model's features.

    cpuinfo is what the kernel enabled (a hypervisor may hide extensions the CPU model has), so
    it is the truth where it exists; elsewhere LLVM's features of the host CPU name stand in.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    features = llvm_info.llvm_get_cpu_features(tvm.target.Target({"kind": "llvm",
                                                                  "mcpu": host_cpu()}))
    return frozenset(ISA_FEATURE_FLAGS[name] for name in ISA_FEATURE_FLAGS if name in features)


def missing_host_features(features: Sequence[str]) -> list[str]:
    """The extensions among ``features`` (LLVM names) that this machine's CPU lacks."""
    flags = host_cpu_flags()
    return [name for name in features if ISA_FEATURE_FLAGS.get(name, name) not in flags]


def host_cannot_run(what: str, missing: Sequence[str]) -> str:
    """The one-line refusal for code this CPU cannot execute, with the way out."""
    return (f"{what} needs CPU features this machine lacks: {', '.join(missing)} "
            f"(this CPU is {host_cpu()}; rebuild with --target llvm for it)")


def parse_target(
    spec: str = "llvm", mcpu: str | None = None, num_threads: int | None = None
) -> CpuTarget:
    """Resolve a target spec such as ``"llvm -mcpu=skylake-avx512 -mattr=+avx2,+fma"``.

    ``mcpu`` is the CLI's separate ``-mcpu`` argument; it must agree with one in ``spec``. Without
    a CPU the host's is used. ``num_threads`` defaults to ``TVM_NUM_THREADS`` or the usable cores.
    """
    options = _parse_options(spec)
    if mcpu is not None:
        mcpu = mcpu.removeprefix("-mcpu=")
        if options.get("mcpu", mcpu) != mcpu:
            raise TargetError(f"target: conflicting CPUs '{options['mcpu']}' and '{mcpu}'")
        options["mcpu"] = mcpu
    triple = options.get("mtriple") or str(llvm_info.llvm_get_system_triple())
    cpu = options.get("mcpu") or host_cpu()
    if not llvm_info.llvm_is_valid_cpu(cpu, triple):
        raise TargetError(f"target: unknown CPU '{cpu}' for LLVM triple '{triple}'")
    mattr = _parse_mattr(options.get("mattr", ""))
    base = CpuTarget(mcpu=cpu, mtriple=triple, mattr=mattr)
    return replace(
        base,
        vector_lanes=_vector_lanes(base.tvm_target()),
        num_threads=num_threads or pool_size(),
    )


def _parse_options(spec: str) -> dict[str, str]:
    """Split ``"llvm -key=value ..."`` into its options; only the llvm kind is supported."""
    try:
        words = shlex.split(spec)
    except ValueError as err:
        raise TargetError(f"target: cannot parse '{spec}': {err}") from None
    if not words:
        raise TargetError("target: empty target spec (expected e.g. 'llvm -mcpu=skylake-avx512')")
    kind, *rest = words
    if kind != "llvm":
        raise TargetError(f"target: unsupported target kind '{kind}' (only 'llvm' CPUs)")
    options: dict[str, str] = {}
    for word in rest:
        key, eq, value = word.lstrip("-").partition("=")
        if not word.startswith("-") or key not in _OPTIONS or not eq or not value:
            expected = ", ".join(f"-{name}=..." for name in _OPTIONS)
            raise TargetError(f"target: bad option '{word}' (expected {expected})")
        options[key] = value
    return options


def _parse_mattr(text: str) -> tuple[str, ...]:
    """``"+avx2,+fma"`` -> ``("+avx2", "+fma")``; every feature needs a + or - sign."""
    features = tuple(feature for feature in text.split(",") if feature)
    for feature in features:
        if feature[0] not in "+-" or len(feature) < 2:
            raise TargetError(f"target: bad -mattr feature '{feature}' (expected +name or -name)")
    return features


def _vector_lanes(target: tvm.target.Target) -> int:
    """float32 lanes of the target's widest vector register (from its LLVM feature set)."""
    features = llvm_info.llvm_get_cpu_features(target)
    for feature, lanes in _VECTOR_LANES_BY_FEATURE:
        if feature in features:
            return lanes
    return _DEFAULT_VECTOR_LANES
