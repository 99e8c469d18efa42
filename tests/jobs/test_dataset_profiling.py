"""Profiling claims: a profile whose worker died is taken over or given up on, never left
PROFILING; a profiler that lost its claim (deleted, taken over) writes nothing."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from jobs import services
from jobs.models import Dataset
from jobs.tasks import profile_dataset
from tests.conftest import breast_cancer_csv
from tests.factories import stage

pytestmark = pytest.mark.django_db


def _pending(owner: Any) -> Dataset:
    content = breast_cancer_csv(rows=120)
    dataset, _ = services.dataset_create(
        owner=owner,
        path=stage(content),
        filename="cancer.csv",
        sha256=hashlib.sha256(content).hexdigest(),
        request=services.DatasetRequest(),
    )
    return dataset


def _worker_dies(dataset: Dataset) -> None:
    """What a kill -9 mid-profile leaves: PROFILING, and a heartbeat nobody beats any more."""
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    Dataset.objects.filter(pk=dataset.pk).update(heartbeat_at=long_ago)


def _statuses(dataset: Dataset) -> list[dict[str, Any]]:
    events = dataset.events.filter(kind="dataset_status").order_by("seq")
    return [e.payload for e in events]


def test_a_redelivered_task_takes_over_a_profile_whose_worker_died(
    personas: dict[str, Any], media_root: Path
) -> None:
    dataset = _pending(personas["owner"])
    first = services.dataset_claim_profiling(dataset_id=dataset.pk)
    assert first is not None
    _worker_dies(dataset)

    profile_dataset(dataset.pk)  # the message, redelivered after the kill

    dataset.refresh_from_db()
    assert (dataset.status, dataset.attempts) == ("READY", 2)
    assert dataset.n_rows == 120
    assert {"status": "PROFILING", "attempt": 2} in _statuses(dataset)


def test_a_live_profile_is_not_taken_over(personas: dict[str, Any], media_root: Path) -> None:
    dataset = _pending(personas["owner"])
    assert services.dataset_claim_profiling(dataset_id=dataset.pk) is not None

    profile_dataset(dataset.pk)  # a duplicate delivery while the first still beats

    dataset.refresh_from_db()
    assert (dataset.status, dataset.attempts) == ("PROFILING", 1)
    assert services.datasets_reap() == []


def test_the_reaper_requeues_a_lost_profile_then_fails_it_after_the_last_attempt(
    personas: dict[str, Any],
    media_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def queued() -> int:
        return int(broker.llen(settings.SHORT_QUEUE))  # type: ignore[arg-type]

    dataset = _pending(personas["owner"])
    for attempt in range(1, Dataset.MAX_PROFILE_ATTEMPTS):
        claimed = services.dataset_claim_profiling(dataset_id=dataset.pk)
        assert claimed is not None
        assert claimed.attempts == attempt
        _worker_dies(dataset)
        before = queued()
        with django_capture_on_commit_callbacks(execute=True):
            assert services.datasets_reap() == [dataset.pk]
        dataset.refresh_from_db()
        assert dataset.status == "PENDING"
        # sent to the profiling workers again
        assert queued() == before + 1

    assert services.dataset_claim_profiling(dataset_id=dataset.pk) is not None
    _worker_dies(dataset)
    assert services.datasets_reap() == [dataset.pk]

    dataset.refresh_from_db()
    assert dataset.status == "FAILED"
    assert f"interrupted {Dataset.MAX_PROFILE_ATTEMPTS} times" in dataset.error
    assert _statuses(dataset)[-1] == {"status": "FAILED", "error": dataset.error}
    # and a late redelivery does not start a fourth attempt
    profile_dataset(dataset.pk)
    dataset.refresh_from_db()
    assert (dataset.status, dataset.attempts) == ("FAILED", Dataset.MAX_PROFILE_ATTEMPTS)


def test_a_dataset_stuck_profiling_before_heartbeats_existed_is_requeued(
    personas: dict[str, Any], media_root: Path
) -> None:
    dataset = _pending(personas["owner"])
    Dataset.objects.filter(pk=dataset.pk).update(status="PROFILING", heartbeat_at=None)

    assert services.datasets_reap() == [dataset.pk]
    profile_dataset(dataset.pk)

    dataset.refresh_from_db()
    assert (dataset.status, dataset.attempts) == ("READY", 1)


def test_an_attempt_that_was_taken_over_writes_nothing(
    personas: dict[str, Any], media_root: Path
) -> None:
    dataset = _pending(personas["owner"])
    stalled = services.dataset_claim_profiling(dataset_id=dataset.pk)
    assert stalled is not None
    _worker_dies(dataset)
    current = services.dataset_claim_profiling(dataset_id=dataset.pk)
    assert current is not None

    # the stalled attempt resumes and finishes its profile
    assert services.dataset_profile(dataset=stalled) is None
    dataset.refresh_from_db()
    assert (dataset.status, dataset.attempts) == ("PROFILING", 2)
    assert not dataset.events.filter(kind="profile_progress").exists()

    finished = services.dataset_profile(dataset=current)
    assert finished is not None
    assert finished.status == "READY"


def test_a_dataset_deleted_while_profiling_stays_deleted(
    api_as: Any, personas: dict[str, Any], media_root: Path
) -> None:
    dataset = _pending(personas["owner"])
    claimed = services.dataset_claim_profiling(dataset_id=dataset.pk)
    assert claimed is not None

    answer = api_as("owner").delete(f"/api/v1/datasets/{dataset.pk}/")
    assert answer.status_code == 204

    # the profiler carries on from where it was, finds its claim gone, and writes nothing
    assert services.dataset_profile(dataset=claimed) is None
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert api_as("owner").get(f"/api/v1/datasets/{dataset.pk}/").status_code == 404
