"""Every module of services/ imports: catches a wrong name from an untyped library."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import services

pytestmark = pytest.mark.unit

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(services.__path__, "services.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_the_core_is_covered() -> None:
    assert "services.core.validation" in MODULES
