"""Datasets against the real processes: profiling never waits behind training, a profile
whose worker is killed is taken over, and a dataset deleted mid-profile stays deleted."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from PIL import Image

from automl_cli.watch import frame_events
from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack, children, process_of, running_stack

pytestmark = pytest.mark.stack

SHORT_WORKER = b"worker\x00-Q\x00short"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # A lost profile is noticed within seconds rather than minutes.
    env = {"DATASET_HEARTBEAT_STALE_SECONDS": "4", "JOB_REAP_INTERVAL_SECONDS": "1"}
    with running_stack("postgres", tmp_path_factory.mktemp("datasets"), env) as stack:
        yield stack


def _image_zip(images: int) -> bytes:
    """An archive whose profile takes seconds: each member is opened and checked."""
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (images % 255, 0, 0)).save(png, format="PNG")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(images):
            archive.writestr(f"{('cats', 'dogs')[i % 2]}/{i}.png", png.getvalue())
    return buffer.getvalue()


def _wait_profiling(stack: Stack, dataset_id: int, timeout: float = 60) -> None:
    client = stack.client("owner")
    deadline = time.monotonic() + timeout
    while (status := client.get(f"/api/v1/datasets/{dataset_id}/").json()["status"]) != (
        "PROFILING"
    ):
        assert status == "PENDING", f"dataset {dataset_id} {status} before it could be caught"
        assert time.monotonic() < deadline, f"dataset {dataset_id} never started profiling"
        time.sleep(0.05)


async def _dataset_events(url: str, origin: str, timeout: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with websockets.connect(url, origin=origin) as socket:  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(socket.recv(), timeout=deadline - time.monotonic())
            for event in frame_events(raw):
                events.append(event)
                status = event["payload"].get("status")
                if event["kind"] == "dataset_status" and status in ("READY", "FAILED"):
                    return events
    raise AssertionError(f"the dataset did not finish within {timeout}s: {events[-3:]}")


def _watch_dataset(stack: Stack, dataset_id: int, timeout: float = 180) -> list[dict[str, Any]]:
    url = f"{stack.ws_url}/ws/datasets/{dataset_id}/?token={stack.tokens['owner']}"
    return asyncio.run(_dataset_events(url, stack.url, timeout))


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


def test_a_profile_whose_worker_is_killed_is_taken_over(stack: Stack) -> None:
    # given an archive being profiled
    dataset_id = _post(stack, _image_zip(24_000), "pets.zip", "application/zip")
    _wait_profiling(stack, dataset_id)

    # when the profiling worker's processes are killed outright
    worker = process_of(stack, SHORT_WORKER)
    assert worker is not None, "no short-task worker"
    pool = children(worker)
    assert pool, "the short-task worker has no pool processes"
    for pid in pool:
        os.kill(pid, signal.SIGKILL)

    # then the profile is taken up again by a second attempt and finishes
    events = _watch_dataset(stack, dataset_id)
    statuses = [e["payload"] for e in events if e["kind"] == "dataset_status"]
    assert statuses[-1]["status"] == "READY", statuses
    assert {"status": "PROFILING", "attempt": 2} in statuses, statuses
    final = stack.client("owner").get(f"/api/v1/datasets/{dataset_id}/").json()
    assert final["status"] == "READY"
    assert final["profile"]["images"]["classes"] == {"cats": 12_000, "dogs": 12_000}


def test_a_dataset_deleted_while_profiling_stays_deleted(stack: Stack) -> None:
    client = stack.client("owner")
    dataset_id = _post(stack, _image_zip(24_001), "more-pets.zip", "application/zip")
    _wait_profiling(stack, dataset_id)

    assert client.delete(f"/api/v1/datasets/{dataset_id}/").status_code == 204

    # the profiler notices at its next batch and stops without writing
    log = stack.data_dir / "console.log"
    stopped = f"Dataset {dataset_id}, attempt 1: deleted or taken over"
    deadline = time.monotonic() + 90
    while stopped not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the profiler did not stop"
        assert client.get(f"/api/v1/datasets/{dataset_id}/").status_code == 404
        time.sleep(0.2)
    time.sleep(2)  # anything it might still write would land now
    assert client.get(f"/api/v1/datasets/{dataset_id}/").status_code == 404
    listed = client.get("/api/v1/datasets/").json()["results"]
    assert dataset_id not in [d["id"] for d in listed]
    # and the workers carry on
    ready = flow.upload(client, breast_cancer_csv(rows=200))
    assert ready["status"] == "READY", ready["error"]
