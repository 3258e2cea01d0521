"""SIGKILL the audit service repeatedly under load: every acknowledged event is stored
exactly once (producers' outboxes retry, ingest is idempotent by event id)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from anxin_shared.keys import load_key, private_key_path
from anxin_shared.tokens import TokenSigner, service_issuer
from tests.support import RunningSuite

pytestmark = pytest.mark.e2e
KILLS = 3


class DirectProducer:
    """A producer that behaves like an outbox relay: batches retried until acknowledged."""

    def __init__(self, suite: RunningSuite) -> None:
        keys = suite.suite.var_dir / "keys"
        self.signer = TokenSigner(
            service_issuer("identity"), load_key(private_key_path(keys, "identity")), "identity"
        )
        self.url = suite.suite.url("audit") + "/internal/v1/events:batch"
        self.acknowledged: list[str] = []
        self.attempts = 0

    def deliver(self, client: httpx.Client, events: list[dict[str, Any]], until: float) -> None:
        while time.monotonic() < until:
            token = self.signer.mint(
                "service:identity", "anxin-audit", 60, kind="service", subsidiary="group"
            )
            self.attempts += 1
            try:
                response = client.post(
                    self.url, json={"events": events}, headers={"authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                self.acknowledged += [event["event_id"] for event in events]
                return
            time.sleep(0.1)
        raise AssertionError("a batch was never acknowledged")


def batch(size: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": uuid.uuid4().hex,
            "occurred_at": datetime.now(UTC).isoformat(),
            "producer": "e2e-producer",
            "actor": "service:identity",
            "actor_kind": "service",
            "action": "verify",
            "resource": "call.session",
            "allowed": True,
            "domain": "life",
        }
        for _ in range(size)
    ]


def events_of(
    suite: RunningSuite, token: str, client: httpx.Client, **filters: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        response = client.get(
            f"{suite.gateway}/api/v1/audit/events",
            params={**filters, "after_seq": after, "limit": 500},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += [item["event"] for item in page["items"]]
        if page["next_after_seq"] is None:
            return items
        after = page["next_after_seq"]


def test_sigkill_during_load_loses_and_duplicates_nothing(running_suite: RunningSuite) -> None:
    suite = running_suite
    producer = DirectProducer(suite)
    agent = suite.token("agent.wang")
    auditor = suite.token("auditor.zheng")
    stop = threading.Event()
    request_ids: list[str] = []
    failures: list[int] = []

    def gateway_load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                response = client.get(
                    f"{suite.gateway}/api/v1/policy/version",
                    headers={"authorization": f"Bearer {agent}"},
                )
                if response.status_code == 200:  # acknowledged: its event is in the outbox
                    request_ids.append(response.headers["x-request-id"])
                else:
                    failures.append(response.status_code)
                # Stay under the gateway's per-client rate limit (50/s after a burst of
                # 200): this test is about audit durability, not about 429s.
                time.sleep(0.025)

    def direct_load() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                producer.deliver(client, batch(20), time.monotonic() + 40)

    threads = [threading.Thread(target=gateway_load), threading.Thread(target=direct_load)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(KILLS):
            time.sleep(1.0)
            suite.suite.kill("audit")
            time.sleep(0.3)
            suite.suite.restart("audit")
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert producer.acknowledged and request_ids and not failures
    assert producer.attempts > len(producer.acknowledged) // 20  # some batches were retried

    with httpx.Client(timeout=30) as client:
        direct = Counter(
            event["event_id"]
            for event in events_of(suite, auditor, client, producer="e2e-producer")
        )
        assert set(direct) == set(producer.acknowledged)
        assert set(direct.values()) == {1}

        wanted = set(request_ids)
        deadline = time.monotonic() + 30
        while True:  # the gateway's outbox backs off while audit is down, then catches up
            stored = [
                event
                for event in events_of(
                    suite, auditor, client, producer="gateway", actor="agent.wang"
                )
                if event["request_id"] in wanted
            ]
            if len(stored) >= len(wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        counts = Counter(event["request_id"] for event in stored)
        assert set(counts) == wanted, f"{len(wanted - set(counts))} acknowledged events missing"
        assert set(counts.values()) == {1}
        event_ids = Counter(event["event_id"] for event in stored)
        assert set(event_ids.values()) == {1}

        verified = client.get(
            f"{suite.gateway}/api/v1/audit/chain/verify",
            headers={"authorization": f"Bearer {auditor}"},
        )
        assert verified.status_code == 200 and verified.json()["ok"], verified.text
