"""The gateway: authenticate, route, decide, proxy, audit. Nothing reaches a service otherwise.

Per request, in order: path hygiene (400) → declared route (404/405) →
bearer token (401) → rate limit (429) → call session named by
`X-Anxin-Call-Session`, resolved by identity or by a lease on its answer kept
exact by identity's change feed (403 if not the agent's own open session, 503 if
identity is down; see callsessions.py) → policy decision (403 with decision id;
engine failure 503) → internal token → proxy → audit event durably stored →
response. Any failure of a dependency ends in 503, never in an allow. A refusal
(401, 403, ...) is also answered only once its event is stored (503 if the trail
is down); a 503's own event is written off the answer's path, and every write is
bounded by the upstream timeout, so a hung database cannot hold a call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from anxin_gateway.audit import AuditWriter, record_call
from anxin_gateway.authn import Authenticator, catalogue_clients
from anxin_gateway.callsessions import HEADER as CALL_SESSION_HEADER
from anxin_gateway.callsessions import CallSessionResolver
from anxin_gateway.dev import dev_router
from anxin_gateway.hygiene import HygieneMiddleware
from anxin_gateway.openapi import merged_openapi
from anxin_gateway.policy_api import PolicyApi
from anxin_gateway.proxy import (
    MAX_IN_FLIGHT_PER_SERVICE,
    Bulkhead,
    forward,
    forward_headers,
    response_headers,
)
from anxin_gateway.ratelimit import RateLimiter
from anxin_gateway.routes import RouteMatch, RouteTable
from anxin_gateway.settings import GatewaySettings
from anxin_gateway.web import mount_web
from anxin_shared.app import add_health_routes, build_runtime, served, start_runtime, stop_runtime
from anxin_shared.context import current_request_id
from anxin_shared.errors import (
    AnxinError,
    DependencyUnavailable,
    Forbidden,
    PayloadTooLarge,
    install_problem_handlers,
)
from anxin_shared.keys import ensure_dev_keys
from anxin_shared.policy import Decision
from anxin_shared.principal import ASSURANCE_LEVELS, Principal
from anxin_shared.settings import SERVICES
from anxin_shared.telemetry import instrument, trace_attributes

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadTooLarge(f"the body may hold at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"the body may hold at most {limit} bytes")
    return bytes(body)


def create_app(
    settings: GatewaySettings | None = None, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the gateway app (uvicorn serves `anxin_gateway.main:app`)."""
    settings = settings or GatewaySettings()
    runtime = build_runtime(settings, MIGRATIONS_DIR)
    table = RouteTable()
    authenticator = Authenticator(settings, runtime.policy)
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    call_sessions = CallSessionResolver()
    audit_writer = AuditWriter(runtime.database)
    bulkhead = Bulkhead(MAX_IN_FLIGHT_PER_SERVICE, settings.upstream_timeout_seconds)
    policy_api = PolicyApi(
        runtime, {peer: settings.peer_url(peer) for peer in SERVICES if peer != "gateway"}
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.is_dev:
            ensure_dev_keys(Path(str(settings.keys_dir)))
        await start_runtime(runtime, http_transport=http_transport)
        if settings.is_dev and runtime.policy.loaded:
            ensure_dev_keys(Path(str(settings.keys_dir)), list(catalogue_clients(runtime.policy)))
        if runtime.policy.loaded:
            authenticator.refresh()
        follower = (
            asyncio.create_task(call_sessions.feed.follow(runtime.peers)) if runtime.peers else None
        )
        yield
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await stop_runtime(runtime)

    app = FastAPI(
        title="Anxin gateway", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.runtime = runtime
    app.state.call_sessions = call_sessions
    install_problem_handlers(app)
    add_health_routes(app, runtime)
    if settings.is_dev:
        app.include_router(dev_router(runtime))

    async def audit(
        principal: Principal | None,
        decision: Decision | None,
        match: RouteMatch,
        request: Request,
        status: int,
        allowed: bool,
        customer_ref: str | None = None,
    ) -> None:
        try:
            # Bounded: a hung database fails the call closed instead of holding it.
            await asyncio.wait_for(
                record_call(
                    audit_writer,
                    principal,
                    decision,
                    resource=match.route.resource,
                    action=match.route.action,
                    method=request.method,
                    path=request.url.path,
                    status_code=status,
                    allowed=allowed,
                    customer_ref=customer_ref,
                ),
                settings.upstream_timeout_seconds,
            )
        except Exception as exc:
            runtime.metrics.fail_closed.add(1, {"dependency": "audit-outbox"})
            raise DependencyUnavailable("the audit trail is unavailable") from exc

    # Events of 503 answers are written off the answer's path (kept here until done).
    unawaited: set[asyncio.Task[None]] = set()

    async def audit_quietly(*args: Any) -> None:
        with contextlib.suppress(DependencyUnavailable):
            await audit(*args)

    @app.api_route("/api/v1/{rest:path}", methods=ALL_METHODS, include_in_schema=False)
    async def gateway(request: Request, rest: str) -> Response:
        raw_path = (request.scope.get("raw_path") or b"").decode("ascii")
        match = table.match(request.method, raw_path)
        route = match.route
        principal: Principal | None = None
        decision: Decision | None = None
        try:
            principal = authenticator.authenticate(
                request.headers.get("authorization"), current_request_id()
            )
            limiter.check(f"{principal.kind}:{principal.subject}")
            body = await _read_body(request, settings.max_body_bytes)
            # The call session's level and verified customer (identity decides; see
            # callsessions.py). Refused sessions are 403; identity down is 503.
            principal = await call_sessions.apply(
                runtime.peers, principal, request.headers.get(CALL_SESSION_HEADER)
            )
            level = principal.assurance_level
            decision = runtime.policy.decide(
                principal.subject,
                principal.subsidiary or "-",
                route.resource,
                route.action,
                level,
                facts={
                    "assurance_level": ASSURANCE_LEVELS.index(level)
                    >= ASSURANCE_LEVELS.index(route.min_assurance)
                },
            )
            runtime.metrics.decisions.add(1, {"resource": route.resource})
            trace_attributes(
                decision_id=decision.decision_id, policy_version=decision.policy_version
            )
            if not decision.allowed:
                runtime.metrics.denials.add(1, {"resource": route.resource})
                raise Forbidden("; ".join(decision.reasons), decision_id=decision.decision_id)
            principal = replace(principal, decision_id=decision.decision_id)
            if route.service == "gateway":
                response = await policy_api.handle(match, body)
            else:
                assert runtime.signer is not None and runtime.http is not None
                token = runtime.signer.mint(
                    principal.subject,
                    f"anxin-{route.service}",
                    settings.internal_token_lifetime_seconds,
                    **principal.internal_claims(),
                )
                # A request that may change a call session ends the gateway's lease on it.
                changed = (
                    match.params.get("session_id")
                    if route.service == "identity" and request.method != "GET"
                    else None
                )
                if changed:
                    call_sessions.change_begins(changed)
                try:
                    async with bulkhead.slot(route.service):
                        upstream = await forward(
                            runtime.http,
                            settings.peer_url(route.service),
                            request.method,
                            raw_path,
                            request.url.query,
                            forward_headers(
                                list(request.headers.items()), token, current_request_id()
                            ),
                            body,
                        )
                finally:
                    if changed:
                        call_sessions.change_ends(changed)
                policy_api.replicas.saw(route.service, upstream.headers)
                if upstream.status_code >= 500:
                    raise DependencyUnavailable("the service behind this route failed")
                response = Response(
                    upstream.content, upstream.status_code, headers=response_headers(upstream)
                )
        except AnxinError as error:
            # Refused here, the call never reached the service that records the customer:
            # this event names the customer, so "who accessed" lists the attempt.
            customer_ref = match.params.get("customer_id")
            if isinstance(error, DependencyUnavailable):
                runtime.metrics.fail_closed.add(1, {"route": route.path})
                # A 503 discloses nothing and must not wait on a trail that may be down too.
                task = asyncio.create_task(
                    audit_quietly(
                        principal, decision, match, request, error.status, False, customer_ref
                    )
                )
                unawaited.add(task)
                task.add_done_callback(unawaited.discard)
                raise
            # Any other refusal (401, 403, ...) is answered only once its event is stored;
            # if the trail is down, this raises 503 instead: nothing acknowledged is lost.
            await audit(principal, decision, match, request, error.status, False, customer_ref)
            raise
        await audit(
            principal, decision, match, request, response.status_code, response.status_code < 400
        )
        return response

    def openapi() -> dict[str, Any]:
        return merged_openapi()

    app.openapi = openapi  # type: ignore[method-assign]
    mount_web(app)
    app.add_middleware(HygieneMiddleware, max_header_bytes=settings.max_header_bytes)
    instrument(
        app,
        "anxin-gateway",
        settings.otel_exporter,
        runtime.database.engine,
        trust_request_id=False,
    )
    return app


def __getattr__(name: str) -> Any:
    """`anxin_gateway.main:app` for uvicorn, built on first access (not at import)."""
    if name == "app":
        return served(create_app())
    raise AttributeError(name)
