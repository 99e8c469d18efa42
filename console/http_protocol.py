"""uvicorn's HTTP protocol, able to lend a request's socket to the app for its body, and to
leave a request out of the access log (`QUIET`).

Through ASGI every body byte is read by the event loop, copied into uvicorn's buffer, copied
again into a message, and handed over in pieces of at most a few hundred KiB, each with its
own pause and resume of reading. For the upload of a large file that per-chunk work costs
more than hashing and writing the bytes. Requests with a `Content-Length` therefore get a
`console.body_socket` scope extension: an app that wants the body raw takes the socket (reading
stops, the bytes already parsed come back), reads exactly the rest of the body itself, and
gives it back. Any other app never notices. Run uvicorn with `--http
console.http_protocol:BodySocketProtocol`; without it, apps fall back to `receive()`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

EXTENSION = "console.body_socket"
# Every HTTP request's scope also holds a callable under this name: called before the answer
# starts, it leaves the request out of the access log. A line costs about as much as a
# forwarded prediction (models_registry.door), which has its own counts.
QUIET = "console.quiet"


class BodySocket:
    """The socket of one request whose body the app reads itself."""

    def __init__(self, protocol: BodySocketProtocol, content_length: int) -> None:
        self._protocol = protocol
        self._cycle = protocol.cycle
        self.content_length = content_length
        self.taken = False

    def take(self) -> tuple[bytes, int, int]:
        """Stop the server reading this connection; return the body bytes it already holds,
        the socket's file descriptor, and how many body bytes are still to come on it."""
        protocol, cycle = self._protocol, self._cycle
        if self.taken or protocol.cycle is not cycle or cycle.response_complete:
            raise RuntimeError("The body of this request is not the app's to take.")
        self.taken = True
        if cycle.waiting_for_100_continue and not protocol.transport.is_closing():
            # A client that sent `Expect: 100-continue` (curl does for large bodies) waits
            # for this before the body; receive() would have sent it.
            protocol.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        protocol.flow.pause_reading()
        held = bytes(cycle.body)
        cycle.body = bytearray()
        remaining = self.content_length - protocol.body_seen
        return held, protocol.transport.get_extra_info("socket").fileno(), remaining

    def give_back(self, *, complete: bool) -> None:
        """Hand the socket back. When exactly the rest of the body was read, the next bytes
        start a new request and the connection stays open; otherwise it closes after the
        response."""
        cycle = self._cycle
        cycle.more_body = False
        if complete:
            # The parser still expects the body it never saw: a fresh one starts at the next
            # request, as the old one would have.
            self._protocol.parser = httptools.HttpRequestParser(self._protocol)
        else:
            cycle.keep_alive = False


class BodySocketProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that offers `console.body_socket` to requests with a Content-Length."""

    body_seen = 0
    body_socket: BodySocket | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.body_seen = 0
        self.body_socket = None

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if self.scope.get("type") != "http" or cycle is None or cycle.scope is not self.scope:
            return  # a websocket upgrade, which has no cycle of its own
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[QUIET] = partial(setattr, cycle, "access_log", False)
        if self.scheme == "https":
            return  # under TLS the socket holds encrypted records, not the body
        lengths = [v for k, v in self.headers if k == b"content-length"]
        if len(lengths) != 1 or any(k == b"transfer-encoding" for k, _ in self.headers):
            return
        try:
            length = int(lengths[0])
        except ValueError:
            return
        if length <= 0:
            return
        self.body_socket = BodySocket(self, length)
        extensions[EXTENSION] = self.body_socket

    def on_body(self, body: bytes) -> None:
        if self.body_socket is not None and self.body_socket.taken:
            return
        self.body_seen += len(body)
        super().on_body(body)
