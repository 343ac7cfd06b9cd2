"""Which recorded request a replayed request is: exact where a run is repeatable, by shape where not.

Theory of operation. A request becomes a `Canonical`: its method and a sequence of slots (path
segments, query and form pairs in order, JSON leaves, the headers a test controls). Each slot's
value is classified:

- `exact`: compared as is (amounts, currencies, ids the server gave, the account's key);
- volatile, compared by shape: `key` (an Idempotency-Key: present or not), `auth` (a key that is
  no account's, made up by the test), `id` (an id the test made up: `spt_…` never seen in a
  response), `random` (a UUID or a long hex run inside a value), `url` (a webhook URL: the
  receiver's port and endpoint name change every run), and `time` (a unix time computed from the
  local clock, when the target has no clock extension).

Two requests match when their skeletons (method, slot names, kinds, and exact values or shapes)
are equal and their volatile values are consistent with the bindings made so far: the first time
a replayed value meets a recorded one they are bound, both ways, and stay bound for the test (an
idempotent retry is matched to the retry of the same key; a made-up id keeps meaning the same
made-up id). `time` values bind one way only: two requests of a replay may share a second that
the recording split. An id that both runs got from a response must be equal, not just alike.
Bindings also run backwards over the recorded responses (`Bindings.substitute`), so a response
that echoes a made-up value echoes the replay's, as the server would have.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote, urlsplit

from conformance.cassettes.format import ELIDED_VALUE, TRANSPORT_HEADERS, body_digest, elided_value
from conformance.cassettes.scrub import SECRET_PLACEHOLDER, Scrubber, is_placeholder

__all__ = ["Bindings", "Canonical", "Slot", "canonical", "choose", "closest", "response_ids"]

ID = re.compile(r"[a-z][a-z0-9]*_[A-Za-z0-9]{8,}")
_HEX = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-f]{12,}")
_TIME = re.compile(r"1[0-9]{9}")
_WORD = re.compile(r"[A-Za-z0-9_\-]+")
STRICT = frozenset({"key", "auth", "id", "random", "url"})  # bound both ways
SUBSTITUTED = frozenset({"key", "id", "random", "url", "time"})  # echoed back in responses


@dataclass(frozen=True)
class Slot:
    name: str  # path:2, query:expand[0]#0, form:amount#0, json:usage_limits.currency, header:…, body
    kind: str  # exact, key, auth, id, random, url, time
    shape: str  # the value itself for exact slots
    value: str  # as sent (percent-encoded in forms and queries)
    plain: str = ""  # decoded: what a response would echo

    @property
    def echoed(self) -> str:
        return self.plain or self.value


@dataclass(frozen=True)
class Canonical:
    method: str
    path: str
    slots: tuple[Slot, ...]

    @cached_property
    def skeleton(self) -> tuple[Any, ...]:
        return (self.method, *((s.name, s.kind, s.shape) for s in self.slots))

    def lines(self) -> list[str]:
        shown = [f"{self.method} {self.path}"]
        shown += [
            f"  {s.name} = {s.value}" + (f"   ({s.kind})" if s.kind != "exact" else "")
            for s in self.slots
            if s.kind != "exact" or not s.name.startswith("path:")
        ]
        return shown


def _classify(value: str, clock_volatile: bool) -> tuple[str, str]:
    if is_placeholder(value) or ELIDED_VALUE.fullmatch(value):
        return "exact", value
    if value.startswith(("http://", "https://")):
        return "url", _HEX.sub("<hex>", urlsplit(value).path)
    if ID.fullmatch(value):
        return "id", value.split("_", 1)[0] + "_…"
    if clock_volatile and _TIME.fullmatch(value):
        return "time", "<unix time>"
    if _HEX.search(value):
        return "random", _HEX.sub("<hex>", value)
    return "exact", value


def _slot(name: str, raw: str, clock_volatile: bool, *, decode: bool = True) -> Slot:
    raw = elided_value(raw)
    plain = unquote(raw, errors="replace") if decode else raw
    kind, shape = _classify(plain, clock_volatile)
    return Slot(name, kind, raw if kind == "exact" else shape, raw, plain)


def _pairs(prefix: str, text: str, clock_volatile: bool) -> Iterator[Slot]:
    seen: dict[str, int] = {}
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = elided_value(key)
        index = seen[key] = seen.get(key, -1) + 1
        yield _slot(f"{prefix}:{key}#{index}", value, clock_volatile)


def _json_leaves(prefix: str, node: Any, clock_volatile: bool) -> Iterator[Slot]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _json_leaves(f"{prefix}.{key}", value, clock_volatile)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _json_leaves(f"{prefix}[{index}]", value, clock_volatile)
    else:
        yield _slot(prefix, json.dumps(node) if not isinstance(node, str) else node, clock_volatile, decode=False)


def _authorization(value: str, accounts: frozenset[str]) -> Slot:
    scheme, _, credential = value.partition(" ")
    key = credential
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    if key in accounts or not SECRET_PLACEHOLDER.fullmatch(key):
        return Slot("header:authorization", "exact", value, value)
    return Slot("header:authorization", "auth", f"{scheme} {key.split('_SCRUBBED')[0]}", value)


def canonical(
    method: str,
    uri: str,
    headers: Mapping[str, Any],
    body: bytes | None,
    *,
    scrubber: Scrubber | None,
    accounts: frozenset[str],
    clock_volatile: bool,
) -> Canonical:
    """The canonical form of a request; `scrubber` scrubs it first (None: it is already scrubbed)."""
    parts = urlsplit(uri)
    slots: list[Slot] = []
    for index, segment in enumerate(parts.path.split("/")):
        slots.append(_slot(f"path:{index}", segment, clock_volatile))
    slots += _pairs("query", parts.query, clock_volatile)
    content_type = ""
    for name in sorted(headers, key=str.lower):
        value = headers[name]
        value = str(value[0] if isinstance(value, list | tuple) else value)
        lowered = name.lower()
        if lowered in TRANSPORT_HEADERS:
            continue
        if lowered == "authorization":
            slots.append(_authorization(scrubber.authorization(value) if scrubber else value, accounts))
        elif lowered == "idempotency-key":
            slots.append(Slot("header:idempotency-key", "key", "present", value))
        else:
            content_type = value.lower() if lowered == "content-type" else content_type
            slots.append(Slot(f"header:{lowered}", "exact", value, value))
    data = body or b""
    digest = body_digest(data)
    if digest is not None:
        slots.append(Slot("body", "exact", f"sha256:{digest}", f"sha256:{digest}"))
    elif data:
        data = scrubber.data(data) if scrubber else data
        text = data.decode("latin-1")
        parsed: Any = None
        if "json" in content_type:
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict | list):
            slots += _json_leaves("json", parsed, clock_volatile)
        elif "x-www-form-urlencoded" in content_type:
            slots += _pairs("form", text, clock_volatile)
        else:
            slots.append(Slot("body", "exact", text, text))
    return Canonical(method.upper(), parts.path, tuple(slots))


def response_ids(body: bytes) -> set[str]:
    """The ids a response hands out: every id-shaped string value in its JSON."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return set()
    found: set[str] = set()
    stack = [parsed]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and ID.fullmatch(node):
            found.add(node)
    return found


