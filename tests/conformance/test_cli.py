"""`spt-conformance run` and `serve` from the command line: exit codes and the words users see."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cli import main
from tests.conformance import fake_stripe

KEYS = [
    "--agent-key",
    fake_stripe.AGENT_KEY,
    "--seller-key",
    fake_stripe.SELLER_KEY,
    "--seller-profile",
    fake_stripe.SELLER_PROFILE,
]


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def no_key_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SPT_AGENT_KEY", "SPT_SELLER_KEY", "SPT_SELLER_PROFILE", "SPT_OTHER_SELLER_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_cli_run_unreachable_base_url_exits_3_with_one_sentence(
    closed_port_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--base-url", closed_port_url, *KEYS]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"spt-conformance run: cannot reach {closed_port_url}")
    assert captured.err.count("\n") == 1


def test_cli_run_refused_key_exits_3_naming_the_account(capsys: pytest.CaptureFixture[str]) -> None:
    with fake_stripe.serve(refuse_keys=True) as url:
        assert main(["run", "--base-url", url, *KEYS]) == 3
    err = capsys.readouterr().err
    assert "refused the agent key (sk_test_…6789) with 401" in err
    assert fake_stripe.AGENT_KEY not in err
    assert err.count("\n") == 1


def test_cli_run_live_key_exits_2(closed_port_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    keys = [*KEYS]
    keys[1] = "sk_live_" + "x" * 24
    assert main(["run", "--base-url", closed_port_url, *keys]) == 2
    assert "live-mode key; the suite refuses live keys" in capsys.readouterr().err


def test_cli_run_keys_come_from_the_environment(
    closed_port_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SPT_AGENT_KEY", "sk_live_" + "y" * 24)
    monkeypatch.setenv("SPT_SELLER_KEY", fake_stripe.SELLER_KEY)
    monkeypatch.setenv("SPT_SELLER_PROFILE", fake_stripe.SELLER_PROFILE)
    assert main(["run", "--base-url", closed_port_url]) == 2  # the live key came from $SPT_AGENT_KEY
    assert "live-mode key" in capsys.readouterr().err
    monkeypatch.setenv("SPT_AGENT_KEY", fake_stripe.AGENT_KEY)
    assert main(["run", "--base-url", closed_port_url]) == 3  # a usable target, only unreachable


def test_cli_run_base_url_without_seller_profile_names_the_flag_and_variable(
    closed_port_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--base-url", closed_port_url, *KEYS[:4]]) == 2
    assert "--base-url needs --seller-profile (or the environment variable SPT_SELLER_PROFILE)" in (
        capsys.readouterr().err
    )


def test_cli_run_target_and_flags_together_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", str(tmp_path / "t.yaml"), "--base-url", "http://x", *KEYS]) == 2
    assert "--target and --base-url, --agent-key" in capsys.readouterr().err


def test_cli_run_key_flags_without_base_url_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--agent-key", fake_stripe.AGENT_KEY]) == 2
    assert "--agent-key describe(s) a target, but --base-url is missing" in capsys.readouterr().err


def test_cli_run_unknown_capability_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--capability", "teleport"])
    assert stopped.value.code == 2
    assert "invalid choice: 'teleport'" in capsys.readouterr().err


def test_cli_run_target_file_with_unset_variable_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SPT_TEST_UNSET_KEY", raising=False)
    target = tmp_path / "target.yaml"
    target.write_text(
        "base_url: http://127.0.0.1:9\nagent: {secret_key: '${SPT_TEST_UNSET_KEY}'}\n"
        "seller: {secret_key: sk_test_abcdefgh, network_business_profile: profile_x}\n",
        encoding="utf-8",
    )
    assert main(["run", "--target", str(target)]) == 2
    assert "the environment variable SPT_TEST_UNSET_KEY is not set" in capsys.readouterr().err


def test_cli_run_bad_expected_failures_exits_2_before_contacting_the_target(
    closed_port_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = tmp_path / "expected.yaml"
    expected.write_text("- id: SPT-NOPE-001\n  reason: x\n  expires: 2999-01-01\n", encoding="utf-8")
    assert main(["run", "--base-url", closed_port_url, *KEYS, "--expected-failures", str(expected)]) == 2
    assert "SPT-NOPE-001 is not a requirement ID" in capsys.readouterr().err


def test_cli_run_report_in_missing_directory_exits_2(closed_port_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--base-url", closed_port_url, *KEYS, "--json", "/nonexistent-dir/r.json"]) == 2
    assert "--json /nonexistent-dir/r.json: the directory /nonexistent-dir does not exist" in capsys.readouterr().err


def test_cli_run_unknown_only_pattern_exits_2(closed_port_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--base-url", closed_port_url, *KEYS, "--only", "SPT-NOPE-*"]) == 2
    assert "SPT-NOPE-* matches no requirement ID or area" in capsys.readouterr().err


def test_cli_serve_is_wired_to_the_reference_server(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--help"])
    assert stopped.value.code == 0
    assert "--target-out" in capsys.readouterr().out


def test_cli_run_certifies_the_embedded_reference_server_and_writes_reports(tmp_path: Path) -> None:
    reports = {"json": tmp_path / "r.json", "junit": tmp_path / "r.xml", "html": tmp_path / "r.html"}
    flags = [arg for name, path in reports.items() for arg in (f"--{name}", str(path))]
    done = subprocess.run(
        # A selection keeps this test short; the whole suite's run is CI's job (.ci/run).
        [
            sys.executable,
            "-m",
            "conformance.cli",
            "run",
            "--quick",
            "--seed",
            "1",
            "--only",
            "ISS",
            "--only",
            "REV",
            *flags,
        ],
        cwd=tmp_path,  # no project configuration around: the run must not need one
        env={k: v for k, v in os.environ.items() if not k.startswith("SPT_")},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "certifying the bundled reference server at http://127.0.0.1:" in done.stdout
    # A selection is a partial run, and the result line says so, with its coverage.
    assert "Result: PASSED (partial): " in done.stdout
    assert "applicable MUST verified;" in done.stdout
    assert "(--only ISS REV), quick profile" in done.stdout
    report = json.loads(reports["json"].read_text(encoding="utf-8"))
    assert report["target"]["reference"] is True
    assert report["summary"]["exit_code"] == 0
    assert report["summary"]["verdicts"]["FAILED"] == 0
    assert report["exchanges"] > 0
    assert {r["area"] for r in report["requirements"]} == {"ISS", "REV"}
    assert {r["id"]: r["verdict"] for r in report["requirements"]}["SPT-ISS-001"] == "PASSED"
    for path in reports.values():
        assert str(path) in done.stdout
        assert path.stat().st_size > 0
    assert not list(tmp_path.glob(".hypothesis")), "the run left a Hypothesis database in the working directory"
