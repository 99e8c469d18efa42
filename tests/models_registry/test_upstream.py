"""The web door's client to the predictor keeps connections alive, and never loses a request
to one the predictor closed: against a real HTTP server on a socket that closes them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from models_registry import upstream
from models_registry.upstream import Upstream

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"


class Server:
    """A minimal HTTP/1.1 server. `behaviour(n)` says what to do with the n-th request on a
    connection (counted from 1): "answer", "close" (without answering), "garbage",
    "chunked" or "hang"."""

    def __init__(self, behaviour: Callable[[int], str]) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))  # fmt: skip
                body = await reader.readexactly(length)
                served += 1
                self.requests += 1
                what = self.behaviour(served)
                if what == "close":
                    break
                if what == "hang":
                    await asyncio.sleep(30)
                if what == "garbage":
                    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
                elif what == "chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                                 b"5\r\n" + body[:5] + b"\r\n0\r\n\r\n")  # fmt: skip
                else:
                    writer.write(ANSWER + b'{"echo": %d}' % (served % 10))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=20))


def post(client: Upstream) -> Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    return client.post("/v1/deployments/x/predict", [(b"authorization", b"Token t")], b"hello")


def test_connections_are_kept_alive_and_reused() -> None:
    server = Server(lambda n: "answer")

    async def go() -> None:
        async with server as url:
            client = Upstream(url)
            for n in range(1, 4):
                status, headers, body = await post(client)
                assert (status, body) == (200, b'{"echo": %d}' % n)
                assert (b"content-type", b"application/json") in headers
            client.close()

    run(go)
    assert (server.connections, server.requests) == (1, 3)


def test_a_connection_the_predictor_closed_costs_no_request() -> None:
    # given a predictor that closes each connection when its second request arrives (as
    # uvicorn does when its keep-alive timeout ends just as a request is sent)
    server = Server(lambda n: "answer" if n == 1 else "close")

    async def go() -> list[int]:
        async with server as url:
            client = Upstream(url)
            # several requests at once leave several kept-alive connections, all of which the
            # predictor then closes: each later request still gets its answer, even when
            # the next idle connection is a closed one too
            first = await asyncio.gather(*(post(client) for _ in range(4)))
            second = [await post(client) for _ in range(4)]
            client.close()
            return [status for status, _, _ in first + second]

    assert run(go) == [200] * 8


def test_a_connection_idle_past_the_limit_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "IDLE_LIMIT_S", 0.05)
    server = Server(lambda n: "answer")

    async def go() -> None:
        async with server as url:
            client = Upstream(url)
            await post(client)
            await asyncio.sleep(0.1)
            await post(client)
            client.close()

    run(go)
    # the second request went on a new connection rather than on one the predictor might
    # have been closing
    assert (server.connections, server.requests) == (2, 2)


def test_chunked_answers_are_read_and_garbage_is_refused() -> None:
    chunked = Server(lambda n: "chunked")
    garbage = Server(lambda n: "garbage")

    async def go() -> None:
        async with chunked as url:
            client = Upstream(url)
            assert (await post(client))[2] == b"hello"
            client.close()
        async with garbage as url:
            client = Upstream(url)
            with pytest.raises(ValueError, match="not valid HTTP"):
                await post(client)
            assert not client._idle
            client.close()

    run(go)


def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool() -> None:
    server = Server(lambda n: "hang" if server.requests == 1 else "answer")

    async def go() -> None:
        async with server as url:
            client = Upstream(url)
            pending = asyncio.ensure_future(post(client))
            await asyncio.sleep(0.2)
            pending.cancel()  # the browser went away
            with pytest.raises(asyncio.CancelledError):
                await pending
            # the late answer of the cancelled request cannot be taken for the next one's
            assert not client._idle
            assert (await post(client))[0] == 200
            client.close()

    run(go)
    assert server.connections == 2
