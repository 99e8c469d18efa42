"""A web process's live feed of a job's or dataset's events: received once, sent to every watcher.

Through the channel layer alone, each watcher's consumer received, decoded and encoded every
event itself: 500 watchers of a job emitting 50 events/s cost one web process about 70 µs an
event a watcher (bench/load.py), well over a core, and every connection fell behind until its
keep-alive ping timed out. Here the process's first watcher of a group starts a `Hub` that
joins the group once, encodes each event once, and hands the text to each of its watchers.

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

    def after(self, seq: int) -> Batch | None:
        """The part of the batch after `seq`: itself when none was sent yet, None when all were."""
        if self.events[0][0] > seq:
            return self
        rest = [e for e in self.events if e[0] > seq]
        return Batch.of(rest) if rest else None


class Feed:
    """One watcher's events: the store's so far, then the hub's, each seq once, in order."""

    def __init__(
        self, group: str, send: Send, read_store: ReadStore, refused: Callable[[], Awaitable[None]]
    ) -> None:
        self.group, self.send, self.read_store, self.refused = group, send, read_store, refused
        self.last_seq = 0
        self.live = False
        self.held: list[Batch] = []
        self.catching_up: asyncio.Task[None] | None = None
        self.hub: Hub | None = None

    async def open(self) -> bool:
        """Joins the group and replays the store; False when the store refuses the watcher."""
        self.hub = await Hub.join(self.group, self)
        if await self._catch_up():
            return True
        await self.close()
        return False

    async def close(self) -> None:
        if self.catching_up is not None:
            self.catching_up.cancel()
        if self.hub is not None:
            hub, self.hub = self.hub, None
            await hub.leave(self)

    async def take(self, batch: Batch) -> None:
        """A live batch from the hub; never waits on the store, which would hold up the hub's
        other watchers."""
        if not self.live:
            self.held.append(batch)
            return
        fresh = batch.after(self.last_seq)
        if fresh is None:
            return
        if fresh.events[0][0] > self.last_seq + 1:
            self.live = False
            self.held.append(fresh)
            self.catching_up = asyncio.create_task(self._catch_up_or_refuse())
            return
        await self._send(fresh)

    async def _catch_up_or_refuse(self) -> None:
        if not await self._catch_up():
            await self.refused()

    async def _catch_up(self) -> bool:
        """Sends the stored events after the last one sent, then the held batches; live after."""
        while True:
            stored = await self.read_store(self.last_seq)
            if stored is None:
                return False
            for start in range(0, len(stored), REPLAY_FRAME_EVENTS):
                chunk = [encoded(e) for e in stored[start : start + REPLAY_FRAME_EVENTS]]
                fresh = Batch.of(chunk).after(self.last_seq)
                if fresh is not None:
                    await self._send(fresh)
            while self.held:
                fresh = self.held[0].after(self.last_seq)
                if fresh is not None and fresh.events[0][0] > self.last_seq + 1:
                    break  # another gap: read the store again
                self.held.pop(0)
                if fresh is not None:
                    await self._send(fresh)
            if not self.held:
                # No await between the check and this: the hub's next batch is sent live.
                self.live = True
                return True

    async def _send(self, batch: Batch) -> None:
        self.last_seq = batch.events[-1][0]
        await self.send(batch.frame)


class Hub:
    """The process's one member of a group: receives, encodes and batches its events, and hands
    each batch to every feed in turn (a send only queues bytes on the socket)."""

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
            # Sorted: two writers' commits can reach the layer out of seq order.
            batch = Batch.of(sorted(self.pending))
            self.pending = []
            sent_at = loop.time()
            for feed in list(self.feeds):
                try:
                    await feed.take(batch)
                except Exception:  # a socket closing under us: its disconnect removes it
                    logger.debug("Could not send to a watcher of %s", self.group, exc_info=True)
