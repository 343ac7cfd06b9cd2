"""Events: recorded with the change they report, listed and retrieved per account, and fanned
out to webhook endpoints through the delivery outbox.

An event is written in the transaction of its change, with one pending delivery row per
endpoint that wants it; the webhook worker is woken only after COMMIT. So an event can never be
read or delivered before the state it reports is visible (D-08, SPT-EVT-016), and a crash
either keeps both the change and its deliveries or neither.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from reference_impl import views
from reference_impl.context import DEFAULT_API_VERSION, Call, Env, Outcome, dumps
from reference_impl.domain import Token
from reference_impl.errors import NotFound, ValidationError
from reference_impl.ids import new_id, new_secret
from reference_impl.machine import Emit
from reference_impl.objects import Delivery, PaymentMethod, WebhookEndpoint
from reference_impl.store import Tx

__all__ = [
    "EVENT_TYPES",
    "create_endpoint",
    "delete_endpoint",
    "emit",
    "list_endpoints",
    "list_events",
    "record",
    "retrieve_event",
]

EVENT_TYPES: Final = frozenset(
    {
        "shared_payment.issued_token.used",
        "shared_payment.issued_token.deactivated",
        "shared_payment.issued_token.requires_action",
        "shared_payment.issued_token.active",
        "shared_payment.granted_token.used",
        "shared_payment.granted_token.deactivated",
    }
)
_PATTERN = re.compile(r"^[a-z0-9_.*]+$")


def record(env: Env, tx: Tx, account: str, type_: str, obj: Mapping[str, Any], call: Call | None, now: int) -> str:
    """Write one event for `account` and queue it for each of the account's endpoints."""
    event_id = new_id("evt")
    body = {
        "id": event_id,
        "object": "event",
        "api_version": call.api_version if call else DEFAULT_API_VERSION,
        "created": now,
        "data": {"object": dict(obj), **({"previous_attributes": {}} if env.behaviour.previous_attributes else {})},
        "livemode": env.behaviour.events_livemode,
        "request": {"id": call.request_id, "idempotency_key": call.idempotency_key} if call else None,
        "type": type_,
    }
    tx.add_event(event_id, account, type_, now, body)
    queued = False
    real = env.clock.real()
    for endpoint in tx.endpoints(account):
        if endpoint.wants(type_) or env.behaviour.every_endpoint_gets_every_event:
            tx.put(Delivery(0, event_id, endpoint.id, "pending", 0, real + env.behaviour.delivery_delay))
            queued = True
    if queued:
        tx.on_commit(env.wake_webhooks)
    return event_id


def emit(env: Env, tx: Tx, token: Token, pm: PaymentMethod, emits: Sequence[Emit], call: Call | None, now: int) -> None:
    """The events of a transition, each to its party with that party's view of `token`."""
    rules = env.behaviour
    for item in emits:
        if item.to == "agent":
            if token.agent_account is None:  # a test-helper token has no agent (D-06)
                continue
            _to_agent(env, tx, token, item.event, views.issued_token(token, pm, now, frozenset()), call, now)
        else:
            if item.event == "shared_payment.granted_token.used" and not rules.granted_used_event:
                continue
            view = views.granted_token(token, pm, now, frozenset())
            if rules.granted_events_show_issued_view:
                view = views.issued_token(token, pm, now, frozenset())
            record(env, tx, token.seller_account, item.event, view, call, now)
            if rules.granted_events_to_every_seller:
                for other in env.accounts.all:
                    if other.role == "seller" and other.id != token.seller_account:
                        record(env, tx, other.id, item.event, view, call, now)


def _to_agent(env: Env, tx: Tx, token: Token, event: str, view: Mapping[str, Any], call: Call | None, now: int) -> None:
    """One event to the agent; the deliberate bugs of faults.py drop, repeat or misdirect used events."""
    assert token.agent_account is not None
    account, times, rules = token.agent_account, 1, env.behaviour
    if event == "shared_payment.issued_token.used":
        if not rules.issued_used_event:
            return
        if rules.issued_used_to_seller:
            account = token.seller_account
        times = rules.issued_used_copies
    for _ in range(times):
        record(env, tx, account, event, view, call, now)


