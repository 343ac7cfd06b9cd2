"""Target files: variables expand, and every way a target can be unusable is refused in one sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.target import TargetError, load_target, target_from_mapping

AGENT = "sk_test_agentKey00000001"
SELLER = "sk_test_sellerKey0000001"


def mapping(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "sandbox",
        "base_url": "http://127.0.0.1:12111/",
        "agent": {"secret_key": AGENT},
        "seller": {"secret_key": SELLER, "network_business_profile": "profile_test_s"},
    }
    data.update(changes)
    return data


def test_target_variables_expand_from_the_environment() -> None:
    target = target_from_mapping(
        mapping(agent={"secret_key": "${AGENT_KEY}"}, base_url="http://${HOST}:12111"),
        environ={"AGENT_KEY": AGENT, "HOST": "localhost"},
    )
    assert target.agent.secret_key == AGENT
    assert target.base_url == "http://localhost:12111"


def test_target_variable_default_applies_only_when_unset() -> None:
    data = mapping(base_url="${BASE_URL:-http://127.0.0.1:9}")
    assert target_from_mapping(data, environ={}).base_url == "http://127.0.0.1:9"
    assert target_from_mapping(data, environ={"BASE_URL": "https://x.test"}).base_url == "https://x.test"


def test_target_missing_variable_is_named_with_where_it_is_used() -> None:
    with pytest.raises(
        TargetError, match=r"target\.seller\.secret_key uses \$\{SELLER_KEY\}, but .* SELLER_KEY is not set"
    ):
        target_from_mapping(mapping(seller={"secret_key": "${SELLER_KEY}"}), environ={})


def test_target_live_key_is_refused_even_from_a_variable() -> None:
    with pytest.raises(TargetError, match="live-mode key; the suite refuses live keys"):
        target_from_mapping(mapping(agent={"secret_key": "${K}"}), environ={"K": "sk_live_abcdefghijkl"})


def test_target_key_that_is_not_a_test_key_is_refused() -> None:
    with pytest.raises(TargetError, match="does not look like a test-mode secret key"):
        target_from_mapping(mapping(agent={"secret_key": "pk_test_abcdefgh"}), environ={})


def test_target_unknown_capability_is_refused_with_the_known_ones() -> None:
    with pytest.raises(TargetError, match="unknown capability teleport; known: clock, webhook_endpoints"):
        target_from_mapping(mapping(capabilities={"teleport": True}), environ={})


def test_target_capability_must_be_a_boolean() -> None:
    with pytest.raises(TargetError, match=r"capabilities\.clock must be true, false or auto"):
        target_from_mapping(mapping(capabilities={"clock": "yes"}), environ={})


def test_target_missing_seller_profile_is_refused() -> None:
    with pytest.raises(TargetError, match=r"seller.network_business_profile is missing"):
        target_from_mapping(mapping(seller={"secret_key": SELLER}), environ={})


def test_target_missing_account_is_refused() -> None:
    data = mapping()
    del data["seller"]
    with pytest.raises(TargetError, match="the seller account is missing"):
        target_from_mapping(data, environ={})


def test_target_base_url_must_be_http() -> None:
    with pytest.raises(TargetError, match="base_url must be an http"):
        target_from_mapping(mapping(base_url="ftp://x"), environ={})


def test_target_capabilities_and_derived_capabilities() -> None:
    target = target_from_mapping(
        mapping(capabilities={"clock": True, "events": True, "webhook_endpoints": False}), environ={}
    )
    assert target.capabilities == frozenset({"clock", "events"})
    assert target.has("event_source")
    assert not target.has("other_seller")
    assert target.missing({"clock", "test_helpers", "declined_payment_method", "event_source"}) == [
        "agent.declined_payment_method",
        "test_helpers",
    ]
    assert target.undecided == frozenset({"test_helpers"})  # left out of the mapping: auto
    assert target.base_url == "http://127.0.0.1:12111"  # the trailing slash goes


def test_target_key_never_shows_in_repr_or_hint() -> None:
    target = target_from_mapping(mapping(), environ={})
    assert AGENT not in repr(target)
    assert target.agent.key_hint == "sk_test_…0001"
    assert target.secrets() == {AGENT, SELLER}


def test_target_capabilities_default_to_auto_and_skip_reasons_use_the_file_names() -> None:
    data = mapping()
    data.pop("capabilities", None)
    target = target_from_mapping(data, environ={})
    assert target.capabilities == frozenset()
    assert target.undecided == frozenset({"clock", "webhook_endpoints", "events", "test_helpers"})
    assert target.missing({"event_source", "other_seller"}) == [
        "events or webhook_endpoints (an event source)",
        "an other_seller account",
    ]


def test_target_to_mapping_round_trips(tmp_path: Path) -> None:
    target = target_from_mapping(mapping(capabilities={"clock": True}), environ={})
    again = target_from_mapping(target.to_mapping(), environ={})
    assert again.capabilities == {"clock"}
    assert again.undecided == frozenset()  # every capability written out, decided
    assert (again.agent, again.seller, again.base_url) == (target.agent, target.seller, target.base_url)


def test_load_target_yaml_error_names_the_file_not_a_unicode_string(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text("name: x\nbase_url: [unclosed\n", encoding="utf-8")
    with pytest.raises(TargetError) as caught:
        load_target(path)
    assert f'in "{path}", line' in str(caught.value)
    assert "<unicode string>" not in str(caught.value)


def test_load_target_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text("base_url: [unclosed\n", encoding="utf-8")
    with pytest.raises(TargetError, match=f"{path} is not valid YAML"):
        load_target(path)
    with pytest.raises(TargetError, match="cannot read the target file"):
        load_target(tmp_path / "missing.yaml")
