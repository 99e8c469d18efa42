"""Many watchers of one job through the real consumer and Redis channel layer: each gets every
event once, in order, a burst in fewer frames than events (jobs/fanout.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import connection

from console.asgi import application
from jobs import services
from jobs.fanout import Feed, Hub
from jobs.models import TrainingJob
from jobs.services.events import event_record
from tests.factories import make_dataset, make_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

WATCHERS = 40
BURST = 150


def _queued_job(owner: User) -> TrainingJob:
    return services.job_create(owner=owner, dataset=make_dataset(owner), target="diagnosis")


def _burst(job: TrainingJob, count: int) -> None:
    try:
        for i in range(count):
            event_record(subject=job, kind="tick", payload={"i": i})
    finally:
        connection.close()  # this thread's own, opened for the burst


async def _watch(path: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path, headers=[(b"host", b"localhost")])
    assert (await socket.connect(timeout=10))[0]
    return socket


async def _frames_until(socket: WebsocketCommunicator, last: int) -> list[list[int]]:
    """Each frame's seqs, until the one holding `last`."""
    frames: list[list[int]] = []
    while not frames or frames[-1][-1] < last:
        frame = await socket.receive_json_from(timeout=10)
        frames.append([e["seq"] for e in (frame if isinstance(frame, list) else [frame])])
    return frames


@pytest.fixture(params=["redis", "sqlite"])
def layer(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> str:
    """The Redis pub/sub layer of a deployment, or the embedded default's SQLite one."""
    if request.param == "sqlite":
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "console.channel_layers.SQLiteChannelLayer",
                "CONFIG": {"path": str(tmp_path / "channels.sqlite3")},
            }
        }
    return str(request.param)


async def test_every_watcher_gets_a_burst_whole_and_in_order_in_fewer_frames(
    personas: dict[str, Any], media_root: Any, layer: str
) -> None:
    # given many watchers of one job, each past the job's history (seq 1)
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(make_token)(personas["owner"])
    path = f"/ws/jobs/{job.pk}/?token={token}"
    sockets = [await _watch(path) for _ in range(WATCHERS)]
    for socket in sockets:
        assert (await socket.receive_json_from(timeout=5))["seq"] == 1

    # when the job records a burst of events as fast as it can
    await sync_to_async(_burst)(job, BURST)

    # then each watcher gets seq 2..BURST+1, each once, in order, nothing more
    for socket in sockets:
        frames = await _frames_until(socket, BURST + 1)
        assert [seq for frame in frames for seq in frame] == list(range(2, BURST + 2))
        # and the burst came in fewer frames than events: one frame holds several
        assert len(frames) < BURST
        assert await socket.receive_nothing(timeout=0.1)
    # The process had one member of the group, not one a watcher.
    hubs = Hub._hubs[asyncio.get_running_loop()]
    assert len(hubs[f"job_{job.pk}"].feeds) == WATCHERS
    for socket in sockets:
        await socket.disconnect()
    assert asyncio.get_running_loop() not in Hub._hubs


async def test_a_watcher_joining_during_a_burst_gets_every_event_once_in_order(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given a job recording a burst, and a watcher already on it (so the hub is live)
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(make_token)(personas["owner"])
    path = f"/ws/jobs/{job.pk}/?token={token}"
    first = await _watch(path)
    # In a thread of its own: the sockets' sign-in and replay use the shared one meanwhile.
    burst = asyncio.ensure_future(asyncio.to_thread(_burst, job, BURST))

    # when more watchers join while it runs (their replay races the live batches)
    late = []
    for _ in range(5):
        await asyncio.sleep(0.05)
        late.append(await _watch(path))
    await burst

    # then every one gets 1..BURST+1, each once, in order
    for socket in [first, *late]:
        frames = await _frames_until(socket, BURST + 1)
        assert [seq for frame in frames for seq in frame] == list(range(1, BURST + 2))
        assert await socket.receive_nothing(timeout=0.1)
        await socket.disconnect()


async def test_a_watcher_that_stops_reading_holds_up_no_other(media_root: Any) -> None:
    # given two watchers' feeds of one group, on the real hub and channel layer; the first
    # one's socket takes its first frame and never finishes sending it (its reader stopped)
    group = "job_fanout_stalled"
    never = asyncio.Event()
    frames: list[Any] = []

    async def stalled(frame: str) -> None:
        await never.wait()

    async def reading(frame: str) -> None:
        frames.append(json.loads(frame))

    async def store(after: int) -> list[dict[str, Any]]:
        return []

    async def refused() -> None:
        raise AssertionError("nobody is refused here")

    feeds = [Feed(group, stalled, store, refused), Feed(group, reading, store, refused)]
    for feed in feeds:
        assert await feed.open()

    # when the group gets events, one after another
    layer = get_channel_layer()
    for seq in (1, 2, 3):
        event: dict[str, Any] = {"seq": seq, "kind": "tick", "payload": {}, "created_at": ""}
        await layer.group_send(group, {"type": "progress.event", "event": event})
        await asyncio.sleep(0.1)

    # then the reading watcher gets them all, in order
    async with asyncio.timeout(5):
        while sum(len(f) if isinstance(f, list) else 1 for f in frames) < 3:
            await asyncio.sleep(0.02)
    seqs = [e["seq"] for f in frames for e in (f if isinstance(f, list) else [f])]
    assert seqs == [1, 2, 3]
    for feed in feeds:
        await feed.close()
