"""The embedded server: fast start, a usable target, a clean stop, faults only from code."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reference_impl import start
from reference_impl.faults import KNOWN_FAULTS
from tests.reference_impl.conftest import FAST, World


def test_start_is_fast_and_stop_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    began = time.perf_counter()
    server = start(**FAST)
    assert time.perf_counter() - began < 0.5
    with httpx.Client(base_url=server.base_url) as client:
        assert client.get("/v1/events").status_code == 401
    server.stop()
    time.sleep(0.05)
    assert set(threading.enumerate()) <= before


def test_target_names_the_three_roles_and_all_capabilities() -> None:
    with start(**FAST) as server:
        target = server.target()
        assert target["base_url"] == server.base_url
        assert {a.target_role for a in server.accounts.values()} == {"agent", "seller", "other_seller"}
        assert target["agent"]["secret_key"] == server.accounts["agent"].secret_key
        assert target["other_seller"]["network_business_profile"] == server.accounts["other_seller"].profile
        assert target["capabilities"] == {
            "clock": True,
            "webhook_endpoints": True,
            "events": True,
            "test_helpers": True,
        }
        assert server.accounts["agent"].secret_key not in repr(server.accounts["agent"])


def test_two_servers_have_different_keys() -> None:
    with start(**FAST) as one, start(**FAST) as two:
        assert one.accounts["agent"].secret_key != two.accounts["agent"].secret_key
        assert one.base_url != two.base_url


def test_database_file_keeps_state_across_restarts(tmp_path: Path) -> None:
    db = str(tmp_path / "ref.db")
    with start(db=db, **FAST) as server:
        key, seller = server.accounts["agent"].secret_key, server.accounts["seller"]
        with httpx.Client(base_url=server.base_url, auth=(key, "")) as client:
            token = client.post(
                "/v1/shared_payment/issued_tokens",
                data={"payment_method": "pm_card_visa", "seller_details[network_business_profile]": seller.profile,
                      "usage_limits[currency]": "usd", "usage_limits[max_amount]": "10"},
            ).json()  # fmt: skip
            client.post("/v1/test_helpers/shared_payment/clock/advance", data={"seconds": "100"})
    with start(db=db, **FAST) as again:
        assert again.accounts["agent"].secret_key == key
        with httpx.Client(base_url=again.base_url, auth=(key, "")) as client:
            assert client.get(f"/v1/shared_payment/issued_tokens/{token['id']}").json() == token
            assert client.get("/v1/test_helpers/shared_payment/clock").json()["now"] >= time.time() + 99


def test_unknown_fault_or_tuning_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        start(faults=frozenset({"no_such_bug"}))
    with pytest.raises(TypeError):
        start(no_such_knob=1)


def test_fault_ignore_headroom_lets_a_payment_overdraw(fresh: Callable[..., World]) -> None:
    assert "ignore_headroom" in KNOWN_FAULTS
    world = fresh(faults=frozenset({"ignore_headroom"}))
    token = world.issue(usage_limits={"max_amount": 100})
    assert world.pay(token.id, 150).status == "succeeded"


def test_fault_skip_granted_used_event_drops_only_that_event(fresh: Callable[..., World]) -> None:
    world = fresh(faults=frozenset({"skip_granted_used_event"}))
    token = world.issue()
    world.pay(token.id, 10)
    seller_types = {e["type"] for e in world.seller.http.get("/v1/events").json()["data"]}
    agent_types = {e["type"] for e in world.agent.http.get("/v1/events").json()["data"]}
    assert "shared_payment.granted_token.used" not in seller_types
    assert "shared_payment.issued_token.used" in agent_types
