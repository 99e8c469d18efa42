"""A broker that lost its data (Redis restarted empty) gets every waiting message again."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import pytest
import redis
from django.conf import settings

from jobs import services
from jobs.models import Dataset
from jobs.services.reconcile import MARKER, broker_reconcile
from tests.conftest import breast_cancer_csv
from tests.factories import make_dataset, stage

pytestmark = pytest.mark.django_db


def _waiting(client: redis.Redis, queue: str) -> list[tuple[str, str]]:
    """(task name, its arguments) of each message waiting in a queue, as Celery wrote it: in
    the queue's list and those of its priority steps (a normal job's is "cpu:3")."""
    out = []
    lists = [queue, *(f"{queue}:{step}" for step in (3, 6, 9))]
    raws = [raw for name in lists for raw in cast(list[bytes], client.lrange(name, 0, -1))]
    for raw in raws:
        headers = json.loads(raw)["headers"]
        out.append((headers["task"], headers["argsrepr"]))
    return out


def test_waiting_jobs_and_profiles_are_sent_again_when_the_broker_lost_its_data(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    ready = make_dataset(personas["owner"])
    content = breast_cancer_csv()
    with django_capture_on_commit_callbacks(execute=True):
        pending, _ = services.dataset_create(
            owner=personas["outsider"],
            path=stage(content, ".csv"),
            filename="other.csv",
            sha256=hashlib.sha256(content).hexdigest(),
            request=services.DatasetRequest(name="other"),
        )
        job = services.job_create(owner=personas["owner"], dataset=ready, target="diagnosis")
    assert pending.status == Dataset.Status.PENDING
    # the first pass only leaves its marker: nothing was lost
    client.set(MARKER, "1")
    assert broker_reconcile() is None
    assert ("jobs.tasks.run_training_job", f"[{job.pk}]") in _waiting(client, "cpu")

    # when Redis comes back empty (restarted without persistence)
    client.flushdb()
    resent = broker_reconcile()

    # then the waiting job and profile are queued again, once, and the marker is back
    assert resent is not None
    assert resent.jobs == [job.pk]
    assert resent.datasets == [pending.pk]
    assert _waiting(client, "cpu") == [("jobs.tasks.run_training_job", f"[{job.pk}]")]
    assert _waiting(client, "short") == [("jobs.tasks.profile_dataset", f"({pending.pk},)")]
    assert broker_reconcile() is None
