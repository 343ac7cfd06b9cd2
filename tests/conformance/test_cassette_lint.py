"""`spt-conformance cassettes lint`: a planted secret or card number fails it, naming file and line."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from conformance.cassettes.lint import lint_directory
from conformance.cli import main
from conformance.resources import cassettes_dir

CLEAN = """version: 1
interactions:
- request:
    headers:
      authorization:
      - Bearer sk_test_SCRUBBED0123456789
    body: 'idempotency=spt-conformance-4a1e5c1b-0000-4000-8000-4242424242420'
  response:
    body:
      string: '{"card": {"last4": "4242", "cvc": "000"}}'
"""


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    (tmp_path / "test_x").mkdir()
    (tmp_path / "test_x" / "a.yaml").write_text(CLEAN, encoding="utf-8")
    return tmp_path


def test_lint_clean_recording_passes(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_directory(recording) == []
    assert main(["cassettes", "lint", str(recording)]) == 0
    assert "no secret and no card number" in capsys.readouterr().out


def test_lint_planted_secret_fails_naming_file_and_line(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = recording / "test_x" / "a.yaml"
    path.write_text(CLEAN.replace("sk_test_SCRUBBED0123456789", "sk_test_51RealLookingKey0000"), encoding="utf-8")
    assert main(["cassettes", "lint", str(recording)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:6: a secret (sk_test_…)" in out
    assert "RealLooking" not in out


def test_lint_planted_card_number_fails_naming_file_and_line(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = recording / "test_x" / "a.yaml"
    path.write_text(CLEAN.replace('"last4": "4242"', '"number": "4000056655665556"'), encoding="utf-8")
    assert main(["cassettes", "lint", str(recording)]) == 1
    assert f"{path}:10: a card number (…5556)" in capsys.readouterr().out


def test_lint_secret_hidden_in_basic_authorization_is_found(recording: Path) -> None:
    basic = base64.b64encode(b"sk_test_51RealLookingKey0000:").decode()
    (recording / "b.yaml").write_text(f"authorization: Basic {basic}\n", encoding="utf-8")
    assert [f.what for f in lint_directory(recording)] == ["a secret in a Basic Authorization header (sk_test_…)"]


def test_lint_shipped_cassettes_pass(tmp_path: Path) -> None:
    assert lint_directory(cassettes_dir()) == []
    # and what the lint reads there is the recording, not an empty directory
    shipped = shutil.copytree(cassettes_dir() / "reference", tmp_path / "reference")
    assert (Path(shipped) / "manifest.json").is_file()
