"""The `spt-conformance` command line.

Exit codes, for every subcommand: 0 success (every applicable MUST passed); 1 a MUST failed;
2 a usage or configuration error (including a broken specification); 3 the target is
unreachable or unusable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from conformance import __version__
from conformance.catalog import Level
from conformance.spec import SpecError, check_spec, load_spec

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
            print(f"{r.id}\t{r.level}\t{r.source}\t{','.join(sorted(r.needs))}\t{r.statement}")
        return EXIT_OK
    width = max((len(r.id) for r in rows), default=0)
    for r in rows:
        needs = f"  [needs {', '.join(sorted(r.needs))}]" if r.needs else ""
        print(f"{r.id:<{width}}  {r.level:<6}  {r.statement}{needs}")
        print(f"{'':<{width}}  {'':<6}  source: {r.source}")
    print(f"\n{len(rows)} of {len(catalogue)} requirements")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    print("spt-conformance run: the conformance suite is not built yet; nothing to run.")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spt-conformance",
        description="Specification, conformance suite and reference server for Shared Payment Tokens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="certify a server (default: the bundled reference server)")
    run.set_defaults(handler=_run)

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


def _directory(value: str) -> object:
    from pathlib import Path

    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is not a directory")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
