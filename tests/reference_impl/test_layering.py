"""The sans-IO core imports no HTTP library, directly or through another core module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reference_impl"
CORE = [
    "domain", "machine", "store", "schema", "service", "clock", "idempotency", "signing", "errors",
    "windows", "cards", "currencies", "forms", "params", "operations", "objects", "views", "context",
    "tokens", "payments", "payment_methods", "events", "accounts", "ids", "faults", "tuning", "capabilities",
]  # fmt: skip
FORBIDDEN = {"starlette", "uvicorn", "httpx", "anyio", "h11", "http", "socket", "requests", "urllib3", "asyncio"}


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_http_library(module: str) -> None:
    roots = {name.split(".")[0] for name in _imports(module)}
    assert not roots & FORBIDDEN, f"reference_impl.{module} imports {sorted(roots & FORBIDDEN)}"


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_only_core_modules(module: str) -> None:
    internal = {name.split(".")[1] for name in _imports(module) if name.startswith("reference_impl.")}
    assert internal <= set(CORE), f"reference_impl.{module} reaches {sorted(internal - set(CORE))}"


def test_every_module_is_classified() -> None:
    adapters = {"app", "embedded", "serve", "webhooks", "sweeper", "runtime", "__init__", "__main__"}
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(CORE) | adapters
