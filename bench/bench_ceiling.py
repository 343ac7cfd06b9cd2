"""The reference server's speed beside this machine's ceiling, in one run, with wrk.

    python bench/bench_ceiling.py [--seconds 3] [--rounds 5] [--connections 16] [--sizes 1000,1000000]

Starts, one after the other on this machine, the ceiling app (bench/_ceiling_app.py: Starlette +
uvicorn, httptools/uvloop when installed, one process, an indexed SQLite read and a SQLite write
transaction) and the reference server (`python -m reference_impl`, same stack and layout) on
databases holding each of `--sizes` tokens, and loads each with `wrk -t2 -c<connections>`
(Debian package `wrk`). Both run at once, idle but for the one under load, and are loaded in interleaved slices, so a
shared machine's other work weighs on both alike. Printed (medians over the slices):
requests/s, p50 and p99 for the read ceiling, retrieve
(GET a granted token), the write ceiling and redeem (POST /v1/payment_intents confirming a
payment with a granted token, with a fresh Idempotency-Key), and the ratios to the ceiling
(median of the per-slice ratios).
Every request must answer 2xx. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_impl.context import Call
from reference_impl.runtime import Runtime
from reference_impl.tokens import issue

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = 50_000  # ids handed to wrk per run: a random sample of the stored ones

_LUA = """
local ids = {}
local n = 0
init = function(args)
  for line in io.lines(args[1]) do n = n + 1; ids[n] = line end
  math.randomseed(os.time() + tonumber(args[2] or "0"))
end
local counter = 0
request = function()
  counter = counter + 1
  local id = ids[math.random(n)]
  %s
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "bad_status": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""

_REQUESTS = {
    "read ceiling": 'return wrk.format("GET", "/read/" .. id)',
    "write ceiling": 'return wrk.format("POST", "/write", {["Content-Type"]="application/x-www-form-urlencoded"}, "amount=1&item=" .. id)',
    "retrieve": 'return wrk.format("GET", "/v1/shared_payment/granted_tokens/" .. id, {["Authorization"]="Bearer KEY"})',
    "redeem": (
        'return wrk.format("POST", "/v1/payment_intents", {["Authorization"]="Bearer KEY", '
        '["Content-Type"]="application/x-www-form-urlencoded", ["Idempotency-Key"]="b-" .. RUN .. "-" .. '
        'tostring(math.random(1000000000)) .. "-" .. counter}, '
        '"amount=1&currency=usd&confirm=true&payment_method_data[shared_payment_granted_token]=" .. id)'
    ),
}


@dataclass(frozen=True)
class Figure:
    rate: float
    p50_ms: float
    p99_ms: float
    bad: int


