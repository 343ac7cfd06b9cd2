"""Reliability of the reference server under crashes, webhook outages, load and hostile input.

    python bench/reliability.py [--crashes 3] [--seconds 30] [--clients 16] [--examples 100]
        [--parts crash,outage,load,hostile]

Runs, at full size, the scenarios that tests/reliability/ runs small (harnesses in harness/reliability/): SIGKILL under load and a
restart on the same database (`--crashes` times; recovery times are medians); a webhook receiver
that is down, slow, failing, or never recovering; `--clients` clients for `--seconds` seconds
against the standalone server; the hostile-request corpus, at its size and four times bigger,
against the standalone server; and `--examples` Schemathesis negative cases per operation.

Not a test: it prints figures (requests served, 5xx, cap violations, events lost, recovery time
after SIGKILL, webhook retries, resident memory at the start and end of the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.reliability.crash import CrashReport, crash_once
from harness.reliability.fuzz import fuzz_negative
from harness.reliability.hostile import Context, corpus, send_raw, stripe_error
from harness.reliability.load import run_load
from harness.reliability.outage import SCENARIOS
from harness.reliability.standalone import Process

MB = 1024 * 1024


def line(label: str, value: object) -> None:
    print(f"  {label:<46} {value}")


def crashes(count: int) -> None:
    print(f"SIGKILL under load, restart on the same database ({count} runs, 8 workers, 2 s of load)")
    reports: list[CrashReport] = []
    for _ in range(count):
        with tempfile.TemporaryDirectory() as tmp:
            reports.append(crash_once(Path(tmp), workers=8, load_seconds=2.0, min_acknowledged=100))
    line("requests acknowledged before the kill", sum(r.acknowledged for r in reports))
    line("requests in flight at the kill, retried", sum(r.unknown for r in reports))
    line("acknowledged objects lost", sum(len(r.lost) for r in reports))
    line("cap violations", sum(len(r.cap_violations) for r in reports))
    line("captures not matching payments (double capture)", sum(len(r.capture_mismatches) for r in reports))
    line("events lost (never delivered)", sum(len(r.undelivered) for r in reports))
    line("deliveries with a bad signature", sum(len(r.bad_signatures) for r in reports))
    line("5xx", sum(r.server_errors for r in reports))
    line("delivery attempts refused before the kill", sum(r.refused_attempts for r in reports))
    first_ok = statistics.median(r.restart_to_first_ok for r in reports)
    delivered = statistics.median(r.restart_to_delivered for r in reports)
    line("restart -> first successful request (median)", f"{first_ok * 1000:.0f} ms")
    line("restart -> pending webhooks delivered (median)", f"{delivered * 1000:.0f} ms")


def outages() -> None:
    print("Webhook receiver outages (timeout 0.5 s, backoff 0.05 s doubling, cap 0.2 s)")
    for name, scenario in SCENARIOS.items():
        report = scenario()
        lost = len(report.events - report.delivered) if name != "never recovers" else "n/a (gave up, D-32)"
        attempts = sorted(report.attempts.values())
        line(
            f"{name}: events / lost / retries",
            f"{len(report.events)} / {lost} / {report.retries}  (attempts per event {attempts[0]}-{attempts[-1]}, "
            f"after recovery {report.late_attempts}, bad signatures {len(report.bad_signatures)})",
        )
        label = "gave up after" if name == "never recovers" else "recovered -> all delivered"
        line(f"{name}: {label}", f"{report.seconds * 1000:.0f} ms")


def load(seconds: float, clients: int) -> None:
    print(f"Load: {clients} clients for {seconds:g} s (issue, pay, retrieve, revoke), standalone server")
    with tempfile.TemporaryDirectory() as tmp:
        report = run_load(Path(tmp), clients=clients, seconds=seconds)
    line("requests served", f"{report.requests} ({report.requests / report.seconds:.0f}/s)")
    line("by kind", dict(report.kinds))
    line("statuses", dict(sorted(report.statuses.items())))
    line("5xx", report.server_errors)
    line("unanswered (timeouts, resets)", f"{sum(report.client_errors.values())} {dict(report.client_errors) or ''}")
    line("tokens / cap violations", f"{report.tokens} / {len(report.cap_violations)}")
    line("captures not matching payments", len(report.capture_mismatches))
    line("payments succeeding after a revocation", len(report.paid_after_revoke))
    line("events / lost", f"{report.events} / {report.undelivered}")
    line("server tracebacks logged", report.server_errors_logged)
    line(
        "server RSS after warm-up -> end (peak)",
        f"{report.rss_start / MB:.1f} MB -> {report.rss_end / MB:.1f} MB ({report.rss_peak / MB:.1f} MB)",
    )


def hostile(examples: int) -> None:
    print("Bad input against the standalone server")
    with tempfile.TemporaryDirectory() as tmp:
        # 2 s head and body timeouts (production: 10 s), so the slow-client cases answer well
        # within the client's 10 s.
        server = Process(
            Path(tmp) / "bad.sqlite", Path(tmp) / "bad.target.yaml", "--head-timeout", "2", "--body-timeout", "2"
        )
        try:
            url = urlsplit(server.url)
            assert url.hostname is not None
            assert url.port is not None
            ctx = Context(
                url.hostname, url.port, server.key("agent"), server.target["seller"]["network_business_profile"]
            )
            for size in (1, 4):
                requests = corpus(size)
                began = time.monotonic()
                answers = {name: send_raw(ctx, build(ctx)) for name, build in requests.items()}
                wrong = [
                    name
                    for name, a in answers.items()
                    if a.status is None or not 400 <= a.status < 500 or not stripe_error(a)
                ]
                slowest = max(answers.items(), key=lambda item: item[1].seconds)
                line(
                    f"hostile corpus x{size}: requests / not a 4xx Stripe error",
                    f"{len(answers)} / {len(wrong)} {wrong or ''}  ({time.monotonic() - began:.1f} s; "
                    f"slowest {slowest[0]!r} {slowest[1].seconds * 1000:.0f} ms)",
                )
            began = time.monotonic()
            keys = {role: server.key(role) for role in ("agent", "seller")}
            report = fuzz_negative(server.url, keys, examples=examples, derandomize=False)
            line(
                f"Schemathesis negative, {examples}/operation: cases / wrong",
                f"{report.cases} / {len(report.wrong)}  ({time.monotonic() - began:.1f} s; "
                f"statuses {dict(sorted(report.statuses.items()))})",
            )
            for case in report.wrong[:5]:
                line("  wrong", case)
            if server.terminate() != 0:
                raise SystemExit("the server did not stop cleanly")
            line("server tracebacks logged", server.log_text().count("Traceback"))
        finally:
            if server.proc.poll() is None:
                server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--parts", default="crash,outage,load,hostile", help="which scenarios, comma-separated")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.1f}")
    if "crash" in parts:
        crashes(args.crashes)
    if "outage" in parts:
        outages()
    if "load" in parts:
        load(args.seconds, args.clients)
    if "hostile" in parts:
        hostile(args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
