"""A job's priority orders its queue: a worker takes high before normal, normal before low."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.conf import settings

from jobs.services.queueing import job_enqueue
from tests.factories import job_row, make_dataset
from tests.jobs.test_job_limits import _sent, needs_redis, queue  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@needs_redis
def test_a_worker_takes_high_priority_jobs_first(
    personas: dict[str, Any],
    queue: str,  # noqa: F811
) -> None:
    # given jobs sent in the order normal, low, high, normal
    order = ["normal", "low", "high", "normal"]
    jobs = [job_row(personas["owner"], queue=queue, priority=p) for p in order]
    for job in jobs:
        job_enqueue(job)

    # then Redis holds them in one list per priority step, the high one in the queue's own
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    assert client.llen(queue) == 1
    assert client.llen(f"{queue}:3") == 2
    assert client.llen(f"{queue}:6") == 1
    # and a worker takes the high one first, then the normal ones in their order, then low
    normal1, low, high, normal2 = (j.pk for j in jobs)
    assert _sent(queue) == [high, normal1, normal2, low]


def test_priority_is_chosen_at_creation_and_filters_the_list(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    made = api.post(
        "/api/v1/jobs/",
        {"dataset": dataset.pk, "target": "diagnosis", "priority": "high"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["priority"] == "high"
    plain = api.post("/api/v1/jobs/", {"dataset": dataset.pk, "target": "diagnosis"}, format="json")
    assert plain.json()["priority"] == "normal"

    listed = api.get("/api/v1/jobs/?priority=high").json()["results"]
    assert [j["id"] for j in listed] == [made.json()["id"]]
    assert api_as("outsider").get("/api/v1/jobs/?priority=high").json()["results"] == []

    bad = api.post(
        "/api/v1/jobs/",
        {"dataset": dataset.pk, "target": "diagnosis", "priority": "urgent"},
        format="json",
    )
    assert bad.status_code == 400
    assert bad.json()["fields"]["priority"] == [
        "'urgent' is not a priority; choose low, normal or high."
    ]
