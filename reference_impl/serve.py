"""`spt-conformance serve` (and `python -m reference_impl`): run the reference server.

It prints the accounts and their keys, can write a ready target file (mode 0600, it holds
keys), and serves until interrupted. State lives in one SQLite file, by default under the user's
data directory, so tokens, payments, events and pending webhooks survive a restart. There is
deliberately no option for faults: deliberate bugs are for the test suite's embedded servers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from reference_impl.tuning import Tuning

__all__ = ["add_arguments", "default_db", "main", "run"]

EXIT_OK, EXIT_USAGE, EXIT_UNREACHABLE = 0, 2, 3
_KNOBS = {
    name: getattr(Tuning(), name)
    for name in (
        "sweep_interval",
        "webhook_timeout",
        "webhook_backoff",
        "webhook_backoff_cap",
        "head_timeout",
        "body_timeout",
        "linger",
    )
}


def default_db() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "spt-conformance" / "reference.db")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=12111, help="port to listen on; 0 picks a free one (default 12111)")
    parser.add_argument("--db", default=None, help=f"SQLite database file, or :memory: (default {default_db()})")
    parser.add_argument("--accounts", metavar="FILE", help="accounts YAML file (default: agent, seller, other_seller)")
    parser.add_argument("--target-out", metavar="FILE", help="write a target file for this server (mode 0600)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    tuning = parser.add_argument_group("tuning (defaults are the production values of docs/reference-server.md)")
    for knob, default in _KNOBS.items():
        tuning.add_argument(
            "--" + knob.replace("_", "-"), type=float, default=default, metavar="SECONDS", help=f"(default {default})"
        )


def _database_line(db: str) -> str:
    """Where state lives, how big it has grown, and how to start afresh."""
    if db == ":memory:":
        return "SPT reference server, database in memory (nothing is kept after it stops)"
    size = Path(db).stat().st_size if Path(db).exists() else 0
    return (
        f"SPT reference server, database {db} ({size / 1e6:.1f} MB; kept between runs: "
        "delete the file, or pass --db :memory: or another path, to start afresh)"
    )


def _write_target(path: str, target: dict[str, object]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file already existed with wider permissions
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# Written by spt-conformance serve. It holds secret keys: keep it private.\n")
        yaml.safe_dump(target, out, sort_keys=False)


def run(args: argparse.Namespace) -> int:
    # Imported here, not above: every `spt-conformance` command builds its parser with
    # `add_arguments`, and the server (uvicorn, Starlette, the app) costs half a second to import.
    import uvicorn

    from reference_impl.accounts import AccountsFileError, load_accounts_file, target_mapping, target_roles
    from reference_impl.app import create_app
    from reference_impl.context import DEFAULT_API_VERSION
    from reference_impl.embedded import bind, uvicorn_config
    from reference_impl.runtime import Runtime

    try:
        specs = load_accounts_file(args.accounts) if args.accounts else None
    except AccountsFileError as exc:
        print(f"spt-conformance serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    db = args.db or default_db()
    try:
        app = create_app(db=db, accounts=specs, **{knob: getattr(args, knob) for knob in _KNOBS})
    except (OSError, ValueError) as exc:
        print(f"spt-conformance serve: cannot open {db}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    runtime: Runtime = app.state.runtime
    try:
        try:
            sock = bind(args.host, args.port)
        except OSError as exc:
            print(f"spt-conformance serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        host, port = sock.getsockname()[:2]
        base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        accounts = runtime.service.accounts.all
        if args.target_out:
            # Before anything is printed: a target file that cannot be written is a usage error,
            # not a server that half started.
            try:
                _write_target(
                    args.target_out, target_mapping("reference-server", base_url, accounts, DEFAULT_API_VERSION)
                )
            except OSError as exc:
                print(
                    f"spt-conformance serve: cannot write the target file {args.target_out} ({exc.strerror}); "
                    "give --target-out a path in an existing, writable directory.",
                    file=sys.stderr,
                )
                sock.close()
                return EXIT_USAGE
        print(_database_line(db))
        roles = {a.id: role for role, a in target_roles(accounts).items()}
        width = max(len(a.secret_key) for a in accounts)
        print(f"  {'ACCOUNT':<14} {'ROLE':<13} {'SECRET KEY':<{width}}  NETWORK BUSINESS PROFILE")
        for account in accounts:
            role = roles.get(account.id, account.role)
            print(f"  {account.name:<14} {role:<13} {account.secret_key:<{width}}  {account.profile}")
        if args.target_out:
            print(f"target file written to {args.target_out}")
        print(f"listening on {base_url}", flush=True)
        server = uvicorn.Server(uvicorn_config(app, log_level=args.log_level))
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
            server.run(sockets=[sock])
        sock.close()
        return EXIT_OK
    finally:
        runtime.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_impl", description="Run the SPT reference server.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
