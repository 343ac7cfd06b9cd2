"""What a run set out to check (`Selection`) and how much of it it verified (`Coverage`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Coverage", "Selection", "grouped"]


@dataclass(frozen=True)
class Selection:
    """Which requirements the run set out to check."""

    selected: int  # requirements selected
    total: int  # active requirements in the catalogue
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    quick: bool = False

    @property
    def full(self) -> bool:
        return self.selected >= self.total and not self.only and not self.skip

    def describe(self) -> str:
        if self.full:
            what = f"all {self.total} requirements"
        else:
            rules = [f"--only {' '.join(self.only)}"] if self.only else []
            rules += [f"--skip {' '.join(self.skip)}"] if self.skip else []
            what = f"{self.selected} of {self.total} requirements ({', '.join(rules)})"
        return what + (", quick profile" if self.quick else "")


@dataclass(frozen=True)
class Coverage:
    """How many of the applicable MUST requirements this run verified, and why not the others."""

    applicable: int  # selected MUST requirements
    verified: int  # of those, judged: passed, or found broken
    skipped: tuple[tuple[str, int], ...] = ()  # (reason, count)
    inconclusive: tuple[tuple[str, int], ...] = ()  # (reason, count)
    unverified: tuple[tuple[str, int], ...] = ()  # (blocking requirement and its verdict, count)

    @property
    def unchecked(self) -> int:
        return sum(n for _, n in (*self.skipped, *self.inconclusive, *self.unverified))

    @property
    def gaps(self) -> int:
        """Applicable MUST requirements left unverified or inconclusive (skipped ones are declared)."""
        return sum(n for _, n in (*self.inconclusive, *self.unverified))

    def describe(self) -> str:
        parts = [f"{self.verified} of {self.applicable} applicable MUST verified"]
        for label, groups in (
            ("skipped", self.skipped),
            ("inconclusive", self.inconclusive),
            ("unverified", self.unverified),
        ):
            count = sum(n for _, n in groups)
            if count:
                reasons = ", ".join(reason if n == count else f"{reason} ({n})" for reason, n in groups[:3])
                more = f" and {len(groups) - 3} other reason(s)" if len(groups) > 3 else ""
                parts.append(f"{count} {label}: {reasons}{more}")
        return "; ".join(parts)


def grouped(reasons: Iterable[str]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
