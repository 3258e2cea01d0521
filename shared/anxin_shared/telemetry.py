"""Telemetry in one place: tracing, metrics and the request id.

`instrument(app)` is all a service calls. A tracer provider is always
installed (exporter `none` still yields trace ids, which audit events and
problem responses carry); `ANXIN_OTEL_EXPORTER` picks console or OTLP export.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from opentelemetry import metrics, propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from anxin_shared.context import new_request_id, received_var, request_id_var

logger = logging.getLogger("anxin.telemetry")
REQUEST_ID_HEADER = "x-request-id"
MAX_RECORDED_PATH = 512
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_configured = False


def configure_tracing(service_name: str, exporter: str = "none") -> None:
    """Install the process's tracer provider once (tests may install their own first)."""
    global _configured
    if _configured:
        return
    _configured = True
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    # With nowhere to send spans, none is recorded: each request still gets a trace id
    # (for its audit event, its problem responses and the services it calls), without
    # paying for attributes and events nobody will read (`benchmarks/gateway.py`).
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(ALWAYS_ON) if span_exporter is not None else ALWAYS_OFF,
    )
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)


def inject_trace_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add W3C trace-context headers for the current span to `headers`."""
    propagate.inject(headers)
    return headers


class RequestIdMiddleware:
    """Give every request an id (kept from a trusted upstream, else new) and echo it; note the
    method and raw path it arrived with."""

    def __init__(self, app: ASGIApp, trust_incoming: bool = False) -> None:
        self.app = app
        self.trust_incoming = trust_incoming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        if self.trust_incoming:
            for name, value in scope.get("headers", []):
                if name == b"x-request-id":
                    candidate = value.decode("latin-1")
                    if _SAFE_REQUEST_ID.match(candidate):
                        request_id = candidate
                    break
        request_id = request_id or new_request_id()
        # Each request runs in its own task context, so the id is not reset: the
        # outermost error handler still sees it when it renders a problem.
        request_id_var.set(request_id)
        # The path as this process received it (audit events record it: see audit_event.py).
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        received_var.set((scope["method"], raw_path.decode("latin-1")[:MAX_RECORDED_PATH]))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class Metrics:
    """The counters DESIGN.md names: decisions, denials, fail-closed events, outbox lag."""

    def __init__(self, service: str) -> None:
        self._meter = metrics.get_meter(f"anxin.{service}")
        self.decisions = self._meter.create_counter(
            "anxin_decisions_total", description="policy decisions taken"
        )
        self.denials = self._meter.create_counter(
            "anxin_denials_total", description="decisions that denied"
        )
        self.fail_closed = self._meter.create_counter(
            "anxin_fail_closed_total", description="calls refused because a dependency failed"
        )

    def observe_outbox(self, pending: Callable[[], int]) -> None:
        """Report the outbox lag (events waiting for delivery) whenever metrics are read."""

        def callback(_: CallbackOptions) -> Iterable[Observation]:
            try:
                yield Observation(pending())
            except Exception:  # the database may be down; report nothing this round
                return

        self._meter.create_observable_gauge(
            "anxin_outbox_pending", callbacks=[callback], description="events waiting in the outbox"
        )


def instrument(
    app: FastAPI,
    service_name: str,
    exporter: str = "none",
    engine: Engine | None = None,
    trust_request_id: bool = True,
) -> None:
    """Trace FastAPI for this app (and httpx and SQLAlchemy when spans are exported) and add
    the request id."""
    configure_tracing(service_name, exporter)
    # One server span per request; the per-message "receive"/"send" child spans cost
    # about 5% of the gateway's CPU under load (py-spy) and carry nothing we read.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz", exclude_spans=["receive", "send"]
    )
    # Client and database spans only where spans go somewhere: with no exporter nothing is
    # recorded, and their hooks cost about 0.1 ms per call (`benchmarks/gateway.py`). The
    # trace context still crosses every hop: callers inject it (`inject_trace_headers`).
    if exporter != "none":
        instrumentor = HTTPXClientInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
        if engine is not None:
            SQLAlchemyInstrumentor().instrument(engine=engine)
    app.add_middleware(RequestIdMiddleware, trust_incoming=trust_request_id)


def trace_attributes(**attributes: Any) -> None:
    """Attach attributes to the current span (masked identifiers only)."""
    span = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(f"anxin.{key}", value)
