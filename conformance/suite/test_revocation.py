"""Revocation (SPT-REV-*): the agent (or, in test mode, the seller's helper) ends a token for good.

A revoked token reads `status: deactivated` with `deactivated_reason: revoked` on both views,
refuses every payment, and its deactivation never changes again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from conformance.scenario import Scenario
from conformance.violation import expect, expect_decision, expect_equal, expect_ok, expect_refused

ISSUED_OBJECT = "shared_payment.issued_token"
GRANTED_OBJECT = "shared_payment.granted_token"
# How far the deactivation time may stray from the moments read around the revoke, in seconds:
# whole-second clocks, and the local estimate of a target without the clock extension.
SLACK = 2


def deactivation(view: Mapping[str, Any]) -> dict[str, Any]:
    """The two fields that record a deactivation, on either view."""
    return {name: view.get(name) for name in ("deactivated_at", "deactivated_reason")}


def revoked(spt: Scenario, token_id: str) -> dict[str, Any]:
    """Revoke as set-up for a test; a failed revoke is SPT-REV-001's."""
    return expect_ok(spt.revoke(token_id), "SPT-REV-001", object_type=ISSUED_OBJECT)


@pytest.mark.requirement("SPT-REV-001")
def test_revoke_answers_token_deactivated_now_as_revoked(spt: Scenario) -> None:
    token = spt.issue()
    before = spt.clock.now()
    exchange = spt.revoke(token.id)
    after = spt.clock.now()
    body = expect_ok(exchange, "SPT-REV-001", object_type=ISSUED_OBJECT)
    expect_equal(body.get("id"), token.id, "SPT-REV-001", what="id", exchanges=[exchange])
    expect_equal(
        body.get("deactivated_reason"), "revoked", "SPT-REV-001", what="deactivated_reason", exchanges=[exchange]
    )
    at = body.get("deactivated_at")
    expect(
        isinstance(at, int) and before - SLACK <= at <= after + SLACK,
        "SPT-REV-001",
        received=f"deactivated_at = {at!r}",
        expected=f"the time of the revocation, between {before} and {after} by the target's clock",
        tip="stamp deactivated_at with the server's now when the revoke executes",
        exchanges=[exchange],
    )


@pytest.mark.requirement("SPT-REV-002")
@pytest.mark.uses("SPT-REV-001")
def test_revoke_status_is_deactivated_not_revoked(spt: Scenario) -> None:
    token = spt.issue()
    body = revoked(spt, token.id)
    expect_equal(
        body.get("status"),
        "deactivated",
        "SPT-REV-002",
        what="status in the revoke answer",
        tip='status is active | requires_action | deactivated; "revoked" is the deactivated_reason (D-03)',
    )
    expect_equal(spt.read_issued(token.id).get("status"), "deactivated", "SPT-REV-002", what="status read back")


