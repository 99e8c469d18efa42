"""uvicorn's HTTP protocol for the predictor: TCP_NODELAY on every connection, and a
response's head and body sent in one write.

Without TCP_NODELAY a small response can wait for the client's delayed ACK (Nagle): a 40 ms
stall per request, measured here with uvicorn serving a socket it shares with several
workers. With it, uvicorn's two writes per response (head, then body) are two syscalls and
two packets; writes made in one turn of the event loop are therefore gathered and sent
together at the end of that turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GatheringTransport:
    """A transport whose writes within one loop turn go out as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class NoDelayProtocol(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # not every socket takes the option
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        gathering = GatheringTransport(transport, asyncio.get_running_loop())
        super().connection_made(cast(asyncio.Transport, gathering))
