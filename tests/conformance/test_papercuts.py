"""The command line's small promises: a closed pipe, a directory with nothing to lint, a bundle given
to replay, a recording that would delete someone's files, Ctrl-C, and `-n auto`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import runner
from conformance.cassettes.record import prepare_directory
from conformance.cli import main
from conformance.progress import Progress
from conformance.resources import cassettes_dir


def test_cli_output_into_a_closed_pipe_exits_quietly() -> None:
    # `spt-conformance spec requirements | head -1`: the reader is gone before the writer is done.
    with subprocess.Popen(
        [sys.executable, "-m", "conformance.cli", "spec", "requirements"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        err = process.stderr.read().decode()
        assert process.wait(timeout=60) == 0
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err


def test_lint_directory_without_cassettes_is_a_usage_error_not_a_clean_bill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("nothing recorded here\n", encoding="utf-8")
    assert main(["cassettes", "lint", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "no secret" not in captured.out
    assert f"{tmp_path} holds no cassette" in captured.err


def test_replay_of_a_bundle_directory_points_to_verify_and_its_cassettes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "cassettes").mkdir(parents=True)
    shutil.copy(cassettes_dir() / "reference" / "manifest.json", bundle / "cassettes" / "manifest.json")
    assert main(["replay", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert f"spt-conformance verify {bundle}" in err
    assert f"spt-conformance replay {bundle / 'cassettes'}" in err


def test_record_into_a_recording_holding_other_files_is_refused_naming_them(tmp_path: Path) -> None:
    recording = tmp_path / "evidence"
    shutil.copytree(cassettes_dir() / "reference", recording)
    assert prepare_directory(recording) is None  # a recording alone may be replaced
    (recording / "NOTES.md").write_text("my review notes\n", encoding="utf-8")
    problem = prepare_directory(recording)
    assert problem is not None
    assert "NOTES.md" in problem
    assert "record into a new directory" in problem
    assert (recording / "NOTES.md").is_file()


def _report(nodeid: str, when: str, outcome: str, longrepr: object = None) -> SimpleNamespace:
    return SimpleNamespace(
        nodeid=nodeid,
        when=when,
        failed=outcome == "failed",
        passed=outcome == "passed",
        skipped=outcome == "skipped",
        longrepr=longrepr,
    )


def test_progress_does_not_count_the_test_ctrl_c_interrupted_as_failed() -> None:
    import io

    progress = Progress(io.StringIO(), live=False)
    progress._collected(["m.py::a", "m.py::b"])
    for when in ("setup", "call", "teardown"):
        progress.pytest_runtest_logreport(_report("m.py::a", when, "passed"))  # type: ignore[arg-type]
    crash = SimpleNamespace(reprcrash=SimpleNamespace(message="KeyboardInterrupt"))
    progress.pytest_runtest_logreport(_report("m.py::b", "call", "failed", crash))  # type: ignore[arg-type]
    progress.pytest_runtest_logreport(_report("m.py::b", "teardown", "passed"))  # type: ignore[arg-type]
    assert progress.interrupted
    assert progress.counts["failed"] == 0
    assert progress.counts["passed"] == 1


def test_workers_auto_is_told_as_a_number() -> None:
    count = runner._worker_count("auto")
    assert count is not None
    assert int(count) >= 1
    assert runner._worker_count("3") == "3"
    assert runner._worker_count(None) is None


def test_run_with_auto_workers_prints_how_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    code = main(["run", "-n", "auto", "--only", "SPT-ISS-001", "--quick", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "auto workers" not in out
    assert f"{runner._worker_count('auto')} workers" in out
    assert json.loads(report.read_text(encoding="utf-8"))["summary"]["exit_code"] == 0
