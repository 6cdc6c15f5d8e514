"""Run sparsec as if this machine were an AVX2-only AMD Zen 3 (``znver3``, no AVX-512).

``PYTHONPATH=.ci/as-avx2-host python -m pytest -q -n auto`` runs the suite as such a host sees it:
``--target llvm`` plans and builds for znver3 (8 float lanes), the host's CPU flags lack every
``avx512*`` flag (so AVX-512 artifacts, ``calibrate`` and ``--tune`` on AVX-512 targets are
refused), and tests that execute only what the host can run skip the AVX-512 ones. Python loads
this file at start-up in every process, subprocesses included, as long as ``PYTHONPATH`` holds
its folder. What it cannot show is an illegal instruction: the CPU underneath still executes
AVX-512, so only a real AVX2 machine proves that no AVX-512 instruction slips into znver3 code.
"""

import importlib.abc
import importlib.util
import sys

CPU = "znver3"
TARGET_MODULE = "sparsec.codegen.target"


def _disguise(target) -> None:
    real_flags = target.host_cpu_flags

    def host_cpu() -> str:
        return CPU

    def host_cpu_flags() -> frozenset[str]:
        return frozenset(flag for flag in real_flags() if not flag.startswith("avx512"))

    target.host_cpu, target.host_cpu_flags = host_cpu, host_cpu_flags


class _DisguiseTarget(importlib.abc.MetaPathFinder):
    """Patches ``sparsec.codegen.target`` right after it is executed, before anyone imports
    names from it."""

    def find_spec(self, name, path, target=None):
        if name != TARGET_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _disguise(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _DisguiseTarget())
