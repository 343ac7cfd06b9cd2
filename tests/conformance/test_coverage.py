"""Every requirement is proven by some test, and no test names a requirement that does not exist."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest

import conformance.suite
from conformance.catalog import Level
from conformance.checks import REGISTRY
from conformance.spec import load_spec


def _marks(obj: Any) -> Iterator[Any]:
    marks = getattr(obj, "pytestmark", [])
    yield from marks if isinstance(marks, list) else [marks]


def suite_requirements() -> dict[str, set[str]]:
    """Requirement ID -> the suite tests that name it, read from the `requirement` markers."""
    named: dict[str, set[str]] = {}
    for module_info in pkgutil.iter_modules(conformance.suite.__path__):
        if not module_info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"conformance.suite.{module_info.name}")
        module_marks = [m for m in _marks(module) if m.name == "requirement"]
        for name, obj in vars(module).items():
            if not name.startswith("test") and not name.startswith("Test"):
                continue
            marks = [m for m in _marks(obj) if m.name == "requirement"] + module_marks
            for mark in marks:
                for requirement in mark.args:
                    named.setdefault(str(requirement), set()).add(f"{module_info.name}::{name}")
    return named


@pytest.fixture(scope="module")
def named() -> dict[str, set[str]]:
    return suite_requirements()


def test_suite_names_only_catalogued_requirements(named: dict[str, set[str]]) -> None:
    catalogue = load_spec().catalogue
    unknown = {r: sorted(t) for r, t in named.items() if r not in catalogue}
    assert not unknown, f"tests name requirements that are not in spec/requirements.yaml: {unknown}"


def test_every_must_requirement_is_proven(named: dict[str, set[str]]) -> None:
    checked = named.keys() | {c.requirement for c in REGISTRY.values()}
    missing = [r.id for r in load_spec().catalogue.active if r.level is Level.MUST and r.id not in checked]
    assert not missing, f"MUST requirements that no test proves: {missing}"


def test_every_requirement_is_proven(named: dict[str, set[str]]) -> None:
    checked = named.keys() | {c.requirement for c in REGISTRY.values()}
    missing = [r.id for r in load_spec().catalogue.active if r.id not in checked]
    assert not missing, f"requirements that no test proves: {missing}"


def test_registered_checks_name_catalogued_requirements() -> None:
    catalogue = load_spec().catalogue
    assert all(c.requirement in catalogue for c in REGISTRY.values())
