"""A job's saved search (the tuner's state, a tar) on shared storage, so a retried job resumes.

Kept through Django's storage API under jobs/<id>/tuner-state.tar, so any worker, on any
machine, reads what the dead one wrote (a shared volume or S3 alike); deleted when the job
reaches a terminal state.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from jobs.models import TrainingJob

logger = logging.getLogger(__name__)


def tuner_state_name(job: TrainingJob) -> str:
    return f"jobs/{job.pk}/tuner-state.tar"


def tuner_state_load(*, job: TrainingJob) -> bytes | None:
    """The state an earlier attempt saved, or None."""
    name = tuner_state_name(job)
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as stored:
        data: bytes = stored.read()
    return data


def tuner_state_save(*, job: TrainingJob, data: bytes) -> None:
    """Replace the job's saved state. Local storage never overwrites a name, so the old file
    goes first; a death in that instant costs the finished trials, not the job."""
    name = tuner_state_name(job)
    default_storage.delete(name)
    default_storage.save(name, ContentFile(data))


def tuner_state_delete(*, job: TrainingJob) -> None:
    """Forget the job's saved state once the surrounding transaction commits."""
    name = tuner_state_name(job)

    def delete() -> None:
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("Could not delete %s", name)

    transaction.on_commit(delete)
