"""Text, multi-label and forecasting jobs end to end, without the e2e stack: the API creates
the job, the worker's service runs it, the version is registered and the predictor's view
answers for its deployment."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest

from jobs import services as job_services
from jobs.models import TrainingJob
from models_registry import services
from models_registry.models import ModelVersion
from tests.engine.test_forecast import series
from tests.engine.test_multilabel import tagged
from tests.engine.test_text import reviews
from tests.factories import make_dataset
from tests.models_registry.predictor_client import client_for, refresh

pytestmark = pytest.mark.django_db


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _train(api: Any, body: dict[str, Any]) -> TrainingJob:
    answer = api.post("/api/v1/jobs/", {"max_trials": 1, "max_epochs": 2, **body}, format="json")
    assert answer.status_code == 201, answer.content
    job = job_services.job_claim(job_id=answer.json()["id"], worker="test")
    assert job is not None
    job = job_services.job_run(job=job)
    assert (job.status, job.error) == (TrainingJob.Status.SUCCEEDED, "")
    return job


@pytest.fixture
def predict(personas: dict[str, Any]) -> Any:
    """Deploy a version and post instances to the predictor service's own app."""

    def call(version: ModelVersion, instances: list[Any]) -> Any:
        name = f"v{version.pk}"
        if not version.deployments.filter(name=name).exists():
            services.deployment_create(owner=personas["owner"], model_version=version, name=name)
            refresh()
        return client_for(personas["owner"]).post(
            f"/v1/deployments/{name}/predict", {"instances": instances}
        )

    return call


def test_a_text_job_registers_a_model_that_takes_raw_text(
    api_as: Any, personas: dict[str, Any], media_root: Any, predict: Any
) -> None:
    content = _csv(reviews(60).drop(columns="stars"))
    dataset = make_dataset(
        personas["owner"], content, name="reviews", filename="reviews.csv",
        kind="text", text_column="review",
    )  # fmt: skip
    job = _train(api_as("owner"), {"dataset": dataset.pk, "target": "sentiment"})
    assert (job.task_type, job.task_options) == ("binary", {"text_column": "review"})
    version = job.model_version
    assert version.input_schema == [{"name": "review", "type": "text"}]
    assert version.classes == ["neg", "pos"]

    answer = predict(version, [{"review": "Lovely, great film"}])
    assert answer.status_code == 200, answer.content
    assert set(answer.json()["predictions"][0]["probabilities"]) == {"neg", "pos"}
    bad = predict(version, [{"review": 42}])
    assert bad.status_code == 400
    assert (bad.json()["field"], bad.json()["instance"]) == ("review", 0)
    missing = predict(version, [{"text": "hello"}])
    assert missing.status_code == 400
    assert "missing field 'review'" in missing.json()["detail"]


def test_a_multilabel_job_predicts_label_sets(
    api_as: Any, personas: dict[str, Any], media_root: Any, predict: Any
) -> None:
    dataset = make_dataset(personas["owner"], _csv(tagged()), name="tags", filename="tags.csv")
    job = _train(
        api_as("owner"), {"dataset": dataset.pk, "target": "tags", "task_type": "multilabel"}
    )
    assert job.task_options == {"label_delimiter": ";"}
    assert {"micro_f1", "hamming_loss", "subset_accuracy"} <= set(job.test_metrics)
    version = job.model_version
    assert (version.task_type, version.classes) == ("multilabel", ["big", "red"])

    answer = predict(version, [{"x": 1.5, "y": -1.0, "site": "north"}])
    assert answer.status_code == 200, answer.content
    (prediction,) = answer.json()["predictions"]
    assert set(prediction["probabilities"]) == {"big", "red"}
    assert isinstance(prediction["labels"], list)


def test_a_forecasting_job_answers_the_next_values(
    api_as: Any, personas: dict[str, Any], media_root: Any, predict: Any
) -> None:
    frame = series(120)
    dataset = make_dataset(
        personas["owner"], _csv(frame), name="sales", filename="sales.csv",
        kind="timeseries", timestamp_column="day",
    )  # fmt: skip
    # No task type on a time series with a numeric target: forecasting.
    job = _train(api_as("owner"), {"dataset": dataset.pk, "target": "sales", "horizon": 2})
    assert job.task_type == "forecasting"
    assert job.task_options == {"timestamp_column": "day", "horizon": 2, "lookback": None}
    assert {"rmse", "naive_rmse", "per_step"} <= set(job.test_metrics)
    version = job.model_version
    (schema,) = version.input_schema
    history = frame.sort_values("day")[["sales", "temperature"]].iloc[-schema["lookback"] :]

    answer = predict(version, [{"history": history.to_dict("records")}])
    assert answer.status_code == 200, answer.content
    (forecast,) = answer.json()["predictions"]
    assert len(forecast) == 2
    short = predict(version, [{"history": history.to_dict("records")[:-1]}])
    assert short.status_code == 400
    assert short.json()["field"] == "history"


TEXT = _csv(reviews(30))
SERIES = _csv(series(60))


@pytest.mark.parametrize(
    ("content", "dataset_options", "body", "field", "message"),
    [
        (None, {}, {"target": "diagnosis", "task_type": "forecasting"}, "target",
         "needs a timestamp column"),
        (SERIES, {"kind": "timeseries", "timestamp_column": "day"},
         {"target": "sales", "horizon": 0}, "horizon", "greater than or equal to 1"),
        (SERIES, {"kind": "timeseries", "timestamp_column": "day"},
         {"target": "sales", "horizon": 30}, "target", "needs at least"),
        (None, {}, {"target": "diagnosis", "horizon": 2}, "horizon", "forecasting only"),
        (None, {}, {"target": "diagnosis", "task_type": "multilabel"}, "target",
         "more than one label"),
        (None, {}, {"target": "mean_radius", "task_type": "multilabel"}, "target",
         "holds numbers"),
        (None, {}, {"target": "diagnosis", "label_delimiter": ";"}, "label_delimiter",
         "multi-label jobs only"),
        (TEXT, {"kind": "text", "text_column": "review"}, {"target": "review"}, "target",
         "is the text column"),
    ],
    ids=["no-timestamp", "horizon-0", "too-short", "horizon-binary", "not-label-lists",
         "numeric-labels", "delimiter-binary", "text-target"],
)  # fmt: skip
def test_bad_task_requests_get_a_400_naming_the_problem(
    api_as: Any,
    personas: dict[str, Any],
    media_root: Any,
    content: bytes | None,
    dataset_options: dict[str, Any],
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    dataset = make_dataset(personas["owner"], content, **dataset_options)
    answer = api_as("owner").post(
        "/api/v1/jobs/", {"dataset": dataset.pk, "max_trials": 1, **body}, format="json"
    )
    assert answer.status_code == 400
    assert message in str(answer.json()["fields"][field][0])
    assert TrainingJob.objects.count() == 0
