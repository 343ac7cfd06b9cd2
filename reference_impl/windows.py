"""Recurring usage windows (spec/DECISIONS.md D-16).

Windows are anchored at the token's `created` and last `interval_count` intervals. Hours, days
and weeks are fixed lengths; months and years are calendar months and years in UTC, the day of
month clamped (a token created on 31 January starts its next monthly window on the last day of
February). The window index is all the server needs: `amount_captured` belongs to one window
and counts as zero in any later one.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

__all__ = ["INTERVALS", "LEGACY_INTERVALS", "window_index", "window_start"]

INTERVALS = ("hour", "day", "week", "month", "year")
LEGACY_INTERVALS = ("month", "week", "year")
_FIXED = {"hour": 3_600, "day": 86_400, "week": 7 * 86_400}


def _add_months(start: datetime, months: int) -> datetime:
    total = start.month - 1 + months
    year, month = start.year + total // 12, total % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def window_start(created: int, interval: str, count: int, index: int) -> int:
    """Unix time at which window `index` (0 = the one `created` falls in) begins."""
    if interval in _FIXED:
        return created + index * _FIXED[interval] * count
    months = index * count * (12 if interval == "year" else 1)
    anchor = datetime.fromtimestamp(created, UTC)
    return int((_add_months(anchor, months) - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(seconds=1))


def window_index(created: int, interval: str, count: int, now: int) -> int:
    """The index of the window containing `now` (0 before or at creation)."""
    if now <= created:
        return 0
    if interval in _FIXED:
        return (now - created) // (_FIXED[interval] * count)
    step = count * (12 if interval == "year" else 1)
    start, end = datetime.fromtimestamp(created, UTC), datetime.fromtimestamp(now, UTC)
    months = (end.year - start.year) * 12 + (end.month - start.month)
    index = max(months // step, 0)
    # Calendar arithmetic overshoots by at most one window near a boundary; step back.
    while index > 0 and window_start(created, interval, count, index) > now:
        index -= 1
    return index
