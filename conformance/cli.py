"""The `spt-conformance` command line.

Exit codes, for every subcommand: 0 success (every applicable MUST passed); 1 a MUST failed;
2 a usage or configuration error (including a broken specification); 3 the target is
unreachable or unusable. For the recording commands: `replay` exits 2 when the recording cannot
answer the run (or was made against another spec without --allow-spec-drift); `cassettes lint`
and `verify` exit 1 when they find something.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.catalog import Level
from conformance.options import CERTIFY, DOCTOR, REPLAY, RUN, add_cli_arguments, from_namespace
from conformance.spec import SpecError, check_spec, load_spec
from conformance.target_flags import UsageError, add_target_arguments, target_mapping

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def _spec_check(args: argparse.Namespace) -> int:
    try:
        spec = check_spec(args.spec_dir)
    except SpecError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    catalogue, lifecycle = spec.catalogue, spec.lifecycle
    print(
        f"spec OK: {len(catalogue)} requirements in {len(catalogue.areas)} areas, "
        f"{len(lifecycle.triggers)} lifecycle triggers, {len(spec.operations)} operations, "
        f"{len(spec.decisions)} decisions (sha256 {spec.digest[:12]})"
    )
    return EXIT_OK


def _spec_requirements(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.spec_dir)
    except SpecError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    catalogue = spec.catalogue
    areas = {a.upper() for a in args.area}
    unknown = sorted(areas - set(catalogue.areas))
    if unknown:
        print(f"unknown area {', '.join(unknown)}; areas are {', '.join(catalogue.areas)}", file=sys.stderr)
        return EXIT_USAGE
    levels = {Level(level) for level in args.level}
    rows = [r for r in catalogue if (not areas or r.area in areas) and (not levels or r.level in levels)]
    if args.format == "tsv":
        for r in rows:
            print(f"{r.id}\t{r.level}\t{r.source}\t{','.join(sorted(r.needs))}\t{r.statement}\t{r.basis}")
        return EXIT_OK
    width = max((len(r.id) for r in rows), default=0)
    for r in rows:
        needs = f"  [needs {', '.join(sorted(r.needs))}]" if r.needs else ""
        print(f"{r.id:<{width}}  {r.level:<6}  {r.statement}{needs}")
        print(f"{'':<{width}}  {'':<6}  source: {r.source}")
        print(f"{'':<{width}}  {'':<6}  basis:  {r.basis}{f': {r.evidence}' if r.evidence else ''}")
    bases = Counter(r.basis.value for r in rows)
    print(f"\n{len(rows)} of {len(catalogue)} requirements ({', '.join(f'{n} {b}' for b, n in sorted(bases.items()))})")
    return EXIT_OK


def _run_request(args: argparse.Namespace, command: str) -> Any:
    from conformance.runner import RunRequest

    try:
        mapping = target_mapping(args)
    except UsageError as exc:
        print(f"spt-conformance {command}: {exc}", file=sys.stderr)
        return None
    return RunRequest(**from_namespace(args, target_file=args.target, target_mapping=mapping))


def _run(args: argparse.Namespace) -> int:
    from conformance.runner import run

    request = _run_request(args, "run")
    return EXIT_USAGE if request is None else run(request)


def _replay(args: argparse.Namespace) -> int:
    from conformance.cassettes.rerun import ReplayRequest, replay
    from conformance.cassettes.session import MANIFEST

    inner = args.directory / "cassettes"
    if not (args.directory / MANIFEST).is_file() and (inner / MANIFEST).is_file():
        print(
            f"spt-conformance replay: {args.directory} is a certification bundle, not a recording: check all of it "
            f"with `spt-conformance verify {args.directory}`, or replay its recording with "
            f"`spt-conformance replay {inner}`",
            file=sys.stderr,
        )
        return EXIT_USAGE

    request = ReplayRequest(args.directory, allow_spec_drift=args.allow_spec_drift, **from_namespace(args))
    return replay(request)


def _lint(args: argparse.Namespace) -> int:
    from conformance.cassettes.lint import cassette_files, lint_directory
    from conformance.cassettes.session import MANIFEST

    if not args.directory.is_dir():
        print(f"spt-conformance cassettes lint: {args.directory} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    if not cassette_files(args.directory):
        print(
            f"spt-conformance cassettes lint: {args.directory} holds no cassette (no .yaml file, no {MANIFEST}): "
            "give the directory of a recording (spt-conformance run --record DIR)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    findings = lint_directory(args.directory)
    for finding in findings:
        print(finding.render())
    if findings:
        print(
            f"{len(findings)} secret(s) or card number(s) left in {args.directory}: scrub them (or record again) "
            "before sharing it",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"{args.directory}: no secret and no card number")
    return EXIT_OK


def _certify(args: argparse.Namespace) -> int:
    from conformance.bundle import certify

    request = _run_request(args, "certify")
    if request is None:
        return EXIT_USAGE
    return certify(request, args.out, out=sys.stdout, err=sys.stderr, sign=args.sign)


def _verify(args: argparse.Namespace) -> int:
    from conformance.bundle import verify

    return verify(args.bundle, out=sys.stdout, err=sys.stderr, key=args.key, pinned=args.fingerprint)


def _doctor(args: argparse.Namespace) -> int:
    from conformance.doctor import diagnose
    from conformance.reports.model import shown_url
    from conformance.target import TargetError, load_target, target_from_mapping

    try:
        mapping = target_mapping(args)
        if args.target is not None:
            target = load_target(args.target)
        elif mapping is not None:
            target = target_from_mapping(mapping, "the command line")
        else:
            raise UsageError("give the target to check: --target FILE, or --base-url with the key flags")
    except (UsageError, TargetError) as exc:
        print(f"spt-conformance doctor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"spt-conformance doctor: {target.name} at {shown_url(target.base_url)}")
    diagnosis = diagnose(
        target,
        live=not args.offline,
        events=args.events,
        public_url=args.public_url,
        receiver_port=args.receiver_port,
    )
    print(diagnosis.render())
    code = diagnosis.exit_code
    if code:
        print(f"\nNOT READY: fix the STOP line(s) above before a run (exit {code})")
    elif args.offline:
        print("\nThe target file is sound (offline: the server was not asked)")
    else:
        print("\nREADY: this setup can give a meaningful certification")
    return code


def _serve(args: argparse.Namespace) -> int:
    from reference_impl import serve

    code: int = serve.run(args)
    return code


def _add_run_arguments(run: argparse.ArgumentParser, *, certify: bool = False) -> None:
    add_target_arguments(
        run.add_argument_group("target (default: start the bundled reference server in this process and certify it)")
    )
    if certify:
        run.add_argument("--out", type=Path, required=True, metavar="BUNDLE", help="the bundle directory to write")
        run.add_argument(
            "--sign",
            type=Path,
            metavar="KEY",
            help="sign SHA256SUMS with this Ed25519 private key (PEM; `openssl genpkey -algorithm ed25519`)",
        )
    add_cli_arguments(run, CERTIFY if certify else RUN)


def _add_doctor_command(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check a setup before a run: keys, profiles, base_url, the server, capabilities, webhooks",
        description="Check that a target can give a meaningful certification, in a few seconds: every key (valid, "
        "test mode, one per account), the profiles and payment methods (they exist, in the right account), "
        "base_url, Stripe's error shape, the clock, the Stripe-Version, the webhook path, and which capabilities "
        "the server offers. `run` and `certify` run the same checks first. Exit 0: ready; 2: the target file is "
        "wrong; 3: the server or the accounts cannot give a meaningful certification.",
    )
    add_target_arguments(doctor.add_argument_group("target"))
    add_cli_arguments(doctor, DOCTOR)
    doctor.add_argument("--offline", action="store_true", help="check the target file only; send nothing")
    doctor.set_defaults(handler=_doctor)


def _add_recording_commands(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="re-run the suite's checks against a recording, offline",
        description="Replay a recording (spt-conformance run --record DIR): the suite's tests run again against "
        "the recorded responses, with no server and no network, and judge them afresh. Exit 0 or 1 as the run "
        "would; 2 if the recording cannot answer the run or was made against another spec.",
    )
    replay.add_argument("directory", type=Path, metavar="DIR", help="the recording (holding manifest.json)")
    replay.add_argument(
        "--allow-spec-drift", action="store_true", help="replay a recording made against another spec version"
    )
    add_cli_arguments(replay, REPLAY)
    replay.set_defaults(handler=_replay)

    cassettes = commands.add_parser("cassettes", help="check recordings")
    cassette_commands = cassettes.add_subparsers(dest="cassettes_command", required=True, metavar="SUBCOMMAND")
    lint = cassette_commands.add_parser(
        "lint", help="fail (exit 1) on any secret or card number left in DIR, naming file and line"
    )
    lint.add_argument("directory", type=Path, metavar="DIR")
    lint.set_defaults(handler=_lint)

    certify = commands.add_parser(
        "certify",
        help="run the full suite with recording and write a verifiable bundle",
        description="Certify a server: run the suite, record every exchange, and write BUNDLE/ and BUNDLE.zip "
        "with the reports (JSON, JUnit, HTML), the cassettes, their manifest and SHA256SUMS.",
    )
    _add_run_arguments(certify, certify=True)
    certify.set_defaults(handler=_certify)

    verify = commands.add_parser(
        "verify",
        help="check a bundle: hashes, secrets, and a replay that gives the reported verdicts",
        description="Verify a certification bundle (directory or .zip, found by its SHA256SUMS wherever it lies). "
        "Exit 0 if it is what certify wrote, 1 if not (naming each changed file or verdict) or not signed by the "
        "pinned key, 2 if it cannot be read. Without --key or --fingerprint, the verdict says who signed it "
        "(or that it is unsigned) but proves no author.",
    )
    verify.add_argument("bundle", type=Path, metavar="BUNDLE")
    pin = verify.add_mutually_exclusive_group()
    pin.add_argument(
        "--key", type=Path, metavar="PUB", help="the signer's Ed25519 public key (PEM): the bundle must be signed by it"
    )
    pin.add_argument(
        "--fingerprint", metavar="SHA256:HEX", help="the signer's key fingerprint (as certify printed it), instead"
    )
    verify.set_defaults(handler=_verify)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spt-conformance",
        description="Specification, conformance suite and reference server for Shared Payment Tokens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="certify a server (default: the bundled reference server)",
        description="Run the conformance suite against a server and give a verdict per requirement. "
        "Exit 0: every applicable MUST passed; 1: a MUST failed; 2: usage or configuration error; "
        "3: the target is unreachable or refuses the keys.",
    )
    _add_run_arguments(run)
    run.set_defaults(handler=_run)
    _add_recording_commands(commands)
    _add_doctor_command(commands)

    serve = commands.add_parser(
        "serve",
        help="run the reference server; print (and optionally write) its target file",
        description="Run the SPT reference server until interrupted.",
    )
    try:
        from reference_impl.serve import add_arguments
    except ImportError:  # a broken installation: say so when the command is used
        serve.set_defaults(handler=_serve_missing)
    else:
        add_arguments(serve)
        serve.set_defaults(handler=_serve)

    spec = commands.add_parser("spec", help="validate or list the specification")
    spec_commands = spec.add_subparsers(dest="spec_command", required=True, metavar="SUBCOMMAND")
    check = spec_commands.add_parser("check", help="validate every file of spec/ (exit 0 or 2)")
    check.set_defaults(handler=_spec_check)
    listing = spec_commands.add_parser("requirements", help="the requirement catalogue as a table")
    listing.add_argument("--area", action="append", default=[], help="only this area (repeatable), e.g. USE")
    listing.add_argument(
        "--level", action="append", default=[], choices=[level.value for level in Level], help="only this level"
    )
    listing.add_argument("--format", choices=["table", "tsv"], default="table")
    listing.set_defaults(handler=_spec_requirements)
    for sub in (check, listing):
        sub.add_argument("--spec-dir", type=_directory, default=None, help=argparse.SUPPRESS)
    return parser


def _serve_missing(args: argparse.Namespace) -> int:
    print("spt-conformance serve: the reference server is not installed; reinstall spt-conformance", file=sys.stderr)
    return EXIT_USAGE


def _directory(value: str) -> object:
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is not a directory")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`spt-conformance spec requirements | head -1`): what it read is
        # all it wanted. Point stdout at nothing so the flush at exit raises no second error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
