"""No user runs more than USER_MAX_RUNNING_JOBS jobs at once: the next one waits QUEUED, says
why, and starts when one of theirs ends. Messages are real ones, in the test Redis, each test in
a queue of its own so nothing else reads or clears it."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from kombu import Connection

from jobs import services
from jobs.models import JobEvent, TrainingJob
from jobs.services.queueing import jobs_release_waiting
from tests.factories import job_row

needs_redis = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs the Redis broker"
)

REASON = "2 of your jobs are running, your limit at once; this one starts when one of them ends."


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"limits-{uuid.uuid4().hex[:8]}"
    yield name
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return
    with Connection(settings.CELERY_BROKER_URL, transport_options=_options()) as broker:
        broker.SimpleQueue(name).clear()


def _options() -> dict[str, Any]:
    return cast(dict[str, Any], settings.CELERY_BROKER_TRANSPORT_OPTIONS)


def _sent(queue: str) -> list[int]:
    """The job ids waiting in a queue, in the order a worker takes them."""
    ids: list[int] = []
    with Connection(settings.CELERY_BROKER_URL, transport_options=_options()) as broker:
        simple = broker.SimpleQueue(queue)
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                return ids
            message.ack()
            ids.append(message.payload[0][0])


def _status(job: TrainingJob) -> str:
    job.refresh_from_db()
    return job.status


@pytest.mark.django_db
def test_a_third_job_waits_while_two_run_and_says_why(
    personas: dict[str, Any], api_as: Any, settings: Any, queue: str
) -> None:
    # given the owner's limit of two, with two jobs running
    settings.USER_MAX_RUNNING_JOBS = 2
    owner = personas["owner"]
    first, second, third = (job_row(owner, queue=queue) for _ in range(3))
    assert services.job_claim(job_id=first.pk, worker="w1") is not None
    assert services.job_claim(job_id=second.pk, worker="w2") is not None

    # when a worker receives the third, twice (a redelivery)
    assert services.job_claim(job_id=third.pk, worker="w3") is None
    assert services.job_claim(job_id=third.pk, worker="w3") is None

    # then it waits QUEUED, says why in the API and once in its events
    assert _status(third) == "QUEUED"
    assert third.limited_at is not None
    answer = api_as("owner").get(f"/api/v1/jobs/{third.pk}/")
    assert answer.status_code == 200
    assert answer.json()["waiting_for"] == REASON
    waits = JobEvent.objects.filter(job=third, kind="job_waiting")
    assert [e.payload["reason"] for e in waits] == [REASON]
    # the running ones wait for nothing; the others' jobs are not theirs to see
    assert api_as("owner").get(f"/api/v1/jobs/{first.pk}/").json()["waiting_for"] == ""
    assert api_as("outsider").get(f"/api/v1/jobs/{third.pk}/").status_code == 404
    # and another user's job is not held by the owner's limit
    theirs = job_row(personas["outsider"], queue=queue)
    assert services.job_claim(job_id=theirs.pk, worker="w4") is not None


@pytest.mark.django_db
def test_no_limit_when_it_is_zero(personas: dict[str, Any], settings: Any, queue: str) -> None:
    settings.USER_MAX_RUNNING_JOBS = 0
    jobs = [job_row(personas["owner"], queue=queue) for _ in range(3)]
    assert all(services.job_claim(job_id=j.pk, worker="w") is not None for j in jobs)


@needs_redis
@pytest.mark.django_db
def test_when_a_running_job_ends_the_next_waiting_one_is_sent(
    personas: dict[str, Any],
    settings: Any,
    queue: str,
    media_root: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given one running job of a limit of one, and two held: an older normal, a newer high
    settings.USER_MAX_RUNNING_JOBS = 1
    owner = personas["owner"]
    running = job_row(owner, queue=queue)
    older = job_row(owner, queue=queue)
    urgent = job_row(owner, queue=queue, priority="high")
    claimed = services.job_claim(job_id=running.pk, worker="w1")
    assert claimed is not None
    for job in (older, urgent):
        assert services.job_claim(job_id=job.pk, worker="w2") is None
    # while the slot is taken, the reaper's pass sends nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_release_waiting() == []
    assert _sent(queue) == []

    # when the running job ends (its dataset's file is gone: it fails in the worker)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_run(job=claimed)
    assert _status(running) == "FAILED"

    # then the high-priority waiting job is sent, once, and the older one still waits
    assert _sent(queue) == [urgent.pk]
    urgent.refresh_from_db()
    older.refresh_from_db()
    assert urgent.limited_at is None
    assert older.limited_at is not None
    # a reaper pass before that message is taken sends no second job for the one slot
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_release_waiting() == []
    # and the worker that receives it starts it
    assert services.job_claim(job_id=urgent.pk, worker="w2") is not None
    # a raised limit frees the older one at the next reaper pass
    settings.USER_MAX_RUNNING_JOBS = 2
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_release_waiting() == [older.pk]
    assert _sent(queue) == [older.pk]


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # Within a transaction PostgreSQL keeps its first look at the sessions, unless told.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_two_jobs_of_one_user_at_once_start_one(
    personas: dict[str, Any], settings: Any, queue: str
) -> None:
    # given a limit of one and two waiting jobs of one user
    settings.USER_MAX_RUNNING_JOBS = 1
    jobs = [job_row(personas["owner"], queue=queue) for _ in range(2)]
    results: dict[int, Any] = {}

    def claim(job_id: int) -> None:
        try:
            results[job_id] = services.job_claim(job_id=job_id, worker=f"w{job_id}")
        finally:
            connections.close_all()

    # when two workers claim them at once: both jobs' rows are held locked meanwhile, so
    # both claims are in flight together (each counted the running jobs, or waits to)
    with transaction.atomic():
        list(TrainingJob.objects.select_for_update().filter(pk__in=[j.pk for j in jobs]))
        threads = [threading.Thread(target=claim, args=(j.pk,)) for j in jobs]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while _waiting_on_locks() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _waiting_on_locks() == 2
    for thread in threads:
        thread.join(timeout=10)

    # then exactly one started, and the other waits
    assert sorted(r is not None for r in results.values()) == [False, True]
    statuses = sorted(TrainingJob.objects.filter(owner=personas["owner"]).values_list(
        "status", flat=True))  # fmt: skip
    assert statuses == ["QUEUED", "RUNNING"]


@pytest.mark.django_db
def test_a_users_own_limit_overrides_the_default_and_raising_it_sends_the_held(
    personas: dict[str, Any],
    api_as: Any,
    settings: Any,
    queue: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given the default of two, and the owner's own limit of one set by an operator
    settings.USER_MAX_RUNNING_JOBS = 2
    owner, outsider = personas["owner"], personas["outsider"]
    services.user_limits_set(user=owner, max_running_jobs=1, actor=None)
    first, second = (job_row(owner, queue=queue) for _ in range(2))

    # when two of the owner's jobs are received, the second waits under their own limit
    assert services.job_claim(job_id=first.pk, worker="w1") is not None
    assert services.job_claim(job_id=second.pk, worker="w2") is None
    assert _status(second) == "QUEUED"
    assert (
        JobEvent.objects.get(job=second, kind="job_waiting")
        .payload["reason"]
        .startswith("1 of your jobs are running")
    )
    # while another user keeps the default
    theirs = [job_row(outsider, queue=queue) for _ in range(3)]
    assert [services.job_claim(job_id=j.pk, worker="w") is not None for j in theirs] == [
        True,
        True,
        False,
    ]
    # and each reads their own limit
    assert api_as("owner").get("/api/v1/auth/me/").json()["limits"]["max_running_jobs"] == 1
    mine = api_as("outsider").get("/api/v1/auth/me/").json()["limits"]
    assert (mine["max_running_jobs"], mine["running_jobs"]) == (2, 2)

    # when the operator raises the owner's limit, the held job is sent once committed
    with django_capture_on_commit_callbacks(execute=False) as sent:
        services.user_limits_set(user=owner, max_running_jobs=2, actor=None)
    second.refresh_from_db()
    assert second.limited_at is None
    assert len(sent) == 1
    # and 0 means no limit at all
    services.user_limits_set(user=outsider, max_running_jobs=0, actor=None)
    more = job_row(outsider, queue=queue)
    assert services.job_claim(job_id=more.pk, worker="w") is not None
