"""A batch prediction scored by a real Celery worker, driven by the `automl` client: the CSV
holds a row per dataset row, with the predictions the deployment's REST endpoint gives."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e.flow import create_job, upload, wait_ready
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.stack


def _automl(stack: Stack, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AUTOML_URL": stack.url,
        "AUTOML_TOKEN": stack.tokens[user],
    }
    return subprocess.run(
        [sys.executable, "-m", "automl_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _wait_job(client: httpx.Client, job_id: int, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}/").json()
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return dict(job)
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def test_a_worker_scores_a_dataset_as_the_predict_endpoint_does(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    stack = embedded_stack
    stack.add_user("batch")
    client = stack.client("batch")
    # given a trained, registered and deployed version of the cancer model
    dataset = upload(client, breast_cancer_csv())
    job = _wait_job(client, create_job(client, dataset["id"], max_trials=1, max_epochs=1)["id"])
    assert job["status"] == "SUCCEEDED", job["error"]
    version = job["model_version"]
    deployed = client.post(f"/api/v1/model-versions/{version}/deploy/", json={"name": "batch"})
    assert deployed.status_code == 201, deployed.text
    assert wait_ready(client, "batch")["status"] == "READY"

    # when the client scores the whole dataset with the version, waiting for the CSV
    output = tmp_path / "predictions.csv"
    ran = _automl(
        stack, "batch", "batch-predict", "--version", str(version),
        "--dataset", str(dataset["id"]), "--output", str(output),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    prediction = json.loads(ran.stdout)
    assert (prediction["status"], prediction["n_rows"]) == ("SUCCEEDED", 569)

    # then the CSV has a row per dataset row, with the REST endpoint's predictions
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert [int(r["row"]) for r in rows] == list(range(569))
    frame = pd.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns="diagnosis")
    picked = [0, 7, 300, 568]
    rest = client.post(
        "/api/v1/deployments/batch/predict/",
        json={"instances": frame.iloc[picked].to_dict("records")},
    )
    assert rest.status_code == 200, rest.text
    for index, expected in zip(picked, rest.json()["predictions"], strict=True):
        assert rows[index]["label"] == expected["label"]
        for label, p in expected["probabilities"].items():
            assert float(rows[index][f"probabilities.{label}"]) == pytest.approx(p, abs=1e-5)
    assert client.get(prediction["result_url"]).content == output.read_bytes()

    # and a dataset lacking the model's columns fails, by the deployment's name, exit 1
    narrow = upload(client, frame.drop(columns=["clinic"]).to_csv(index=False).encode(), "n.csv")
    failed = _automl(
        stack, "batch", "batch-predict", "--deployment", "batch",
        "--dataset", str(narrow["id"]), "--wait",
    )  # fmt: skip
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["status"] == "FAILED"
    assert "clinic" in failed.stderr
    # and a refusal by the API exits 1 with its reason
    refused = _automl(stack, "batch", "batch-predict", "--version", "999999", "--dataset", "1")
    assert refused.returncode == 1
    assert "version" in refused.stderr or "dataset" in refused.stderr
