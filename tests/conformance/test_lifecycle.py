"""The generated lifecycle machine: it passes a faithful fake server and fails each broken one.

The fake is a small in-process SPT server behind `httpx.MockTransport`, written from the
contract (not from conformance.lifecycle.model), with one bug that can be switched on.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from conformance.client import Exchange, Journal, StripeClient
from conformance.clock import Clock
from conformance.lifecycle.harness import run_lifecycle
from conformance.lifecycle.judging import call_list
from conformance.lifecycle.plan import plan
from conformance.scenario import Scenario
from conformance.spec import load_spec
from conformance.target import Target, target_from_mapping
from conformance.violation import Violation

SPEC = load_spec()
KEYS = {"sk_test_agent000": "agent", "sk_test_seller00": "seller", "sk_test_other000": "other_seller"}
DECLINING = "pm_card_chargeDeclined"


@dataclass
class Event:
    role: str
    type: str
    object_id: str


@dataclass
class FakeServer:
    """Tokens, payments, revocation, expiry and the clock extension; `bug` breaks one rule."""

    bug: str | None = None
    now: int = 1_800_000_000
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    # ------------------------------------------------------------------ plumbing
    def __call__(self, request: httpx.Request) -> httpx.Response:
        role = KEYS.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if role is None:
            return self._error(401, "Invalid API key")
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        parts = request.url.path.strip("/").split("/")
        self._expire()
        route = (request.method, *parts[:4])
        if route == ("GET", "v1", "test_helpers", "shared_payment", "clock"):
            return self._ok({"object": "test_helpers.shared_payment.clock", "now": self.now})
        if route == ("POST", "v1", "test_helpers", "shared_payment", "clock"):
            self.now += int(form["seconds"])
            self._expire()
            return self._ok({"object": "test_helpers.shared_payment.clock", "now": self.now})
        if route == ("POST", "v1", "shared_payment", "issued_tokens") and len(parts) == 3:
            return self._issue(role, form)
        if request.method == "GET" and parts[1:3] == ["shared_payment", "issued_tokens"]:
            token = self._find(parts[3], "issuer", role)
            return self._ok(self._issued(token)) if token else self._missing()
        if request.method == "GET" and parts[1:3] == ["shared_payment", "granted_tokens"]:
            token = self._find(parts[3], "grantee", role)
            return self._ok(self._granted(token)) if token else self._missing()
        if route == ("POST", "v1", "payment_intents"):
            return self._pay(role, form)
        if request.method == "POST" and parts[-1] == "revoke":
            owner = "grantee" if parts[1] == "test_helpers" else "issuer"
            token = self._find(parts[-2], owner, role)
            if token is None:
                return self._missing()
            if token["state"] == "deactivated":
                return self._error(400, "deactivated", code="shared_payment_token_deactivated")
            self._deactivate(token, "revoked", self.now)
            return self._ok(self._granted(token) if owner == "grantee" else self._issued(token))
        return self._error(404, "Unrecognized request URL")

    def _ok(self, body: Mapping[str, Any]) -> httpx.Response:
        return httpx.Response(200, json=body, headers={"Request-Id": "req_fake"})

    def _error(
        self, status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None
    ) -> httpx.Response:
        error = {"type": kind, "message": message, "code": code}
        return httpx.Response(status, json={"error": error}, headers={"Request-Id": "req_fake"})

    def _missing(self) -> httpx.Response:
        return self._error(404, "No such token", code="resource_missing")

    def _find(self, identifier: str, owner: str, role: str) -> dict[str, Any] | None:
        token = self.tokens.get(identifier)
        return token if token is not None and token[owner] == role else None

    # ------------------------------------------------------------------ the rules
    def _issue(self, role: str, form: Mapping[str, str]) -> httpx.Response:
        expires = form.get("usage_limits[expires_at]")
        identifier = f"spt_fake{next(self.ids)}"
        token = {
            "id": identifier,
            "issuer": role,
            "grantee": "seller",
            "pm": form["payment_method"],
            "currency": form["usage_limits[currency]"],
            "max_amount": int(form["usage_limits[max_amount]"]),
            "expires_at": int(expires) if expires else None,
            "captured": 0,
            "state": "active",
            "reason": None,
            "deactivated_at": None,
        }
        self.tokens[identifier] = token
        return self._ok(self._issued(token))

    def _pay(self, role: str, form: Mapping[str, str]) -> httpx.Response:
        token = self._find(form.get("payment_method_data[shared_payment_granted_token]", ""), "grantee", role)
        if token is None:
            return self._missing()
        amount = int(form["amount"])
        if token["state"] == "deactivated":
            return self._error(400, "deactivated", code="shared_payment_token_deactivated")
        if form["currency"] != token["currency"]:
            return self._error(400, "currency", code="shared_payment_token_currency_mismatch")
        if amount > token["max_amount"] - token["captured"] and self.bug != "ignore_cap":
            return self._error(400, "too large", code="amount_too_large")
        if token["pm"] == DECLINING:
            return self._error(402, "Your card was declined.", kind="card_error", code="card_declined")
        token["captured"] += amount
        self._emit(token, "used", sellers=self.bug != "drop_granted_used")
        if token["captured"] >= token["max_amount"]:
            self._deactivate(token, "consumed", self.now)
        return self._ok({"id": f"pi_fake{next(self.ids)}", "object": "payment_intent", "status": "succeeded"})

    def _deactivate(self, token: dict[str, Any], reason: str, at: int) -> None:
        token.update(state="deactivated", reason=reason, deactivated_at=at)
        self._emit(token, "deactivated")

    def _emit(self, token: Mapping[str, Any], what: str, *, sellers: bool = True) -> None:
        self.events.append(Event("agent", f"shared_payment.issued_token.{what}", token["id"]))
        if sellers:
            self.events.append(Event("seller", f"shared_payment.granted_token.{what}", token["id"]))

    def _expire(self) -> None:
        for token in self.tokens.values():
            if token["state"] == "active" and token["expires_at"] is not None and self.now >= token["expires_at"]:
                self._deactivate(token, "expired", token["expires_at"])

    def _granted(self, token: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": token["id"],
            "object": "shared_payment.granted_token",
            "usage_limits": {
                "currency": token["currency"],
                "max_amount": token["max_amount"],
                "expires_at": token["expires_at"],
            },
            "usage_details": {"amount_captured": {"currency": token["currency"], "value": token["captured"]}},
            "deactivated_at": token["deactivated_at"],
            "deactivated_reason": token["reason"],
        }

    def _issued(self, token: Mapping[str, Any]) -> dict[str, Any]:
        return {**self._granted(token), "object": "shared_payment.issued_token", "status": token["state"]}


@dataclass
class FakeEvents:
    """The EventSource the machine reads, over the fake's event list."""

    server: FakeServer
    available: bool = True
    judgements: list[tuple[str, Callable[[], Violation | None]]] = field(default_factory=list)

    def wait_for(self, role: str, event_type: str, object_id: str, *, count: int = 1) -> Sequence[Event]:
        return [e for e in self.server.events if (e.role, e.type, e.object_id) == (role, event_type, object_id)]

    def expect(self, requirement: str, judge: Callable[[], Violation | None], *, about: str = "") -> None:
        self.judgements.append((requirement, judge))

    def about(self, role: str, object_id: str) -> Sequence[Event]:
        return [e for e in self.server.events if (e.role, e.object_id) == (role, object_id)]

    def judge(self) -> None:
        """What the run's event watch does at the end: raise the first expectation broken."""
        for _, judge in self.judgements:
            violation = judge()
            if violation is not None:
                raise violation


