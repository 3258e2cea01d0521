"""Replicas that agree (issue 8), proven as processes on one real PostgreSQL.

Two gateway, two profile and two audit replicas, plus one consent and one
identity, each service on its own database shared by its replicas (as in
Kubernetes, where a Deployment's pods share the service's database):

    gateway   :A  -> profile   :A, audit via recording proxy 1 -> audit :A
    gateway-2 :B  -> profile-2 :B, audit via recording proxy 2 -> audit-2 :B
    consent, identity, profile  -> audit via proxy 1

The recording proxies sit between the outbox relays and the audit writers and
count every event id in every batch the audit service accepted, so "exactly
once" is observed on the wire, not inferred from the receiver's idempotence.

Bound for a policy change: each service polls the policies folder every
`ANXIN_POLICY_RELOAD_SECONDS` (0.5 s here) and swaps atomically, so every
replica runs the new version within one interval plus the time to read and
build it; asserted here as `POLICY_BOUND_SECONDS`. In Kubernetes the kubelet's
ConfigMap refresh (up to about a minute) comes first.

Runs only when `ANXIN_TEST_POSTGRES_URL` names a server (CI sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from anxin_cli.suite import Suite
from anxin_profile.demo_data import generate_customers
from tests.support import POSTGRES_URL, REPO, PostgresDatabases, free_ports

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not POSTGRES_URL, reason="ANXIN_TEST_POSTGRES_URL is not set (CI sets it)"),
]

RELOAD_SECONDS = 0.5
POLICY_BOUND_SECONDS = RELOAD_SECONDS + 2.5
BATCH_PATH = "/internal/v1/events:batch"
LIFE = [c for c in generate_customers() if c.subsidiary == "life"]
SERVICES = ("gateway", "identity", "consent", "profile", "audit")
_HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class RecordingProxy:
    """A tiny HTTP forwarder that counts the audit events an audit writer accepted."""

    def __init__(self, port: int, target: str) -> None:
        self.target = target
        self.accepted: Counter[str] = Counter()  # event id -> accepted deliveries
        self.producers: Counter[str] = Counter()  # producer -> accepted events
        self.lock = threading.Lock()
        proxy = self
        client = httpx.Client(timeout=30)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    upstream = client.request(
                        self.command, proxy.target + self.path, content=body, headers=headers
                    )
                except httpx.HTTPError:
                    self.send_response(502)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if self.command == "POST" and self.path == BATCH_PATH and upstream.is_success:
                    events = json.loads(body)["events"]
                    with proxy.lock:
                        for event in events:
                            proxy.accepted[event["event_id"]] += 1
                            proxy.producers[event["producer"]] += 1
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP | {"content-encoding"}:
                        self.send_header(key, value)
                self.send_header("content-length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Replicas:
    """The running processes and what the tests need to talk to them."""

    suite: Suite
    databases: PostgresDatabases
    policies: Path
    proxies: list[RecordingProxy]
    client: httpx.Client
    request_ids: dict[str, list[str]] = field(default_factory=dict)  # gateway -> request ids
    tokens: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def gateways(self) -> tuple[str, str]:
        return ("gateway", "gateway-2")

    def processes(self) -> list[str]:
        return [*SERVICES, *self.suite.replicas]

    def token(self, subject: str) -> str:
        if subject not in self.tokens:
            response = self.client.post(
                self.suite.url("gateway") + "/dev/token", json={"subject": subject}
            )
            response.raise_for_status()
            self.tokens[subject] = str(response.json()["access_token"])
        return self.tokens[subject]

    def call(
        self, gateway: str, method: str, path: str, subject: str, body: Any = None
    ) -> httpx.Response:
        """A request through one gateway replica; its request id is kept for reconciliation."""
        while True:
            response = self.client.request(
                method,
                self.suite.url(gateway) + path,
                json=body,
                headers={"authorization": f"Bearer {self.token(subject)}"},
            )
            with self.lock:
                self.request_ids.setdefault(gateway, []).append(response.headers["x-request-id"])
            if response.status_code != 429:
                return response
            time.sleep(0.05)

    def readyz(self, process: str) -> dict[str, Any]:
        response = self.client.get(self.suite.url(process) + "/readyz", timeout=5)
        assert response.status_code == 200, (process, response.text)
        return dict(response.json())

    def engine(self, service: str) -> sa.Engine:
        return sa.create_engine(self.databases.urls[service], poolclass=sa.pool.NullPool)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    assert POSTGRES_URL
    tmp = tmp_path_factory.mktemp("replicas")
    policies = tmp / "policies"
    shutil.copytree(REPO / "policies", policies)
    ports = free_ports(len(SERVICES) + 5)
    primary = dict(zip(SERVICES, ports[:5], strict=True))
    gateway2, profile2, audit2, proxy1_port, proxy2_port = ports[5:]
    proxies = [
        RecordingProxy(proxy1_port, f"http://127.0.0.1:{primary['audit']}"),
        RecordingProxy(proxy2_port, f"http://127.0.0.1:{audit2}"),
    ]
    databases = PostgresDatabases.create(POSTGRES_URL)
    extra = {
        "ANXIN_POLICY_RELOAD_SECONDS": str(RELOAD_SECONDS),
        "ANXIN_IDENTITY_VOICE_PRELOAD": "false",
        # Relays poll often, so both gateway relays compete for the same outbox rows.
        "ANXIN_GATEWAY_OUTBOX_INTERVAL_SECONDS": "0.1",
        "ANXIN_PROFILE_OUTBOX_INTERVAL_SECONDS": "0.1",
    }
    for service, url in databases.urls.items():
        extra[f"ANXIN_{service.upper()}_DATABASE_URL"] = url
    suite = Suite(var_dir=tmp / "var", policies_dir=policies, ports=primary, extra_env=extra)
    # Every primary sends its audit batches through proxy 1 (set after the peer URLs).
    suite.extra_env["ANXIN_AUDIT_URL"] = f"http://127.0.0.1:{proxy1_port}"
    client = httpx.Client(timeout=30)
    try:
        suite.start()
        status = suite.wait_ready(timeout=90)
        assert all(status.values()), status
        # The second replicas join once the databases are migrated and seeded (as a
        # rolling update would), on the same databases.
        suite.add_replica("audit-2", "audit", audit2)
        suite.add_replica(
            "profile-2",
            "profile",
            profile2,
            {
                "ANXIN_AUDIT_URL": f"http://127.0.0.1:{proxy2_port}",
                "ANXIN_PROFILE_SEED_DEMO_DATA": "false",
            },
        )
        suite.add_replica(
            "gateway-2",
            "gateway",
            gateway2,
            {
                "ANXIN_AUDIT_URL": f"http://127.0.0.1:{proxy2_port}",
                "ANXIN_PROFILE_URL": f"http://127.0.0.1:{profile2}",
            },
        )
        for name in ("audit-2", "profile-2", "gateway-2"):
            suite.spawn(name)
        status = suite.wait_ready(timeout=60)
        if not all(status.values()):
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text()[-2000:]}"
                for p in (tmp / "var" / "logs").glob("*.log")
            )
            raise RuntimeError(f"replicas not ready: {status}\n{logs}")
        yield Replicas(suite, databases, policies, proxies, client)
    finally:
        client.close()
        suite.stop()
        for proxy in proxies:
            proxy.stop()
        databases.drop(POSTGRES_URL)


def test_a_policy_change_reaches_every_replica_within_the_bound(replicas: Replicas) -> None:
    processes = replicas.processes()
    assert len(processes) == 8
    before = {p: replicas.readyz(p)["policy_version"] for p in processes}
    assert len(set(before.values())) == 1 and None not in before.values(), before

    policy = replicas.policies / "policy.csv"
    text = policy.read_text(encoding="utf-8")
    staged = policy.with_name(".policy.csv.next")
    # New content is a new version (the version is the content hash).
    staged.write_text(text + f"\n# rollout {uuid.uuid4().hex[:8]}\n", encoding="utf-8")
    changed = time.monotonic()
    os.replace(staged, policy)  # atomic, like a ConfigMap update's symlink swap
    after: dict[str, Any] = {}
    while time.monotonic() - changed < POLICY_BOUND_SECONDS + 5:
        after = {p: replicas.readyz(p)["policy_version"] for p in processes}
        if before["gateway"] not in after.values():
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - changed
    assert len(set(after.values())) == 1, after
    assert after["gateway"] != before["gateway"]
    assert elapsed <= POLICY_BOUND_SECONDS, f"{elapsed:.2f} s > {POLICY_BOUND_SECONDS} s"
    # And the gateways enforce the version they report.
    for gateway in replicas.gateways:
        version = replicas.call(gateway, "GET", "/api/v1/policy/version", "agent.li")
        assert version.status_code == 200, version.text
        assert version.json()["policy_version"] == after["gateway"]


def _evidence() -> dict[str, str]:
    return {"channel": "app", "evidence_ref": f"app-receipt:{uuid.uuid4().hex[:12]}"}


def _shares_mobile(replicas: Replicas, gateway: str, customer_id: str) -> bool:
    response = replicas.call(
        gateway,
        "GET",
        f"/api/v1/shared/customers/{customer_id}?purpose=cross_sell",
        "bank-crm-system",
    )
    assert response.status_code in (200, 403), response.text
    return response.status_code == 200 and "mobile" in response.json()["fields"]


def test_a_withdrawal_on_one_gateway_stops_shared_reads_on_the_other_at_once(
    replicas: Replicas,
) -> None:
    scope = {"purpose": "cross_sell", "category": "pi.contact.phone", "recipient": "bank"}
    for trial, customer in enumerate(LIFE[:6]):
        writer, reader = replicas.gateways if trial % 2 == 0 else replicas.gateways[::-1]
        granted = replicas.call(
            writer,
            "POST",
            "/api/v1/consent/records",
            "life-claims-system",
            {
                "customer_id": customer.customer_id,
                "notice_key": "life-to-bank-cross-sell",
                "notice_version": 1,
                "category": scope["category"],
                "recipient": scope["recipient"],
            }
            | _evidence(),
        )
        assert granted.status_code == 201, granted.text
        assert _shares_mobile(replicas, reader, customer.customer_id)
        withdrawn = replicas.call(
            writer,
            "POST",
            "/api/v1/consent/withdrawals",
            "life-claims-system",
            {"customer_id": customer.customer_id} | scope | _evidence(),
        )
        assert withdrawn.status_code == 201, withdrawn.text
        # At once: no wait for the consent.withdrawn event to reach either profile replica.
        assert not _shares_mobile(replicas, reader, customer.customer_id)
        assert not _shares_mobile(replicas, writer, customer.customer_id)


def _gateway_events(replicas: Replicas) -> dict[str, int]:
    """request id -> gateway audit records stored for it."""
    with replicas.engine("audit").connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT request_id, count(*) FROM audit_record "
                "WHERE producer = 'gateway' GROUP BY request_id"
            )
        ).all()
    return {str(request_id): int(count) for request_id, count in rows}


def test_two_relays_deliver_every_event_exactly_once_and_the_chain_stays_single(
    replicas: Replicas,
) -> None:
    def burst(gateway: str) -> None:
        for _ in range(25):
            response = replicas.call(gateway, "GET", "/api/v1/policy/version", "agent.li")
            assert response.status_code == 200, response.text

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(burst, g) for g in replicas.gateways for _ in range(3)]
        for future in futures:
            future.result()

    sent = {g: set(ids) for g, ids in replicas.request_ids.items()}
    assert all(len(ids) >= 75 for ids in sent.values()), {g: len(i) for g, i in sent.items()}
    wanted = sent["gateway"] | sent["gateway-2"]
    assert not sent["gateway"] & sent["gateway-2"]
    deadline = time.monotonic() + 20
    stored = _gateway_events(replicas)
    while not wanted <= set(stored) and time.monotonic() < deadline:
        time.sleep(0.2)
        stored = _gateway_events(replicas)
    # Each request of either gateway replica: exactly one gateway audit record.
    assert sorted(r for r in wanted if stored.get(r) != 1) == []
    pending = -1
    while pending != 0 and time.monotonic() < deadline:
        with replicas.engine("gateway").connect() as connection:
            pending = connection.execute(
                sa.text("SELECT count(*) FROM outbox_event WHERE delivered_at IS NULL")
            ).scalar_one()
        time.sleep(0.1)
    assert pending == 0

    # On the wire: every event id accepted once in all, and both relays did deliver.
    accepted = Counter[str]()
    for proxy in replicas.proxies:
        with proxy.lock:
            accepted.update(proxy.accepted)
    assert [event for event, times in accepted.items() if times != 1] == []
    by_relay = [proxy.producers["gateway"] for proxy in replicas.proxies]
    assert all(count > 0 for count in by_relay), by_relay

    # Two audit writers, one chain: gap-free sequence numbers and a verifying chain.
    assert all(proxy.producers for proxy in replicas.proxies)
    with replicas.engine("audit").connect() as connection:
        seqs = [row[0] for row in connection.execute(sa.text("SELECT seq FROM audit_record"))]
        ids = connection.execute(
            sa.text("SELECT count(DISTINCT event_id), count(*) FROM audit_record")
        ).one()
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    assert ids[0] == ids[1] == len(seqs)
    for gateway in replicas.gateways:
        verified = replicas.call(gateway, "GET", "/api/v1/audit/chain/verify", "auditor.zheng")
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert body["ok"] is True, body
        assert body["first_bad_seq"] is None
        assert body["records"] >= len(seqs)
