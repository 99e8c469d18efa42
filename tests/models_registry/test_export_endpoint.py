"""`GET /api/v1/model-versions/<id>/export/?format=onnx`: the registered model as ONNX, made on
the first request, kept by the artifact's sha256, recorded in the audit trail, read by whoever
reads the version, and predicting what the `.keras` file predicts on test rows."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pandas as pd
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from jobs.engine import model as engine_model
from jobs.engine.layers import serving_input
from models_registry import exports
from models_registry.models import AuditEvent, ModelVersion
from models_registry.onnx_export import PARITY_TOLERANCE, check_parity
from tests.conftest import breast_cancer_csv
from tests.factories import make_dataset
from tests.image_data import shapes_zip
from tests.models_registry.test_task_types_serving import _csv, _train

pytestmark = pytest.mark.django_db


def _keras(version: ModelVersion) -> Any:
    with tempfile.TemporaryDirectory() as tmp, version.artifact.open("rb") as fileobj:
        path = Path(tmp) / "model.keras"
        path.write_bytes(fileobj.read())
        return engine_model.load(str(path))


def _parity(answer: Any, version: ModelVersion, records: list[dict[str, Any]]) -> float:
    assert answer.status_code == 200, getattr(answer, "content", b"")[:500]
    data = b"".join(answer.streaming_content)
    model = _keras(version)
    rows = serving_input(model).encode_records(records)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        path.write_bytes(data)
        return check_parity(model, path, rows)


def _records(target: str) -> list[dict[str, Any]]:
    frame = pd.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns=[target]).tail(60)
    records = frame.to_dict(orient="records")
    records[0] = {**records[0], "clinic": "never seen"}
    return records


def test_a_classifier_exports_to_onnx_that_predicts_like_keras(
    personas: dict[str, Any], register: Callable[..., ModelVersion], api_as: Any, share: Any
) -> None:
    version = register(personas["owner"])
    url = f"/api/v1/model-versions/{version.pk}/export/?format=onnx"
    answer = api_as("owner").get(url)
    assert 'filename="cancer-diagnosis-v1.onnx"' in answer["Content-Disposition"]
    assert _parity(answer, version, _records("diagnosis")) <= PARITY_TOLERANCE

    stored = f"exports/{version.artifact_sha256}.{exports.EXPORTER}.onnx"
    assert default_storage.exists(stored)
    with default_storage.open(stored, "rb") as fileobj:
        props = {p.key: p.value for p in onnx.load(fileobj).metadata_props}
    assert json.loads(props["labels"]) == version.classes
    events = AuditEvent.objects.filter(version=version, action=AuditEvent.Action.EXPORTED)
    assert [(e.actor_name, e.subject) for e in events] == [("owner", "cancer-diagnosis v1")]

    # made once: the next request, a viewer's, is served from the storage
    share(version, "viewer")
    again = api_as("teammate").get(url)
    assert again.status_code == 200
    assert b"".join(again.streaming_content) == default_storage.open(stored, "rb").read()
    assert events.count() == 1


def test_export_formats_and_who_may_download(
    personas: dict[str, Any], register: Callable[..., ModelVersion], api_as: Any
) -> None:
    version = register(personas["owner"])
    base = f"/api/v1/model-versions/{version.pk}/export/"
    keras_file = api_as("owner").get(base + "?format=keras")
    assert keras_file.status_code == 200
    assert 'filename="cancer-diagnosis-v1.keras"' in keras_file["Content-Disposition"]
    for query in ("", "?format=json", "?format=savedmodel", "?format=../../etc/passwd"):
        refused = api_as("owner").get(base + query)
        assert refused.status_code == 400, query
        assert "keras, onnx" in refused.json()["fields"]["format"][0]
    for who, codes in (("teammate", (404,)), ("outsider", (404,)), (None, (401, 403))):
        assert api_as(who).get(base + "?format=onnx").status_code in codes, who
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_an_export_that_cannot_be_made_answers_409_with_the_reason(
    personas: dict[str, Any], register: Callable[..., ModelVersion], api_as: Any
) -> None:
    version = register(personas["owner"])
    url = f"/api/v1/model-versions/{version.pk}/export/?format=onnx"
    # a file that is not the one registered is refused, and nothing is kept for it
    original = default_storage.open(version.artifact.name, "rb").read()
    default_storage.delete(version.artifact.name)
    default_storage.save(version.artifact.name, ContentFile(original + b"tampered"))
    answer = api_as("owner").get(url)
    assert answer.status_code == 409
    assert "does not match its recorded sha256" in answer.json()["detail"]
    assert not default_storage.exists("exports")
    # a model that could not be exported keeps its reason: answered without tracing again
    failed = f"exports/{version.artifact_sha256}.{exports.EXPORTER}.failed.txt"
    default_storage.save(failed, ContentFile(b"torch.onnx could not export this model: X"))
    again = api_as("owner").get(url)
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "torch.onnx could not export this model: X",
    )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_a_regression_model_exports_to_onnx_that_predicts_like_keras(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"], breast_cancer_csv(), name="cancer")
    job = _train(api_as("owner"), {"dataset": dataset.pk, "target": "mean_area"})
    assert job.task_type == "regression"
    version = job.model_version
    answer = api_as("owner").get(f"/api/v1/model-versions/{version.pk}/export/?format=onnx")
    assert _parity(answer, version, _records("mean_area")) <= PARITY_TOLERANCE


def test_a_text_model_exports_to_onnx_that_predicts_like_keras(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    from tests.engine.test_text import reviews

    content = _csv(reviews(60).drop(columns="stars"))
    dataset = make_dataset(
        personas["owner"], content, name="reviews", filename="reviews.csv",
        kind="text", text_column="review",
    )  # fmt: skip
    version = _train(api_as("owner"), {"dataset": dataset.pk, "target": "sentiment"}).model_version
    url = f"/api/v1/model-versions/{version.pk}/export/?format=onnx"
    records = [{"review": "Lovely, great film"}, {"review": "Dull and awful, never again"}]
    assert _parity(api_as("owner").get(url), version, records) <= PARITY_TOLERANCE


def test_an_image_model_exports_to_onnx_that_predicts_like_keras(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    from tests.models_registry.test_image_models import _image

    dataset = make_dataset(personas["owner"], shapes_zip(), name="shapes", filename="shapes.zip")
    version = _train(api_as("owner"), {"dataset": dataset.pk}).model_version
    url = f"/api/v1/model-versions/{version.pk}/export/?format=onnx"
    records = [{"image": _image("red", 1)}, {"image": _image("blue", 2)}]
    assert _parity(api_as("owner").get(url), version, records) <= PARITY_TOLERANCE
