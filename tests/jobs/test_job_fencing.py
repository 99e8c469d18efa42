"""Each attempt of a job writes only while it holds the job (its attempt number is the fence)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import JobEvent, TrainingJob, Trial
from jobs.services import reporter
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _stale(job: TrainingJob) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(hours=1)
    )


def test_an_attempt_that_lost_its_job_writes_nothing_and_stops(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    first = services.job_claim(job_id=job.pk, worker="w1")
    assert first is not None
    old = reporter.JobReporter(first)
    old.trial_started(1, {"units": 8})
    old.epoch_end(1, 0, {"loss": 1.0})

    # given the first attempt froze past the stale threshold: requeued, claimed by another
    _stale(job)
    with django_capture_on_commit_callbacks(execute=False):
        assert services.jobs_reap() == [job.pk]
    second = services.job_claim(job_id=job.pk, worker="w2")
    assert second is not None
    assert second.attempts == 2
    events_before = JobEvent.objects.filter(job=job).count()
    trials_before = list(Trial.objects.filter(job=job).values())

    # when the frozen attempt wakes and carries on reporting
    assert old.cancelled() is True
    old.epoch_end(1, 1, {"loss": 0.5})
    old.trial_finished(1, "COMPLETED", 0.9, {"units": 8})
    old.trial_started(2, {"units": 16})
    old.save_tuner_state(b"stale")

    # then it wrote nothing: no event, no trial change, no beat, no saved search
    assert old.lost
    assert JobEvent.objects.filter(job=job).count() == events_before
    assert list(Trial.objects.filter(job=job).values()) == trials_before
    assert services.tuner_state_load(job=job) is None
    # while the attempt that holds the job writes as usual
    new = reporter.JobReporter(second)
    assert new.cancelled() is False
    new.trial_started(1, {"units": 8})
    assert Trial.objects.get(job=job, number=1).epochs == []
    started = JobEvent.objects.filter(job=job, kind="trial_started").last()
    assert started is not None
    assert started.payload["attempt"] == 2


def test_a_requeued_job_is_not_finished_by_its_old_attempt(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(
        owner=personas["owner"], dataset=dataset, target="diagnosis", max_trials=1, max_epochs=1
    )
    first = services.job_claim(job_id=job.pk, worker="w1")
    assert first is not None
    # given the job was requeued while its attempt was frozen, before it started training
    _stale(job)
    with django_capture_on_commit_callbacks(execute=False):
        services.jobs_reap()

    # when the old attempt runs the whole search anyway
    services.job_run(job=first)

    # then the job is still queued for its next attempt: no trial, no model, no end
    job.refresh_from_db()
    assert job.status == "QUEUED"
    assert not hasattr(job, "model_version")
    assert not Trial.objects.filter(job=job).exists()
    assert not JobEvent.objects.filter(job=job, kind="job_finished").exists()
