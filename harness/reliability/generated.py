"""A generated hostile corpus: seeded random requests of a dozen classes against every endpoint,
sent as raw bytes, each answer judged.

Every class breaks one thing in a request that is otherwise well-formed for a random operation
(its path, a plausible form, the agent's key). Whatever the request, the server must answer with
a status and a JSON Stripe error (or a success), within the timeout, without a card number or a
secret key in the answer; a connection it closes without answering counts as `no answer`,
except for the class that sends nothing at all. `run` sends a class's requests `concurrency` at
a time, each on its own connection, and returns a `Tally`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reference_impl.cards import contains_card_number
from reference_impl.operations import OPERATIONS, Operation

__all__ = ["CLASSES", "SLOW_CLASSES", "Tally", "Target", "run"]

CARDS = ("4242424242424242", "4000 0566 5566 5556", "3782-822463-10005", "5555555555554444", "6011111111111117")


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    key: str  # the agent's secret key
    secrets: tuple[str, ...]  # every value that must never come back (keys of all accounts)


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0  # closed or reset before a whole answer was read
    hangs: int = 0  # no answer within the timeout
    not_json: int = 0  # an answer that is not a JSON object (a Stripe error, or a success)
    server_errors: int = 0  # 5xx
    echoes: int = 0  # a card number or a secret in the answer
    examples: list[str] = field(default_factory=list)

    @property
    def anomalies(self) -> int:
        return self.no_answer + self.hangs + self.not_json + self.server_errors + self.echoes

    def note(self, what: str) -> None:
        if len(self.examples) < 3:
            self.examples.append(what)


Make = Callable[[random.Random, Target], bytes]


def _path(rng: random.Random, op: Operation) -> bytes:
    prefix = {"{id}": "evt_", "{intent}": "pi_", "{payment_method}": "pm_", "{webhook_endpoint}": "we_"}
    path = re.sub(r"\{(\w+)\}", lambda m: prefix.get(m.group(), "spt_") + f"{rng.getrandbits(64):016x}", op.path)
    return path.encode()


def _request(
    rng: random.Random,
    target: Target,
    *,
    form: bytes = b"amount=100&currency=usd",
    headers: Iterable[bytes] = (),
    auth: bytes | None = None,
    content_type: bytes = b"application/x-www-form-urlencoded",
    length: bytes | None = None,
    path: bytes | None = None,
    method: bytes | None = None,
) -> bytes:
    op = rng.choice(OPERATIONS)
    target_path = path if path is not None else _path(rng, op)
    verb = method or op.method.encode()
    if verb != b"POST":
        target_path, body = target_path + b"?" + form, b""
    else:
        body = form
    lines = [verb + b" " + target_path + b" HTTP/1.1", b"Host: hostile", b"Connection: close"]
    lines.append(b"Authorization: " + (auth if auth is not None else b"Bearer " + target.key.encode()))
    if verb == b"POST":
        lines += [b"Content-Type: " + content_type, b"Content-Length: " + (length or str(len(body)).encode())]
    lines += list(headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _junk(rng: random.Random, size: int, alphabet: bytes = bytes(range(256))) -> bytes:
    return bytes(rng.choice(alphabet) for _ in range(size))


def broken_form(rng: random.Random, t: Target) -> bytes:
    pieces = [
        b"a[",
        b"a]",
        b"[a]=1",
        b"a[b=1",
        b"a[]b]=1",
        b"=1",
        b"&&",
        b"%",
        b"%zz",
        b"a[b][]=1&a[b][c]=2",
        b"a=1&a=2",
    ]
    return _request(rng, t, form=b"&".join(rng.choices(pieces, k=rng.randint(1, 6))))


def deep_nesting(rng: random.Random, t: Target) -> bytes:
    return _request(rng, t, form=b"metadata" + b"[a]" * rng.randint(9, 3000) + b"=1")


def huge(rng: random.Random, t: Target) -> bytes:
    size = int(2 ** rng.uniform(10, 20.1))  # 1 KiB to just over 1 MiB
    form = rng.choice([b"metadata[k]=" + b"v" * size, b"n" * size + b"=1", b"&".join([b"k=v"] * (size // 4))])
    return _request(rng, t, form=form)


def invalid_bytes(rng: random.Random, t: Target) -> bytes:
    bad = rng.choice([b"\xff\xfe", b"%ff%fe", b"\x00", b"%00", b"\xc3\x28", b"%c3%28", b"\xed\xa0\x80"])
    where = rng.randrange(3)
    if where == 0:
        return _request(rng, t, form=b"metadata[k]=" + bad)
    if where == 1:
        return _request(rng, t, path=b"/v1/events/evt_" + bad, method=b"GET", form=b"")
    return _request(rng, t, form=b"limit=" + bad, method=b"GET", path=b"/v1/events")


def wrong_content_type(rng: random.Random, t: Target) -> bytes:
    kind = rng.choice([b"application/json", b"multipart/form-data; boundary=x", b"text/plain", b"", b"\xff/\xfe"])
    body = rng.choice([b'{"amount": 100}', b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--", b"a=1"])
    return _request(rng, t, form=body, content_type=kind, method=b"POST", path=b"/v1/payment_intents")


def bad_auth(rng: random.Random, t: Target) -> bytes:
    auth = rng.choice(
        [b"", b"Bearer", b"Basic", b"Basic !!", b"Basic \xff\xfe", b"Digest u=1", t.key.encode(),
         b"Bearer " + t.key.encode() + b"x", b"Bearer sk_live_" + _junk(rng, 24, b"abc123"),
         b"Bearer " + _junk(rng, rng.randint(1, 300), bytes(range(0x21, 0x7F)))]
    )  # fmt: skip
    return _request(rng, t, auth=auth)


def bad_idempotency_key(rng: random.Random, t: Target) -> bytes:
    key = rng.choice(
        [b"", b" ", rng.choice(CARDS).encode(), b"k" * rng.randint(256, 20_000), b"a\xffb", b"key " + b"x" * 250,
         b"order " + rng.choice(CARDS).encode() + b" retry"]
    )  # fmt: skip
    return _request(rng, t, headers=[b"Idempotency-Key: " + key], method=b"POST", path=b"/v1/refunds")


def bad_stripe_version(rng: random.Random, t: Target) -> bytes:
    cut = b"2026-10-14.preview" + b"v" * 181  # 199 characters: a cut at 200 lands on the space
    version = rng.choice(
        [cut + b" tail", rng.choice(CARDS).encode(), b"latest", b"2026-10-14.preview " * rng.randint(2, 500),
         _junk(rng, rng.randint(1, 400), bytes(range(0x21, 0x7F))), b"2026-10-14.preview; beta=v1 "]
    )  # fmt: skip
    return _request(rng, t, headers=[b"Stripe-Version: " + version])


def header_injection(rng: random.Random, t: Target) -> bytes:
    value = rng.choice([b"a\rb", b"a\nSet-Cookie: x=1", b"a\x00b", b"a\r\n\r\nGET / HTTP/1.1", b"\x7f", b"a\x0bb"])
    line = rng.choice([b"X-Note: ", b"Idempotency-Key: ", b"Stripe-Version: ", b"X-Bad Header: ", b" "]) + value
    return _request(rng, t, headers=[line])


def bogus_length(rng: random.Random, t: Target) -> bytes:
    length = rng.choice([b"-1", b"ten", b"1e3", b"99999999999999999999", b"\xef\xbc\x91", b"0x10", b"3, 4", b" "])
    return _request(rng, t, length=length, method=b"POST", path=b"/v1/payment_intents")


def card_numbers(rng: random.Random, t: Target) -> bytes:
    card = rng.choice(CARDS).replace(" ", "+").encode()
    form = rng.choice([card + b"=1", b"metadata[" + card + b"]=x", b"metadata[note]=pay+" + card, b"amount=" + card])
    return _request(rng, t, form=form)


def mutated(rng: random.Random, t: Target) -> bytes:
    raw = bytearray(_request(rng, t))
    for _ in range(rng.randint(1, 8)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def partial_head(rng: random.Random, t: Target) -> bytes:
    raw = _request(rng, t)
    return raw[: rng.randrange(1, raw.index(b"\r\n\r\n") + 2)]


def short_body(rng: random.Random, t: Target) -> bytes:
    return _request(rng, t, form=b"amount=1", length=str(rng.randint(20, 10_000)).encode(), method=b"POST")


def silent(rng: random.Random, t: Target) -> bytes:
    return b""


CLASSES: dict[str, tuple[Make, int]] = {  # name -> (generator, share of the corpus per 100,000)
    "broken form": (broken_form, 10_000),
    "deep nesting": (deep_nesting, 8_000),
    "huge names and values": (huge, 2_000),
    "invalid UTF-8 and NUL": (invalid_bytes, 10_000),
    "wrong content type": (wrong_content_type, 8_000),
    "bad Authorization": (bad_auth, 10_000),
    "bad Idempotency-Key": (bad_idempotency_key, 10_000),
    "bad Stripe-Version": (bad_stripe_version, 10_000),
    "header injection": (header_injection, 8_000),
    "bogus Content-Length": (bogus_length, 8_000),
    "card numbers in names and values": (card_numbers, 8_000),
    "random byte flips": (mutated, 8_000),
}
SLOW_CLASSES: dict[str, tuple[Make, int]] = {  # answered only after the server's timeouts
    "slowloris: partial head": (partial_head, 300),
    "slowloris: short body": (short_body, 300),
    "silent connection": (silent, 100),
}


def split_answers(raw: bytes) -> list[bytes]:
    """The answers in what a connection returned: a request followed by bytes that make another
    (a flipped byte can end a body early) is answered twice, each answer framed by its length."""
    answers = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        if not sep or length is None or int(length.group(1)) >= len(rest):
            answers.append(raw)
            break
        size = int(length.group(1))
        answers.append(head + sep + rest[:size])
        raw = rest[size:]
    return answers


def _judge(tally: Tally, target: Target, raw: bytes, expect_silence: bool) -> None:
    if not raw:
        if not expect_silence:
            tally.no_answer += 1
        return
    for answer in split_answers(raw):
        _judge_one(tally, target, answer)


def _judge_one(tally: Tally, target: Target, raw: bytes) -> None:
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head[9:12])
    except ValueError:
        tally.not_json += 1
        tally.note(repr(raw[:120]))
        return
    tally.statuses[status] += 1
    if status >= 500:
        tally.server_errors += 1
        tally.note(repr(raw[:200]))
    try:
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError
    except ValueError:
        tally.not_json += 1
        tally.note(repr(raw[:200]))
    text = raw.decode("latin-1")
    if contains_card_number(text) or any(secret in text for secret in target.secrets):
        tally.echoes += 1
        tally.note("echo: " + text[:200])


async def _one(target: Target, request: bytes, timeout: float, tally: Tally, expect_silence: bool) -> None:
    tally.requests += 1
    try:
        reader, writer = await asyncio.open_connection(target.host, target.port)
    except OSError as exc:
        tally.no_answer += 1
        tally.note(f"connect: {exc}")
        return
    try:
        try:
            writer.write(request)
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server answered early and stopped reading: its answer may still be there
        try:
            raw = await asyncio.wait_for(reader.read(-1), timeout)
        except TimeoutError:
            tally.hangs += 1
            tally.note(f"hang: {request[:80]!r}")
            return
        except (ConnectionError, OSError):
            raw = b""
        _judge(tally, target, raw, expect_silence)
        if not raw and not expect_silence:
            tally.note(f"no answer: {request[:80]!r}")
    finally:
        writer.close()


async def _run(target: Target, requests: list[bytes], concurrency: int, timeout: float, silent: bool) -> Tally:
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)

    async def bounded(request: bytes) -> None:
        async with gate:
            await _one(target, request, timeout, tally, silent)

    await asyncio.gather(*(bounded(r) for r in requests))
    return tally


def run(target: Target, make: Make, count: int, *, seed: int, concurrency: int = 16, timeout: float = 15.0) -> Tally:
    """Send `count` requests made by `make`, `concurrency` at a time; the tally of their answers."""
    rng = random.Random(seed)
    requests = [make(rng, target) for _ in range(count)]
    return asyncio.run(_run(target, requests, concurrency, timeout, make is silent))
