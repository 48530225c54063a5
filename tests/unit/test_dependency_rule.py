"""The dependency rule (README, "Extending it"), read from the import statements.

``services/core`` imports no other package of the project and no I/O library; the shared
libraries (``messaging``, ``verification``) import only the core; each service imports
the core and the shared libraries, never another service; only ``services/cli`` knows
every service.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[2] / "services"
SHARED = {"core", "messaging", "verification"}
SERVICE_PACKAGES = {
    "ingestion",
    "validation",
    "signing",
    "storage",
    "national_sync",
    "national_sim",
}
#: Which project packages each package may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "messaging": {"core"},
    "verification": {"core"},
    "stack": {"core", "messaging"},
    **{name: SHARED for name in SERVICE_PACKAGES},
}
#: Libraries that talk to the outside world: never in the pure domain core.
IO_LIBRARIES = {
    "aiohttp",
    "aiokafka",
    "asyncio",
    "asyncpg",
    "faust",
    "httpx",
    "kafka",
    "mode",
    "prometheus_client",
    "psycopg",
    "requests",
    "socket",
    "subprocess",
    "urllib",
}


def imports_of(path: Path) -> set[str]:
    """Top-level names of absolute imports in one module (``services.x`` as ``services.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            found.add(".".join(parts[:2]) if parts[0] == "services" else parts[0])
    return found


def package_imports() -> dict[str, dict[str, set[str]]]:
    """package → module path → what it imports."""
    result: dict[str, dict[str, set[str]]] = {}
    for path in sorted(SERVICES.rglob("*.py")):
        parts = path.relative_to(SERVICES).parts
        if len(parts) < 2:
            continue
        result.setdefault(parts[0], {})[str(path.relative_to(SERVICES))] = imports_of(path)
    return result


def test_every_package_is_named_by_the_rule() -> None:
    assert set(package_imports()) <= {*ALLOWED, "cli"}, "add the new package to ALLOWED"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_the_rule_allows(package: str) -> None:
    wrong = {
        module: sorted(
            name.removeprefix("services.")
            for name in names
            if name.startswith("services.")
            and name.removeprefix("services.") not in {package, *ALLOWED[package]}
        )
        for module, names in package_imports().get(package, {}).items()
    }
    assert not {m: n for m, n in wrong.items() if n}, f"{package} may import {ALLOWED[package]}"


def test_the_core_uses_no_io_library() -> None:
    offending = {
        module: sorted(names & IO_LIBRARIES)
        for module, names in package_imports()["core"].items()
        if names & IO_LIBRARIES
    }
    assert not offending


def test_the_rule_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from services.storage.access import Requester\nimport asyncpg\n")
    assert imports_of(module) == {"services.storage", "asyncpg"}
