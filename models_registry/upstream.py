"""The web door's HTTP/1.1 client to the predictor: a pool of kept-alive connections.

Each connection is an asyncio protocol that feeds what it receives to httptools' response
parser (the C parser uvicorn's own server side uses), so forwarding a prediction costs the
web process little more than its socket writes: asyncio's streams cost a future and a Python
header loop per answer on top. A connection left idle long enough for the predictor to be
closing it is not used again: sending on it would lose the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from urllib.parse import urlsplit

import httptools

# Under uvicorn's 5 s keep-alive timeout on the predictor's side: a connection idle longer
# may be closed by the predictor while a request is on its way on it.
IDLE_LIMIT_S = 4.0

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class UpstreamGone(ConnectionError):
    """The predictor closed the connection before the whole answer arrived."""


class _Connection(asyncio.Protocol):
    """One kept-alive connection, one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[tuple[Answer, bool]] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self.lost = False
        self.idle_since = 0.0

    # asyncio's protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(UpstreamGone("The predictor closed the connection."))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ValueError(f"The predictor's answer is not valid HTTP: {exc}"))
            self.close()

    # httptools' parser callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer = self._answer
        if answer is None or answer.done():
            self.close()  # bytes nobody asked for: this connection's state is unknown
            return
        status = self._parser.get_status_code()
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        answer.set_result(((status, self._headers, body), self._parser.should_keep_alive()))

    def _fail(self, exc: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)

    async def exchange(self, request: bytes) -> tuple[Answer, bool]:
        """Send one request; its answer and whether the connection may be used again."""
        assert self._transport is not None
        self._headers, self._body = [], []
        self._answer = self._loop.create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.close()


class Upstream:
    """Posts to the predictor over kept-alive connections, one request per connection at a
    time; at most `pool` of them are kept idle."""

    def __init__(self, base_url: str, pool: int = 128) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._idle: list[_Connection] = []
        self._pool = pool

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            lambda: _Connection(loop), self.host, self.port
        )
        return connection

    def _kept(self) -> _Connection | None:
        """The most recently used idle connection that is still safe to send on."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.lost and now - connection.idle_since < IDLE_LIMIT_S:
                return connection
            connection.close()
        return None

    async def post(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        head = [f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n".encode()]
        head += [k + b": " + v + b"\r\n" for k, v in headers]
        head.append(b"content-length: %d\r\n\r\n" % len(body))
        request = b"".join(head) + body
        kept = self._kept()
        connection = kept or await self._connect()
        try:
            answer, reusable = await connection.exchange(request)
        except UpstreamGone:
            connection.close()
            if kept is None:
                raise
            # A kept-alive connection the predictor closed as this request went out: once
            # more on a new one (a prediction changes nothing, so it may be sent twice).
            connection = await self._connect()
            try:
                answer, reusable = await connection.exchange(request)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            # Cancelled (the browser went away) or refused mid-answer: the connection is in
            # the middle of an exchange, so it cannot serve another one.
            connection.close()
            raise
        if reusable and not connection.lost and len(self._idle) < self._pool:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
