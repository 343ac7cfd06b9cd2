"""The event list and retrieve: GET /v1/events filtered, paged, newest first, and each account's own (SPT-EVT-012, -013)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from conformance.client import Exchange, StripeClient
from conformance.endpoints import EVENTS
from conformance.scenario import Scenario
from conformance.suite.event_steps import DEACTIVATED_ISSUED, revoked
from conformance.violation import expect, expect_equal, expect_ok, expect_refused


# ------------------------------------------------------------------ /v1/events
def list_until(client: StripeClient, event_type: str, wanted: set[str], max_wait: float) -> list[Exchange]:
    """Page GET /v1/events?type=… by two until every event about `wanted` objects is listed."""
    deadline = time.monotonic() + max_wait
    while True:
        pages: list[Exchange] = []
        params: dict[str, Any] = {"type": event_type, "limit": 2}
        found: set[str] = set()
        for _ in range(100):
            exchange = client.get(EVENTS, params)
            body = expect_ok(exchange, "SPT-EVT-012", object_type="list")
            pages.append(exchange)
            data = [e for e in body.get("data") or [] if isinstance(e, Mapping)]
            found |= {str((e.get("data") or {}).get("object", {}).get("id")) for e in data} & wanted
            if found == wanted or not body.get("has_more") or not data:
                break
            params["starting_after"] = data[-1].get("id")
        if found == wanted or time.monotonic() > deadline:
            return pages
        time.sleep(0.1)


@pytest.mark.requirement("SPT-EVT-012")
@pytest.mark.uses("SPT-REV-001")
def test_events_list_is_filtered_paged_and_newest_first(spt: Scenario, max_wait: float) -> None:
    tokens = [spt.issue() for _ in range(3)]
    for token in tokens:
        revoked(spt, token)
    pages = list_until(spt.agent, DEACTIVATED_ISSUED, {t.id for t in tokens}, max_wait)
    listed: list[Mapping[str, Any]] = []
    for number, page in enumerate(pages):
        body = page.body
        data = body.get("data") or []
        expect(
            len(data) <= 2,
            "SPT-EVT-012",
            received=f"{len(data)} events on a page with limit=2",
            expected="at most 2",
            exchanges=[page],
        )
        if number < len(pages) - 1:
            expect(
                body.get("has_more") is True,
                "SPT-EVT-012",
                received=f"has_more {body.get('has_more')!r} on a page followed by more events",
                expected="has_more true",
                exchanges=[page],
            )
        listed += data
    types = sorted({str(e.get("type")) for e in listed} - {DEACTIVATED_ISSUED})
    expect(
        not types,
        "SPT-EVT-012",
        received=f"type={DEACTIVATED_ISSUED} listed {types}",
        expected=f"only {DEACTIVATED_ISSUED} events",
        exchanges=pages[:1],
    )
    event_ids = [e.get("id") for e in listed]
    expect(
        len(event_ids) == len(set(event_ids)),
        "SPT-EVT-012",
        received="an event listed on two pages",
        expected="starting_after continues after the last event of the previous page",
        exchanges=pages,
    )
    created = [e.get("created") for e in listed]
    stamps = [c for c in created if isinstance(c, int)]
    expect(
        len(stamps) == len(created) and stamps == sorted(stamps, reverse=True),
        "SPT-EVT-012",
        received=f"created in listed order: {created}",
        expected="newest first (created never increasing)",
        exchanges=pages,
    )
    about = {str(e["data"]["object"]["id"]) for e in listed if isinstance(e.get("data"), Mapping)}
    missing = sorted({t.id for t in tokens} - about)
    expect(
        not missing,
        "SPT-EVT-012",
        received=f"no {DEACTIVATED_ISSUED} event listed for {missing}",
        expected="every event of the account listed, page after page",
        exchanges=pages[-1:],
    )


@pytest.mark.requirement("SPT-EVT-013")
@pytest.mark.uses("SPT-EVT-012", "SPT-REV-001")
def test_event_retrieve_is_the_accounts_own(spt: Scenario, max_wait: float) -> None:
    token = spt.issue()
    revoked(spt, token)
    pages = list_until(spt.agent, DEACTIVATED_ISSUED, {token.id}, max_wait)
    mine = [
        e
        for p in pages
        for e in p.body.get("data") or []
        if isinstance(e, Mapping) and (e.get("data") or {}).get("object", {}).get("id") == token.id
    ]
    expect(
        bool(mine),
        "SPT-EVT-013",
        received=f"no {DEACTIVATED_ISSUED} event listed for {token.id}",
        expected="the event to retrieve",
        exchanges=pages[-1:],
    )
    event_id = str(mine[0]["id"])
    body = expect_ok(spt.agent.get(f"{EVENTS}/{event_id}"), "SPT-EVT-013", object_type="event")
    expect_equal(
        (body.get("id"), body.get("type")),
        (event_id, DEACTIVATED_ISSUED),
        "SPT-EVT-013",
        what="(id, type) of the retrieved event",
    )
    for stranger in [c for c in (spt.seller, spt.other_seller) if c is not None]:
        expect_refused(
            stranger.get(f"{EVENTS}/{event_id}"),
            "SPT-EVT-013",
            statuses=(404,),
            tip="an event belongs to one account; another account's id answers 404 as if it did not exist",
        )
