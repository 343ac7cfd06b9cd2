"""`spt-conformance cassettes lint DIR`: no secret and no card number may be left in a recording.

Every file under DIR is read as text and searched the way the scrubber searches
(`conformance.scrub`): Stripe secrets (`sk_`/`rk_` keys, `whsec_` signing secrets) that are not
placeholders, the key inside a Basic Authorization header, Luhn-valid card numbers, and CVC values
other than the placeholder `000`. A finding names its file and line, and shows a hint, never the
value. It is what a reviewer runs before accepting a recording, and what the project's tests run
on `cassettes/`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conformance.cassettes.scrub import SECRET_PLACEHOLDER
from conformance.receiver import mask_uuids
from conformance.scrub import CVC_FIELD, SECRET, find_card_numbers

__all__ = ["LintFinding", "cassette_files", "lint_directory", "lint_text"]

_BASIC = re.compile(r"\bBasic ([A-Za-z0-9+/]{8,}={0,2})")


@dataclass(frozen=True)
class LintFinding:
    path: Path
    line: int
    what: str  # "a secret (sk_test_…)", "a card number (…4242)", "a CVC value"

    def render(self, root: Path | None = None) -> str:
        shown = self.path.relative_to(root) if root is not None and self.path.is_relative_to(root) else self.path
        return f"{shown}:{self.line}: {self.what}"


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _secrets(text: str) -> Iterator[tuple[int, str]]:
    for match in SECRET.finditer(text):
        if not SECRET_PLACEHOLDER.fullmatch(match.group()):
            yield match.start(), f"a secret ({match.group()[:8]}…)"
    for match in _BASIC.finditer(text):
        try:
            decoded = base64.b64decode(match.group(1), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        for inner in SECRET.finditer(decoded):
            if not SECRET_PLACEHOLDER.fullmatch(inner.group()):
                yield match.start(), f"a secret in a Basic Authorization header ({inner.group()[:8]}…)"


def lint_text(text: str, path: Path) -> list[LintFinding]:
    found = [LintFinding(path, _line(text, offset), what) for offset, what in _secrets(text)]
    # An idempotency key or event id holding a UUID is no card number (see conformance.receiver).
    for finding in find_card_numbers(mask_uuids(text)):
        if finding.kind == "card number":
            found.append(LintFinding(path, _line(text, finding.start), f"a card number ({finding.hint})"))
    for match in CVC_FIELD.finditer(text):
        if match.group(2) != "000":
            found.append(LintFinding(path, _line(text, match.start(2)), "a CVC value"))
    return sorted(found, key=lambda f: f.line)


def cassette_files(directory: Path) -> list[Path]:
    """The files of a recording under `directory`: its cassettes (YAML) and manifests (JSON).
    None means the directory is no recording, and a lint of it would prove nothing."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))


def lint_directory(directory: Path) -> list[LintFinding]:
    """Every finding in every file under `directory`, in path and line order."""
    found: list[LintFinding] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        found += lint_text(text, path)
    return found
