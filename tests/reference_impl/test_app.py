"""The Stripe wire: authentication, headers, form decoding, errors for malformed input."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from tests.reference_impl.conftest import World

_ISSUE = "/v1/shared_payment/issued_tokens"


def _raw(world: World, method: str, path: str, **kwargs: object) -> httpx.Response:
    with httpx.Client(base_url=world.server.base_url, timeout=10) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


def _issue_form(world: World) -> dict[str, str]:
    return {
        "payment_method": "pm_card_visa",
        "seller_details[network_business_profile]": world.seller.profile,
        "usage_limits[currency]": "usd",
        "usage_limits[max_amount]": "100",
    }


def test_auth_missing_key_is_401_with_stripe_error(world: World) -> None:
    response = _raw(world, "GET", "/v1/events")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key")
    assert response.headers["Request-Id"].startswith("req_")


def test_auth_unknown_key_is_401_and_never_echoed_whole(world: World) -> None:
    key = "sk_test_thisisnotakeyatallabcd"
    response = _raw(world, "GET", "/v1/events", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert message == "Invalid API Key provided: sk_test_****abcd"
    assert key not in response.text


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_auth_basic_and_bearer_are_accepted(world: World, scheme: str) -> None:
    header = (
        "Basic " + base64.b64encode(f"{world.agent.key}:".encode()).decode()
        if scheme == "basic"
        else f"Bearer {world.agent.key}"
    )
    assert _raw(world, "GET", "/v1/events", headers={"Authorization": header}).status_code == 200


@pytest.mark.parametrize("header", ["Basic !!!notbase64", "Digest abc", "Bearer", "Basic Og=="])
def test_auth_garbled_header_is_401(world: World, header: str) -> None:
    assert _raw(world, "GET", "/v1/events", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/foo"), ("DELETE", _ISSUE), ("PUT", "/v1/events"), ("GET", "/"), ("PATCH", "/v1/refunds")],
)
def test_unknown_path_or_method_is_404_unrecognized(world: World, method: str, path: str) -> None:
    response = world.agent.http.request(method, path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(f"Unrecognized request URL ({method}: {path})")
    assert response.headers["Request-Id"].startswith("req_")
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", [f"{_ISSUE}/spt_a%0Ab", f"{_ISSUE}/spt_a%0Db/revoke", "/v1/%00"])
def test_path_with_encoded_control_characters_gets_a_json_404(world: World, path: str) -> None:
    response = world.agent.http.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["Request-Id"].startswith("req_")


def test_stripe_version_is_accepted_and_echoed(world: World) -> None:
    version = "2026-04-22.preview; some_beta=v2"
    response = world.agent.http.get("/v1/events", headers={"Stripe-Version": version})
    assert response.status_code == 200
    assert response.headers["Stripe-Version"] == version
    assert world.agent.http.get("/v1/events").headers["Stripe-Version"] == "2026-10-14.preview"


def test_stripe_account_header_is_refused(world: World) -> None:
    response = world.agent.http.get("/v1/events", headers={"Stripe-Account": "acct_123"})
    assert response.status_code == 400


def test_form_indexed_and_empty_bracket_arrays_are_both_accepted(world: World) -> None:
    token = world.issue()
    for params in ({"expand[]": "risk_details"}, {"expand[0]": "risk_details"}):
        body = world.agent.http.get(f"{_ISSUE}/{token.id}", params=params).json()
        assert "risk_details" in body


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"usage_limits[currency=usd", "application/x-www-form-urlencoded"),
        (b"usage_limits]x=1", "application/x-www-form-urlencoded"),
        (b"payment_method=pm_card_visa&payment_method=pm_card_visa", "application/x-www-form-urlencoded"),
        (b"usage_limits=1&usage_limits[currency]=usd", "application/x-www-form-urlencoded"),
        (b"payment_method=%ff%fe", "application/x-www-form-urlencoded"),
        (b"payment_method=pm\x00card", "application/x-www-form-urlencoded"),
        (b"payment_method=pm%00card", "application/x-www-form-urlencoded"),
        (b'{"payment_method": "pm_card_visa"}', "application/json"),
        (b"a[][b]=1", "application/x-www-form-urlencoded"),
        (b"--x\r\n", "multipart/form-data; boundary=x"),
    ],
)
def test_malformed_body_is_400_stripe_error(world: World, content: bytes, content_type: str) -> None:
    response = world.agent.http.post(_ISSUE, content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "Traceback" not in response.text
    assert response.headers["Request-Id"].startswith("req_")


def test_oversized_body_is_413_stripe_error(world: World) -> None:
    response = world.agent.http.post(_ISSUE, content=b"a=" + b"x" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["Request-Id"].startswith("req_")


def test_oversized_body_answer_closes_the_connection_and_the_next_request_is_served(world: World) -> None:
    response = world.agent.http.post(_ISSUE, content=b"a=" + b"x" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert response.headers["Connection"] == "close"  # its body was never read
    assert world.agent.http.get("/v1/test_helpers/shared_payment/clock").status_code == 200


def test_body_left_unread_by_an_early_refusal_is_not_taken_for_the_next_head(world: World) -> None:
    # An unknown path is refused before its body is read; the half MiB still arriving on the same
    # keep-alive connection after the answer is that body, not a request head over the 16 KiB limit.
    refused = world.agent.http.post("/v1/no_such_resource", content=b"a=" + b"x" * 512 * 1024)
    assert refused.status_code == 404
    for _ in range(2):
        following = world.agent.http.get("/v1/test_helpers/shared_payment/clock")
        assert following.status_code == 200, following.text


def test_unknown_parameter_is_refused_with_its_name(world: World) -> None:
    response = world.agent.http.post(_ISSUE, data={**_issue_form(world), "usage_limits[foo]": "1"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Received unknown parameter: usage_limits[foo]"
    assert error["param"] == "usage_limits[foo]"


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("usage_limits[max_amount]", "ten", "usage_limits[max_amount]"),
        ("usage_limits[expires_at]", "1.5", "usage_limits[expires_at]"),
        ("use_stripe_sdk", "yes", "use_stripe_sdk"),
        ("setup_future_usage", "off_session", "setup_future_usage"),
    ],
)
def test_wrong_type_is_400_naming_param(world: World, field: str, value: str, param: str) -> None:
    response = world.agent.http.post(_ISSUE, data={**_issue_form(world), field: value})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


@pytest.mark.parametrize("missing", ["payment_method", "usage_limits[currency]", "usage_limits[max_amount]"])
def test_missing_required_parameter_is_400(world: World, missing: str) -> None:
    form = _issue_form(world)
    del form[missing]
    response = world.agent.http.post(_ISSUE, data=form)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == missing


def test_missing_whole_objects_is_400(world: World) -> None:
    response = world.agent.http.post(_ISSUE, data={"payment_method": "pm_card_visa"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "seller_details"


@pytest.mark.parametrize("metadata", ["4242424242424242", "card 4000 0566 5566 5556 no", "x:4000056655665556;y"])
def test_card_number_in_a_parameter_is_refused_without_echo(world: World, metadata: str) -> None:
    digits = "".join(c for c in metadata if c.isdigit())
    response = world.agent.http.post(_ISSUE, data={**_issue_form(world), "shared_metadata[note]": metadata})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "shared_metadata[note]"
    assert digits not in response.text


def test_card_number_in_a_path_is_not_echoed(world: World) -> None:
    for path in ("/v1/payment_intents/4242424242424242", "/v1/nothing/4242424242424242"):
        response = world.seller.http.get(path)
        assert response.status_code in (400, 404)
        assert "4242424242424242" not in response.text


def test_responses_carry_request_id_and_json(world: World) -> None:
    ids = set()
    for response in (
        world.agent.http.get("/v1/events"),
        world.agent.http.get(f"{_ISSUE}/spt_missing"),
        world.agent.http.post(_ISSUE, data={}),
    ):
        assert response.headers["Content-Type"].startswith("application/json")
        ids.add(response.headers["Request-Id"])
    assert len(ids) == 3


def test_deeply_nested_parameter_is_400_not_500(world: World) -> None:
    response = world.agent.http.post(_ISSUE, content=b"shared_metadata" + b"[a]" * 3000 + b"=1")
    assert response.status_code == 400


def test_clock_cannot_pass_year_9999(fresh: Callable[..., World]) -> None:
    world = fresh()
    response = world.agent.http.post(
        "/v1/test_helpers/shared_payment/clock/advance", data={"seconds": str(100 * 366 * 86_400)}
    )
    assert response.status_code == 200
    for _ in range(90):
        last = world.agent.http.post(
            "/v1/test_helpers/shared_payment/clock/advance", data={"seconds": str(100 * 366 * 86_400)}
        )
        assert last.status_code in (200, 400)
    assert last.status_code == 400
    token = world.issue(usage_limits={"expires_at": None, "recurring": {"interval": "month", "interval_count": 1000}})
    assert world.agent.http.get(f"{_ISSUE}/{token.id}").status_code == 200


_CARD = "4000056655665556"


@pytest.mark.parametrize(
    ("where", "form", "headers"),
    [
        ("parameter name", {_CARD: "1"}, {}),
        ("metadata key", {f"shared_metadata[{_CARD}]": "x"}, {}),
        ("metadata value", {"shared_metadata[note]": "4000 0566 5566 5556"}, {}),
        ("Idempotency-Key", {}, {"Idempotency-Key": _CARD}),
        ("Stripe-Version", {}, {"Stripe-Version": _CARD}),
    ],
)
def test_card_number_anywhere_in_a_request_is_refused_never_echoed_nor_in_an_event(
    world: World, where: str, form: dict[str, str], headers: dict[str, str]
) -> None:
    """D-37: a card number in a name, a value or a header is refused with 400; neither the answer
    nor any event carries it."""
    response = world.agent.http.post(_ISSUE, data={**_issue_form(world), **form}, headers=headers)
    assert response.status_code == 400, where
    assert response.json()["error"]["type"] == "invalid_request_error"
    shown = response.text + " ".join(response.headers.values())
    assert _CARD not in shown.replace(" ", "").replace("-", "")
    events = world.agent.http.get("/v1/events", params={"limit": 100}).text
    assert _CARD not in events


def test_empty_idempotency_key_is_refused_not_shared(world: World) -> None:
    """D-39: an empty key would make every request that sends one a replay of the first."""
    response = world.agent.http.post(_ISSUE, data=_issue_form(world), headers={"Idempotency-Key": ""})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
    assert "Idempotency-Key" not in response.headers


@pytest.mark.parametrize("version", ["latest", "2026-10-14.preview ; x", "2026-10-14.preview" + "v" * 190])
def test_malformed_stripe_version_is_refused_and_answered_with_the_default(world: World, version: str) -> None:
    """D-38: only an API version is echoed; anything else is refused without repeating it."""
    response = world.agent.http.get("/v1/events", headers={"Stripe-Version": version})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Stripe-Version"
    assert response.headers["Stripe-Version"] == "2026-10-14.preview"
    assert version not in response.text


@pytest.mark.parametrize("amount", ["１０００", "١٠٠٠", "1٠٠٠", "¹"])
def test_non_ascii_digits_are_not_an_integer(world: World, amount: str) -> None:
    response = world.agent.http.post(_ISSUE, data={**_issue_form(world), "usage_limits[max_amount]": amount})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "usage_limits[max_amount]"
