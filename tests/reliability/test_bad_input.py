"""Hostile and malformed requests always get a 4xx Stripe error, never a 5xx, a hang or a logged
crash: a corpus of raw requests, and Schemathesis's negative cases for every operation
(SPT-ERR-001, SPT-ERR-004, SPT-ERR-005, SPT-SEC-001, SPT-SEC-002, SPT-SEC-008, SPT-IDM-007)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from conformance.spec import default_spec
from harness.reliability.calls import ISSUED
from harness.reliability.fuzz import fuzz_negative, parameterless
from harness.reliability.hostile import Context, MiB, corpus, send_raw, stripe_error
from reference_impl import RunningServer, start
from reference_impl.cards import contains_card_number

CORPUS = corpus()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    # Short connection timeouts (D-40), so that the slow-client cases answer within the test.
    with start(head_timeout=1.0, body_timeout=1.0, linger=1.0) as running:
        yield running


@pytest.fixture
def ctx(server: RunningServer) -> Context:
    url = urlsplit(server.base_url)
    assert url.hostname is not None
    assert url.port is not None
    return Context(url.hostname, url.port, server.accounts["agent"].secret_key, server.accounts["seller"].profile)


def _crashes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_input_hostile_request_gets_a_4xx_stripe_error(
    ctx: Context, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    answer = send_raw(ctx, CORPUS[name](ctx))
    assert not answer.timed_out, f"{name}: no answer within the timeout"
    assert answer.status is not None, f"{name}: the connection closed without an answer"
    assert 400 <= answer.status < 500, f"{name}: {answer.status} {answer.body[:300]!r}"
    assert stripe_error(answer), f"{name}: not a Stripe error: {answer.headers} {answer.body[:300]!r}"
    assert answer.headers.get("request-id", "").startswith("req_")
    # One more request, so that whatever the server still had to do for this one (a request
    # before the refused bytes stays with the app a moment longer) is done before the log is read.
    send_raw(ctx, b"GET /v1/events HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
    echoed = answer.body.decode("latin-1") + " ".join(answer.headers.values())
    assert not contains_card_number(echoed), f"{name}: a card number came back"
    assert ctx.key not in echoed, f"{name}: the secret key came back"
    assert _crashes(caplog) == []


def test_bad_input_body_cut_short_is_no_crash_and_the_server_carries_on(
    ctx: Context, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The client declares 1,000 bytes, sends 3 and closes its side: no answer can be owed,
    but nothing may be logged as a server error, and the next request is served."""
    request = (
        f"POST {ISSUED} HTTP/1.1\r\nHost: reliability\r\nAuthorization: Bearer {ctx.key}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nx=1"
    ).encode()
    answer = send_raw(ctx, request, half_close=True)
    assert answer.status is None or (400 <= answer.status < 500 and stripe_error(answer))
    again = send_raw(ctx, f"GET /v1/events HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer {ctx.key}\r\n\r\n".encode())
    assert again.status == 200
    assert _crashes(caplog) == []


def test_bad_input_schemathesis_negative_cases_are_all_refused_with_stripe_errors(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    keys = {name: server.accounts[name].secret_key for name in ("agent", "seller")}
    report = fuzz_negative(server.base_url, keys, examples=8)
    assert report.wrong == []
    assert report.cases >= 50, report.statuses
    # Only an operation without a single parameter has nothing to break.
    assert set(report.unbreakable) == parameterless(default_spec())
    assert _crashes(caplog) == []


def test_bad_input_silent_connection_is_closed_after_the_head_timeout(ctx: Context) -> None:
    """D-40: a client that connects and sends nothing does not hold a connection for ever."""
    with socket.create_connection((ctx.host, ctx.port), timeout=5.0) as sock:
        assert sock.recv(1) == b""  # closed by the server, without an answer (nothing was asked)


def test_bad_input_stripe_error_for_an_oversized_head_reaches_a_client_still_sending(ctx: Context) -> None:
    """D-40: the server answers a 1 MB head at 16 KB, then keeps reading (and dropping) what the
    client still sends, so the client reads the answer instead of a connection reset."""
    head = f"GET /v1/events HTTP/1.1\r\nHost: r\r\nX-Note: {'a' * MiB}\r\n\r\n".encode()
    answer = send_raw(ctx, head)
    assert answer.status == 400
    assert stripe_error(answer)
