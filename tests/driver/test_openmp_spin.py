"""PyTorch's OpenMP workers stop spinning soon after a call once sparsec is imported first."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sparsec.threads import OPENMP_SETTINGS, SHORT_SPIN, openmp_loaded, spinning_openmp_warning

# CPU time that the process's other threads burn in the 100 ms after a parallel torch matmul.
SPIN_PROBE = """
import os, threading, time
{first}
torch.set_num_threads(2)
a = torch.randn(512, 512)
for _ in range(3):
    a @ a
def others():
    me = str(threading.get_native_id())
    return sum(int(open(f"/proc/self/task/{{t}}/schedstat").read().split()[0])
               for t in os.listdir("/proc/self/task") if t != me)
start = others()
time.sleep(0.1)
print((others() - start) / 1e6)
"""


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in OPENMP_SETTINGS}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                            capture_output=True, text=True, timeout=300, check=True)
    return result.stdout.strip()


def test_import_sets_a_short_spin_for_the_openmp_runtime_to_come() -> None:
    shown = "import os, sparsec; print(os.environ.get('GOMP_SPINCOUNT'))"
    assert _python(shown) == SHORT_SPIN
    assert _python(shown, GOMP_SPINCOUNT="5") == "5"  # the user's choice stays
    assert _python(shown, OMP_WAIT_POLICY="ACTIVE") == "None"


def test_import_after_torch_leaves_the_spin_and_load_warns() -> None:
    code = ("import os, torch, sparsec\nfrom sparsec.threads import spinning_openmp_warning\n"
            "print(os.environ.get('GOMP_SPINCOUNT'), '|', spinning_openmp_warning())")
    spin, warning = _python(code).split(" | ")
    assert spin == "None"
    assert "import sparsec before torch" in warning and f"GOMP_SPINCOUNT={SHORT_SPIN}" in warning


@pytest.mark.skipif(os.cpu_count() < 2, reason="one CPU: libgomp throttles its spinning anyway")
def test_torch_workers_go_quiet_within_a_few_ms_after_a_call() -> None:
    burned_ms = float(_python(SPIN_PROBE.format(first="import sparsec, torch")))
    assert burned_ms < 6.0  # 1-4 ms; libgomp's default spin burned 8-11 ms here (Zen 4)


def test_no_warning_without_libgomp_or_with_a_setting(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n")
    assert not openmp_loaded(maps)
    assert not openmp_loaded(tmp_path / "missing")
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /site-packages/torch/lib/libgomp.so.1\n")
    assert openmp_loaded(maps)
    monkeypatch.setenv("GOMP_SPINCOUNT", "1000")
    assert spinning_openmp_warning() is None
