"""The clock extension, expiry (synchronous on advance, by the sweeper, on use) and recurring
windows."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.reference_impl.conftest import World, error_of

Fresh = Callable[..., World]


def _now(world: World) -> int:
    body = world.agent.http.get("/v1/test_helpers/shared_payment/clock").json()
    assert body["object"] == "test_helpers.shared_payment.clock"
    now: int = body["now"]
    return now


def _advance(world: World, seconds: int) -> int:
    response = world.seller.http.post("/v1/test_helpers/shared_payment/clock/advance", data={"seconds": str(seconds)})
    assert response.status_code == 200
    now: int = response.json()["now"]
    return now


def test_clock_get_reports_server_now(fresh: Fresh) -> None:
    world = fresh()
    assert abs(_now(world) - time.time()) < 2


def test_clock_advance_moves_now_and_expires_synchronously(fresh: Fresh) -> None:
    world = fresh(sweep_interval=60)  # the sweeper must not be the one that expires it
    before = _now(world)
    token = world.issue(usage_limits={"expires_at": before + 100})
    assert world.pay(token.id, 10).status == "succeeded"
    after = _advance(world, 150)
    assert after - before >= 150
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert (issued.status, issued.deactivated_reason, issued.deactivated_at) == ("deactivated", "expired", before + 100)
    granted = world.seller.sdk.v1.shared_payment.granted_tokens.retrieve(token.id)
    assert (granted.deactivated_reason, granted.deactivated_at) == ("expired", before + 100)
    err = error_of(lambda: world.pay(token.id, 10))
    assert err.error is not None
    assert err.error.code == "shared_payment_token_expired"
    types = [
        e["type"] for e in world.agent.http.get("/v1/events").json()["data"] if e["data"]["object"]["id"] == token.id
    ]
    assert types == ["shared_payment.issued_token.deactivated", "shared_payment.issued_token.used"]


def test_clock_advance_keeps_unexpired_tokens_usable(fresh: Fresh) -> None:
    world = fresh(sweep_interval=60)
    token = world.issue(usage_limits={"expires_at": _now(world) + 1000})
    _advance(world, 500)
    assert world.pay(token.id, 10).status == "succeeded"


@pytest.mark.parametrize("seconds", [None, "0", "-5", "1.5", "soon"])
def test_clock_advance_invalid_seconds_is_400_and_clock_unmoved(fresh: Fresh, seconds: str | None) -> None:
    world = fresh()
    before = _now(world)
    data = {} if seconds is None else {"seconds": seconds}
    response = world.agent.http.post("/v1/test_helpers/shared_payment/clock/advance", data=data)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert _now(world) - before < 2


def test_sweeper_expires_without_any_call_on_the_token(fresh: Fresh) -> None:
    world = fresh(sweep_interval=0.05)
    expires = int(time.time()) + 2
    token = world.issue(usage_limits={"expires_at": expires})
    deadline = time.monotonic() + 6
    found: list[dict[str, object]] = []
    while time.monotonic() < deadline and not found:
        data = world.seller.http.get("/v1/events", params={"type": "shared_payment.granted_token.deactivated"}).json()
        found = [e for e in data["data"] if e["data"]["object"]["id"] == token.id]
        time.sleep(0.05)
    assert found, "no deactivated event within 4 s of expires_at"
    event = found[0]
    assert event["data"]["object"]["deactivated_at"] == expires  # type: ignore[index]
    assert int(event["created"]) - expires <= 1  # type: ignore[call-overload]


def test_use_after_expiry_notices_it_before_the_sweeper(fresh: Fresh) -> None:
    world = fresh(sweep_interval=60)
    token = world.issue(usage_limits={"expires_at": _now(world) + 50})
    world.server.runtime.service.clock._offset += 60  # time passes without the extension's sweep
    err = error_of(lambda: world.pay(token.id, 10))
    assert err.error is not None
    assert err.error.code == "shared_payment_token_expired"
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert issued.deactivated_reason == "expired"


def test_recurring_window_resets_amount_captured(fresh: Fresh) -> None:
    world = fresh(sweep_interval=60)
    token = world.issue(
        usage_limits={"max_amount": 100, "recurring": {"interval": "hour"}, "expires_at": _now(world) + 10 * 3600}
    )
    assert world.pay(token.id, 100).status == "succeeded"
    issued = world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id)
    assert (issued.status, issued.usage_details.amount_captured.value) == ("active", 100)
    err = error_of(lambda: world.pay(token.id, 1))
    assert err.error is not None
    assert err.error.code == "amount_too_large"
    _advance(world, 3600)
    assert world.agent.sdk.v1.shared_payment.issued_tokens.retrieve(token.id).usage_details.amount_captured.value == 0
    assert world.pay(token.id, 100).status == "succeeded"
