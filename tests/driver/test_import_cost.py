"""Importing ``sparsec`` (and ``sparsec.ir``) must not import torch or tvm: both take seconds."""

from __future__ import annotations

import subprocess
import sys


def test_import_sparsec_loads_neither_torch_nor_tvm():
    code = ("import sys, sparsec, sparsec.ir\n"
            "assert callable(sparsec.compile) and callable(sparsec.load)\n"
            "heavy = sorted(m for m in ('torch', 'tvm', 'transformers') if m in sys.modules)\n"
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_runtime_names_are_reexported_lazily():
    import sparsec
    from sparsec.runtime import CompiledModel, InputError

    assert sparsec.CompiledModel is CompiledModel and sparsec.InputError is InputError
    assert issubclass(sparsec.ArtifactError, Exception)
