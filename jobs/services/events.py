"""Progress events: stored with a sequence number, then pushed to watchers after commit."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Max

from jobs.models import Dataset, DatasetEvent, JobEvent, ProgressEvent, TrainingJob

logger = logging.getLogger(__name__)


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
    """Persist one progress event of a job or dataset and push it to its watchers on commit."""
    with transaction.atomic():
        event: ProgressEvent
        if isinstance(subject, TrainingJob):
            last = JobEvent.objects.filter(job=subject).aggregate(m=Max("seq"))["m"] or 0
            event = JobEvent.objects.create(job=subject, seq=last + 1, kind=kind, payload=payload)
        else:
            last = DatasetEvent.objects.filter(dataset=subject).aggregate(m=Max("seq"))["m"] or 0
            event = DatasetEvent.objects.create(
                dataset=subject, seq=last + 1, kind=kind, payload=payload
            )
        message = {"type": "progress.event", "event": event.as_message()}
        group = event_group(subject)
        transaction.on_commit(lambda: _push(group, message))
    return event


def _push(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # The event is already stored; a watcher that missed the push replays it on reconnect.
        logger.exception("Could not push an event to %s", group)
