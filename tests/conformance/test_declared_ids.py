"""Every requirement ID an assertion of the suite names is in the catalogue and declared by its test.

The evidence pipeline fails a test's own requirements when it stops on an ID it does not declare
(`conformance.evidence`); this reads the suite's source so that such a test is found before a
run, not by a vendor. A test declares the requirements it proves (`requirement` marker) and the
ones it relies on as set-up steps (`uses` marker); the shared helpers name only set-up steps
(`setup=True`), and only IDs of the catalogue.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.spec import default_spec

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "conformance" / "suite"
# The shared helpers tests call; each ID they name is a set-up step of the tests that call them.
HELPERS = ("scenario.py", "clock.py", "events.py")
ID = re.compile(r"^SPT-[A-Z]{2,5}-[0-9]+$")
ASSERTIONS = re.compile(r"^(expect\w*|wait_for|Violation|inconclusive)$")


def _ids(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and ID.match(n.value)
    }


def _called(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.setdefault(node.name, node)
    return found


def named_ids(path: Path) -> Iterator[tuple[str, set[str], set[str]]]:
    """(test name, IDs it declares, IDs its body and the module's helpers it calls name)."""
    module = importlib.import_module(f"conformance.suite.{path.stem}")
    functions = _functions(ast.parse(path.read_text(encoding="utf-8")))
    for name, node in functions.items():
        test = getattr(module, name, None)
        if not name.startswith("test_") or test is None:
            continue
        marks = getattr(test, "pytestmark", [])
        declared = {str(a) for m in marks if m.name in ("requirement", "uses") for a in m.args}
        named: set[str] = set()
        seen: set[str] = set()
        todo = [node]
        while todo:
            function = todo.pop()
            if function.name in seen:
                continue
            seen.add(function.name)
            body = ast.Module(body=function.body, type_ignores=[])
            named |= _ids(body)
            todo += [functions[c] for c in _called(body) if c in functions and not c.startswith("test_")]
        yield name, declared, named


def undeclared() -> list[str]:
    problems = []
    for path in sorted(SUITE.glob("test_*.py")):
        for name, declared, named in named_ids(path):
            stray = sorted(named - declared)
            if stray:
                problems.append(
                    f"{path.name}::{name} names {', '.join(stray)} but declares {', '.join(sorted(declared))}"
                )
    return problems


def test_every_id_a_suite_test_names_is_declared_by_it() -> None:
    assert undeclared() == []


def test_every_id_named_anywhere_in_the_suite_and_its_helpers_is_in_the_catalogue() -> None:
    catalogue = default_spec().catalogue
    files = [*SUITE.glob("*.py"), *(ROOT / "conformance").glob("*.py"), *(ROOT / "conformance").glob("*/*.py")]
    unknown = {
        f"{path.relative_to(ROOT)}: {found}"
        for path in files
        for found in _ids(ast.parse(path.read_text(encoding="utf-8")))
        if found not in catalogue
    }
    assert sorted(unknown) == []


def _calls_naming_ids(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and ID.match(a.value) for a in node.args
        ):
            yield node


@pytest.mark.parametrize("helper", HELPERS)
def test_shared_helpers_name_ids_only_as_set_up_steps(helper: str) -> None:
    tree = ast.parse((ROOT / "conformance" / helper).read_text(encoding="utf-8"))
    loose = []
    for call in _calls_naming_ids(tree):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        setup = any(
            k.arg == "setup" and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords
        )
        if ASSERTIONS.match(name) and not setup:
            loose.append(f"line {call.lineno}: {name}(...) names {_ids(call)} without setup=True")
    assert loose == []
