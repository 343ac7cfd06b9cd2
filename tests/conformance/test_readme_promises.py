"""What the README and docs tell a new user holds: one Stripe-Version, the key variables, the
certify options, skip reasons worded as the docs word them, and an example target that passes the
doctor's checks."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from conformance.cli import _parser
from conformance.doctor import Severity, diagnose
from conformance.doctor.static import PREVIEW_VERSION
from conformance.target import NEED_WORDING, target_from_mapping
from conformance.target_flags import ENVIRONMENT

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", ROOT / "cassettes" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_example_sends_the_one_advised_stripe_version() -> None:
    found = {
        (path.name, value)
        for path in DOCS
        for value in re.findall(r'stripe_version: "([^"]+)"', path.read_text(encoding="utf-8"))
    }
    assert found, "no example target names a stripe_version"
    assert {value for _, value in found} == {PREVIEW_VERSION}, found


def test_readme_names_every_environment_fallback_of_the_key_flags() -> None:
    missing = [variable for variable in ENVIRONMENT.values() if variable not in README]
    assert missing == []


def test_readme_documents_every_certify_and_verify_option() -> None:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("certify", "verify"):
        options = {
            option
            for action in commands[command]._actions
            for option in action.option_strings
            if option.startswith("--") and option != "--help"
        }
        target_flags = {"--target", "--base-url", "--capability", "--stripe-version"} | {
            f"--{name.replace('_', '-')}" for name in ENVIRONMENT
        }
        undocumented = sorted(o for o in options - target_flags if not re.search(rf"{re.escape(o)}\b", README))
        assert undocumented == [], f"{command}: {undocumented}"


def test_target_file_doc_words_skip_reasons_as_the_runs_say_them() -> None:
    text = (ROOT / "docs" / "target-file.md").read_text(encoding="utf-8")
    assert [wording for wording in NEED_WORDING.values() if wording not in text] == []


def test_readme_example_target_passes_the_doctors_static_checks() -> None:
    block = re.search(r"```yaml\n(name: my-sandbox.*?)```", README, re.DOTALL)
    assert block is not None
    environment = {
        "AGENT_KEY": "sk_test_readmeAgent000000000001",
        "SELLER_KEY": "sk_test_readmeSeller00000000001",
        "SELLER_PROFILE": "profile_test_readmeSeller1",
        "OTHER_SELLER_KEY": "sk_test_readmeOther000000000001",
        "OTHER_SELLER_PROFILE": "profile_test_readmeOther1",
    }
    target = target_from_mapping(yaml.safe_load(block.group(1)), "README.md", environment)
    diagnosis = diagnose(target, live=False)
    assert diagnosis.with_severity(Severity.WARN, Severity.STOP, Severity.CONFIG) == (), diagnosis.render()


def test_readme_explains_how_long_a_run_against_an_external_server_takes() -> None:
    assert "docs/stripe-test-mode.md" in README
    assert re.search(r"a full run makes about [\d,]+ requests", README)
