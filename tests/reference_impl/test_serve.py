"""The server as a process: `python -m reference_impl`, its target file, and crash durability."""

from __future__ import annotations

import argparse
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reference_impl import serve
from tests.reference_impl.conftest import Receiver

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--webhook-backoff", "0.05", "--webhook-backoff-cap", "0.2", "--sweep-interval", "0.1"]


class Process:
    def __init__(self, db: Path, target: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reference_impl",
                "--db",
                str(db),
                "--port",
                "0",
                "--target-out",
                str(target),
                *FAST,
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                break
        else:
            raise AssertionError(
                f"server did not start: {self.lines} {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        self.target: dict[str, Any] = yaml.safe_load(target.read_text(encoding="utf-8"))

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.target[role]["secret_key"], ""), timeout=10)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate(timeout=10)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate(timeout=10)
        return self.proc.returncode


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.kill()


def test_serve_prints_accounts_and_writes_private_target_file(tmp_path: Path, processes: list[Process]) -> None:
    process = Process(tmp_path / "db.sqlite", tmp_path / "target.yaml")
    processes.append(process)
    target = process.target
    assert stat.S_IMODE(os.stat(tmp_path / "target.yaml").st_mode) == 0o600
    assert target["base_url"] == process.url
    assert target["agent"]["payment_method"] == "pm_card_visa"
    assert target["agent"]["declined_payment_method"] == "pm_card_chargeDeclined"
    assert target["seller"]["network_business_profile"].startswith("profile_test_")
    assert target["other_seller"]["secret_key"].startswith("sk_test_")
    assert all(target["capabilities"].values())
    printed = "".join(process.lines)
    for role in ("agent", "seller", "other_seller"):
        assert target[role]["secret_key"] in printed
    with process.client("agent") as client:
        assert client.get("/v1/events").status_code == 200
    assert process.terminate() == 0


def test_serve_keys_are_random_per_database_and_kept_across_restarts(tmp_path: Path, processes: list[Process]) -> None:
    first = Process(tmp_path / "a.sqlite", tmp_path / "t1.yaml")
    processes.append(first)
    first.terminate()
    again = Process(tmp_path / "a.sqlite", tmp_path / "t2.yaml")
    processes.append(again)
    other = Process(tmp_path / "b.sqlite", tmp_path / "t3.yaml")
    processes.append(other)
    assert again.target["agent"]["secret_key"] == first.target["agent"]["secret_key"]
    assert other.target["agent"]["secret_key"] != first.target["agent"]["secret_key"]


def test_serve_accounts_file_is_used_and_validated(tmp_path: Path, processes: list[Process]) -> None:
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        "accounts:\n"
        "  - {name: agent, role: agent, secret_key: sk_test_agentkey1234}\n"
        "  - {name: shop, role: seller, network_business_profile: profile_test_shop12345}\n",
        encoding="utf-8",
    )
    process = Process(tmp_path / "db.sqlite", tmp_path / "t.yaml", "--accounts", str(accounts))
    processes.append(process)
    assert process.target["agent"]["secret_key"] == "sk_test_agentkey1234"
    assert process.target["seller"]["network_business_profile"] == "profile_test_shop12345"
    assert "other_seller" not in process.target
    accounts.write_text("accounts:\n  - {name: agent, role: boss}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "reference_impl", "--db", ":memory:", "--accounts", str(accounts)],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "role must be agent or seller" in result.stderr


def test_serve_cli_has_no_way_to_name_a_fault() -> None:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert not [a for a in parser._actions if "fault" in " ".join(a.option_strings)]


def test_serve_sigkill_mid_load_loses_nothing_acknowledged(
    tmp_path: Path, processes: list[Process], receiver: Receiver
) -> None:
    """Kill -9 under load, restart on the same file: every payment and token acknowledged with a
    200 is there, nothing was captured twice, and pending webhooks are delivered afterwards."""
    db, target = tmp_path / "crash.sqlite", tmp_path / "target.yaml"
    first = Process(db, target)
    processes.append(first)
    receiver.status = lambda n: 503  # keep deliveries pending until after the restart
    with first.client("agent") as agent:
        agent.post(
            "/v1/webhook_endpoints", data={"url": receiver.url, "enabled_events[]": "shared_payment.issued_token.used"}
        )
        issued = agent.post(
            "/v1/shared_payment/issued_tokens",
            data={
                "payment_method": "pm_card_visa",
                "seller_details[network_business_profile]": first.target["seller"]["network_business_profile"],
                "usage_limits[currency]": "usd",
                "usage_limits[max_amount]": "100000",
            },
        ).json()
    acknowledged: list[str] = []
    issued_ok: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def pay(worker: int) -> None:
        with first.client("seller") as seller, first.client("agent") as agent:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = seller.post(
                        "/v1/payment_intents",
                        data={"amount": "1", "currency": "usd", "confirm": "true",
                              "payment_method_data[shared_payment_granted_token]": issued["id"]},
                        headers={"Idempotency-Key": f"w{worker}-{n}"},
                    )  # fmt: skip
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(response.json()["id"])
                    if n % 5 == 0:
                        made = agent.post(
                            "/v1/shared_payment/issued_tokens",
                            data={"payment_method": "pm_card_visa", "usage_limits[currency]": "usd",
                                  "usage_limits[max_amount]": "5",
                                  "seller_details[network_business_profile]": first.target["seller"]["network_business_profile"]},
                        )  # fmt: skip
                        if made.status_code == 200:
                            with lock:
                                issued_ok.append(made.json()["id"])
                except httpx.HTTPError:
                    return

    workers = [threading.Thread(target=pay, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)
    first.kill()
    stop.set()
    for worker in workers:
        worker.join()
    assert len(acknowledged) > 20

    receiver.status = lambda n: 200
    second = Process(db, target)
    processes.append(second)
    with second.client("seller") as seller, second.client("agent") as agent:
        for pi in acknowledged:
            assert seller.get(f"/v1/payment_intents/{pi}").json()["status"] == "succeeded"
        for token in issued_ok:
            assert agent.get(f"/v1/shared_payment/issued_tokens/{token}").status_code == 200
        captured = agent.get(f"/v1/shared_payment/issued_tokens/{issued['id']}").json()["usage_details"][
            "amount_captured"
        ]["value"]
        used_events: set[str] = set()
        params: dict[str, str] = {"type": "shared_payment.issued_token.used", "limit": "100"}
        while True:
            page = agent.get("/v1/events", params=params).json()
            used_events.update(e["id"] for e in page["data"] if e["data"]["object"]["id"] == issued["id"])
            if not page["has_more"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
    assert len(acknowledged) <= captured == len(used_events)  # one capture per success, none twice
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivered = {e["id"] for e in receiver.events()} & used_events
        if delivered == used_events:
            break
        time.sleep(0.1)
    assert {e["id"] for e in receiver.events()} >= used_events
    assert second.terminate() == 0
