"""The requirement catalogue (`spec/requirements.yaml`) as frozen, typed objects.

A requirement is the unit everything reports on: tests name the IDs they prove, verdicts are
given per ID. IDs are stable; this module refuses a catalogue whose IDs are malformed, repeated,
in an unknown area, or whose sources do not resolve.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from conformance.specfile import Location, SpecFile, iter_pointer

__all__ = ["CAPABILITIES", "Basis", "Catalogue", "Level", "Requirement", "build_catalogue"]

# What a target can offer. The first four are declared under `capabilities:` in a target file;
# other_seller and declined_payment_method exist when the target file names them; event_source
# is either way of observing events.
CAPABILITIES = (
    "clock",
    "webhook_endpoints",
    "events",
    "test_helpers",
    "event_source",
    "other_seller",
    "declined_payment_method",
)


class Level(enum.StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


class Basis(enum.StrEnum):
    """What a requirement rests on, which decides how hard its failure counts against a target
    other than the reference server (see `conformance.verdicts`)."""

    DOCUMENTED = "documented"  # a sentence of Stripe's documentation
    OBSERVED = "observed"  # a captured Stripe response, published
    CONVENTION = "convention"  # a Stripe-wide convention, not written down for SPTs
    DECISION = "decision"  # the reference server's choice where Stripe documents nothing (D-NN)


@dataclass(frozen=True)
class Requirement:
    id: str
    level: Level
    statement: str
    source: str
    needs: frozenset[str] = frozenset()
    withdrawn: str | None = None
    basis: Basis = Basis.DOCUMENTED
    evidence: str = ""  # the quoted sentence, the published capture, the convention or the D-NN

    def __post_init__(self) -> None:
        # A `decision:` source is a decision whatever the default said (requirements made in code).
        if self.source.startswith("decision:"):
            object.__setattr__(self, "basis", Basis.DECISION)

    @property
    def area(self) -> str:
        return self.id.split("-")[1]

    @property
    def decision(self) -> str | None:
        """The decision (`D-NN`) this requirement rests on: its source, or the D-NN its evidence names."""
        if self.source.startswith("decision:"):
            return self.source.removeprefix("decision:")
        found = _DECISION.search(self.evidence) if self.basis is Basis.DECISION else None
        return found.group() if found else None


@dataclass(frozen=True)
class Catalogue:
    areas: Mapping[str, str]
    requirements: tuple[Requirement, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", MappingProxyType({r.id: r for r in self.requirements}))

    def __getitem__(self, requirement_id: str) -> Requirement:
        by_id: Mapping[str, Requirement] = self.__dict__["_by_id"]
        return by_id[requirement_id]

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self.__dict__["_by_id"]

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self.requirements)

    def __len__(self) -> int:
        return len(self.requirements)

    @property
    def active(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.withdrawn is None)

    def for_decision(self, decision: str) -> Requirement | None:
        """The active requirement that states decision `D-NN`, if there is one."""
        for requirement in self.requirements:
            if requirement.decision == decision and requirement.withdrawn is None:
                return requirement
        return None

    def matching(self, pattern: str) -> tuple[Requirement, ...]:
        """Requirements selected by an ID glob (`SPT-USE-*`), an exact ID, or an area (`USE`)."""
        if pattern.upper() in self.areas:
            return tuple(r for r in self.requirements if r.area == pattern.upper())
        return tuple(r for r in self.requirements if fnmatch.fnmatchcase(r.id, pattern.upper()))

    def select(self, only: Iterable[str] = (), skip: Iterable[str] = ()) -> frozenset[str]:
        """The IDs chosen by `--only` (all when empty) minus those of `--skip`."""
        only, skip = list(only), list(skip)
        chosen = {r.id for p in only for r in self.matching(p)} if only else {r.id for r in self.active}
        dropped = {r.id for p in skip for r in self.matching(p)}
        return frozenset(chosen - dropped)


_ID = re.compile(r"^SPT-([A-Z]{2,5})-([0-9]{3})$")
_DECISION = re.compile(r"\bD-[0-9]+\b")


def build_catalogue(
    file: SpecFile, decisions: frozenset[str], stripe_openapi: Any
) -> tuple[Catalogue, list[tuple[Location, str]]]:
    """Turn a schema-valid requirements file into a Catalogue, with the cross-file problems.

    `decisions` are the `D-NN` headings of DECISIONS.md; `stripe_openapi` is Stripe's fragment
    document that `stripe-openapi:` sources point into.
    """
    data = file.data
    areas: Mapping[str, str] = data["areas"]
    problems: list[tuple[Location, str]] = []
    seen: dict[str, int] = {}
    requirements = []
    for position, entry in enumerate(data["requirements"]):
        here = ("requirements", position)
        requirement_id = entry["id"]
        match = _ID.match(requirement_id)
        if match and match.group(1) not in areas:
            problems.append(
                (file.at(*here, "id"), f"{requirement_id} names area {match.group(1)!r}, which `areas` does not list")
            )
        if requirement_id in seen:
            problems.append(
                (file.at(*here, "id"), f"{requirement_id} is already used by requirements[{seen[requirement_id]}]")
            )
        seen.setdefault(requirement_id, position)
        source = entry["source"]
        if source.startswith("decision:") and source.removeprefix("decision:") not in decisions:
            problems.append((file.at(*here, "source"), f"{source} has no `## {source[9:]}` heading in DECISIONS.md"))
        if source.startswith("stripe-openapi:") and not _resolves(
            stripe_openapi, source.removeprefix("stripe-openapi:")
        ):
            problems.append(
                (file.at(*here, "source"), f"{source} does not resolve in spec/stripe/stripe-openapi-spt.json")
            )
        requirements.append(
            Requirement(
                id=requirement_id,
                level=Level(entry["level"]),
                statement=" ".join(entry["statement"].split()),
                source=source,
                needs=frozenset(entry.get("needs", ())),
                withdrawn=entry.get("withdrawn"),
                basis=_basis(entry),
                evidence=" ".join(str(entry.get("evidence", "")).split()),
            )
        )
    return Catalogue(MappingProxyType(dict(areas)), tuple(requirements)), problems


def _basis(entry: Mapping[str, Any]) -> Basis:
    """The entry's `basis`; a catalogue written before the field existed gets it from `source`."""
    if "basis" in entry:
        return Basis(entry["basis"])
    return Basis.DECISION if str(entry["source"]).startswith("decision:") else Basis.DOCUMENTED


def _resolves(document: Any, pointer: str) -> bool:
    node = document
    for token in iter_pointer(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False
    return True
