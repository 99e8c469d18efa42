"""Event sequence numbers under concurrent writers: the web (cancel) and the worker (epochs)
record events of the same job at the same time, each on its own database connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection

from jobs import services
from jobs.models import Dataset, DatasetEvent, JobEvent, TrainingJob

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 6
EVENTS_EACH = 40


def _subjects() -> tuple[TrainingJob, Dataset]:
    owner = User.objects.create_user("owner")
    dataset = Dataset.objects.create(
        owner=owner, name="d", file="datasets/none.csv", sha256="0" * 64, size_bytes=1
    )
    job = TrainingJob.objects.create(
        owner=owner, dataset=dataset, dataset_sha256=dataset.sha256, target="y", task_type="binary"
    )
    return job, dataset


def _record_concurrently(subject: TrainingJob | Dataset) -> list[BaseException]:
    """WRITERS threads, each with its own connection, record EVENTS_EACH events at once."""
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(EVENTS_EACH):
                payload = {"w": writer, "n": n}
                services.event_record(subject=subject, kind="epoch_end", payload=payload)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the race needs PostgreSQL")
@pytest.mark.parametrize("which", ["job", "dataset"])
def test_concurrent_writers_get_distinct_consecutive_sequence_numbers(which: str) -> None:
    job, dataset = _subjects()
    subject: Any = job if which == "job" else dataset

    errors = _record_concurrently(subject)

    assert not errors, f"{len(errors)} writers failed, first: {errors[0]!r}"
    events = JobEvent.objects.filter(job=job) if which == "job" else dataset.events.all()
    seqs = sorted(events.values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EVENTS_EACH + 1))
    # Each writer's own events keep their order.
    for writer in range(WRITERS):
        mine = [e.payload["n"] for e in events.order_by("seq") if e.payload["w"] == writer]
        assert mine == list(range(EVENTS_EACH))


def test_an_event_of_a_deleted_dataset_is_refused_not_resurrected() -> None:
    _, dataset = _subjects()
    dataset.jobs.all().delete()
    Dataset.objects.filter(pk=dataset.pk).delete()

    with pytest.raises(services.SubjectGone):
        services.event_record(subject=dataset, kind="profile_progress", payload={"fraction": 0.5})
    assert not DatasetEvent.objects.filter(dataset_id=dataset.pk).exists()
