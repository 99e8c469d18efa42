"""runconsole's web processes share one listening socket, and a new connection goes to the one
with the fewest open connections (console/webserver.py): a keep-alive connection stays where it
was accepted, so that is where its calls are answered. Left to the kernel, the first process
to wake took most of them (20 clients connecting at once: 19 to one and 1 to the other)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from collections.abc import Iterator

import httpx
import pytest

from console.webserver import Loads
from tests.stack import Stack, processes_of, sockets_held, tcp_sockets


def _connections(port: int, pids: list[int]) -> dict[int, int]:
    """How many established connections to `port` each process holds."""
    inodes = {i for local, _, state, i in tcp_sockets() if (local, state) == (port, "01")}
    return {pid: sockets_held(pid, inodes) for pid in pids}


@contextlib.contextmanager
def _clients(url: str, count: int) -> Iterator[list[httpx.Client]]:
    clients = [httpx.Client(base_url=url, timeout=60) for _ in range(count)]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def test_new_connections_go_to_the_web_process_with_the_fewest(postgres_stack: Stack) -> None:
    # given the two web processes of a console on PostgreSQL and Redis
    webs = processes_of(postgres_stack, b"console.asgi")
    assert len(webs) == 2, webs
    port = int(postgres_stack.url.rsplit(":", 1)[1])
    before = _connections(port, webs)

    with _clients(postgres_stack.url, 20) as burst, _clients(postgres_stack.url, 20) as trickle:
        # when 20 clients connect at once, then 20 more one after another, each making a call
        with concurrent.futures.ThreadPoolExecutor(len(burst)) as pool:
            assert all(a.status_code == 200 for a in pool.map(lambda c: c.get("/healthz"), burst))
        for client in trickle:
            assert client.get("/healthz").status_code == 200
        held = _connections(port, webs)

    # then each process holds about half of the 40 (the ones arriving one at a time even out
    # whatever the burst left uneven)
    mine = {pid: held[pid] - before[pid] for pid in webs}
    assert sum(mine.values()) == 40, mine
    assert all(17 <= n <= 23 for n in mine.values()), mine


def test_a_slot_outside_the_table_is_refused() -> None:
    fd = Loads.create(2)
    try:
        Loads(fd, 1).publish(3)
        assert Loads(fd, 0).fewest_of_others() == 3
        with pytest.raises(ValueError, match="slot 2"):
            Loads(fd, 2)
    finally:
        os.close(fd)
