"""Expected failures: known gaps a target may declare, each with a reason and an expiry date.

A CI gate that must go green before every requirement holds lists the ones it knows it breaks:

    - id: SPT-USE-013
      reason: partial captures land in release 4.2 (JIRA PAY-812)
      expires: 2026-09-30

Rules, in the spirit of pytest's `xfail_strict` and Kubernetes' ignored-failure lists:

- the file itself must be right: every entry names a known requirement, once, with a reason and a
  YYYY-MM-DD date; anything else is a usage error (exit 2) before a single request is made;
- a broken requirement with a valid, unexpired entry is reported as EXPECTED and does not fail
  the run;
- an expired entry is not applied (the failure counts again) and is reported as expired;
- an entry whose requirement now passes is stale: it is reported and fails the run, so the list
  shrinks as the target improves instead of hiding regressions later;
- an entry whose requirement was skipped or not selected is reported as unused, harmlessly.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from conformance.catalog import Catalogue
from conformance.verdicts import RequirementResult, Verdict

__all__ = [
    "EntryStatus",
    "ExpectedFailure",
    "ExpectedFailuresError",
    "ExpectedOutcome",
    "apply_expected_failures",
    "load_expected_failures",
    "parse_expected_failures",
]

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_FIELDS = {"id", "reason", "expires"}
# The verdicts of a requirement that was checked and found broken (softened or not).
_BROKEN = (Verdict.FAILED, Verdict.WARNING, Verdict.INFO)


class ExpectedFailuresError(Exception):
    """The expected-failures file is wrong; the CLI exits with 2 and this message."""


@dataclass(frozen=True)
class ExpectedFailure:
    requirement: str
    reason: str
    expires: dt.date


class EntryStatus(enum.StrEnum):
    APPLIED = "applied"  # the requirement is broken, as declared: reported as EXPECTED
    EXPIRED = "expired"  # past its date: not applied, the failure counts
    STALE = "stale"  # the requirement now passes: the entry must go (fails the run)
    UNUSED = "unused"  # the requirement was skipped or not selected in this run


@dataclass(frozen=True)
class ExpectedOutcome:
    entry: ExpectedFailure
    status: EntryStatus
    message: str

    @property
    def fails_run(self) -> bool:
        return self.status is EntryStatus.STALE


def _date(value: Any, where: str) -> dt.date:
    # YAML reads an unquoted 2026-09-30 as a date already; a quoted one is a string.
    if isinstance(value, dt.datetime):
        raise ExpectedFailuresError(f"{where}: expires must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ExpectedFailuresError(f"{where}: expires must be a date written YYYY-MM-DD, got {value!r}")


def parse_expected_failures(data: Any, source: str, catalogue: Catalogue) -> tuple[ExpectedFailure, ...]:
    """Validate the parsed YAML of an expected-failures file against the catalogue."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ExpectedFailuresError(
            f"{source} must be a YAML list of entries like `- {{id: SPT-USE-013, reason: why, expires: 2026-09-30}}`"
        )
    entries: list[ExpectedFailure] = []
    seen: dict[str, int] = {}
    for position, item in enumerate(data):
        where = f"{source}: entry {position + 1}"
        if not isinstance(item, dict):
            raise ExpectedFailuresError(f"{where} must be a mapping with id, reason and expires")
        unknown = sorted(str(k) for k in set(item) - _FIELDS)
        if unknown:
            raise ExpectedFailuresError(
                f"{where} has unknown field(s) {', '.join(unknown)}; allowed: expires, id, reason"
            )
        requirement = item.get("id")
        if not isinstance(requirement, str) or not requirement:
            raise ExpectedFailuresError(f"{where} has no id: name one requirement, such as SPT-USE-013")
        where = f"{source}: {requirement}"
        if requirement not in catalogue:
            raise ExpectedFailuresError(
                f"{where} is not a requirement ID (see `spt-conformance spec requirements`); globs are not allowed here"
            )
        if catalogue[requirement].withdrawn is not None:
            raise ExpectedFailuresError(f"{where} is withdrawn ({catalogue[requirement].withdrawn}): remove the entry")
        if requirement in seen:
            raise ExpectedFailuresError(f"{where} is listed twice (entries {seen[requirement]} and {position + 1})")
        seen[requirement] = position + 1
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ExpectedFailuresError(f"{where} has no reason: say why the failure is expected and who fixes it")
        if "expires" not in item:
            raise ExpectedFailuresError(f"{where} has no expires date (YYYY-MM-DD): every expected failure must end")
        entries.append(ExpectedFailure(requirement, " ".join(reason.split()), _date(item["expires"], where)))
    return tuple(entries)


def load_expected_failures(path: Path, catalogue: Catalogue) -> tuple[ExpectedFailure, ...]:
    try:
        with path.open(encoding="utf-8") as stream:  # a stream, so YAML errors name the file
            data = yaml.safe_load(stream)
    except OSError as exc:
        raise ExpectedFailuresError(f"cannot read the expected-failures file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ExpectedFailuresError(f"{path} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except yaml.YAMLError as exc:
        raise ExpectedFailuresError(f"{path} is not valid YAML: {exc}") from None
    return parse_expected_failures(data, str(path), catalogue)


def apply_expected_failures(
    results: Sequence[RequirementResult], entries: Iterable[ExpectedFailure], today: dt.date
) -> tuple[list[RequirementResult], list[ExpectedOutcome]]:
    """Results with the applicable entries turned into EXPECTED verdicts, and what became of each entry."""
    by_id = {r.requirement.id: index for index, r in enumerate(results)}
    updated = list(results)
    outcomes: list[ExpectedOutcome] = []
    for entry in entries:
        index = by_id.get(entry.requirement)
        result = updated[index] if index is not None else None
        if entry.expires < today:
            message = f"expired on {entry.expires}: not applied, the failure counts; fix it or renew the entry"
            outcomes.append(ExpectedOutcome(entry, EntryStatus.EXPIRED, message))
        elif result is None:
            outcomes.append(ExpectedOutcome(entry, EntryStatus.UNUSED, "not selected in this run"))
        elif result.verdict is Verdict.PASSED:
            message = "now passes: remove the entry (a stale expected failure would hide a future regression)"
            outcomes.append(ExpectedOutcome(entry, EntryStatus.STALE, message))
        elif result.verdict in _BROKEN:
            assert index is not None
            note = f"expected failure until {entry.expires}: {entry.reason} (otherwise {result.verdict})"
            updated[index] = replace(result, verdict=Verdict.EXPECTED, note=note)
            outcomes.append(ExpectedOutcome(entry, EntryStatus.APPLIED, f"applied ({result.verdict} otherwise)"))
        else:
            outcomes.append(ExpectedOutcome(entry, EntryStatus.UNUSED, f"not checked in this run: {result.note}"))
    return updated, outcomes
