"""The Scenario helpers send the right requests and judge answers against the right requirement.

The server is faked with httpx.MockTransport: each test says what the fake answers and looks at
what the helper sent or raised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
import pytest

from conformance.client import Journal, StripeClient
from conformance.clock import Clock
from conformance.scenario import Scenario
from conformance.target import Account, Target
from conformance.violation import Violation

AGENT_KEY = "sk_test_agent0000000000000001"
SELLER_KEY = "sk_test_seller000000000000001"
TOKEN = "spt_TestToken000000000001"
NOW = 1_800_000_000


def answer(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"Request-Id": "req_test"})


def issued_view(captured: int | None = 0) -> dict[str, Any]:
    usage = None if captured is None else {"amount_captured": {"value": captured, "currency": "usd"}}
    return {"id": TOKEN, "object": "shared_payment.issued_token", "status": "active", "usage_details": usage}


def refusal(**extra: Any) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": "refused", **extra}}


Route = httpx.Response | Callable[[httpx.Request], httpx.Response]


class FakeServer:
    """Answers by (method, path), with a fixed response or a function; remembers every request."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return answer(404, {"error": {"type": "invalid_request_error", "message": "unrouted"}})
        return route if isinstance(route, httpx.Response) else route(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def scenario(server: FakeServer) -> Scenario:
    http = httpx.Client(transport=httpx.MockTransport(server), base_url="http://spt.test")
    agent_account = Account("agent", AGENT_KEY, payment_method="pm_card_visa")
    seller_account = Account("seller", SELLER_KEY, network_business_profile="profile_test_seller")
    target = Target("fake", "http://spt.test", agent_account, seller_account, capabilities=frozenset({"clock"}))
    journal = Journal()
    agent = StripeClient(http, agent_account, journal)
    seller = StripeClient(http, seller_account, journal)
    return Scenario(target, agent, seller, None, Clock(agent, extension=True, max_wait=1.0))


def key_of(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


# ---------------------------------------------------------------------------- requests sent
def test_create_intent_sends_amount_and_currency_only() -> None:
    server = FakeServer({("POST", "/v1/payment_intents"): answer(200, {"id": "pi_1", "object": "payment_intent"})})
    scenario(server).create_intent(700, currency="eur")
    assert form(server.last) == {"amount": "700", "currency": "eur"}
    assert key_of(server.last) == SELLER_KEY


def test_confirm_posts_nested_token_to_confirm_path() -> None:
    server = FakeServer({("POST", "/v1/payment_intents/pi_1/confirm"): answer(200, {"object": "payment_intent"})})
    scenario(server).confirm("pi_1", TOKEN)
    assert form(server.last) == {"payment_method_data[shared_payment_granted_token]": TOKEN}
    assert key_of(server.last) == SELLER_KEY


def test_payment_intent_expand_is_sent_with_empty_brackets() -> None:
    server = FakeServer({("GET", "/v1/payment_intents/pi_1"): answer(200, {"object": "payment_intent"})})
    scenario(server).payment_intent("pi_1", expand=["latest_charge"])
    assert unquote(server.last.url.query.decode()) == "expand[]=latest_charge"


def test_payment_intent_without_expand_sends_no_query() -> None:
    server = FakeServer({("GET", "/v1/payment_intents/pi_1"): answer(200, {"object": "payment_intent"})})
    scenario(server).payment_intent("pi_1")
    assert server.last.url.query == b""


def test_payment_method_as_agent_uses_agent_key() -> None:
    server = FakeServer({("GET", "/v1/payment_methods/pm_1"): answer(200, {"object": "payment_method"})})
    spt = scenario(server)
    spt.payment_method("pm_1", as_=spt.agent)
    assert key_of(server.last) == AGENT_KEY


def test_refund_posts_payment_intent_as_seller() -> None:
    server = FakeServer({("POST", "/v1/refunds"): answer(200, {"id": "re_1", "object": "refund"})})
    scenario(server).refund("pi_1", amount=100)
    assert form(server.last) == {"payment_intent": "pi_1", "amount": "100"}
    assert key_of(server.last) == SELLER_KEY


# ---------------------------------------------------------------------------- pay_ok
def test_pay_ok_succeeded_intent_is_returned() -> None:
    intent = {"id": "pi_1", "object": "payment_intent", "status": "succeeded"}
    server = FakeServer({("POST", "/v1/payment_intents"): answer(200, intent)})
    assert scenario(server).pay_ok(TOKEN, 500) == intent
    assert form(server.last)["payment_method_data[shared_payment_granted_token]"] == TOKEN


@pytest.mark.parametrize(
    "response",
    [
        answer(400, refusal()),
        answer(200, {"id": "pi_1", "object": "payment_intent", "status": "requires_payment_method"}),
        answer(200, {"id": "pi_1", "object": "charge", "status": "succeeded"}),
    ],
    ids=["refused", "not-succeeded", "wrong-object"],
)
def test_pay_ok_anything_but_success_is_use_001(response: httpx.Response) -> None:
    server = FakeServer({("POST", "/v1/payment_intents"): response})
    with pytest.raises(Violation) as raised:
        scenario(server).pay_ok(TOKEN, 500)
    assert raised.value.requirement == "SPT-USE-001"


# ---------------------------------------------------------------------------- expect_use_refused
def use_refused(server: FakeServer, *, captured: int = 0) -> None:
    spt = scenario(server)
    spt.expect_use_refused(spt.pay(TOKEN, 500), TOKEN, "SPT-USE-005", captured=captured)


def test_expect_use_refused_holds_for_refusal_that_captured_nothing() -> None:
    server = FakeServer(
        {
            ("POST", "/v1/payment_intents"): answer(400, refusal(code="amount_too_large")),
            ("GET", f"/v1/shared_payment/issued_tokens/{TOKEN}"): answer(200, issued_view(300)),
        }
    )
    use_refused(server, captured=300)
    assert server.last.method == "GET"  # the token was read back


def test_expect_use_refused_holds_for_decline_with_unpaid_intent() -> None:
    decline = {
        "error": {"type": "card_error", "message": "declined", "payment_intent": {"status": "requires_payment_method"}}
    }
    server = FakeServer(
        {
            ("POST", "/v1/payment_intents"): answer(402, decline),
            ("GET", f"/v1/shared_payment/issued_tokens/{TOKEN}"): answer(200, issued_view(0)),
        }
    )
    use_refused(server)


@pytest.mark.parametrize(
    ("payment", "token_view"),
    [
        (answer(200, {"id": "pi_1", "object": "payment_intent", "status": "succeeded"}), issued_view(0)),
        (answer(400, {"message": "not a Stripe error"}), issued_view(0)),
        (
            answer(402, {"error": {"type": "card_error", "message": "x", "payment_intent": {"status": "succeeded"}}}),
            issued_view(0),
        ),
        (answer(400, refusal()), issued_view(500)),
        (answer(400, refusal()), issued_view(None)),
    ],
    ids=["accepted", "not-stripe-shaped", "succeeded-intent-in-error", "captured-anyway", "usage-missing"],
)
def test_expect_use_refused_broken_invariant_is_that_requirement(
    payment: httpx.Response, token_view: dict[str, Any]
) -> None:
    server = FakeServer(
        {
            ("POST", "/v1/payment_intents"): payment,
            ("GET", f"/v1/shared_payment/issued_tokens/{TOKEN}"): answer(200, token_view),
        }
    )
    with pytest.raises(Violation) as raised:
        use_refused(server)
    assert raised.value.requirement == "SPT-USE-005"


def test_expect_use_refused_unreadable_token_is_that_requirement() -> None:
    server = FakeServer({("POST", "/v1/payment_intents"): answer(400, refusal())})
    with pytest.raises(Violation) as raised:
        use_refused(server)
    assert raised.value.requirement == "SPT-USE-005"


# ---------------------------------------------------------------------------- read_issued, read_granted
def test_read_issued_returns_body_read_as_agent() -> None:
    server = FakeServer({("GET", f"/v1/shared_payment/issued_tokens/{TOKEN}"): answer(200, issued_view(0))})
    assert scenario(server).read_issued(TOKEN)["id"] == TOKEN
    assert key_of(server.last) == AGENT_KEY


def test_read_issued_missing_token_is_iss_005() -> None:
    with pytest.raises(Violation) as raised:
        scenario(FakeServer({})).read_issued(TOKEN)
    assert raised.value.requirement == "SPT-ISS-005"


def test_read_granted_returns_body_read_as_seller_with_params() -> None:
    granted = {"id": TOKEN, "object": "shared_payment.granted_token"}
    server = FakeServer({("GET", f"/v1/shared_payment/granted_tokens/{TOKEN}"): answer(200, granted)})
    assert scenario(server).read_granted(TOKEN, expand=["risk_details"]) == granted
    assert key_of(server.last) == SELLER_KEY
    assert "risk_details" in unquote(server.last.url.query.decode())


def test_read_granted_wrong_object_is_grt_001() -> None:
    server = FakeServer({("GET", f"/v1/shared_payment/granted_tokens/{TOKEN}"): answer(200, issued_view(0))})
    with pytest.raises(Violation) as raised:
        scenario(server).read_granted(TOKEN)
    assert raised.value.requirement == "SPT-GRT-001"


# ---------------------------------------------------------------------------- issue_expiring, skip_if_passed
def ticking_clock(*readings: int) -> Callable[[httpx.Request], httpx.Response]:
    """The clock extension answering `readings` in turn (the last one from then on)."""
    left = list(readings)

    def read(request: httpx.Request) -> httpx.Response:
        now = left.pop(0) if len(left) > 1 else left[0]
        return answer(200, {"object": "test_helpers.shared_payment.clock", "now": now})

    return read


def test_issue_expiring_sets_expires_at_lead_time_ahead() -> None:
    server = FakeServer(
        {
            ("GET", "/v1/test_helpers/shared_payment/clock"): ticking_clock(NOW),
            ("POST", "/v1/shared_payment/issued_tokens"): answer(200, issued_view(0)),
        }
    )
    token = scenario(server).issue_expiring(max_amount=700)
    sent = form(server.last)
    assert sent["usage_limits[expires_at]"] == str(NOW + 3600)
    assert sent["usage_limits[max_amount]"] == "700"
    assert (token.id, token.expires_at, token.max_amount) == (TOKEN, NOW + 3600, 700)


def test_issue_expiring_refused_while_clock_still_before_is_iss_001() -> None:
    server = FakeServer(
        {
            ("GET", "/v1/test_helpers/shared_payment/clock"): ticking_clock(NOW, NOW + 1),
            ("POST", "/v1/shared_payment/issued_tokens"): answer(400, refusal()),
        }
    )
    with pytest.raises(Violation) as raised:
        scenario(server).issue_expiring()
    assert raised.value.requirement == "SPT-ISS-001"


def test_issue_expiring_refused_after_clock_jumped_is_skipped() -> None:
    server = FakeServer(
        {
            ("GET", "/v1/test_helpers/shared_payment/clock"): ticking_clock(NOW, NOW + 3600),
            ("POST", "/v1/shared_payment/issued_tokens"): answer(400, refusal()),
        }
    )
    with pytest.raises(pytest.skip.Exception, match="inconclusive"):
        scenario(server).issue_expiring()


def test_skip_if_passed_before_the_moment_returns() -> None:
    server = FakeServer({("GET", "/v1/test_helpers/shared_payment/clock"): ticking_clock(NOW)})
    scenario(server).skip_if_passed(NOW + 1, "in this test")


# ---------------------------------------------------------------------------- the default expiry's clock reading
def clock_reads(server: FakeServer) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and r.url.path.endswith("/shared_payment/clock"))


def test_default_expiry_reads_the_clock_once_per_test() -> None:
    server = FakeServer(
        {
            ("GET", "/v1/test_helpers/shared_payment/clock"): ticking_clock(NOW, NOW + 5),
            ("POST", "/v1/shared_payment/issued_tokens"): answer(200, issued_view(0)),
        }
    )
    spt = scenario(server)
    for _ in range(3):
        spt.issue()
    expiries = [form(r)["usage_limits[expires_at]"] for r in server.requests if r.method == "POST"]
    assert clock_reads(server) == 1
    assert expiries == [str(NOW + 30 * 24 * 3600)] * 3


def test_default_expiry_follows_the_clock_after_an_advance() -> None:
    server = FakeServer(
        {
            ("GET", "/v1/test_helpers/shared_payment/clock"): ticking_clock(NOW),
            ("POST", "/v1/test_helpers/shared_payment/clock/advance"): answer(
                200, {"object": "test_helpers.shared_payment.clock", "now": NOW + 7200}
            ),
            ("POST", "/v1/shared_payment/issued_tokens"): answer(200, issued_view(0)),
        }
    )
    spt = scenario(server)
    spt.issue()
    spt.clock.advance(7200)
    spt.issue()
    expiries = [form(r)["usage_limits[expires_at]"] for r in server.requests if r.url.path.endswith("issued_tokens")]
    assert clock_reads(server) == 1
    assert expiries == [str(NOW + 30 * 24 * 3600), str(NOW + 7200 + 30 * 24 * 3600)]
