"""The web process's server: uvicorn with the console's settings, on a port of its own or on a
listening socket it was handed.

    python -m console.webserver console.asgi:application --host 0.0.0.0 --port 8000
    python -m console.webserver console.asgi:application --fd 3

`runconsole` makes one listening socket and hands it to each of its web processes (`--fd`):
they take turns at its one queue of connections, so a burst of API calls is answered on more
than one core, and a web process that stops or dies leaves new connections to the others (or
to its restart) instead of refusing them. uvicorn's own `--fd` duplicates the descriptor and keeps
the original open, so a process told to stop would still hold the socket; here the socket is
the descriptor itself, and closing it at shutdown lets go of the last reference this process
has. uvicorn's `--workers` does not fit either: its parent keeps the socket while its workers
drain, so a stopping console still took connections it would never answer.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence

import uvicorn

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m console.webserver")
    parser.add_argument("app", help="the ASGI application, module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, help="an inherited listening socket to serve instead")
    args = parser.parse_args(argv)
    server = uvicorn.Server(config(args.app, host=args.host, port=args.port))
    # The family and type are read from the descriptor; uvicorn closes it at shutdown.
    sockets = None if args.fd is None else [socket.socket(fileno=args.fd)]
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)  # as uvicorn's command line: it could not start (the port is taken, say)


if __name__ == "__main__":
    main()
