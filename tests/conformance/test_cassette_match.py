"""Matching a replayed request to a recorded one: exact where repeatable, by shape where not.

Also the file format (exact bytes back from readable bodies) and concurrent replay of one
cassette from many threads.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from vcr.request import Request

from conformance.cassettes.format import YamlSerializer, cassette_name, elided_value, pack_body, unpack_body
from conformance.cassettes.match import Bindings, Canonical, canonical, choose
from conformance.cassettes.play import ReplayCassette, ReplayMiss
from conformance.cassettes.scrub import Scrubber

BASE = "http://127.0.0.1:5000"
AGENT = "sk_test_SCRUBBED0123456789"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Bearer {AGENT}"}


def form(
    method: str, path: str, body: str = "", *, clock_volatile: bool = False, headers: dict[str, str] | None = None
) -> Canonical:
    return canonical(
        method,
        BASE + path,
        {**FORM, **(headers or {})},
        body.encode(),
        scrubber=Scrubber(),
        accounts=frozenset({AGENT}),
        clock_volatile=clock_volatile,
    )


def pick(mine: Canonical, recorded: list[Canonical], bindings: Bindings, played: set[int] | None = None) -> int | None:
    played = played or set()
    same = [(i, r) for i, r in enumerate(recorded) if r.skeleton == mine.skeleton]
    index = choose(
        mine,
        [(i, r) for i, r in same if i not in played],
        [(i, r) for i, r in same if i in played],
        known=set(),
        first_seen={},
        bindings=bindings,
    )
    if index is not None:
        for a, b in zip(mine.slots, recorded[index].slots, strict=True):
            bindings.bind(a, b)
    return index


def test_canonical_idempotency_keys_match_by_shape_and_stay_bound() -> None:
    recorded = [
        form("POST", "/v1/payment_intents", "amount=100", headers={"Idempotency-Key": "k-first"}),
        form("POST", "/v1/payment_intents", "amount=100", headers={"Idempotency-Key": "k-second"}),
    ]
    bindings = Bindings()
    assert (
        pick(
            form("POST", "/v1/payment_intents", "amount=100", headers={"Idempotency-Key": "mine-a"}), recorded, bindings
        )
        == 0
    )
    # A retry of the same key is the retry of the recorded key, never another request.
    retry = form("POST", "/v1/payment_intents", "amount=100", headers={"Idempotency-Key": "mine-a"})
    assert pick(retry, recorded, bindings, played={0}) is None
    assert (
        pick(
            form("POST", "/v1/payment_intents", "amount=100", headers={"Idempotency-Key": "mine-b"}), recorded, bindings
        )
        == 1
    )


def test_canonical_amounts_and_server_ids_compare_exactly() -> None:
    recorded = [form("POST", "/v1/payment_intents", "amount=100&currency=usd")]
    assert pick(form("POST", "/v1/payment_intents", "amount=101&currency=usd"), recorded, Bindings()) is None
    assert form("GET", "/v1/events/evt_AAAAAAAAAAAA").skeleton == form("GET", "/v1/events/evt_BBBBBBBBBBBB").skeleton
    ids = [form("GET", "/v1/events/evt_AAAAAAAAAAAA")]
    known_to_both = choose(
        form("GET", "/v1/events/evt_BBBBBBBBBBBB"),
        [(0, ids[0])],
        [],
        known={"evt_BBBBBBBBBBBB"},
        first_seen={"evt_AAAAAAAAAAAA": -1},
        bindings=Bindings(),
    )
    assert known_to_both is None  # both came from responses: different objects


def test_canonical_made_up_ids_and_webhook_urls_match_by_shape() -> None:
    recorded = [form("POST", "/v1/webhook_endpoints", "url=http%3A%2F%2F127.0.0.1%3A4001%2Fhooks%2Fagent-0123456789ab")]
    mine = form("POST", "/v1/webhook_endpoints", "url=http%3A%2F%2F127.0.0.1%3A9%2Fhooks%2Fagent-ba9876543210")
    bindings = Bindings()
    assert pick(mine, recorded, bindings) == 0
    echoed = '{"url": "http://127.0.0.1:4001/hooks/agent-0123456789ab"}'
    assert bindings.substitute(echoed) == '{"url": "http://127.0.0.1:9/hooks/agent-ba9876543210"}'
    unknown = [form("GET", "/v1/shared_payment/issued_tokens/spt_made0up0by0test0one")]
    assert pick(form("GET", "/v1/shared_payment/issued_tokens/spt_another0made0up0id"), unknown, Bindings()) == 0


def test_canonical_local_clock_times_are_volatile_only_without_the_clock() -> None:
    with_clock = form("POST", "/v1/x", "usage_limits[expires_at]=1800000000")
    assert with_clock.skeleton != form("POST", "/v1/x", "usage_limits[expires_at]=1800000003").skeleton
    a = form("POST", "/v1/x", "usage_limits[expires_at]=1800000000", clock_volatile=True)
    b = form("POST", "/v1/x", "usage_limits[expires_at]=1800000003", clock_volatile=True)
    assert a.skeleton == b.skeleton


def test_canonical_unknown_keys_match_by_shape_account_keys_exactly() -> None:
    stranger = form("GET", "/v1/x", headers={"Authorization": "Bearer sk_test_SCRUBBEDaaaaaaaaaa"})
    other = form("GET", "/v1/x", headers={"Authorization": "Bearer sk_test_SCRUBBEDbbbbbbbbbb"})
    agent = form("GET", "/v1/x")
    assert stranger.skeleton == other.skeleton
    assert agent.skeleton != stranger.skeleton


def test_choose_get_polled_more_than_recorded_repeats_the_last_answer() -> None:
    recorded = [form("GET", "/v1/events"), form("GET", "/v1/events")]
    assert pick(form("GET", "/v1/events"), recorded, Bindings(), played={0, 1}) == 1
    posts = [form("POST", "/v1/refunds", "payment_intent=pi_1")]
    assert pick(form("POST", "/v1/refunds", "payment_intent=pi_1"), posts, Bindings(), played={0}) is None


@pytest.mark.parametrize(
    ("text", "structured"),
    [
        ('{"a":1,"b":[true,null,1.5],"c":"\\u00e9"}', True),
        ('{\n  "id": "spt_1",\n  "usage": {\n    "value": 10\n  }\n}', True),
        ('{"a":"é"}', True),
        ("not json", False),
        ('{"a":1, "b":2}', False),  # a spacing no JSON style reproduces: kept as a string
    ],
)
def test_format_body_round_trip_gives_back_the_exact_bytes(text: str, structured: bool) -> None:
    packed = pack_body(text.encode())
    written = YamlSerializer.deserialize(YamlSerializer.serialize({"body": packed}))
    assert unpack_body(written["body"]) == text.encode()
    assert ("json" in packed) is structured


def test_format_long_values_are_elided_and_compared_by_digest() -> None:
    long = "x" * 5000
    assert elided_value(long).startswith("~elided-5000-")
    recorded = canonical(
        "POST",
        BASE + "/v1/x",
        FORM,
        f"k={elided_value(long)}".encode(),
        scrubber=None,
        accounts=frozenset(),
        clock_volatile=False,
    )
    assert form("POST", "/v1/x", f"k={long}").slots[-1].value == recorded.slots[-1].value


def test_format_cassette_names_are_readable_and_unique() -> None:
    plain = cassette_name("conformance/suite/test_events.py::test_used_event")
    assert plain == "test_events/test_used_event.yaml"
    odd = cassette_name("conformance/suite/test_bad_input.py::test_x[nesting 200 deep]")
    assert odd.startswith("test_bad_input/test_x[nesting_200_deep]-")
    assert odd.endswith(".yaml")


def _cassette(path: Path, count: int) -> Path:
    interactions = []
    for n in range(count):
        succeeded = n < count // 2
        interactions.append(
            {
                "request": {
                    "method": "POST",
                    "uri": BASE + "/v1/payment_intents",
                    "body": "amount=100&payment_method_data[shared_payment_granted_token]=spt_0123456789ab",
                    "headers": {**{k: [v] for k, v in FORM.items()}, "Idempotency-Key": [f"key-{n}"]},
                },
                "response": {
                    "status": {"code": 200 if succeeded else 400, "message": "OK"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": pack_body(json.dumps({"n": n, "status": "succeeded" if succeeded else "refused"})),
                },
            }
        )
    path.write_text(YamlSerializer.serialize({"version": 1, "interactions": interactions}), encoding="utf-8")
    return path


def _open(path: Path) -> ReplayCassette:
    return ReplayCassette.open(
        path,
        "test_race",
        scrubber=Scrubber(),
        accounts=frozenset({AGENT}),
        clock_volatile=False,
        on_bind=lambda *a: None,
    )


def _request(key: str) -> Any:
    headers = {**FORM, "Idempotency-Key": key}
    body = b"amount=100&payment_method_data[shared_payment_granted_token]=spt_0123456789ab"
    return Request("POST", BASE + "/v1/payment_intents", body, headers)


def test_replay_cassette_twenty_threads_each_get_one_recorded_answer(tmp_path: Path) -> None:
    tape = _open(_cassette(tmp_path / "race.yaml", 20))
    start = threading.Barrier(20)
    answers: list[int] = []
    lock = threading.Lock()

    def pay(n: int) -> None:
        start.wait()
        response = tape.play(_request(f"mine-{n}"))
        with lock:
            answers.append(json.loads(response["body"]["string"])["n"])

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == list(range(20))
    with pytest.raises(ReplayMiss, match="holds no request like"):
        tape.play(_request("one-too-many"))
