"""The specification loads, and each kind of damage to it is refused with a precise message."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.catalog import Level
from conformance.resources import spec_dir
from conformance.spec import SpecError, check_spec, load_spec

SPEC = spec_dir()
ISSUE_AREAS = {"ISS", "GRT", "USE", "REV", "EXP", "EVT", "SEC", "IDM", "ERR", "WIRE"}


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    target = tmp_path / "spec"
    shutil.copytree(SPEC, target)
    return target


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the fixture text {old!r} is not in {path.name}: update this test"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_load_spec_shipped_files_are_valid() -> None:
    spec = check_spec()
    assert len(spec.catalogue) >= 60
    assert set(spec.catalogue.areas) >= ISSUE_AREAS
    assert {r.area for r in spec.catalogue} == set(spec.catalogue.areas)


def test_catalogue_ids_are_unique_and_well_formed() -> None:
    ids = [r.id for r in load_spec().catalogue]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"SPT-[A-Z]{2,5}-[0-9]{3}", i) for i in ids)


def test_catalogue_every_level_is_used() -> None:
    levels = {r.level for r in load_spec().catalogue}
    assert levels == set(Level)


def test_lifecycle_references_only_catalogued_requirements() -> None:
    spec = load_spec()
    assert spec.lifecycle.requirement_ids() <= {r.id for r in spec.catalogue}
    generated = spec.lifecycle.generated_triggers
    assert {t.name for t in generated} >= {
        "issue",
        "use",
        "decline",
        "revoke",
        "test_helper_revoke",
        "reach_expiry",
        "reach_cap",
    }
    for trigger in generated:
        assert trigger.requirements, f"generated trigger {trigger.name} proves nothing"


def test_decisions_answer_every_open_question() -> None:
    """Open questions 1-27 of the fact brief each have a decision that says what the suite does."""
    text = (SPEC / "DECISIONS.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    by_number = {s.split(" ", 1)[0]: s for s in sections}
    for number in range(1, 28):
        section = by_number.get(f"D-{number:02d}")
        assert section is not None, f"open question {number} has no decision D-{number:02d}"
        assert "**Suite.**" in section or "untested" in section.lower(), (
            f"D-{number:02d} does not say what the suite checks"
        )


def test_decision_requirements_point_at_written_decisions() -> None:
    spec = load_spec()
    for requirement in spec.catalogue:
        if requirement.decision:
            assert requirement.decision in spec.decisions


Corruption = tuple[str, Callable[[Path], None], str, str]

CORRUPTIONS: list[Corruption] = [
    (
        "duplicate requirement id",
        lambda d: edit(d / "requirements.yaml", "id: SPT-ISS-002", "id: SPT-ISS-001"),
        "spec/requirements.yaml",
        r"requirements\[1\]\.id: SPT-ISS-001 is already used by requirements\[0\]",
    ),
    (
        "malformed requirement id",
        lambda d: edit(d / "requirements.yaml", "id: SPT-ISS-002", "id: SPT-ISS-02"),
        "spec/requirements.yaml",
        r"requirements\[1\]\.id: 'SPT-ISS-02' does not match",
    ),
    (
        "requirement in an unknown area",
        lambda d: edit(d / "requirements.yaml", "id: SPT-ISS-002", "id: SPT-FOO-002"),
        "spec/requirements.yaml",
        r"requirements\[1\]\.id: SPT-FOO-002 names area 'FOO', which `areas` does not list",
    ),
    (
        "unknown level",
        lambda d: edit(d / "requirements.yaml", "level: SHOULD", "level: SHALL"),
        "spec/requirements.yaml",
        r"requirements\[\d+\]\.level: 'SHALL' is not one of",
    ),
    (
        "decision that is not written down",
        lambda d: edit(d / "requirements.yaml", "source: decision:D-35", "source: decision:D-99"),
        "spec/requirements.yaml",
        r"requirements\[7\]\.source: decision:D-99 has no `## D-99` heading in DECISIONS\.md",
    ),
    (
        "stripe pointer that does not resolve",
        lambda d: edit(
            d / "requirements.yaml",
            "stripe-openapi:/components/schemas/shared_payment.issued_token/properties/status",
            "stripe-openapi:/components/schemas/shared_payment.issued_token/properties/state",
        ),
        "spec/requirements.yaml",
        r"requirements\[\d+\]\.source: stripe-openapi:.*/state does not resolve",
    ),
    (
        "requirements file that is not YAML",
        lambda d: edit(d / "requirements.yaml", "areas:\n", "areas: [\n"),
        "spec/requirements.yaml",
        r"spec/requirements\.yaml:\d+: \(top\): not valid YAML",
    ),
    (
        "unknown guard on a trigger",
        lambda d: edit(d / "lifecycle.yaml", "guards: [caller_is_issuer]", "guards: [caller_is_owner]"),
        "spec/lifecycle.yaml",
        r"triggers\[4\]\.guards\[0\]: 'caller_is_owner' is not one of",
    ),
    (
        "lifecycle naming an unknown requirement",
        lambda d: edit(d / "lifecycle.yaml", "requirements: [SPT-USE-009]", "requirements: [SPT-USE-999]"),
        "spec/lifecycle.yaml",
        r"triggers\[3\]\.requirements\[0\]: SPT-USE-999 is not in spec/requirements\.yaml",
    ),
    (
        "forbidden move that violates a guard the trigger lacks",
        lambda d: edit(d / "lifecycle.yaml", "violates: caller_is_issuer", "violates: fits_headroom"),
        "spec/lifecycle.yaml",
        r"forbidden\[6\]\.violates: trigger 'revoke' has no guard 'fits_headroom' to violate",
    ),
    (
        "forbidden move from a state the trigger allows",
        lambda d: edit(
            d / "lifecycle.yaml",
            "    trigger: revoke\n    from: [deactivated]",
            "    trigger: revoke\n    from: [active]",
        ),
        "spec/lifecycle.yaml",
        r"forbidden\[1\]\.from\[0\]: trigger 'revoke' is allowed from 'active', so it cannot be forbidden there",
    ),
    (
        "deactivation without a reason",
        lambda d: edit(d / "lifecycle.yaml", "    to: deactivated\n    reason: consumed\n", "    to: deactivated\n"),
        "spec/lifecycle.yaml",
        r"triggers\[3\]: 'reason' is a required property",
    ),
    (
        "lifecycle operation missing from the OpenAPI document",
        lambda d: edit(
            d / "lifecycle.yaml", "operation: PostSharedPaymentIssuedTokens\n", "operation: PostSharedPaymentTokens\n"
        ),
        "spec/lifecycle.yaml",
        r"triggers\[0\]\.operation: operation 'PostSharedPaymentTokens' is not an operationId of spec/openapi\.yaml",
    ),
    (
        "follow naming no trigger",
        lambda d: edit(d / "lifecycle.yaml", "follow: [reach_cap]", "follow: [reach_limit]"),
        "spec/lifecycle.yaml",
        r"triggers\[1\]\.follow\[0\]: no trigger named 'reach_limit'",
    ),
    (
        "operation without an actor",
        lambda d: edit(d / "openapi.yaml", "x-spt-actor: agent", "x-spt-actor: buyer"),
        "spec/openapi.yaml",
        r"paths\./v1/shared_payment/issued_tokens\.post: x-spt-actor must be one of agent, seller, any, not 'buyer'",
    ),
    (
        "schema file that is not JSON",
        lambda d: edit(d / "schemas" / "lifecycle.schema.json", '"type": "object"', '"type": object'),
        "spec/schemas/lifecycle.schema.json",
        r"spec/schemas/lifecycle\.schema\.json:\d+: \(top\): not valid JSON",
    ),
]


@pytest.mark.parametrize(("case", "damage", "file", "message"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_load_spec_damaged_copy_is_refused_precisely(
    spec_copy: Path, case: str, damage: Callable[[Path], None], file: str, message: str
) -> None:
    damage(spec_copy)
    with pytest.raises(SpecError) as raised:
        load_spec(spec_copy)
    rendered = raised.value.render()
    assert any(
        str(location).startswith(file) and re.search(message, f"{location}: {problem}")
        for location, problem in raised.value.problems
    ), rendered


def test_check_spec_invalid_openapi_is_refused(spec_copy: Path) -> None:
    with (spec_copy / "openapi.yaml").open("a", encoding="utf-8") as file:
        file.write("\ninfo: 7\n")  # the last `info` wins: not an Info object
    with pytest.raises(SpecError) as raised:
        check_spec(spec_copy)
    assert "spec/openapi.yaml" in raised.value.render()
    assert "not valid OpenAPI 3.1" in raised.value.render()


def test_spec_error_names_line_of_the_problem(spec_copy: Path) -> None:
    edit(spec_copy / "lifecycle.yaml", "guards: [caller_is_issuer]", "guards: [caller_is_owner]")
    with pytest.raises(SpecError) as raised:
        load_spec(spec_copy)
    location, _ = raised.value.problems[0]
    lines = (spec_copy / "lifecycle.yaml").read_text(encoding="utf-8").splitlines()
    assert location.line is not None
    assert "caller_is_owner" in lines[location.line - 1]


def test_spec_digest_changes_with_any_file(spec_copy: Path) -> None:
    before = load_spec(spec_copy).digest
    edit(spec_copy / "DECISIONS.md", "# Decisions", "# Decisions\n")
    assert load_spec(spec_copy).digest != before
