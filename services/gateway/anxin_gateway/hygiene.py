"""Path and header hygiene, applied before routing.

A path is refused with 400 unless it is plain ASCII from a small alphabet and
free of dot segments, empty segments (`//`), parameters (`;`), backslashes and
percent-escapes: our API needs none of them, and each is a known way to make
the authorized path differ from the forwarded one. The raw bytes are checked,
not the decoded path. A query that names a parameter twice is refused with 400
too (no route takes a list in its query, and which copy a service reads is
parameter pollution). Oversized headers are refused with 431.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from anxin_shared.errors import PROBLEM_CONTENT_TYPE, problem_body

_ALLOWED_PATH = re.compile(rb"^/[A-Za-z0-9._~:/-]*$")


def path_problem(raw_path: bytes) -> str | None:
    """Why this raw path is refused, or None when it is clean."""
    if not _ALLOWED_PATH.match(raw_path):
        return "the path holds characters or escapes that are not allowed"
    if b"//" in raw_path:
        return "the path holds an empty segment"
    segments = raw_path.split(b"/")
    if any(segment in (b".", b"..") for segment in segments):
        return "the path holds a dot segment"
    return None


def query_problem(query_string: bytes) -> str | None:
    """Why this raw query is refused (a parameter named twice), or None."""
    if not query_string:
        return None
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    if len(names) != len(set(names)):
        return "the query names a parameter more than once"
    return None


class HygieneMiddleware:
    """Refuse malformed paths (400) and oversized headers (431) before anything else."""

    def __init__(self, app: ASGIApp, max_header_bytes: int = 16 << 10) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        problem = path_problem(raw_path) or query_problem(scope.get("query_string") or b"")
        if problem is not None:
            await self._refuse(scope, receive, send, 400, "bad-request", "Bad request", problem)
            return
        size = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))
        if size > self.max_header_bytes:
            await self._refuse(
                scope,
                receive,
                send,
                431,
                "header-too-large",
                "Request header fields too large",
                "the request headers are too large",
            )
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, type_: str, title: str, detail: str
    ) -> None:
        response = JSONResponse(
            problem_body(status, type_, title, detail),
            status_code=status,
            media_type=PROBLEM_CONTENT_TYPE,
        )
        await response(scope, receive, send)