@dataclass
class Bindings:
    """Replayed volatile values and the recorded ones they stand for, in one test."""

    forward: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, replayed) -> recorded
    backward: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, recorded) -> replayed
    _tokens: dict[str, str] = field(default_factory=dict)  # recorded -> replayed, one word each
    _others: dict[str, str] = field(default_factory=dict)  # the rest (URLs)

    def consistent(self, mine: Slot, recorded: Slot) -> bool:
        if mine.kind not in STRICT:
            return True
        bound = self.forward.get((mine.kind, mine.value))
        if bound is not None:
            return bound == recorded.value
        owner = self.backward.get((recorded.kind, recorded.value))
        return owner is None or owner == mine.value

    def bind(self, mine: Slot, recorded: Slot) -> str | None:
        """Record the pair; return the recorded (decoded) value when new and different, for listeners."""
        if mine.kind == "exact":
            return None
        fresh = (mine.kind, mine.value) not in self.forward
        self.forward[(mine.kind, mine.value)] = recorded.value
        self.backward[(recorded.kind, recorded.value)] = mine.value
        old, new = recorded.echoed, mine.echoed
        if mine.kind in SUBSTITUTED and old != new:
            (self._tokens if _WORD.fullmatch(old) else self._others).setdefault(old, new)
        return recorded.echoed if fresh and mine.value != recorded.value else None

    def substitute(self, text: str) -> str:
        """`text` (a recorded response) with every bound recorded value replaced by the replay's."""
        if self._tokens:
            tokens = self._tokens
            text = _WORD.sub(lambda m: tokens.get(m.group(), m.group()), text)
        for old, new in self._others.items():
            text = text.replace(old, new)
        return text


def choose(
    mine: Canonical,
    unplayed: Sequence[tuple[int, Canonical]],
    played: Sequence[tuple[int, Canonical]],
    *,
    known: set[str],
    first_seen: Mapping[str, int],
    bindings: Bindings,
) -> int | None:
    """The first unplayed recorded request that `mine` may be, given what is bound and known.

    The candidates share `mine`'s skeleton, in recorded order; `first_seen` says which recorded
    response first handed out each id. A GET whose every match was played is answered again with
    the latest one: a poll that the recording made fewer times than the replay.
    """
    for index, recorded in unplayed:
        if _agrees(mine, recorded, known, _before(first_seen, index), bindings):
            return index
    if mine.method == "GET":
        for index, recorded in reversed(played):
            if _agrees(mine, recorded, known, _before(first_seen, index), bindings):
                return index
    return None


def _before(first_seen: Mapping[str, int], index: int) -> Callable[[str], bool]:
    return lambda value: first_seen.get(value, index) < index


def _agrees(
    mine: Canonical, recorded: Canonical, known: set[str], known_before: Callable[[str], bool], bindings: Bindings
) -> bool:
    for a, b in zip(mine.slots, recorded.slots, strict=True):
        if a.kind == "exact":
            continue
        if a.kind == "id" and a.value != b.value and a.value in known and known_before(b.value):
            return False  # both came from responses: the same object, or not a match
        if not bindings.consistent(a, b):
            return False
    return True


def closest(mine: Canonical, recorded: Sequence[Canonical]) -> tuple[int, list[str]] | None:
    """The recorded request most like `mine`, and a diff from it to `mine`."""
    if not recorded:
        return None
    lines = mine.lines()

    def likeness(index: int) -> float:
        other = recorded[index]
        bonus = 1.0 if (other.method, other.path) == (mine.method, mine.path) else 0.0
        return bonus + difflib.SequenceMatcher(None, other.lines(), lines).ratio()

    best = max(range(len(recorded)), key=likeness)
    diff = difflib.unified_diff(recorded[best].lines(), lines, "recorded", "replayed", n=1, lineterm="")
    return best, [line for line in diff if not line.startswith(("---", "+++"))][:24]
