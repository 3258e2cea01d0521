"""The fault proxy itself, against a local echo server: each mode does what it says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.faults.proxy import FaultProxy
from tests.support import free_ports


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    upstream_port = server.sockets[0].getsockname()[1]
    fault_proxy = FaultProxy("echo", "127.0.0.1", upstream_port, free_ports(1)[0])
    await fault_proxy.listen()
    yield fault_proxy
    await fault_proxy.close()
    server.close()


async def _roundtrip(proxy: FaultProxy, payload: bytes, wait: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), wait)
    finally:
        writer.close()


async def test_pass_and_slow_deliver_every_byte(proxy: FaultProxy) -> None:
    assert await _roundtrip(proxy, b"hello through the proxy") == b"hello through the proxy"
    await proxy.set_mode("slow", 0.05)
    assert await _roundtrip(proxy, b"slowly") == b"slowly"


async def test_kill_refuses_and_pass_listens_again(proxy: FaultProxy) -> None:
    await proxy.set_mode("kill")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)
    await proxy.set_mode("pass")
    assert await _roundtrip(proxy, b"back") == b"back"


async def test_hang_accepts_but_never_answers(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    await proxy.set_mode("hang")
    writer.write(b"anyone there?")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    # Leaving the hang breaks the connection it held, as a black hole finally does.
    await proxy.set_mode("pass")
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(13), 2.0)
    writer.close()


async def test_reset_cuts_the_answer_with_an_rst(proxy: FaultProxy) -> None:
    await proxy.set_mode("reset")
    payload = b"a request long enough to be cut in the middle"
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await _roundtrip(proxy, payload)
