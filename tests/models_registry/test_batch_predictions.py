"""Batch predictions: a whole dataset scored by a version in a worker, the CSV downloaded.

The worker's task runs in-process here (claim, then score), on the registered cancer model;
tests/e2e/test_batch_predictions.py runs it in a real Celery worker."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jobs.models import Dataset
from models_registry import batch, batch_run, services, tasks
from models_registry.models import BatchPrediction, Membership, ModelVersion
from tests.conftest import breast_cancer_csv
from tests.factories import make_dataset
from tests.models_registry.predictor_client import client_for, refresh

pytestmark = pytest.mark.django_db

URL = "/api/v1/batch-predictions/"


def _create(api: Any, key: str = "", **body: Any) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(URL, body, format="json", **headers)


def _csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def _stored(media_root: Path) -> list[Path]:
    return sorted((media_root / "batch_predictions").glob("*"))


def _result(api: Any, prediction_id: int) -> Any:
    return api.get(f"{URL}{prediction_id}/result/")


def _body(answer: Any) -> bytes:
    return b"".join(answer.streaming_content) if answer.streaming else bytes(answer.content)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 100 rows, so that the 569 rows take six chunks and a partial last one."""
    monkeypatch.setattr(batch_run, "CHUNK_ROWS", 100)


def test_a_version_scores_every_row_as_the_predict_endpoint_does(
    personas: dict[str, Any],
    version: ModelVersion,
    api_as: Any,
    media_root: Path,
    small_chunks: None,
    cancer_frame: pd.DataFrame,
) -> None:
    owner = api_as("owner")
    # given a deployment of the version, answering REST predictions
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    refresh()

    # when the owner scores the version's own dataset (which still holds the target column)
    made = _create(owner, version=version.pk, dataset=version.dataset_id)
    assert made.status_code == 201, made.json()
    assert made.json()["status"] == "QUEUED"
    assert made.json()["result_url"] is None
    assert _result(owner, made.json()["id"]).status_code == 409
    tasks.run_batch_prediction(made.json()["id"])

    # then it succeeded with one CSV row per dataset row, in order
    done = owner.get(f"{URL}{made.json()['id']}/").json()
    assert done["status"] == "SUCCEEDED", done["error"]
    assert (done["n_rows"], done["dataset_rows"], done["version"]) == (569, 569, 1)
    answer = _result(owner, done["id"])
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv"
    content = _body(answer)
    assert len(content) == done["output_size"]
    rows = _csv(content)
    assert list(rows[0]) == ["row", "label", "probabilities.benign", "probabilities.malignant"]
    assert [int(r["row"]) for r in rows] == list(range(569))

    # and its predictions are the REST endpoint's for the same rows (one in every chunk)
    picked = [0, 1, 150, 399, 568]
    instances = cancer_frame.drop(columns="diagnosis").iloc[picked].to_dict("records")
    rest = client_for(personas["owner"]).post(
        "/v1/deployments/cancer/predict", {"instances": instances}
    )
    assert rest.status_code == 200, rest.content
    for index, expected in zip(picked, rest.json()["predictions"], strict=True):
        assert rows[index]["label"] == expected["label"]
        for label, p in expected["probabilities"].items():
            assert float(rows[index][f"probabilities.{label}"]) == pytest.approx(p, abs=1e-5)


def test_a_deployment_name_scores_with_the_version_it_serves(
    personas: dict[str, Any], version: ModelVersion, api_as: Any, media_root: Path
) -> None:
    services.deployment_create(owner=personas["owner"], model_version=version, name="prod")
    made = _create(api_as("owner"), deployment="prod", dataset=version.dataset_id)
    assert made.status_code == 201, made.json()
    assert (made.json()["deployment"], made.json()["model_version"]) == ("prod", version.pk)
    unknown = _create(api_as("owner"), deployment="nope", dataset=version.dataset_id)
    assert unknown.status_code == 400
    assert "nope" in unknown.json()["fields"]["deployment"][0]


