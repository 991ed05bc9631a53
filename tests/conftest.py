"""Test-suite settings shared by every test module."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# In CI, property tests draw the same examples every run (reproducible failures);
# locally they keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def load_benchmark() -> Callable[[str], ModuleType]:
    """Loads ``benchmarks/<name>.py`` as a module by file path (no sys.path edits)."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
