"""A member of the workspace a model is shared with predicts on a teammate's deployment of it
with their own credentials (legacy token, personal token, the browser's session through the
web door or the API's action); an outsider, or a member of another workspace, gets a 404.
Leaving the workspace closes it again within a second on a running predictor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.db import connection, connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from console import tokens
from models_registry import services
from models_registry.door import PredictDoor
from models_registry.models import Deployment, Membership, ModelVersion, Workspace
from models_registry.predictor.app import predictor as state
from models_registry.predictor.directory import Watcher
from tests.models_registry.predictor_client import (
    PredictorClient,
    client_for,
    live_predictor,
    refresh,
)
from tests.models_registry.test_web_door import DoorClient, _django_stand_in

pytestmark = pytest.mark.django_db
NAME = "cancer"
URL = f"/v1/deployments/{NAME}/predict"


@pytest.fixture
def body(cancer_frame: Any) -> dict[str, Any]:
    return {"instances": cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")}


@pytest.fixture
def deployed(personas: dict[str, Any], version: ModelVersion) -> Deployment:
    return services.deployment_create(owner=personas["owner"], model_version=version, name=NAME)


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_members_predict_on_a_teammates_deployment_and_outsiders_do_not(
    role: str,
    personas: dict[str, Any],
    deployed: Deployment,
    share: Callable[..., Workspace],
    body: dict[str, Any],
) -> None:
    share(deployed.model_version, role)
    # a member of another workspace is an outsider here
    other = Workspace.objects.create(name="other", created_by=personas["outsider"])
    Membership.objects.create(workspace=other, user=personas["outsider"], role="admin")
    personal = tokens.token_create(user=personas["teammate"], name="t", scope="predict").raw
    reader = tokens.token_create(user=personas["teammate"], name="r", scope="read").raw
    refresh()

    owner_answer = client_for(personas["owner"]).post(URL, body)
    assert owner_answer.status_code == 200
    for credential in (client_for(personas["teammate"]), PredictorClient(personal, "Bearer")):
        answer = credential.post(URL, body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == owner_answer.json()["predictions"]
        assert credential.get(f"/v1/deployments/{NAME}").json()["ready"] is True
        assert credential.post(f"/v2/models/{NAME}/infer", {"inputs": []}).status_code == 400
    # a read-scope token still may not predict, on a teammate's deployment as on its own
    assert PredictorClient(reader).post(URL, body).status_code == 403
    outsider = client_for(personas["outsider"])
    refused = outsider.post(URL, body)
    assert refused.status_code == 404
    assert outsider.get(f"/v1/deployments/{NAME}").status_code == 404
    assert outsider.post(f"/v2/models/{NAME}/infer", {"inputs": []}).status_code == 404


def test_the_callers_own_comes_first_and_two_teammates_are_ambiguous(
    personas: dict[str, Any],
    deployed: Deployment,
    share: Callable[..., Workspace],
    body: dict[str, Any],
) -> None:
    workspace = share(deployed.model_version, "editor")
    Membership.objects.create(workspace=workspace, user=personas["outsider"], role="editor")
    services.deployment_create(
        owner=personas["teammate"], model_version=deployed.model_version, name=NAME
    )
    refresh()
    # the teammate's own deployment of the name answers the teammate
    assert state.snapshot.deployments[(personas["teammate"].pk, NAME)].id != deployed.pk
    assert client_for(personas["teammate"]).post(URL, body).status_code == 200
    # the outsider (now a member) sees two teammates' of that name: which one is not guessed
    ambiguous = client_for(personas["outsider"]).post(URL, body)
    assert ambiguous.status_code == 409
    assert "Several teammates" in ambiguous.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_the_web_door_and_the_api_let_a_member_predict_with_a_session(
    personas: dict[str, Any],
    deployed: Deployment,
    share: Callable[..., Workspace],
    body: dict[str, Any],
    api_as: Any,
    settings: Any,
) -> None:
    share(deployed.model_version, "viewer")
    refresh()
    for who in ("teammate", "outsider"):
        client_for(personas[who])  # their tokens, which the door forwards, known to the predictor

    def session_headers(user: Any) -> dict[str, str]:
        browser = Client()
        browser.force_login(user)
        session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        csrf = _get_new_csrf_string()
        cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
        return {"Cookie": cookie, "X-CSRFToken": csrf}

    with live_predictor() as url:
        settings.PREDICTOR_URL = url
        door = DoorClient(PredictDoor(_django_stand_in))
        by_teammate = door.post(body, session_headers(personas["teammate"]))
        by_outsider = door.post(body, session_headers(personas["outsider"]))
        door.close()
        # the test client has no ASGI layer: it reaches the API's action of the same URL
        by_action = api_as("teammate").post(
            f"/api/v1/deployments/{NAME}/predict/", body, format="json"
        )
        outsider_action = api_as("outsider").post(
            f"/api/v1/deployments/{NAME}/predict/", body, format="json"
        )
    assert by_teammate.status_code == 200, by_teammate.text
    assert by_teammate.headers["X-Model-Version"] == "1"
    assert by_outsider.status_code == 404
    assert by_outsider.json()["code"] == "not_found"
    assert by_action.status_code == 200, by_action.content
    assert outsider_action.status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="NOTIFY is PostgreSQL's")
def test_leaving_the_workspace_closes_the_teammates_deployment_within_a_second(
    personas: dict[str, Any],
    deployed: Deployment,
    share: Callable[..., Workspace],
    body: dict[str, Any],
) -> None:
    workspace = share(deployed.model_version, "viewer")
    refresh()  # loads and warms here, so that the watcher's refreshes are quick
    headers = client_for(personas["teammate"]).headers

    def on_change() -> None:
        state.refresh()
        connections.close_all()

    watcher = Watcher(on_change, safety_s=60, poll_s=60)  # only a NOTIFY brings the change
    watcher.start()
    try:
        with live_predictor() as url, httpx.Client(base_url=url) as client:
            assert client.post(URL, json=body, headers=headers).status_code == 200
            Membership.objects.filter(workspace=workspace, user=personas["teammate"]).delete()
            left_at = time.monotonic()
            while (code := client.post(URL, json=body, headers=headers).status_code) == 200:
                assert time.monotonic() - left_at < 5, "the change never arrived"
                time.sleep(0.02)
            assert code == 404
            assert time.monotonic() - left_at < 1.5
    finally:
        watcher.stop()
