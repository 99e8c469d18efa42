"""A worker frozen past the stale threshold (SIGSTOP, as a VM pause or a swap storm would) loses
its job to another worker; once it wakes (SIGCONT) its attempt writes nothing and stops."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import ROOT, Stack, running_stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def two_worker_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Short enough for a quick test, long enough that a busy two-core machine still beats.
    env = {"JOB_HEARTBEAT_STALE_SECONDS": "10", "JOB_REAP_INTERVAL_SECONDS": "1"}
    with running_stack("postgres", tmp_path_factory.mktemp("fencing"), env) as stack:
        # A second training worker beside runconsole's, as a second host would run.
        log = stack.data_dir / "second-worker.log"
        with log.open("wb") as out:
            second = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "console",
                    "worker",
                    "-Q",
                    "cpu",
                    "--concurrency",
                    "1",
                    "--max-tasks-per-child",
                    "1",
                    "--loglevel",
                    "INFO",
                    "-n",
                    f"second-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=stack.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 120
            while b"ready." not in log.read_bytes():
                assert second.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, "the second worker did not start"
                time.sleep(0.5)
            yield stack
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            try:
                second.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(second.pid, signal.SIGKILL)
                second.wait()


def _job_row(stack: Stack, job_id: int) -> tuple[str, int, str]:
    with psycopg.connect(stack.env["DATABASE_URL"].replace("postgres://", "postgresql://")) as c:
        row = c.execute(
            "SELECT status, attempts, worker FROM jobs_trainingjob WHERE id = %s", (job_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _alive(pid: int) -> bool:
    with contextlib.suppress(FileNotFoundError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


def test_a_frozen_worker_loses_its_job_and_writes_nothing_after(two_worker_stack: Stack) -> None:
    stack = two_worker_stack
    client = stack.client("owner")
    dataset = flow.upload(client, breast_cancer_csv())
    job = flow.create_job(client, dataset["id"], max_trials=3, max_epochs=25)
    url = f"/api/v1/jobs/{job['id']}/"
    deadline = time.monotonic() + 180
    while True:  # a trial under way, so the freeze lands mid-trial
        trials = client.get(url).json()["trials"]
        if any(t["status"] == "RUNNING" and t["epochs"] for t in trials):
            break
        assert time.monotonic() < deadline, f"no trial got going: {trials}"
        time.sleep(0.2)
    status, attempts, worker = _job_row(stack, job["id"])
    assert (status, attempts) == ("RUNNING", 1)
    frozen = int(worker.rsplit(":", 1)[1])

    # given the process running attempt 1 is frozen past the stale threshold
    os.kill(frozen, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 90
        while _job_row(stack, job["id"])[:2] != ("RUNNING", 2):
            assert time.monotonic() < deadline, "the job was not taken over by another worker"
            time.sleep(0.2)
        assert _job_row(stack, job["id"])[2] != worker
        time.sleep(2)  # the new attempt makes progress while the old one is still frozen
    finally:
        # when it wakes
        os.kill(frozen, signal.SIGCONT)

    # then the old attempt stops (its pool process ends with its task) ...
    deadline = time.monotonic() + 60
    while _alive(frozen):
        assert time.monotonic() < deadline, "the frozen attempt did not stop after waking"
        time.sleep(0.2)
    logs = b"".join(p.read_bytes() for p in stack.data_dir.glob("*.log"))
    assert b"attempt 1 lost its claim" in logs
    # ... the job ends with attempt 2's results ...
    events = flow.watch_job(stack, job["id"], "owner", timeout=300)
    final = client.get(url).json()
    assert final["status"] == "SUCCEEDED", final["error"]
    assert _job_row(stack, job["id"])[:2] == ("SUCCEEDED", 2)
    finished = [e for e in events if e["kind"] == "job_finished"]
    assert len(finished) == 1
    # ... and attempt 1 wrote nothing once attempt 2 held the job
    claimed = next(
        e["seq"] for e in events if e["kind"] == "job_status" and e["payload"].get("attempt") == 2
    )
    late = [e for e in events if e["seq"] > claimed and e["payload"].get("attempt") == 1]
    assert late == []
    numbers = [t["number"] for t in final["trials"]]
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    for trial in final["trials"]:
        epochs = [e["epoch"] for e in trial["epochs"]]
        assert epochs == list(range(1, len(epochs) + 1)), (trial["number"], epochs)
