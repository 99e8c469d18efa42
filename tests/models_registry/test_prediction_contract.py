"""A deployment's contract with its clients: categories never seen in training answer with a
warning, images may come as `{"b64": ...}` (REST and Open Inference Protocol), and each
deployment describes its predict call as an OpenAPI document and a curl command that work."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import keras
import numpy as np
import orjson
import pytest
from openapi_spec_validator import validate

from jobs.engine.layers import compiled_head
from jobs.engine.tasks.image import ImageInput
from jobs.models import TrainingJob
from models_registry import services
from models_registry.models import Deployment, ModelVersion
from tests.factories import make_dataset
from tests.image_data import b64, encode, png_declaring, shape
from tests.models_registry.predictor_client import (
    PredictorClient,
    client_for,
    live_predictor,
    refresh,
)

pytestmark = pytest.mark.django_db
URL = "/v1/deployments/cancer/predict"


def _row(frame: Any, **change: Any) -> dict[str, Any]:
    row: dict[str, Any] = frame.drop(columns="diagnosis").iloc[0].to_dict()
    row.update(change)
    return row


# --- unseen categories ----------------------------------------------------------------------


def test_an_unseen_missing_or_numeric_category_answers_with_a_warning(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: Any
) -> None:
    client = client_for(personas["owner"])
    known = client.post(URL, {"instances": [_row(cancer_frame, clinic="north")]})
    assert known.status_code == 200, known.content
    assert "warnings" not in known.json()

    rows = [
        _row(cancer_frame, clinic="north"),
        _row(cancer_frame, clinic="mauve"),
        _row(cancer_frame, clinic=None),
        _row(cancer_frame, clinic=3),
    ]
    answer = client.post(URL, {"instances": rows})
    assert answer.status_code == 200, answer.content
    assert answer.json()["warnings"] == [
        {"instance": 1, "field": "clinic", "code": "unseen_category", "value": "mauve"},
        {"instance": 2, "field": "clinic", "code": "missing_value"},
        {"instance": 3, "field": "clinic", "code": "unseen_category", "value": 3},
    ]
    # every one of them is read as the one unknown category, so they answer alike
    predictions = answer.json()["predictions"]
    assert predictions[1] == predictions[2] == predictions[3]


@pytest.mark.parametrize("column", ["clinic", "mean_radius"])
def test_a_b64_value_for_a_table_column_is_a_400_naming_it(
    personas: dict[str, Any], deployed: Deployment, cancer_frame: Any, column: str
) -> None:
    rows = [_row(cancer_frame), _row(cancer_frame, **{column: {"b64": "aGVsbG8="}})]
    answer = client_for(personas["owner"]).post(URL, {"instances": rows})
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert (body["code"], body["field"], body["instance"]) == ("binary_not_accepted", column, 1)
    assert body["fields"] == {column: [body["detail"]]}
    assert "image inputs only" in body["detail"]


# --- images as {"b64": ...} -----------------------------------------------------------------


@pytest.fixture
def image_version(personas: dict[str, Any], media_root: Path, tmp_path: Path) -> ModelVersion:
    """An untrained 8x8 RGB classifier: enough to serve, nothing to learn."""
    inputs = keras.Input(shape=(8, 8, 3), name="image")
    x = keras.layers.Flatten()(ImageInput(8, 8, 3, name="image_input")(inputs))
    path = tmp_path / "shapes.keras"
    compiled_head(inputs, x, "binary", ["blue", "red"], 1e-3).save(path)
    job = TrainingJob.objects.create(
        owner=personas["owner"],
        dataset=make_dataset(personas["owner"]),
        dataset_sha256="0" * 64,
        target="label",
        task_type="binary",
        status=TrainingJob.Status.SUCCEEDED,
    )
    version = services.model_version_register(job=job, model_path=path)
    services.deployment_create(owner=personas["owner"], model_version=version, name="shapes")
    refresh()
    return version


def _png(seed: int) -> bytes:
    return encode(shape("red", np.random.default_rng(seed), 16), "PNG")


def test_an_image_as_b64_answers_as_the_plain_base64_string(
    personas: dict[str, Any], image_version: ModelVersion
) -> None:
    client = client_for(personas["owner"])
    png = _png(1)
    plain = client.post("/v1/deployments/shapes/predict", {"instances": [{"image": b64(png)}]})
    wrapped = client.post(
        "/v1/deployments/shapes/predict", {"instances": [{"image": {"b64": b64(png)}}]}
    )
    assert plain.status_code == wrapped.status_code == 200, wrapped.content
    assert wrapped.json()["predictions"] == plain.json()["predictions"]


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        ({"b64": "%%% not base64"}, "invalid_base64", "not valid base64"),
        ({"b64": b64(b"GIF89a but not really")}, "not_an_image", "not an image"),
        ({"b64": b64(png_declaring(60_000, 60_000))}, "image_too_large", "decompression bomb"),
        ({"b64": "A" * (22 << 20)}, "image_too_large", "over 16 MB"),
        ({"b64": 12}, "invalid_b64", '{"b64"'),
        ({"b64": "aGVsbG8=", "mime": "image/png"}, "invalid_b64", '{"b64"'),
    ],
    ids=["bad-base64", "not-an-image", "bomb", "oversize", "not-a-string", "extra-key"],
)
def test_a_bad_b64_image_is_a_400_naming_the_instance(
    personas: dict[str, Any], image_version: ModelVersion, value: Any, code: str, message: str
) -> None:
    body = {"instances": [{"image": b64(_png(2))}, {"image": value}]}
    answer = client_for(personas["owner"]).post("/v1/deployments/shapes/predict", body)
    assert answer.status_code == 400, answer.content
    got = answer.json()
    assert (got["code"], got["field"], got["instance"]) == (code, "image", 1)
    assert message in got["detail"]


def test_open_inference_protocol_takes_b64_in_json_and_raw_bytes_in_binary(
    personas: dict[str, Any], image_version: ModelVersion
) -> None:
    client = client_for(personas["owner"])
    pngs = [_png(3), _png(4)]
    expected = client.post(
        "/v1/deployments/shapes/predict", {"instances": [{"image": b64(p)} for p in pngs]}
    ).json()["predictions"]
    url = "/v2/models/shapes/infer"
    tensor = {"name": "image", "shape": [2], "datatype": "BYTES"}
    as_json = client.post(url, {"inputs": [{**tensor, "data": [{"b64": b64(p)} for p in pngs]}]})
    assert as_json.status_code == 200, as_json.content
    labels = as_json.json()["outputs"][0]["data"]
    assert labels == [p["label"] for p in expected]

    raw = b"".join(len(p).to_bytes(4, "little") + p for p in pngs)
    header = orjson.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]})
    binary = client.post(
        url,
        header + raw,
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert binary.status_code == 200, binary.content
    assert binary.json()["outputs"][0]["data"] == labels


# --- the deployment's OpenAPI document and curl command -------------------------------------


def test_the_predictor_describes_a_deployment_in_openapi_and_its_example_predicts(
    personas: dict[str, Any], deployed: Deployment
) -> None:
    owner = client_for(personas["owner"])
    answer = owner.get("/v1/deployments/cancer/openapi.json")
    assert answer.status_code == 200, answer.content
    document = answer.json()
    validate(document)
    schemas = document["components"]["schemas"]
    clinic = schemas["Instance"]["properties"]["clinic"]
    assert set(clinic["enum"]) == {"north", "south", "east", None}
    assert schemas["Instance"]["properties"]["mean_radius"]["type"] == ["number", "null"]
    assert "clinic" in schemas["Instance"]["required"]
    assert schemas["Prediction"]["properties"]["label"]["enum"] == ["benign", "malignant"]

    operation = document["paths"]["/v1/deployments/cancer/predict"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    predicted = owner.post(URL, example)
    assert predicted.status_code == 200, predicted.content
    assert "warnings" not in predicted.json()

    # the same credentials as predict: a deployment key opens it; others do not
    key = services.deployment_key_create(deployment=deployed)[1]
    refresh()
    keyed = PredictorClient(key, scheme="Bearer").get("/v1/deployments/cancer/openapi.json")
    assert keyed.json() == document
    assert PredictorClient().get("/v1/deployments/cancer/openapi.json").status_code == 401
    outsider = client_for(personas["outsider"]).get("/v1/deployments/cancer/openapi.json")
    assert outsider.status_code == 404
    assert outsider.json()["code"] == "not_found"


def test_the_web_api_serves_the_same_document_to_those_who_see_the_deployment(
    api_as: Any, personas: dict[str, Any], deployed: Deployment
) -> None:
    from_predictor = client_for(personas["owner"]).get("/v1/deployments/cancer/openapi.json")
    answer = api_as("owner").get("/api/v1/deployments/cancer/openapi/")
    assert answer.status_code == 200, answer.content
    assert answer.json() == from_predictor.json()
    assert api_as("outsider").get("/api/v1/deployments/cancer/openapi/").status_code == 404


def test_the_curl_example_predicts_against_a_live_predictor(
    api_as: Any, personas: dict[str, Any], deployed: Deployment, settings: Any
) -> None:
    token = client_for(personas["owner"]).headers["Authorization"].split()[1]
    with live_predictor() as url:
        settings.PREDICTOR_PUBLIC_URL = url
        command = api_as("owner").get("/api/v1/deployments/cancer/").json()["curl_example"]
        assert "$TOKEN" in command
        assert token not in command
        done = subprocess.run(
            ["bash", "-c", command],
            env={**os.environ, "TOKEN": token},
            capture_output=True,
            timeout=30,
            check=True,
        )
    answer = orjson.loads(done.stdout)
    assert answer["model_version"] == 1
    assert set(answer["predictions"][0]) == {"label", "probabilities"}
