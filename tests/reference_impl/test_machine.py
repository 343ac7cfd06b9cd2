"""The transition table agrees with spec/lifecycle.yaml, and illegal moves raise one error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_impl.domain import State
from reference_impl.machine import TABLE, IllegalTransition, step

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
