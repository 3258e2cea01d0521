"""The service runtime: what every Anxin service is made of, assembled once.

`create_service_app` builds a FastAPI app with problem-details errors,
telemetry, `/healthz` and `/readyz`, the policy engine (hot-reloaded), the
service's own database (migrated at start in dev), its outbox relay, and
inbound authentication. Routers passed as `public` are mounted with the
internal-token dependency attached ("all routes authenticated by default");
`internal` routers accept only signed service tokens; a route that must be
open, like the health checks, is declared here and nowhere else.

Every response of a backend names the replica that answered and the policy
version it enforces (`X-Anxin-Instance`, `X-Anxin-Policy-Version`), and so
does `/readyz`: the gateway keeps the last sighting of each replica (it never
passes these headers on to clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anxin_shared.auth import InternalAuth, internal_verifier
from anxin_shared.db import Database
from anxin_shared.errors import Forbidden, Unauthenticated, install_problem_handlers
from anxin_shared.http import ServiceClient, make_async_client
from anxin_shared.keys import ensure_dev_keys
from anxin_shared.outbox import DELIVERY_ROUTES, OutboxRelay, Sender
from anxin_shared.policy import PolicyEngine, PolicyLoadError
from anxin_shared.policy_audit import audit_policy_changes
from anxin_shared.principal import Principal
from anxin_shared.settings import SERVICES, ServiceSettings
from anxin_shared.telemetry import Metrics, instrument
from anxin_shared.tokens import TokenSigner, service_signer

logger = logging.getLogger("anxin.app")

INSTANCE_HEADER = "x-anxin-instance"
POLICY_VERSION_HEADER = "x-anxin-policy-version"


def instance_id() -> str:
    """This process as a replica: host name (the pod's, in Kubernetes) and process id."""
    return _instance_of(os.getpid())


@functools.cache
def _instance_of(pid: int) -> str:
    # Every response names its replica: the host name is looked up once per process.
    return f"{socket.gethostname()}:{pid}"


# Sync endpoints run on anyio's 40 worker threads, and a request holding SQLite's write
# lock needs a free thread to finish (FastAPI validates the response and the session
# commits there). Unbounded, 40 waiting requests took every thread and the lock holder
# never finished: the service locked up for minutes. At most this many requests are
# admitted at once; the rest wait on the event loop, where waiting costs no thread.
MAX_IN_FLIGHT = 32
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})


class InFlightLimit:
    """ASGI middleware: at most `limit` HTTP requests of this process are being served."""

    def __init__(self, app: ASGIApp, limit: int = MAX_IN_FLIGHT) -> None:
        self.app = app
        self._slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        async with self._slots:
            await self.app(scope, receive, send)