def _wait_listening(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return line
    raise SystemExit(f"server did not start (exit {proc.wait()})")


@contextmanager
def ceiling(db: Path) -> Iterator[str]:
    env = {**os.environ, "CEILING_DB": str(db), "PYTHONPATH": str(ROOT)}
    port = _free_port()
    with db.with_suffix(".log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench._ceiling_app:app", "--port", str(port), "--no-access-log",
             "--log-level", "warning", "--loop", "auto", "--http", "auto"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def reference(db: Path) -> Iterator[tuple[str, dict[str, object]]]:
    target = db.with_suffix(".target.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_impl", "--db", str(db), "--port", "0", "--target-out", str(target)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = _wait_listening(proc, "listening on ").split()[-1]
        yield url, yaml.safe_load(target.read_text(encoding="utf-8"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def populate(db: Path, count: int) -> list[str]:
    """`count` tokens granted to the seller, each able to absorb a billion 1-cent payments: one
    issued through the service, the rest copies of its row under new ids (HTTP would take hours)."""
    runtime = Runtime(str(db))
    agent = next(a for a in runtime.service.accounts.all if a.name == "agent")
    seller = next(a for a in runtime.service.accounts.all if a.name == "seller")
    params = {
        "payment_method": "pm_card_visa",
        "seller_details": {"network_business_profile": seller.profile},
        "usage_limits": {"currency": "usd", "max_amount": 10**10},
    }
    with runtime.store.write() as tx:
        first = json.loads(issue(runtime.service.env, tx, Call(agent, None, params, "req_bench")).body)["id"]
    ids = [first] + [f"spt_bench{n:015d}" for n in range(1, count)]
    conn = runtime.store._conn
    columns = [r[1] for r in conn.execute("PRAGMA table_info(tokens)")]
    template = conn.execute("SELECT * FROM tokens WHERE id = ?", (first,)).fetchone()
    select = ", ".join("?" if c == "id" else c for c in columns)
    with runtime.store.write():
        conn.executemany(
            f"INSERT INTO tokens ({', '.join(columns)}) SELECT {select} FROM tokens WHERE id = '{first}'",  # noqa: S608
            ((token,) for token in ids[1:]),
        )
    assert template is not None
    runtime.close()
    return ids


def populate_ceiling(db: Path, ids: list[str]) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, body TEXT NOT NULL)")
    body = json.dumps({"object": "item", "currency": "usd", "max_amount": 10**10, "metadata": {}})
    conn.executemany("INSERT INTO items VALUES (?, 0, ?)", ((i, body) for i in ids))
    conn.commit()
    conn.close()


def wrk(url: str, kind: str, ids_file: Path, key: str, seconds: float, connections: int, tmp: Path) -> Figure:
    script = tmp / f"{kind.replace(' ', '_')}.lua"
    request = _REQUESTS[kind].replace("KEY", key).replace("RUN", f'"{time.time_ns()}"')
    script.write_text(_LUA % request, encoding="utf-8")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url, "--", str(ids_file)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = json.loads(next(line for line in out.splitlines() if line.startswith("WRK "))[4:])
    return Figure(
        found["requests"] / (found["duration_us"] / 1e6),
        found["p50_us"] / 1000,
        found["p99_us"] / 1000,
        found["bad_status"] + found["socket_errors"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per slice")
    parser.add_argument("--rounds", type=int, default=5, help="slices of each kind, interleaved; medians are printed")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sizes", default="1000,1000000")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    stack = [m for m in ("httptools", "uvloop") if _importable(m)]
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; Python {sys.version.split()[0]}; "
        f"{' + '.join(stack) or 'h11 + asyncio'}; wrk -t2 -c{args.connections}; medians of {args.rounds} interleaved "
        f"slices of {args.seconds:g} s"
    )
    print(f"{'':<40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}  ratio")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            began = time.perf_counter()
            ids = populate(tmp / "ref.db", size)
            populate_ceiling(tmp / "ceiling.db", ids)
            ids_file = tmp / "ids.txt"
            ids_file.write_text("\n".join(random.Random(size).sample(ids, min(SAMPLE, len(ids)))) + "\n")
            print(f"{size:,} stored tokens (populated in {time.perf_counter() - began:.0f} s)")
            figures: dict[str, list[Figure]] = {kind: [] for kind in _REQUESTS}
            with ceiling(tmp / "ceiling.db") as top, reference(tmp / "ref.db") as (url, target):
                key = str(target["seller"]["secret_key"])  # type: ignore[index]
                # Interleaved slices, so that the load other work puts on a shared machine falls
                # on the ceiling and the server alike; ratios are taken slice by slice.
                for _ in range(args.rounds):
                    for kind in _REQUESTS:
                        where = top if "ceiling" in kind else url
                        figures[kind].append(wrk(where, kind, ids_file, key, args.seconds, args.connections, tmp))
            for label, kind, base in (
                ("  read ceiling (indexed SQLite read)", "read ceiling", None),
                ("  retrieve granted token", "retrieve", "read ceiling"),
                ("  write ceiling (SQLite write transaction)", "write ceiling", None),
                ("  redeem (PaymentIntent confirm)", "redeem", "write ceiling"),
            ):
                runs = figures[kind]
                ratio = (
                    statistics.median(r.rate / b.rate for r, b in zip(runs, figures[base], strict=True))
                    if base
                    else None
                )
                shown = f"{ratio:.0%}" if ratio is not None else ""
                print(
                    f"{label:<40} {statistics.median(r.rate for r in runs):>8.0f} "
                    f"{statistics.median(r.p50_ms for r in runs):>8.2f} {statistics.median(r.p99_ms for r in runs):>8.2f} "
                    f"{sum(r.bad for r in runs):>8}  {shown}"
                )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
