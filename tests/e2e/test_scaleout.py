"""No shared disk: two web replicas, two workers and two predictor replicas, each with a data
folder of its own, share only PostgreSQL, Redis and an S3 bucket (a moto server on loopback), as
processes on separate machines would. The whole path runs through the REST API; every file one
process writes and another reads must travel through the bucket.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from jobs.engine import model as engine_model
from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.s3 import moto_bucket
from tests.stack import ScaleOut, running_scaleout

pytestmark = pytest.mark.stack

BUCKET = "console-scaleout"
# Profiling and training on different workers, so the dataset file has to cross between them.
WORKERS = {"worker-profile": "short", "worker-train": "cpu"}


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[Any, dict[str, str]]]:
    with moto_bucket(BUCKET) as got:
        yield got


@pytest.fixture(scope="module")
def scaleout(
    bucket: tuple[Any, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScaleOut]:
    root = tmp_path_factory.mktemp("scaleout")
    with running_scaleout(root, bucket[1], WORKERS, predictors=2, webs=2) as out:
        yield out


def _keys(client: Any) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def _wait(what: str, check: Any, out: ScaleOut, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        for name, proc in out.processes.items():
            assert proc.poll() is None, f"{name} exited:\n{out.log_tails()}"
        time.sleep(0.3)
    raise AssertionError(f"{what} not within {timeout}s:\n{out.log_tails()}")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_whole_path_runs_with_no_shared_disk(
    scaleout: ScaleOut, bucket: tuple[Any, dict[str, str]]
) -> None:
    s3, _ = bucket
    stack = scaleout.stack
    owner = stack.client("owner")
    content = breast_cancer_csv()

    # when a CSV is uploaded to the web process
    dataset = flow.upload(owner, content)

    # then it is profiled by the profiling worker, from the bucket
    assert dataset["status"] == "READY", dataset.get("error")
    assert (dataset["n_rows"], dataset["n_columns"]) == (569, 10)
    assert [k for k in _keys(s3) if k.startswith("datasets/")], _keys(s3)

    # when the smallest job is trained
    job = flow.create_job(owner, dataset["id"], max_trials=1, max_epochs=1)

    def finished() -> dict[str, Any] | None:
        got = owner.get(f"/api/v1/jobs/{job['id']}/").json()
        return dict(got) if got["status"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    job = _wait("the job's end", finished, scaleout, timeout=240)
    assert job["status"] == "SUCCEEDED", f"{job['error']}\n{scaleout.log_tails()}"

    # then the other worker trained it, and the registered model is an object in the bucket
    profiler, trainer = (scaleout.logs[n].read_text() for n in ("worker-profile", "worker-train"))
    # ("Task <name>[<id>] received": the start banner lists every task's name besides)
    assert "Task jobs.tasks.profile_dataset[" in profiler
    assert "Task jobs.tasks.run_training_job[" in trainer
    assert "Task jobs.tasks.run_training_job[" not in profiler
    version = owner.get(f"/api/v1/model-versions/{job['model_version']}/").json()
    models = [k for k in _keys(s3) if k.startswith("models/") and k.endswith(".keras")]
    assert len(models) == 1, _keys(s3)

    # when the version is deployed
    answer = owner.post(f"/api/v1/model-versions/{version['id']}/deploy/", json={"name": "wide"})
    assert answer.status_code == 201, answer.text
    deployment = flow.wait_ready(owner, "wide")
    assert deployment["status"] == "READY", deployment["error"]

    # then each replica loads it from the bucket and answers as the saved model does
    frame = pd.read_csv(io.BytesIO(content))
    rows = frame.drop(columns="diagnosis").iloc[:5].to_dict("records")
    artifact = owner.get(f"/api/v1/model-versions/{version['id']}/artifact/")
    assert artifact.status_code == 200
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(artifact.content)
        expected = engine_model.predict(engine_model.load(str(path)), rows)
    answers = []
    for url in scaleout.predictor_urls:
        replica = httpx.Client(base_url=url, headers=owner.headers, timeout=60)

        def ready(replica: httpx.Client = replica) -> bool:
            return replica.get("/v1/deployments/wide").status_code == 200

        _wait(f"{url} serving", ready, scaleout, timeout=120)
        served = replica.post("/v1/deployments/wide/predict", json={"instances": rows})
        assert served.status_code == 200, served.text
        answers.append(served.json()["predictions"])
    for got in answers:
        for one, want in zip(got, expected, strict=True):
            assert one["label"] == want["label"]
            for label, p in want["probabilities"].items():
                assert one["probabilities"][label] == pytest.approx(p, abs=1e-5)

    # and an ONNX export made by the web process is kept in the bucket
    onnx = owner.get(f"/api/v1/model-versions/{version['id']}/export/?format=onnx")
    assert onnx.status_code == 200, onnx.text
    assert [k for k in _keys(s3) if k.startswith("exports/")], _keys(s3)

    # and a batch prediction scored by the training worker is downloaded through the web
    answer = owner.post(
        "/api/v1/batch-predictions/", json={"deployment": "wide", "dataset": dataset["id"]}
    )
    assert answer.status_code == 201, answer.text
    batch_url = f"/api/v1/batch-predictions/{answer.json()['id']}/"

    def scored() -> dict[str, Any] | None:
        got = owner.get(batch_url).json()
        return dict(got) if got["status"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    batch = _wait("the batch prediction", scored, scaleout, timeout=120)
    assert batch["status"] == "SUCCEEDED", batch
    result = owner.get(f"{batch_url}result/")
    assert result.status_code == 200, result.text
    assert len(pd.read_csv(io.BytesIO(result.content))) == 569
    assert "Task models_registry.tasks.run_batch_prediction[" in (
        scaleout.logs["worker-train"].read_text()
    )
    assert [k for k in _keys(s3) if k.startswith("batch_predictions/")], _keys(s3)

    # when it is undeployed, neither replica serves it any more
    assert owner.post("/api/v1/deployments/wide/undeploy/").status_code == 200
    for url in scaleout.predictor_urls:
        replica = httpx.Client(base_url=url, headers=owner.headers, timeout=60)

        def gone(replica: httpx.Client = replica) -> bool:
            answer = replica.post("/v1/deployments/wide/predict", json={"instances": rows})
            # Kept listed (UNDEPLOYED) for the record; the replica says so and serves nothing.
            return answer.status_code == 503 and answer.json().get("status") == "UNDEPLOYED"

        _wait(f"{url} to drop the deployment", gone, scaleout, timeout=60)

    # and no process kept a file in its own folder that another one needed: the workers and
    # replicas wrote nothing there, the web only its upload staging (emptied once stored)
    for name, folder in scaleout.data_dirs.items():
        assert _files(folder) == [], f"{name} wrote {_files(folder)}"
    assert all(proc.poll() is None for proc in scaleout.processes.values())


def test_a_resumable_upload_goes_through_either_web_replica(
    scaleout: ScaleOut, bucket: tuple[Any, dict[str, str]]
) -> None:
    s3, _ = bucket
    scaleout.stack.add_user("replicas")
    headers = scaleout.stack.client("replicas").headers
    webs = [httpx.Client(base_url=url, headers=headers, timeout=60) for url in scaleout.web_urls]
    content = breast_cancer_csv()
    octets = {"Content-Type": "application/offset+octet-stream", "Tus-Resumable": "1.0.0"}

    # when an upload announced to one replica gets its chunks through both, in turn
    created = webs[0].post("/api/v1/uploads/", json={"filename": "c.csv", "size": len(content)})
    assert created.status_code == 201, created.text
    url = f"/api/v1/uploads/{created.json()['id']}/"
    offset, turns = 0, 0
    while offset < len(content):
        answer = webs[turns % 2].patch(
            url,
            content=content[offset : offset + 9000],
            headers={**octets, "Upload-Offset": str(offset)},
        )
        assert answer.status_code == 204, answer.text
        offset, turns = int(answer.headers["Upload-Offset"]), turns + 1
    assert turns > 2

    # then each chunk is an object in the bucket, and neither web kept a byte on its disk
    staged = [k for k in _keys(s3) if k.startswith(f"staging/{created.json()['id']}/")]
    assert len(staged) == turns, staged
    assert _files(scaleout.data_dirs["web"]) == _files(scaleout.data_dirs["web2"]) == []
    # a chunk sent again for an offset already stored is refused by the other replica too
    again = webs[1].patch(url, content=content[:100], headers={**octets, "Upload-Offset": "0"})
    assert again.status_code == 409, again.text
    assert again.headers["Upload-Offset"] == str(len(content))
    assert webs[1].head(url).headers["Upload-Offset"] == str(len(content))

    # and the other replica makes the dataset of all the bytes, in order, and drops the parts
    made = webs[1].post("/api/v1/datasets/", json={"upload": created.json()["id"]})
    assert made.status_code == 201, made.text
    assert made.json()["sha256"] == hashlib.sha256(content).hexdigest()
    assert made.json()["size_bytes"] == len(content)
    assert not [k for k in _keys(s3) if k.startswith("staging/")], _keys(s3)
    assert _files(scaleout.data_dirs["web2"]) == []
