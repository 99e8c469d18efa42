"""An image archive through the API: a job with an implied target, a registered version, and a
deployment that answers base64 images through the predictor's view."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jobs import services as job_services
from jobs.models import TrainingJob
from models_registry import services as registry_services
from models_registry.models import Deployment, ModelVersion
from tests.factories import make_dataset
from tests.image_data import b64, encode, png_declaring, shape, shapes_zip
from tests.models_registry.predictor_client import client_for, refresh

pytestmark = pytest.mark.django_db

URL = "/v1/deployments/shapes/predict"


def _image(kind: str, seed: int) -> str:
    return b64(encode(shape(kind, np.random.default_rng(seed), 24), "JPEG"))


@pytest.fixture
def image_dataset(personas: dict[str, Any], media_root: Any) -> Any:
    dataset = make_dataset(personas["owner"], shapes_zip(), name="shapes", filename="shapes.zip")
    assert (dataset.kind, dataset.status) == ("image", "READY"), dataset.error
    return dataset


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"target": "diagnosis"}, "target is implied"),
        ({"task_type": "regression"}, "filename,value"),
        ({"task_type": "multiclass", "target": "label"}, None),
    ],
    ids=["other-target", "regression-on-classes", "explicit-ok"],
)
def test_image_jobs_take_their_target_from_the_archive(
    api_as: Any, image_dataset: Any, body: dict[str, Any], message: str | None
) -> None:
    answer = api_as("owner").post(
        "/api/v1/jobs/", {"dataset": image_dataset.pk, "max_trials": 1, **body}, format="json"
    )
    if message is None:
        assert answer.status_code == 201, answer.content
        assert (answer.json()["target"], answer.json()["task_type"]) == ("label", "multiclass")
    else:
        assert answer.status_code == 400
        assert message in answer.json()["fields"]["target"][0]
        assert TrainingJob.objects.count() == 0


def test_an_image_job_registers_a_version_that_the_predictor_serves(
    api_as: Any, personas: dict[str, Any], image_dataset: Any, settings: Any
) -> None:
    # given a job created on an image archive without naming a target
    answer = api_as("owner").post(
        "/api/v1/jobs/",
        {"dataset": image_dataset.pk, "max_trials": 1, "max_epochs": 3},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert (answer.json()["target"], answer.json()["task_type"]) == ("label", "binary")

    # when a worker runs it
    job = job_services.job_claim(job_id=answer.json()["id"], worker="w")
    assert job is not None
    job = job_services.job_run(job=job)

    # then a version is registered with an image input schema and the class names
    assert job.status == TrainingJob.Status.SUCCEEDED, job.error
    version = ModelVersion.objects.get(job=job)
    assert version.classes == ["blue", "red"]
    assert version.input_schema[0]["type"] == "image"
    assert version.input_schema[0]["height"] == 16
    assert job.manifest["image_input"]["n_images"] == 40
    assert "accuracy" in version.metrics

    # and its deployment answers base64 images through the predictor's view
    registry_services.deployment_create(
        owner=personas["owner"], model_version=version, name="shapes"
    )
    refresh()
    assert Deployment.objects.get(name="shapes").status == Deployment.Status.READY
    client = client_for(personas["owner"])
    body = {"instances": [{"image": _image("red", 1)}, {"image": _image("blue", 2)}]}
    answer = client.post(URL, body)
    assert answer.status_code == 200, answer.content
    predictions = answer.json()["predictions"]
    assert [set(p) for p in predictions] == [{"label", "probabilities"}] * 2
    assert set(predictions[0]["probabilities"]) == {"blue", "red"}

    # bad images are refused with a 400 that names the instance
    for bad, message in [
        ("%%% not base64", "not valid base64"),
        (b64(b"GIF89a but not really"), "not an image"),
        (b64(png_declaring(60_000, 60_000)), "decompression bomb"),
    ]:
        body = {"instances": [{"image": _image("red", 3)}, {"image": bad}]}
        answer = client.post(URL, body)
        assert answer.status_code == 400, answer.content
        assert answer.json()["instance"] == 1
        assert answer.json()["field"] == "image"
        assert message in answer.json()["detail"]
