"""`spt-conformance doctor`, alone and as the preflight of `run`: each misconfiguration stops
before the run with exit 2 or 3 and one sentence naming the fix."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.cli import main
from conformance.doctor import Severity, diagnose
from conformance.doctor.webhook import webhook_ping
from conformance.target import target_from_mapping
from reference_impl.embedded import RunningServer, start


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start() as running:
        yield running


@pytest.fixture
def mapping(server: RunningServer) -> dict[str, Any]:
    data = server.target()
    data["capabilities"] = "auto"
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def stopped(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    """Run the CLI; it must exit `code` before any test ran, saying why in one STOP line."""
    assert main(argv) == code
    captured = capsys.readouterr()
    assert "certifying" not in captured.out  # the run never started
    return captured.out + captured.err


class _HtmlHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        data = b"<!DOCTYPE html><html><body>Welcome</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    """A web server answering 200 text/html to everything, where an API was expected."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_doctor_correct_reference_server_is_ready(
    mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--target", str(write(tmp_path, mapping))]) == 0
    out = capsys.readouterr().out
    assert "READY" in out
    assert "STOP" not in out
    assert "exists and belongs to the seller account" in out


def test_doctor_server_whose_test_clock_runs_ahead_is_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Earlier runs against one `serve` leave its test clock hours ahead of the wall clock: the
    probe token must expire in the target's future, not in the wall clock's."""
    with start() as ahead:
        agent_key = ahead.target()["agent"]["secret_key"]
        httpx.post(
            f"{ahead.base_url}/v1/test_helpers/shared_payment/clock/advance",
            data={"seconds": 3 * 86400},
            headers={"Authorization": f"Bearer {agent_key}"},
        ).raise_for_status()
        data = ahead.target()
        data["capabilities"] = "auto"
        assert main(["doctor", "--target", str(write(tmp_path, data))]) == 0
    out = capsys.readouterr().out
    assert "READY" in out
    assert "STOP" not in out


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_doctor_same_key_for_seller_and_agent_exits_2_naming_the_fix(
    command: str, mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping["seller"]["secret_key"] = mapping["agent"]["secret_key"]
    said = stopped(capsys, [command, "--target", str(write(tmp_path, mapping))], 2)
    assert "agent.secret_key and seller.secret_key are the same key" in said
    assert "give it that account's own sk_test_ key" in said
    assert mapping["agent"]["secret_key"] not in said


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_doctor_placeholder_profile_left_in_exits_2(
    command: str, mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping["seller"]["network_business_profile"] = "profile_test_..."
    said = stopped(capsys, [command, "--target", str(write(tmp_path, mapping))], 2)
    assert "seller.network_business_profile is the placeholder 'profile_test_...'" in said
    assert "put the seller's own Stripe profile id" in said


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_doctor_base_url_ending_in_v1_exits_2_with_the_right_url(
    command: str, mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = mapping["base_url"]
    mapping["base_url"] = f"{root}/v1/"
    said = stopped(capsys, [command, "--target", str(write(tmp_path, mapping))], 2)
    assert f"use base_url: {root}" in said
    assert "/v1/v1/" in said


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_doctor_server_answering_html_exits_3_before_the_run(
    command: str, mapping: dict[str, Any], html_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping["base_url"] = html_server
    said = stopped(capsys, [command, "--target", str(write(tmp_path, mapping))], 3)
    assert "with 200 text/html, not Stripe's JSON" in said
    assert "base_url must be the API's root" in said


def test_doctor_profile_of_another_account_exits_3(
    mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping["seller"]["network_business_profile"], mapping["other_seller"]["network_business_profile"] = (
        mapping["other_seller"]["network_business_profile"],
        mapping["seller"]["network_business_profile"],
    )
    said = stopped(capsys, ["run", "--target", str(write(tmp_path, mapping))], 3)
    assert "this setup cannot give a meaningful certification" in said
    assert "the seller key" in said
    assert "that profile belongs to another account" in said


def test_doctor_unknown_payment_method_exits_3(
    mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping["agent"]["payment_method"] = "pm_1NotInThisAccount"
    said = stopped(capsys, ["doctor", "--target", str(write(tmp_path, mapping))], 3)
    assert "agent.payment_method pm_1NotInThisAccount is not a PaymentMethod of the agent's account" in said


def test_doctor_offline_sends_nothing(
    mapping: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping["base_url"] = "http://127.0.0.1:9"  # nothing listens: any request would fail
    assert main(["doctor", "--offline", "--target", str(write(tmp_path, mapping))]) == 0
    assert "target file is sound" in capsys.readouterr().out


def test_doctor_without_a_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 2
    assert "give the target to check: --target FILE" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["clock", "webhook_endpoints", "events", "test_helpers"])
def test_doctor_detects_each_capability_switched_off(missing: str) -> None:
    with start(without=frozenset({missing})) as running:
        data = running.target()
        data["capabilities"] = "auto"
        diagnosis = diagnose(target_from_mapping(data))
        assert diagnosis.exit_code == 0, diagnosis.render()
        assert diagnosis.capabilities == frozenset({"clock", "webhook_endpoints", "events", "test_helpers"} - {missing})
        data["capabilities"] = {missing: True}  # declared, though the server lacks it: the declaration wins
        declared = diagnose(target_from_mapping(data))
    assert declared.capabilities is not None
    assert missing in declared.capabilities
    warnings = [f.message for f in declared.with_severity(Severity.WARN)]
    assert warnings == [f for f in warnings if f.startswith(f"capabilities.{missing} is true but ")]
    assert len(warnings) == 1


def test_doctor_reports_a_capability_declared_false_that_the_server_offers(mapping: dict[str, Any]) -> None:
    mapping["capabilities"] = {"events": False}
    diagnosis = diagnose(target_from_mapping(mapping))
    assert diagnosis.capabilities is not None
    assert "events" not in diagnosis.capabilities
    assert "clock" in diagnosis.capabilities  # left to auto, detected
    (warning,) = diagnosis.with_severity(Severity.WARN)
    assert warning.message.startswith("capabilities.events is false but the server offers it")


def test_doctor_webhook_ping_through_a_public_url_reaches_the_receiver(mapping: dict[str, Any]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The "tunnel" is the receiver's own loopback address: what the server is given is what reaches it.
    diagnosis = diagnose(target_from_mapping(mapping), public_url=f"http://127.0.0.1:{port}", receiver_port=port)
    assert diagnosis.exit_code == 0, diagnosis.render()
    assert any(f.check == "webhooks" and f.severity is Severity.OK for f in diagnosis.findings)


def test_doctor_webhook_ping_to_a_dead_public_url_stops(mapping: dict[str, Any]) -> None:
    diagnosis = diagnose(target_from_mapping(mapping), public_url="http://127.0.0.1:9")
    assert diagnosis.exit_code == 3
    (stop,) = diagnosis.with_severity(Severity.STOP)
    assert stop.message.startswith("no webhook reached http://127.0.0.1:9 within")
    assert "--events pull" in stop.message


def test_doctor_remote_server_without_public_url_asks_for_one(mapping: dict[str, Any]) -> None:
    mapping["base_url"] = "https://api.stripe.example"
    target = target_from_mapping(mapping)
    with webhook_ping(target, http=None, public_url=None, receiver_port=None) as ping:  # type: ignore[arg-type]
        pass
    (stop,) = ping.findings
    assert stop.severity is Severity.STOP
    assert "give --public-url" in stop.message
    assert "--events pull" in stop.message


def test_doctor_polling_a_remote_server_leaves_webhook_requirements_to_skip(
    mapping: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import conformance.doctor

    # The reference server stands for a remote one: it could not reach this machine's receiver.
    monkeypatch.setattr(conformance.doctor, "is_local", lambda url: False)
    diagnosis = diagnose(target_from_mapping(mapping), events="pull")
    assert diagnosis.exit_code == 0, diagnosis.render()
    assert diagnosis.capabilities is not None
    assert "webhook_endpoints" not in diagnosis.capabilities
    assert "events" in diagnosis.capabilities
    (warning,) = diagnosis.with_severity(Severity.WARN)
    assert "the webhook requirements will be SKIPPED; give --public-url" in warning.message
