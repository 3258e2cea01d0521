"""A small asyncio TCP fault proxy (toxiproxy is not available here).

One `FaultProxy` listens on a local port and pipes bytes to one upstream
(a service or the PostgreSQL server). Its mode decides what a connection sees:

- `pass`: bytes flow both ways untouched;
- `kill`: the listener is closed (new connections are refused) and every open
  connection is reset;
- `hang`: connections are accepted and their bytes swallowed in both
  directions, so nothing is ever answered; leaving `hang` resets them (the
  way a black-holed TCP connection finally breaks);
- `slow`: every chunk towards the client is delayed by `latency` seconds;
- `reset`: requests still reach the upstream, but the first answer is cut
  after a few bytes and the connection reset (RST) mid-stream.

`ProxyGroup` runs several proxies on one event loop in a background thread,
so a synchronous harness can switch modes while its load threads run.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any

MODES = ("pass", "kill", "hang", "slow", "reset")
CHUNK = 65536


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), not with a polite FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Connection:
    """One client connection and, once opened, its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None and not writer.transport.is_closing():
                _reset(writer)


class FaultProxy:
    """A TCP proxy from a local port to `upstream_host:upstream_port`, with a fault mode."""

    def __init__(self, name: str, upstream_host: str, upstream_port: int, port: int) -> None:
        self.name = name
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = port
        self.mode = "pass"
        self.latency = 0.0
        self.server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()

    @property
    def address(self) -> str:
        """`host:port` clients connect to."""
        return f"127.0.0.1:{self.port}"

    async def listen(self) -> None:
        """Start (or restart) listening on the proxy's port."""
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )

    async def close(self) -> None:
        """Stop listening and reset every open connection."""
        if self.server is not None:
            self.server.close()
            self.server = None
        self._reset_all()

    def _reset_all(self) -> None:
        for connection in list(self.connections):
            connection.reset()
        self.connections.clear()

    async def set_mode(self, mode: str, latency: float = 0.0) -> None:
        """Switch the fault mode; connections a fault has broken are reset."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        old, self.mode, self.latency = self.mode, mode, latency
        if mode == "kill":
            await self.close()
        elif old == "kill":
            await self.listen()
        elif old == "hang":
            self._reset_all()  # their swallowed bytes left the protocol in pieces

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer)
        self.connections.add(connection)
        try:
            if self.mode == "hang":
                await self._swallow(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                _reset(writer)
                return
            connection.upstream = up_writer
            await asyncio.gather(
                self._pipe(reader, up_writer, connection, towards_client=False),
                self._pipe(up_reader, writer, connection, towards_client=True),
            )
        except (OSError, asyncio.IncompleteReadError):
            connection.reset()
        finally:
            self.connections.discard(connection)
            with contextlib.suppress(Exception):
                writer.close()
            if connection.upstream is not None:
                with contextlib.suppress(Exception):
                    connection.upstream.close()

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(CHUNK):
            pass

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection: _Connection,
        *,
        towards_client: bool,
    ) -> None:
        while data := await reader.read(CHUNK):
            mode = self.mode
            if mode == "hang":
                continue
            if towards_client and mode == "slow":
                await asyncio.sleep(self.latency)
            if towards_client and mode == "reset":
                writer.write(data[: max(1, min(16, len(data) // 2))])
                await writer.drain()
                await asyncio.sleep(0.01)
                connection.reset()
                return
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof() and not writer.transport.is_closing():
            with contextlib.suppress(OSError):
                writer.write_eof()


class ProxyGroup:
    """Several fault proxies on one event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.proxies: dict[str, FaultProxy] = {}
        self.thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def add(self, name: str, upstream_host: str, upstream_port: int, port: int) -> FaultProxy:
        """Start a proxy in `pass` mode on `port`."""
        proxy = FaultProxy(name, upstream_host, upstream_port, port)
        self._run(proxy.listen())
        self.proxies[name] = proxy
        return proxy

    def set_mode(self, name: str, mode: str, latency: float = 0.0) -> None:
        """Switch one proxy's mode (from any thread)."""
        self._run(self.proxies[name].set_mode(mode, latency))

    def close(self) -> None:
        """Close every proxy and stop the loop."""
        for proxy in self.proxies.values():
            self._run(proxy.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
