"""docs/stripe-test-mode.md, checked offline: its target file passes the doctor's static checks,
and every command it shows is one the command line accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from conformance.cli import _parser
from conformance.doctor import Severity, diagnose
from conformance.doctor.static import PREVIEW_VERSION
from conformance.target import target_from_mapping

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "stripe-test-mode.md"
ENVIRONMENT = {
    "AGENT_KEY": "sk_test_guideAgent0000000000000001",
    "SELLER_KEY": "sk_test_guideSeller000000000000001",
    "SELLER_PROFILE": "profile_test_guideSeller0001",
    "OTHER_SELLER_KEY": "sk_test_guideOther0000000000000001",
    "OTHER_SELLER_PROFILE": "profile_test_guideOther0001",
}


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)


def test_guide_target_passes_the_doctors_static_checks() -> None:
    (block,) = _blocks("yaml")
    target = target_from_mapping(yaml.safe_load(block), "docs/stripe-test-mode.md", ENVIRONMENT)
    assert target.is_stripe
    assert target.stripe_version == PREVIEW_VERSION
    assert target.undecided == {"clock", "webhook_endpoints", "events", "test_helpers"}  # capabilities: auto
    diagnosis = diagnose(target, live=False)
    problems = diagnosis.with_severity(Severity.WARN, Severity.STOP, Severity.CONFIG)
    assert problems == (), diagnosis.render()


def _commands() -> list[list[str]]:
    lines = [line.split("#")[0].strip() for block in _blocks("sh") for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("spt-conformance ")]


@pytest.mark.parametrize("argv", _commands(), ids=lambda argv: " ".join(argv[:2]))
def test_guide_commands_are_accepted_by_the_command_line(argv: list[str]) -> None:
    args = _parser().parse_args(argv)  # argparse exits 2 on anything it does not know
    assert callable(args.handler)
