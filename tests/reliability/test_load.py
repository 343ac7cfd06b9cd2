"""Sixteen clients issuing, paying, retrieving and revoking at once for $SPT_LOAD_SECONDS
(default 3 s): no server error, no cap exceeded, no payment after a revocation, every event
delivered, memory flat (SPT-USE-006, SPT-REV-003, SPT-ERR-004)."""

from __future__ import annotations

from pathlib import Path

from harness.reliability.load import load_seconds, run_load

MEMORY_GROWTH = 50 * 1024 * 1024  # loose: a leak of a few KB per request would exceed it


def test_load_sixteen_clients_no_5xx_no_cap_exceeded_memory_flat(tmp_path: Path) -> None:
    report = run_load(tmp_path, clients=16, seconds=load_seconds())
    assert report.requests > 100, "the load never got going"
    assert set(report.kinds) == {"issue", "pay", "retrieve", "revoke"}
    assert report.server_errors == 0, report.statuses
    assert report.client_errors == {}, "requests went unanswered (a hang or a reset)"
    assert report.server_errors_logged == 0
    assert report.cap_violations == []
    assert report.capture_mismatches == []
    assert report.paid_after_revoke == []
    assert report.statuses[400] > 0, "the cap never refused a payment: the mix is too gentle to test it"
    assert report.undelivered == 0
    assert report.rss_end - report.rss_start < MEMORY_GROWTH
