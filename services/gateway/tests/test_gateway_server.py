"""The gateway's HTTP protocol keeps a request target that is not origin-form whole.

A real uvicorn server on a free port, the protocol the gateway runs under, and
raw request lines on a socket: httptools alone would hand the app only the path.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn

from anxin_gateway.hygiene import HygieneMiddleware
from anxin_gateway.server import PROTOCOL, GatewayHttpProtocol


async def echo_raw_path(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that answers with the raw path it was given."""
    if scope["type"] != "http":
        return
    body = scope["raw_path"]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def exchange(port: int, target: str) -> bytes:
    """Send one request with `target` on a fresh connection; the raw answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def serve_and_ask(app: Any, targets: list[str]) -> list[bytes]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=GatewayHttpProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        return [await exchange(port, target) for target in targets]
    finally:
        server.should_exit = True
        await task


def test_the_protocol_named_for_uvicorn_is_this_class() -> None:
    module, name = PROTOCOL.split(":")
    assert (module, name) == (GatewayHttpProtocol.__module__, GatewayHttpProtocol.__name__)


@pytest.mark.parametrize(
    ("target", "seen"),
    [
        ("/api/v1/customers/C000002", b"/api/v1/customers/C000002"),
        ("/api/v1/customers/C000002?x=1", b"/api/v1/customers/C000002"),
        (
            "http://evil.example/api/v1/customers/C000002",
            b"http://evil.example/api/v1/customers/C000002",
        ),
        (
            "http://127.0.0.1:8000/api/v1/customers/C000002",
            b"http://127.0.0.1:8000/api/v1/customers/C000002",
        ),
    ],
)
async def test_the_app_sees_the_target_as_sent(target: str, seen: bytes) -> None:
    [answer] = await serve_and_ask(echo_raw_path, [target])
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"\r\n\r\n" + seen)


async def test_hygiene_refuses_an_absolute_form_target_and_passes_its_path() -> None:
    guarded = HygieneMiddleware(echo_raw_path)
    absolute, plain = await serve_and_ask(
        guarded, ["http://evil.example/api/v1/customers/C000002", "/api/v1/customers/C000002"]
    )
    assert absolute.startswith(b"HTTP/1.1 400")
    assert plain.startswith(b"HTTP/1.1 200")
