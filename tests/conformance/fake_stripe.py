"""A tiny Stripe-shaped HTTP server for testing the runner and the plugin without the reference server.

It answers by path, so a fake conformance test chooses what it gets back:

- `/v1/ok`: 200 with a JSON object;
- `/v1/boom`: 500 (which the registered check for SPT-ERR-004 must catch);
- `/v1/leak`: 200 whose body carries a card number and a webhook secret (for scrubbing tests);
- anything else: 404 resource_missing, which is how Stripe answers the preflight's probes.

With `refuse_keys=True` every request gets 401, as a server does for a wrong key. With
`answer="html"` every request gets the same 200 HTML page (a proxy's or a framework's), and with
`answer="empty"` every request gets 200 `{}`: servers that answer nothing useful.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

AGENT_KEY = "sk_test_fakeAgentKey0123456789"
SELLER_KEY = "sk_test_fakeSellerKey0123456789"
SELLER_PROFILE = "profile_test_fakeseller"
CARD_NUMBER = "4242424242424242"
WEBHOOK_SECRET = "whsec_fakeSecretValue0123456789"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read outputs, not access logs

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if self.server.answer == "html":
            page = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        status: int
        body: dict[str, Any]
        if self.server.answer == "empty":
            status, body = 200, {}
        elif self.server.refuse_keys:
            status, body = 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
        elif path == "/v1/ok":
            status, body = 200, {"object": "thing", "id": "thing_1"}
        elif path == "/v1/boom":
            status, body = 500, {"error": {"type": "api_error", "message": "boom"}}
        elif path == "/v1/leak":
            status, body = 200, {"object": "thing", "number": CARD_NUMBER, "secret": WEBHOOK_SECRET}
        else:
            status, body = (
                404,
                {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such thing"}},
            )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", "req_fake")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer
    do_DELETE = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    refuse_keys = False
    answer = "stripe"


@contextmanager
def serve(*, refuse_keys: bool = False, answer: str = "stripe") -> Iterator[str]:
    """Serve on a free loopback port; yields the base URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.refuse_keys = refuse_keys
    server.answer = answer
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def target_mapping(base_url: str, **capabilities: bool) -> dict[str, Any]:
    return {
        "name": "fake",
        "base_url": base_url,
        "agent": {"secret_key": AGENT_KEY},
        "seller": {"secret_key": SELLER_KEY, "network_business_profile": SELLER_PROFILE},
        "capabilities": capabilities,
    }


def write_target(path: Path, base_url: str, **capabilities: bool) -> Path:
    path.write_text(yaml.safe_dump(target_mapping(base_url, **capabilities)), encoding="utf-8")
    return path


# A conftest for fake suites: the real suite's fixtures (agent, seller, journal, ...).
CONFTEST = "from conformance.suite.conftest import agent, journal, seller, spt_run  # noqa: F401\n"

# A fake conformance module: one test per behaviour of the verdict machinery.
TESTS_MAIN = """
import pytest

from conformance.violation import Violation, expect_ok


@pytest.mark.requirement("SPT-ISS-001")
def test_holds(agent):
    expect_ok(agent.get("/v1/ok"), "SPT-ISS-001")


@pytest.mark.requirement("SPT-ISS-003", "SPT-ISS-004")
def test_breaks_its_second_requirement(agent):
    raise Violation("SPT-ISS-004", received="echoed 999", expected="echoed 1000", tip="echo what was sent")


@pytest.mark.requirement("SPT-ISS-005")
def test_meets_a_server_error(agent):
    expect_ok(agent.get("/v1/ok"), "SPT-ISS-005")
    agent.get("/v1/boom")


@pytest.mark.requirement("SPT-CLK-001")
def test_needs_the_clock(agent):
    expect_ok(agent.get("/v1/ok"), "SPT-CLK-001")


@pytest.mark.requirement("SPT-ISS-015")
def test_breaks_a_should(agent):
    raise Violation("SPT-ISS-015", received="no expansion", expected="expanded", tip="support expand[]")
"""

TESTS_LEAK = """
import pytest


@pytest.mark.requirement("SPT-ISS-009")
def test_reads_a_leaky_response(agent):
    agent.get("/v1/leak")
"""
