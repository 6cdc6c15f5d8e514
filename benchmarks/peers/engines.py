"""The engines the benchmark can time: which worker runs each, with which Python, and what
it needs. Peers are optional: one that is not installed is skipped with a one-line note."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# DeepSparse lives in a venv of its own (benchmarks/setup_deepsparse.sh).
DEEPSPARSE_VENV = Path(__file__).parents[1] / ".venv-deepsparse"
# No telemetry and no version check: the machine reaches package registries only.
QUIET_ENV = {"NM_DISABLE_ANALYTICS": "1", "NM_VERSION_CHECK": "false"}
# PyTorch as on an AVX2-only CPU (its ATen kernels, MKL and oneDNN each dispatch on their own),
# to time AVX2 code (-mcpu=znver3) on an AVX-512 host against a baseline on the same ISA.
AVX2_BASELINE_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                     "ONEDNN_MAX_CPU_ISA": "AVX2"}
BASELINE_ISAS = ("native", "avx2")


def baseline_env(isa: str) -> dict[str, str]:
    """The environment that caps the baselines at ``isa`` (``native``: no cap)."""
    return AVX2_BASELINE_ENV if isa == "avx2" else {}


@dataclass(frozen=True)
class Engine:
    """A kind of worker: its script beside this file and what it runs."""

    script: str
    input: str  # "torch": the state dict; "onnx": the ONNX export
    description: str

    def python(self) -> str:
        """The interpreter that runs the worker."""
        return deepsparse_python() if self.script == "deepsparse_worker.py" else sys.executable

    def missing(self) -> str | None:
        """Why this engine cannot run here, in one line, or None."""
        return _missing(self.script)


ENGINES = {
    "pytorch": Engine("pytorch_worker.py", "torch", "PyTorch eager, no autograd"),
    "torch-compile": Engine("torch_compile_worker.py", "torch",
                            "torch.compile, inductor backend, default mode"),
    "onnxruntime": Engine("onnxruntime_worker.py", "onnx", "ONNX Runtime, CPU provider"),
    "openvino": Engine("openvino_worker.py", "onnx",
                       "OpenVINO CPU plugin, latency hint, f32 precision"),
    "deepsparse": Engine("deepsparse_worker.py", "onnx",
                         "DeepSparse 1.8 (Neural Magic), in its own Python 3.10 venv"),
    "sparsec": Engine("sparsec_worker.py", "torch", "sparsec: torch.export, BSR kernels in TVM"),
}


def deepsparse_python() -> str:
    """The DeepSparse venv's Python (``SPARSEC_DEEPSPARSE_PYTHON`` overrides it)."""
    return os.environ.get("SPARSEC_DEEPSPARSE_PYTHON", str(DEEPSPARSE_VENV / "bin" / "python"))


@cache
def _missing(script: str) -> str | None:
    if script == "deepsparse_worker.py":
        return _deepsparse_missing()
    if script == "torch_compile_worker.py" and not shutil.which(os.environ.get("CXX", "g++")):
        return "torch.compile (inductor) needs a C++ compiler, none found"
    module = {"onnxruntime_worker.py": "onnxruntime", "openvino_worker.py": "openvino"}.get(script)
    if module and importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install -e '.[peers]')"
    return None


def _deepsparse_missing() -> str | None:
    python = deepsparse_python()
    if not Path(python).exists():
        return "DeepSparse is not set up (bash benchmarks/setup_deepsparse.sh)"
    probe = subprocess.run([python, "-c", "import deepsparse"], capture_output=True, text=True,
                           env={**os.environ, **QUIET_ENV}, timeout=120)
    if probe.returncode:
        lines = probe.stderr.strip().splitlines() or ["no message"]
        return f"DeepSparse does not import in {python}: {lines[-1]}"
    return None
