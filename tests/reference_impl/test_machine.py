"""The transition table agrees with spec/lifecycle.yaml, and illegal moves raise one error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_impl.domain import Reason, State, Token, UsageLimits
from reference_impl.errors import InvalidRequest
from reference_impl.machine import (
    EFFECTS,
    GUARDS,
    TABLE,
    Attempt,
    IllegalTransition,
    WrongParty,
    apply,
    attempt,
    step,
)  # fmt: skip

LIFECYCLE = Path(__file__).resolve().parents[2] / "spec" / "lifecycle.yaml"


@pytest.fixture(scope="module")
def lifecycle() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LIFECYCLE.read_text(encoding="utf-8"))
    return data


def _rows(trigger: str) -> dict[State, Any]:
    return {state: t for (state, name), t in TABLE.items() if name == trigger}


def test_machine_states_match_lifecycle(lifecycle: dict[str, Any]) -> None:
    assert {s.value for s in State} - {"none"} == set(lifecycle["states"])
    for name, spec in lifecycle["states"].items():
        assert State(name).value == spec["issued_status"]


def test_machine_triggers_match_lifecycle(lifecycle: dict[str, Any]) -> None:
    assert {name for _, name in TABLE} == {t["name"] for t in lifecycle["triggers"]}


def test_machine_each_trigger_matches_its_lifecycle_entry(lifecycle: dict[str, Any]) -> None:
    for spec in lifecycle["triggers"]:
        rows = _rows(spec["name"])
        assert {s.value for s in rows} == set(spec["from"]), spec["name"]
        for transition in rows.values():
            where = spec["name"]
            assert transition.actor == spec["actor"], where
            assert transition.to.value == spec["to"], where
            assert (transition.reason.value if transition.reason else None) == spec.get("reason"), where
            assert list(transition.guards) == spec["guards"], where
            assert list(transition.effects) == spec["effects"], where
            assert list(transition.follow) == spec.get("follow", []), where
            emitted = {(e.event, e.to) for e in transition.emits}
            assert emitted == {(e["event"], e["to"]) for e in spec["emits"]}, where


def test_machine_forbidden_moves_are_absent(lifecycle: dict[str, Any]) -> None:
    for forbidden in lifecycle["forbidden"]:
        for state in forbidden.get("from", []):
            assert (State(state), forbidden["trigger"]) not in TABLE, forbidden["name"]
    deactivated = lifecycle["states"]["deactivated"]
    assert deactivated["terminal"] is True
    assert not [key for key in TABLE if key[0] == State.DEACTIVATED]


def test_machine_deactivation_reasons_match_lifecycle(lifecycle: dict[str, Any]) -> None:
    reasons = {t.reason.value for t in TABLE.values() if t.reason is not None}
    assert reasons == set(lifecycle["states"]["deactivated"]["reasons"])


def test_step_illegal_move_names_trigger_actor_and_state() -> None:
    with pytest.raises(IllegalTransition) as caught:
        step(State.DEACTIVATED, "revoke", "agent")
    assert (caught.value.trigger, caught.value.actor, caught.value.state) == ("revoke", "agent", State.DEACTIVATED)
    assert "revoke" in str(caught.value)
    assert "agent" in str(caught.value)
    assert "deactivated" in str(caught.value)


def test_step_wrong_actor_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        step(State.ACTIVE, "revoke", "seller")
    assert step(State.ACTIVE, "test_helper_revoke", "seller").to == State.DEACTIVATED


def test_every_guard_and_effect_of_the_table_is_defined_beside_it() -> None:
    assert {g for t in TABLE.values() for g in t.guards} == set(GUARDS)
    assert {e for t in TABLE.values() for e in t.effects} == set(EFFECTS)


_TOKEN = Token("spt_1", 100, "acct_seller", None, "pm_1", UsageLimits("usd", 1000, 500), agent_account="acct_agent")


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (Attempt("acct_seller", 200, 1001, "usd", "t"), "amount_too_large"),
        (Attempt("acct_seller", 200, 10, "eur", "t"), "shared_payment_token_currency_mismatch"),
        (Attempt("acct_seller", 500, 10, "usd", "t"), "shared_payment_token_expired"),
    ],
    ids=["headroom", "currency", "expiry"],
)
def test_attempt_refuses_a_use_whose_guard_fails(at: Attempt, code: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        attempt(_TOKEN, "use", "seller", at)
    assert refused.value.code == code


def test_attempt_refuses_another_party_and_allows_the_grantee() -> None:
    with pytest.raises(WrongParty):
        attempt(_TOKEN, "use", "seller", Attempt("acct_other", 200, 10, "usd", "t"))
    assert attempt(_TOKEN, "use", "seller", Attempt("acct_seller", 200, 1000, "usd", "t")).to is State.ACTIVE


def test_attempt_on_a_dead_token_says_why_it_is_dead() -> None:
    dead = _TOKEN.replace(state=State.DEACTIVATED, deactivated_reason=Reason.EXPIRED, deactivated_at=500)
    with pytest.raises(InvalidRequest) as refused:
        attempt(dead, "use", "seller", Attempt("acct_seller", 600, 10, "usd", "t"))
    assert (refused.value.code, refused.value.param) == ("shared_payment_token_expired", "t")
    with pytest.raises(IllegalTransition):
        attempt(dead, "revoke", "agent", Attempt("acct_agent", 600))


def test_apply_makes_the_effects_of_a_use_and_a_revoke() -> None:
    used = apply(_TOKEN, step(State.ACTIVE, "use", "seller"), 200, 300)
    assert (used.state, used.amount_captured) == (State.ACTIVE, 300)
    revoked = apply(used, step(State.ACTIVE, "revoke", "agent"), 250)
    assert (revoked.state, revoked.deactivated_reason, revoked.deactivated_at) == (
        State.DEACTIVATED,
        Reason.REVOKED,
        250,
    )
    assert revoked.amount_captured == 300
