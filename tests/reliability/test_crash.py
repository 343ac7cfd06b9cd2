"""SIGKILL under load loses nothing acknowledged, captures nothing twice, and delivers the pending
webhooks after the restart, signed (SPT-USE-006, SPT-IDM-003, SPT-EVT-009, SPT-EVT-014; D-32:
pending deliveries survive a restart)."""

from __future__ import annotations

from pathlib import Path

from harness.reliability.crash import crash_once


def test_crash_sigkill_mid_load_loses_nothing_and_captures_nothing_twice(tmp_path: Path) -> None:
    report = crash_once(tmp_path, workers=4, load_seconds=1.0, min_acknowledged=21)
    assert report.acknowledged > 20, "the load never got going before the kill"
    assert report.lost == []
    assert report.cap_violations == []
    assert report.capture_mismatches == []
    assert report.server_errors == 0
    assert report.refused_attempts > 0, "no delivery was pending at the kill"
    assert report.undelivered == []
    assert report.bad_signatures == []
