"""Hot reload, its audit trail, facts on a fixed clock, and shadow mode on live gateway traffic."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from anxin_audit.main import create_app as create_audit
from anxin_audit.settings import AuditSettings
from anxin_gateway.main import create_app as create_gateway
from anxin_gateway.settings import GatewaySettings
from anxin_shared.keys import ensure_dev_keys
from anxin_shared.outbox import OutboxEvent
from anxin_shared.policy import PolicyEngine, Validity
from anxin_shared.policy_audit import policy_change_event

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def copy_policies(tmp_path: Path, name: str = "policies") -> Path:
    target = tmp_path / name
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("tests"))
    return target


def test_every_swap_and_each_refused_version_reach_the_hook_once(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    calls: list[tuple[str | None, str | None, str | None]] = []
    engine = PolicyEngine(policies, on_change=lambda *args: calls.append(args))
    first = engine.load()
    assert calls == [(None, first, None)]
    original = (policies / "policy.csv").read_text()
    (policies / "policy.csv").write_text(original + "p, agent, *, customer.profile\n")
    for _ in range(3):  # polled again and again: refused, reported once
        assert engine.reload_if_changed() is False
    assert engine.version == first and engine.last_error
    assert len(calls) == 2 and calls[1][0] == first and calls[1][2] is not None
    refused = calls[1][1]
    assert refused and refused != first
    assert engine.decide("agent.li", "life", "customer.profile", "read").allowed
    (policies / "policy.csv").write_text(original)  # back to the version in force
    assert engine.reload_if_changed() is False
    assert engine.last_error is None and len(calls) == 2
    (policies / "policy.csv").write_text(original + "p, agent, *, audit.event, read, L0, allow\n")
    assert engine.reload_if_changed() is True
    assert calls[2] == (first, engine.version, None)


async def test_watch_reloads_in_a_worker_thread_not_on_the_event_loop(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    threads: list[int] = []
    engine = PolicyEngine(policies, on_change=lambda *_: threads.append(threading.get_ident()))
    engine.load()
    threads.clear()
    task = asyncio.create_task(engine.watch(0.01))
    with (policies / "policy.csv").open("a") as handle:
        handle.write("\np, agent, *, audit.event, read, L0, allow\n")
    deadline = time.monotonic() + 5
    while not threads and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    assert threads and threads[0] != threading.get_ident()


def test_the_audit_event_of_a_change_and_of_a_refusal() -> None:
    changed = policy_change_event("profile", "aaa", "bbb", None)
    assert changed["kind"] == "policy.version_changed" and changed["allowed"] is True
    assert changed["actor"] == "service:profile" and changed["actor_kind"] == "service"
    assert changed["policy_version"] == "bbb" and changed["actor_subsidiary"] == "group"
    refused = policy_change_event("profile", "aaa", "ccc", "policy.csv: p rule 3 has 5 fields")
    assert refused["kind"] == "policy.reload_refused" and refused["allowed"] is False
    assert refused["policy_version"] == "aaa"
    assert "refused policy ccc, keeping aaa" in refused["reasons"][0]


def test_facts_are_judged_on_the_injected_clock() -> None:
    engine = PolicyEngine(POLICIES, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    engine.load()
    agreement = Validity(valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31))
    allowed = engine.decide(
        "contractor.sun", "pc", "customer.profile", "read", facts={"agreement": agreement}
    )
    assert allowed.allowed
    later = datetime(2027, 1, 1, tzinfo=UTC)
    expired = engine.decide(
        "contractor.sun",
        "pc",
        "customer.profile",
        "read",
        facts={"agreement": agreement},
        now=later,
    )
    assert not expired.allowed and expired.failed_fact == "agreement"
    last_day = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert engine.decide(
        "contractor.sun",
        "pc",
        "customer.profile",
        "read",
        facts={"agreement": date(2026, 12, 31)},
        now=last_day,
    ).allowed


def test_shadow_mode_counts_differences_and_never_enforces(tmp_path: Path) -> None:
    candidate = copy_policies(tmp_path, "candidate")
    with (candidate / "policy.csv").open("a") as handle:
        handle.write("\np, agent, *, audit.event, read, L0, allow\n")
    engine = PolicyEngine(POLICIES, shadow_dir=candidate)
    engine.load()
    assert not engine.decide("agent.li", "life", "audit.event", "read").allowed
    assert engine.decide("agent.li", "life", "customer.profile", "read").allowed
    status = engine.shadow_status()
    assert status is not None
    assert status["compared"] == 2 and status["differences"] == 1
    assert status["version"] and status["version"] != engine.version


# -- in-process services ---------------------------------------------------------
class PortRouter(httpx.AsyncBaseTransport):
    """Sends each request to the in-process app listening on the URL's port."""

    def __init__(self) -> None:
        self.apps: dict[int, httpx.ASGITransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.port or 80)
        if transport is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await transport.handle_async_request(request)


