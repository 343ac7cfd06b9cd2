"""Reading a recording ahead of its replay, on another core.

A replay spends a large part of its time reading cassettes: parsing YAML, rebuilding vcrpy's
requests, and putting every recorded request in canonical form (`conformance.cassettes.match`).
None of it depends on the run, so `Preloader` does it in a helper process, in the order the tests
will ask, while the tests run; the replay then only unpickles what it needs. Where a helper
process cannot start, each cassette is prepared when it is needed, with the same function.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister

from conformance.cassettes.format import YamlSerializer, after_load
from conformance.cassettes.match import Canonical, canonical, response_ids

__all__ = ["Preloader", "Prepared", "prepare"]


@dataclass
class Prepared:
    """One cassette, ready to play: vcrpy's (request, response) pairs and their canonical forms."""

    data: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    canon: list[Canonical] = field(default_factory=list)
    first_seen: dict[str, int] = field(default_factory=dict)  # id -> the first response handing it out
    by_skeleton: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)


def prepare(path: str, accounts: frozenset[str], clock_volatile: bool) -> Prepared:
    """Read `path` with vcrpy's persister and put each recorded request in canonical form."""
    prepared = Prepared()
    try:
        requests, responses, *metadata = FilesystemPersister.load_cassette(path, serializer=YamlSerializer)
    except CassetteNotFoundError:
        return prepared
    prepared.metadata = metadata[0] if metadata else {}
    for index, (request, response) in enumerate(zip(requests, responses, strict=True)):
        request, response = after_load(request, response)
        prepared.data.append((request, response))
        form = canonical(
            request.method,
            request.uri,
            request.headers,
            request.body,
            scrubber=None,
            accounts=accounts,
            clock_volatile=clock_volatile,
        )
        form.skeleton  # noqa: B018 - computed here, on the helper's core, and pickled with it
        prepared.canon.append(form)
        prepared.by_skeleton.setdefault(form.skeleton, []).append(index)
        for identifier in response_ids(response["body"]["string"] or b""):
            prepared.first_seen.setdefault(identifier, index)
    return prepared


class Preloader:
    """Prepares `paths`, in order, in a helper process; `get` waits for one (or prepares it)."""

    def __init__(self, paths: Iterable[Path], *, accounts: frozenset[str], clock_volatile: bool) -> None:
        self.accounts, self.clock_volatile = accounts, clock_volatile
        self._pending: dict[str, Future[Prepared]] = {}
        self._pool: ProcessPoolExecutor | None = None
        try:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            for path in paths:
                self._pending[str(path)] = self._pool.submit(prepare, str(path), accounts, clock_volatile)
        except (OSError, RuntimeError, ValueError):
            self.close()  # no helper here: every cassette is prepared when it is needed

    def get(self, path: Path | None) -> Prepared:
        if path is None:
            return Prepared()
        future = self._pending.pop(str(path), None)
        if future is not None:
            try:
                return future.result()
            except (OSError, concurrent.futures.process.BrokenProcessPool):
                pass  # the helper died; do it here
        return prepare(str(path), self.accounts, self.clock_volatile)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        self._pending.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
