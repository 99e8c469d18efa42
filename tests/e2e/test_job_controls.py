"""A running job stops when cancelled and when its time limit passes, for real."""

from __future__ import annotations

import time

import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack

pytestmark = pytest.mark.stack


def _dataset(stack: Stack) -> int:
    client = stack.client("teammate")
    content = breast_cancer_csv().replace(b"south", b"west")  # a file of its own
    # (the outsider must stay empty-handed for the walking-skeleton test on the same stack)
    answer = client.post("/api/v1/datasets/", files={"file": ("c.csv", content, "text/csv")})
    assert answer.status_code in (200, 201), answer.text
    return int(flow.wait_dataset(client, answer.json()["id"])["id"])


def test_a_running_job_is_cancelled_at_a_batch_boundary(embedded_stack: Stack) -> None:
    # given a long job that has started training
    client = embedded_stack.client("teammate")
    job = flow.create_job(client, _dataset(embedded_stack), max_trials=30, max_epochs=100)
    deadline = time.monotonic() + 120
    while client.get(f"/api/v1/jobs/{job['id']}/").json()["trials"] == []:
        assert time.monotonic() < deadline, "no trial started"
        time.sleep(0.3)

    # when it is cancelled
    asked = time.monotonic()
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel/").status_code == 202
    events = flow.watch_job(embedded_stack, job["id"], "teammate", timeout=60)

    # then it stops within seconds, as CANCELLED, and registers no model
    assert events[-1]["payload"]["status"] == "CANCELLED"
    assert time.monotonic() - asked < 30
    assert "cancel_requested" in [e["kind"] for e in events]
    final = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert (final["status"], final["model_version"]) == ("CANCELLED", None)
    assert len(final["trials"]) < 30


def test_a_time_limit_ends_the_search_with_the_best_model_so_far(embedded_stack: Stack) -> None:
    client = embedded_stack.client("teammate")
    job = flow.create_job(
        client, _dataset(embedded_stack), max_trials=50, max_epochs=200, max_seconds=10
    )
    events = flow.watch_job(embedded_stack, job["id"], "teammate", timeout=120)
    final = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert final["status"] == "SUCCEEDED", final["error"]
    assert final["stopped"] == "time_limit"
    assert final["model_version"] is not None
    assert final["manifest"]["max_seconds"] == 10
    running = next(e for e in events if e["payload"].get("status") == "RUNNING")
    finished = events[-1]
    from datetime import datetime

    took = datetime.fromisoformat(finished["created_at"]) - datetime.fromisoformat(
        running["created_at"]
    )
    # the limit, plus one epoch, plus loading the data and saving, evaluating, registering
    assert took.total_seconds() < 10 + 15


def test_stop_and_keep_best_registers_the_best_trial_so_far(embedded_stack: Stack) -> None:
    # given a long job whose first trial has finished
    client = embedded_stack.client("teammate")
    job = flow.create_job(client, _dataset(embedded_stack), max_trials=30, max_epochs=100)
    url = f"/api/v1/jobs/{job['id']}/"
    deadline = time.monotonic() + 180
    while not any(t["status"] == "COMPLETED" for t in client.get(url).json()["trials"]):
        assert time.monotonic() < deadline, "no trial finished"
        time.sleep(0.3)

    # when its owner asks it to stop and keep the best so far
    answer = client.post(f"{url}cancel/", json={"keep_best": True})
    assert answer.status_code == 202, answer.text
    assert answer.json()["keep_best"] is True
    events = flow.watch_job(embedded_stack, job["id"], "teammate", timeout=120)

    # then it stops early, as SUCCEEDED with its best finished trial registered
    assert events[-1]["payload"]["status"] == "SUCCEEDED"
    final = client.get(url).json()
    assert (final["status"], final["stopped"]) == ("SUCCEEDED", "stopped_by_user")
    assert final["model_version"] is not None
    assert final["best_trial"] is not None
    assert len(final["trials"]) < 30
