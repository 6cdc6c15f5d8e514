"""Shared by the benchmark tests: ``benchmarks/e2e.py`` loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "e2e.py"


@pytest.fixture(scope="session")
def e2e():
    spec = importlib.util.spec_from_file_location("e2e", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module
