"""A generated hostile corpus of over 100,000 requests against the standalone server.

    python bench/hostile.py [--scale 1.0] [--concurrency 16] [--seed 1] [--only "random byte flips,..."]

Each class of harness/reliability/generated.py (broken forms, deep nesting, huge names and
values, invalid UTF-8 and NUL, wrong content types, bad auth, bad and card-like
Idempotency-Keys and Stripe-Versions, header injection, bogus Content-Length, card numbers in
names and values, random byte flips, slowloris, silent connections) is sent in turn, across every
endpoint, against one `python -m reference_impl` process started with 2 s head and body
timeouts (so the slow classes finish quickly; production is 10 s). Printed per class: requests,
statuses, and the anomalies, each of which should be 0: answers missing (closed or reset),
hangs, non-JSON bodies, 5xx, tracebacks in the server's log, echoes of a card number or secret
key, and the server's resident memory before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.reliability.generated import CLASSES, SLOW_CLASSES, Target, run
from harness.reliability.standalone import Process

MB = 1024 * 1024
TIMEOUTS = ["--head-timeout", "2", "--body-timeout", "2", "--linger", "2"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 104,000 requests and 700 slow connections")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", help="comma-separated class names (default: every class)")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at the start; concurrency {args.concurrency}")
    header = f"{'class':<34} {'requests':>8}  {'statuses':<34} {'no answer':>9} {'hangs':>5} {'non-JSON':>8} {'5xx':>4} {'tracebacks':>10} {'echoes':>6}  RSS before -> after"
    print(header)
    totals = [0] * 7
    with tempfile.TemporaryDirectory() as tmp:
        server = Process(Path(tmp) / "hostile.sqlite", Path(tmp) / "hostile.target.yaml", *TIMEOUTS)
        try:
            url = urlsplit(server.url)
            assert url.hostname is not None
            assert url.port is not None
            secrets = tuple(server.key(role) for role in ("agent", "seller", "other_seller"))
            target = Target(url.hostname, url.port, server.key("agent"), secrets)
            began = time.monotonic()
            for index, (name, (make, share)) in enumerate({**CLASSES, **SLOW_CLASSES}.items()):
                if only is not None and name not in only:
                    continue
                count = max(1, round(share * args.scale))
                slow = name in SLOW_CLASSES
                rss_before, log_before = server.rss(), server.log_text().count("Traceback")
                tally = run(
                    target, make, count, seed=args.seed * 1000 + index, concurrency=256 if slow else args.concurrency
                )
                tracebacks = server.log_text().count("Traceback") - log_before
                statuses = ", ".join(f"{s}:{n}" for s, n in sorted(tally.statuses.items()))
                row = (tally.no_answer, tally.hangs, tally.not_json, tally.server_errors, tracebacks, tally.echoes)
                print(
                    f"{name:<34} {tally.requests:>8}  {statuses[:34]:<34} {row[0]:>9} {row[1]:>5} {row[2]:>8} {row[3]:>4} "
                    f"{row[4]:>10} {row[5]:>6}  {rss_before / MB:.1f} -> {server.rss() / MB:.1f} MB",
                    flush=True,
                )
                for example in tally.examples:
                    print(f"    e.g. {example[:160]}")
                totals = [a + b for a, b in zip(totals, (tally.requests, *row), strict=True)]
            print(
                f"{'total':<34} {totals[0]:>8}  {'':<34} {totals[1]:>9} {totals[2]:>5} {totals[3]:>8} {totals[4]:>4} "
                f"{totals[5]:>10} {totals[6]:>6}  ({time.monotonic() - began:.0f} s; load average now "
                f"{os.getloadavg()[0]:.1f})"
            )
            if server.terminate() != 0:
                print("the server did not stop cleanly")
                return 1
        finally:
            if server.proc.poll() is None:
                server.kill()
    return 0 if sum(totals[1:]) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