def test_columns_the_model_needs_fail_the_run_by_name(
    personas: dict[str, Any], version: ModelVersion, api_as: Any, media_root: Path
) -> None:
    # given a dataset without two of the model's columns
    frame = pd.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns=["clinic", "mean_radius"])
    narrow = make_dataset(personas["owner"], frame.to_csv(index=False).encode(), name="narrow")
    made = _create(api_as("owner"), version=version.pk, dataset=narrow.pk)
    assert made.status_code == 201

    # when it is run, then it fails naming both, and there is nothing to download
    tasks.run_batch_prediction(made.json()["id"])
    failed = BatchPrediction.objects.get(pk=made.json()["id"])
    assert failed.status == BatchPrediction.Status.FAILED
    assert "mean_radius, clinic" in failed.error
    assert not failed.output
    assert failed.finished_at is not None
    refused = _result(api_as("owner"), failed.pk)
    assert refused.status_code == 409
    assert set(refused.json()) == {"code", "detail", "fields"}
    assert _stored(media_root) == []


def test_a_row_the_model_cannot_read_fails_the_run_without_output(
    personas: dict[str, Any],
    version: ModelVersion,
    api_as: Any,
    media_root: Path,
    small_chunks: None,
) -> None:
    # given a dataset whose numeric column holds text in row 10 (missing, as in training)
    # and, in row 250 (the third chunk), a number too large for the model
    frame = pd.read_csv(io.BytesIO(breast_cancer_csv())).astype({"mean_texture": object})
    frame.loc[10, "mean_texture"] = "unknown"
    frame.loc[250, "mean_texture"] = "1e300"
    bad = make_dataset(
        personas["owner"],
        frame.to_csv(index=False).encode(),
        name="bad",
        column_types={"mean_texture": "numeric"},
    )
    made = _create(api_as("owner"), version=version.pk, dataset=bad.pk)
    tasks.run_batch_prediction(made.json()["id"])
    failed = BatchPrediction.objects.get(pk=made.json()["id"])
    assert failed.status == BatchPrediction.Status.FAILED
    assert failed.error.startswith("Row 250 cannot be scored: Field 'mean_texture'"), failed.error
    assert (failed.n_rows, failed.output.name) == (200, "")
    assert _stored(media_root) == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"version": 999999, "dataset": "mine"}, "version", "No model version with id 999999"),
        ({"dataset": "mine"}, "version", "either a version or a deployment"),
        ({"version": "v", "deployment": "x", "dataset": "mine"}, "version", "not both"),
        ({"version": "v", "dataset": 999999}, "dataset", "no dataset with id 999999"),
        ({"version": "v", "dataset": "pending"}, "dataset", "is PENDING; it can be scored"),
        ({"version": "v"}, "dataset", "required"),
    ],
)
def test_bad_requests_get_a_400_in_the_one_error_format(
    personas: dict[str, Any],
    version: ModelVersion,
    api_as: Any,
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    pending = make_dataset(personas["owner"], breast_cancer_csv(rows=50), name="later")
    Dataset.objects.filter(pk=pending.pk).update(status=Dataset.Status.PENDING)
    ids = {"v": version.pk, "mine": version.dataset_id, "pending": pending.pk}
    body = {
        k: ids.get(v, v) if isinstance(v, str) and k != "deployment" else v for k, v in body.items()
    }
    answer = _create(api_as("owner"), **body)
    assert answer.status_code == 400
    error = answer.json()
    assert set(error) == {"code", "detail", "fields"}
    assert error["code"] == "invalid"
    assert message in " ".join(error["fields"][field])
    assert not BatchPrediction.objects.exists()


def test_personas_see_and_use_only_what_is_theirs(
    personas: dict[str, Any], version: ModelVersion, api_as: Any, share: Any
) -> None:
    made = _create(api_as("owner"), version=version.pk, dataset=version.dataset_id).json()
    detail = f"{URL}{made['id']}/"

    # an outsider and an unshared teammate do not see the prediction at all
    for name in ("outsider", "teammate"):
        api = api_as(name)
        assert api.get(detail).status_code == 404
        assert _result(api, made["id"]).status_code == 404
        assert api.post(f"{detail}cancel/").status_code == 404
        assert api.get(URL).json()["results"] == []
        # nor may they score with the owner's version or the owner's dataset
        theirs = make_dataset(personas[name], breast_cancer_csv(rows=30), name=f"{name}-data")
        assert _create(api, version=version.pk, dataset=theirs.pk).status_code == 400
    own_version_their_data = _create(api_as("owner"), version=version.pk, dataset=theirs.pk)
    assert own_version_their_data.status_code == 400

    # anonymous callers are refused
    for answer in (api_as(None).get(URL), api_as(None).get(detail), _create(api_as(None))):
        assert answer.status_code in (401, 403)

    # a teammate the model is shared with scores their own data with it, seeing only theirs
    share(version, Membership.Role.VIEWER)
    teammate = api_as("teammate")
    data = Dataset.objects.get(owner=personas["teammate"])
    mine = _create(teammate, version=version.pk, dataset=data.pk)
    assert mine.status_code == 201, mine.json()
    assert [p["id"] for p in teammate.get(URL).json()["results"]] == [mine.json()["id"]]
    assert teammate.get(detail).status_code == 404


def test_cancel_stops_a_queued_or_running_prediction_and_stores_nothing(
    personas: dict[str, Any], version: ModelVersion, api_as: Any, media_root: Path
) -> None:
    owner = api_as("owner")
    queued = _create(owner, version=version.pk, dataset=version.dataset_id).json()
    cancelled = owner.post(f"{URL}{queued['id']}/cancel/")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "CANCELLED"
    # a message delivered after the cancel finds nothing to claim
    assert batch.batch_prediction_claim(prediction_id=queued["id"], worker="w") is None
    again = owner.post(f"{URL}{queued['id']}/cancel/")
    assert again.status_code == 409
    assert "CANCELLED" in again.json()["detail"]

    # given one a worker has claimed, cancelled before it writes its first chunk
    running = _create(owner, version=version.pk, dataset=version.dataset_id).json()
    claimed = batch.batch_prediction_claim(prediction_id=running["id"], worker="w")
    assert claimed is not None
    assert claimed.attempts == 1
    assert owner.post(f"{URL}{running['id']}/cancel/").status_code == 202

    # then the run stops at its fence: it stays CANCELLED with no stored output
    ended = batch_run.batch_prediction_run(prediction=claimed)
    assert (ended.status, ended.output.name, ended.error) == ("CANCELLED", "", "")
    assert _stored(media_root) == []


def test_a_retried_create_with_the_same_key_makes_one_prediction(
    version: ModelVersion, api_as: Any
) -> None:
    owner = api_as("owner")
    first = _create(owner, "retry-1", version=version.pk, dataset=version.dataset_id)
    second = _create(owner, "retry-1", version=version.pk, dataset=version.dataset_id)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert BatchPrediction.objects.count() == 1


def test_the_list_filters_by_status_and_creation_time(version: ModelVersion, api_as: Any) -> None:
    owner = api_as("owner")
    first = _create(owner, version=version.pk, dataset=version.dataset_id).json()
    second = _create(owner, version=version.pk, dataset=version.dataset_id).json()
    owner.post(f"{URL}{first['id']}/cancel/")
    page = owner.get(URL, {"status": "CANCELLED"}).json()
    assert [p["id"] for p in page["results"]] == [first["id"]]
    assert "next" in page
    assert "previous" in page
    after = owner.get(URL, {"created_after": second["created_at"]}).json()
    assert [p["id"] for p in after["results"]] == [second["id"]]
    bad = owner.get(URL, {"status": "NOPE"})
    assert bad.status_code == 400
    assert "status" in bad.json()["fields"]


def test_an_archived_version_is_not_scored(
    personas: dict[str, Any], version: ModelVersion, api_as: Any
) -> None:
    services.version_archive(actor=personas["owner"], version=version, archived=True)
    refused = _create(api_as("owner"), version=version.pk, dataset=version.dataset_id)
    assert refused.status_code == 409
    assert "archived" in refused.json()["detail"]


def test_prediction_columns_lay_out_every_kind_of_answer() -> None:
    assert batch_run.prediction_columns(3.5) == {"prediction": 3.5}
    assert batch_run.prediction_columns({"label": "a", "probabilities": {"a": 0.9, "b": 0.1}}) == {
        "label": "a",
        "probabilities.a": 0.9,
        "probabilities.b": 0.1,
    }
    assert batch_run.prediction_columns({"labels": ["x", "y"], "probabilities": {}}) == {
        "labels": "x;y"
    }
