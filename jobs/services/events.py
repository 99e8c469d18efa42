"""Progress events: stored with a sequence number, then pushed to watchers after commit."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Max

from console import publisher
from jobs.models import Dataset, DatasetEvent, JobEvent, ProgressEvent, TrainingJob

logger = logging.getLogger(__name__)


class SubjectGone(Exception):
    """The job or dataset was deleted; its events have nowhere to go."""


def job_group(job_id: int) -> str:
    return f"job_{job_id}"


def dataset_group(dataset_id: int) -> str:
    return f"dataset_{dataset_id}"


def event_group(subject: TrainingJob | Dataset) -> str:
    """The channel-layer group whose members watch this job or dataset."""
    if isinstance(subject, TrainingJob):
        return job_group(subject.pk)
    return dataset_group(subject.pk)


def event_record(
    *, subject: TrainingJob | Dataset, kind: str, payload: dict[str, Any]
) -> ProgressEvent:
    """Persist one progress event of a job or dataset and push it to its watchers on commit.

    Raises SubjectGone when the job or dataset no longer exists (deleted while a worker was
    still reporting on it), rather than inserting an event that points at nothing.
    """
    model: type[TrainingJob] | type[Dataset] = type(subject)
    with transaction.atomic():
        # Writers of one subject's events (the web cancelling, the worker reporting epochs)
        # take turns on the subject's row: the lock is held until commit, so the next writer
        # reads Max(seq) only after this event is visible. Locking the row rather than keeping
        # a counter column on it keeps seq derived from the events alone: a counter would be
        # rolled back by any full save() of the row from a stale copy (admin edits, say) and
        # hand out a number twice. NO KEY UPDATE, because inserting rows that point at the
        # subject (trials, events) takes KEY SHARE, which it must not wait for. SQLite has no
        # row locks, and needs none: its IMMEDIATE transactions already serialise writers.
        if not model.objects.select_for_update(no_key=True).filter(pk=subject.pk).exists():
            raise SubjectGone(f"{model.__name__} {subject.pk} no longer exists")
        if isinstance(subject, TrainingJob):
            last = JobEvent.objects.filter(job=subject).aggregate(m=Max("seq"))["m"] or 0
        else:
            last = DatasetEvent.objects.filter(dataset=subject).aggregate(m=Max("seq"))["m"] or 0
        return _insert_and_push(subject=subject, seq=last + 1, kind=kind, payload=payload)


def event_record_first(
    *, subject: TrainingJob | Dataset, kind: str, payload: dict[str, Any]
) -> ProgressEvent:
    """The first event of a job or dataset inserted in the caller's transaction, pushed on
    commit: seq 1, without event_record's lock and count (three round trips and a savepoint
    on every job submission), since no other writer can see the subject before it commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record_first belongs in the transaction that made the subject")
    return _insert_and_push(subject=subject, seq=1, kind=kind, payload=payload)


def _insert_and_push(
    *, subject: TrainingJob | Dataset, seq: int, kind: str, payload: dict[str, Any]
) -> ProgressEvent:
    event: ProgressEvent
    if isinstance(subject, TrainingJob):
        event = JobEvent.objects.create(job=subject, seq=seq, kind=kind, payload=payload)
    else:
        event = DatasetEvent.objects.create(dataset=subject, seq=seq, kind=kind, payload=payload)
    message = {"type": "progress.event", "event": event.as_message()}
    group = event_group(subject)
    transaction.on_commit(lambda: group_push(group, message))
    return event


def group_push(group: str, message: dict[str, Any]) -> None:
    """Send to a channel-layer group now; a failure is logged, never raised: whatever the
    message tells of is already stored, and watchers read it again when they reconnect."""
    try:
        publisher.group_send(group, message)
    except Exception:
        logger.exception("Could not push an event to %s", group)
