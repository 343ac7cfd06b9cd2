"""`conformance.runner`: from a request to an exit code, with a fake suite against a fake server."""

from __future__ import annotations

import gc
import io
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import runner
from conformance.invocation import LeanCollector, pytest_arguments
from conformance.progress import Progress
from conformance.runner import RunRequest
from tests.conformance import fake_stripe


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with fake_stripe.serve() as url:
        yield url


@pytest.fixture
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A uniquely named package of fake conformance tests, importable for the run."""
    name = f"fakesuite_{uuid.uuid4().hex[:8]}"
    package = tmp_path / "path" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "conftest.py").write_text(fake_stripe.CONFTEST, encoding="utf-8")
    (package / "test_main.py").write_text(fake_stripe.TESTS_MAIN, encoding="utf-8")
    (package / "test_leak.py").write_text(fake_stripe.TESTS_LEAK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "path"))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def go(request: RunRequest, *, live: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = runner.run(request, out=out, err=err, live=live)
    return code, out.getvalue(), err.getvalue()


def request_for(suite: str, base_url: str, **options: Any) -> RunRequest:
    # The fake server answers the fake suite, not the doctor's probes (it issues no tokens).
    options.setdefault("no_doctor", True)
    return RunRequest(target_mapping=fake_stripe.target_mapping(base_url), suite=suite, seed=7, **options)


def verdicts(path: Path) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in json.loads(path.read_text(encoding="utf-8"))["requirements"]}


def test_run_failing_must_exits_1_with_summary_and_reports(suite: str, base_url: str, tmp_path: Path) -> None:
    files = {"json": tmp_path / "r.json", "junit": tmp_path / "r.xml", "html": tmp_path / "r.html"}
    code, out, _ = go(request_for(suite, base_url, **files))
    assert code == 1
    assert "certifying fake at " in out
    assert "(seed 7)" in out
    assert "6 tests (1 passed, 4 failed, 1 skipped), 4 HTTP exchanges" in out
    assert "ISS   MUST" in out
    assert "FAILED  SPT-ISS-004 (MUST):" in out
    assert "Received:    echoed 999" in out
    assert "Tip:         echo what was sent" in out
    assert "WARNING  SPT-ISS-015 (SHOULD):" in out
    # SPT-ISS-004 and SPT-ERR-004; the two leaks rest on a convention: WARNING against this target.
    assert "Result: FAILED: 2 requirement(s) failed (exit 1)" in out
    for path in files.values():
        assert path.is_file()
        assert str(path) in out
    assert verdicts(files["json"])["SPT-ISS-004"] == "FAILED"


def test_run_plain_progress_prints_a_line_per_module_not_per_test(suite: str, base_url: str) -> None:
    _, out, _ = go(request_for(suite, base_url))
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert progress == [
        f"[1/6] {suite}/test_leak.py: 1 failed",
        f"[6/6] {suite}/test_main.py: 1 passed, 3 failed, 1 skipped",
    ]
    assert "\r" not in out


def test_run_live_progress_rewrites_one_line(suite: str, base_url: str) -> None:
    _, out, _ = go(request_for(suite, base_url), live=True)
    assert "\r\x1b[K[6/6] 1 passed, 4 failed, 1 skipped  test_main.py::test_breaks_a_should" in out


def test_run_passing_selection_exits_0(suite: str, base_url: str) -> None:
    code, out, _ = go(request_for(suite, base_url, only=("SPT-ISS-001",), skip=("SPT-ERR-*",)))
    assert code == 0, out
    assert "Result: PASSED" in out


def test_run_selection_never_hides_a_failure_of_a_selected_test(suite: str, base_url: str) -> None:
    # SPT-ISS-005's test meets a 500: SPT-ERR-004 is left out of the selection, yet it failed.
    code, out, _ = go(request_for(suite, base_url, only=("SPT-ISS-005",), skip=("SPT-ERR-*",)))
    assert code == 1, out
    assert "FAILED  SPT-ERR-004 (MUST):" in out


# xdist starts its workers with the sys.path it saw when it was imported, so a fake suite added
# to sys.path by a test is invisible to them: the sharded run happens in a fresh interpreter.
_SHARDED_RUN = """
import json, sys
from pathlib import Path
from conformance.runner import RunRequest, run
options = json.loads(sys.argv[1])
request = RunRequest(
    target_mapping=options["target"], suite=options["suite"], seed=7, json=Path(options["json"]), workers="2",
    no_doctor=True,
)
sys.exit(run(request, live=False))
"""


def test_run_with_workers_gives_the_same_verdicts(suite: str, base_url: str, tmp_path: Path) -> None:
    serial, sharded = tmp_path / "serial.json", tmp_path / "sharded.json"
    assert go(request_for(suite, base_url, json=serial))[0] == 1
    options = {"target": fake_stripe.target_mapping(base_url), "suite": suite, "json": str(sharded)}
    done = subprocess.run(
        [sys.executable, "-c", _SHARDED_RUN, json.dumps(options)],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "path")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "2 workers" in done.stdout
    assert verdicts(sharded) == verdicts(serial)
    assert json.loads(sharded.read_text(encoding="utf-8"))["exchanges"] == 4


def test_run_expected_failures_make_a_known_failure_pass(suite: str, base_url: str, tmp_path: Path) -> None:
    expected = tmp_path / "expected.yaml"
    expected.write_text("- id: SPT-ISS-004\n  reason: release 4.2\n  expires: 2999-12-31\n", encoding="utf-8")
    code, out, _ = go(request_for(suite, base_url, only=("SPT-ISS-004",), expected_failures=expected))
    assert code == 0, out
    assert "applied  SPT-ISS-004 (until 2999-12-31)" in out


def test_run_broken_test_module_exits_2_naming_it(suite: str, base_url: str, tmp_path: Path) -> None:
    (tmp_path / "path" / suite / "test_broken.py").write_text("def test_(:\n", encoding="utf-8")
    code, _, err = go(request_for(suite, base_url))
    assert code == 2
    assert "the conformance tests could not be loaded" in err
    assert "test_broken.py" in err


def test_run_selection_without_tests_exits_2(suite: str, base_url: str) -> None:
    code, _, err = go(request_for(suite, base_url, only=("REV",)))
    assert code == 2
    assert "no conformance test proves the selected requirements" in err


def test_run_unreachable_target_exits_3_before_any_test(suite: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = go(request_for(suite, f"http://127.0.0.1:{port}"))
    assert code == 3
    assert out == ""
    assert err.startswith(f"spt-conformance run: cannot reach http://127.0.0.1:{port}")
    assert err.count("\n") == 1


def test_run_writes_the_target_privately_and_removes_it(
    suite: str, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_main(args: list[str], plugins: list[object]) -> int:
        path = Path(args[args.index("--spt-target") + 1])
        seen["path"], seen["mode"] = path, path.stat().st_mode & 0o777
        seen["text"] = path.read_text(encoding="utf-8")
        return int(pytest.ExitCode.NO_TESTS_COLLECTED)

    monkeypatch.setattr(pytest, "main", fake_main)
    go(request_for(suite, base_url))
    assert seen["mode"] == 0o600
    assert fake_stripe.AGENT_KEY in seen["text"]
    assert not seen["path"].exists()


def test_pytest_arguments_isolate_the_run_and_pass_every_option(suite: str, tmp_path: Path) -> None:
    request = RunRequest(
        suite=suite,
        only=("USE",),
        skip=("SPT-USE-013",),
        quick=True,
        strict=True,
        events="pull",
        public_url="https://tunnel.example",
        max_examples=3,
        workers="auto",
        json=tmp_path / "r.json",
    )
    args = pytest_arguments(request, tmp_path / "t.yaml", suite=suite, reference=True, workdir=tmp_path, seed=42)
    text = " ".join(args)
    assert f"-c {tmp_path / 'pytest.ini'}" in text  # not the configuration of the current directory
    assert (tmp_path / "pytest.ini").read_text(encoding="utf-8") == "[pytest]\n"
    assert "-p no:terminal" in text
    assert "-p no:cacheprovider" in text
    assert f"--rootdir {tmp_path / 'path'}" in text
    for expected in (
        "--spt-reference",
        "--spt-strict",
        "--spt-quick",
        "--spt-seed 42",
        "--hypothesis-seed 42",
        "--spt-max-wait 5.0",
        "--spt-events pull",
        "--spt-public-url https://tunnel.example",
        "--spt-max-examples 3",
        "--spt-only USE",
        "--spt-skip SPT-USE-013",
        "-n auto",
        f"--spt-json {tmp_path / 'r.json'}",
    ):
        assert expected in text
    assert args[-2:] == ["--pyargs", suite]


def test_pytest_arguments_default_run_is_serial_with_the_long_wait(suite: str, tmp_path: Path) -> None:
    args = pytest_arguments(
        RunRequest(suite=suite), tmp_path / "t.yaml", suite=suite, reference=False, workdir=tmp_path, seed=1
    )
    assert "-n" not in args
    assert "--spt-reference" not in args
    assert args[args.index("--spt-max-wait") + 1] == "30.0"


class _Report:
    def __init__(self, nodeid: str, when: str, outcome: str) -> None:
        self.nodeid, self.when, self.outcome = nodeid, when, outcome
        self.passed, self.failed, self.skipped = outcome == "passed", outcome == "failed", outcome == "skipped"


def test_progress_plain_lines_every_n_tests_within_a_long_module() -> None:
    out = io.StringIO()
    progress = Progress(out, live=False, every=2)
    progress._collected([f"m.py::t{i}" for i in range(5)])
    for i in range(5):
        for when in ("setup", "call", "teardown"):
            progress.pytest_runtest_logreport(_Report(f"m.py::t{i}", when, "passed"))  # type: ignore[arg-type]
    assert out.getvalue().splitlines() == [
        "collected 5 tests in 1 modules",
        "[2/5] 2 passed",
        "[4/5] 4 passed",
        "[5/5] m.py: 5 passed",
    ]


def test_progress_live_line_is_cut_to_the_terminal_width() -> None:
    out = io.StringIO()
    progress = Progress(out, live=True, width=lambda: 40)
    progress._collected(["m.py::" + "x" * 80])
    progress.pytest_runtest_logstart("m.py::" + "x" * 80, None)
    last = out.getvalue().rsplit("\r\x1b[K", 1)[1]
    assert len(last) == 39
    assert last.endswith("…")


@pytest.mark.parametrize(("quick", "tuning"), [(False, {}), (True, {"webhook_backoff": 0.1})])
def test_run_without_target_starts_the_bundled_server_tuned_for_the_profile(
    monkeypatch: pytest.MonkeyPatch, quick: bool, tuning: dict[str, float]
) -> None:
    import reference_impl.embedded

    calls: list[dict[str, Any]] = []

    def fake_start(**options: Any) -> Any:
        calls.append(options)
        raise RuntimeError("the port is taken")

    monkeypatch.setattr(reference_impl.embedded, "start", fake_start)
    code, _, err = go(RunRequest(quick=quick))
    assert code == 3
    assert err == "spt-conformance run: the bundled reference server did not start: the port is taken\n"
    assert calls == [{"db": ":memory:", "host": "127.0.0.1", "port": 0, **tuning}]


def test_the_collector_is_frozen_after_collection_and_restored_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    class Spy:
        def pytest_runtestloop(self, session: pytest.Session) -> None:
            seen["frozen"] = gc.get_freeze_count()
            seen["threshold"] = gc.get_threshold()

    before = gc.get_threshold()
    test = tmp_path / "test_one.py"
    test.write_text("def test_one():\n    pass\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = pytest.main(["-q", "-p", "no:cacheprovider", str(test)], plugins=[Spy(), LeanCollector()])
    assert code == 0
    frozen = seen["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 0
    assert seen["threshold"] == (10_000, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
