"""The embedded default's channel layer carries messages between separate layer instances."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from console.channel_layers import SQLiteChannelLayer

pytestmark = pytest.mark.asyncio


async def test_group_messages_reach_members_in_another_instance(tmp_path: Path) -> None:
    # given two layers on one file, as the web and worker processes have
    web = SQLiteChannelLayer(path=str(tmp_path / "layer.sqlite3"))
    worker = SQLiteChannelLayer(path=str(tmp_path / "layer.sqlite3"))
    channel = await web.new_channel()
    await web.group_add("job_1", channel)

    # when the worker sends to the group, in order
    for n in range(3):
        await worker.group_send("job_1", {"type": "job.event", "n": n})

    # then the web side receives each message once, in order
    got = [await asyncio.wait_for(web.receive(channel), 2) for _ in range(3)]
    assert [m["n"] for m in got] == [0, 1, 2]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(web.receive(channel), 0.3)


async def test_discarded_channels_and_expired_messages_get_nothing(tmp_path: Path) -> None:
    layer = SQLiteChannelLayer(path=str(tmp_path / "layer.sqlite3"), expiry=0)
    channel = await layer.new_channel()
    await layer.group_add("job_2", channel)
    await layer.group_discard("job_2", channel)
    await layer.group_send("job_2", {"type": "x"})
    await layer.send(channel, {"type": "expired at once"})
    await asyncio.sleep(0.05)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.3)


async def test_a_full_channel_drops_rather_than_grows(tmp_path: Path) -> None:
    layer = SQLiteChannelLayer(path=str(tmp_path / "layer.sqlite3"), capacity=2)
    channel = await layer.new_channel()
    for n in range(5):
        await layer.send(channel, {"type": "x", "n": n})
    got = [await asyncio.wait_for(layer.receive(channel), 1) for _ in range(2)]
    assert [m["n"] for m in got] == [0, 1]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.3)
