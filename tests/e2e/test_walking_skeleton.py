"""Upload -> job -> live trials -> registered version -> deployment -> prediction, for real.

Runs the same path on the embedded default (SQLite, filesystem broker, SQLite channel layer)
and on PostgreSQL + Redis, each with real web, worker and predictor processes.
"""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest

from jobs.engine import model as engine_model
from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack

pytestmark = pytest.mark.stack


@pytest.fixture(params=["embedded", "postgres"])
def stack(request: pytest.FixtureRequest) -> Stack:
    stack: Stack = request.getfixturevalue(f"{request.param}_stack")
    return stack


def test_csv_to_live_prediction(stack: Stack) -> None:
    # given a signed-in user with a personal token and a CSV
    owner = stack.client("owner")
    content = breast_cancer_csv()
    token = owner.post(
        "/api/v1/auth/token/",
        json={"username": "owner", "password": stack.passwords["owner"]},
    )
    assert token.status_code == 200
    # a new personal token a sign-in (only hashes are stored), which works as the others do
    assert token.json()["token"] != stack.tokens["owner"]
    me = owner.get("/api/v1/auth/me/", headers={"Authorization": f"Token {token.json()['token']}"})
    assert me.json()["username"] == "owner"

    # when the CSV is uploaded
    dataset = flow.upload(owner, content)

    # then it is stored with its hash, shape and column types
    assert dataset["sha256"] == hashlib.sha256(content).hexdigest()
    assert (dataset["n_rows"], dataset["n_columns"]) == (569, 10)
    types = {c["name"]: c["type"] for c in dataset["columns"]}
    assert types["mean_radius"] == "numeric"
    assert types["clinic"] == "categorical"

    # when a job is created without a task type, it is suggested from the target
    job = flow.create_job(owner, dataset["id"])
    assert job["task_type"] == "binary"
    assert job["status"] == "QUEUED"

    # then the owner watches every trial and epoch arrive over the websocket
    events = flow.watch_job(stack, job["id"], "owner")
    kinds = [e["kind"] for e in events]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert kinds.count("trial_started") == 2
    assert kinds.count("trial_finished") == 2
    assert kinds.count("epoch_end") >= 2
    statuses = [e["payload"]["status"] for e in events if e["kind"] == "job_status"]
    assert statuses == ["QUEUED", "RUNNING", "SUCCEEDED"]
    finished = events[-1]["payload"]
    assert finished["status"] == "SUCCEEDED"

    # and the job is recorded with its trials and an evaluation on the test split
    job = owner.get(f"/api/v1/jobs/{job['id']}/").json()
    assert job["status"] == "SUCCEEDED", job["error"]
    assert len(job["trials"]) == 2
    assert all(t["status"] == "COMPLETED" and t["epochs"] for t in job["trials"])
    assert job["test_metrics"]["accuracy"] > 0.8
    assert job["model_version"] == finished["model_version"]

    # and the best model is version 1 of a registered model, with lineage and schema
    version = owner.get(f"/api/v1/model-versions/{job['model_version']}/").json()
    assert version["version"] == 1
    assert version["job"] == job["id"]
    assert version["dataset"] == dataset["id"]
    assert version["classes"] == ["benign", "malignant"]
    assert [c["name"] for c in version["input_schema"]] == [
        c["name"] for c in dataset["columns"] if c["name"] != "diagnosis"
    ]
    models = owner.get("/api/v1/models/").json()
    assert len(models["results"]) == 1
    assert models["results"][0]["latest_version"] == 1

    # when the version is deployed with one call
    answer = owner.post(f"/api/v1/model-versions/{version['id']}/deploy/", json={"name": "cancer"})
    assert answer.status_code == 201, answer.text
    deployment = flow.wait_ready(owner, "cancer")
    assert deployment["status"] == "READY", deployment["error"]
    assert deployment["endpoint_url"] == f"{stack.predictor_url}/v1/deployments/cancer/predict"

    # then predictions equal the saved model called directly on the same rows
    frame = pd.read_csv(io.BytesIO(content))
    rows = frame.drop(columns="diagnosis").iloc[:5].to_dict("records")
    served = owner.post(deployment["endpoint_url"], json={"instances": rows})
    assert served.status_code == 200, served.text
    through_web = owner.post("/api/v1/deployments/cancer/predict/", json={"instances": rows})
    assert through_web.status_code == 200, through_web.text
    saved = engine_model.load(str(flow.artifact_path(stack, version["artifact_sha256"])))
    direct = engine_model.predict(saved, rows)
    for got, web, expected in zip(
        served.json()["predictions"], through_web.json()["predictions"], direct, strict=True
    ):
        assert got["label"] == web["label"] == expected["label"]
        for label, p in expected["probabilities"].items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-5)
            assert web["probabilities"][label] == pytest.approx(p, abs=1e-5)

    # and malformed rows get a 400 naming the field
    good = rows[0]
    missing = {k: v for k, v in good.items() if k != "mean_texture"}
    extra = {**good, "shoe_size": 42}
    wrong = {**good, "mean_radius": "large"}
    for instance, field in (
        (missing, "mean_texture"),
        (extra, "shoe_size"),
        (wrong, "mean_radius"),
    ):
        answer = owner.post(deployment["endpoint_url"], json={"instances": [instance]})
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == field
        assert field in answer.json()["detail"]

    # and another user can neither see, watch nor use any of it
    outsider = stack.client("outsider")
    assert outsider.get("/api/v1/datasets/").json()["results"] == []
    assert outsider.get("/api/v1/jobs/").json()["results"] == []
    assert outsider.get("/api/v1/deployments/").json()["results"] == []
    for path in (
        f"/api/v1/datasets/{dataset['id']}/",
        f"/api/v1/jobs/{job['id']}/",
        f"/api/v1/model-versions/{version['id']}/",
        "/api/v1/deployments/cancer/",
    ):
        assert outsider.get(path).status_code == 404, path
    assert outsider.post(deployment["endpoint_url"], json={"instances": rows}).status_code == 404
    assert (
        outsider.post("/api/v1/deployments/cancer/predict/", json={"instances": rows}).status_code
        == 404
    )
    assert flow.ws_close_code(stack, job["id"], stack.tokens["outsider"]) == 4403
    assert flow.ws_close_code(stack, job["id"], None) == 4401
    anonymous = stack.client()
    assert anonymous.get("/api/v1/jobs/").status_code in (401, 403)
    assert anonymous.post(deployment["endpoint_url"], json={"instances": rows}).status_code == 401
