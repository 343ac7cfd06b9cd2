"""The webhook receiver: its signature check agrees with the official SDK, and it records and
answers deliveries as configured."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.cassettes.replay_receiver import REPLAY_BASE_URL, ReplayReceiver
from conformance.checks import CheckContext
from conformance.receiver import Delivery, Receiver, mask_uuids, scan_delivery, sign, verify_signature

SECRET = "whsec_test_secret_0123456789"
BODY = json.dumps({"id": "evt_1", "object": "event", "data": {"object": {"id": "spt_1"}}})


def sdk_verdict(body: str, header: str | None, secret: str, tolerance: int = 300) -> tuple[bool, str]:
    """What stripe.Webhook.construct_event (stripe==16.1.0a4) makes of a delivery."""
    try:
        stripe.Webhook.construct_event(body, header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        return False, str(exc)
    return True, ""


def sdk_header_verdict(body: str, header: str, secret: str) -> bool:
    """The SDK's header check alone, for bodies that are not JSON events."""
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, 300)
    except stripe.SignatureVerificationError:
        return False
    return True


def headers_to_compare() -> dict[str, tuple[str, str | None, str]]:
    now = int(time.time())
    good = sign(BODY, SECRET, now)
    good_hex = good.split("v1=")[1]
    return {
        "valid": (BODY, good, SECRET),
        "tampered body": (BODY.replace("spt_1", "spt_2"), good, SECRET),
        "wrong secret": (BODY, good, "whsec_another_secret"),
        "stale timestamp": (BODY, sign(BODY, SECRET, now - 301), SECRET),
        "just within tolerance": (BODY, sign(BODY, SECRET, now - 290), SECRET),
        "future timestamp": (BODY, sign(BODY, SECRET, now + 3600), SECRET),
        "second v1 matches": (BODY, f"t={now},v1={'0' * 64},v1={good_hex}", SECRET),
        "no v1 matches": (BODY, f"t={now},v1={'0' * 64},v1={'f' * 64}", SECRET),
        "only v0": (BODY, f"t={now},v0={good_hex}", SECRET),
        "no timestamp": (BODY, f"v1={good_hex}", SECRET),
        "timestamp not a number": (BODY, f"t=soon,v1={good_hex}", SECRET),
        "bare t item": (BODY, f"t={now},t,v1={good_hex}", SECRET),
        "bare v1 item": (BODY, f"t={now},v1", SECRET),
        "v1 value with equals": (BODY, f"t={now},v1={good_hex}=x", SECRET),
        "empty header": (BODY, "", SECRET),
        "missing header": (BODY, None, SECRET),
        "blank secret": (BODY, good, "  "),
        "signed with a timestamp the header does not carry": (BODY, good.replace(f"t={now}", f"t={now - 1}"), SECRET),
    }


CASES = headers_to_compare()


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_signature_case_agrees_with_sdk(case: str) -> None:
    body, header, secret = headers_to_compare()[case]
    expected_valid, message = sdk_verdict(body, header, secret)
    verdict = verify_signature(body.encode(), header, secret)
    assert verdict.valid is expected_valid, (case, verdict, message)
    assert message.startswith(verdict.reason)


def test_verify_signature_valid_case_is_valid() -> None:
    # A guard on the table above: it must hold both outcomes, or agreement proves nothing.
    outcomes = {sdk_verdict(*headers_to_compare()[case])[0] for case in CASES}
    assert outcomes == {True, False}


def test_verify_signature_zero_tolerance_ignores_age() -> None:
    header = sign(BODY, SECRET, 1_000_000)
    assert sdk_verdict(BODY, header, SECRET, tolerance=0)[0]
    assert verify_signature(BODY, header, SECRET, tolerance=0).valid


def test_verify_signature_now_judges_age_at_arrival() -> None:
    header = sign(BODY, SECRET, 1_000_000)
    assert verify_signature(BODY, header, SECRET, now=1_000_100).valid
    assert not verify_signature(BODY, header, SECRET, now=1_000_301).valid


def test_sign_matches_sdk_generate_signature_header() -> None:
    assert sign(BODY, SECRET, 1_751_503_000) == stripe.WebhookSignature.generate_signature_header(
        BODY, SECRET, 1_751_503_000
    )


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(max_size=200),
    secret=st.sampled_from([SECRET, "whsec_x", "other"]),
    signer=st.sampled_from([SECRET, "whsec_x", "other"]),
    age=st.integers(min_value=-1000, max_value=1000),
    mutation=st.sampled_from(["none", "extra v1", "drop t", "uppercase", "truncate", "swap scheme"]),
)
def test_verify_signature_property_agrees_with_sdk(
    body: str, secret: str, signer: str, age: int, mutation: str
) -> None:
    header = sign(body, signer, int(time.time()) - age)
    if mutation == "extra v1":
        header += ",v1=" + "a" * 64
    elif mutation == "drop t":
        header = header.split(",", 1)[1]
    elif mutation == "uppercase":
        header = header.upper()
    elif mutation == "truncate":
        header = header[:-3]
    elif mutation == "swap scheme":
        header = header.replace("v1=", "v0=")
    # Keep clear of the tolerance edge, where the two clocks may read a second apart.
    if abs(age - 300) > 2:
        assert verify_signature(body.encode(), header, secret).valid is sdk_header_verdict(body, header, secret)


