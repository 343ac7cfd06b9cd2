"""Recurring windows: fixed lengths, and calendar months and years clamped to month ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reference_impl.windows import window_index, window_start


def _ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("interval", "count", "offset", "expected"),
    [("hour", 1, 3599, 0), ("hour", 1, 3600, 1), ("day", 2, 2 * 86_400 - 1, 0), ("day", 2, 2 * 86_400, 1),
     ("week", 1, 7 * 86_400 * 3, 3)],
)  # fmt: skip
def test_window_index_fixed_intervals(interval: str, count: int, offset: int, expected: int) -> None:
    assert window_index(1_000_000, interval, count, 1_000_000 + offset) == expected


def test_window_month_end_is_clamped() -> None:
    created = _ts(2026, 1, 31, 12)
    assert window_start(created, "month", 1, 1) == _ts(2026, 2, 28, 12)
    assert window_index(created, "month", 1, _ts(2026, 2, 28, 11, 59)) == 0
    assert window_index(created, "month", 1, _ts(2026, 2, 28, 12)) == 1
    assert window_index(created, "month", 1, _ts(2026, 3, 31, 12)) == 2


def test_window_year_and_multi_month_counts() -> None:
    created = _ts(2024, 2, 29)
    assert window_start(created, "year", 1, 1) == _ts(2025, 2, 28)
    assert window_index(created, "year", 1, _ts(2026, 3, 1)) == 2
    assert window_index(_ts(2026, 1, 15), "month", 3, _ts(2026, 4, 14)) == 0
    assert window_index(_ts(2026, 1, 15), "month", 3, _ts(2026, 4, 15)) == 1
    assert window_index(_ts(2026, 1, 15), "month", 1, _ts(2026, 1, 1)) == 0