class ReplicaHeaders:
    """ASGI middleware: each HTTP response names this replica and its policy version."""

    def __init__(self, app: ASGIApp, runtime: ServiceRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((INSTANCE_HEADER.encode(), instance_id().encode()))
                version = self.runtime.policy.version or "none"
                headers.append((POLICY_VERSION_HEADER.encode(), version.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class ServiceRuntime:
    """Everything a service's dependencies need, created once per process."""

    settings: ServiceSettings
    database: Database
    policy: PolicyEngine
    metrics: Metrics
    signer: TokenSigner | None = None
    auth: InternalAuth | None = None
    http: httpx.AsyncClient | None = None
    peers: ServiceClient | None = None
    relay: OutboxRelay | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The service name."""
        return self.settings.service

    def require_principal(self, request: Request) -> Principal:
        """Dependency: the gateway-vouched principal of this request."""
        if self.auth is None:
            raise Unauthenticated("service keys are not loaded")
        return self.auth.principal(request)

    def require_service(self, resource: str, action: str) -> Callable[[Request], Principal]:
        """Dependency factory: a peer service the policy lets take `action` on `resource`."""

        def dependency(request: Request) -> Principal:
            if self.auth is None:
                raise Unauthenticated("service keys are not loaded")
            caller = self.auth.service_caller(request)
            decision = self.policy.decide(caller.subject, "group", resource, action, "L0")
            if not decision.allowed:
                raise Forbidden(
                    "this service may not call this operation", decision_id=decision.decision_id
                )
            return caller

        return dependency

    async def deliver(self, topic: str, events: list[dict[str, Any]]) -> None:
        """Outbox sender: deliver a batch to every destination of its topic, signed."""
        if self.peers is None:
            raise RuntimeError("no peer client")
        destinations = DELIVERY_ROUTES.get(topic)
        if not destinations:
            raise RuntimeError(f"no destination for outbox topic {topic}")
        for peer, path in destinations:
            response = await self.peers.call(peer, "POST", path, json={"events": events})
            if response.status_code >= 300:
                raise RuntimeError(f"{peer} refused the {topic} batch: {response.status_code}")


def build_runtime(settings: ServiceSettings, migrations_dir: Path | None) -> ServiceRuntime:
    """Create the runtime (no I/O beyond opening the database engine)."""
    return ServiceRuntime(
        settings=settings,
        database=Database(str(settings.database_url), migrations_dir),
        policy=PolicyEngine(settings.policies_dir, shadow_dir=settings.policy_shadow_dir),
        metrics=Metrics(settings.service),
    )


def _load_keys(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    keys_dir = Path(str(settings.keys_dir))
    if settings.is_dev:
        ensure_dev_keys(keys_dir)
    # Key id from ANXIN_<SERVICE>_SIGNING_KEY_ID (default: the service name), so a new
    # key can be published to every verifier first and switched to afterwards.
    runtime.signer = service_signer(settings.service, keys_dir)
    if settings.service != "gateway":
        runtime.auth = InternalAuth(internal_verifier(settings.service, keys_dir))


async def start_runtime(
    runtime: ServiceRuntime,
    relay_sender: Sender | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Keys, migrations, policy, peers and background tasks, in that order."""
    settings = runtime.settings
    _load_keys(runtime)
    if settings.auto_migrate and runtime.database.migrations_dir is not None:
        await asyncio.to_thread(runtime.database.migrate)
    # Every version change and refused reload becomes an audit event (from the worker thread).
    runtime.policy.on_change = audit_policy_changes(runtime.database, settings.service)
    try:
        await asyncio.to_thread(runtime.policy.load)
    except PolicyLoadError as exc:
        runtime.policy.last_error = str(exc)
        logger.error("policy not loaded; every decision is a deny until it is: %s", exc)
    runtime.http = make_async_client(settings.upstream_timeout_seconds, transport=http_transport)
    assert runtime.signer is not None
    runtime.peers = ServiceClient(
        settings.service,
        runtime.signer,
        {peer: settings.peer_url(peer) for peer in SERVICES if peer != "gateway"},
        runtime.http,
    )
    runtime.tasks.append(asyncio.create_task(runtime.policy.watch(settings.policy_reload_seconds)))
    runtime.relay = OutboxRelay(
        runtime.database,
        relay_sender or runtime.deliver,
        interval=settings.outbox_interval_seconds,
    )
    runtime.tasks.append(asyncio.create_task(runtime.relay.run()))
    runtime.metrics.observe_outbox(runtime.relay.lag)


def served(app: FastAPI) -> FastAPI:
    """`app` as a server process runs it: once startup is done, the heap built so far
    (modules, policy, models, caches) is frozen out of the cyclic garbage collector.

    Without it each full collection walked every object of the process and paused it
    for 90-180 ms every few seconds under load: the p99 of every service
    (`benchmarks/gateway.py`). Not for apps built in tests, which come and go in one
    process: frozen objects are never collected."""
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with started(application) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan
    return app


async def stop_runtime(runtime: ServiceRuntime) -> None:
    """Cancel background tasks and close the pooled client."""
    for task in runtime.tasks:
        task.cancel()
    for task in runtime.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    runtime.tasks.clear()
    if runtime.http is not None:
        await runtime.http.aclose()
    runtime.database.engine.dispose()


def add_health_routes(app: FastAPI, runtime: ServiceRuntime) -> None:
    """`/healthz` (alive) and `/readyz` (database reachable, policy loaded): open by design."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        database_ok = await asyncio.to_thread(runtime.database.ping)
        ready = database_ok and runtime.policy.loaded
        body = {
            "status": "ready" if ready else "not-ready",
            "service": runtime.name,
            "instance": instance_id(),
            "database": "ok" if database_ok else "unreachable",
            "policy_version": runtime.policy.version,
            "policy_error": runtime.policy.last_error,
            "shadow": runtime.policy.shadow_status(),
        }
        return JSONResponse(body, status_code=200 if ready else 503)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    migrations_dir: Path | None,
    public: Sequence[APIRouter] = (),
    internal: Sequence[APIRouter] = (),
    relay_sender_factory: Callable[[ServiceRuntime], Sender] | None = None,
    on_start: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Assemble a backend service (identity, consent, profile, audit)."""
    runtime = build_runtime(settings, migrations_dir)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sender = relay_sender_factory(runtime) if relay_sender_factory else None
        await start_runtime(runtime, sender, http_transport)
        if on_start is not None:
            await on_start(runtime)
        yield
        await stop_runtime(runtime)

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    add_health_routes(app, runtime)
    for router in public:
        app.include_router(router, dependencies=[Depends(current_principal)])
    for router in internal:
        app.include_router(router)
    app.add_middleware(ReplicaHeaders, runtime=runtime)
    app.add_middleware(InFlightLimit)
    instrument(app, f"anxin-{settings.service}", settings.otel_exporter, runtime.database.engine)
    return app


# The dependencies here are `async def`: they do no I/O, and FastAPI runs a plain `def`
# dependency on a worker thread, a hop that cost about 0.1 ms of CPU per dependency and
# request (`benchmarks/gateway.py`).


def runtime_of(request: Request) -> ServiceRuntime:
    """The runtime of the app serving this request."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> ServiceRuntime:
    """Dependency: the runtime of the app serving this request."""
    return runtime_of(request)


async def current_principal(request: Request) -> Principal:
    """Dependency: the gateway-vouched principal (verified once per request)."""
    return runtime_of(request).require_principal(request)