# ------------------------------------------------------------------ the HTTP side
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


_HTTP = httpx.Client()  # one pool for the module: a client per request would dominate the run time


@pytest.fixture(autouse=True, scope="module")
def _close_pool() -> Iterator[None]:
    yield
    _HTTP.close()


def post(url: str, body: str, secret: str = SECRET, timestamp: int | None = None) -> httpx.Response:
    header = sign(body, secret, int(time.time()) if timestamp is None else timestamp)
    return _HTTP.post(
        url, content=body.encode(), headers={"Stripe-Signature": header, "Content-Type": "application/json"}
    )


def event_body(event_id: str, object_id: str = "spt_1", **extra: object) -> str:
    return json.dumps({"id": event_id, "object": "event", "data": {"object": {"id": object_id, **extra}}})


def test_receiver_signed_delivery_is_recorded_and_verified(receiver: Receiver) -> None:
    url = receiver.register("agent", role="agent", secret=SECRET)
    response = post(url, event_body("evt_a"))
    assert response.status_code == 200
    (delivery,) = receiver.deliveries("agent")
    assert delivery.endpoint == "agent"
    assert delivery.role == "agent"
    assert delivery.body == event_body("evt_a").encode()
    assert delivery.header("stripe-signature") is not None
    assert delivery.signature is not None
    assert delivery.signature.valid
    assert delivery.attempt == 1
    assert delivery.accepted
    assert delivery.event_id == "evt_a"
    assert abs(delivery.received_wall - time.time()) < 5


def test_receiver_wrong_signature_is_recorded_as_invalid(receiver: Receiver) -> None:
    url = receiver.register("agent", role="agent", secret=SECRET)
    post(url, event_body("evt_a"), secret="whsec_wrong")
    (delivery,) = receiver.deliveries()
    assert delivery.signature is not None
    assert not delivery.signature.valid


def test_receiver_secret_learnt_later_verifies_earlier_delivery(receiver: Receiver) -> None:
    url = receiver.register("seller", role="seller")
    post(url, event_body("evt_a"))
    assert receiver.deliveries()[0].signature is None
    receiver.set_secret("seller", SECRET)
    signature = receiver.deliveries()[0].signature
    assert signature is not None
    assert signature.valid


def test_receiver_fail_first_counts_per_event(receiver: Receiver) -> None:
    url = receiver.register("agent", role="agent", secret=SECRET, fail_first=2)
    statuses = [post(url, event_body("evt_a")).status_code for _ in range(3)]
    other = post(url, event_body("evt_b")).status_code
    assert statuses == [500, 500, 200]
    assert other == 500
    assert [d.attempt for d in receiver.deliveries()] == [1, 2, 3, 1]
    assert [d.accepted for d in receiver.deliveries()] == [False, False, True, False]


def test_receiver_configure_delay_answers_late(receiver: Receiver) -> None:
    url = receiver.register("agent", role="agent", secret=SECRET)
    receiver.configure("agent", delay=0.3)
    started = time.monotonic()
    assert post(url, event_body("evt_a")).status_code == 200
    assert time.monotonic() - started >= 0.3
    receiver.configure("agent", delay=0.0, fail_first=1)
    assert post(url, event_body("evt_b")).status_code == 500


def test_receiver_unknown_path_is_404_and_not_recorded(receiver: Receiver) -> None:
    receiver.register("agent", role="agent", secret=SECRET)
    assert _HTTP.post(f"{receiver.base_url}/hooks/nobody", content=b"{}").status_code == 404
    assert _HTTP.post(f"{receiver.base_url}/elsewhere", content=b"{}").status_code == 404
    receiver.unregister("agent")
    assert _HTTP.post(f"{receiver.base_url}/hooks/agent", content=b"{}").status_code == 404
    assert receiver.deliveries() == []


def test_receiver_register_twice_is_refused(receiver: Receiver) -> None:
    receiver.register("agent", role="agent")
    with pytest.raises(ValueError, match="already registered"):
        receiver.register("agent", role="agent")
    with pytest.raises(ValueError, match="one path segment"):
        receiver.register("a/b", role="agent")


