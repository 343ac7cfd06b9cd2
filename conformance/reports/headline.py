"""A failure in one line, for a dashboard or a table cell: what was received against what was expected."""

from __future__ import annotations

__all__ = ["headline"]

LIMIT = 300  # characters: a one-liner, even when the server sent back a page


def _field(lines: list[str], name: str) -> str | None:
    for line in lines:
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    return None


def headline(message: str) -> str:
    """`Received: … — expected: …` from a four-part message; else its first non-empty line."""
    lines = message.splitlines()
    received, expected = _field(lines, "Received"), _field(lines, "Expected")
    if received is not None and expected is not None:
        text = f"Received: {received} — expected: {expected}"
    else:
        text = next((line.strip() for line in lines if line.strip()), "")
    return text if len(text) <= LIMIT else f"{text[: LIMIT - 1]}…"
