"""The predictor's lean path: batching that answers as the engine does, validation that names
the field and row, readiness, zero-downtime swaps, notifications, metrics and deployment keys."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from django.db import connection, connections
from django.utils import timezone

from console import tokens
from jobs.engine import model as engine_model
from models_registry import services
from models_registry.models import Deployment, ModelVersion
from models_registry.predictor import metrics, tally
from models_registry.predictor.app import predictor as state
from models_registry.predictor.directory import Watcher, read_snapshot
from models_registry.predictor.hosting import load_version
from tests.factories import make_token
from tests.models_registry.predictor_client import PredictorClient, client_for, refresh

pytestmark = pytest.mark.django_db
URL = "/v1/deployments/cancer/predict"


def _rows(frame: pd.DataFrame, n: int, start: int = 0) -> list[dict[str, Any]]:
    return frame.drop(columns="diagnosis").iloc[start : start + n].to_dict("records")


def test_batched_requests_answer_exactly_as_the_engine_predicts(
    personas: dict[str, Any], deployed: Deployment, version: ModelVersion, cancer_frame: Any
) -> None:
    # given the engine's own answers for 40 rows, one request each
    rows = _rows(cancer_frame, 40)
    expected = engine_model.predict(load_version(version).model, rows)

    # when the 40 arrive together (they run as batches through the compiled graph)
    answers = client_for(personas["owner"]).post_together(URL, [{"instances": [r]} for r in rows])

    # then each answer is the engine's (to float32 rounding: a batch's size changes the order
    # of the sums in its matrix products), and the model was called fewer times than asked
    assert [a.status_code for a in answers] == [200] * 40
    got = [a.json()["predictions"][0] for a in answers]
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["probabilities"] == pytest.approx(e["probabilities"], abs=1e-6)
    assert state.host.active[deployed.pk].served._compiled is not None
    counted = metrics.summary(deployed.pk)["1"]
    assert counted["requests"]["200"] == 40
    assert counted["batches"] < 40


def test_columns_answer_as_rows(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: Any
) -> None:
    rows = _rows(cancer_frame, 3)
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    client = client_for(personas["owner"])
    by_rows = client.post(URL, {"instances": rows}).json()["predictions"]
    assert client.post(URL, {"inputs": columns}).json()["predictions"] == by_rows


@pytest.mark.parametrize(
    ("change", "field", "instance", "message"),
    [
        (lambda rs: rs[1].update(mean_radius="wide"), "mean_radius", 1, "mean_radius"),
        (lambda rs: rs[2].pop("clinic"), "clinic", 2, "missing field 'clinic'"),
        (lambda rs: rs[0].update(colour="red"), "colour", 0, "unknown field 'colour'"),
        (lambda rs: rs[1].update(clinic=["north"]), "clinic", 1, "string or number"),
    ],
)
def test_a_bad_value_is_a_400_naming_its_field_and_row(
    personas: dict[str, Any],
    deployed: Deployment,
    cancer_frame: Any,
    change: Any,
    field: str,
    instance: int,
    message: str,
) -> None:
    rows = _rows(cancer_frame, 3)
    change(rows)
    answer = client_for(personas["owner"]).post(URL, {"instances": rows})
    assert answer.status_code == 400, answer.text
    assert (answer.json()["field"], answer.json()["instance"]) == (field, instance)
    assert message in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": {"mean_radius": [1.0, 2.0], "clinic": ["north"]}}, "'clinic' has 1 values"),
        ({"inputs": {"mean_radius": 1.0}}, "must be a list"),
        ({"inputs": {}}, '"inputs" must be'),
        ('{"instances": [{"mean_radius": 1e999}]}', "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ('{"instances": [{"mean_radius": 1' + "0" * 4000 + "}]}", "not valid JSON"),
    ],
)
def test_malformed_columns_and_json_are_400s(
    personas: dict[str, Any], deployed: Deployment, body: Any, message: str
) -> None:
    answer = client_for(personas["owner"]).post(URL, body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["detail"]


def test_health_and_readiness(personas: dict[str, Any], version: ModelVersion) -> None:
    anonymous = PredictorClient()
    assert anonymous.get("/livez").status_code == 200
    assert anonymous.get("/readyz").status_code == 503  # nothing read yet
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    state.snapshot = read_snapshot()
    owner = client_for(personas["owner"])
    pending = owner.get("/v1/deployments/cancer")
    assert (pending.status_code, pending.json()["status"]) == (503, "PENDING")
    refresh()
    assert anonymous.get("/readyz").status_code == 200
    ready = owner.get("/v1/deployments/cancer")
    assert ready.status_code == 200
    assert ready.json() | {"ready": True} == {
        "name": "cancer",
        "status": "READY",
        "ready": True,
        "loaded": True,
        "model": "cancer-diagnosis",
        "model_version": 1,
    }
    assert client_for(personas["teammate"]).get("/v1/deployments/cancer").status_code == 404
    assert anonymous.get("/v1/deployments/cancer").status_code == 401


def test_a_pending_deployment_goes_through_loading_to_ready(
    personas: dict[str, Any], version: ModelVersion
) -> None:
    deployment = services.deployment_create(owner=personas["owner"], model_version=version)
    assert services.deployment_mark_loading(deployment_id=deployment.pk)
    assert not services.deployment_mark_loading(deployment_id=deployment.pk)
    assert services.deployment_mark_ready(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.READY


@pytest.mark.django_db(transaction=True)
def test_a_swap_answers_every_request_old_then_new(
    personas: dict[str, Any], register: Any, cancer_frame: Any
) -> None:
    # given a deployment of v1 that answers
    owner = personas["owner"]
    first = register(owner)
    deployment = services.deployment_create(owner=owner, model_version=first, name="cancer")
    refresh()
    client = client_for(owner)
    body = {"instances": _rows(cancer_frame, 1)}

    # when it is swapped to v2 while requests keep coming
    second = register(owner)
    services.deployment_swap(actor=owner, deployment=deployment, version=second)

    def swap() -> None:
        refresh()
        connections.close_all()  # this thread's own, which would outlive the test

    swapping = threading.Thread(target=swap)
    swapping.start()
    answers = []
    while swapping.is_alive():
        answers.append(client.post(URL, body))
    swapping.join()
    answers.append(client.post(URL, body))

    # then every request is answered: by v1 until v2 is warm, then by v2
    assert {a.status_code for a in answers} == {200}
    versions = [a.json()["model_version"] for a in answers]
    assert versions == sorted(versions)
    assert versions[-1] == 2
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.READY


def test_a_move_to_a_file_that_fails_to_load_keeps_the_old_version_answering(
    personas: dict[str, Any], deployed: Deployment, register: Any, cancer_frame: Any
) -> None:
    second = register(personas["owner"])
    with second.artifact.open("ab") as fileobj:
        fileobj.write(b"tampered")
    services.deployment_move(deployment=deployed, model_version=second)
    refresh()
    answer = client_for(personas["owner"]).post(URL, {"instances": _rows(cancer_frame, 1)})
    assert (answer.status_code, answer.json()["model_version"]) == (200, 1)


def test_a_move_to_another_models_version_is_refused(
    personas: dict[str, Any], deployed: Deployment, register: Any
) -> None:
    other = register(personas["teammate"])
    with pytest.raises(ValueError, match="its own model"):
        services.deployment_move(deployment=deployed, model_version=other)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="NOTIFY is PostgreSQL's")
def test_the_watcher_hears_a_change_within_a_second(personas: dict[str, Any]) -> None:
    heard: list[float] = []
    watcher = Watcher(lambda: heard.append(time.monotonic()), safety_s=60, poll_s=60)
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while not heard and time.monotonic() < deadline:
            time.sleep(0.02)
        assert heard, "the first read did not happen"
        time.sleep(0.2)
        changed = time.monotonic()
        make_token(personas["outsider"])
        while len(heard) < 2 and time.monotonic() < changed + 5:
            time.sleep(0.01)
        assert len(heard) >= 2
        assert heard[1] - changed < 1.0
    finally:
        watcher.stop()


def test_metrics_in_prometheus_format_for_staff_and_per_deployment_for_the_owner(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: Any
) -> None:
    owner = client_for(personas["owner"])
    owner.post(URL, {"instances": _rows(cancer_frame, 2)})
    owner.post(URL, {"instances": [{"x": 1}]})
    summary = owner.get("/v1/deployments/cancer/metrics").json()["versions"]["1"]
    assert summary["requests"] == {"200": 1, "400": 1}
    assert set(summary["latency_seconds"]) >= {"parse", "queue", "inference", "total"}
    assert client_for(personas["teammate"]).get("/v1/deployments/cancer/metrics").status_code == 404

    assert owner.get("/metrics").status_code == 403
    assert PredictorClient().get("/metrics").status_code == 401
    personas["owner"].is_staff = True
    personas["owner"].save()
    state.snapshot = read_snapshot()
    scraped = owner.get("/metrics")
    assert scraped.status_code == 200
    assert f'deployment_id="{deployed.pk}"' in scraped.text
    assert "predictor_batch_rows_bucket" in scraped.text


def test_a_door_credential_opens_the_predictor_for_its_active_user_only(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: Any
) -> None:
    # The web's door forwards a browser session as a signed door credential, no stored token.
    owner = personas["owner"]
    state.snapshot = read_snapshot()
    body = {"instances": _rows(cancer_frame, 1)}
    credential = tokens.door_credential(user_id=owner.pk)
    assert PredictorClient(credential).post(URL, body).status_code == 200
    # another user's id under the owner's signature, or no prefix: unknown
    _, _, rest = credential[len(tokens.DOOR_PREFIX) :].partition(":")
    forged = f"{tokens.DOOR_PREFIX}{personas['outsider'].pk}:{rest}"
    assert PredictorClient(forged).post(URL, body).status_code == 401
    assert PredictorClient(credential[len(tokens.DOOR_PREFIX) :]).post(URL, body).status_code == 401
    # the outsider's own credential finds no deployment of that name
    outsider = tokens.door_credential(user_id=personas["outsider"].pk)
    assert PredictorClient(outsider).post(URL, body).status_code == 404
    # a deactivated user's credential stops working once the directory knows
    owner.is_active = False
    owner.save()
    state.snapshot = read_snapshot()
    assert PredictorClient(credential).post(URL, body).status_code == 401


def test_deployment_keys_are_shown_once_revocable_expiring_and_rate_limited(
    personas: dict[str, Any], deployed: Deployment, api_as: Any, cancer_frame: Any
) -> None:
    keys_url = "/api/v1/deployments/cancer/keys/"
    owner = api_as("owner")
    made = owner.post(keys_url, {"name": "ci", "rate_limit_per_minute": 2}, format="json")
    assert made.status_code == 201, made.content
    secret = made.json()["key"]
    assert secret.startswith(made.json()["prefix"])
    listed = owner.get(keys_url).json()
    assert [k["name"] for k in listed] == ["ci"]
    assert "key" not in listed[0]
    assert api_as("outsider").post(keys_url, {}, format="json").status_code == 404
    assert api_as("outsider").get(keys_url).status_code == 404
    assert api_as(None).get(keys_url).status_code in (401, 403)
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert owner.post(keys_url, {"expires_at": past}, format="json").status_code == 400

    # the key predicts on its deployment, within its rate
    state.snapshot = read_snapshot()
    body = {"instances": _rows(cancer_frame, 1)}
    client = PredictorClient(secret, scheme="Bearer")
    assert [client.post(URL, body).status_code for _ in range(2)] == [200, 200]
    limited = client.post(URL, body)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert client.get("/v1/deployments/cancer/metrics").status_code == 403
    # its last use reaches the list with the traffic writer's next flush
    assert owner.get(keys_url).json()[0]["last_used_at"] is None
    tally.Writer(state.traffic, interval_s=60, retention_days=1, key_use=state.key_use).flush()
    assert owner.get(keys_url).json()[0]["last_used_at"] is not None

    # an expired key and a revoked one stop working
    expiring = services.deployment_key_create(
        deployment=deployed, expires_at=timezone.now() + timedelta(seconds=1)
    )[1]
    state.snapshot = read_snapshot()
    assert PredictorClient(expiring, "Bearer").post(URL, body).status_code == 200
    time.sleep(1.1)
    assert PredictorClient(expiring, "Bearer").post(URL, body).status_code == 401
    assert owner.delete(f"{keys_url}{made.json()['id']}/").status_code == 204
    state.snapshot = read_snapshot()
    assert client.post(URL, body).status_code == 401


def test_a_key_opens_only_its_own_deployment(
    personas: dict[str, Any], deployed: Deployment, version: ModelVersion, cancer_frame: Any
) -> None:
    services.deployment_create(owner=personas["owner"], model_version=version, name="other")
    secret = services.deployment_key_create(deployment=deployed)[1]
    refresh()
    client = PredictorClient(secret, "Bearer")
    body = {"instances": _rows(cancer_frame, 1)}
    assert client.post("/v1/deployments/other/predict", body).status_code == 404
    assert client.post(URL, body).status_code == 200