@pytest.mark.requirement("SPT-REV-003")
@pytest.mark.uses("SPT-REV-001")
def test_revoke_then_pay_is_refused_and_captures_nothing(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    spt.pay_ok(token.id, 300)
    revoked(spt, token.id)
    spt.expect_use_refused(spt.pay(token.id, 100), token.id, "SPT-REV-003", captured=300)


@pytest.mark.requirement("SPT-REV-004")
@pytest.mark.uses("SPT-REV-001")
def test_revoke_shows_on_granted_view(spt: Scenario) -> None:
    token = spt.issue()
    revoked(spt, token.id)
    granted = spt.read_granted(token.id)
    expect_equal(granted.get("deactivated_reason"), "revoked", "SPT-REV-004", what="granted deactivated_reason")
    expect(
        isinstance(granted.get("deactivated_at"), int),
        "SPT-REV-004",
        received=f"granted deactivated_at = {granted.get('deactivated_at')!r}",
        expected="the time of the revocation",
    )


@pytest.mark.requirement("SPT-REV-005")
@pytest.mark.uses("SPT-REV-001", "SPT-REV-003")
def test_revoke_twice_is_refused_and_changes_nothing(spt: Scenario) -> None:
    token = spt.issue()
    revoked(spt, token.id)
    before = spt.read_issued(token.id)
    exchange = spt.revoke(token.id)
    expect_decision(
        400 <= exchange.status < 500 and exchange.error is not None,
        "SPT-REV-005",
        received=f"{exchange.status} {exchange.response_text[:200]}",
        expected="a 4xx Stripe error: a deactivated token cannot be revoked again (D-28)",
        exchanges=[exchange],
    )
    after = spt.read_issued(token.id)
    expect_equal(after, before, "SPT-REV-005", what="the issued token after the second revoke", exchanges=[exchange])
    # Refused or answered 200 (a choice Stripe leaves open), what Stripe documents holds either way:
    # a revoked token cannot be spent.
    spt.expect_use_refused(spt.pay(token.id, 100), token.id, "SPT-REV-003", captured=0)


@pytest.mark.requirement("SPT-REV-005")
def test_revoke_consumed_token_is_refused_and_changes_nothing(spt: Scenario) -> None:
    token = spt.issue(max_amount=500)
    spt.pay_ok(token.id, 500)
    before = spt.read_issued(token.id)
    exchange = spt.revoke(token.id)
    expect_refused(exchange, "SPT-REV-005", tip="a consumed token is already deactivated (D-28)")
    after = spt.read_issued(token.id)
    expect_equal(after, before, "SPT-REV-005", what="the issued token after the revoke", exchanges=[exchange])


@pytest.mark.requirement("SPT-REV-006")
def test_deactivation_of_consumed_token_never_changes(spt: Scenario) -> None:
    token = spt.issue(max_amount=500)
    spt.pay_ok(token.id, 500)
    first = deactivation(spt.read_issued(token.id))
    spt.revoke(token.id)  # refused or not (that is SPT-REV-005), it may not rewrite the reason
    spt.pay(token.id, 100)
    for view in spt.views(token.id):
        expect_equal(
            deactivation(view),
            first,
            "SPT-REV-006",
            what=f"{view.get('object')} deactivation after a revoke and a payment were attempted",
            tip="the first deactivation wins: write deactivated_at/deactivated_reason only when they are null",
        )


@pytest.mark.requirement("SPT-REV-006")
@pytest.mark.uses("SPT-REV-001")
def test_deactivation_of_revoked_token_survives_its_expiry(spt: Scenario) -> None:
    token = spt.issue_expiring()
    assert token.expires_at is not None
    exchange = spt.revoke(token.id)
    if exchange.status != 200:
        spt.skip_if_passed(token.expires_at, "before the revoke")
    expect_ok(exchange, "SPT-REV-001", object_type=ISSUED_OBJECT)
    first = deactivation(spt.read_issued(token.id))
    spt.clock.pass_beyond(token.expires_at)
    for view in spt.views(token.id):
        expect_equal(
            deactivation(view),
            first,
            "SPT-REV-006",
            what=f"{view.get('object')} deactivation once expires_at has passed",
            tip="a revoked token does not expire later: expiry applies only to tokens still undeactivated",
        )


@pytest.mark.requirement("SPT-REV-007")
@pytest.mark.uses("SPT-GRT-009")
def test_test_helper_revoke_deactivates_granted_token(spt: Scenario) -> None:
    created = spt.test_helper_grant()
    token_id = str(expect_ok(created, "SPT-GRT-009", object_type=GRANTED_OBJECT).get("id"))
    exchange = spt.test_helper_revoke(token_id)
    body = expect_ok(exchange, "SPT-REV-007", object_type=GRANTED_OBJECT)
    expect_equal(
        body.get("deactivated_reason"), "revoked", "SPT-REV-007", what="deactivated_reason", exchanges=[exchange]
    )
    granted = spt.read_granted(token_id)
    expect_equal(granted.get("deactivated_reason"), "revoked", "SPT-REV-007", what="deactivated_reason read back")
    expect(
        isinstance(granted.get("deactivated_at"), int),
        "SPT-REV-007",
        received=f"deactivated_at = {granted.get('deactivated_at')!r}",
        expected="deactivated_at set",
    )


@pytest.mark.requirement("SPT-REV-008")
def test_test_helper_revoke_of_issued_token_shows_to_agent_and_blocks_payment(spt: Scenario) -> None:
    token = spt.issue(max_amount=1000)
    exchange = spt.test_helper_revoke(token.id)
    expect_ok(
        exchange,
        "SPT-REV-008",
        object_type=GRANTED_OBJECT,
        tip="the test-helper revoke works on any token granted to the caller, an agent's included (D-29)",
    )
    issued = spt.read_issued(token.id)
    expect_equal(
        (issued.get("status"), issued.get("deactivated_reason")),
        ("deactivated", "revoked"),
        "SPT-REV-008",
        what="the agent's (status, deactivated_reason)",
    )
    spt.expect_use_refused(spt.pay(token.id, 100), token.id, "SPT-REV-008", captured=0)
