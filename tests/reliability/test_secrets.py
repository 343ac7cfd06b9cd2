"""After a whole conformance run (reports, recording) and a burst of load, no secret key, webhook
secret, card number or CVC is in any response, event delivery, server log line, report or cassette
(SPT-SEC-008, SPT-SEC-010).

One run is shared by the module: an embedded server whose every response is taped, with an
endpoint taking every event of every account, and the server's loggers captured at DEBUG. The
run is `--quick` (the full run is the same code paths with more examples, at three times the
cost). The one place a webhook secret may appear is the answer that creates its endpoint, as
Stripe returns it there, and only there (SPT-EVT-010).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.receiver import Delivery, Receiver, mask_uuids
from conformance.runner import RunRequest, run
from conformance.scrub import find_card_numbers, find_secrets
from harness.reliability.calls import all_events
from harness.reliability.deliveries import accepted_events
from harness.reliability.load import Site, drive
from harness.reliability.tape import Recorded, Tape, start_taped
from reference_impl import RunningServer

ROLES = ("agent", "seller", "other_seller")
SERVER_LOGGERS = ("reference_impl", "uvicorn")


@dataclass(frozen=True)
class Evidence:
    code: int
    output: str
    responses: list[Recorded]
    deliveries: list[Delivery]
    logs: list[str]
    files: dict[Path, str]
    secrets: list[str]  # the real keys and every endpoint's webhook secret


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def _server_logs() -> Iterator[list[str]]:
    """Every record of the server's loggers, at DEBUG, formatted with any traceback. Levels that
    earlier code set on their children (uvicorn sets its own) are lowered too, then restored."""
    keep = _Keep()
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in SERVER_LOGGERS]
    loggers = [logging.getLogger(name) for name in {*SERVER_LOGGERS, *names}]
    saved = [(logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    for name in SERVER_LOGGERS:
        logging.getLogger(name).addHandler(keep)
    try:
        yield keep.lines
    finally:
        for name in SERVER_LOGGERS:
            logging.getLogger(name).removeHandler(keep)
        for logger, (level, disabled) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.disabled = disabled


def _endpoint_secret(response: Recorded) -> bool:
    return response.method == "POST" and response.path.rstrip("/") == "/v1/webhook_endpoints" and response.status == 200


def _watch(server: RunningServer, receiver: Receiver, secrets: list[str]) -> None:
    """An endpoint taking every event of every account of `server`; keys and secrets noted."""
    for role in ROLES:
        key = server.accounts[role].secret_key
        url = receiver.register(f"{role}-{len(secrets)}", role=role)
        with httpx.Client(base_url=server.base_url, auth=(key, ""), timeout=10) as client:
            made = client.post("/v1/webhook_endpoints", data={"url": url, "enabled_events[]": "*"})
            made.raise_for_status()
        secrets += [key, made.json()["secret"]]


def _event_ids(server: RunningServer) -> set[str]:
    ids: set[str] = set()
    for role in ROLES:
        with httpx.Client(base_url=server.base_url, auth=(server.accounts[role].secret_key, ""), timeout=10) as client:
            ids.update(e["id"] for e in all_events(client))
    return ids


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    """The bundled server certified as `spt-conformance run --quick` does it, but taped; then a
    second taped server under a second of load."""
    work = tmp_path_factory.mktemp("secrets")
    secrets: list[str] = []
    tapes: list[Tape] = []
    with Receiver() as receiver, _server_logs() as logs, pytest.MonkeyPatch.context() as patch:

        def taped(**options: Any) -> RunningServer:
            server, tape = start_taped(**options)
            tapes.append(tape)
            _watch(server, receiver, secrets)
            return server

        patch.setattr("reference_impl.embedded.start", taped)
        out = io.StringIO()
        request = RunRequest(
            quick=True,
            json=work / "report.json",
            junit=work / "junit.xml",
            html=work / "report.html",
            record=work / "cassettes",
        )
        code = run(request, out=out, err=out, live=False)
        with taped(webhook_backoff=0.1) as server:
            keys = {role: server.accounts[role].secret_key for role in ROLES}
            drive(Site(server.base_url, keys["agent"], keys["seller"], server.accounts["seller"].profile), seconds=1.0)
            listed = _event_ids(server)
            receiver.wait(lambda got: accepted_events(got) >= listed, 30)
        deliveries = receiver.deliveries()
    secrets += [s for tape in tapes for r in tape.responses if _endpoint_secret(r) for s in _whsec(r)]
    files = {p: p.read_text(encoding="utf-8", errors="replace") for p in sorted(work.rglob("*")) if p.is_file()}
    responses = [r for tape in tapes for r in tape.responses]
    return Evidence(code, out.getvalue(), responses, deliveries, list(logs), files, secrets)


def _whsec(response: Recorded) -> list[str]:
    secret = json.loads(response.body).get("secret")
    return [secret] if isinstance(secret, str) else []


def _found(text: str, secrets: Iterable[str], *, webhook_secrets: bool = True) -> list[str]:
    """What the scrubbing helpers find, but for their own placeholders (`sk_test_SCRUBBED…`), and
    for webhook secrets where they may be. Described without the value."""
    findings = [
        f
        for f in find_secrets(text, secrets)
        if "_SCRUBBED" not in text[f.start : f.end]
        and (webhook_secrets or not text[f.start : f.end].startswith("whsec_"))
    ]
    findings += find_card_numbers(mask_uuids(text))
    return [f"{f.kind} {f.hint} at {f.start}: …{mask_uuids(text[max(0, f.start - 60) : f.start])}" for f in findings]


def test_secrets_the_run_happened_and_the_scan_can_see(evidence: Evidence) -> None:
    assert evidence.code == 0, evidence.output[-3000:]
    assert len(evidence.responses) > 500
    assert len(evidence.deliveries) > 100
    assert any("Application startup complete" in line for line in evidence.logs), "the server's log was not captured"
    assert any(p.parent.name == "cassettes" or "cassettes" in p.parts for p in evidence.files)
    assert {p.name for p in evidence.files} >= {"report.json", "junit.xml", "report.html"}
    assert all(_found(f"key {secret} here", evidence.secrets) for secret in evidence.secrets)
    assert _found('{"number": "4242424242424242", "cvc": "123"}', [])


def test_secrets_none_in_any_response(evidence: Evidence) -> None:
    leaks = {
        f"{r.method} {r.path} {r.status}": found
        for r in evidence.responses
        if (found := _found(r.text, evidence.secrets, webhook_secrets=not _endpoint_secret(r)))
    }
    assert leaks == {}


def test_secrets_none_in_any_event_delivery(evidence: Evidence) -> None:
    leaks = {
        f"{d.event_id} to {d.endpoint}": found
        for d in evidence.deliveries
        if (found := _found(d.body.decode("utf-8", "replace"), evidence.secrets))
    }
    assert leaks == {}


def test_secrets_none_in_any_server_log_line(evidence: Evidence) -> None:
    leaks = [found for line in evidence.logs if (found := _found(line, evidence.secrets))]
    assert leaks == []


def test_secrets_none_in_reports_or_cassettes(evidence: Evidence) -> None:
    leaks = {str(path): found for path, text in evidence.files.items() if (found := _found(text, evidence.secrets))}
    assert leaks == {}
