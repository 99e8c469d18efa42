"""The predictor speaks the Open Inference Protocol v2, driven by the published Triton HTTP
client, unmodified, against a real uvicorn serving the predictor's app."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from jobs.engine import model as engine_model
from models_registry import services
from models_registry.models import ModelVersion
from models_registry.predictor.hosting import load_version
from tests.models_registry.predictor_client import client_for, live_predictor, refresh

pytestmark = pytest.mark.django_db


def _inputs(rows: list[dict[str, Any]], binary: bool) -> list[Any]:
    tensors = []
    for name in rows[0]:
        values = [r[name] for r in rows]
        if isinstance(values[0], str):
            tensor = triton.InferInput(name, [len(rows)], "BYTES")
            tensor.set_data_from_numpy(np.array(values, dtype=object), binary_data=binary)
        else:
            tensor = triton.InferInput(name, [len(rows), 1], "FP32")
            array = np.array(values, dtype="float32").reshape(-1, 1)
            tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    return tensors


@pytest.mark.parametrize("binary", [False, True])
def test_triton_client_reads_metadata_and_infers(
    personas: dict[str, Any], version: ModelVersion, cancer_frame: Any, binary: bool
) -> None:
    services.deployment_create(owner=personas["owner"], model_version=version, name="cancer")
    refresh()
    auth = client_for(personas["owner"]).headers
    rows = cancer_frame.drop(columns="diagnosis").iloc[:4].to_dict("records")
    expected = engine_model.predict(load_version(version).model, rows)
    with live_predictor() as url:
        client = triton.InferenceServerClient(url.removeprefix("http://"))
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("cancer", headers=auth)
        assert not client.is_model_ready("cancer", headers={})
        metadata = client.get_model_metadata("cancer", headers=auth)
        assert metadata["versions"] == ["1"]
        assert {i["name"] for i in metadata["inputs"]} == set(rows[0])
        assert [o["name"] for o in metadata["outputs"]] == ["label", "probabilities"]

        result = client.infer(
            "cancer",
            _inputs(rows, binary),
            outputs=[
                triton.InferRequestedOutput("label", binary_data=False),
                triton.InferRequestedOutput("probabilities", binary_data=False),
            ],
            headers=auth,
            request_id="r1",
        )
        labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
        assert labels == [e["label"] for e in expected]
        probabilities = result.as_numpy("probabilities")
        assert probabilities.shape == (4, 2)
        assert probabilities[:, 1] == pytest.approx(
            [e["probabilities"]["malignant"] for e in expected], abs=1e-6
        )
        assert result.get_response()["id"] == "r1"

        bad = _inputs([{k: v for k, v in r.items() if k != "clinic"} for r in rows], binary)
        with pytest.raises(InferenceServerException, match="clinic"):
            client.infer("cancer", bad, headers=auth)
        with pytest.raises(InferenceServerException):
            client.infer("cancer", _inputs(rows, binary), headers={})
