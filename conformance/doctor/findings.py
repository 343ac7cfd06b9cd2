"""What `spt-conformance doctor` found: one sentence per finding, each with its fix, and the exit code."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Diagnosis", "Finding", "Severity"]


class Severity(enum.Enum):
    OK = "ok"  # checked and fine; said so the user knows what was checked
    WARN = "warn"  # the run can go on, but some verdicts will not mean what they seem
    STOP = "stop"  # the server or the accounts cannot give a meaningful certification (exit 3)
    CONFIG = "config"  # the target file itself is wrong; nothing was sent (exit 2)


_LABELS = {Severity.OK: "OK", Severity.WARN: "WARNING", Severity.STOP: "STOP", Severity.CONFIG: "STOP"}


@dataclass(frozen=True)
class Finding:
    check: str  # what was checked: keys, profiles, base_url, server, clock, version, capabilities, webhooks
    severity: Severity
    message: str  # one sentence: what is wrong (or right), and for a problem the fix

    def render(self) -> str:
        return f"  {_LABELS[self.severity]:<8} {self.check}: {self.message}"


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    capabilities: frozenset[str] | None = None  # as detected and resolved; None when not probed

    def add(self, more: Iterable[Finding]) -> Diagnosis:
        return Diagnosis((*self.findings, *more), self.capabilities)

    def with_severity(self, *severities: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity in severities)

    @property
    def stops(self) -> bool:
        return bool(self.with_severity(Severity.STOP, Severity.CONFIG))

    @property
    def exit_code(self) -> int:
        """0 to go on; 2 when the target file is wrong; 3 when the setup cannot certify."""
        if self.with_severity(Severity.CONFIG):
            return 2
        return 3 if self.with_severity(Severity.STOP) else 0

    def render(self, *, problems_only: bool = False) -> str:
        shown = [f for f in self.findings if not problems_only or f.severity is not Severity.OK]
        return "\n".join(f.render() for f in shown)
