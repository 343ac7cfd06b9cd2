"""Benchmark the reference server on this machine (a script, not a test).

    /work/venv/bin/python bench/bench_server.py [--seconds 3] [--repeat 3] [--big 100000]
        [--extra-path DIR]   # e.g. a `pip install --target DIR httptools uvloop`, seen only
                             # by the server process; uvicorn then uses them by itself

The server runs as a subprocess (`python -m reference_impl`) on a SQLite file, so the load
generator does not share its GIL; the load is raw asyncio keep-alive sockets. Printed: retrieve
and redeem throughput with 1 and 16 clients and their p50/p99 latency, redeem latency with 1k
and with `--big` stored tokens, and the p99 time from a triggering call to the webhook's arrival.
Every figure is the median over `--repeat` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._load import Receiver, Result, run_load
from reference_impl.context import Call
from reference_impl.runtime import Runtime
from reference_impl.tokens import issue

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def server(db: Path, extra_path: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    target = db.with_suffix(".target.yaml")
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_impl", "--db", str(db), "--port", "0", "--target-out", str(target)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    url = next(line.split()[-1] for line in proc.stdout if line.startswith("listening on "))
    try:
        yield url, yaml.safe_load(target.read_text(encoding="utf-8"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def populate(db: Path, count: int) -> list[str]:
    """`count` tokens written straight through the service in big transactions (HTTP would take
    minutes); each can absorb a billion 1-cent payments."""
    runtime = Runtime(str(db))
    agent = next(a for a in runtime.service.accounts.all if a.name == "agent")
    seller = next(a for a in runtime.service.accounts.all if a.name == "seller")
    params = {
        "payment_method": "pm_card_visa",
        "seller_details": {"network_business_profile": seller.profile},
        "usage_limits": {"currency": "usd", "max_amount": 10**10},
    }
    ids: list[str] = []
    for start in range(0, count, 5000):
        with runtime.store.write() as tx:
            for _ in range(min(5000, count - start)):
                outcome = issue(runtime.service.env, tx, Call(agent, None, params, "req_bench"))
                ids.append(json.loads(outcome.body)["id"])
    runtime.close()
    return ids


def _request(method: str, path: str, key: str, form: dict[str, str] | None = None, idem: str | None = None) -> bytes:
    body = urllib.parse.urlencode(form).encode() if form else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
    if idem:
        head += f"Idempotency-Key: {idem}\r\n"
    if form is not None:
        head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def retrieve_requests(key: str, tokens: list[str]) -> Callable[[int], bytes]:
    rng = random.Random(1)
    return lambda n: _request("GET", f"/v1/shared_payment/granted_tokens/{rng.choice(tokens)}", key)


def redeem_requests(key: str, tokens: list[str]) -> Callable[[int], bytes]:
    rng = random.Random(2)

    def make(n: int) -> bytes:
        form = {
            "amount": "1",
            "currency": "usd",
            "confirm": "true",
            "payment_method_data[shared_payment_granted_token]": rng.choice(tokens),
        }
        # A fresh key per request (as the SDKs send); n restarts with every run.
        return _request("POST", "/v1/payment_intents", key, form, idem=f"bench-{time.time_ns()}-{n}")

    return make


def measure(url: str, make: Callable[[int], bytes], clients: int, seconds: float, repeat: int) -> list[Result]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    results = []
    for _ in range(repeat):
        result = run_load(parts.hostname, parts.port, make, clients, seconds)
        assert set(result.statuses) == {200}, result.statuses
        results.append(result)
    return results


def row(label: str, results: list[Result]) -> str:
    rate = statistics.median(r.rate for r in results)
    p50 = statistics.median(r.pct(0.50) for r in results)
    p99 = statistics.median(r.pct(0.99) for r in results)
    return f"{label:<44} {rate:>9.0f} req/s   p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms"


async def webhook_p99(url: str, target: dict[str, Any], triggers: int) -> list[float]:
    receiver = Receiver()
    await receiver.start()
    key = target["agent"]["secret_key"]
    delays: list[float] = []
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), timeout=10) as client:
        await client.post(
            "/v1/webhook_endpoints",
            data={
                "url": f"http://127.0.0.1:{receiver.port}/hook",
                "enabled_events[]": "shared_payment.issued_token.deactivated",
            },
        )
        form = {
            "payment_method": "pm_card_visa",
            "seller_details[network_business_profile]": target["seller"]["network_business_profile"],
            "usage_limits[currency]": "usd",
            "usage_limits[max_amount]": "100",
        }
        for _ in range(triggers):
            token = (await client.post("/v1/shared_payment/issued_tokens", data=form)).json()["id"]
            seen = len(receiver.arrivals)
            sent = time.perf_counter()
            await client.post(f"/v1/shared_payment/issued_tokens/{token}/revoke")
            while len(receiver.arrivals) == seen:
                await asyncio.sleep(0.0005)
            delays.append(receiver.arrivals[-1][0] - sent)
    await receiver.close()
    return delays


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--extra-path", help="prepended to the server's PYTHONPATH (httptools/uvloop)")
    args = parser.parse_args(argv)
    print(
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; medians of {args.repeat} runs of {args.seconds:g} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        small_db, big_db = Path(tmp) / "small.db", Path(tmp) / "big.db"
        small = populate(small_db, 1000)
        began = time.perf_counter()
        big = populate(big_db, args.big)
        print(f"(populated {args.big} tokens in {time.perf_counter() - began:.1f} s)")
        with server(small_db, args.extra_path) as (url, target):
            seller = target["seller"]["secret_key"]
            for clients in (1, 16):
                print(
                    row(
                        f"retrieve granted token, {clients} client(s)",
                        measure(url, retrieve_requests(seller, small), clients, args.seconds, args.repeat),
                    )
                )
            for clients in (1, 16):
                print(
                    row(
                        f"redeem (PI confirm), {clients} client(s), 1k tokens",
                        measure(url, redeem_requests(seller, small), clients, args.seconds, args.repeat),
                    )
                )
            delays = sorted(d for _ in range(args.repeat) for d in asyncio.run(webhook_p99(url, target, 100)))
            p50, p99 = delays[len(delays) // 2] * 1000, delays[int(len(delays) * 0.99)] * 1000
            print(
                f"{'webhook delivered after the triggering call':<44} {len(delays):>9} sent    p50 {p50:>7.2f} ms   p99 {p99:>7.2f} ms"
            )
        with server(big_db, args.extra_path) as (url, target):
            seller = target["seller"]["secret_key"]
            for clients in (1, 16):
                label = f"redeem, {clients} client(s), {args.big // 1000}k tokens"
                print(row(label, measure(url, redeem_requests(seller, big), clients, args.seconds, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
