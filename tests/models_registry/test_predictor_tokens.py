"""The predictor takes personal API tokens directly (`Token` or `Bearer`): predict and full
scopes predict on their user's deployments, read scope is refused with a 403, an expired or
revoked token is a 401; a revocation reaches a running predictor within about a second."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
from django.db import connection, connections
from django.utils import timezone

from console import tokens
from models_registry import services
from models_registry.models import ModelVersion
from models_registry.predictor.app import predictor as state
from models_registry.predictor.directory import Watcher
from tests.models_registry.predictor_client import PredictorClient, live_predictor, refresh

pytestmark = pytest.mark.django_db
URL = "/v1/deployments/cancer/predict"


@pytest.fixture
def body(cancer_frame: Any) -> dict[str, Any]:
    return {"instances": cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")}


def test_personal_tokens_predict_per_scope_and_owner(
    personas: dict[str, Any], version: ModelVersion, body: dict[str, Any]
) -> None:
    owner = personas["owner"]
    services.deployment_create(owner=owner, model_version=version, name="cancer")
    made = {
        scope: tokens.token_create(user=owner, name=scope, scope=scope).raw
        for scope in ("read", "predict", "full")
    }
    soon = tokens.token_create(
        user=owner, name="soon", scope="predict", expires_at=timezone.now() + timedelta(seconds=1)
    ).raw
    revoked = tokens.token_create(user=owner, name="gone", scope="full")
    tokens.token_revoke(token=revoked.token)
    teammates = tokens.token_create(user=personas["teammate"], name="t", scope="full").raw
    refresh()

    for scheme in ("Token", "Bearer"):
        for scope in ("predict", "full"):
            answer = PredictorClient(made[scope], scheme).post(URL, body)
            assert answer.status_code == 200, (scheme, scope, answer.text)
            assert answer.headers["X-Model-Version"] == "1"
    reader = PredictorClient(made["read"])
    refused = reader.post(URL, body)
    assert refused.status_code == 403
    assert "scope (read)" in refused.json()["detail"]
    assert reader.post("/v2/models/cancer/infer", {"inputs": []}).status_code == 403
    # a read token reads what a read is: readiness
    assert reader.get("/v1/deployments/cancer").json()["ready"] is True
    # another user's token does not find the owner's deployment
    assert PredictorClient(teammates).post(URL, body).status_code == 404
    assert PredictorClient(revoked.raw).post(URL, body).status_code == 401
    assert PredictorClient(soon).post(URL, body).status_code == 200
    time.sleep(1.1)
    assert PredictorClient(soon).post(URL, body).status_code == 401
    # an inactive user's tokens close with the next refresh
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    refresh()
    assert PredictorClient(made["full"]).post(URL, body).status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="NOTIFY is PostgreSQL's")
def test_a_revoked_token_stops_working_on_a_running_predictor_within_a_second(
    personas: dict[str, Any], version: ModelVersion, body: dict[str, Any], api_as: Any
) -> None:
    owner = personas["owner"]
    services.deployment_create(owner=owner, model_version=version, name="cancer")
    refresh()  # loads and warms here, so that the watcher's refreshes are quick
    made = tokens.token_create(user=owner, name="ci", scope="predict")

    def on_change() -> None:
        state.refresh()
        connections.close_all()  # the watcher thread's own, which would outlive the test

    # no safety poll within the test: only the NOTIFY can bring the revocation
    watcher = Watcher(on_change, safety_s=60, poll_s=60)
    watcher.start()
    try:
        with live_predictor() as url, httpx.Client(base_url=url) as client:
            headers = {"Authorization": f"Bearer {made.raw}"}
            deadline = time.monotonic() + 10
            while client.post(URL, json=body, headers=headers).status_code != 200:
                assert time.monotonic() < deadline, "the token never opened the predictor"
                time.sleep(0.05)
            revoke = api_as("owner").delete(f"/api/v1/auth/tokens/{made.token.pk}/")
            assert revoke.status_code in (200, 204)
            revoked_at = time.monotonic()
            while (code := client.post(URL, json=body, headers=headers).status_code) == 200:
                assert time.monotonic() - revoked_at < 5, "the revocation never arrived"
                time.sleep(0.02)
            assert code == 401
            assert time.monotonic() - revoked_at < 1.5
    finally:
        watcher.stop()


@pytest.mark.django_db(transaction=True)
def test_a_new_key_works_at_once_and_an_undeploy_applies_before_the_model_is_dropped(
    personas: dict[str, Any], version: ModelVersion, body: dict[str, Any]
) -> None:
    owner = personas["owner"]
    deployment = services.deployment_create(owner=owner, model_version=version, name="cancer")
    refresh()

    class Poked:
        """The watcher, but only its poke: it reads the directory on a thread of its own (as
        the real one does); no NOTIFY and no poll, so nothing else brings the new key."""

        reads = 0

        def poke(self) -> None:
            Poked.reads += 1
            threading.Thread(target=self._read).start()

        def _read(self) -> None:
            state.swap()
            connections.close_all()

    state._watcher = cast(Any, Poked())
    try:
        with live_predictor() as url, httpx.Client(base_url=url) as client:
            # a key made after the predictor last read is honoured on its first request
            _, key = services.deployment_key_create(deployment=deployment, name="k")
            bearer = {"Authorization": f"Bearer {key}"}
            answer = client.post(URL, json=body, headers=bearer)
            assert answer.status_code == 200, answer.text
            assert Poked.reads == 1
            # an unknown one is still a 401, after one more read
            started = time.monotonic()
            wrong = client.post(URL, json=body, headers={"Authorization": "Bearer dk_nope"})
            assert wrong.status_code == 401
            assert time.monotonic() - started < 2
            assert Poked.reads == 2
            # no credential at all is a 401 without any read
            assert client.post(URL, json=body).status_code == 401
            assert Poked.reads == 2

            # an undeploy: once read, the deployment no longer answers, though the model is
            # only dropped by the loader's next pass
            services.deployment_undeploy(actor=owner, deployment=deployment)
            state.swap()
            assert deployment.pk in state.host.active
            gone = client.post(URL, json=body, headers=bearer)
            assert gone.status_code == 503
            assert "UNDEPLOYED" in gone.json()["detail"]
    finally:
        state._watcher = None
