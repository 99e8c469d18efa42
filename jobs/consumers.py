from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from console.websocket_auth import header_token, query_token, user_for
from jobs import selectors
from jobs.services.events import dataset_group, job_group

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


@database_sync_to_async
def _history(user: Any, topic: str, object_id: int) -> list[dict[str, Any]] | None:
    return selectors.events_for_watcher(user=user, topic=topic, object_id=object_id)


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Streams a job's or dataset's events to its owner: everything so far, then live."""

    topic = "jobs"
    group_of: Callable[[int], str] = staticmethod(job_group)

    async def connect(self) -> None:
        """Signs in by session (a browser), or by token: an `Authorization: Token <key>` header,
        `?token=<key>`, or, when neither is sent, a first message `{"token": "<key>"}`."""
        self.last_seq = 0
        self.group: str | None = None
        self.waiting_for_token: asyncio.Task[None] | None = None
        user = self.scope.get("user") or AnonymousUser()
        await self.accept()
        if not user.is_authenticated:
            raw = header_token(self.scope)
            if raw is None:
                raw = query_token(self.scope)
            if raw is None:
                self.waiting_for_token = asyncio.create_task(self._close_unless_signed_in())
                return
            user = await user_for(raw)
        await self._start(user)

    async def _close_unless_signed_in(self) -> None:
        await asyncio.sleep(settings.WEBSOCKET_AUTH_TIMEOUT_SECONDS)
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _start(self, user: Any) -> None:
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        object_id = int(self.scope["url_route"]["kwargs"]["object_id"])
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
        if self.waiting_for_token is not None:
            self.waiting_for_token.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Watchers only listen, after the first message when it carries their token."""
        waiting, self.waiting_for_token = self.waiting_for_token, None
        if waiting is None:
            return
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        raw = content.get("token") if isinstance(content, dict) else None
        await self._start(await user_for(raw) if isinstance(raw, str) else AnonymousUser())

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON: as a first message, no token
            await self.receive_json(None)

    async def progress_event(self, message: dict[str, Any]) -> None:
        await self._forward(message["event"])

    async def _forward(self, event: dict[str, Any]) -> None:
        if event["seq"] <= self.last_seq:
            return
        self.last_seq = event["seq"]
        await self.send_json(event)


class DatasetProgressConsumer(ProgressConsumer):
    """Streams a dataset's profiling events to its owner."""

    topic = "datasets"
    group_of = staticmethod(dataset_group)
