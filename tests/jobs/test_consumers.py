"""The websocket progress view, through the real ASGI application and Redis channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from console.asgi import application
from jobs import services
from jobs.models import TrainingJob
from tests.factories import make_dataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = (b"origin", b"http://localhost")


def _queued_job(owner: User) -> TrainingJob:
    return services.job_create(owner=owner, dataset=make_dataset(owner), target="diagnosis")


async def _connect(path: str, origin: tuple[bytes, bytes] = ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, path, headers=[origin, (b"host", b"localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_owner_gets_history_then_live_events(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given a queued job and its owner's token
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(Token.objects.create)(user=personas["owner"])

    # when the owner connects
    socket = await _connect(f"/ws/jobs/{job.pk}/?token={token.key}")

    # then the history arrives first
    first = await socket.receive_json_from(timeout=5)
    assert (first["seq"], first["kind"], first["payload"]) == (
        1,
        "job_status",
        {"status": "QUEUED"},
    )

    # and an event recorded afterwards is pushed live, once
    await sync_to_async(services.job_claim)(job_id=job.pk, worker="w")
    live = await socket.receive_json_from(timeout=5)
    assert (live["seq"], live["payload"]["status"]) == (2, "RUNNING")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_outsider_and_teammate_are_closed_with_4403(
    personas: dict[str, Any], media_root: Any
) -> None:
    job = await sync_to_async(_queued_job)(personas["owner"])
    for name in ("teammate", "outsider"):
        token = await sync_to_async(Token.objects.create)(user=personas[name])
        socket = await _connect(f"/ws/jobs/{job.pk}/?token={token.key}")
        assert (await socket.receive_output(timeout=5))["code"] == 4403


async def test_anonymous_and_bad_tokens_are_closed_with_4401(
    personas: dict[str, Any], media_root: Any
) -> None:
    job = await sync_to_async(_queued_job)(personas["owner"])
    for query in ("", "?token=not-a-token"):
        socket = await _connect(f"/ws/jobs/{job.pk}/{query}")
        assert (await socket.receive_output(timeout=5))["code"] == 4401


async def test_a_foreign_origin_cannot_connect(personas: dict[str, Any], media_root: Any) -> None:
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(Token.objects.create)(user=personas["owner"])
    communicator = WebsocketCommunicator(
        application,
        f"/ws/jobs/{job.pk}/?token={token.key}",
        headers=[(b"origin", b"http://evil.example"), (b"host", b"localhost")],
    )
    connected, _ = await communicator.connect()
    assert not connected
