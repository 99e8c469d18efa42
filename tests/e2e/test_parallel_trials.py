"""One search in two worker processes: a job with parallel_trials=2 on two Celery workers that
share no disk (an S3 bucket on a moto server between them, as in test_scaleout.py). Its trials
run in both processes, each exactly once, and the search ends in a registered model."""

from __future__ import annotations

import datetime
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.s3 import moto_bucket
from tests.stack import ScaleOut, children, running_scaleout

pytestmark = pytest.mark.stack

BUCKET = "console-parallel"
# Both take every queue: either may profile, own the search, or run its trials.
WORKERS = {"worker-a": "cpu,short", "worker-b": "cpu,short"}
TRIALS = 4


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[Any, dict[str, str]]]:
    with moto_bucket(BUCKET) as got:
        yield got


@pytest.fixture(scope="module")
def two_workers(
    bucket: tuple[Any, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScaleOut]:
    root = tmp_path_factory.mktemp("parallel")
    # A runner silent for 5 s is lost (30 by default), and a job whose owner is silent for 20 s
    # (120) is taken up again, the reaper looking every second, so the kills below cost seconds.
    # (Not less: a loaded owner saving or scoring a model may beat only every few seconds.)
    env = {
        **bucket[1],
        "TRIAL_HEARTBEAT_STALE_SECONDS": "5",
        "JOB_HEARTBEAT_STALE_SECONDS": "20",
        "JOB_REAP_INTERVAL_SECONDS": "1",
    }
    with running_scaleout(root, env, WORKERS, predictors=0) as out:
        yield out


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _ended(out: ScaleOut, client: Any, url: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (job := client.get(url).json())["status"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        assert time.monotonic() < deadline, f"the job did not end:\n{out.log_tails()}"
        assert all(p.poll() is None for p in out.processes.values()), out.log_tails()
        time.sleep(0.3)
    return dict(job)


def test_one_search_runs_its_trials_in_two_worker_processes(
    two_workers: ScaleOut, bucket: tuple[Any, dict[str, str]]
) -> None:
    s3, _ = bucket
    owner = two_workers.stack.client("owner")
    dataset = flow.upload(owner, breast_cancer_csv())
    assert dataset["status"] == "READY", dataset.get("error")

    # when a job asks for two trials at once
    # (trials long enough that the second worker's runner has started before the owner,
    # which takes tickets too, could have run them all: it has to import Keras and read the
    # data first)
    job = flow.create_job(
        owner, dataset["id"], max_trials=TRIALS, max_epochs=12, max_seconds=900,
        parallel_trials=2, tuner="random",
    )  # fmt: skip
    assert job["parallel_trials"] == 2
    url = f"/api/v1/jobs/{job['id']}/"
    job = _ended(two_workers, owner, url)

    # then it succeeds with a registered version, its search recorded as parallel
    assert job["status"] == "SUCCEEDED", f"{job['error']}\n{two_workers.log_tails()}"
    assert job["model_version"] is not None
    assert job["manifest"]["parallel_trials"] == 2
    # and its trials ran in both worker processes
    trials = job["trials"]
    seen = [(t["number"], t["runner"], t["started_at"], t["finished_at"]) for t in trials]
    assert sorted(t["number"] for t in trials) == list(range(1, TRIALS + 1)), seen
    assert all(t["status"] == "COMPLETED" for t in trials), trials
    runners = Counter(t["runner"] for t in trials)
    assert len(runners) == 2, seen
    logs = {name: two_workers.logs[name].read_text() for name in WORKERS}
    assert any("Task jobs.tasks.run_trials[" in log for log in logs.values()), logs
    # and none ran twice
    events = owner.get(f"{url}events/").json()
    started = [e["payload"] for e in events if e["kind"] == "trial_started"]
    assert Counter(p["trial"] for p in started) == dict.fromkeys(range(1, TRIALS + 1), 1), started
    assert not any(p.get("rerun") for p in started)
    # and nothing was kept on a worker's disk; the trials' weights left the bucket at the end
    # (they are deleted after the job's final commit, so the API may show SUCCEEDED a moment
    # before the last one is gone: wait a bounded while rather than read once)
    deadline = time.monotonic() + 30
    while True:
        kept = {name: _files(two_workers.data_dirs[name]) for name in WORKERS}
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        weights = [o["Key"] for o in listed if "/trials/" in o["Key"]]
        if (not any(kept.values()) and not weights) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not any(kept.values()), kept
    assert not weights, listed


def _at(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp)


def _pid(trial: dict[str, Any]) -> int:
    """The process a trial ran in, from its runner ("host:pid")."""
    return int(trial["runner"].rsplit(":", 1)[1])


def _parallel_job(out: ScaleOut, rows: int, trials: int) -> tuple[Any, str, dict[str, int]]:
    """A job of `trials` trials on two runners over a new upload of `rows` rows: the owner's
    client, the job's URL, and each worker's log length before it (see _running_trial_of)."""
    owner = out.stack.client("owner")
    dataset = flow.upload(owner, breast_cancer_csv(rows=rows))
    seen = {name: len(out.logs[name].read_text()) for name in WORKERS}
    # (trials as long as the first test's: with 4 epochs the owner ran all three before the
    # runner had read the data, and there was no runner trial to kill)
    job = flow.create_job(
        owner, dataset["id"], max_trials=trials, max_epochs=12, max_seconds=900,
        parallel_trials=2, tuner="random",
    )  # fmt: skip
    return owner, f"/api/v1/jobs/{job['id']}/", seen


def _running_trial_of(
    out: ScaleOut, client: Any, url: str, seen: dict[str, int], task: str, *, after_one: bool
) -> tuple[int, int, list[dict[str, Any]]]:
    """(pid, trial number, the trials then) of a trial RUNNING in the pool process of the
    worker that received the job's `task` since `seen` (its log's length): the owner for
    run_training_job, the runner for run_trials. With `after_one`, a trial started after a
    trial finished and after every other one that had: the owner saves the search right after
    reporting a trial's end, in the same thread, so every finished trial is then saved (a
    death between the two re-runs that trial, by design: jobs/engine/tuning.py)."""
    deadline = time.monotonic() + 180
    while True:
        assert time.monotonic() < deadline, f"no {task} trial seen running:\n{out.log_tails()}"
        time.sleep(0.1)
        marker = f"Task jobs.tasks.{task}["
        got = [name for name in WORKERS if marker in out.logs[name].read_text()[seen[name] :]]
        pids = {pid for name in got for pid in children(out.processes[name].pid)}
        trials = client.get(url).json()["trials"]
        ends = [_at(t["finished_at"]) for t in trials if t["status"] == "COMPLETED"]
        if after_one and not ends:
            continue
        for trial in trials:
            if trial["status"] != "RUNNING" or _pid(trial) not in pids:
                continue
            if not after_one or _at(trial["started_at"]) > max(ends):
                return _pid(trial), trial["number"], trials


def test_a_runner_killed_mid_trial_loses_only_its_trial(two_workers: ScaleOut) -> None:
    # (another file than the first test's: the same bytes again would be refused as a copy)
    # (five trials: with three, of about 3 s each on a quick machine, the owner had run them
    # all by the time the runner had read the data, and the runner had none to lose)
    trials = 5
    owner, url, seen = _parallel_job(two_workers, rows=560, trials=trials)
    # The runner: the pool process of the worker that received this job's run_trials task.
    pid, number, _ = _running_trial_of(two_workers, owner, url, seen, "run_trials", after_one=False)
    victim = (pid, number)

    # when the runner's process is killed outright mid-trial
    os.kill(victim[0], signal.SIGKILL)

    # then the job still succeeds, and only that trial was lost
    job = _ended(two_workers, owner, url)
    assert job["status"] == "SUCCEEDED", f"{job['error']}\n{two_workers.log_tails()}"
    ends = {t["number"]: (t["status"], t["error"]) for t in job["trials"]}
    assert ends[victim[1]][0] == "FAILED", ends
    assert "lost" in ends[victim[1]][1], ends
    assert [n for n, (status, _) in ends.items() if status != "COMPLETED"] == [victim[1]], ends
    events = owner.get(f"{url}events/").json()
    started = Counter(e["payload"]["trial"] for e in events if e["kind"] == "trial_started")
    assert started == dict.fromkeys(range(1, trials + 1), 1), started


def test_the_owner_killed_mid_search_loses_only_its_running_trials(two_workers: ScaleOut) -> None:
    owner, url, seen = _parallel_job(two_workers, rows=500, trials=4)
    # The owner: the pool process of the worker that received this job's run_training_job,
    # once a trial has finished and the owner is training one of its own.
    victim, _, trials = _running_trial_of(
        two_workers, owner, url, seen, "run_training_job", after_one=True
    )
    finished_before = {t["number"]: t["finished_at"] for t in trials if t["status"] == "COMPLETED"}

    # when the owner's process is killed outright mid-trial
    os.kill(victim, signal.SIGKILL)

    # then the next attempt resumes the saved search and the job succeeds with every trial;
    # the trials finished before the kill were neither run again nor changed
    job = _ended(two_workers, owner, url)
    assert job["status"] == "SUCCEEDED", f"{job['error']}\n{two_workers.log_tails()}"
    events = owner.get(f"{url}events/").json()
    resumed = [e["payload"] for e in events if e["kind"] == "search_resumed"]
    kinds = [(e["kind"], e["payload"]) for e in events if e["kind"] != "epoch_end"]
    assert resumed, "\n".join(map(str, kinds))
    assert resumed[0]["attempt"] >= 2
    started = Counter(e["payload"]["trial"] for e in events if e["kind"] == "trial_started")
    assert all(started[number] == 1 for number in finished_before), (finished_before, started)
    after = {t["number"]: t for t in job["trials"]}
    for number, finished_at in finished_before.items():
        assert (after[number]["status"], after[number]["finished_at"]) == ("COMPLETED", finished_at)
    assert len([t for t in after.values() if t["status"] == "COMPLETED"]) >= TRIALS
