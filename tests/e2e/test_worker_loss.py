"""A worker killed with SIGKILL mid-search: the job is retried, never left RUNNING."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack, children, process_of, running_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def quick_reaping_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"JOB_HEARTBEAT_STALE_SECONDS": "6", "JOB_REAP_INTERVAL_SECONDS": "1"}
    with running_stack("postgres", tmp_path_factory.mktemp("reaping"), env) as stack:
        yield stack


def _training_child(stack: Stack) -> int:
    """This stack's training pool process: the cpu worker's child (not the short-task one's)."""
    worker = process_of(stack, b"worker\x00-Q\x00cpu")
    assert worker is not None, "no training worker found"
    (child,) = children(worker)
    return child


def test_a_killed_worker_is_replaced_and_the_search_resumes(quick_reaping_stack: Stack) -> None:
    stack = quick_reaping_stack
    client = stack.client("owner")
    dataset = flow.upload(client, breast_cancer_csv())
    job = flow.create_job(client, dataset["id"], max_trials=3, max_epochs=25)
    url = f"/api/v1/jobs/{job['id']}/"
    deadline = time.monotonic() + 180
    # Wait for a finished trial and the next one under way: the kill then lands mid-search.
    while True:
        trials = client.get(url).json()["trials"]
        done = {t["number"] for t in trials if t["status"] == "COMPLETED"}
        if done and any(t["status"] == "RUNNING" for t in trials):
            break
        assert time.monotonic() < deadline, f"no trial finished with another running: {trials}"
        time.sleep(0.1)
    finished_before = {t["number"]: t["finished_at"] for t in trials if t["number"] in done}

    # when the process training it is killed outright
    os.kill(_training_child(stack), signal.SIGKILL)

    # then the job is taken up again and finishes, on its second attempt
    events = flow.watch_job(stack, job["id"], "owner", timeout=240)
    final = client.get(url).json()
    assert final["status"] == "SUCCEEDED", final["error"]
    attempts = [e["payload"].get("attempt") for e in events if e["kind"] == "job_status"]
    assert 2 in attempts
    resumed = [e["payload"] for e in events if e["kind"] == "search_resumed"]
    assert resumed, "the second attempt did not resume the saved search"
    assert resumed[0]["attempt"] == 2
    assert resumed[0]["trials_done"] >= len(finished_before)
    # and the trials finished before the kill were not run again: one start each, the same
    # finish time, while the search still ran all three trials
    starts = [e["payload"]["trial"] for e in events if e["kind"] == "trial_started"]
    for number in finished_before:
        assert starts.count(number) == 1, starts
    after = {t["number"]: t for t in final["trials"]}
    assert sorted(after) == [1, 2, 3]
    for number, finished_at in finished_before.items():
        assert after[number]["finished_at"] == finished_at
