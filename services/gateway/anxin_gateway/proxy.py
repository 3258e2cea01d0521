"""Forwarding an authorized request to the service that owns it.

Only an allow-list of request headers crosses the gateway; identity headers a
client sets (`X-User*`, `X-Roles`, `X-Subsidiary`, `Forwarded`,
`X-Forwarded-*`, method overrides) never do. The path forwarded is the path
that was authorized, byte for byte; the service learns who is calling only
from the internal token.
"""

from __future__ import annotations

import httpx

from anxin_shared.errors import DependencyUnavailable
from anxin_shared.telemetry import inject_trace_headers

FORWARDED_REQUEST_HEADERS = frozenset(
    {"accept", "accept-language", "content-type", "if-match", "if-none-match", "user-agent"}
)
RETURNED_RESPONSE_HEADERS = frozenset(
    {"content-type", "etag", "cache-control", "location", "retry-after", "allow"}
)


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