def fake_target(**capabilities: bool) -> Target:
    return target_from_mapping(
        {
            "name": "fake",
            "base_url": "http://fake.test",
            "agent": {
                "secret_key": "sk_test_agent000",
                "payment_method": "pm_card_visa",
                "declined_payment_method": DECLINING,
            },
            "seller": {"secret_key": "sk_test_seller00", "network_business_profile": "profile_test_seller"},
            "other_seller": {"secret_key": "sk_test_other000", "network_business_profile": "profile_test_other"},
            "capabilities": {"clock": True, "test_helpers": True, **capabilities},
        },
        environ={},
    )


def scenario(server: FakeServer, journal: Journal, target: Target | None = None) -> Scenario:
    target = target or fake_target()
    http = httpx.Client(base_url=target.base_url, transport=httpx.MockTransport(server))
    agent, seller = StripeClient(http, target.agent, journal), StripeClient(http, target.seller, journal)
    assert target.other_seller is not None
    other = StripeClient(http, target.other_seller, journal)
    return Scenario(target, agent, seller, other, Clock(agent, extension=target.has("clock"), max_wait=1))


def run(server: FakeServer, *, examples: int = 12, seed: int = 7, events: bool = False) -> tuple[Any, Journal]:
    journal = Journal()
    watch = FakeEvents(server) if events else None
    summary = run_lifecycle(
        scenario(server, journal),
        lambda: journal.exchanges,
        lifecycle=SPEC.lifecycle,
        operations=SPEC.operations,
        seed=seed,
        max_examples=examples,
        events=watch,
        report=lambda line: None,
    )
    if watch is not None:
        assert {r for r, _ in watch.judgements} == {"SPT-EVT-001", "SPT-EVT-002", "SPT-EVT-003", "SPT-EVT-004"}
        watch.judge()
    return summary, journal


