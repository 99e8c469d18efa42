from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.test import Client

from jobs.models import TrainingJob
from models_registry import services, serving
from models_registry.models import Deployment, ModelVersion
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _register(owner: User, searched: Any, tmp_path: Path) -> ModelVersion:
    result, _, path = searched
    job = TrainingJob.objects.create(
        owner=owner,
        dataset=make_dataset(owner),
        dataset_sha256="0" * 64,
        target="diagnosis",
        task_type="binary",
        status=TrainingJob.Status.SUCCEEDED,
        test_metrics={"accuracy": result.test_metrics["accuracy"]},
    )
    copy = tmp_path / f"job{job.pk}.keras"
    shutil.copy(path, copy)
    return services.model_version_register(job=job, model_path=copy)


@pytest.fixture
def version(personas: dict[str, Any], searched: Any, media_root: Path, tmp_path: Path) -> Any:
    return _register(personas["owner"], searched, tmp_path)


def test_versions_count_up_and_keep_lineage_and_schema(
    personas: dict[str, Any], version: ModelVersion, searched: Any, tmp_path: Path
) -> None:
    second = _register(personas["owner"], searched, tmp_path)
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
    serving.reconcile_once()
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.READY
    assert deployment.ready_at is not None


def test_a_tampered_model_file_is_refused(personas: dict[str, Any], version: ModelVersion) -> None:
    # given a model file changed after it was registered
    with version.artifact.open("ab") as fileobj:
        fileobj.write(b"tampered")
    serving.cache.forget_except(set())
    deployment = services.deployment_create(owner=personas["owner"], model_version=version)

    # when the predictor reconciles, then it refuses to load it and says why
    serving.reconcile_once()
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.FAILED
    assert "sha256" in deployment.error


@pytest.fixture
def predictor(personas: dict[str, Any], version: ModelVersion, settings: Any) -> Any:
    from console import predictor_settings

    settings.ROOT_URLCONF = predictor_settings.ROOT_URLCONF
    settings.MIDDLEWARE = predictor_settings.MIDDLEWARE
    serving.cache.forget_except(set())
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    serving.reconcile_once()
    from rest_framework.authtoken.models import Token

    def client(name: str | None) -> Client:
        if name is None:
            return Client()
        token = Token.objects.get_or_create(user=personas[name])[0]
        return Client(HTTP_AUTHORIZATION=f"Token {token.key}")

    return client


URL = "/v1/deployments/cancer/predict"


def test_predict_answers_labels_and_probabilities(
    predictor: Any, cancer_frame: pd.DataFrame
) -> None:
    rows = cancer_frame.drop(columns="diagnosis").iloc[:3].to_dict("records")
    answer = predictor("owner").post(URL, {"instances": rows}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    predictions = answer.json()["predictions"]
    assert len(predictions) == 3
    assert set(predictions[0]["probabilities"]) == {"benign", "malignant"}
    assert "total;dur=" in answer["Server-Timing"]


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
    answer = predictor("owner").post(URL, body, content_type="application/json")
    assert answer.status_code == 400
    assert message in answer.json()["detail"]


def test_only_the_owner_may_predict(predictor: Any, cancer_frame: pd.DataFrame) -> None:
    rows = cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")
    for name, code in (("teammate", 404), ("outsider", 404), (None, 401)):
        answer = predictor(name).post(URL, {"instances": rows}, content_type="application/json")
        assert answer.status_code == code, name


def test_a_deployment_that_is_not_ready_answers_503(
    predictor: Any, cancer_frame: pd.DataFrame
) -> None:
    Deployment.objects.filter(name="cancer").update(status=Deployment.Status.PENDING)
    rows = cancer_frame.drop(columns="diagnosis").iloc[:1].to_dict("records")
    answer = predictor("owner").post(URL, {"instances": rows}, content_type="application/json")
    assert answer.status_code == 503
    assert "PENDING" in answer.json()["detail"]


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
