"""`/ws/deployments/<name>/`: a deployment's state, live, to those who may see it.

Whoever reads the deployment in the REST API (its deployer, the members of its model's
workspace) may watch it. On connect the current state comes first, then each change: the
consumer joins the deployment's group before reading, so no change falls between the two
(models_registry.live). Close codes: 4401 not signed in, 4404 no deployment of that name to
see (or deleted while watched), 4403 no longer allowed to see it, 4409 teammates share the
name (add `?owner=<username>`, as in the REST API).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from console.websocket_auth import (
    CLOSE_AMBIGUOUS,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    WatchingConsumer,
    query_param,
)
from models_registry import selectors
from models_registry.live import deployment_group
from models_registry.models import Deployment
from models_registry.serializers import DeploymentSerializer


@database_sync_to_async
def _find(user: Any, name: str, owner: str | None) -> list[int]:
    among = selectors.deployment_visible_list(user=user)
    if owner is not None:
        among = among.filter(owner__username=owner)
    found = selectors.deployment_named(user=user, name=name, among=among)
    return [d.pk for d in found]


@database_sync_to_async
def _state(user: Any, deployment_id: int) -> dict[str, Any] | int:
    """The deployment as the REST detail shows it, or the code to close with."""
    deployment = selectors.deployment_watched(user=user, deployment_id=deployment_id)
    if deployment is not None:
        return dict(DeploymentSerializer(deployment).data)
    # The watcher saw it until now, so saying that it still exists tells nothing new.
    gone = not Deployment.objects.filter(pk=deployment_id).exists()
    return CLOSE_NOT_FOUND if gone else CLOSE_FORBIDDEN


class DeploymentConsumer(WatchingConsumer):
    async def connect(self) -> None:
        self.user: Any = None
        self.group: str | None = None
        self.deployment_id = 0
        self.seq = 0
        self.last: dict[str, Any] | None = None
        await super().connect()

    async def start(self, user: Any) -> None:
        name = self.scope["url_route"]["kwargs"]["name"]
        found = await _find(user, name, query_param(self.scope, "owner"))
        if len(found) != 1:
            await self.close(code=CLOSE_AMBIGUOUS if found else CLOSE_NOT_FOUND)
            return
        self.user, self.deployment_id = user, found[0]
        # Join before reading, so that a change committed after the read nudges us.
        self.group = deployment_group(self.deployment_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send_state()

    async def deployment_changed(self, message: dict[str, Any]) -> None:
        if self.user is not None:
            await self._send_state()

    async def _send_state(self) -> None:
        state = await _state(self.user, self.deployment_id)
        if isinstance(state, int):
            await self._leave()
            await self.close(code=state)
            return
        if state == self.last:  # a nudge for a write that changed nothing shown
            return
        self.last, self.seq = state, self.seq + 1
        await self.send_json({"kind": "deployment", "seq": self.seq, "deployment": state})

    async def _leave(self) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        self.user = None

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        await self._leave()
