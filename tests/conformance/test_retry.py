"""The client resends server errors as Stripe's SDKs do before a test judges the answer."""

from __future__ import annotations

import random

import httpx
import pytest

from conformance.client import Journal, StripeClient
from conformance.retry import backoff, should_retry
from conformance.target import Account

KEY = "sk_test_agent0000000000000001"


class Answers:
    """Answers requests with the given statuses in turn (the last one repeats)."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, headers = self.answers[min(len(self.requests), len(self.answers)) - 1]
        body = {"id": "spt_1"} if status == 200 else {"error": {"type": "api_error", "message": "try again"}}
        return httpx.Response(status, json=body, headers={"Request-Id": "req_1", **headers})


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("conformance.client.time.sleep", waits.append)
    return waits


def send(answers: Answers, method: str = "POST") -> tuple[StripeClient, Journal]:
    journal = Journal()
    http = httpx.Client(transport=httpx.MockTransport(answers), base_url="http://target.test")
    client = StripeClient(http, Account("agent", KEY), journal)
    client.request(method, "/v1/shared_payment/issued_tokens", {"a": 1})
    return client, journal


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_client_server_error_is_resent_with_the_same_idempotency_key(slept: list[float], status: int) -> None:
    answers = Answers((status, {}), (200, {}))
    _, journal = send(answers)
    assert len(answers.requests) == 2
    keys = {request.headers["Idempotency-Key"] for request in answers.requests}
    assert len(keys) == 1
    assert [e.status for e in journal.exchanges] == [200]
    assert journal.exchanges[0].attempts == 2
    assert len(slept) == 1
    assert slept == [0.5]  # the first wait: 0.5 s with jitter, never under 0.5 s


def test_client_gives_up_after_two_resends_and_the_last_answer_is_judged(slept: list[float]) -> None:
    answers = Answers((503, {}))
    _, journal = send(answers, "GET")
    assert len(answers.requests) == 3
    assert journal.exchanges[0].status == 503
    assert journal.exchanges[0].attempts == 3
    assert len(slept) == 2


def test_client_stripe_should_retry_false_is_obeyed(slept: list[float]) -> None:
    answers = Answers((500, {"Stripe-Should-Retry": "false"}), (200, {}))
    _, journal = send(answers)
    assert len(answers.requests) == 1
    assert journal.exchanges[0].status == 500
    assert slept == []


def test_client_stripe_should_retry_true_resends_even_a_client_error(slept: list[float]) -> None:
    answers = Answers((400, {"Stripe-Should-Retry": "true"}), (200, {}))
    _, journal = send(answers)
    assert len(answers.requests) == 2
    assert journal.exchanges[0].status == 200


@pytest.mark.parametrize("status", [400, 402, 404, 409, 501])
def test_client_other_answers_are_judged_as_they_come(slept: list[float], status: int) -> None:
    answers = Answers((status, {}), (200, {}))
    _, journal = send(answers)
    assert len(answers.requests) == 1
    assert journal.exchanges[0].status == status
    assert journal.exchanges[0].attempts == 1


def test_should_retry_header_decides_before_the_status() -> None:
    assert should_retry(503, {})
    assert not should_retry(503, {"stripe-should-retry": "false"})
    assert should_retry(409, {"Stripe-Should-Retry": "true"})
    assert not should_retry(409, {})


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    low, high = random.Random(), random.Random()
    low.uniform = lambda a, b: a  # type: ignore[method-assign]
    high.uniform = lambda a, b: b  # type: ignore[method-assign]
    assert [backoff(n, rng=high) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert [backoff(n, rng=low) for n in (1, 2, 3, 4, 5)] == [0.5, 0.5, 1.0, 2.0, 2.5]
    assert backoff(1, "7", rng=low) == 7.0
    assert backoff(1, "120", rng=low) == 0.5  # a Retry-After over a minute is ignored, as the SDK does
    assert backoff(1, "soon", rng=low) == 0.5
