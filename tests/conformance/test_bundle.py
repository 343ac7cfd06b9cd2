"""Certification bundles: certify writes one that verifies; any change to it is named by verify."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from conformance.bundle import SUMS, certify, verify
from conformance.runner import RunRequest


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bundle") / "acme-2026"
    out, err = io.StringIO(), io.StringIO()
    code = certify(RunRequest(only=("SPT-SEC-00[1-3]",), seed=11), directory, out=out, err=err, live=False)
    assert code == 0, err.getvalue()
    return directory


@pytest.fixture
def copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / bundle.name))


def checked(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verify(path, out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_certify_writes_reports_cassettes_sums_and_zip(bundle: Path) -> None:
    for name in ("report.json", "report.xml", "report.html", "cassettes/manifest.json", SUMS):
        assert (bundle / name).is_file()
    assert bundle.with_name(bundle.name + ".zip").is_file()
    listed = (bundle / SUMS).read_text(encoding="utf-8")
    assert "  report.json\n" in listed
    assert "  cassettes/manifest.json\n" in listed


def test_verify_untouched_bundle_and_zip_pass(bundle: Path) -> None:
    for path in (bundle, bundle.with_name(bundle.name + ".zip")):
        code, out = checked(path)
        assert code == 0, out
        assert "VERIFIED" in out
        # Made with --only: wherever its verdict is shown, it says it covers part of the catalogue.
        assert "Certifies: PASSED, PARTIAL run: 3 of 3 applicable MUST verified; selection: 3 of " in out
    report = json.loads((bundle / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["complete"] is False
    assert "(partial)" in (bundle / "report.html").read_text(encoding="utf-8")


def test_verify_changed_cassette_is_named_by_the_hash_check(copy: Path) -> None:
    cassette = next((copy / "cassettes" / "test_authentication").glob("*.yaml"))
    cassette.write_text(cassette.read_text(encoding="utf-8").replace("401", "200"), encoding="utf-8")
    code, out = checked(copy)
    assert code == 1
    relative = cassette.relative_to(copy).as_posix()
    assert f"FAILED  hashes\n          {relative}: its SHA-256 is not the one in {SUMS}" in out
    assert "NOT VERIFIED" in out


def test_verify_changed_report_with_new_hashes_is_named_by_the_replay(copy: Path) -> None:
    report = json.loads((copy / "report.json").read_text(encoding="utf-8"))
    target = next(r for r in report["requirements"] if r["id"] == "SPT-SEC-001")
    target["verdict"] = "FAILED"
    (copy / "report.json").write_text(json.dumps(report), encoding="utf-8")
    # A careful forger also fixes the hashes; the replay still tells.
    sums = [
        f"{hashlib.sha256((copy / name).read_bytes()).hexdigest()}  {name}"
        for name in (line.split("  ", 1)[1] for line in (copy / SUMS).read_text(encoding="utf-8").splitlines())
    ]
    (copy / SUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
    code, out = checked(copy)
    assert code == 1
    assert "OK      hashes" in out
    assert "SPT-SEC-001: report.json says FAILED, cassettes/manifest.json says PASSED" in out
    assert "SPT-SEC-001: reported FAILED, replayed PASSED" in out


def test_verify_added_file_is_named(copy: Path) -> None:
    (copy / "cassettes" / "extra.yaml").write_text("version: 1\n", encoding="utf-8")
    code, out = checked(copy)
    assert code == 1
    assert f"cassettes/extra.yaml: not listed in {SUMS} (a file was added)" in out
