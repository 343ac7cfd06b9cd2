"""Idempotency keys: replays, mismatches, per-account scope, in-flight conflicts, what is saved."""

from __future__ import annotations

import threading

import httpx
import pytest

from reference_impl.errors import Conflict
from reference_impl.idempotency import InFlight, fingerprint
from tests.reference_impl.conftest import World


def _pay_form(token_id: str, amount: int = 100) -> dict[str, str]:
    return {
        "amount": str(amount),
        "currency": "usd",
        "confirm": "true",
        "payment_method_data[shared_payment_granted_token]": token_id,
    }


def test_replay_same_key_same_params_returns_saved_response_once(world: World) -> None:
    token = world.issue()
    headers = {"Idempotency-Key": "pay-once-1"}
    first = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id), headers=headers)
    second = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert first.headers["Request-Id"] != second.headers["Request-Id"]
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert issued.usage_details.amount_captured.value == 100
    used = [
        e
        for e in world.agent.http.get("/v1/events", params={"type": "shared_payment.issued_token.used"}).json()["data"]
        if e["data"]["object"]["id"] == token.id
    ]
    assert len(used) == 1


def test_replay_same_key_other_params_is_idempotency_error(world: World) -> None:
    token = world.issue()
    headers = {"Idempotency-Key": "pay-twice-2"}
    world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id, 100), headers=headers)
    other = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id, 200), headers=headers)
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id).usage_details.amount_captured.value == 100


def test_replay_declined_payment_returns_same_402(world: World) -> None:
    token = world.issue(payment_method="pm_card_chargeDeclined")
    headers = {"Idempotency-Key": "decline-3"}
    first = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id), headers=headers)
    second = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id), headers=headers)
    assert first.status_code == second.status_code == 402
    assert first.content == second.content


def test_keys_are_scoped_per_account(world: World) -> None:
    headers = {"Idempotency-Key": "shared-key-4"}
    form = {"url": "http://127.0.0.1:9/hook", "enabled_events[0]": "*"}
    one = world.seller.http.post("/v1/webhook_endpoints", data=form, headers=headers)
    two = world.other.http.post("/v1/webhook_endpoints", data=form, headers=headers)
    assert one.status_code == two.status_code == 200
    assert one.json()["id"] != two.json()["id"]
    assert "Idempotent-Replayed" not in two.headers


def test_refused_request_saves_nothing_so_corrected_retry_executes(world: World) -> None:
    token = world.issue()
    headers = {"Idempotency-Key": "fix-and-retry-5"}
    bad = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id, 5000), headers=headers)
    assert bad.status_code == 400
    invalid = world.seller.http.post("/v1/payment_intents", data={"amount": "x", "currency": "usd"}, headers=headers)
    assert invalid.status_code == 400
    good = world.seller.http.post("/v1/payment_intents", data=_pay_form(token.id, 50), headers=headers)
    assert good.status_code == 200
    assert "Idempotent-Replayed" not in good.headers


def test_key_longer_than_255_is_refused(world: World) -> None:
    response = world.agent.http.post(
        "/v1/test_helpers/shared_payment/clock/advance", data={"seconds": "1"}, headers={"Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 400
    assert (
        world.agent.http.post(
            "/v1/test_helpers/shared_payment/clock/advance",
            data={"seconds": "1"},
            headers={"Idempotency-Key": "k" * 255},
        ).status_code
        == 200
    )


def test_concurrent_duplicates_execute_at_most_once(world: World) -> None:
    token = world.issue()
    statuses: list[int] = []
    bodies: set[bytes] = set()
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def post() -> None:
        with httpx.Client(base_url=world.server.base_url, auth=(world.seller.key, ""), timeout=10) as client:
            barrier.wait()
            response = client.post(
                "/v1/payment_intents", data=_pay_form(token.id), headers={"Idempotency-Key": "race-6"}
            )
        with lock:
            statuses.append(response.status_code)
            if response.status_code == 200:
                bodies.add(response.content)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 409}
    assert len(bodies) == 1
    assert world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id).usage_details.amount_captured.value == 100


def test_in_flight_duplicate_key_is_409_conflict() -> None:
    flight = InFlight()
    flight.claim("acct_1", "k")
    with pytest.raises(Conflict) as caught:
        flight.claim("acct_1", "k")
    assert caught.value.status == 409
    flight.claim("acct_2", "k")  # another account's key is another key
    flight.release("acct_1", "k")
    flight.claim("acct_1", "k")


def test_fingerprint_depends_on_operation_path_and_params() -> None:
    base = fingerprint("Op", None, {"a": "1"})
    assert base == fingerprint("Op", None, {"a": "1"})
    assert base != fingerprint("Op", None, {"a": "2"})
    assert base != fingerprint("Other", None, {"a": "1"})
    assert base != fingerprint("Op", "pi_1", {"a": "1"})