def test_receiver_public_url_replaces_loopback_base() -> None:
    with Receiver(public_url="https://hooks.example.test/tunnel/") as running:
        assert running.register("agent", role="agent") == "https://hooks.example.test/tunnel/hooks/agent"
        assert running.base_url.startswith("http://127.0.0.1:")


def test_receiver_wait_wakes_on_delivery(receiver: Receiver) -> None:
    url = receiver.register("agent", role="agent", secret=SECRET)
    sender = threading.Timer(0.1, lambda: post(url, event_body("evt_a")))
    sender.start()
    started = time.monotonic()
    assert receiver.wait(lambda ds: len(ds) == 1, timeout=5)
    assert time.monotonic() - started < 2
    assert not receiver.wait(lambda ds: len(ds) == 2, timeout=0.1)
    sender.join()


def test_receiver_concurrent_deliveries_are_all_kept(receiver: Receiver) -> None:
    url = receiver.register("agent", role="agent", secret=SECRET)
    threads = [threading.Thread(target=post, args=(url, event_body(f"evt_{i}"))) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d.event_id or "" for d in receiver.deliveries()) == sorted(f"evt_{i}" for i in range(20))


def test_scan_delivery_finds_card_numbers_secrets_and_livemode() -> None:
    context = CheckContext()
    context.agent_payment_methods.add("pm_agentoriginal1")

    def scanned(body: str, role: str = "seller") -> set[str]:
        delivery = Delivery("x", role, {}, body.encode(), 0.0, 0.0, 200, 1)
        return {v.requirement for v in scan_delivery(delivery, context)}

    assert scanned(event_body("evt_a")) == set()
    assert scanned(event_body("evt_a", note="4242424242424242")) == {"SPT-SEC-008"}
    assert scanned(event_body("evt_a", note="whsec_abcdefghijkl")) == {"SPT-SEC-010"}
    assert scanned(event_body("evt_a", livemode=True)) == {"SPT-SEC-012"}
    assert scanned(event_body("evt_a", payment_method="pm_agentoriginal1")) == {"SPT-SEC-009"}
    assert scanned(event_body("evt_a", payment_method="pm_agentoriginal1"), role="agent") == set()


def test_receiver_inspect_findings_are_kept_on_the_delivery() -> None:
    context = CheckContext()
    with Receiver(inspect=lambda d: scan_delivery(d, context)) as running:
        url = running.register("seller", role="seller", secret=SECRET)
        post(url, event_body("evt_a", number="4000 0566 5566 5556"))
        (delivery,) = running.deliveries()
    assert [v.requirement for v in delivery.findings] == ["SPT-SEC-008"]


def test_scan_delivery_uuid_with_card_like_digits_is_not_a_card() -> None:
    # The digits of this idempotency key form a Luhn-valid run once the dashes are skipped.
    key = "abcdef12-4242-4242-4242-0006abcdefab"
    delivery = Delivery("x", "agent", {}, event_body("evt_a", request=key).encode(), 0.0, 0.0, 200, 1)
    assert scan_delivery(delivery, CheckContext()) == []
    assert mask_uuids(f"key {key}.") == f"key {'x' * len(key)}."


# ------------------------------------------------------------------ the replay receiver
def recorded(endpoint: str, event_id: str, secret: str = SECRET) -> Delivery:
    body = event_body(event_id).encode()
    now = time.time()
    headers = {"Stripe-Signature": sign(body, secret, int(now))}
    return Delivery(endpoint, "agent", headers, body, time.monotonic(), now, 200, 1)


def test_replay_receiver_holds_what_was_injected_under_this_runs_endpoint_name() -> None:
    receiver = ReplayReceiver()
    receiver.learn_secret("agent-recorded", SECRET)
    receiver.inject([recorded("agent-recorded", "evt_1")])
    (delivery,) = receiver.deliveries()
    assert delivery.signature is not None
    assert delivery.signature.valid
    receiver.alias("agent-recorded", "agent-mine")
    assert [d.endpoint for d in receiver.deliveries()] == ["agent-mine"]
    receiver.inject([recorded("agent-recorded", "evt_2")])  # a later test's: aliased as it arrives
    assert [(d.endpoint, d.event_id) for d in receiver.deliveries()] == [
        ("agent-mine", "evt_1"),
        ("agent-mine", "evt_2"),
    ]
    assert receiver.floor() == 1  # the running test's deliveries begin at the second


def test_replay_receiver_never_blocks_and_listens_nowhere() -> None:
    receiver = ReplayReceiver().start()
    assert receiver.base_url == REPLAY_BASE_URL
    started = time.monotonic()
    assert receiver.wait(lambda deliveries: bool(deliveries), timeout=30) is False
    assert receiver.changes(timeout=30) is False
    assert time.monotonic() - started < 1
    receiver.inject([recorded("x", "evt_1", secret="whsec_other")])
    assert receiver.wait(lambda deliveries: bool(deliveries), timeout=30) is True
