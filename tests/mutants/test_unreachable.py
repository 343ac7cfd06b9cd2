"""No normal configuration can name a fault: only code that calls `embedded.start(faults=…)` or
`create_app(faults=…)` gets a broken server.

Every server is built through `Service`, which checks its faults with `check_faults`; the tests
record what it is given while the ways a user configures things (the environment, the serve
command and its accounts file, `spt-conformance run` and its target file) all try to name one.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterable
from pathlib import Path

import pytest
import uvicorn

from conformance.cli import main
from reference_impl import serve, service
from reference_impl.faults import KNOWN_FAULTS, check_faults

ROOT = Path(__file__).resolve().parents[2]
EVERY_FAULT = ",".join(sorted(KNOWN_FAULTS))
# Every spelling a reader might guess: each fault as a flag variable, and lists of all of them.
ENVIRONMENT = {
    **{name: "1" for name in KNOWN_FAULTS},
    **{name.upper(): "1" for name in KNOWN_FAULTS},
    **{f"SPT_{name.upper()}": "1" for name in KNOWN_FAULTS},
    **dict.fromkeys(
        ("FAULTS", "SPT_FAULTS", "SPT_FAULT", "SPT_REFERENCE_FAULTS", "SPT_CONFORMANCE_FAULTS"), EVERY_FAULT
    ),
}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[frozenset[str]]:
    """The faults of every server built in this process while the test runs, with every
    fault named in the environment."""
    seen: list[frozenset[str]] = []

    def recording(faults: Iterable[str]) -> frozenset[str]:
        chosen = check_faults(faults)
        seen.append(chosen)
        return chosen

    monkeypatch.setattr(service, "check_faults", recording)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    return seen


class _NoServer:
    def __init__(self, config: object) -> None:
        pass

    def run(self, sockets: object = None) -> None:
        pass


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    return parser.parse_args(["--db", ":memory:", "--port", "0", *argv])


def test_serve_builds_a_server_without_faults_whatever_the_environment(
    built: list[frozenset[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Everything up to serving, and no serving: no uvicorn server (nor its logging set-up) at all.
    monkeypatch.setattr(serve, "uvicorn_config", lambda app, **options: None)
    monkeypatch.setattr(uvicorn, "Server", _NoServer)
    assert serve.run(_serve_args()) == 0
    assert built == [frozenset()]
    assert "listening on" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("accounts", "refusal"),
    [
        (
            "accounts:\n  - {name: agent, role: agent}\n  - {name: seller, role: seller}\nfaults: [ignore_headroom]\n",
            "expected a mapping with one key, accounts",
        ),
        (
            "accounts:\n  - {name: agent, role: agent, faults: [ignore_headroom]}\n  - {name: seller, role: seller}\n",
            "accounts[0]: unknown key(s) faults",
        ),
    ],
    ids=["top-level", "per-account"],
)
def test_serve_accounts_file_naming_a_fault_is_refused(
    accounts: str, refusal: str, built: list[frozenset[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(accounts, encoding="utf-8")
    assert serve.run(_serve_args("--accounts", str(path))) == 2
    assert built == []
    assert refusal in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "serve"])
@pytest.mark.parametrize("flag", ["--fault", "--faults", "--fault=ignore_headroom"])
def test_command_line_has_no_fault_option(command: str, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, flag, "ignore_headroom"] if "=" not in flag else [command, flag])
    assert exit_.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_run_certifies_a_server_without_faults_whatever_the_environment(
    built: list[frozenset[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    # ignore_headroom, if it leaked in, would fail SPT-USE-005.
    assert main(["run", "--quick", "--seed", "3", "--only", "SPT-USE-005"]) == 0
    assert built == [frozenset()]
    assert "Result: PASSED" in capsys.readouterr().out


def test_run_target_file_naming_a_fault_is_refused(
    built: list[frozenset[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target.yaml"
    target.write_text(
        "base_url: http://127.0.0.1:9\n"
        "agent: {secret_key: sk_test_agentkey1234}\n"
        "seller: {secret_key: sk_test_sellerkey1234, network_business_profile: profile_test_seller1234}\n"
        "faults: [ignore_headroom]\n",
        encoding="utf-8",
    )
    assert main(["run", "--target", str(target)]) == 2
    assert "unknown field(s) faults" in capsys.readouterr().err
    assert built == []


def _calls_passing_faults(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and any(keyword.arg == "faults" for keyword in node.keywords)
    ]


def test_only_the_embedding_code_passes_faults_on() -> None:
    """create_app hands faults to the Runtime, the Runtime to the Service and its webhook worker,
    embedded.start to create_app; no other module of the product passes any."""
    passing = {
        str(path.relative_to(ROOT)): lines
        for package in ("conformance", "reference_impl")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := _calls_passing_faults(path))
    }
    assert set(passing) == {"reference_impl/app.py", "reference_impl/runtime.py", "reference_impl/embedded.py"}
