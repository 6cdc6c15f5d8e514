"""A package of an extra that is not installed is one line naming the extra, exit 1.

Each case runs the CLI in a fresh interpreter where the package cannot be imported
(``sys.modules[name] = None`` makes ``import name`` raise ModuleNotFoundError).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sparsec.cli import OPTIONAL_PACKAGES, missing_package_error

RUN_WITHOUT = """
import sys
sys.modules[{package!r}] = None
from sparsec.cli import main
sys.argv = ["sparsec", *{args!r}]
main()
"""


def run_without(package: str, *args: str) -> subprocess.CompletedProcess:
    code = RUN_WITHOUT.format(package=package, args=list(args))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize(("package", "args", "extra"), [
    ("tvm", ["analyze", "{model}"], "codegen"),  # the CPU name of the cost model needs TVM
    ("torch", ["analyze", "{model}", "--cost-model", "analytic"], "frontend"),
    ("torch", ["import", "{model}"], "frontend"),
    ("torch", ["compile", "{model}", "-o", "{out}"], "frontend"),
    ("matplotlib", ["analyze", "{model}", "--plot", "{out}.png"], "plot"),
])
def test_a_missing_package_is_one_line_naming_the_extra(tmp_path, package, args, extra):
    model = tmp_path / "model"
    model.mkdir()
    args = [a.format(model=model, out=tmp_path / "out") for a in args]
    done = run_without(package, *args)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f'error: sparsec {args[0]} needs {package}: pip install ' \
                          f'"sparsec[{extra}]"\n'
    assert done.stdout == "" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_other_import_errors_are_not_disguised():
    """A missing module of an installed package is a bug (or a broken install): not hidden."""
    inner = ModuleNotFoundError("No module named 'tvm.s_tir'", name="tvm.s_tir")
    assert missing_package_error(inner, "compile") is None
    assert missing_package_error(ModuleNotFoundError(name="yaml"), "compile") is None
    message = missing_package_error(ModuleNotFoundError(name="tvm"), "run")
    assert message == 'error: sparsec run needs tvm: pip install "sparsec[codegen]"'


def test_every_extra_named_exists(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    assert set(OPTIONAL_PACKAGES.values()) <= set(extras)


@pytest.fixture
def pyproject() -> dict:
    import tomllib
    from pathlib import Path

    return tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
