"""The mutant catalogue (mutants.yaml) as values, and how a run is judged against it.

A mutant is the bundled reference server started with one deliberate bug of
reference_impl/faults.py. The suite kills it when every requirement the catalogue says it breaks
gets its failing verdict: FAILED for a MUST, WARNING for a SHOULD (a SHOULD never fails a run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.catalog import Catalogue, Level

__all__ = [
    "CATALOGUE_FILE", "KILL_OPTIONS", "PROFILES", "Mutant", "broken_verdict", "load_mutants", "missed", "selection",
]  # fmt: skip

CATALOGUE_FILE = Path(__file__).resolve().parents[1] / "tests" / "mutants" / "mutants.yaml"
PROFILES = ("quick", "full")
# How the kill runs are made: one seed, so a run is reproducible; few generated examples, since
# the written tests do the killing; a wait for events long enough for the bundled server, which
# delivers in milliseconds, short enough that a missing event costs seconds, not half a minute.
KILL_OPTIONS: Mapping[str, Any] = {"seed": 4242, "max_examples": 5, "max_wait": 3.0}


@dataclass(frozen=True)
class Mutant:
    name: str  # the fault's name in reference_impl/faults.py
    does: str
    breaks: tuple[str, ...]
    also_run: tuple[str, ...] = ()
    profile: str = "full"

    @property
    def only(self) -> tuple[str, ...]:
        """The requirements a kill run selects."""
        return (*self.breaks, *self.also_run)

    @property
    def quick(self) -> bool:
        return self.profile == "quick"


def _ids(entry: Mapping[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{CATALOGUE_FILE.name}: {name}.{key} must be a list of requirement IDs")
    return tuple(value)


def load_mutants(path: Path = CATALOGUE_FILE) -> tuple[Mutant, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutants = []
    for name, entry in data["mutants"].items():
        unknown = set(entry) - {"does", "breaks", "also_run", "profile"}
        if unknown:
            raise ValueError(f"{path.name}: {name} has unknown keys {sorted(unknown)}")
        profile = entry.get("profile", "full")
        if profile not in PROFILES:
            raise ValueError(f"{path.name}: {name}.profile must be one of {PROFILES}")
        mutants.append(
            Mutant(name, str(entry["does"]), _ids(entry, "breaks", name), _ids(entry, "also_run", name), profile)
        )
    return tuple(mutants)


def broken_verdict(level: Level) -> str:
    """The verdict a requirement of `level` gets when a test proves it broken on the reference."""
    return {Level.MUST: "FAILED", Level.SHOULD: "WARNING"}.get(level, "INFO")


def missed(mutant: Mutant, verdicts: Mapping[str, str], catalogue: Catalogue) -> list[str]:
    """The requirements of `mutant.breaks` that the run did not report broken, with what it said."""
    return [
        f"{rid}: {verdicts.get(rid, 'not checked')}"
        for rid in mutant.breaks
        if verdicts.get(rid) != broken_verdict(catalogue[rid].level)
    ]


def selection(mutants: Iterable[Mutant], profile: str) -> tuple[str, ...]:
    """Every requirement the kill runs of `profile` select: what the correct server must pass."""
    chosen: Sequence[str] = [rid for m in mutants if m.profile == profile for rid in m.only]
    return tuple(sorted(set(chosen)))
