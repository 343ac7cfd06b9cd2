"""The server as a process: `python -m reference_impl` and its target file. Crash durability is
tests/reliability/test_crash.py."""

from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.reliability.standalone import ROOT, Process
from reference_impl import serve


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.kill()


def test_serve_prints_accounts_and_writes_private_target_file(tmp_path: Path, processes: list[Process]) -> None:
    process = Process(tmp_path / "db.sqlite", tmp_path / "target.yaml")
    processes.append(process)
    target = process.target
    assert stat.S_IMODE(os.stat(tmp_path / "target.yaml").st_mode) == 0o600
    assert target["base_url"] == process.url
    assert target["agent"]["payment_method"] == "pm_card_visa"
    assert target["agent"]["declined_payment_method"] == "pm_card_chargeDeclined"
    assert target["seller"]["network_business_profile"].startswith("profile_test_")
    assert target["other_seller"]["secret_key"].startswith("sk_test_")
    assert all(target["capabilities"].values())
    printed = "".join(process.lines)
    for role in ("agent", "seller", "other_seller"):
        assert target[role]["secret_key"] in printed
    with process.client("agent") as client:
        assert client.get("/v1/events").status_code == 200
    assert process.terminate() == 0


def test_serve_keys_are_random_per_database_and_kept_across_restarts(tmp_path: Path, processes: list[Process]) -> None:
    first = Process(tmp_path / "a.sqlite", tmp_path / "t1.yaml")
    processes.append(first)
    first.terminate()
    again = Process(tmp_path / "a.sqlite", tmp_path / "t2.yaml")
    processes.append(again)
    other = Process(tmp_path / "b.sqlite", tmp_path / "t3.yaml")
    processes.append(other)
    assert again.target["agent"]["secret_key"] == first.target["agent"]["secret_key"]
    assert other.target["agent"]["secret_key"] != first.target["agent"]["secret_key"]


def test_serve_accounts_file_is_used_and_validated(tmp_path: Path, processes: list[Process]) -> None:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        "accounts:\n"
        "  - {name: agent, role: agent, secret_key: sk_test_agentkey1234}\n"
        "  - {name: shop, role: seller, network_business_profile: profile_test_shop12345}\n",
        encoding="utf-8",
    )
    process = Process(tmp_path / "db.sqlite", tmp_path / "t.yaml", "--accounts", str(accounts))
    processes.append(process)
    assert process.target["agent"]["secret_key"] == "sk_test_agentkey1234"
    assert process.target["seller"]["network_business_profile"] == "profile_test_shop12345"
    assert "other_seller" not in process.target
    accounts.write_text("accounts:\n  - {name: agent, role: boss}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "reference_impl", "--db", ":memory:", "--accounts", str(accounts)],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "role must be agent or seller" in result.stderr


def test_serve_cli_has_no_way_to_name_a_fault() -> None:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert not [a for a in parser._actions if "fault" in " ".join(a.option_strings)]


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_impl", "--port", "0", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False, env=env,
    )  # fmt: skip


def test_serve_unwritable_target_file_is_one_sentence_and_exit_2_before_any_key(tmp_path: Path) -> None:
    result = _serve("--db", ":memory:", "--target-out", str(tmp_path / "missing" / "t.yaml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "cannot write the target file" in result.stderr
    assert "existing, writable directory" in result.stderr
    assert "sk_test_" not in result.stdout + result.stderr


def test_serve_lists_accounts_under_headers_and_says_where_the_database_is(
    tmp_path: Path, processes: list[Process]
) -> None:
    process = Process(tmp_path / "db.sqlite", tmp_path / "target.yaml")
    processes.append(process)
    first, header, *_ = process.lines
    assert str(tmp_path / "db.sqlite") in first
    assert "kept between runs" in first
    assert "delete the file" in first
    assert header.split() == ["ACCOUNT", "ROLE", "SECRET", "KEY", "NETWORK", "BUSINESS", "PROFILE"]
    agent_row = next(line for line in process.lines if line.split()[:1] == ["agent"])
    assert agent_row.index(process.key("agent")) == header.index("SECRET KEY")
    process.terminate()


def test_serve_default_database_is_named_with_its_directory(tmp_path: Path) -> None:
    """Without --db the file lives under XDG_DATA_HOME (else ~/.local/share), and serve says so."""
    assert serve.default_db().endswith(os.path.join("spt-conformance", "reference.db"))
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    result = _serve("--target-out", str(tmp_path / "no" / "t.yaml"), env=env)
    assert result.returncode == 2  # stops before serving, after opening the default database
    assert (tmp_path / "spt-conformance" / "reference.db").exists()
