"""Writes for profiling a dataset: claim it, profile its file, record the outcome; and take
over or give up on a profile whose worker died.

A profile is claimed like a training job: PENDING -> PROFILING by a conditional update that
counts the attempt, with a heartbeat the profiler beats as it reads. Every later write of the
attempt (beats, the outcome) is conditional on that attempt still holding the claim, so a
profiler whose dataset was deleted, or taken over after its worker stalled, stops without
writing anything; nothing can bring a deleted dataset back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from jobs import selectors
from jobs.engine.data import DataError
from jobs.engine.io.formats import iter_batches
from jobs.engine.io.images import inspect_image_zip
from jobs.engine.io.profile import profile_batches
from jobs.models import Dataset
from jobs.services.claims import claim_fenced, stale
from jobs.services.events import SubjectGone, event_record
from jobs.services.sandbox import run_limited

logger = logging.getLogger(__name__)

# The profiler beats at most this often (it is asked at every batch, or every image).
_BEAT_EVERY_SECONDS = 1.0


class _ClaimLost(BaseException):
    """This attempt no longer holds the dataset: deleted, or taken over by another attempt.

    A BaseException so that the readers' own `except Exception` (an unreadable image is
    listed, not fatal) let it through to dataset_profile, as KeyboardInterrupt would.
    """


def _dataset_enqueue(dataset_id: int) -> None:
    from jobs import tasks

    # Routed to the short queue by CELERY_TASK_ROUTES.
    tasks.profile_dataset.delay(dataset_id)


def dataset_enqueue_on_commit(*, dataset: Dataset) -> None:
    """Send the dataset to a profiling worker once the current transaction commits."""
    pk = dataset.pk
    transaction.on_commit(lambda: _dataset_enqueue(pk))


def datasets_requeue_waiting() -> list[int]:
    """Send every PENDING dataset's profiling message again (after the broker lost its data;
    see jobs/services/reconcile.py); a second delivery of one still queued claims nothing."""
    waiting = list(
        Dataset.objects.filter(status=Dataset.Status.PENDING).values_list("pk", flat=True)
    )
    for pk in waiting:
        _dataset_enqueue(pk)
    return waiting


def dataset_claim_profiling(*, dataset_id: int) -> Dataset | None:
    """Move a PENDING dataset to PROFILING; None when another delivery already took it.

    A PROFILING dataset whose heartbeat went stale lost its worker (killed mid-profile): a
    redelivered message takes it over as the next attempt, within MAX_PROFILE_ATTEMPTS.
    """
    with transaction.atomic():
        if not claim_fenced(
            Dataset,
            pk=dataset_id,
            waiting=Dataset.Status.PENDING,
            running=Dataset.Status.PROFILING,
            stale_seconds=settings.DATASET_HEARTBEAT_STALE_SECONDS,
            max_attempts=Dataset.MAX_PROFILE_ATTEMPTS,
        ):
            return None
        dataset = Dataset.objects.get(pk=dataset_id)
        payload = {"status": dataset.status, "attempt": dataset.attempts}
        event_record(subject=dataset, kind="dataset_status", payload=payload)
    return dataset


def _held(dataset: Dataset, attempt: int) -> QuerySet[Dataset]:
    """The dataset, if this attempt still holds its claim."""
    return Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.PROFILING, attempts=attempt)


def dataset_profile(*, dataset: Dataset) -> Dataset | None:
    """Profile a claimed dataset's whole file, streaming, and mark it READY or FAILED.

    None when the attempt lost its claim on the way (the dataset was deleted, or taken over
    by another attempt): it then stops and writes nothing more.
    """
    attempt = dataset.attempts
    last_sent = [-1.0]
    last_beat = [time.monotonic()]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        send = fraction - last_sent[0] >= 0.05 or fraction >= 1.0
        if not send and now - last_beat[0] < _BEAT_EVERY_SECONDS:
            return
        try:
            with transaction.atomic():
                # The beat doubles as the fence: an event is written only while this attempt
                # holds the claim, in the same transaction as the check.
                if not _held(dataset, attempt).update(heartbeat_at=timezone.now()):
                    raise _ClaimLost
                last_beat[0] = now
                if send:
                    last_sent[0] = fraction
                    payload = {"fraction": round(fraction, 3)}
                    event_record(subject=dataset, kind="profile_progress", payload=payload)
        except SubjectGone as exc:
            raise _ClaimLost from exc

    try:
        # The file is untrusted: read in a child with limits (jobs/services/sandbox.py).
        profile = run_limited(
            lambda report: _profile(dataset, report),
            progress,
            memory_bytes=settings.PROFILE_MEMORY_BYTES,
            seconds=settings.PROFILE_MAX_SECONDS,
        )
    except _ClaimLost:
        logger.info("Dataset %s, attempt %s: deleted or taken over; stopped", dataset.pk, attempt)
        return None
    except DataError as exc:
        return _dataset_finish(
            dataset=dataset, attempt=attempt, status=Dataset.Status.FAILED, error=str(exc)
        )
    except Exception as exc:
        logger.exception("Profiling dataset %s failed", dataset.pk)
        error = f"{type(exc).__name__}: {exc}"
        return _dataset_finish(
            dataset=dataset, attempt=attempt, status=Dataset.Status.FAILED, error=error
        )
    return _dataset_finish(
        dataset=dataset, attempt=attempt, status=Dataset.Status.READY, profile=profile
    )


def _profile(dataset: Dataset, progress: Callable[[float], None]) -> dict[str, Any]:
    if dataset.kind == Dataset.Kind.IMAGE:
        with selectors.dataset_local_path(dataset=dataset) as path:
            return _profile_images(path, progress)
    with selectors.dataset_table(dataset=dataset) as (path, source):
        profile = profile_batches(
            iter_batches(path, source),
            total_bytes=dataset.size_bytes,
            progress=progress,
            overrides=dataset.column_types,
            target=None,
        )
        _check_kind(dataset, profile)
    return profile


def _profile_images(path: Path, progress: Callable[[float], None]) -> dict[str, Any]:
    summary = inspect_image_zip(path, progress=lambda done, total: progress(done / max(total, 1)))
    return {"n_rows": summary.n_images, "n_columns": 2, "images": summary.to_dict()}


def _check_kind(dataset: Dataset, profile: dict[str, Any]) -> None:
    by_name = {c["name"]: c for c in profile.get("columns", [])}
    if dataset.kind == Dataset.Kind.TEXT:
        column = by_name[dataset.text_column]
        if column["type"] not in ("text", "categorical"):
            raise DataError(
                f"Column '{dataset.text_column}' holds {column['type']} values, not text."
            )
    if dataset.kind == Dataset.Kind.TIMESERIES:
        column = by_name[dataset.timestamp_column]
        if column["type"] != "datetime":
            raise DataError(
                f"Column '{dataset.timestamp_column}' holds {column['type']} values, not "
                "timestamps."
            )


def _dataset_finish(
    *,
    dataset: Dataset,
    attempt: int,
    status: str,
    error: str = "",
    profile: dict[str, Any] | None = None,
) -> Dataset | None:
    changes: dict[str, Any] = {"status": status, "error": error, "profiled_at": timezone.now()}
    if profile is not None:
        changes.update(profile=profile, n_rows=profile.get("n_rows"))
        changes["n_columns"] = profile.get("n_columns")
        if "columns" in profile:
            changes["columns"] = [
                {"name": c["name"], "type": c["type"]} for c in profile["columns"]
            ]
    ids = (dataset.pk, attempt)
    with transaction.atomic():
        # Not save(): on a row deleted meanwhile it would insert it again, file gone.
        if not _held(dataset, attempt).update(**changes):
            logger.info("Dataset %s, attempt %s: deleted or taken over; not written", *ids)
            return None
        dataset.refresh_from_db()
        payload: dict[str, Any] = {"status": status}
        if error:
            payload["error"] = error
        event_record(subject=dataset, kind="dataset_status", payload=payload)
    return dataset


def datasets_reap() -> list[int]:
    """Requeue PROFILING datasets whose worker stopped beating, or fail them after the last
    attempt. Covers the message that was acknowledged or lost with its worker; safe to run
    anywhere and often: each change is conditional on the heartbeat it saw.
    """
    touched = []
    for dataset in Dataset.objects.filter(
        stale(settings.DATASET_HEARTBEAT_STALE_SECONDS), status=Dataset.Status.PROFILING
    ):
        seen = Dataset.objects.filter(
            pk=dataset.pk, status=Dataset.Status.PROFILING, heartbeat_at=dataset.heartbeat_at
        )
        with transaction.atomic():
            if dataset.attempts >= Dataset.MAX_PROFILE_ATTEMPTS:
                error = (
                    f"Profiling was interrupted {dataset.attempts} times (its worker was lost, "
                    "perhaps killed for the memory this file takes); giving up."
                )
                if seen.update(
                    status=Dataset.Status.FAILED, error=error, profiled_at=timezone.now()
                ):
                    payload = {"status": Dataset.Status.FAILED, "error": error}
                    event_record(subject=dataset, kind="dataset_status", payload=payload)
                    touched.append(dataset.pk)
                continue
            if seen.update(status=Dataset.Status.PENDING):
                payload = {"status": Dataset.Status.PENDING, "reason": "worker lost; retrying"}
                event_record(subject=dataset, kind="dataset_status", payload=payload)
                dataset_enqueue_on_commit(dataset=dataset)
                touched.append(dataset.pk)
    return touched
