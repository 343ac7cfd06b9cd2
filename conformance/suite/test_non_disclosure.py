"""Non-disclosure (SPT-SEC-008, 010, 012): no card number, CVC or secret anywhere, and test mode
everywhere.

The registered checks already read every response of every test. These tests go further on
purpose: each drives a whole token life (issue, both views with every expansion, a payment, its
charge and clone, a refund, a decline, a refusal, consumption), then reads every response of the
test, every event the parties received about the token, and every webhook delivery this process
has received from the target so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from conformance.cardscan import find_card_data
from conformance.client import Exchange, Journal
from conformance.deliveries import DeliveryLog, mask_uuids
from conformance.endpoints import EVENTS, WEBHOOK_ENDPOINTS
from conformance.events import EventLog
from conformance.scenario import PAYMENT_INTENTS, Scenario
from conformance.scrub import SECRET, find_secrets
from conformance.session import RunState
from conformance.violation import expect, expect_ok

ISSUED_OBJECT = "shared_payment.issued_token"


@dataclass(frozen=True)
class Seen:
    """One text the target produced: a response, an event, or a webhook delivery."""

    where: str
    text: str
    exchange: Exchange | None = None


def full_flow(spt: Scenario, events: EventLog) -> str:
    """Drive a token through its life, touching every object and view; return its id."""
    token = spt.issue(max_amount=1000, shared_metadata={"order": "nondisclosure"}, expand=["risk_details"])
    # Only what Stripe expands: naming a plain sub-hash in expand[] is refused with 400.
    spt.issued(token.id, expand=["risk_details"])
    spt.granted(token.id, expand=["risk_details"])
    intent = expect_ok(
        spt.pay(token.id, 300, expand=["latest_charge", "payment_method"]), "SPT-USE-001", object_type="payment_intent"
    )
    spt.seller.get(f"{PAYMENT_INTENTS}/{intent['id']}", {"expand": ["latest_charge", "payment_method"]})
    clone = intent.get("payment_method")
    clone_id = clone.get("id") if isinstance(clone, Mapping) else clone
    if isinstance(clone_id, str):
        spt.seller.get(f"/v1/payment_methods/{clone_id}")
    spt.seller.post("/v1/refunds", {"payment_intent": intent["id"]})
    spt.pay(token.id, 5000)  # refused: over the headroom
    expect_ok(spt.pay(token.id, 700), "SPT-USE-001", object_type="payment_intent")  # consumes it
    spt.revoke(token.id)  # refused: already deactivated
    if spt.target.agent.declined_payment_method:
        declining = spt.issue_declining(max_amount=1000)
        spt.pay(declining.id, 100)
    if spt.target.has("events"):
        for client in (spt.agent, spt.seller):
            client.get(EVENTS, {"limit": 3})
    if spt.target.has("webhook_endpoints"):
        spt.agent.get(WEBHOOK_ENDPOINTS, {"limit": 3})
    if events.available:
        events.wait_for("agent", "shared_payment.issued_token.deactivated", token.id, requirement="SPT-EVT-003")
        events.wait_for("seller", "shared_payment.granted_token.deactivated", token.id, requirement="SPT-EVT-004")
    return token.id


def everything_seen(journal: Journal, events: EventLog, receiver: DeliveryLog, token_id: str) -> Iterator[Seen]:
    for exchange in list(journal.exchanges):
        yield Seen(exchange.describe(), exchange.response_text, exchange)
    if events.available:
        for role in events.roles:
            for event in events.observed(role):
                if event.object_id == token_id:
                    yield Seen(f"the {event.type} event to the {role}", json.dumps(event.event))
    for delivery in receiver.deliveries():
        text = delivery.body.decode("utf-8", "replace")
        yield Seen(f"a webhook delivery of {delivery.event_id} to the {delivery.role}", text)


@pytest.fixture
def seen(spt: Scenario, events: EventLog, journal: Journal, webhook_receiver: DeliveryLog) -> list[Seen]:
    token_id = full_flow(spt, events)
    return list(everything_seen(journal, events, webhook_receiver, token_id))


def _objects(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


@pytest.mark.requirement("SPT-SEC-008")
@pytest.mark.uses("SPT-USE-001", "SPT-EVT-003", "SPT-EVT-004")  # the flow pays, and waits for its events
def test_no_card_number_or_cvc_in_any_response_event_or_delivery(seen: list[Seen]) -> None:
    for item in seen:
        found = find_card_data(mask_uuids(item.text))  # an idempotency key is no card number
        expect(
            not found,
            "SPT-SEC-008",
            received=f"{', '.join(f'a {f.kind} ({f.hint})' for f in found)} in {item.where}",
            expected="no full card number and no CVC anywhere the target answers or sends",
            tip="share brand, last4 and expiry only; never echo card data",
            exchanges=[item.exchange] if item.exchange else [],
        )


@pytest.mark.requirement("SPT-SEC-010")
@pytest.mark.uses("SPT-USE-001", "SPT-EVT-003", "SPT-EVT-004")  # the flow pays, and waits for its events
def test_no_secret_in_any_response_event_or_delivery(seen: list[Seen], spt_run: RunState) -> None:
    known = set(spt_run.target.secrets()) | set(spt_run.context.secrets)
    for item in seen:
        exchange = item.exchange
        creation = exchange is not None and exchange.method == "POST" and exchange.path.rstrip("/") == WEBHOOK_ENDPOINTS
        for finding in find_secrets(item.text, known):
            value = item.text[finding.start : finding.end]
            if creation and value.startswith("whsec_"):
                continue  # the creation response is where the signing secret belongs
            expect(
                not (SECRET.fullmatch(value) or value in known),
                "SPT-SEC-010",
                received=f"a secret ({finding.hint}) in {item.where}",
                expected="no secret key anywhere; a webhook secret only in its endpoint's creation response",
                exchanges=[exchange] if exchange else [],
            )


@pytest.mark.requirement("SPT-SEC-012")
@pytest.mark.uses("SPT-USE-001", "SPT-EVT-003", "SPT-EVT-004")  # the flow pays, and waits for its events
def test_everything_made_with_test_keys_is_livemode_false(seen: list[Seen]) -> None:
    for item in seen:
        try:
            body = json.loads(item.text)
        except ValueError:
            continue
        live = [
            f"{o.get('object')} {o.get('id')} with livemode {o.get('livemode')!r}"
            for o in _objects(body)
            if "livemode" in o and o.get("livemode") is not False
        ]
        expect(
            not live,
            "SPT-SEC-012",
            received=f"{', '.join(live)} in {item.where}",
            expected="livemode false on every object made or read with a test-mode key",
            exchanges=[item.exchange] if item.exchange else [],
        )
