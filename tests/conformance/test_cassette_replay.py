"""Record against the reference server, replay offline: the same verdicts, judged afresh.

One small recording (the events area and the twenty-thread race, quick profile) is made per
module; each test replays a copy of it, some after editing it. Every replay runs with the network
blocked: opening a connection fails the test.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import runner
from conformance.cassettes import rerun
from conformance.cassettes.format import YamlSerializer
from conformance.cassettes.rerun import ReplayOutcome, ReplayRequest
from conformance.cassettes.session import read_manifest
from conformance.resources import cassettes_dir
from conformance.runner import RunRequest
from conformance.spec import default_spec

SELECTION = ("EVT", "SPT-USE-006")
SIGNED = "test_webhooks/test_webhook_every_delivery_is_signed_with_the_endpoint_secret.yaml"
RACE = "test_concurrency/test_concurrent_equal_payments_exactly_fill_the_cap.yaml"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("recording") / "cassettes"
    request = RunRequest(only=SELECTION, quick=True, seed=5, record=directory)
    code = runner.run(request, out=io.StringIO(), err=io.StringIO(), live=False)
    # A verdict, whichever: the replay is judged against what was recorded, not against PASSED.
    assert code in (0, 1)
    return directory


@pytest.fixture
def copy(recording: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(recording, tmp_path / "copy"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any connection the replay opens fails it (and is listed)."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[1:] or args))
        raise AssertionError(f"the replay opened a connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == []


def replay(directory: Path, **options: Any) -> tuple[ReplayOutcome, str, str]:
    out, err = io.StringIO(), io.StringIO()
    outcome = rerun.replay_outcome(ReplayRequest(directory, **options), out=out, err=err, live=False)
    return outcome, out.getvalue(), err.getvalue()


def edit(path: Path, change: Any) -> None:
    data = YamlSerializer.deserialize(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(YamlSerializer.serialize(data), encoding="utf-8")


def test_replay_offline_reproduces_every_recorded_verdict(recording: Path, no_network: list[str]) -> None:
    manifest = read_manifest(recording)
    outcome, out, _ = replay(recording)
    assert outcome.code == 0
    assert outcome.misses == ()
    assert outcome.verdicts == manifest.verdicts
    assert set(manifest.verdicts) >= {"SPT-EVT-009", "SPT-EVT-014", "SPT-USE-006"}
    assert f"all {len(manifest.verdicts)} verdicts are the recorded ones" in out
    # The twenty-thread race and the deliveries were recorded, and replayed.
    assert (recording / RACE).is_file()
    assert manifest.deliveries > 0


def test_record_keeps_the_suites_exchanges_not_the_embedded_servers_deliveries(recording: Path) -> None:
    """The reference server runs in the recording process and sends its webhooks through httpx
    too: they reach the receiver (and the cassette's metadata), never the interactions."""
    base_url = read_manifest(recording).target["base_url"]
    uris = [
        interaction["request"]["uri"]
        for path in recording.rglob("*.yaml")
        for interaction in YamlSerializer.deserialize(path.read_text(encoding="utf-8"))["interactions"]
    ]
    assert uris
    assert all(uri.startswith(base_url + "/v1/") for uri in uris)
    signed = YamlSerializer.deserialize((recording / SIGNED).read_text(encoding="utf-8"))
    assert all("Stripe-Signature" in d["headers"] for d in signed["metadata"]["deliveries"])


def test_replay_tampered_delivery_body_fails_its_signature(copy: Path, no_network: list[str]) -> None:
    def tamper(data: dict[str, Any]) -> None:
        delivery = data["metadata"]["deliveries"][0]
        event = json.loads(delivery["body"]["json"])
        event["created"] += 1  # harmless, but not what was signed
        delivery["body"]["json"] = json.dumps(event, indent=2)

    edit(copy / SIGNED, tamper)
    outcome, out, _ = replay(copy, only=("SPT-EVT-009",))
    assert outcome.verdicts["SPT-EVT-009"] == "FAILED"
    assert "SPT-EVT-009: recorded PASSED, replayed FAILED" in out
    assert "No signatures found matching the expected signature for payload" in out


def test_replay_request_not_recorded_is_an_error_naming_test_and_closest(copy: Path, no_network: list[str]) -> None:
    def drop_a_payment(data: dict[str, Any]) -> None:
        data["interactions"] = [
            i for i in data["interactions"] if not i["request"]["uri"].endswith("/v1/payment_intents")
        ][:-1] + data["interactions"][-1:]

    edit(copy / SIGNED, drop_a_payment)
    outcome, _, err = replay(copy, only=("SPT-EVT-009",))
    assert outcome.code == 2
    assert "test_webhook_every_delivery_is_signed_with_the_endpoint_secret" in err
    assert "holds no request like" in err
    assert "POST /v1/payment_intents" in err
    assert "closest recorded request" in err


def test_replay_other_spec_digest_is_refused_without_the_flag(copy: Path, no_network: list[str]) -> None:
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["spec_digest"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    refused, _, err = replay(copy)
    assert refused.code == 2
    assert refused.verdicts == {}
    assert "recorded against spec sha256 000000000000" in err
    assert "--allow-spec-drift" in err
    allowed, _, err = replay(copy, allow_spec_drift=True, only=("SPT-EVT-005",))
    assert allowed.code == 0
    assert allowed.verdicts == {"SPT-EVT-005": "PASSED"}
    assert "replaying anyway (--allow-spec-drift)" in err


def test_replay_shipped_reference_recording_reproduces_its_manifest(no_network: list[str]) -> None:
    shipped = cassettes_dir() / "reference"
    manifest = read_manifest(shipped)
    assert len(manifest.verdicts) == len(default_spec().catalogue.active)
    outcome, _, err = replay(shipped)
    assert outcome.misses == (), err
    assert outcome.verdicts == manifest.verdicts
    assert outcome.code == 0


def test_replay_shipped_recording_with_response_over_the_cap_fails_use_005(
    tmp_path: Path, no_network: list[str]
) -> None:
    shipped = Path(shutil.copytree(cassettes_dir() / "reference", tmp_path / "reference"))
    path = shipped / "test_redemption" / "test_pay_over_headroom_is_refused_and_captures_nothing.yaml"

    def captured_over_the_cap(data: dict[str, Any]) -> None:
        for interaction in data["interactions"][1:]:  # the reads after the refused payment
            body = interaction["response"]["body"]
            if "json" in body and "amount_captured" in body["json"]:
                parsed = json.loads(body["json"])
                parsed["usage_details"]["amount_captured"]["value"] = 1001
                body["json"] = json.dumps(parsed, indent=2)

    edit(path, captured_over_the_cap)
    outcome, out, _ = replay(shipped, only=("SPT-USE-005",))
    assert outcome.verdicts == {"SPT-USE-005": "FAILED"}
    assert outcome.code == 1
    assert "usage_details.amount_captured.value after the refusal = 1001" in out


def test_cli_replay_exits_like_a_run_and_2_without_a_recording(
    recording: Path, tmp_path: Path, no_network: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main

    assert main(["replay", str(recording), "--only", "SPT-EVT-005"]) == 0
    assert "all 1 verdicts are the recorded ones" in capsys.readouterr().out
    assert main(["replay", str(tmp_path)]) == 2
    assert "holds no manifest.json: it is not a recording" in capsys.readouterr().err


def test_cli_run_record_refuses_workers_and_a_directory_of_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main

    assert main(["run", "--record", str(tmp_path / "new"), "-n", "2"]) == 2
    assert "--record runs in one process" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["run", "--record", str(tmp_path)]) == 2
    assert "holds files and no manifest.json" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").is_file()
