"""lit configuration of the FileCheck suite: `lit tests/filecheck` (with the venv active).

Every ``.mlir`` file is a test; its ``// RUN:`` lines run in lit's own shell (pipes fail
when any stage fails; ``not``, ``echo``, ``mkdir``, ``rm``, ``cd`` are built in; no ``$(...)``)
with ``sparsec`` and ``filecheck`` from the venv that runs lit first on PATH. ``%t`` paths
live under the ``exec_root`` parameter (``--param exec_root=DIR``), by default a folder of
the system's temporary directory.
"""

# ruff: noqa: F821  (lit runs this file with `config` and `lit_config` defined)

import os
import sys
import tempfile

import lit.formats

config.name = "sparsec-filecheck"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
default_root = os.path.join(tempfile.gettempdir(), f"sparsec-lit-{os.getuid()}")
config.test_exec_root = lit_config.params.get("exec_root", default_root)

venv_bin = os.path.dirname(sys.executable)
config.environment["PATH"] = os.pathsep.join([venv_bin, config.environment["PATH"]])
# The calibration cache block-shape-selection may read, and where temporary files go.
for name in ("HOME", "XDG_CACHE_HOME", "TMPDIR"):
    if name in os.environ:
        config.environment[name] = os.environ[name]