def _seq_of(tx: Tx, account: str, event_id: str | None, param: str) -> int | None:
    if event_id is None:
        return None
    found = tx.event(event_id)
    if found is None or found.account != account:
        raise NotFound(f"No such event: '{event_id}'", param=param)
    return found.seq


def list_events(env: Env, tx: Tx, call: Call) -> Outcome:
    params, account = call.params, call.account.id
    if "type" in params and "types" in params:
        raise ValidationError("You may pass either type or types, but not both.", param="types")
    wanted: list[str] = [params["type"]] if "type" in params else list(params.get("types", []))
    if any(_PATTERN.match(t) is None for t in wanted):
        wanted = [t for t in wanted if _PATTERN.match(t)] or ["\x00no-match"]
    limit = params.get("limit", 10)
    after = _seq_of(tx, account, params.get("starting_after"), "starting_after")
    before = _seq_of(tx, account, params.get("ending_before"), "ending_before")
    rows = tx.events(account, wanted, limit + 1, after, before)
    has_more = len(rows) > limit
    page = rows[1:] if has_more and before is not None else rows[:limit]
    data = [views.event(e, tx.pending_count(e.id)) for e in page]
    return Outcome.ok({"object": "list", "data": data, "has_more": has_more, "url": "/v1/events"})


def retrieve_event(env: Env, tx: Tx, call: Call) -> Outcome:
    found = tx.event(call.path_id or "")
    if found is None or found.account != call.account.id:
        raise NotFound(f"No such event: '{call.path_id}'", param="id", in_path=True)
    return Outcome.ok(views.event(found, tx.pending_count(found.id)))


def create_endpoint(env: Env, tx: Tx, call: Call) -> Outcome:
    params = call.params
    enabled = params["enabled_events"]
    if not enabled:
        raise ValidationError("Invalid enabled_events: must contain at least one event type.", param="enabled_events")
    for index, type_ in enumerate(enabled):
        if type_ != "*" and type_ not in EVENT_TYPES:
            raise ValidationError(
                f"Invalid enabled_events[{index}]: must be * or one of {', '.join(sorted(EVENT_TYPES))}",
                param=f"enabled_events[{index}]",
            )
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        account=call.account.id,
        created=env.clock.now(),
        url=params["url"],
        secret=new_secret("whsec_"),
        enabled_events=tuple(dict.fromkeys(enabled)),
        api_version=params.get("api_version") or DEFAULT_API_VERSION,
        description=params.get("description"),
        metadata=params.get("metadata", {}),
    )
    tx.put(endpoint)
    return Outcome.ok(views.webhook_endpoint(endpoint, with_secret=True))


def list_endpoints(env: Env, tx: Tx, call: Call) -> Outcome:
    endpoints = tx.endpoints(call.account.id)
    ids = [e.id for e in endpoints]
    start, stop = 0, len(endpoints)
    for name in ("starting_after", "ending_before"):
        if name in call.params:
            if call.params[name] not in ids:
                raise NotFound(f"No such webhook endpoint: '{call.params[name]}'", param=name)
            position = ids.index(call.params[name])
            start, stop = (position + 1, stop) if name == "starting_after" else (start, position)
    limit = call.params.get("limit", 10)
    window = endpoints[start:stop]
    page = window[-limit:] if "ending_before" in call.params else window[:limit]
    body = {
        "object": "list",
        "data": [views.webhook_endpoint(e, with_secret=env.behaviour.endpoint_secret_listed) for e in page],
        "has_more": len(window) > limit,
        "url": "/v1/webhook_endpoints",
    }
    return Outcome(200, dumps(body))


def delete_endpoint(env: Env, tx: Tx, call: Call) -> Outcome:
    endpoint = tx.get(WebhookEndpoint, call.path_id or "", call.account.id)
    if endpoint is None or endpoint.deleted:
        raise NotFound(f"No such webhook endpoint: '{call.path_id}'", param="webhook_endpoint", in_path=True)
    tx.put(endpoint.replace(deleted=True))
    tx.drop_endpoint_deliveries(endpoint.id)
    return Outcome.ok({"id": endpoint.id, "object": "webhook_endpoint", "deleted": True})
