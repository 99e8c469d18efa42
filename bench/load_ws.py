"""Websocket watchers for the load benchmark: many clients on one job's progress stream, each
keeping what it received, in order, and how late each event arrived."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import multiprocessing
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import orjson
from websockets.asyncio.client import connect


@dataclass
class Watcher:
    seqs: list[int] = field(default_factory=list)
    # Arrival minus the event's creation (clock of the same machine), for live events only.
    delays_ms: list[float] = field(default_factory=list)
    # The kind of each event in delays_ms, in the same order.
    kinds: list[str] = field(default_factory=list)
    connected: bool = False
    error: str = ""
    frames: int = 0


def _delay_ms(created_at: str) -> float:
    created = datetime.datetime.fromisoformat(created_at).timestamp()
    return (time.time() - created) * 1000


async def _watch(url: str, token: str, out: Watcher, live_after: list[int]) -> None:
    try:
        async with connect(
            url,
            additional_headers={"Authorization": f"Token {token}"},
            max_queue=None,
            open_timeout=60,
            ping_interval=None,
        ) as socket:
            out.connected = True
            # Ends when the watchers are cancelled (finish): a timed recv per frame cost the
            # generator a task a frame, as much as the web process spent sending it.
            async for raw in socket:
                frame = orjson.loads(raw)
                # A frame is one event, or several in an array (docs/api.md).
                for event in frame if isinstance(frame, list) else [frame]:
                    out.seqs.append(int(event["seq"]))
                    if live_after and event["seq"] > live_after[0]:
                        out.delays_ms.append(_delay_ms(event["created_at"]))
                        out.kinds.append(event["kind"])
                out.frames += 1
    except asyncio.CancelledError:
        return
    except Exception as exc:
        out.error = f"{type(exc).__name__}: {exc}"


class Watchers:
    """`count` clients watching `url` from a thread's event loop (see run_watchers)."""

    def __init__(self, url: str, token: str, count: int) -> None:
        self.url, self.token, self.count = url, token, count
        self.clients = [Watcher() for _ in range(count)]
        # Events after this sequence number count as live (set once the replay is over).
        self.live_after: list[int] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        # In steps, so the web process is not handed hundreds of handshakes at once.
        for start in range(0, self.count, 50):
            for client in self.clients[start : start + 50]:
                self.tasks.append(
                    asyncio.create_task(_watch(self.url, self.token, client, self.live_after))
                )
            await asyncio.sleep(0.2)
        await asyncio.gather(*self.tasks)

    def _cancel(self) -> None:
        for task in self.tasks:
            task.cancel()

    def finish(self) -> None:
        # The loop is gone already when every client ended on its own (errors, say).
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._cancel)

    def all_connected(self) -> bool:
        return all(c.connected or c.error for c in self.clients)


def report(clients: list[Watcher], first: int, last: int) -> dict[str, Any]:
    """Events first..last each client missed, clients that saw them out of order (or twice),
    and the live events' delay percentiles."""
    expected = set(range(first, last + 1))
    missing = 0
    disorder = 0
    for client in clients:
        live = [s for s in client.seqs if first <= s <= last]
        missing += len(expected - set(live))
        if live != sorted(set(live)):
            disorder += 1
    delays = sorted(d for c in clients for d in c.delays_ms)
    errors = Counter(c.error.split(":")[0] for c in clients if c.error)
    return {
        "clients": len(clients),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "error_sample": next((c.error for c in clients if c.error), ""),
        "events_a_frame": round(
            sum(len(c.seqs) for c in clients) / max(1, sum(c.frames for c in clients)), 2
        ),
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


class WatcherProcesses:
    """`count` watchers spread over `processes` processes, each with its own event loop and
    interpreter: one process reading every frame of 500 watchers was itself the bottleneck
    (see docs/benchmarks.md). The parent asks them over pipes how far they are, and gathers
    every client's record at the end."""

    def __init__(self, url: str, token: str, count: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        for index in range(processes):
            size = count // processes + (index < count % processes)
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_watch_in_process, args=(url, token, size, theirs), daemon=True
            )
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def _ask(self, *command: Any) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return [pipe.recv() for pipe in self.pipes]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def all_connected(self) -> bool:
        return all(self._ask("connected"))

    def counts(self) -> list[int]:
        return [n for part in self._ask("counts") for n in part]

    def last_seqs(self) -> list[int | None]:
        """Each client's last seq; None for a client that failed."""
        return [seq for part in self._ask("last") for seq in part]

    def live_after(self, seq: int) -> None:
        self._ask("live_after", seq)

    def finish(self) -> list[Watcher]:
        clients = [c for part in self._ask("finish") for c in part]
        for process in self.processes:
            process.join(timeout=30)
        return clients


def _watch_in_process(url: str, token: str, count: int, pipe: Connection) -> None:
    group = Watchers(url, token, count)
    thread = threading.Thread(target=run_watchers, args=(group,), daemon=True)
    thread.start()
    while True:
        command, *args = pipe.recv()
        if command == "connected":
            pipe.send(group.all_connected())
        elif command == "counts":
            pipe.send([len(c.seqs) for c in group.clients])
        elif command == "last":
            pipe.send([None if c.error else (c.seqs[-1] if c.seqs else 0) for c in group.clients])
        elif command == "live_after":
            group.live_after.append(args[0])
            pipe.send(None)
        elif command == "finish":
            group.finish()
            thread.join(timeout=30)
            pipe.send(group.clients)
            return
