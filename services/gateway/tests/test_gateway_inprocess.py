"""The gateway in-process with real backends behind it (ASGI transport, real SQLite files).

These cover what is awkward to provoke on the running suite: one trace across
gateway and service (in-memory span exporter), a service that is down (503),
the rate limit (429), oversized bodies (413), and production mode without
`/dev/*` routes.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from anxin_audit.main import create_app as create_audit
from anxin_audit.settings import AuditSettings
from anxin_gateway.main import create_app as create_gateway
from anxin_gateway.settings import GatewaySettings
from anxin_profile.main import create_app as create_profile
from anxin_profile.settings import ProfileSettings
from anxin_shared.keys import ensure_dev_keys
from anxin_shared.settings import ConfigurationError

POLICIES = Path(__file__).resolve().parents[3] / "policies"


class PortRouter(httpx.AsyncBaseTransport):
    """Sends each request to the in-process app listening on the URL's port."""

    def __init__(self) -> None:
        self.apps: dict[int, httpx.ASGITransport] = {}

    def add(self, port: int, app: FastAPI) -> None:
        self.apps[port] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.port or 80)
        if transport is None:
            raise httpx.ConnectError("connection refused", request=request)
        # A fresh context, as in another process: the trace can only continue
        # through the headers the caller sent.
        return await asyncio.create_task(
            transport.handle_async_request(request), context=contextvars.Context()
        )


@asynccontextmanager
async def suite(
    tmp_path: Path, with_profile: bool = True, **gateway_options: object
) -> AsyncIterator[httpx.AsyncClient]:
    """Gateway + audit (+ profile) in-process; yields a client for the gateway."""
    common = {"env": "dev", "var_dir": tmp_path, "policies_dir": POLICIES}
    ensure_dev_keys(tmp_path / "keys")
    router = PortRouter()
    gateway = create_gateway(
        GatewaySettings(**common, **gateway_options),  # type: ignore[arg-type]
        http_transport=router,
    )
    audit = create_audit(AuditSettings(**common), http_transport=router)  # type: ignore[arg-type]
    apps = [gateway, audit]
    router.add(8004, audit)
    if with_profile:
        profile = create_profile(ProfileSettings(**common), http_transport=router)  # type: ignore[arg-type]
        router.add(8003, profile)
        apps.append(profile)
    async with AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as client:
            yield client


async def token(client: httpx.AsyncClient, subject: str) -> dict[str, str]:
    response = await client.post("/dev/token", json={"subject": subject})
    assert response.status_code == 200
    return {"authorization": f"Bearer {response.json()['access_token']}"}


async def test_one_trace_spans_gateway_and_service(
    tmp_path: Path, span_exporter: InMemorySpanExporter
) -> None:
    async with suite(tmp_path) as client:
        headers = await token(client, "agent.li")
        listing = await client.get("/api/v1/customers?limit=1", headers=headers)
        assert listing.status_code == 200, listing.text
        customer_id = listing.json()["items"][0]["customer_id"]
        span_exporter.clear()
        response = await client.get(f"/api/v1/customers/{customer_id}", headers=headers)
        assert response.status_code == 200
    spans = span_exporter.get_finished_spans()
    gateway_server = [
        s for s in spans if s.name == "GET /api/v1/{rest:path}" and s.kind.name == "SERVER"
    ]
    profile_server = [
        s
        for s in spans
        if s.name == "GET /api/v1/customers/{customer_id}" and s.kind.name == "SERVER"
    ]
    assert len(gateway_server) == 1 and len(profile_server) == 1
    assert gateway_server[0].context.trace_id == profile_server[0].context.trace_id
    by_id = {span.context.span_id: span for span in spans}
    parent = profile_server[0].parent
    chain = []
    while parent is not None and parent.span_id in by_id:
        chain.append(by_id[parent.span_id])
        parent = by_id[parent.span_id].parent
    assert gateway_server[0] in chain


async def test_a_service_that_is_down_is_a_503(tmp_path: Path) -> None:
    async with suite(tmp_path, with_profile=False) as client:
        headers = await token(client, "agent.li")
        response = await client.get("/api/v1/customers", headers=headers)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"]


async def test_rate_limit_answers_429(tmp_path: Path) -> None:
    async with suite(tmp_path, rate_limit_burst=3, rate_limit_per_second=0.01) as client:
        headers = await token(client, "agent.li")
        statuses = [
            (await client.get("/api/v1/policy/version", headers=headers)).status_code
            for _ in range(5)
        ]
        other = await token(client, "agent.wang")
        other_status = (await client.get("/api/v1/policy/version", headers=other)).status_code
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    assert other_status == 200


async def test_oversized_body_is_413(tmp_path: Path) -> None:
    async with suite(tmp_path, max_body_bytes=1024) as client:
        headers = await token(client, "agent.li")
        response = await client.post("/api/v1/calls", headers=headers, content=b"x" * 5000)
    assert response.status_code == 413


async def test_engine_without_policy_fails_closed(tmp_path: Path) -> None:
    broken = tmp_path / "broken-policies"
    broken.mkdir()
    (broken / "model.conf").write_text("not a model")
    for name in ("policy.csv", "fields.yaml", "catalogue.yaml"):
        (broken / name).write_text("")
    ensure_dev_keys(tmp_path / "keys")
    gateway = create_gateway(GatewaySettings(env="dev", var_dir=tmp_path, policies_dir=broken))
    async with (
        gateway.router.lifespan_context(gateway),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as client,
    ):
        ready = await client.get("/readyz")
        response = await client.get(
            "/api/v1/policy/version", headers={"authorization": "Bearer a.b.c"}
        )
    assert ready.status_code == 503
    assert response.status_code == 503


def test_production_mode_has_no_dev_routes(tmp_path: Path) -> None:
    keys = tmp_path / "prod-keys"
    ensure_dev_keys(keys)
    (keys / "DEV-KEYS").unlink()
    settings = GatewaySettings(
        env="prod",
        var_dir=tmp_path,
        keys_dir=keys,
        policies_dir=POLICIES,
        database_url="postgresql+psycopg://anxin@127.0.0.1:1/anxin_gateway",
        idp_issuer="https://idp.example.cn",
        idp_public_key_file=keys / "idp.pub.pem",
    )
    app = create_gateway(settings)
    paths = {getattr(route, "path", "") for route in app.routes}
    assert not any(path.startswith("/dev") for path in paths)
    assert "/dev/token" not in app.openapi()["paths"]


def test_production_refuses_dev_keys_and_sqlite(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / "keys")
    with pytest.raises(ConfigurationError):
        GatewaySettings(
            env="prod",
            var_dir=tmp_path,
            policies_dir=POLICIES,
            database_url="postgresql+psycopg://a@127.0.0.1:1/x",
            idp_issuer="https://idp.example.cn",
            idp_public_key_file=tmp_path / "keys" / "idp.pub.pem",
        )
    with pytest.raises(ConfigurationError):
        GatewaySettings(
            env="prod",
            var_dir=tmp_path / "other",
            policies_dir=POLICIES,
            database_url="sqlite:///x.db",
            idp_issuer="https://idp.example.cn",
            idp_public_key_file=tmp_path / "keys" / "idp.pub.pem",
        )
    with pytest.raises(ConfigurationError):
        ProfileSettings(env="prod", var_dir=tmp_path / "other", policies_dir=POLICIES)
