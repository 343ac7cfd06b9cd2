"""The sans-IO core imports no HTTP library, directly or through another core module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reference_impl"
CORE = [
    "domain", "machine", "store", "schema", "service", "clock", "idempotency", "signing", "errors",
    "windows", "cards", "currencies", "forms", "params", "operations", "objects", "views", "context",
    "tokens", "payments", "payment_methods", "events", "accounts", "ids", "faults", "tuning",
    "behaviour", "variants", "capabilities",
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
    adapters = {
        "app",
        "headers",
        "protocol",
        "embedded",
        "serve",
        "webhooks",
        "sweeper",
        "runtime",
        "variant_http",
        "__init__",
        "__main__",
    }
    assert {p.stem for p in PACKAGE.glob("*.py")} == set(CORE) | adapters


# Run in a fresh interpreter: a finder placed first on sys.meta_path refuses every HTTP library,
# so importing any core module (and the package itself) fails if anything on its import path,
# the package's __init__ included, loads one at runtime.
_BLOCKED_IMPORT = """
import sys
BLOCKED = {"starlette", "uvicorn", "httpx", "h11", "httpcore", "anyio"}
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"the core imported the HTTP library {name}")
        return None
sys.meta_path.insert(0, Refuse())
import importlib
for module in sys.argv[1:]:
    importlib.import_module("reference_impl." + module)
import reference_impl
print(sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED))
"""


def test_core_imports_with_http_libraries_blocked() -> None:
    """The core stays free of HTTP when imported for real, not only when read as source."""
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT, *CORE], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_blocked_import_check_catches_an_http_import() -> None:
    """The same check fails on a module that does load Starlette: it can fail."""
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT, "app"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode != 0
    assert "the core imported the HTTP library starlette" in done.stderr
