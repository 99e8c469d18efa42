"""A job whose worker died resumes its search from the tuner state on shared storage."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from jobs import services
from jobs.models import JobEvent, TrainingJob, Trial
from jobs.services import reporter
from jobs.services.tuner_state import tuner_state_name
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


class WorkerDied(BaseException):
    """Stands for kill -9: nothing in the service or the engine may catch it."""


def _rows(job: TrainingJob) -> dict[int, tuple[Any, ...]]:
    return {
        t.number: (t.pk, t.status, t.score, len(t.epochs), t.started_at)
        for t in Trial.objects.filter(job=job)
    }


def test_a_retried_job_resumes_after_its_finished_trials(
    personas: dict[str, Any],
    media_root: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(
        owner=personas["owner"], dataset=dataset, target="diagnosis", max_trials=3, max_epochs=2
    )
    state = tuner_state_name(job)

    # given a first attempt whose worker dies after the third trial's first epoch
    epoch_end = reporter.JobReporter.epoch_end

    def dies_in_trial_3(self: Any, number: int, epoch: int, metrics: dict[str, float]) -> None:
        epoch_end(self, number, epoch, metrics)
        if number == 3:
            raise WorkerDied

    monkeypatch.setattr(reporter.JobReporter, "epoch_end", dies_in_trial_3)
    first = services.job_claim(job_id=job.pk, worker="w1")
    assert first is not None
    with pytest.raises(WorkerDied), django_capture_on_commit_callbacks(execute=True):
        services.job_run(job=first)
    monkeypatch.undo()
    before = _rows(job)
    assert {n: r[1] for n, r in before.items()} == {1: "COMPLETED", 2: "COMPLETED", 3: "RUNNING"}
    assert default_storage.exists(state)

    # when its heartbeat goes stale and a redelivered message takes it over
    TrainingJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )
    second = services.job_claim(job_id=job.pk, worker="w2")
    assert second is not None
    assert second.attempts == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.job_run(job=second)

    # then it succeeds without running trials 1 and 2 again, and trial 3 restarts in its row
    job.refresh_from_db()
    assert job.status == "SUCCEEDED", job.error
    after = _rows(job)
    assert sorted(after) == [1, 2, 3]
    assert after[1] == before[1]
    assert after[2] == before[2]
    assert after[3][0] == before[3][0]
    assert (after[3][1], after[3][3]) == ("COMPLETED", 2)
    assert job.best_trial in (1, 2, 3)
    assert job.manifest["max_trials"] == 3
    assert job.model_version is not None
    events = list(JobEvent.objects.filter(job=job).values_list("kind", "payload"))
    started = [p for kind, p in events if kind == "trial_started"]
    assert [p["trial"] for p in started] == [1, 2, 3, 3]
    assert started[-1].get("rerun") is True
    resumed = [p for kind, p in events if kind == "search_resumed"]
    assert resumed == [{"attempt": 2, "trials_done": 2}]
    # the saved search goes with the job's end
    assert not default_storage.exists(state)


def test_a_cancelled_requeued_job_forgets_its_saved_search(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    services.tuner_state_save(job=job, data=b"saved by a dead worker")
    assert services.tuner_state_load(job=job) == b"saved by a dead worker"
    with django_capture_on_commit_callbacks(execute=True):
        services.job_cancel(job=job, actor=personas["owner"])
    assert services.tuner_state_load(job=job) is None
