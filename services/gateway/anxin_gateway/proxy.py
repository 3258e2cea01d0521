"""Forwarding an authorized request to the service that owns it.

Only an allow-list of request headers crosses the gateway; identity headers a
client sets (`X-User*`, `X-Roles`, `X-Subsidiary`, `Forwarded`,
`X-Forwarded-*`, method overrides) never do. The path forwarded is the path
that was authorized, byte for byte; the service learns who is calling only
from the internal token.

A bulkhead keeps at most `MAX_IN_FLIGHT_PER_SERVICE` requests in flight to
each service; the others wait their turn (within the upstream timeout, then
503). A backend runs its handlers on 40 worker threads: driven past that with
SQLite writes pending, it stalls until its 30 s lock timeout (found by
`benchmarks/gateway.py`), so the gateway does not push a burst of 200 into it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.telemetry import inject_trace_headers

FORWARDED_REQUEST_HEADERS = frozenset(
    {"accept", "accept-language", "content-type", "if-match", "if-none-match", "user-agent"}
)
RETURNED_RESPONSE_HEADERS = frozenset(
    {"content-type", "etag", "cache-control", "location", "retry-after", "allow"}
)
MAX_IN_FLIGHT_PER_SERVICE = 32


class Bulkhead:
    """At most `limit` requests in flight to each service; the rest wait, up to `timeout`."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self._slots: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, service: str) -> AsyncIterator[None]:
        """Hold one of `service`'s slots; 503 when none frees up in time."""
        semaphore = self._slots.setdefault(service, asyncio.Semaphore(self.limit))
        try:
            async with asyncio.timeout(self.timeout):
                await semaphore.acquire()
        except TimeoutError as exc:
            raise DependencyUnavailable("the service behind this route is saturated") from exc
        try:
            yield
        finally:
            semaphore.release()


def forward_headers(
    incoming: list[tuple[str, str]], internal_token: str, request_id: str
) -> dict[str, str]:
    """The headers sent upstream: the allow-list, the internal token, request and trace ids."""
    headers = {
        name.lower(): value for name, value in incoming if name.lower() in FORWARDED_REQUEST_HEADERS
    }
    headers["authorization"] = f"Bearer {internal_token}"
    headers["x-request-id"] = request_id
    inject_trace_headers(headers)
    return headers


async def forward(
    client: httpx.AsyncClient,
    base_url: str,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> httpx.Response:
    """Send the request upstream; a peer that is down or times out is a 503."""
    url = base_url.rstrip("/") + raw_path + (f"?{query}" if query else "")
    try:
        return await client.request(method, url, headers=headers, content=body or None)
    except httpx.HTTPError as exc:
        raise DependencyUnavailable("the service behind this route is unavailable") from exc


def response_headers(upstream: httpx.Response) -> dict[str, str]:
    """The upstream headers a client may see."""
    headers = {
        name: value
        for name, value in upstream.headers.items()
        if name.lower() in RETURNED_RESPONSE_HEADERS
    }
    headers["cache-control"] = "no-store"
    return headers
