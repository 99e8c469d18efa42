"""A web process's live feed of a job's or dataset's events: received once, sent to every watcher.

Through the channel layer alone, each watcher's consumer received, decoded and encoded every
event itself: 500 watchers of a job emitting 50 events/s took the whole core of the web
process, and the backlog grew without bound (events 18 s late after 20 s; docs/benchmarks.md).
Here the process's first watcher of a group starts a `Hub` that joins the group once, encodes
each event once, and hands the text to each watcher's `Feed`.

The hub sends an event that follows a quiet spell at once; events that follow it within
FLUSH_SECONDS wait for the end of that spell and go out together as one frame. A frame is one
event's JSON object, or a JSON array of several, in order (docs/api.md).

Each watcher's `Feed` keeps the replay rule: it joins the hub before reading the store, so
nothing falls between the replay and the live feed; while it reads, live batches are held;
it sends each `seq` once, in order; and when a live batch skips ahead (pub/sub delivers at most
once) it reads the missed events from the store first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# At most one frame a watcher this often under a burst: at 50 events/s, about two events a
# frame and 25 frames a second a watcher rather than 50; an event waits at most this long.
FLUSH_SECONDS = 0.04
# A replay goes out in frames of this many events.
REPLAY_FRAME_EVENTS = 100

Encoded = tuple[int, str]  # an event's seq and its JSON text
Send = Callable[[str], Awaitable[None]]
ReadStore = Callable[[int], Awaitable[list[dict[str, Any]] | None]]


def encoded(event: dict[str, Any]) -> Encoded:
    return (int(event["seq"]), json.dumps(event))


@dataclass(frozen=True)
class Batch:
    """Events in seq order, with the frame that carries them all."""

    events: list[Encoded]
    frame: str

    @classmethod
    def of(cls, events: list[Encoded]) -> Batch:
        if len(events) == 1:
            return cls(events, events[0][1])
        return cls(events, "[" + ",".join(text for _, text in events) + "]")


def unsent(batches: list[Batch], last_seq: int) -> Batch | None:
    """The events of `batches` after `last_seq`, each once, as one batch (None if none): the
    hub's own batch, frame and all, when it is the only one and wholly new."""
    if len(batches) == 1 and batches[0].events[0][0] > last_seq:
        return batches[0]
    events = []
    for batch in batches:
        for event in batch.events:
            if event[0] > last_seq:
                events.append(event)
                last_seq = event[0]
    return Batch.of(events) if events else None


class Feed:
    """One watcher's events: the store's so far, then the hub's, each seq once, in order.

    The hub only appends to the feed's inbox; the feed's own task writes to the socket, so a
    watcher that reads slowly (its socket's buffer full) holds up nobody else, and gets what
    piled up meanwhile in one frame."""

    def __init__(
        self, group: str, send: Send, read_store: ReadStore, refused: Callable[[], Awaitable[None]]
    ) -> None:
        self.group, self.send, self.read_store, self.refused = group, send, read_store, refused
        self.last_seq = 0
        self.inbox: list[Batch] = []
        self.arrived = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.hub: Hub | None = None

    async def open(self) -> bool:
        """Joins the group, replays the store, then follows the hub; False when the store
        refuses the watcher."""
        self.hub = await Hub.join(self.group, self)
        if not await self._catch_up():
            await self.close()
            return False
        self.writer = asyncio.create_task(self._write())
        return True

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
        if self.hub is not None:
            hub, self.hub = self.hub, None
            await hub.leave(self)

    def take(self, batch: Batch) -> None:
        """A live batch from the hub (held in the inbox while the store is read)."""
        self.inbox.append(batch)
        self.arrived.set()

    async def _write(self) -> None:
        try:
            await self._follow()
        except Exception:  # the socket closed under us: the consumer's disconnect closes the feed
            logger.debug("Stopped writing to a watcher of %s", self.group, exc_info=True)

    async def _follow(self) -> None:
        while True:
            if not self.inbox:
                self.arrived.clear()
                await self.arrived.wait()
            fresh = unsent(self.inbox, self.last_seq)
            self.inbox = []
            if fresh is None:
                continue
            if fresh.events[0][0] > self.last_seq + 1:
                # The live feed skipped some (pub/sub delivers at most once): the store first.
                # One read is enough: the later event committed after the ones it skipped.
                self.inbox.insert(0, fresh)
                if not await self._catch_up():
                    await self.refused()
                    return
                fresh = unsent(self.inbox, self.last_seq)
                self.inbox = []
                if fresh is None:
                    continue
            await self._send(fresh)

    async def _catch_up(self) -> bool:
        """Sends the stored events after the last one sent; False if the watcher may not."""
        stored = await self.read_store(self.last_seq)
        if stored is None:
            return False
        for start in range(0, len(stored), REPLAY_FRAME_EVENTS):
            chunk = [encoded(e) for e in stored[start : start + REPLAY_FRAME_EVENTS]]
            fresh = unsent([Batch.of(chunk)], self.last_seq)
            if fresh is not None:
                await self._send(fresh)
        return True

    async def _send(self, batch: Batch) -> None:
        self.last_seq = batch.events[-1][0]
        await self.send(batch.frame)


class Hub:
    """The process's one member of a group: receives, encodes and batches its events, and hands
    each batch to every feed."""

    # Per event loop: a loop's hub cannot serve another's sockets (tests run one loop each).
    _hubs: dict[asyncio.AbstractEventLoop, dict[str, Hub]] = {}

    def __init__(self, group: str) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self.feeds: list[Feed] = []
        self.pending: list[Encoded] = []
        self.arrived = asyncio.Event()
        self.ready = asyncio.ensure_future(self._subscribe())
        self.tasks: list[asyncio.Task[None]] = []
        self.channel = ""

    @classmethod
    async def join(cls, group: str, feed: Feed) -> Hub:
        hubs = cls._hubs.setdefault(asyncio.get_running_loop(), {})
        hub = hubs.get(group)
        if hub is None:
            hub = hubs[group] = cls(group)
        hub.feeds.append(feed)
        try:
            # Subscribed before the feed reads the store, so nothing falls in between.
            await asyncio.shield(hub.ready)
        except BaseException:
            await hub.leave(feed)
            raise
        return hub

    async def leave(self, feed: Feed) -> None:
        with contextlib.suppress(ValueError):
            self.feeds.remove(feed)
        if self.feeds:
            return
        loop = asyncio.get_running_loop()
        hubs = self._hubs.get(loop, {})
        if hubs.get(self.group) is self:
            del hubs[self.group]
            if not hubs:
                del self._hubs[loop]
        # A hub that never subscribed (the layer failed) has nothing to leave.
        with contextlib.suppress(Exception):
            await asyncio.shield(self.ready)
            for task in self.tasks:
                task.cancel()
            await self.layer.group_discard(self.group, self.channel)

    async def _subscribe(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._flush())]

    async def _receive(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            self.pending.append(encoded(message["event"]))
            self.arrived.set()

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        sent_at = -FLUSH_SECONDS
        while True:
            await self.arrived.wait()
            wait = sent_at + FLUSH_SECONDS - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.arrived.clear()
            if not self.pending:
                continue
            # Sorted: two writers' commits can reach the layer out of seq order.
            batch = Batch.of(sorted(self.pending))
            self.pending = []
            sent_at = loop.time()
            for feed in self.feeds:
                feed.take(batch)
