"""All of `spec/`, loaded and cross-checked: the one entry point to the specification.

`load_spec()` is what the suite, the CLI and the tests call. It validates each YAML file
against its JSON Schema, then checks what a schema cannot: IDs that exist, decisions that are
written down, operations that the OpenAPI document defines. `check_spec()` adds the full OpenAPI
3.1 validation, which is slower and belongs to `spt-conformance spec check` and the tests.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.catalog import Catalogue, build_catalogue
from conformance.lifecycle.spec import Lifecycle, build_lifecycle
from conformance.resources import spec_dir
from conformance.specfile import Location, SpecError, SpecFile, load_json, load_yaml

__all__ = ["HTTP_METHODS", "Operation", "Spec", "SpecError", "check_spec", "default_spec", "load_spec"]

HTTP_METHODS = ("get", "post", "delete", "put", "patch")
_DECISION_HEADING = re.compile(r"^## (D-[0-9]{2})\b", re.MULTILINE)
ACTORS = ("agent", "seller", "any")


@dataclass(frozen=True)
class Operation:
    """One operation of spec/openapi.yaml, with the party that calls it."""

    operation_id: str
    method: str
    path: str
    actor: str
    extension: bool


@dataclass(frozen=True)
class Spec:
    directory: Path
    catalogue: Catalogue
    lifecycle: Lifecycle
    openapi: Mapping[str, Any]
    operations: Mapping[str, Operation]
    decisions: frozenset[str]
    digest: str  # sha256 over every file of spec/, for manifests and replays


def _spec_files(directory: Path) -> Iterator[Path]:
    yield from sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _digest(directory: Path) -> str:
    sha = hashlib.sha256()
    for path in _spec_files(directory):
        sha.update(path.relative_to(directory).as_posix().encode())
        sha.update(b"\0")
        sha.update(path.read_bytes())
        sha.update(b"\0")
    return sha.hexdigest()


def _operations(file: SpecFile) -> tuple[dict[str, Operation], list[tuple[Location, str]]]:
    operations: dict[str, Operation] = {}
    problems: list[tuple[Location, str]] = []
    paths = file.data.get("paths") if isinstance(file.data, dict) else None
    if not isinstance(paths, dict):
        return operations, [(file.at("paths"), "the document has no `paths` object")]
    for path, item in paths.items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if not isinstance(operation, dict):
                continue
            here = ("paths", path, method)
            operation_id = operation.get("operationId")
            actor = operation.get("x-spt-actor")
            if not isinstance(operation_id, str):
                problems.append((file.at(*here), "operation has no operationId"))
                continue
            if operation_id in operations:
                problems.append((file.at(*here, "operationId"), f"operationId {operation_id!r} is used twice"))
            if actor not in ACTORS:
                problems.append((file.at(*here), f"x-spt-actor must be one of {', '.join(ACTORS)}, not {actor!r}"))
            operations[operation_id] = Operation(
                operation_id, method.upper(), path, str(actor), bool(operation.get("x-spt-extension", False))
            )
    return operations, problems


def load_spec(directory: Path | None = None) -> Spec:
    """Load and cross-check every file of spec/, or raise SpecError listing every problem."""
    directory = directory or spec_dir()
    schemas = directory / "schemas"
    requirements = load_yaml(directory / "requirements.yaml", "spec/requirements.yaml")
    lifecycle_file = load_yaml(directory / "lifecycle.yaml", "spec/lifecycle.yaml")
    openapi = load_yaml(directory / "openapi.yaml", "spec/openapi.yaml")
    stripe = load_json(directory / "stripe" / "stripe-openapi-spt.json", "spec/stripe/stripe-openapi-spt.json")
    requirements_schema = load_json(schemas / "requirements.schema.json", "spec/schemas/requirements.schema.json")
    lifecycle_schema = load_json(schemas / "lifecycle.schema.json", "spec/schemas/lifecycle.schema.json")
    try:
        decisions_text = (directory / "DECISIONS.md").read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([(Location("spec/DECISIONS.md"), f"cannot read the file: {exc}")]) from None
    decisions = frozenset(_DECISION_HEADING.findall(decisions_text))

    # Schema problems first: cross-checks on a malformed file would only add noise.
    problems = requirements.schema_errors(requirements_schema.data) + lifecycle_file.schema_errors(
        lifecycle_schema.data
    )
    if problems:
        raise SpecError(problems)
    operations, operation_problems = _operations(openapi)
    catalogue, catalogue_problems = build_catalogue(requirements, decisions, stripe.data)
    lifecycle, lifecycle_problems = build_lifecycle(
        lifecycle_file, frozenset(r.id for r in catalogue), frozenset(operations)
    )
    problems = operation_problems + catalogue_problems + lifecycle_problems
    if problems:
        raise SpecError(problems)
    return Spec(
        directory=directory,
        catalogue=catalogue,
        lifecycle=lifecycle,
        openapi=openapi.data,
        operations=operations,
        decisions=decisions,
        digest=_digest(directory),
    )


@functools.cache
def default_spec() -> Spec:
    """The shipped specification, loaded once per process."""
    return load_spec()


def check_spec(directory: Path | None = None) -> Spec:
    """load_spec() plus full OpenAPI 3.1 validation; what `spt-conformance spec check` runs."""
    spec = load_spec(directory)
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(dict(spec.openapi))
    except OpenAPIValidationError as exc:
        path = tuple(getattr(exc, "absolute_path", ()) or ())
        raise SpecError([(Location("spec/openapi.yaml", path), f"not valid OpenAPI 3.1: {exc.message}")]) from None
    return spec
