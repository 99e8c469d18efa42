from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from console.websocket_auth import CLOSE_FORBIDDEN, WatchingConsumer
from jobs import selectors
from jobs.services.events import dataset_group, job_group


@database_sync_to_async
def _history(user: Any, topic: str, object_id: int, after: int = 0) -> list[dict[str, Any]] | None:
    return selectors.events_for_watcher(user=user, topic=topic, object_id=object_id, after=after)


class ProgressConsumer(WatchingConsumer):
    """Streams a job's or dataset's events to its owner: everything so far, then live."""

    topic = "jobs"
    group_of: Callable[[int], str] = staticmethod(job_group)

    async def connect(self) -> None:
        self.last_seq = 0
        self.group: str | None = None
        await super().connect()

    async def start(self, user: Any) -> None:
        object_id = int(self.scope["url_route"]["kwargs"]["object_id"])
        self.user, self.object_id = user, object_id
        # Join before reading history so nothing falls between the replay and the live feed.
        self.group = self.group_of(object_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        history = await _history(user, self.topic, object_id)
        if history is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for event in history:
            await self._forward(event)

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def progress_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event["seq"] > self.last_seq + 1:
            # The live feed skipped some (it delivers at most once): read them from the store
            # first, so the watcher gets every event, in order.
            for missed in (
                await _history(self.user, self.topic, self.object_id, self.last_seq) or []
            ):
                await self._forward(missed)
        await self._forward(event)

    async def _forward(self, event: dict[str, Any]) -> None:
        if event["seq"] <= self.last_seq:
            return
        self.last_seq = event["seq"]
        await self.send_json(event)


class DatasetProgressConsumer(ProgressConsumer):
    """Streams a dataset's profiling events to its owner."""

    topic = "datasets"
    group_of = staticmethod(dataset_group)
