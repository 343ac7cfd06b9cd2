"""No normal configuration can name a fault or a variant: only code that calls
`embedded.start(faults=…, variants=…)` or `create_app(…)` gets a broken or a varied server.

Every server is built through `Service`, which checks its faults with `check_faults` and its
variants with `check_variants`; the tests
record what it is given while the ways a user configures things (the environment, the serve
command and its accounts file, `spt-conformance run` and its target file) all try to name one.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import uvicorn

from conformance.cli import main
from reference_impl import embedded, serve, service
from reference_impl.faults import KNOWN_FAULTS, check_faults
from reference_impl.variants import KNOWN_VARIANTS, check_variants

ROOT = Path(__file__).resolve().parents[2]
EVERY_FAULT = ",".join(sorted(KNOWN_FAULTS | KNOWN_VARIANTS))
# Every spelling a reader might guess: each fault as a flag variable, and lists of all of them.
ENVIRONMENT = {
    **{name: "1" for name in KNOWN_FAULTS | KNOWN_VARIANTS},
    **{name.upper(): "1" for name in KNOWN_FAULTS | KNOWN_VARIANTS},
    **{f"SPT_{name.upper()}": "1" for name in KNOWN_FAULTS | KNOWN_VARIANTS},
    **dict.fromkeys(
        ("FAULTS", "SPT_FAULTS", "SPT_FAULT", "SPT_REFERENCE_FAULTS", "SPT_CONFORMANCE_FAULTS"), EVERY_FAULT
    ),
    **dict.fromkeys(("VARIANTS", "SPT_VARIANTS", "SPT_VARIANT", "SPT_REFERENCE_VARIANTS"), EVERY_FAULT),
}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[frozenset[str]]:
    """The faults and the variants of every server built in this process while the test runs,
    with every fault and variant named in the environment."""
    seen: list[frozenset[str]] = []

    def recording(check: Callable[[Iterable[str]], frozenset[str]]) -> Callable[[Iterable[str]], frozenset[str]]:
        def record(names: Iterable[str]) -> frozenset[str]:
            chosen = check(names)
            seen.append(chosen)
            return chosen

        return record

    monkeypatch.setattr(service, "check_faults", recording(check_faults))
    monkeypatch.setattr(service, "check_variants", recording(check_variants))
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
    monkeypatch.setattr(embedded, "uvicorn_config", lambda app, **options: None)  # serve imports it when run
    monkeypatch.setattr(uvicorn, "Server", _NoServer)
    assert serve.run(_serve_args()) == 0
    assert built == [frozenset(), frozenset()]  # no fault, no variant
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
@pytest.mark.parametrize(
    "flag", ["--fault", "--faults", "--fault=ignore_headroom", "--variant", "--variants", "--variant=gzip"]
)
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
    assert built == [frozenset(), frozenset()]
    assert "Result: PASSED" in capsys.readouterr().out


@pytest.mark.parametrize(("field", "name"), [("faults", "ignore_headroom"), ("variants", "gzip")])
def test_run_target_file_naming_a_fault_is_refused(
    field: str, name: str, built: list[frozenset[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target.yaml"
    target.write_text(
        "base_url: http://127.0.0.1:9\n"
        "agent: {secret_key: sk_test_agentkey1234}\n"
        "seller: {secret_key: sk_test_sellerkey1234, network_business_profile: profile_test_seller1234}\n"
        f"{field}: [{name}]\n",
        encoding="utf-8",
    )
    assert main(["run", "--target", str(target)]) == 2
    assert f"unknown field(s) {field}" in capsys.readouterr().err
    assert built == []


def _calls_passing_faults(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and any(keyword.arg in ("faults", "variants") for keyword in node.keywords)
    ]


def test_only_the_embedding_code_passes_faults_on() -> None:
    """create_app hands faults and variants to the Runtime, the Runtime to the Service,
    embedded.start to create_app; no other module of the product passes any."""
    passing = {
        str(path.relative_to(ROOT)): lines
        for package in ("conformance", "reference_impl")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (lines := _calls_passing_faults(path))
    }
    assert set(passing) == {"reference_impl/app.py", "reference_impl/runtime.py", "reference_impl/embedded.py"}
