"""A slice of the generated hostile corpus (bench/hostile.py sends over 100,000): every class,
against every endpoint, answered with a status and a JSON body, never a reset, a hang, a 5xx, a
logged crash or an echoed card number or key (SPT-ERR-001, SPT-ERR-004, SPT-SEC-008, SPT-SEC-010)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from harness.reliability.generated import CLASSES, SLOW_CLASSES, Target, run, split_answers
from reference_impl import RunningServer, start


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start(head_timeout=0.5, body_timeout=0.5, linger=0.5) as running:
        yield running


@pytest.mark.parametrize("name", [*CLASSES, *SLOW_CLASSES])
def test_generated_hostile_class_has_no_anomaly(
    server: RunningServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = urlsplit(server.base_url)
    assert url.hostname is not None
    assert url.port is not None
    secrets = tuple(info.secret_key for info in server.accounts.values())
    target = Target(url.hostname, url.port, server.accounts["agent"].secret_key, secrets)
    make, _ = {**CLASSES, **SLOW_CLASSES}[name]
    tally = run(target, make, 12, seed=sorted([*CLASSES, *SLOW_CLASSES]).index(name), concurrency=12, timeout=5.0)
    assert tally.requests == 12
    assert tally.anomalies == 0, (tally, tally.examples)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_two_answers_on_one_connection_are_judged_one_by_one() -> None:
    # A request whose flipped byte ends its body early is answered, then the bytes left over are
    # refused as a request of their own: two JSON answers, neither of them an anomaly.
    first = b'HTTP/1.1 401 Unauthorized\r\ncontent-length: 11\r\n\r\n{"error":1}'
    second = b'HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"error":2}'
    assert split_answers(first + second) == [first, second]
    assert split_answers(first) == [first]
    assert split_answers(b"HTTP/1.1 200 OK\r\n\r\nno length") == [b"HTTP/1.1 200 OK\r\n\r\nno length"]
