"""spec/requirements.yaml: every requirement's basis is backed by the evidence it gives.

The schema makes `basis` and `evidence` required and ties `decision` to a `decision:D-NN` source.
These tests check what a schema cannot: that a decision's evidence names the decision its source
names, that a quote from Stripe's OpenAPI fragments is verbatim, and that an observation names
where it was published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
REQUIREMENTS = yaml.safe_load((SPEC_DIR / "requirements.yaml").read_text(encoding="utf-8"))["requirements"]
STRIPE_FRAGMENTS = json.loads((SPEC_DIR / "stripe" / "stripe-openapi-spt.json").read_text(encoding="utf-8"))

# A quoted span in an evidence string; descriptions in Stripe's fragments hold no double quote.
QUOTED = re.compile(r'"([^"]+)"')


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


STRIPE_TEXT = "\n".join(_strings(STRIPE_FRAGMENTS))


def _with(basis: str) -> list[dict[str, Any]]:
    return [r for r in REQUIREMENTS if r["basis"] == basis]


@pytest.mark.parametrize("requirement", _with("decision"), ids=lambda r: r["id"])
def test_decision_evidence_names_the_decision_of_its_source(requirement: dict[str, Any]) -> None:
    decision = requirement["source"].removeprefix("decision:")
    assert requirement["evidence"].startswith(f"{decision}: "), (
        f"{requirement['id']} rests on {requirement['source']} but its evidence reads "
        f"{requirement['evidence']!r}; start it with '{decision}: ' and a one-line summary"
    )


@pytest.mark.parametrize(
    "requirement",
    [r for r in _with("documented") if r["source"].startswith("stripe-openapi:")],
    ids=lambda r: r["id"],
)
def test_documented_quote_from_stripe_openapi_is_verbatim(requirement: dict[str, Any]) -> None:
    quotes = QUOTED.findall(requirement["evidence"])
    assert quotes, f"{requirement['id']}: documented from Stripe's OpenAPI fragments, but its evidence quotes nothing"
    for quote in quotes:
        assert quote in STRIPE_TEXT, (
            f"{requirement['id']}: {quote!r} is not verbatim in spec/stripe/stripe-openapi-spt.json; "
            "copy the description exactly as Stripe wrote it"
        )


@pytest.mark.parametrize("requirement", _with("observed"), ids=lambda r: r["id"])
def test_observed_evidence_names_a_public_capture(requirement: dict[str, Any]) -> None:
    assert re.search(r"https://github\.com/\S+/(issues|pull)/\d+", requirement["evidence"]), (
        f"{requirement['id']}: an observation names the public issue or pull request where the "
        f"captured Stripe response was published; got {requirement['evidence']!r}"
    )


def test_every_basis_is_used_by_some_requirement() -> None:
    # A basis nobody uses would mean the routing of its verdicts is never exercised.
    assert {r["basis"] for r in REQUIREMENTS} == {"documented", "observed", "convention", "decision"}


def test_documented_requirements_cite_stripe_not_ourselves() -> None:
    ours = [r["id"] for r in _with("documented") if r["source"] == "seed" or r["source"].startswith("decision:")]
    assert ours == [], f"documented requirements must cite a Stripe source, not the seed or a decision: {ours}"
