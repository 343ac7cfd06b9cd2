"""The lifecycle model: each word of the vocabulary, each trigger, guard and forbidden move, the invariants."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.lifecycle import invariants as inv
from conformance.lifecycle import model as m
from conformance.lifecycle.model import Limits, Recurring, Request, TokenModel
from conformance.lifecycle.spec import Lifecycle
from conformance.resources import spec_dir
from conformance.spec import load_spec

LIFECYCLE = load_spec().lifecycle
NOW = 1_800_000_000
ACTIVE = m.issue(LIFECYCLE, Limits("usd", 1000, NOW + 100), NOW).model


def views(token: TokenModel, identifier: str = "spt_model") -> tuple[dict[str, Any], dict[str, Any]]:
    """What a faithful server shows for a model: its issued and granted views."""
    common = {
        "id": identifier,
        "usage_limits": {"currency": token.currency, "max_amount": token.max_amount, "expires_at": token.expires_at},
        "usage_details": {"amount_captured": {"currency": token.currency, "value": token.captured}},
        "deactivated_at": token.deactivated_at,
        "deactivated_reason": token.reason,
    }
    status = LIFECYCLE.states[token.state].issued_status
    return (
        {**common, "object": "shared_payment.issued_token", "status": status},
        {**common, "object": "shared_payment.granted_token"},
    )


def deactivated(reason: str) -> TokenModel:
    return dataclasses.replace(ACTIVE, state="deactivated", reason=reason, deactivated_at=NOW, deactivated_by=NOW)


def with_trigger(lifecycle: Lifecycle, name: str, **changes: Any) -> Lifecycle:
    triggers = dict(lifecycle.triggers)
    triggers[name] = dataclasses.replace(triggers[name], **changes)
    return dataclasses.replace(lifecycle, triggers=MappingProxyType(triggers))


# ------------------------------------------------------------------ the vocabulary
def test_vocabulary_tables_cover_the_schema_words_exactly() -> None:
    schema = json.loads((spec_dir() / "schemas" / "lifecycle.schema.json").read_text(encoding="utf-8"))
    words = schema["$defs"]
    assert set(m.GUARDS) == set(words["guard_name"]["enum"])
    assert set(m.EFFECTS) == set(words["effect"]["enum"])
    assert set(m.CONDITIONS) == set(words["condition"]["enum"])
    assert set(inv.INVARIANTS) == set(words["invariant"]["properties"]["name"]["enum"])


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"guards": ("caller_is_anyone",)}, "guard"),
        ({"effects": ("capture_twice",)}, "effect"),
    ],
)
def test_step_unknown_word_raises_model_error(change: dict[str, Any], word: str) -> None:
    broken = with_trigger(LIFECYCLE, "use", **change)
    with pytest.raises(m.ModelError, match=f"no meaning to the {word}"):
        m.step(broken, ACTIVE, "use", Request("seller", NOW, amount=10, currency="usd"))


def test_step_unknown_condition_raises_model_error() -> None:
    broken = with_trigger(LIFECYCLE, "reach_cap", when="cap_sometimes")
    with pytest.raises(m.ModelError, match="no meaning to the condition"):
        m.step(broken, ACTIVE, "use", Request("seller", NOW, amount=10, currency="usd"))


def test_invariant_violations_unknown_invariant_raises_model_error() -> None:
    invariant = dataclasses.replace(LIFECYCLE.invariants[0], name="tokens_are_blue")
    broken = dataclasses.replace(LIFECYCLE, invariants=(invariant,))
    with pytest.raises(m.ModelError, match="no meaning to the invariant"):
        inv.invariant_violations(ACTIVE, *views(ACTIVE), lifecycle=broken)


@pytest.mark.parametrize(
    ("guard", "request_", "holds"),
    [
        ("caller_is_issuer", Request("agent", NOW), True),
        ("caller_is_issuer", Request("seller", NOW), False),
        ("caller_is_grantee", Request("seller", NOW), True),
        ("caller_is_grantee", Request("other_seller", NOW), False),
        ("currency_matches", Request("seller", NOW, currency="usd"), True),
        ("currency_matches", Request("seller", NOW, currency="eur"), False),
        ("fits_headroom", Request("seller", NOW, amount=1000), True),
        ("fits_headroom", Request("seller", NOW, amount=1001), False),
        ("fits_headroom", Request("seller", NOW, amount=0), False),
        ("not_expired", Request("seller", NOW + 99), True),
        ("not_expired", Request("seller", NOW + 100), False),
    ],
)
def test_guard_meaning_holds_as_documented(guard: str, request_: Request, holds: bool) -> None:
    assert m.GUARDS[guard](ACTIVE, request_) is holds


def test_guard_not_expired_token_without_expiry_holds_forever() -> None:
    forever = dataclasses.replace(ACTIVE, expires_at=None)
    assert m.GUARDS["not_expired"](forever, Request("seller", 2**40))


def test_effect_start_usage_takes_the_request_limits() -> None:
    limits = Limits("eur", 500, None, Recurring("day"))
    started = m.EFFECTS["start_usage"](TokenModel(), Request("agent", NOW, limits=limits), None)
    assert (started.currency, started.max_amount, started.captured, started.recurring) == (
        "eur",
        500,
        0,
        limits.recurring,
    )
    assert started.window_start == NOW


def test_effect_capture_amount_adds_and_records_the_payment() -> None:
    after = m.EFFECTS["capture_amount"](ACTIVE, Request("seller", NOW, amount=300), None)
    assert (after.captured, after.payments) == (300, (300,))


def test_effect_reset_usage_starts_the_current_window() -> None:
    recurring = dataclasses.replace(ACTIVE, recurring=Recurring("hour"), window_start=NOW, captured=40, payments=(40,))
    after = m.EFFECTS["reset_usage"](recurring, Request("clock", NOW + 3 * 3600 + 5), None)
    assert (after.captured, after.payments, after.window_start) == (0, (), NOW + 3 * 3600)


def test_effect_deactivate_now_dates_it_between_the_readings() -> None:
    after = m.EFFECTS["deactivate_now"](ACTIVE, Request("agent", NOW + 5, until=NOW + 7), "revoked")
    assert (after.reason, after.deactivated_at, after.deactivated_by) == ("revoked", NOW + 5, NOW + 7)


def test_effect_deactivate_at_expiry_dates_it_at_expires_at() -> None:
    after = m.EFFECTS["deactivate_at_expiry"](ACTIVE, Request("clock", NOW + 500), "expired")
    assert (after.reason, after.deactivated_at, after.deactivated_by) == ("expired", NOW + 100, NOW + 100)


def test_conditions_hold_as_documented() -> None:
    full = dataclasses.replace(ACTIVE, captured=1000)
    assert m.CONDITIONS["cap_reached"](full, NOW)
    assert not m.CONDITIONS["cap_reached"](ACTIVE, NOW)
    assert not m.CONDITIONS["cap_reached"](dataclasses.replace(full, recurring=Recurring("day")), NOW)
    assert m.CONDITIONS["expiry_reached"](ACTIVE, NOW + 100)
    assert not m.CONDITIONS["expiry_reached"](ACTIVE, NOW + 99)
    monthly = dataclasses.replace(ACTIVE, recurring=Recurring("month"), window_start=1_767_225_600)  # 2026-01-01
    assert not m.CONDITIONS["window_elapsed"](monthly, 1_767_225_600 + 30 * 86_400)
    assert m.CONDITIONS["window_elapsed"](monthly, 1_767_225_600 + 31 * 86_400)


# ------------------------------------------------------------------ triggers
def _satisfying(trigger_name: str, token: TokenModel) -> Request:
    trigger = LIFECYCLE.triggers[trigger_name]
    actor = {"agent": "agent", "seller": "seller"}.get(trigger.actor, trigger.actor)
    return Request(actor, NOW, amount=1, currency=token.currency)


@pytest.mark.parametrize(
    ("name", "source"),
    [(t.name, s) for t in LIFECYCLE.triggers.values() for s in t.sources if s != "none"],
)
def test_step_trigger_from_each_source_lands_in_its_target(name: str, source: str) -> None:
    token = dataclasses.replace(ACTIVE, state=source)
    trigger = LIFECYCLE.triggers[name]
    step = m.step(LIFECYCLE, token, name, _satisfying(name, token))
    assert step.accepted
    assert step.model.state == trigger.target
    assert step.model.reason == trigger.reason
    assert step.applied[0] == name
    assert {(e.event, e.to) for e in step.emitted} >= {(e.event, e.to) for e in trigger.emits}
    assert set(trigger.requirements) <= set(step.requirements)


def test_issue_creates_an_active_token_with_nothing_captured() -> None:
    step = m.issue(LIFECYCLE, Limits("gbp", 700), NOW)
    assert (step.model.state, step.model.captured, step.model.currency, step.model.reason) == ("active", 0, "gbp", None)
    assert step.emitted == ()
    assert step.requirement == "SPT-ISS-001"


def test_use_fitting_payment_captures_and_emits_used_to_both_parties() -> None:
    step = m.step(LIFECYCLE, ACTIVE, "use", Request("seller", NOW, amount=400, currency="usd"))
    assert (step.accepted, step.model.state, step.model.captured, step.status) == (True, "active", 400, 200)
    assert {(e.event, e.to) for e in step.emitted} == {
        ("shared_payment.issued_token.used", "agent"),
        ("shared_payment.granted_token.used", "seller"),
    }


def test_use_reaching_the_cap_follows_with_reach_cap() -> None:
    step = m.step(LIFECYCLE, ACTIVE, "use", Request("seller", NOW, until=NOW + 1, amount=1000, currency="usd"))
    assert step.applied == ("use", "reach_cap")
    assert (step.model.state, step.model.reason, step.model.deactivated_at) == ("deactivated", "consumed", NOW)
    assert "SPT-USE-009" in step.requirements
    assert ("shared_payment.granted_token.deactivated", "seller") in {(e.event, e.to) for e in step.emitted}


def test_decline_is_answered_402_card_error_and_changes_nothing() -> None:
    step = m.step(LIFECYCLE, ACTIVE, "decline", Request("seller", NOW, amount=10, currency="usd"))
    assert (step.accepted, step.status, step.error_type, step.model) == (True, 402, "card_error", ACTIVE)
    assert step.emitted == ()


def test_elapse_past_expiry_deactivates_at_expires_at() -> None:
    step = m.elapse(LIFECYCLE, ACTIVE, NOW + 1000)
    assert step.applied == ("reach_expiry",)
    assert (step.model.state, step.model.reason, step.model.deactivated_at) == ("deactivated", "expired", NOW + 100)
    assert m.elapse(LIFECYCLE, ACTIVE, NOW + 99).applied == ()


def test_elapse_recurring_window_resets_usage() -> None:
    token = dataclasses.replace(
        ACTIVE, expires_at=None, recurring=Recurring("day"), window_start=NOW, captured=900, payments=(900,)
    )
    step = m.elapse(LIFECYCLE, token, NOW + 86_400)
    assert step.applied == ("window_reset",)
    assert (step.model.captured, step.model.state) == (0, "active")


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("forbidden", "reason"),
    [(f.name, r) for f in LIFECYCLE.forbidden if f.sources for r in LIFECYCLE.states["deactivated"].reasons],
)
def test_forbidden_from_state_is_refused_with_its_requirements(forbidden: str, reason: str) -> None:
    rule = next(f for f in LIFECYCLE.forbidden if f.name == forbidden)
    token = deactivated(reason)
    step = m.step(LIFECYCLE, token, rule.trigger, _satisfying(rule.trigger, token))
    assert (step.accepted, step.refused_by, step.model) == (False, forbidden, token)
    assert step.requirements == rule.requirements_for(reason)
    assert step.status is None
    assert step.emitted == ()


def _violating(guard_name: str, trigger_name: str) -> Request:
    guard = LIFECYCLE.guards[guard_name]
    request = _satisfying(trigger_name, ACTIVE)
    if guard.violated_by_actor is not None:
        return dataclasses.replace(request, actor=guard.violated_by_actor)
    assert guard.violated_by_param is not None
    param, _ = guard.violated_by_param
    return dataclasses.replace(request, **({"amount": 1001} if param == "amount" else {"currency": "jpy"}))


@pytest.mark.parametrize("forbidden", [f.name for f in LIFECYCLE.forbidden if f.violates])
def test_forbidden_guard_violation_is_refused_with_its_requirements(forbidden: str) -> None:
    rule = next(f for f in LIFECYCLE.forbidden if f.name == forbidden)
    assert rule.violates is not None
    step = m.step(LIFECYCLE, ACTIVE, rule.trigger, _violating(rule.violates, rule.trigger))
    assert (step.accepted, step.refused_by, step.model) == (False, rule.violates, ACTIVE)
    assert step.requirements == rule.requirements


def test_use_after_expiry_unnoticed_is_refused_by_not_expired() -> None:
    step = m.step(LIFECYCLE, ACTIVE, "use", Request("seller", NOW + 100, amount=1, currency="usd"))
    assert (step.refused_by, step.requirement) == ("not_expired", "SPT-EXP-001")


def test_step_unspecified_move_raises_model_error() -> None:
    with pytest.raises(m.ModelError, match="neither allowed nor forbidden"):
        m.step(LIFECYCLE, deactivated("revoked"), "decline", Request("seller", NOW, amount=1, currency="usd"))


def test_step_unknown_trigger_raises_model_error() -> None:
    with pytest.raises(m.ModelError, match="no trigger"):
        m.step(LIFECYCLE, ACTIVE, "teleport", Request("agent", NOW))


def test_aspects_name_requirements_of_their_trigger() -> None:
    for trigger_name, parts in m.ASPECTS.items():
        trigger = LIFECYCLE.triggers[trigger_name]
        for part, requirement in parts.items():
            assert part in {"response", "state", "captured", "deactivated_at"}
            assert requirement in trigger.requirements, (trigger_name, part, requirement)


# ------------------------------------------------------------------ judging views
def test_invariants_faithful_views_have_no_violation() -> None:
    used = m.step(LIFECYCLE, ACTIVE, "use", Request("seller", NOW, amount=300, currency="usd")).model
    assert inv.invariant_violations(used, *views(used), [views(ACTIVE)], lifecycle=LIFECYCLE) == []


def _broken(field: str, value: Any, *, granted_only: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    issued, granted = views(ACTIVE)
    if not granted_only:
        issued = {**issued, field: value}
    return issued, {**granted, field: value}


@pytest.mark.parametrize(
    ("invariant", "damage", "previous"),
    [
        ("captured_within_cap", _broken("usage_details", {"amount_captured": {"currency": "usd", "value": 5000}}), ()),
        (
            "captured_matches_payments",
            _broken("usage_details", {"amount_captured": {"currency": "usd", "value": 7}}),
            (),
        ),
        ("currency_fixed", _broken("usage_details", {"amount_captured": {"currency": "eur", "value": 0}}), ()),
        ("status_matches_state", ({**views(ACTIVE)[0], "status": "revoked"}, views(ACTIVE)[1]), ()),
        (
            "views_agree",
            _broken("usage_limits", {"currency": "usd", "max_amount": 1, "expires_at": None}, granted_only=True),
            (),
        ),
    ],
)
def test_invariant_broken_view_names_its_first_requirement(
    invariant: str, damage: tuple[Mapping[str, Any], Mapping[str, Any]], previous: tuple[Any, ...]
) -> None:
    found = inv.invariant_violations(ACTIVE, *damage, previous, lifecycle=LIFECYCLE)
    expected = next(i for i in LIFECYCLE.invariants if i.name == invariant).requirements[0]
    assert expected in [v.requirement for v in found]
    assert any(f"[invariant {invariant}]" in v.received for v in found)
    assert all(v.expected and v.tip for v in found)


def test_invariant_granted_view_misreporting_the_cap_breaks_views_agree_not_the_cap() -> None:
    used = m.step(LIFECYCLE, ACTIVE, "use", Request("seller", NOW, amount=300, currency="usd")).model
    issued, granted = views(used)
    shrunk = {**granted, "usage_limits": {**granted["usage_limits"], "max_amount": 0}}  # what is left, say
    found = inv.invariant_violations(used, issued, shrunk, [views(ACTIVE)], lifecycle=LIFECYCLE)
    assert [v.requirement for v in found] == ["SPT-GRT-002"]
    assert "[invariant views_agree]" in found[0].received


def test_invariant_captured_monotonic_decrease_is_a_violation() -> None:
    earlier = dataclasses.replace(ACTIVE, captured=300, payments=(300,))
    found = inv.invariant_violations(ACTIVE, *views(ACTIVE), [views(earlier)], lifecycle=LIFECYCLE)
    assert "SPT-USE-006" in [v.requirement for v in found]
    assert any("captured_monotonic" in v.received for v in found)


def test_invariant_reason_set_once_change_is_a_violation() -> None:
    revoked = deactivated("revoked")
    later = dataclasses.replace(revoked, reason="expired")
    found = inv.invariant_violations(later, *views(later), [views(revoked)], lifecycle=LIFECYCLE)
    assert any(v.requirement == "SPT-REV-006" and "reason_set_once" in v.received for v in found)


def test_state_violations_blame_the_given_requirement() -> None:
    parts = {"state": "SPT-REV-001", "captured": "SPT-USE-004", "deactivated_at": "SPT-EXP-003"}
    revoked = deactivated("revoked")
    found = inv.state_violations(LIFECYCLE, revoked, views(ACTIVE)[0], parts)
    assert [v.requirement for v in found][:1] == ["SPT-REV-001"]
    late = {**views(revoked)[0], "deactivated_at": NOW + 3}
    assert [v.requirement for v in inv.state_violations(LIFECYCLE, revoked, late, parts)] == ["SPT-EXP-003"]
    assert inv.state_violations(LIFECYCLE, revoked, late, parts, slack=3) == []


# ------------------------------------------------------------------ a property
ATTEMPTS = st.lists(
    st.tuples(
        st.sampled_from(["use", "decline", "revoke", "test_helper_revoke", "elapse"]),
        st.sampled_from(["agent", "seller", "other_seller"]),
        st.integers(1, 1500),
        st.sampled_from(["usd", "eur"]),
        st.integers(0, 60),
    ),
    max_size=15,
)


@settings(max_examples=150, deadline=None, database=None)
@given(max_amount=st.integers(1, 1200), lifetime=st.one_of(st.none(), st.integers(1, 300)), attempts=ATTEMPTS)
def test_model_random_sequences_keep_every_invariant(
    max_amount: int, lifetime: int | None, attempts: list[tuple[str, str, int, str, int]]
) -> None:
    now = NOW
    token = m.issue(LIFECYCLE, Limits("usd", max_amount, now + lifetime if lifetime else None), now).model
    readings = [views(token)]
    for trigger, actor, amount, currency, wait in attempts:
        now += wait
        token = m.elapse(LIFECYCLE, token, now).model
        if trigger != "elapse":
            if token.state not in LIFECYCLE.triggers[trigger].sources and not any(
                f.trigger == trigger and token.state in f.sources for f in LIFECYCLE.forbidden
            ):
                continue
            step = m.step(LIFECYCLE, token, trigger, Request(actor, now, amount=amount, currency=currency))
            assert step.accepted or step.model == token
            token = step.model
        assert 0 <= token.captured <= token.max_amount
        assert inv.invariant_violations(token, *views(token), readings, lifecycle=LIFECYCLE) == []
        readings.append(views(token))
