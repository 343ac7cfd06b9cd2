"""Reading one specification file, and refusing it precisely when it is broken.

Every problem becomes a `SpecError` that names the file, the place inside it (a path such as
`triggers[3].guards[0]`, and the line where the YAML has one) and what is wrong, so a person
editing `spec/` is told exactly where to look.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["Location", "SpecError", "SpecFile", "format_path", "load_json", "load_yaml"]

PathPart = str | int


def format_path(parts: Iterable[PathPart]) -> str:
    """`("triggers", 3, "guards", 0)` -> `triggers[3].guards[0]`; the empty path is `(top)`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top)"


@dataclass(frozen=True)
class Location:
    file: str
    path: tuple[PathPart, ...] = ()
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {format_path(self.path)}"


class SpecError(Exception):
    """One or more problems in the specification, each with its location."""

    def __init__(self, problems: Sequence[tuple[Location, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{location}: {message}" for location, message in self.problems]
        count = len(lines)
        head = (
            "the specification is broken (1 problem)"
            if count == 1
            else (f"the specification is broken ({count} problems)")
        )
        return "\n".join([head, *("  " + line for line in lines)])


def _line_index(node: yaml.Node, path: tuple[PathPart, ...], index: dict[tuple[PathPart, ...], int]) -> None:
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                index[(*path, key.value)] = key.start_mark.line + 1
                _line_index(value, (*path, key.value), index)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, (*path, position), index)


@dataclass(frozen=True)
class SpecFile:
    """A parsed file: its data, and where each path of it stands in the text."""

    name: str
    data: Any
    lines: Mapping[tuple[PathPart, ...], int]

    def at(self, *path: PathPart) -> Location:
        """The location of `path`, with the line of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return Location(self.name, tuple(path), self.lines.get(probe))

    def schema_errors(self, schema: Mapping[str, Any]) -> list[tuple[Location, str]]:
        """Validate against a JSON Schema; one problem per error, deepest first within a path."""
        validator = jsonschema.Draft202012Validator(schema)
        problems = []
        for error in sorted(validator.iter_errors(self.data), key=lambda e: list(map(str, e.absolute_path))):
            problems.append((self.at(*error.absolute_path), _describe(error)))
        return problems


def _describe(error: jsonschema.ValidationError) -> str:
    # `oneOf`/`anyOf` failures say little by themselves; the best sub-error says more.
    best = jsonschema.exceptions.best_match([error, *error.context]) if error.context else error
    message = str(best.message)
    if len(message) > 300:
        message = message[:297] + "..."
    return message


# libyaml's loader when PyYAML was built with it: the spec is parsed on every run, and the
# pure-Python parser spends most of a small run's start-up on openapi.yaml.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """One parse for both the node tree (line numbers for errors) and the data."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def load_yaml(path: Path, name: str) -> SpecFile:
    """Parse a YAML file, refusing unreadable or malformed text with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([(Location(name), f"cannot read the file: {exc}")]) from None
    try:
        node, data = _compose_and_construct(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([(Location(name, (), line), f"not valid YAML: {problem}")]) from None
    lines: dict[tuple[PathPart, ...], int] = {}
    if node is not None:
        _line_index(node, (), lines)
    return SpecFile(name, data, lines)


def load_json(path: Path, name: str) -> SpecFile:
    """Parse a JSON file (the schemas, Stripe's fragments)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([(Location(name), f"cannot read the file: {exc}")]) from None
    except json.JSONDecodeError as exc:
        raise SpecError([(Location(name, (), exc.lineno), f"not valid JSON: {exc.msg}")]) from None
    return SpecFile(name, data, {})


def iter_pointer(pointer: str) -> Iterator[str]:
    """The unescaped reference tokens of a JSON pointer (RFC 6901)."""
    if pointer in ("", "/"):
        return
    for token in pointer.lstrip("/").split("/"):
        yield token.replace("~1", "/").replace("~0", "~")
