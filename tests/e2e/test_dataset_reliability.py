"""Datasets against the real processes: profiling never waits behind training."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack("postgres", tmp_path_factory.mktemp("datasets")) as stack:
        yield stack


def _post(stack: Stack, content: bytes, name: str, mime: str = "text/csv") -> int:
    client = stack.client("owner")
    answer = client.post("/api/v1/datasets/", files={"file": (name, content, mime)})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_an_upload_is_profiled_while_a_job_trains(stack: Stack) -> None:
    # given the console's one training worker busy with a long job
    client = stack.client("owner")
    dataset = flow.upload(client, breast_cancer_csv())
    job = flow.create_job(client, dataset["id"], max_trials=50, max_epochs=200)
    url = f"/api/v1/jobs/{job['id']}/"
    deadline = time.monotonic() + 120
    while not client.get(url).json()["trials"]:
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.3)

    # when a new file is uploaded
    new_id = _post(stack, breast_cancer_csv(rows=300), "smaller.csv")

    # then it is profiled while the job is still training
    profiled = flow.wait_dataset(client, new_id, timeout=60)
    assert profiled["status"] == "READY", profiled["error"]
    assert client.get(url).json()["status"] == "RUNNING"
    assert client.post(f"{url}cancel/").status_code == 202
    events = flow.watch_job(stack, job["id"], "owner", timeout=120)
    assert events[-1]["payload"]["status"] == "CANCELLED"
