"""`X-Anxin-Call-Session` at the gateway: identity (real, in process) lends the level.

Profile and audit are recorded doubles on their ports; the gateway and identity
are the real apps. The upstream double reads the internal token the gateway
minted, so the tests see exactly what a service would believe.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from anxin_gateway.callsessions import CallSessionResolver
from anxin_gateway.main import create_app as create_gateway
from anxin_gateway.settings import GatewaySettings
from anxin_identity.main import create_app as create_identity
from anxin_identity.settings import IdentitySettings
from anxin_shared.auth import internal_verifier
from anxin_shared.keys import ensure_dev_keys

POLICIES = Path(__file__).resolve().parents[3] / "policies"
REGISTERED = "13912345678"


@dataclass
class Backends(httpx.AsyncBaseTransport):
    """Port 8001 is the real identity app; 8003/8004 are recorded doubles."""

    keys_dir: Path
    identity: httpx.ASGITransport | None = None
    identity_down: bool = False
    feed_down: bool = False  # identity's change feed alone unreachable: no lease ever holds
    resolves: list[dict[str, Any]] = field(default_factory=list)
    gateways: list[httpx.AsyncClient] = field(default_factory=list)
    resolvers: list[CallSessionResolver] = field(default_factory=list)
    upstream_claims: list[dict[str, Any]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port
        if port == 8001:
            feed = request.url.path.endswith("/call-sessions/changes")
            if self.identity_down or self.identity is None or (feed and self.feed_down):
                raise httpx.ConnectError("connection refused", request=request)
            if request.url.path.endswith("call-sessions:resolve"):
                await request.aread()
                self.resolves.append(json.loads(request.content))
            return await asyncio.create_task(
                self.identity.handle_async_request(request), context=contextvars.Context()
            )
        if port == 8003:
            await request.aread()
            if request.url.path == "/internal/v1/contact-points:match":
                number = json.loads(request.content)["number"]
                matches = (
                    [
                        {
                            "customer_id": "C100001",
                            "subsidiary": "life",
                            "channel": "mobile",
                            "first_seen": "2024-01-01T00:00:00Z",
                        }
                    ]
                    if number == REGISTERED
                    else []
                )
                return httpx.Response(200, json={"matches": matches})
            if request.url.path.endswith(":match"):
                return httpx.Response(200, json={"matches": []})
            token = request.headers["authorization"].removeprefix("Bearer ")
            claims = internal_verifier("profile", self.keys_dir).verify(token)
            self.upstream_claims.append(claims)
            return httpx.Response(200, json={"customer_id": "C100001"})
        return httpx.Response(200, json={"stored": 0})  # audit takes every batch


@asynccontextmanager
async def suite(
    tmp_path: Path, replicas: int = 1, follow: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, Backends]]:
    """Identity and `replicas` gateways (one database, like replicas); the first one's client."""
    common: dict[str, Any] = {"env": "dev", "var_dir": tmp_path, "policies_dir": POLICIES}
    ensure_dev_keys(tmp_path / "keys")
    backends = Backends(keys_dir=tmp_path / "keys", feed_down=not follow)
    gateways = [
        create_gateway(GatewaySettings(**common), http_transport=backends) for _ in range(replicas)
    ]
    identity = create_identity(IdentitySettings(**common), http_transport=backends)
    backends.identity = httpx.ASGITransport(app=identity)
    apps: list[FastAPI] = [*gateways, identity]
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        for gateway in gateways:
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
                )
            )
            backends.gateways.append(client)
            backends.resolvers.append(gateway.state.call_sessions)
        yield backends.gateways[0], backends


async def token(client: httpx.AsyncClient, subject: str) -> dict[str, str]:
    response = await client.post("/dev/token", json={"subject": subject})
    assert response.status_code == 200
    return {"authorization": f"Bearer {response.json()['access_token']}"}


async def open_call(client: httpx.AsyncClient, headers: dict[str, str], ani: str) -> str:
    response = await client.post(
        "/api/v1/calls",
        json={"ani": ani, "channel": "voice", "attestation": "A"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert isinstance(response.json()["id"], str)
    return str(response.json()["id"])


async def test_the_session_lends_its_level_and_customer_to_the_internal_token(
    tmp_path: Path,
) -> None:
    async with suite(tmp_path) as (client, backends):
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)

        plain = await client.get("/api/v1/customers/C100001", headers=li)
        named = await client.get(
            "/api/v1/customers/C100001", headers={**li, "X-Anxin-Call-Session": call_id}
        )

    assert (plain.status_code, named.status_code) == (200, 200)
    without, with_session = backends.upstream_claims
    assert (without["assurance_level"], without["verified_customer"]) == ("L0", None)
    assert without["call_session"] is None
    assert with_session["assurance_level"] == "L1"
    assert with_session["verified_customer"] == "C100001"
    assert with_session["call_session"] == call_id
    # The header itself is not forwarded: services learn the session from the token only.
    assert backends.resolves[0]["subject"] == "agent.li"


async def test_another_agents_or_an_unknown_session_is_refused_alike(tmp_path: Path) -> None:
    async with suite(tmp_path) as (client, backends):
        li = await token(client, "agent.li")
        chen = await token(client, "senior.chen")
        call_id = await open_call(client, li, REGISTERED)
        other = await client.get(
            "/api/v1/customers/C100001", headers={**chen, "X-Anxin-Call-Session": call_id}
        )
        unknown = await client.get(
            "/api/v1/customers/C100001", headers={**li, "X-Anxin-Call-Session": "nope-0000"}
        )

    assert (other.status_code, unknown.status_code) == (403, 403)
    assert other.json()["detail"] == unknown.json()["detail"]
    assert other.json()["decision_id"] and unknown.json()["decision_id"]
    assert backends.upstream_claims == []


async def test_a_closed_session_is_refused_and_says_so(tmp_path: Path) -> None:
    async with suite(tmp_path) as (client, backends):
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)
        closed = await client.post(f"/api/v1/calls/{call_id}/close", headers=li)
        assert closed.status_code == 200
        response = await client.get(
            "/api/v1/customers/C100001", headers={**li, "X-Anxin-Call-Session": call_id}
        )

    assert response.status_code == 403
    assert response.json()["call_session_status"] == "closed"
    assert backends.upstream_claims == []


