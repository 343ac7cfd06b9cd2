"""The shape of the code: no import cycle between modules of a package; small, described modules.

The graph is built from each module's import statements as Python parses them (not from its
text), including imports inside functions, which run later but still tie the two modules
together; imports under `if TYPE_CHECKING:` are left out, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("conformance", "reference_impl", "harness")
# A module that grows past this holds more than one concept: split it where the concepts part.
MAX_LINES = 400


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _runtime_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    def visit(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from (n for orelse in child.orelse for n in visit_node(orelse))
                continue
            yield from visit_node(child)

    def visit_node(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from visit(node)

    yield from visit(tree)


def import_graph(package: str) -> dict[str, set[str]]:
    """module → the modules of the same package it imports."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level == 0 and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_cycles_finds_a_cycle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_reads_imports_inside_functions_and_skips_type_checking(tmp_path: Path) -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import typed\n"
        "def later():\n    from pkg import lazy\n"
    )
    names = [n.names[0].name for n in _runtime_imports(tree) if isinstance(n, ast.ImportFrom)]
    assert names == ["TYPE_CHECKING", "lazy"]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_has_no_import_cycle(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 10  # the package was found
    assert cycles(graph) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_small_and_says_what_it_is(package: str) -> None:
    too_long, undescribed = [], []
    for name, path in _modules(package).items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_LINES:
            too_long.append(f"{name} ({text.count(chr(10))} lines)")
        docstring = ast.get_docstring(ast.parse(text))
        if not docstring or not docstring.strip():
            undescribed.append(name)
    assert too_long == [], f"split these modules (over {MAX_LINES} lines): {too_long}"
    assert undescribed == [], f"give these modules a docstring that says what they are: {undescribed}"