@asynccontextmanager
async def gateway_and_audit(
    tmp_path: Path, policies: Path, **gateway_options: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    common = {"env": "dev", "var_dir": tmp_path, "policies_dir": policies}
    ensure_dev_keys(tmp_path / "keys")
    router = PortRouter()
    gateway = create_gateway(
        GatewaySettings(**common, policy_reload_seconds=0.05, **gateway_options),  # type: ignore[arg-type]
        http_transport=router,
    )
    audit = create_audit(AuditSettings(**common), http_transport=router)  # type: ignore[arg-type]
    router.apps[8004] = httpx.ASGITransport(app=audit)
    async with AsyncExitStack() as stack:
        for app in (gateway, audit):
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as client:
            yield gateway.state.runtime, client


async def bearer(client: httpx.AsyncClient, subject: str) -> dict[str, str]:
    response = await client.post("/dev/token", json={"subject": subject})
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def outbox_kinds(runtime: Any) -> list[dict[str, Any]]:
    with Session(runtime.database.engine) as session:
        rows = session.exec(select(OutboxEvent).where(OutboxEvent.topic == "audit.event")).all()
    return [json.loads(row.payload) for row in rows]


async def test_a_broken_policy_edit_is_refused_and_audited(tmp_path: Path) -> None:
    policies = copy_policies(tmp_path)
    async with gateway_and_audit(tmp_path, policies) as (runtime, client):
        good = runtime.policy.version
        loaded = [e for e in outbox_kinds(runtime) if e["kind"] == "policy.version_changed"]
        assert loaded and loaded[0]["policy_version"] == good
        original = (policies / "policy.csv").read_text()
        (policies / "policy.csv").write_text(original + "p, agent, *, audit.event\n")
        deadline = time.monotonic() + 10
        while runtime.policy.last_error is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        ready = (await client.get("/readyz")).json()
        assert ready["policy_version"] == good and ready["policy_error"]
        refused = [e for e in outbox_kinds(runtime) if e["kind"] == "policy.reload_refused"]
        assert len(refused) == 1
        assert refused[0]["actor"] == "service:gateway"
        assert refused[0]["policy_version"] == good and refused[0]["allowed"] is False
        # The refusal reaches the audit trail through the outbox relay.
        headers = await bearer(client, "auditor.zheng")
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not found:
            page = await client.get(
                "/api/v1/audit/events?actor=service:gateway&resource=policy.version",
                headers=headers,
            )
            assert page.status_code == 200, page.text
            found = [
                item["event"]
                for item in page.json()["items"]
                if item["event"]["kind"] == "policy.reload_refused"
            ]
            await asyncio.sleep(0.1)
        assert found and found[0]["event_id"] == refused[0]["event_id"]
        # A decision still uses the last good policy.
        agent = await bearer(client, "agent.li")
        assert (await client.get("/api/v1/policy/version", headers=agent)).json() == {
            "policy_version": good
        }


async def test_shadow_mode_counts_differences_on_live_gateway_traffic(tmp_path: Path) -> None:
    candidate = copy_policies(tmp_path, "candidate")
    with (candidate / "policy.csv").open("a") as handle:
        handle.write("\np, agent, *, audit.event, read, L0, allow\n")
    async with gateway_and_audit(tmp_path, POLICIES, policy_shadow_dir=candidate) as (_, client):
        agent = await bearer(client, "agent.li")
        for _ in range(3):  # live denies; the candidate would allow: counted, not enforced
            assert (await client.get("/api/v1/audit/events", headers=agent)).status_code == 403
        assert (await client.get("/api/v1/policy/version", headers=agent)).status_code == 200
        shadow = (await client.get("/readyz")).json()["shadow"]
    assert shadow["version"] and shadow["error"] is None
    assert shadow["differences"] == 3
    assert shadow["compared"] >= 4
