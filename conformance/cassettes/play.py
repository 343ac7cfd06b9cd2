"""Playing one recorded test back: which recorded answer each request gets, under a lock.

`ReplayCassette` is a vcrpy cassette in record mode `none`, read by vcrpy's persister (through
`conformance.cassettes.load`). Each request is scrubbed as the recording was, put in canonical
form and matched by `conformance.cassettes.match` under a lock (twenty threads may ask at once;
identical requests are answered in recorded order, whoever asks first), then answered with the
recorded response, in which the values bound by the match are put back (`Bindings.substitute`)
and card placeholders are re-armed. A request the cassette does not hold raises `ReplayMiss`,
naming the test and showing the closest recorded request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vcr.cassette import Cassette

from conformance.cassettes.format import YamlSerializer, unpack_body
from conformance.cassettes.load import Prepared, prepare
from conformance.cassettes.match import Bindings, Canonical, canonical, choose, closest, response_ids
from conformance.cassettes.scrub import Scrubber, placeholder, rearm
from conformance.receiver import Delivery
from conformance.scrub import find_card_numbers

__all__ = ["ReplayCassette", "ReplayMiss"]


class ReplayMiss(Exception):
    """A request the recording does not hold: the replay cannot judge what follows."""

    def __init__(self, test: str, where: str, mine: Canonical, recorded: list[Canonical]) -> None:
        near = closest(mine, recorded)
        lines = [f"replay of {test}: {where} holds no request like", *(f"    {line}" for line in mine.lines())]
        if near is None:
            lines.append("  and it holds no request at all (was this test recorded?)")
        else:
            index, diff = near
            lines.append(f"  closest recorded request (#{index + 1}), as a diff from it to this one:")
            lines += [f"    {line}" for line in diff] or ["    (identical, but already answered)"]
        lines.append("  the recording cannot answer this run; record it again or restore the cassette")
        super().__init__("\n".join(lines))
        self.test = test


class ReplayCassette(Cassette):  # type: ignore[misc]  # vcrpy is untyped
    """One test's recording, played back; made by `open` (vcrpy's loader, record mode none)."""

    test: str
    where: str
    _scrubber: Scrubber
    _accounts: frozenset[str]
    _volatile: bool
    _on_bind: Callable[[str, str, str], None]
    _replay_lock: threading.Lock
    _played: set[int]
    _known: set[str]
    _cards: dict[str, str]
    _bindings: Bindings
    _canon: list[Canonical]
    _first_seen: dict[str, int]
    _by_skeleton: dict[tuple[Any, ...], list[int]]  # indices not yet played, in recorded order
    _played_by: dict[tuple[Any, ...], list[int]]

    @classmethod
    def open(
        cls,
        path: Path | None,
        test: str,
        *,
        scrubber: Scrubber,
        accounts: frozenset[str],
        clock_volatile: bool,
        on_bind: Callable[[str, str, str], None],
        prepared: Prepared | None = None,
    ) -> ReplayCassette:
        """The cassette at `path` (none: an empty one), read by vcrpy's persister (record mode
        none), with its requests in canonical form (`prepared` by a Preloader, or now)."""
        ready = prepared or (prepare(str(path), accounts, clock_volatile) if path is not None else Prepared())
        tape = cls(path=str(path) if path is not None else "", serializer=YamlSerializer, record_mode="none")
        tape.data, tape._metadata = ready.data, ready.metadata
        tape._loaded_count, tape.rewound = len(tape.data), True
        tape.test, tape.where = test, str(path) if path is not None else "the recording"
        tape._scrubber, tape._accounts, tape._volatile, tape._on_bind = scrubber, accounts, clock_volatile, on_bind
        tape._replay_lock = threading.Lock()
        tape._played, tape._known, tape._cards, tape._bindings = set(), set(), {}, Bindings()
        tape._canon, tape._first_seen, tape._by_skeleton = ready.canon, ready.first_seen, ready.by_skeleton
        tape._played_by = {}
        return tape

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def can_play_response_for(self, request: Any) -> bool:
        return True

    def play_response(self, request: Any) -> dict[str, Any]:
        return self.play(request)

    def record(self, request: Any, response: dict[str, Any]) -> None:
        raise RuntimeError("a replay does not record")

    def play(self, request: Any) -> dict[str, Any]:
        body = request.body if isinstance(request.body, bytes) else b""
        mine = canonical(
            request.method,
            request.uri,
            request.headers,
            body,
            scrubber=self._scrubber,
            accounts=self._accounts,
            clock_volatile=self._volatile,
        )
        for finding in find_card_numbers(body.decode("utf-8", "replace")):
            if finding.kind == "card number":
                number = body.decode("utf-8", "replace")[finding.start : finding.end]
                self._cards[placeholder("card number", number)] = number
        with self._replay_lock:
            fresh = self._by_skeleton.get(mine.skeleton, [])
            done = self._played_by.setdefault(mine.skeleton, [])
            index = choose(
                mine,
                [(i, self._canon[i]) for i in fresh],
                [(i, self._canon[i]) for i in done],
                known=self._known,
                first_seen=self._first_seen,
                bindings=self._bindings,
            )
            if index is None:
                raise ReplayMiss(self.test, self.where, mine, self._canon)
            if index not in self._played:
                self._played.add(index)
                fresh.remove(index)
                done.append(index)
            bound = []
            for a, b in zip(mine.slots, self._canon[index].slots, strict=True):
                recorded = self._bindings.bind(a, b)
                if recorded is not None:
                    bound.append((a.kind, a.echoed, recorded))
            response = self._answer(self.data[index][1])
            self._known |= response_ids(response["body"]["string"])
        for kind, mine_value, recorded_value in bound:
            self._on_bind(kind, mine_value, recorded_value)
        return response

    def _answer(self, recorded: dict[str, Any]) -> dict[str, Any]:
        """The recorded response, with the replay's own values put back where it echoed them."""
        raw: bytes = recorded["body"]["string"] or b""
        try:
            text = rearm(self._bindings.substitute(raw.decode("utf-8")), self._cards)
            body = text.encode("utf-8")
        except UnicodeDecodeError:
            body = raw
        headers = {
            name: [str(len(body))]
            if name.lower() == "content-length"
            else [self._bindings.substitute(v) for v in values]
            for name, values in recorded["headers"].items()
        }
        return {"status": recorded["status"], "headers": headers, "body": {"string": body}}

    def deliveries(self, started: float) -> list[Delivery]:
        """The deliveries the recording's receiver got during this test, as they arrived."""
        found = []
        for item in self._metadata.get("deliveries") or ():
            signed = unpack_body(item["body"])
            found.append(
                Delivery(
                    endpoint=str(item["endpoint"]),
                    role=str(item["role"]),
                    headers={str(k): str(v) for k, v in (item.get("headers") or {}).items()},
                    body=rearm(signed.decode("utf-8", "replace"), self._cards).encode("utf-8"),
                    received_monotonic=started + float(item.get("after", 0.0)),
                    received_wall=float(item["received_at"]),
                    status=int(item["status"]),
                    attempt=int(item["attempt"]),
                    signed_body=signed,
                )
            )
        return found
