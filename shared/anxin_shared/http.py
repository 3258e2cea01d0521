"""HTTP between services: one pooled client, service tokens, trace propagation.

The client keeps httpx's API on the aiohttp transport: httpx's default
transport collapses under concurrency (encode/httpx#3215; see DESIGN.md).
A peer that is down, slow or answers 5xx becomes `DependencyUnavailable`, so
callers fail closed with 503.
"""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from anxin_shared.context import current_request_id
from anxin_shared.errors import DependencyUnavailable
from anxin_shared.telemetry import inject_trace_headers
from anxin_shared.tokens import SERVICE_TOKEN_LIFETIME, TokenSigner

_tracer = trace.get_tracer("anxin.http")


def make_async_client(
    timeout: float = 5.0,
    max_connections: int = 200,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The pooled client a service keeps for its whole life.

    It keeps no cookies: one client carries every user's calls, so a cookie one
    answer set must never ride along on the next call (no domain is allowed)."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        transport=transport or AiohttpTransport(limits=limits, trust_env=False),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
    )


class ServiceClient:
    """Calls another Anxin service with this service's signed token."""

    def __init__(
        self,
        service: str,
        signer: TokenSigner,
        peer_urls: dict[str, str],
        client: httpx.AsyncClient,
    ) -> None:
        self.service = service
        self.signer = signer
        self.peer_urls = peer_urls
        self.client = client

    def token_for(self, peer: str, decision_id: str | None = None) -> str:
        """A short-lived token from this service to `peer`."""
        return self.signer.mint(
            f"service:{self.service}",
            f"anxin-{peer}",
            SERVICE_TOKEN_LIFETIME,
            kind="service",
            subsidiary="group",
            request_id=current_request_id(),
            decision_id=decision_id,
        )

    async def call(
        self,
        peer: str,
        method: str,
        path: str,
        decision_id: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request to `peer`; 5xx, timeouts and refused connections raise 503."""
        headers = dict(kwargs.pop("headers", None) or {})
        headers["authorization"] = f"Bearer {self.token_for(peer, decision_id)}"
        headers["x-request-id"] = current_request_id()
        url = self.peer_urls[peer].rstrip("/") + path
        with _tracer.start_as_current_span(f"{method} {peer}", kind=SpanKind.CLIENT) as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("anxin.peer", peer)
            inject_trace_headers(headers)
            try:
                response = await self.client.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise DependencyUnavailable(f"{peer} is unavailable") from exc
            span.set_attribute("http.response.status_code", response.status_code)
        if response.status_code >= 500:
            raise DependencyUnavailable(f"{peer} answered {response.status_code}")
        return response
