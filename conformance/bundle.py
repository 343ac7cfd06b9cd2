"""Certification bundles: `spt-conformance certify` writes one, `spt-conformance verify` re-checks it.

A bundle is one directory (and the same as `BUNDLE.zip`):

    report.json  report.xml  report.html    the run's reports
    cassettes/manifest.json, cassettes/…     the recording of every exchange (conformance.cassettes.session)
    SHA256SUMS                               `<sha256>  <path>` for every other file
    SHA256SUMS.sig                           with `certify --sign KEY`: who vouches for SHA256SUMS

`verify` trusts nothing in it: it checks every hash (and that no file was added or removed), lints
every file for secrets and card numbers, checks that the report and the manifest tell the same
story, replays the cassettes offline and confirms that the replayed verdicts are the reported
ones. Each problem is reported with the file (or requirement) and the check that caught it.

A consistent bundle proves nothing about who made it: anyone can edit a cassette and rewrite its
line in SHA256SUMS. A signed one does (conformance.signing), once verify is told whose key to
expect (`--key PUB` or `--fingerprint`); an unsigned one is said to be unsigned. The files are
found through SHA256SUMS, wherever it lies in the directory or the zip, not by a fixed layout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from conformance.cassettes.lint import lint_directory
from conformance.cassettes.rerun import ReplayRequest, replay_outcome
from conformance.cassettes.session import MANIFEST, CassetteError, read_manifest
from conformance.runner import EXIT_FAILED, EXIT_OK, EXIT_USAGE, RunRequest, run
from conformance.signing import (
    SIGNATURE,
    SigningError,
    fingerprint,
    load_private_key,
    load_public_key,
    read_signature,
    sign_file,
)

__all__ = ["SUMS", "Check", "Pin", "certified", "certify", "verify", "verify_checks"]

SUMS = "SHA256SUMS"
CASSETTES = "cassettes"
REPORTS = {"json": "report.json", "junit": "report.xml", "html": "report.html"}


@dataclass(frozen=True)
class Check:
    name: str  # hashes, lint, report, replay
    ok: bool
    problems: tuple[str, ...] = ()

    def render(self) -> str:
        head = f"  {'OK    ' if self.ok else 'FAILED'}  {self.name}"
        return "\n".join([head, *(f"          {p}" for p in self.problems[:50])])


# ---------------------------------------------------------------------------------- certify
def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            sha.update(block)
    return sha.hexdigest()


def _files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name not in (SUMS, SIGNATURE)
    )


def write_sums(root: Path) -> None:
    lines = [f"{_digest(root / name)}  {name}\n" for name in _files(root)]
    (root / SUMS).write_text("".join(lines), encoding="utf-8")


def certify(
    request: RunRequest,
    bundle: Path,
    *,
    out: TextIO,
    err: TextIO,
    live: bool | None = None,
    sign: Path | None = None,
) -> int:
    """Run the suite with recording into `bundle`; write its hashes (signed with the key at `sign`)
    and `bundle`.zip."""
    try:
        key = load_private_key(sign) if sign is not None else None
    except SigningError as exc:
        err.write(f"spt-conformance certify: --sign: {exc}\n")
        return EXIT_USAGE
    if bundle.exists() and (not bundle.is_dir() or any(bundle.iterdir())):
        err.write(f"spt-conformance certify: {bundle} exists and is not an empty directory; give a new one\n")
        return EXIT_USAGE
    if not bundle.parent.is_dir():
        err.write(f"spt-conformance certify: {bundle.parent} does not exist; create it first\n")
        return EXIT_USAGE
    bundle.mkdir(exist_ok=True)
    json_report = bundle / REPORTS["json"]
    request = dataclasses.replace(
        request,
        record=bundle / CASSETTES,
        workers=None,
        json=json_report,
        junit=bundle / REPORTS["junit"],
        html=bundle / REPORTS["html"],
    )
    code = run(request, out=out, err=err, live=live)
    if not (bundle / CASSETTES / MANIFEST).is_file() or not json_report.is_file():
        return code  # no verdicts: nothing to bundle (the run said why)
    write_sums(bundle)
    signed = []
    if key is not None:
        sign_file(bundle / SUMS, key)
        signed = [SIGNATURE]
        out.write(f"\nSigned by {fingerprint(key.public_key())}\n")
    archive = bundle.with_name(bundle.name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in [*_files(bundle), SUMS, *signed]:
            zipped.write(bundle / name, f"{bundle.name}/{name}")
    out.write(f"\nBundle: {bundle}/ and {archive} (check either with `spt-conformance verify {archive}`)\n")
    out.write(certified(json.loads(json_report.read_text(encoding="utf-8"))) + "\n")
    return code


# ---------------------------------------------------------------------------------- verify
@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Path]:
    """The bundle's directory: itself, or a zip unpacked into a temporary one."""
    if path.is_dir():
        yield path
        return
    if not zipfile.is_zipfile(path):
        raise CassetteError(f"{path} is neither a bundle directory nor a zip file")
    with tempfile.TemporaryDirectory(prefix="spt-verify-") as tmp, zipfile.ZipFile(path) as zipped:
        roots = set()
        for info in zipped.infolist():
            name = PurePosixPath(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise CassetteError(f"{path} holds {info.filename!r}, a path outside the bundle: refused")
            roots.add(name.parts[0])
        zipped.extractall(tmp)
        yield Path(tmp)


def _root(top: Path) -> Path:
    """The directory holding SHA256SUMS: the bundle's files are named relative to it, whatever
    folders a re-zip or a copy put around it."""
    if (top / SUMS).is_file():
        return top
    found = sorted(p.parent for p in top.rglob(SUMS) if p.is_file())
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(str(p.relative_to(top)) or "." for p in found)
        raise CassetteError(f"{top} holds {len(found)} {SUMS} files ({shown}): give one bundle at a time")
    raise CassetteError(f"{top} holds no {SUMS}: it is not a certification bundle (certify --out BUNDLE makes one)")


def _listed(root: Path, basename: str) -> Path | None:
    """The one file SHA256SUMS lists under this name (reports and the manifest are found this way)."""
    names = [line.partition("  ")[2] for line in (root / SUMS).read_text(encoding="utf-8").splitlines()]
    found = sorted(name for name in names if PurePosixPath(name).name == basename)
    return root / min(found, key=lambda name: name.count("/")) if found else None


def _hashes(root: Path) -> Check:
    sums = root / SUMS
    if not sums.is_file():
        return Check("hashes", False, (f"{SUMS} is missing",))
    problems, listed = [], set()
    for number, line in enumerate(sums.read_text(encoding="utf-8").splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            problems.append(f"{SUMS}:{number}: not a `<sha256>  <path>` line")
            continue
        listed.add(name)
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: listed in {SUMS} but missing")
        elif _digest(path) != digest:
            problems.append(f"{name}: its SHA-256 is not the one in {SUMS} (the file was changed)")
    problems += [f"{name}: not listed in {SUMS} (a file was added)" for name in _files(root) if name not in listed]
    return Check("hashes", not problems, tuple(problems))


@dataclass(frozen=True)
class Pin:
    """Whose signature `verify` must find: a public key's fingerprint, or no one (None)."""

    fingerprint: str | None = None

    @classmethod
    def from_options(cls, key: Path | None, pinned: str | None) -> Pin:
        if key is not None:
            return cls(fingerprint(load_public_key(key)))
        if pinned is not None:
            value = pinned if pinned.startswith("SHA256:") else f"SHA256:{pinned}"
            if len(value) != 7 + 64 or any(c not in "0123456789abcdef" for c in value[7:].lower()):
                raise SigningError(f"--fingerprint {pinned!r} is not SHA256:<64 hex digits>")
            return cls(value[:7] + value[7:].lower())
        return cls()


def _signature(root: Path, pin: Pin) -> tuple[Check, str]:
    """The signature check, and what the verdict says of who made the bundle."""
    path = root / SIGNATURE
    if not path.is_file():
        if pin.fingerprint is not None:
            problem = f"the bundle is unsigned, and a signature by {pin.fingerprint} was required"
            return Check("signature", False, (problem,)), "unsigned"
        return Check("signature", True, ("unsigned",)), "unsigned: it proves itself consistent, not who made it"
    try:
        signature = read_signature(path)
    except SigningError as exc:
        return Check("signature", False, (str(exc),)), "signature unreadable"
    if not signature.holds_for((root / SUMS).read_bytes()):
        problem = f"{SUMS} does not match {SIGNATURE}: {SUMS} was changed after it was signed"
        return Check("signature", False, (problem,)), "signature broken"
    signer = signature.fingerprint
    if pin.fingerprint is None:
        said = f"signed by {signer}, a key not pinned: pass --key PUB or --fingerprint to prove who made it"
        return Check("signature", True, (f"signed by {signer} (no key pinned)",)), said
    if pin.fingerprint != signer:
        problem = f"signed by {signer}, not by the pinned key {pin.fingerprint}"
        return Check("signature", False, (problem,)), "signed by another key"
    return Check("signature", True, (f"signed by {signer}, the pinned key",)), f"signed by the pinned key {signer}"


def _reported(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _report_matches_manifest(cassettes: Path, report: dict[str, Any]) -> Check:
    manifest = read_manifest(cassettes)
    problems = []
    if report.get("spec_digest") != manifest.spec_digest:
        problems.append("report.json and cassettes/manifest.json name different spec digests")
    if report.get("seed") != manifest.seed:
        problems.append("report.json and cassettes/manifest.json name different seeds")
    verdicts = {r["id"]: r["verdict"] for r in report.get("requirements", [])}
    for requirement, verdict in sorted(verdicts.items()):
        recorded = manifest.verdicts.get(requirement)
        if recorded != verdict:
            problems.append(f"{requirement}: report.json says {verdict}, cassettes/manifest.json says {recorded}")
    return Check("report and manifest agree", not problems, tuple(problems))


def _replayed(cassettes_dir: Path, report: dict[str, Any]) -> Check:
    manifest = read_manifest(cassettes_dir)
    cassettes = {entry.test: entry.cassette for entry in manifest.tests}
    with tempfile.TemporaryDirectory(prefix="spt-verify-replay-") as tmp:
        replay_json = Path(tmp) / "replay.json"
        outcome = replay_outcome(
            ReplayRequest(cassettes_dir, json=replay_json), out=io.StringIO(), err=io.StringIO(), live=False
        )
        replayed = json.loads(replay_json.read_text(encoding="utf-8")) if replay_json.is_file() else {}
    if outcome.message:
        return Check("replay", False, (outcome.message,))
    evidence = {r["id"]: r.get("evidence", []) for r in replayed.get("requirements", [])}
    problems = [miss.splitlines()[0] for miss in outcome.misses]
    for entry in report.get("requirements", []):
        requirement, verdict = entry["id"], entry["verdict"]
        again = outcome.verdicts.get(requirement)
        if again == verdict:
            continue
        where = sorted(
            {
                f"{CASSETTES}/{cassettes[test]}"
                for e in evidence.get(requirement, [])
                if e.get("outcome") == "broken"
                and (test := str(e.get("test", "")).removeprefix("check:")) in cassettes
                and cassettes[test]
            }
        )
        problems.append(
            f"{requirement}: reported {verdict}, replayed {again}"
            + (f" (from {', '.join(where)})" if where else " (the report or the cassettes were changed)")
        )
    return Check("replay", not problems, tuple(problems))


def verify_checks(path: Path, pin: Pin | None = None) -> tuple[list[Check], str]:
    """Every check of a bundle, in order, and who made it; raises CassetteError when it cannot be
    read at all."""
    with _opened(path) as top:
        root = _root(top)
        signature, signer = _signature(root, pin or Pin())
        checks = [signature, _hashes(root)]
        findings = lint_directory(root)
        checks.append(Check("no secrets or card numbers", not findings, tuple(f.render(root) for f in findings)))
        report_file, manifest = _listed(root, REPORTS["json"]), _listed(root, MANIFEST)
        try:
            report = _reported(report_file or root / REPORTS["json"])
        except (OSError, ValueError):
            return [*checks, Check("report", False, (f"{REPORTS['json']} is missing or not JSON",))], signer
        cassettes = manifest.parent if manifest is not None else root / CASSETTES
        checks.append(_report_matches_manifest(cassettes, report))
        checks.append(_replayed(cassettes, report))
        return checks, signer


def verify(path: Path, *, out: TextIO, err: TextIO, key: Path | None = None, pinned: str | None = None) -> int:
    """0 when every check passes, 1 when one fails (the bundle was changed, or not signed by the
    pinned key), 2 when unreadable."""
    if not path.exists():
        err.write(f"spt-conformance verify: {path} does not exist\n")
        return EXIT_USAGE
    try:
        pin = Pin.from_options(key, pinned)
    except SigningError as exc:
        err.write(f"spt-conformance verify: {exc}\n")
        return EXIT_USAGE
    out.write(f"spt-conformance verify: {path}\n")
    out.flush()
    try:
        checks, signer = verify_checks(path, pin)
    except CassetteError as exc:
        err.write(f"spt-conformance verify: {exc}\n")
        return EXIT_USAGE
    out.write("\n".join(check.render() for check in checks) + "\n")
    failed = [c.name for c in checks if not c.ok]
    if failed:
        out.write(
            f"\nNOT VERIFIED ({signer}): {', '.join(failed)} failed; the bundle is not what certify wrote (exit 1)\n"
        )
        return EXIT_FAILED
    out.write(
        f"\nVERIFIED ({signer}): hashes, no secrets, report and manifest agree, and the replay gives the reported "
        "verdicts\n"
    )
    with _opened(path) as top:
        root = _root(top)
        out.write(certified(_reported(_listed(root, REPORTS["json"]) or root / REPORTS["json"])) + "\n")
    return EXIT_OK


def certified(report: dict[str, Any]) -> str:
    """What a bundle certifies, in one line: its verdict, and whether it covers the whole catalogue."""
    summary = report.get("summary", {})
    verdict = "FAILED" if summary.get("exit_code") else "PASSED"
    coverage = summary.get("coverage", {}).get("text", "coverage not stated")
    scope = f"{coverage}; selection: {summary.get('selection') or 'not stated'}"
    if summary.get("complete") is not True:
        return f"Certifies: {verdict}, PARTIAL run: {scope}"
    return f"Certifies: {verdict}, complete run: {scope}"
