"""A worker killed with SIGKILL mid-search: the job is retried, never left RUNNING."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def quick_reaping_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"JOB_HEARTBEAT_STALE_SECONDS": "6", "JOB_REAP_INTERVAL_SECONDS": "1"}
    with running_stack("postgres", tmp_path_factory.mktemp("reaping"), env) as stack:
        yield stack


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _training_child(stack: Stack) -> int:
    """This stack's Celery pool process: the worker main process' child."""
    for pid in _children(stack.pid):
        if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes():
            (child,) = _children(pid)
            return child
    raise AssertionError("no Celery pool process found")


def test_a_killed_worker_is_replaced_and_the_job_still_finishes(
    quick_reaping_stack: Stack,
) -> None:
    stack = quick_reaping_stack
    client = stack.client("owner")
    dataset = flow.upload(client, breast_cancer_csv())
    job = flow.create_job(client, dataset["id"], max_trials=2, max_epochs=40)
    deadline = time.monotonic() + 120
    while not client.get(f"/api/v1/jobs/{job['id']}/").json()["trials"]:
        assert time.monotonic() < deadline, "no trial started"
        time.sleep(0.2)

    # when the process training it is killed outright
    os.kill(_training_child(stack), signal.SIGKILL)

    # then the job is taken up again and finishes, on its second attempt
    events = flow.watch_job(stack, job["id"], "owner", timeout=240)
    final = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert final["status"] == "SUCCEEDED", final["error"]
    attempts = [e["payload"].get("attempt") for e in events if e["kind"] == "job_status"]
    assert 2 in attempts
