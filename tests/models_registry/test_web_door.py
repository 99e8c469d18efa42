"""The web process's same-origin door forwards predictions to the predictor: with a token as
it is, with a session after checking its user and CSRF; never to someone it cannot name."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from console import tokens
from console.http_protocol import QUIET
from models_registry import services
from models_registry.door import PredictDoor
from models_registry.models import ModelVersion
from tests.models_registry.predictor_client import client_for, live_predictor, refresh

URL = "/api/v1/deployments/cancer/predict/"


async def _django_stand_in(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


class DoorClient:
    """Requests to the door, all on one event loop (its kept-alive connections live on it).
    Each request offers the web server's quiet-log extension; `quieted` counts its uses."""

    def __init__(self, door: PredictDoor) -> None:
        self.door = door
        self.loop = asyncio.new_event_loop()
        self.quieted = 0

    async def _served(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        def quiet() -> None:
            self.quieted += 1

        await self.door({**scope, "extensions": {QUIET: quiet}}, receive, send)

    def post(self, body: Any, headers: dict[str, str], url: str = URL) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._served)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.post(url, json=body, headers=headers)

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        # The session look-ups ran on asgiref's thread: its database connection ends there.
        self.loop.run_until_complete(sync_to_async(connections.close_all)())
        self.loop.close()


@pytest.mark.django_db(transaction=True)
def test_the_door_forwards_tokens_and_checked_sessions(
    personas: dict[str, Any], version: ModelVersion, cancer_frame: Any, settings: Any
) -> None:
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    refresh()
    body = {"instances": cancer_frame.drop(columns="diagnosis").iloc[:2].to_dict("records")}
    token = client_for(personas["owner"]).headers
    browser = Client()
    browser.force_login(personas["owner"])
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = _get_new_csrf_string()
    cookies = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
    with live_predictor() as url:
        settings.PREDICTOR_URL = url
        door = DoorClient(PredictDoor(_django_stand_in))

        by_token = door.post(body, token)
        assert by_token.status_code == 200, by_token.text
        assert len(by_token.json()["predictions"]) == 2
        assert by_token.json()["model_version"] == 1

        by_session = door.post(body, {"Cookie": cookies, "X-CSRFToken": csrf})
        assert by_session.status_code == 200, by_session.text
        assert by_session.json() == by_token.json()
        no_csrf = door.post(body, {"Cookie": cookies})
        assert no_csrf.status_code == 403
        assert "CSRF" in no_csrf.json()["detail"]
        assert door.post(body, {}).status_code == 401
        # the two answered predictions left the access log; the refused ones stay in it
        assert door.quieted == 2
        teammate = client_for(personas["teammate"]).headers
        refused = door.post(body, teammate)
        assert refused.status_code == 404
        assert refused.json()["code"] == "not_found"  # the API's one error shape
        bad = door.post({"instances": [{"mean_radius": 1}]}, token)
        assert bad.status_code == 400
        assert (bad.json()["code"], bad.json()["instance"]) == ("invalid", 0)
        # a token the predictor does not hold yet (made since its last refresh) goes on to
        # Django's view; once it holds it, the predictor answers and names the version
        raw = tokens.token_create(user=personas["owner"], name="app", scope="predict").raw
        assert door.post(body, {"Authorization": f"Token {raw}"}).status_code == 299
        refresh()
        personal = door.post(body, {"Authorization": f"Token {raw}"})
        assert (personal.status_code, personal.headers["X-Model-Version"]) == (200, "1")
        # a kept-alive connection is reused: the second answer came over the first's
        assert len(door.door.upstream._idle) == 1
        # other paths go on to Django
        assert door.post(body, token, "/api/v1/jobs/").status_code == 299
        door.close()

    # a predictor that is gone is a 502 that says so
    settings.PREDICTOR_URL = "http://127.0.0.1:9"
    elsewhere = DoorClient(PredictDoor(_django_stand_in))
    gone = elsewhere.post(body, token)
    elsewhere.close()
    assert gone.status_code == 502
    assert "unreachable" in gone.json()["detail"]


def test_the_door_is_installed_in_front_of_the_web_app() -> None:
    from console import asgi

    assert isinstance(asgi.application.application_mapping["http"], PredictDoor)
    assert settings.PREDICTOR_URL
