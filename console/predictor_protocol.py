"""uvicorn's HTTP protocol with TCP_NODELAY set on every connection, whatever the loop and
however uvicorn made the socket.

Without it a small response can wait for the client's delayed ACK (Nagle): a 40 ms stall per
request, measured here with uvicorn serving a socket it shares with several workers.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayProtocol(HttpToolsProtocol):
    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # not every socket takes the option
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
