"""The websocket progress view, through the real ASGI application and Redis channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from console.asgi import application
from jobs import services
from jobs.models import JobEvent, TrainingJob
from tests.factories import make_dataset, make_token

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
    token = await sync_to_async(make_token)(personas["owner"])

    # when the owner connects
    socket = await _connect(f"/ws/jobs/{job.pk}/?token={token}")

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


async def receive_events(socket: WebsocketCommunicator, count: int) -> list[dict[str, Any]]:
    """`count` events, whether each came in a frame of its own or several in one (an array)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        frame = await socket.receive_json_from(timeout=5)
        events += frame if isinstance(frame, list) else [frame]
    return events


def _stored_unpushed(job: TrainingJob, seq: int) -> None:
    JobEvent.objects.create(job=job, seq=seq, kind="note", payload={"n": seq})


async def test_events_the_live_feed_missed_are_filled_in_from_the_store(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given a watcher that has had the job's history (seq 1)
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(make_token)(personas["owner"])
    socket = await _connect(f"/ws/jobs/{job.pk}/?token={token}")
    assert (await socket.receive_json_from(timeout=5))["seq"] == 1

    # when two events are stored without reaching the live feed (pub/sub delivers at most
    # once), and a third arrives live
    await sync_to_async(_stored_unpushed)(job, 2)
    await sync_to_async(_stored_unpushed)(job, 3)
    await sync_to_async(services.job_claim)(job_id=job.pk, worker="w")

    # then the watcher gets all three, in order, each once
    got = [event["seq"] for event in await receive_events(socket, 3)]
    assert got == [2, 3, 4]
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_outsider_and_teammate_are_closed_with_4403(
    personas: dict[str, Any], media_root: Any
) -> None:
    job = await sync_to_async(_queued_job)(personas["owner"])
    for name in ("teammate", "outsider"):
        token = await sync_to_async(make_token)(personas[name])
        socket = await _connect(f"/ws/jobs/{job.pk}/?token={token}")
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
    token = await sync_to_async(make_token)(personas["owner"])
    communicator = WebsocketCommunicator(
        application,
        f"/ws/jobs/{job.pk}/?token={token}",
        headers=[(b"origin", b"http://evil.example"), (b"host", b"localhost")],
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (b"http://localhost:8000", b"localhost:8000", True),
        (b"http://localhost", b"localhost:80", True),
        (b"https://localhost", b"localhost", True),
        # Another service on the same machine is another origin.
        (b"http://localhost:9999", b"localhost:8000", False),
        (b"http://localhost:8000", b"localhost", False),
        (b"https://localhost", b"localhost:80", False),
        (b"http://localhost:notaport", b"localhost", False),
        (b"null", b"localhost", False),
    ],
)
async def test_an_origin_on_another_port_cannot_connect(
    personas: dict[str, Any], media_root: Any, origin: bytes, host: bytes, allowed: bool
) -> None:
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(make_token)(personas["owner"])
    communicator = WebsocketCommunicator(
        application,
        f"/ws/jobs/{job.pk}/?token={token}",
        headers=[(b"origin", origin), (b"host", host)],
    )
    connected, _ = await communicator.connect()
    assert connected is allowed
    if connected:
        await communicator.disconnect()


async def _script_connect(path: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    """As websocat or a Python client connects: no Origin, no cookies unless given."""
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"host", b"localhost"), *headers]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def test_a_script_signs_in_with_an_authorization_header(
    personas: dict[str, Any], media_root: Any
) -> None:
    from console import tokens

    job = await sync_to_async(_queued_job)(personas["owner"])
    made = await sync_to_async(tokens.token_create)(user=personas["owner"], name="ci", scope="read")
    socket = await _script_connect(
        f"/ws/jobs/{job.pk}/", (b"authorization", f"Token {made.raw}".encode())
    )
    first = await socket.receive_json_from(timeout=5)
    assert first["seq"] == 1
    await socket.disconnect()
    for name in ("teammate", "outsider"):
        other = await sync_to_async(tokens.token_create)(user=personas[name], name="x")
        socket = await _script_connect(
            f"/ws/jobs/{job.pk}/", (b"authorization", f"Token {other.raw}".encode())
        )
        assert (await socket.receive_output(timeout=5))["code"] == 4403
    bad = await _script_connect(f"/ws/jobs/{job.pk}/", (b"authorization", b"Token aml_nope"))
    assert (await bad.receive_output(timeout=5))["code"] == 4401


async def test_a_script_signs_in_with_its_first_message(
    personas: dict[str, Any], media_root: Any
) -> None:
    job = await sync_to_async(_queued_job)(personas["owner"])
    token = await sync_to_async(make_token)(personas["owner"])
    socket = await _script_connect(f"/ws/jobs/{job.pk}/")
    await socket.send_json_to({"token": token})
    assert (await socket.receive_json_from(timeout=5))["seq"] == 1
    await socket.disconnect()
    wrong = await _script_connect(f"/ws/jobs/{job.pk}/")
    await wrong.send_to(text_data="not json")
    assert (await wrong.receive_output(timeout=5))["code"] == 4401


async def test_without_an_origin_the_session_cookie_is_ignored(
    personas: dict[str, Any], media_root: Any
) -> None:
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    job = await sync_to_async(_queued_job)(personas["owner"])

    def _session() -> str:
        session = SessionStore()
        session["_auth_user_id"] = str(personas["owner"].pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = personas["owner"].get_session_auth_hash()
        session.save()
        return str(session.session_key)

    key = await sync_to_async(_session)()
    cookie = (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())
    # A browser (it sends an Origin) is signed in by its cookie ...
    browser = WebsocketCommunicator(
        application, f"/ws/jobs/{job.pk}/", headers=[ORIGIN, (b"host", b"localhost"), cookie]
    )
    assert (await browser.connect())[0]
    assert (await browser.receive_json_from(timeout=5))["seq"] == 1
    await browser.disconnect()
    # ... a handshake without one is not, and must bring a token.
    script = await _script_connect(f"/ws/jobs/{job.pk}/", cookie)
    assert (await script.receive_output(timeout=10))["code"] == 4401
