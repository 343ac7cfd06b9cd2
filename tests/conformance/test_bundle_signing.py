"""Who made a bundle: certify --sign, verify --key / --fingerprint; and a bundle found by its
SHA256SUMS whatever the folders around it."""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conformance.bundle import SUMS, certify, verify
from conformance.cli import main
from conformance.runner import RunRequest
from conformance.signing import SIGNATURE, fingerprint


def _pem_private(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _pem_public(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


@pytest.fixture(scope="module")
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()  # generated per run: no key is ever committed


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, signer: Ed25519PrivateKey) -> Path:
    root = tmp_path_factory.mktemp("signed")
    directory = root / "acme-signed"
    out, err = io.StringIO(), io.StringIO()
    key = _pem_private(signer, root / "key.pem")
    request = RunRequest(only=("SPT-SEC-00[1-2]",), seed=11)
    code = certify(request, directory, out=out, err=err, live=False, sign=key)
    assert code == 0, err.getvalue()
    assert f"Signed by {fingerprint(signer.public_key())}" in out.getvalue()
    return directory


@pytest.fixture
def copy(signed: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(signed, tmp_path / signed.name))


def checked(path: Path, **pin: object) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verify(path, out=out, err=err, **pin)  # type: ignore[arg-type]
    return code, out.getvalue() + err.getvalue()


def test_signed_bundle_verifies_against_its_key_and_its_fingerprint(
    signed: Path, signer: Ed25519PrivateKey, tmp_path: Path
) -> None:
    assert (signed / SIGNATURE).is_file()
    public = _pem_public(signer, tmp_path / "pub.pem")
    code, out = checked(signed, key=public)
    assert code == 0, out
    assert f"VERIFIED (signed by the pinned key {fingerprint(signer.public_key())})" in out
    code, out = checked(signed.with_name(signed.name + ".zip"), pinned=fingerprint(signer.public_key()))
    assert code == 0, out


def test_signed_bundle_without_a_pin_names_its_signer_but_proves_no_author(signed: Path) -> None:
    code, out = checked(signed)
    assert code == 0, out
    assert "a key not pinned: pass --key PUB or --fingerprint to prove who made it" in out


def test_signed_bundle_refuses_another_key(signed: Path, tmp_path: Path) -> None:
    stranger = _pem_public(Ed25519PrivateKey.generate(), tmp_path / "other.pem")
    code, out = checked(signed, key=stranger)
    assert code == 1
    assert "not by the pinned key" in out
    assert "NOT VERIFIED" in out


def test_tampered_cassette_with_rewritten_sums_line_is_refused(
    copy: Path, signer: Ed25519PrivateKey, tmp_path: Path
) -> None:
    cassette = next((copy / "cassettes").rglob("test_*.yaml"))
    text = cassette.read_text(encoding="utf-8")
    cassette.write_text(text.replace("message:", "message: tampered", 1), encoding="utf-8")
    assert cassette.read_text(encoding="utf-8") != text
    name = cassette.relative_to(copy).as_posix()
    digest = hashlib.sha256(cassette.read_bytes()).hexdigest()
    lines = [
        f"{digest}  {name}" if line.endswith(f"  {name}") else line
        for line in (copy / SUMS).read_text(encoding="utf-8").splitlines()
    ]
    (copy / SUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = checked(copy, key=_pem_public(signer, tmp_path / "pub.pem"))
    assert code == 1
    assert "OK      hashes" in out  # the forger kept the sums consistent…
    assert f"{SUMS} does not match {SIGNATURE}: {SUMS} was changed after it was signed" in out  # …but not signed


def test_unsigned_bundle_says_unsigned_and_fails_a_pin(copy: Path, signer: Ed25519PrivateKey, tmp_path: Path) -> None:
    (copy / SIGNATURE).unlink()
    code, out = checked(copy)
    assert code == 0, out
    assert "VERIFIED (unsigned: it proves itself consistent, not who made it)" in out
    code, out = checked(copy, key=_pem_public(signer, tmp_path / "pub.pem"))
    assert code == 1
    assert "the bundle is unsigned, and a signature by SHA256:" in out


def test_rezipped_bundle_in_other_folders_verifies(signed: Path, tmp_path: Path) -> None:
    archive = tmp_path / "resubmitted.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(p for p in signed.rglob("*") if p.is_file()):
            zipped.write(path, f"submissions/2026/acme/{path.relative_to(signed).as_posix()}")
    code, out = checked(archive)
    assert code == 0, out
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(flat, "w") as zipped:
        for path in sorted(p for p in signed.rglob("*") if p.is_file()):
            zipped.write(path, path.relative_to(signed).as_posix())
    assert checked(flat)[0] == 0


def test_certify_with_a_key_that_is_not_ed25519_exits_2_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "key.pem").write_text("not a key\n", encoding="utf-8")
    assert main(["certify", "--out", str(tmp_path / "b"), "--sign", str(tmp_path / "key.pem")]) == 2
    err = capsys.readouterr().err
    assert "is not an unencrypted PEM private key" in err
    assert "openssl genpkey -algorithm ed25519" in err
    assert not (tmp_path / "b").exists()
