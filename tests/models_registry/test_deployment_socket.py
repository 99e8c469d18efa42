"""`/ws/deployments/<name>/`: a deployment's state, then each change, to those who see it,
through the real ASGI application and Redis channel layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from console.asgi import application
from models_registry import services
from models_registry.models import Deployment, Membership, ModelVersion, Workspace
from tests.factories import make_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")


async def _connect(path: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, HOST, *headers])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _as(user: Any, path: str) -> WebsocketCommunicator:
    token = await sync_to_async(make_token)(user)
    return await _connect(f"{path}?token={token}")


async def _closed_with(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return int(output["code"])


def _deploy(owner: Any, version: ModelVersion) -> Deployment:
    return services.deployment_create(owner=owner, model_version=version, name="cancer")


async def test_the_owner_gets_the_state_then_each_change_then_a_4404_when_deleted(
    personas: dict[str, Any], register: Callable[..., ModelVersion]
) -> None:
    owner = personas["owner"]
    version = await sync_to_async(register)(owner)
    canary = await sync_to_async(register)(owner)
    deployment = await sync_to_async(_deploy)(owner, version)

    # when the owner connects, the current state comes first
    socket = await _as(owner, "/ws/deployments/cancer/")
    first = await socket.receive_json_from(timeout=5)
    assert (first["kind"], first["seq"]) == ("deployment", 1)
    assert first["deployment"]["status"] == "PENDING"
    assert first["deployment"]["ready_at"] is None

    # then each write the predictor or a person makes arrives live, in order
    await sync_to_async(services.deployment_mark_loading)(deployment_id=deployment.pk)
    loading = await socket.receive_json_from(timeout=5)
    assert (loading["seq"], loading["deployment"]["status"]) == (2, "LOADING")
    await sync_to_async(services.deployment_mark_ready)(deployment_id=deployment.pk)
    ready = await socket.receive_json_from(timeout=5)
    assert ready["deployment"]["status"] == "READY"
    assert ready["deployment"]["ready_at"] is not None
    await sync_to_async(services.deployment_canary_set)(
        actor=owner, deployment=deployment, version=canary, percent=10
    )
    split = await socket.receive_json_from(timeout=5)
    assert (split["deployment"]["canary_version"], split["deployment"]["canary_percent"]) == (
        canary.pk,
        10,
    )
    # a write that changes nothing shown sends nothing
    await sync_to_async(services.deployment_mark_ready)(deployment_id=deployment.pk)
    assert await socket.receive_nothing(timeout=0.3)
    await sync_to_async(services.deployment_mark_failed)(
        deployment_id=deployment.pk, error="out of memory"
    )
    failed = await socket.receive_json_from(timeout=5)
    assert (failed["deployment"]["status"], failed["deployment"]["error"]) == (
        "FAILED",
        "out of memory",
    )

    # and deleting it closes the socket as the REST API would answer: not found
    await sync_to_async(services.deployment_delete)(actor=owner, deployment=deployment)
    assert await _closed_with(socket) == 4404


async def test_a_reconnect_gets_the_latest_state_first(
    personas: dict[str, Any], register: Callable[..., ModelVersion]
) -> None:
    owner = personas["owner"]
    deployment = await sync_to_async(_deploy)(owner, await sync_to_async(register)(owner))
    await sync_to_async(services.deployment_mark_ready)(deployment_id=deployment.pk)
    await sync_to_async(services.deployment_undeploy)(actor=owner, deployment=deployment)
    socket = await _as(owner, "/ws/deployments/cancer/")
    first = await socket.receive_json_from(timeout=5)
    assert (first["seq"], first["deployment"]["status"]) == (1, "UNDEPLOYED")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_workspace_members_watch_others_get_4404_and_unsharing_closes_with_4403(
    personas: dict[str, Any],
    register: Callable[..., ModelVersion],
    share: Callable[..., Workspace],
) -> None:
    owner = personas["owner"]
    version = await sync_to_async(register)(owner)
    deployment = await sync_to_async(_deploy)(owner, version)

    # not shared yet: the teammate sees nothing, as the REST detail's 404
    for name in ("teammate", "outsider"):
        socket = await _as(personas[name], "/ws/deployments/cancer/")
        assert await _closed_with(socket) == 4404

    # a viewer of the model's workspace watches it
    await sync_to_async(share)(version, Membership.Role.VIEWER)
    watcher = await _as(personas["teammate"], "/ws/deployments/cancer/")
    assert (await watcher.receive_json_from(timeout=5))["deployment"]["owner"] == "owner"
    outsider = await _as(personas["outsider"], "/ws/deployments/cancer/")
    assert await _closed_with(outsider) == 4404

    await sync_to_async(services.deployment_mark_ready)(deployment_id=deployment.pk)
    assert (await watcher.receive_json_from(timeout=5))["deployment"]["status"] == "READY"

    # the owner stops sharing the model: the teammate may no longer watch
    await sync_to_async(services.model_update)(actor=owner, model=version.model, workspace=None)
    assert await _closed_with(watcher) == 4403


async def test_a_name_teammates_share_needs_an_owner(
    personas: dict[str, Any],
    register: Callable[..., ModelVersion],
    share: Callable[..., Workspace],
) -> None:
    owner, teammate = personas["owner"], personas["teammate"]
    version = await sync_to_async(register)(owner)
    await sync_to_async(share)(version, Membership.Role.EDITOR)
    await sync_to_async(_deploy)(owner, version)
    await sync_to_async(_deploy)(teammate, version)
    outsider_of_both = personas["outsider"]
    await sync_to_async(Membership.objects.create)(
        workspace=version.model.workspace, user=outsider_of_both, role=Membership.Role.VIEWER
    )
    # the deployer's own comes first, as in the REST API
    mine = await _as(teammate, "/ws/deployments/cancer/")
    assert (await mine.receive_json_from(timeout=5))["deployment"]["owner"] == "teammate"
    await mine.disconnect()
    # a third member sees two of that name: ambiguous, unless it names the owner
    ambiguous = await _as(outsider_of_both, "/ws/deployments/cancer/")
    assert await _closed_with(ambiguous) == 4409
    token = await sync_to_async(make_token)(outsider_of_both)
    named = await _connect(f"/ws/deployments/cancer/?owner=owner&token={token}")
    assert (await named.receive_json_from(timeout=5))["deployment"]["owner"] == "owner"
    await named.disconnect()


async def test_anonymous_and_bad_tokens_get_4401_and_a_browser_signs_in_by_session(
    personas: dict[str, Any], register: Callable[..., ModelVersion]
) -> None:
    owner = personas["owner"]
    await sync_to_async(_deploy)(owner, await sync_to_async(register)(owner))
    bad = await _connect("/ws/deployments/cancer/?token=not-a-token")
    assert await _closed_with(bad) == 4401
    # without a token it waits for a first message that brings one; a wrong one is refused
    anonymous = await _connect("/ws/deployments/cancer/")
    await anonymous.send_json_to({"token": "nope"})
    assert await _closed_with(anonymous) == 4401

    def _session() -> str:
        session = SessionStore()
        session["_auth_user_id"] = str(owner.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = owner.get_session_auth_hash()
        session.save()
        return str(session.session_key)

    key = await sync_to_async(_session)()
    browser = await _connect(
        "/ws/deployments/cancer/", (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())
    )
    assert (await browser.receive_json_from(timeout=5))["deployment"]["status"] == "PENDING"
    await browser.disconnect()
