"""Websocket watchers for the load benchmark: many clients on one job's progress stream, each
keeping what it received, in order, and how late each event arrived."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import connect


@dataclass
class Watcher:
    seqs: list[int] = field(default_factory=list)
    # Arrival minus the event's creation (clock of the same machine), for live events only.
    delays_ms: list[float] = field(default_factory=list)
    connected: bool = False
    error: str = ""


def _delay_ms(created_at: str) -> float:
    created = datetime.datetime.fromisoformat(created_at).timestamp()
    return (time.time() - created) * 1000


async def _watch(
    url: str, token: str, out: Watcher, live_after: list[int], stop: asyncio.Event
) -> None:
    try:
        async with connect(
            url,
            additional_headers={"Authorization": f"Token {token}"},
            max_queue=None,
            open_timeout=60,
            ping_interval=None,
        ) as socket:
            out.connected = True
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(socket.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                frame = orjson.loads(raw)
                # A frame is one event, or several in an array (docs/api.md).
                for event in frame if isinstance(frame, list) else [frame]:
                    out.seqs.append(int(event["seq"]))
                    if live_after and event["seq"] > live_after[0]:
                        out.delays_ms.append(_delay_ms(event["created_at"]))
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"


class Watchers:
    """`count` clients watching `url` from a thread's event loop (see run_watchers)."""

    def __init__(self, url: str, token: str, count: int) -> None:
        self.url, self.token, self.count = url, token, count
        self.clients = [Watcher() for _ in range(count)]
        # Events after this sequence number count as live (set once the replay is over).
        self.live_after: list[int] = []
        self.stop: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def run(self, started: asyncio.Future[None] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        tasks = []
        # In steps, so the web process is not handed hundreds of handshakes at once.
        for start in range(0, self.count, 50):
            for client in self.clients[start : start + 50]:
                tasks.append(
                    asyncio.create_task(
                        _watch(self.url, self.token, client, self.live_after, self.stop)
                    )
                )
            await asyncio.sleep(0.2)
        await asyncio.gather(*tasks)

    def finish(self) -> None:
        # The loop is gone already when every client ended on its own (errors, say).
        if self.loop is not None and self.stop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stop.set)

    def all_connected(self) -> bool:
        return all(c.connected or c.error for c in self.clients)

    def quiet_since(self, seconds: float, previous: list[int]) -> bool:
        counts = [len(c.seqs) for c in self.clients]
        same = counts == previous
        previous[:] = counts
        return same

    def report(self, first: int, last: int) -> dict[str, Any]:
        """Events first..last each client missed, clients that saw them out of order, and
        the live events' delay percentiles."""
        expected = set(range(first, last + 1))
        missing = 0
        disorder = 0
        for client in self.clients:
            live = [s for s in client.seqs if first <= s <= last]
            missing += len(expected - set(live))
            if live != sorted(set(live)):
                disorder += 1
        delays = sorted(d for c in self.clients for d in c.delays_ms)
        errors = Counter(c.error.split(":")[0] for c in self.clients if c.error)
        return {
            "clients": self.count,
            "errors": sum(errors.values()),
            "error_kinds": dict(errors),
            "error_sample": next((c.error for c in self.clients if c.error), ""),
            "missing_events": missing,
            "out_of_order_clients": disorder,
            "p50_ms": _percentile(delays, 50),
            "p99_ms": _percentile(delays, 99),
        }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 1)


def percentile(values: list[float], q: float) -> float | None:
    return _percentile(values, q)


def run_watchers(watchers: Watchers) -> None:
    """The watchers' own event loop, for a thread."""
    with contextlib.suppress(Exception):
        asyncio.run(watchers.run())
