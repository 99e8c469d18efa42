from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.test import Client

from models_registry import services
from models_registry.models import Deployment, ModelVersion
from tests.models_registry.predictor_client import client_for, refresh

pytestmark = pytest.mark.django_db


def test_versions_count_up_and_keep_lineage_and_schema(
    personas: dict[str, Any], version: ModelVersion, register: Any
) -> None:
    second = register(personas["owner"])
    assert (version.version, second.version) == (1, 2)
    assert version.model_id == second.model_id
    assert version.model.name == "cancer-diagnosis"
    assert version.classes == ["benign", "malignant"]
    assert version.input_schema[0] == {"name": "mean_radius", "type": "numeric"}
    assert version.job.dataset_id == version.dataset_id


def test_deploying_again_needs_a_new_name(personas: dict[str, Any], version: ModelVersion) -> None:
    owner = personas["owner"]
    first = services.deployment_create(owner=owner, model_version=version)
    assert first.name == "cancer-diagnosis-v1"
    with pytest.raises(services.DeploymentExists) as refused:
        services.deployment_create(owner=owner, model_version=version)
    assert refused.value.existing == first
    second = services.deployment_create(owner=owner, model_version=version, name="canary")
    assert second.model_version == version
    with pytest.raises(services.DeploymentNameTaken):
        services.deployment_create(owner=owner, model_version=version, name=first.name)


def test_deploy_call_conflict_and_ownership(
    personas: dict[str, Any], version: ModelVersion, api_as: Any
) -> None:
    url = f"/api/v1/model-versions/{version.pk}/deploy/"
    assert api_as("owner").post(url, {"name": "prod"}, format="json").status_code == 201
    taken = api_as("owner").post(url, {"name": "prod"}, format="json")
    assert taken.status_code == 409
    assert "already have a deployment named 'prod'" in taken.json()["fields"]["name"][0]
    assert api_as("outsider").post(url, {"name": "mine"}, format="json").status_code == 404
    assert Deployment.objects.count() == 1


def test_predictor_loads_pending_deployments_and_marks_them_ready(
    personas: dict[str, Any], version: ModelVersion
) -> None:
    deployment = services.deployment_create(owner=personas["owner"], model_version=version)
    refresh()
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.READY
    assert deployment.ready_at is not None


def test_a_tampered_model_file_is_refused(personas: dict[str, Any], version: ModelVersion) -> None:
    # given a model file changed after it was registered
    with version.artifact.open("ab") as fileobj:
        fileobj.write(b"tampered")
    deployment = services.deployment_create(owner=personas["owner"], model_version=version)

    # when the predictor reconciles, then it refuses to load it and says why
    refresh()
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.FAILED
    assert "sha256" in deployment.error


@pytest.fixture
def predictor(personas: dict[str, Any], version: ModelVersion) -> Any:
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    refresh()

    def client(name: str | None) -> Any:
        return client_for(None if name is None else personas[name])

    return client


URL = "/v1/deployments/cancer/predict"


def test_predict_answers_labels_and_probabilities(
    predictor: Any, cancer_frame: pd.DataFrame
) -> None:
    rows = cancer_frame.drop(columns="diagnosis").iloc[:3].to_dict("records")
    answer = predictor("owner").post(URL, {"instances": rows})
    assert answer.status_code == 200, answer.content
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    assert set(predictions[0]["probabilities"]) == {"benign", "malignant"}
    assert (answer.json()["model"], answer.json()["model_version"]) == ("cancer-diagnosis", 1)
    assert "total;dur=" in answer.headers["Server-Timing"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"rows": []}, '"instances"'),
        ({"instances": []}, '"instances"'),
        ({"instances": ["a row"]}, "must be an object"),
        ({"instances": [{}] * 1001}, "At most 1000"),
    ],
)
def test_malformed_bodies_get_a_400(predictor: Any, body: Any, message: str) -> None:
    answer = predictor("owner").post(URL, body)
    assert answer.status_code == 400
    assert message in answer.json()["detail"]


def test_only_the_owner_may_predict(predictor: Any, cancer_frame: pd.DataFrame) -> None:
    rows = cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")
    for name, code in (("teammate", 404), ("outsider", 404), (None, 401)):
        answer = predictor(name).post(URL, {"instances": rows})
        assert answer.status_code == code, name


def test_a_deployment_that_is_not_ready_answers_503(
    personas: dict[str, Any], version: ModelVersion, cancer_frame: pd.DataFrame
) -> None:
    # given a deployment the predictor knows of but has not loaded yet
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    from models_registry.predictor.app import predictor
    from models_registry.predictor.directory import read_snapshot

    predictor.snapshot = read_snapshot()
    rows = cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")
    answer = client_for(personas["owner"]).post(URL, {"instances": rows})
    assert answer.status_code == 503
    assert "PENDING" in answer.json()["detail"]
    assert answer.headers["Retry-After"] == "1"


def test_admin_deploy_action_goes_through_the_permission_check(
    personas: dict[str, Any], version: ModelVersion, admin_client: Client
) -> None:
    # a superuser who does not own the model is refused, as in the API
    url = "/admin/models_registry/modelversion/"
    form = {"action": "deploy", "_selected_action": [version.pk]}
    answer = admin_client.post(url, form, follow=True)
    assert b"does not allow you to deploy" in answer.content
    assert not Deployment.objects.exists()

    # its owner, working in the admin, deploys it
    owner = personas["owner"]
    User.objects.filter(pk=owner.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(owner)
    answer = client.post(url, form, follow=True)
    assert answer.status_code == 200
    assert b"Deploying cancer-diagnosis v1" in answer.content
    assert Deployment.objects.get().model_version == version
