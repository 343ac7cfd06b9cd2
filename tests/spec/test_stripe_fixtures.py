"""Stripe's own fixture objects conform to our response schemas, version by version (SPT-WIRE-008).

tests/spec/data/stripe-fixtures.json holds objects copied unchanged from Stripe's public
stripe/openapi repository (its `_meta` and each set name the file and commit): the GA fixtures
(`fixtures3.json`), the private-preview and public-preview fixtures at the same commit, and the
public-preview SPT objects as first published for 2026-04-22.preview and 2026-05-27.preview. If
our schemas refused any of them, the suite would fail Stripe itself on SPT-WIRE-008.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.schema_check import object_problem
from conformance.spec import default_spec

FIXTURES = json.loads((Path(__file__).parent / "data" / "stripe-fixtures.json").read_text(encoding="utf-8"))
SETS: list[dict[str, Any]] = FIXTURES["sets"]
SCHEMAS = default_spec().openapi["components"]["schemas"]
# Object schemas of ours with no Stripe fixture of their own, and how each is still checked.
DERIVED = {
    "event_list": "a list wrapping the event fixture",
    "webhook_endpoint_list": "a list wrapping the webhook_endpoint fixture",
    "notification_event_data": "the data of the event fixture",
}
OURS_ONLY = {"test_helpers.shared_payment.clock": "the clock extension is not a Stripe endpoint (D-31)"}


def _object_schemas() -> set[str]:
    return {name for name, schema in SCHEMAS.items() if "object" in (schema.get("properties") or {})}


def _cases() -> list[Any]:
    cases = []
    for fixture_set in SETS:
        for name, body in fixture_set["objects"].items():
            label = f"{fixture_set['file'].split('/')[-1]}@{fixture_set['commit'][:8]}:{name}"
            cases.append(pytest.param(name, body, fixture_set["stripe_version"], id=label))
    return cases


def _derived(name: str, fixture_set: dict[str, Any]) -> Any:
    objects = fixture_set["objects"]
    if name == "event_list":
        return {"object": "list", "data": [objects["event"]], "has_more": False, "url": "/v1/events"}
    if name == "webhook_endpoint_list":
        data = [objects["webhook_endpoint"]]
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/webhook_endpoints"}
    return objects["event"]["data"]


def test_every_object_schema_of_ours_is_covered_by_a_stripe_fixture() -> None:
    fixtures = {name for fixture_set in SETS for name in fixture_set["objects"]}
    uncovered = _object_schemas() - fixtures - set(DERIVED) - set(OURS_ONLY)
    assert uncovered == set(), f"object schemas with no Stripe fixture to prove them: {sorted(uncovered)}"
    assert {"fixtures3.json", "fixtures3.private_preview.json"} <= {s["file"].split("/")[-1] for s in SETS}


@pytest.mark.parametrize(("name", "body", "version"), _cases())
def test_stripe_fixture_conforms_under_its_own_version(name: str, body: Any, version: str | None) -> None:
    assert object_problem(name, body, version) is None


@pytest.mark.parametrize(("name", "body", "version"), _cases())
def test_stripe_fixture_conforms_when_no_version_is_sent(name: str, body: Any, version: str | None) -> None:
    assert object_problem(name, body, None) is None


@pytest.mark.parametrize("name", sorted(DERIVED))
@pytest.mark.parametrize("fixture_set", [s for s in SETS if "event" in s["objects"]], ids=lambda s: s["file"])
def test_lists_and_event_data_built_from_stripe_fixtures_conform(name: str, fixture_set: dict[str, Any]) -> None:
    assert object_problem(name, _derived(name, fixture_set), fixture_set["stripe_version"]) is None


@pytest.mark.parametrize(
    ("name", "missing", "version"),
    [
        ("shared_payment.granted_token", "agent_details", "2026-04-22.preview"),
        ("shared_payment.issued_token", "use_stripe_sdk", "2026-04-22.preview"),
        ("shared_payment.issued_token", "use_stripe_sdk", "2026-05-27.preview"),
    ],
)
def test_early_preview_fixture_lacks_a_later_field_and_only_later_versions_require_it(
    name: str, missing: str, version: str
) -> None:
    body = next(s["objects"][name] for s in SETS if s["stripe_version"] == version)
    assert missing not in body  # what Stripe published for that version
    assert object_problem(name, body, version) is None
    problem = object_problem(name, body, "2026-10-14.preview")
    assert problem is not None
    assert f"'{missing}' is a required property" in problem