async def test_identity_down_is_a_503_and_a_bad_id_a_400(tmp_path: Path) -> None:
    async with suite(tmp_path) as (client, backends):
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)
        malformed = await client.get(
            "/api/v1/customers/C100001", headers={**li, "X-Anxin-Call-Session": "a/b?c"}
        )
        backends.identity_down = True
        down = await client.get(
            "/api/v1/customers/C100001", headers={**li, "X-Anxin-Call-Session": call_id}
        )
        without = await client.get("/api/v1/customers/C100001", headers=li)

    assert malformed.status_code == 400
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert without.status_code == 200  # no session named: identity is not needed
    assert len(backends.upstream_claims) == 1


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait (polling) until `condition` holds; fail the test if it never does."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def test_a_lease_serves_repeat_calls_and_a_close_ends_it_at_once(tmp_path: Path) -> None:
    async with suite(tmp_path) as (client, backends):
        resolver = backends.resolvers[0]
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)
        headers = {**li, "X-Anxin-Call-Session": call_id}
        await until(resolver.feed.live)
        first = await client.get("/api/v1/customers/C100001", headers=headers)
        again = [await client.get("/api/v1/customers/C100001", headers=headers) for _ in range(3)]
        asked_before_close = len(backends.resolves)
        closed = await client.post(f"/api/v1/calls/{call_id}/close", headers=li)
        after_close = await client.get("/api/v1/customers/C100001", headers=headers)

    assert [r.status_code for r in (first, *again, closed)] == [200, 200, 200, 200, 200]
    assert asked_before_close == 1  # the three repeat calls were served by the lease
    assert [c["assurance_level"] for c in backends.upstream_claims] == ["L1"] * 4
    assert after_close.status_code == 403  # asked again, at once, and refused
    assert after_close.json()["call_session_status"] == "closed"
    assert len(backends.resolves) == 2


async def test_a_change_made_elsewhere_reaches_the_lease_through_the_feed(tmp_path: Path) -> None:
    async with suite(tmp_path, replicas=2) as (client, backends):
        resolver = backends.resolvers[0]
        other = backends.gateways[1]
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)
        headers = {**li, "X-Anxin-Call-Session": call_id}
        await until(resolver.feed.live)
        assert (await client.get("/api/v1/customers/C100001", headers=headers)).status_code == 200
        assert resolver.leasable(call_id, resolver.cache[call_id], "agent.li")
        # Closed through the other replica: this one hears of it from identity's feed.
        closed = await other.post(f"/api/v1/calls/{call_id}/close", headers=li)
        assert closed.status_code == 200
        await until(lambda: call_id not in resolver.cache)
        after_close = await client.get("/api/v1/customers/C100001", headers=headers)

    assert after_close.status_code == 403
    assert after_close.json()["call_session_status"] == "closed"


async def test_identity_unreachable_ends_every_lease(tmp_path: Path) -> None:
    async with suite(tmp_path) as (client, backends):
        resolver = backends.resolvers[0]
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)
        headers = {**li, "X-Anxin-Call-Session": call_id}
        await until(resolver.feed.live)
        assert (await client.get("/api/v1/customers/C100001", headers=headers)).status_code == 200
        backends.identity_down = True
        await until(lambda: not resolver.feed.live())
        down = await client.get("/api/v1/customers/C100001", headers=headers)
        backends.identity_down = False
        await until(resolver.feed.live)
        back = await client.get("/api/v1/customers/C100001", headers=headers)

    assert down.status_code == 503
    assert back.status_code == 200


async def test_the_cache_is_confirmed_by_version_when_no_lease_holds(tmp_path: Path) -> None:
    async with suite(tmp_path, follow=False) as (client, backends):
        li = await token(client, "agent.li")
        call_id = await open_call(client, li, REGISTERED)
        headers = {**li, "X-Anxin-Call-Session": call_id}
        await client.get("/api/v1/customers/C100001", headers=headers)
        await client.get("/api/v1/customers/C100001", headers=headers)
        await client.post(f"/api/v1/calls/{call_id}/close", headers=li)
        after_close = await client.get("/api/v1/customers/C100001", headers=headers)

    first, second, third = (r["known_version"] for r in backends.resolves)
    assert first is None
    assert second is not None  # identity was asked again, with the version it gave
    assert third is None  # the close through this gateway dropped the cached answer
    assert [c["assurance_level"] for c in backends.upstream_claims] == ["L1", "L1"]
    assert after_close.status_code == 403