def test_lifecycle_faithful_fake_passes() -> None:
    summary, journal = run(FakeServer(), events=True)
    assert summary.examples == 12
    assert summary.tokens > 0
    assert summary.exchanges == len(journal.exchanges)
    assert {"issue", "revoke"} <= set(summary.tally)


def test_lifecycle_fake_ignoring_the_cap_fails_use_005_with_a_replayable_call_list() -> None:
    with pytest.raises(Violation) as caught:
        run(FakeServer(bug="ignore_cap"), examples=30)
    violation = caught.value
    assert violation.requirement in {"SPT-USE-005", "SPT-USE-006"}
    assert "Replay (seed 7; run again with --spt-seed 7)" in violation.tip
    assert "   1. agent        POST /v1/shared_payment/issued_tokens  payment_method=pm_card_visa" in violation.tip
    assert "seller       POST /v1/payment_intents  amount=" in violation.tip
    # Shrunk: one token issued, read, then overdrawn.
    assert violation.tip.count("POST /v1/shared_payment/issued_tokens") == 1


def test_lifecycle_fake_without_seller_used_events_fails_evt_002() -> None:
    with pytest.raises(Violation) as caught:
        run(FakeServer(bug="drop_granted_used"), examples=30, events=True)
    assert caught.value.requirement == "SPT-EVT-002"
    assert "shared_payment.granted_token.used" in caught.value.received


def test_lifecycle_same_seed_same_sequence() -> None:
    first, _ = run(FakeServer(), examples=5, seed=11)
    second, _ = run(FakeServer(), examples=5, seed=11)
    assert first.tally == second.tally


def test_plan_target_without_capabilities_generates_no_such_rules() -> None:
    target = target_from_mapping(
        {
            "base_url": "http://fake.test",
            "agent": {"secret_key": "sk_test_agent000"},
            "seller": {"secret_key": "sk_test_seller00", "network_business_profile": "profile_test_seller"},
        },
        environ={},
    )
    bare = plan(SPEC.lifecycle, SPEC.operations, target.has)
    names = {move.name for move in bare.moves}
    assert names == {
        "fire_use",
        "fire_revoke",
        "attempt_use_after_deactivation",
        "attempt_revoke_after_deactivation",
        "attempt_overdraw",
        "attempt_wrong_currency",
        "attempt_foreign_revoke",
    }
    assert (bare.clock_moves, bare.declining, bare.expiring) == ((), False, False)
    ids = set(bare.requirements())
    assert {"SPT-USE-005", "SPT-USE-009", "SPT-USE-010", "SPT-REV-003", "SPT-SEC-006", "SPT-GRT-008"} <= ids
    assert not ids & {"SPT-EXP-001", "SPT-EXP-003", "SPT-CLK-003", "SPT-REV-007", "SPT-SEC-005", "SPT-USE-011"}


def test_plan_full_target_generates_every_generated_trigger_and_forbidden_move() -> None:
    full = plan(SPEC.lifecycle, SPEC.operations, fake_target().has)
    fired = {m.trigger.name for m in full.moves if m.forbidden is None} | {t.name for t in full.clock_moves}
    generated = {
        t.name for t in SPEC.lifecycle.generated_triggers if t.actor not in ("automatic",) and "none" not in t.sources
    }
    assert fired == generated
    assert {m.forbidden.name for m in full.moves if m.forbidden} == {f.name for f in SPEC.lifecycle.forbidden}
    assert {"SPT-EXP-001", "SPT-EXP-005", "SPT-CLK-003", "SPT-REV-008", "SPT-SEC-005", "SPT-USE-012"} <= set(
        full.requirements()
    )
    assert set(full.event_requirements()) == {"SPT-EVT-001", "SPT-EVT-002", "SPT-EVT-003", "SPT-EVT-004"}


def test_call_list_numbers_calls_and_leaves_out_clock_readings() -> None:
    def exchange(method: str, url: str, body: str, status: int) -> Exchange:
        return Exchange("agent", method, url, {}, body, status, {}, json.dumps({}), 1.0)

    text = call_list(
        [
            exchange("POST", "http://x/v1/shared_payment/issued_tokens", "usage_limits[max_amount]=5", 200),
            exchange("GET", "http://x/v1/test_helpers/shared_payment/clock", "", 200),
            exchange("GET", "http://x/v1/shared_payment/issued_tokens/spt_1?expand[0]=x", "", 404),
        ]
    )
    assert text.splitlines() == [
        "   1. agent        POST /v1/shared_payment/issued_tokens  usage_limits[max_amount]=5  -> 200",
        "   2. agent        GET /v1/shared_payment/issued_tokens/spt_1  expand[0]=x  -> 404",
    ]
