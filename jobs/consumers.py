from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from console.websocket_auth import CLOSE_FORBIDDEN, WatchingConsumer
from jobs import selectors
from jobs.fanout import Feed
from jobs.services.events import dataset_group, job_group


@database_sync_to_async
def _history(user: Any, topic: str, object_id: int, after: int = 0) -> list[dict[str, Any]] | None:
    return selectors.events_for_watcher(user=user, topic=topic, object_id=object_id, after=after)


class ProgressConsumer(WatchingConsumer):
    """Streams a job's or dataset's events to its owner: everything so far, then live
    (jobs/fanout.py: the replay rule, and one frame for a burst of events)."""

    topic = "jobs"
    group_of: Callable[[int], str] = staticmethod(job_group)
    # No channel of its own: the process's hub (jobs/fanout.py) holds the one subscription
    # per job and hands each watcher its frames, so a channel per socket would only cost a
    # receive loop per watcher that nothing ever sends to.
    channel_layer_alias = None

    async def connect(self) -> None:
        self.feed: Feed | None = None
        await super().connect()

    async def start(self, user: Any) -> None:
        object_id = int(self.scope["url_route"]["kwargs"]["object_id"])

        async def read_store(after: int) -> list[dict[str, Any]] | None:
            return await _history(user, self.topic, object_id, after)

        self.feed = Feed(self.group_of(object_id), self._send_frame, read_store, self._refuse)
        if not await self.feed.open():
            self.feed = None
            await self._refuse()

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.feed is not None:
            await self.feed.close()

    async def _send_frame(self, frame: str) -> None:
        await self.send(text_data=frame)

    async def _refuse(self) -> None:
        await self.close(code=CLOSE_FORBIDDEN)


class DatasetProgressConsumer(ProgressConsumer):
    """Streams a dataset's profiling events to its owner."""

    topic = "datasets"
    group_of = staticmethod(dataset_group)
