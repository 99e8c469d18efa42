"""The web process's server: uvicorn with the console's settings, on a port of its own or on a
listening socket it was handed.

    python -m console.webserver console.asgi:application --host 0.0.0.0 --port 8000
    python -m console.webserver console.asgi:application --fd 3 [--loads 4 --slot 0]

`runconsole` makes one listening socket and hands it to each of its web processes (`--fd`):
they take turns at its one queue of connections, so a burst of API calls is answered on more
than one core, and a web process that stops or dies leaves new connections to the others (or
to its restart) instead of refusing them. uvicorn's own `--fd` duplicates the descriptor and keeps
the original open, so a process told to stop would still hold the socket; here the socket is
the descriptor itself, and closing it at shutdown lets go of the last reference this process
has. uvicorn's `--workers` does not fit either: its parent keeps the socket while its workers
drain, so a stopping console still took connections it would never answer.

Which process takes a new connection matters, because a keep-alive connection stays with the
process that accepted it. The kernel wakes every process waiting on the socket and the first to
call accept() wins, often the same process again and again: of 20 clients connecting at once,
one of two web processes took 13, 14, 15 and 19 in four of five tries, and answered that share
of their calls on its one core. So the processes take the connection with the fewest
open connections, as a load balancer's "least connections" does: each writes its count into
its slot of a small shared table (`--loads`, made by runconsole) and leaves a new connection
to a process with fewer, for a moment; if none of those takes it (busy, or restarting), it
takes it itself.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import mmap
import os
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Any, cast

import uvicorn

logger = logging.getLogger(__name__)

# How long the web lets its in-flight requests finish after SIGTERM while it takes no new ones
# (uvicorn would otherwise wait for them without limit). A PATCH of a few MiB of an upload ends
# well within it; a longer one is cut there, and its client resumes from the offset the server
# recorded (tus). The predictor has the same grace (runconsole).
SERVER_GRACE_SECONDS = 10


def config(app: str, *, host: str = "127.0.0.1", port: int = 8000) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # Uploads read their bodies straight from the socket under this protocol.
        http="console.http_protocol:BodySocketProtocol",
        lifespan="off",
        timeout_graceful_shutdown=SERVER_GRACE_SECONDS,
        # Progress events are small: compressing each frame for each watcher took 40 % of the
        # web's CPU at 500 watchers of one job (docs/benchmarks.md) and saved little.
        ws_per_message_deflate=False,
    )


# How long a process leaves a new connection to a process with fewer open connections. At 1 ms
# a process busy answering calls often reached its accept() too late, and the split of 20
# clients stayed 6 to 14; at 5 ms it was 9 to 11 or even in each of four tries.
DEFER_SECONDS = 0.005
_SLOT = struct.Struct("<q")


class Loads:
    """Open connections of each web process, in a table of 8-byte slots they all map (a memfd
    from runconsole). A count read while another process writes it is a moment old, which
    does not matter to a choice of process."""

    def __init__(self, fd: int, slot: int) -> None:
        self.table = mmap.mmap(fd, 0)
        self.slot = slot
        self.slots = len(self.table) // _SLOT.size
        if not 0 <= slot < self.slots:
            raise ValueError(f"slot {slot} is not one of the table's {self.slots}")

    @staticmethod
    def create(processes: int) -> int:
        """A table for this many processes, all at 0: its descriptor, for pass_fds."""
        fd = os.memfd_create("web-loads")
        os.ftruncate(fd, _SLOT.size * processes)
        return fd

    def publish(self, count: int) -> None:
        _SLOT.pack_into(self.table, self.slot * _SLOT.size, count)

    def fewest_of_others(self) -> int:
        others = [
            _SLOT.unpack_from(self.table, i * _SLOT.size)[0]
            for i in range(self.slots)
            if i != self.slot
        ]
        return min(others, default=sys.maxsize)


class TurnTaker:
    """Accepts connections on a listening socket shared with other processes, leaving each to
    the one with the fewest open connections (Loads); stands where uvicorn keeps its asyncio
    servers (close, wait_closed). Without a table it takes every connection it can."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        connections: set[Any],
        loads: Loads | None,
    ) -> None:
        self.loop, self.sock, self.protocol_factory = loop, sock, protocol_factory
        self.connections, self.loads = connections, loads
        self.deferred = False
        self.starting = 0  # accepted, and not yet among uvicorn's connections
        self.resume: asyncio.TimerHandle | None = None
        self.closed = False
        sock.setblocking(False)
        self.publish()
        loop.add_reader(sock.fileno(), self._accept)

    def open_connections(self) -> int:
        return len(self.connections) + self.starting

    def publish(self) -> None:
        if self.loads is not None:
            self.loads.publish(self.open_connections())

    def _accept(self) -> None:
        if self.loads is not None and not self.deferred:
            self.publish()
            if self.open_connections() > self.loads.fewest_of_others():
                # Leave it to a process with fewer; take it after all if it is still waiting.
                self.deferred = True
                self._step_back(DEFER_SECONDS)
                return
        self.deferred = False
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another process took it
        except OSError as exc:  # out of descriptors, say: try again in a while
            logger.warning("accept() failed: %s", exc)
            self._step_back(1.0)
            return
        self.starting += 1
        self.publish()
        self.loop.create_task(self._serve(conn))

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.protocol_factory, conn)
        except OSError:
            conn.close()  # the client left before its connection was set up
        finally:
            self.starting -= 1

    def _step_back(self, seconds: float) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.resume = self.loop.call_later(seconds, self._take_turns)

    def _take_turns(self) -> None:
        if not self.closed:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting (uvicorn's shutdown, which closes the socket itself after)."""
        if self.closed:
            return
        self.closed = True
        if self.resume is not None:
            self.resume.cancel()
        self.loop.remove_reader(self.sock.fileno())

    async def wait_closed(self) -> None:
        return None


class SharedSocketServer(uvicorn.Server):
    """uvicorn serving listening sockets shared with other processes, each through a
    TurnTaker."""

    def __init__(self, config: uvicorn.Config, loads: Loads | None) -> None:
        super().__init__(config)
        self.loads = loads

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's start-up with no socket (it starts no asyncio server of its own), then ours.
        await super().startup(sockets=[])
        factory = functools.partial(
            self.config.http_protocol_class,  # type: ignore[call-arg]
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        loop = asyncio.get_running_loop()
        # Where uvicorn's shutdown closes and waits for its servers.
        self.servers = cast(
            list[asyncio.base_events.Server],
            [
                TurnTaker(loop, sock, factory, self.server_state.connections, self.loads)
                for sock in sockets or []
            ],
        )

    async def on_tick(self, counter: int) -> bool:
        # Connections that closed since the last accept: the others see the count go down.
        for server in self.servers:
            if isinstance(server, TurnTaker):
                server.publish()
        return await super().on_tick(counter)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m console.webserver")
    parser.add_argument("app", help="the ASGI application, module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, help="an inherited listening socket to serve instead")
    parser.add_argument(
        "--loads", type=int, help="with --fd: the inherited table of each process's connections"
    )
    parser.add_argument("--slot", type=int, default=0, help="this process's slot in --loads")
    args = parser.parse_args(argv)
    settings = config(args.app, host=args.host, port=args.port)
    if args.fd is None:
        server = uvicorn.Server(settings)
        sockets = None
    else:
        loads = None if args.loads is None else Loads(args.loads, args.slot)
        server = SharedSocketServer(settings, loads)
        # The family and type are read from the descriptor; uvicorn closes it at shutdown.
        sockets = [socket.socket(fileno=args.fd)]
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)  # as uvicorn's command line: it could not start (the port is taken, say)


if __name__ == "__main__":
    main()
