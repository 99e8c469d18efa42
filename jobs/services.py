"""Writes for datasets, training jobs, trials and their progress events."""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from jobs import selectors
from jobs.engine.data import DataError, TaskType, check_target, read_csv, summarize
from jobs.models import Dataset, JobEvent, TrainingJob, Trial

logger = logging.getLogger(__name__)


class ConflictError(Exception):
    """The change would break an object that depends on this one."""


def job_group(job_id: int) -> str:
    return f"job_{job_id}"


def _sha256(fileobj: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def dataset_create(*, owner: User, uploaded_file: UploadedFile, name: str = "") -> Dataset:
    """Validate a CSV upload, store it under a server-generated name, and record its summary."""
    if uploaded_file.size is not None and uploaded_file.size > settings.DATASET_MAX_BYTES:
        raise DataError(
            f"The file is {uploaded_file.size} bytes; the limit is {settings.DATASET_MAX_BYTES}."
        )
    fileobj: IO[bytes] = uploaded_file.file  # type: ignore[assignment]
    fileobj.seek(0)
    sha256 = _sha256(fileobj)
    frame = read_csv(fileobj)
    fileobj.seek(0)
    summary = summarize(frame)
    display_name = (name or Path(uploaded_file.name or "dataset").stem or "dataset")[:200]
    dataset = Dataset(
        owner=owner,
        name=display_name,
        original_filename=(uploaded_file.name or "")[:255],
        sha256=sha256,
        size_bytes=uploaded_file.size or 0,
        n_rows=summary.n_rows,
        n_columns=len(summary.columns),
        columns=[{"name": c.name, "type": c.type} for c in summary.columns],
    )
    dataset.file.save(f"{uuid.uuid4().hex}.csv", File(fileobj), save=False)
    try:
        with transaction.atomic():
            dataset.save()
    except BaseException:
        # No orphan file when the row could not be written.
        dataset.file.delete(save=False)
        raise
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete a dataset and its file, unless a job still refers to it."""
    if dataset.jobs.exists():
        raise ConflictError(
            f"Dataset '{dataset.name}' is used by {dataset.jobs.count()} training job(s) and "
            "cannot be deleted."
        )
    with transaction.atomic():
        stored = dataset.file.name
        dataset.delete()
        transaction.on_commit(lambda: dataset.file.storage.delete(stored))


def job_create(
    *,
    owner: User,
    dataset: Dataset,
    target: str,
    task_type: TaskType | None = None,
    max_trials: int = 5,
    max_epochs: int = 10,
) -> TrainingJob:
    """Check the target against the data, record the job, and queue it once committed."""
    from jobs import tasks

    if dataset.status != Dataset.Status.READY:
        raise DataError(f"Dataset '{dataset.name}' is not ready.")
    frame = selectors.dataset_frame(dataset=dataset)
    chosen = check_target(frame, target, task_type)
    with transaction.atomic():
        job = TrainingJob.objects.create(
            owner=owner,
            dataset=dataset,
            dataset_sha256=dataset.sha256,
            target=target,
            task_type=chosen,
            max_trials=max_trials,
            max_epochs=max_epochs,
        )
        job_event_record(job=job, kind="job_status", payload={"status": job.status})
        transaction.on_commit(lambda: tasks.run_training_job.delay(job.pk))
    return job


def job_event_record(*, job: TrainingJob, kind: str, payload: dict[str, Any]) -> JobEvent:
    """Persist one progress event and push it to the job's watchers after commit."""
    with transaction.atomic():
        last = JobEvent.objects.filter(job=job).aggregate(m=Max("seq"))["m"] or 0
        event = JobEvent.objects.create(job=job, seq=last + 1, kind=kind, payload=payload)
        message = {"type": "job.event", "event": event.as_message()}
        transaction.on_commit(lambda: _push(job.pk, message))
    return event


def _push(job_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(job_group(job_id), message)
    except Exception:
        # The event is already stored; a watcher that missed the push replays it on reconnect.
        logger.exception("Could not push event of job %s", job_id)


def job_claim(*, job_id: int, worker: str) -> TrainingJob | None:
    """Move a queued job to RUNNING; None when another delivery already took it."""
    with transaction.atomic():
        claimed = TrainingJob.objects.filter(pk=job_id, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.RUNNING, worker=worker, started_at=timezone.now()
        )
        if not claimed:
            return None
        job = TrainingJob.objects.get(pk=job_id)
        job_event_record(job=job, kind="job_status", payload={"status": job.status})
    return job


class _JobReporter:
    """Turns the engine's callbacks into Trial rows and events."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job

    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None:
        Trial.objects.update_or_create(
            job=self.job,
            number=number,
            defaults={"hyperparameters": hyperparameters, "status": Trial.Status.RUNNING},
        )
        job_event_record(
            job=self.job,
            kind="trial_started",
            payload={"trial": number, "hyperparameters": hyperparameters},
        )

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        with transaction.atomic():
            trial = Trial.objects.select_for_update().get(job=self.job, number=number)
            trial.epochs = [*trial.epochs, {"epoch": epoch, **metrics}]
            trial.save(update_fields=["epochs"])
        job_event_record(
            job=self.job,
            kind="epoch_end",
            payload={"trial": number, "epoch": epoch, "metrics": metrics},
        )

    def trial_finished(
        self, number: int, status: str, score: float | None, hyperparameters: dict[str, Any]
    ) -> None:
        final = Trial.Status.COMPLETED if status == "COMPLETED" else Trial.Status.FAILED
        Trial.objects.filter(job=self.job, number=number).update(
            status=final, score=score, finished_at=timezone.now()
        )
        job_event_record(
            job=self.job,
            kind="trial_finished",
            payload={
                "trial": number,
                "status": final,
                "score": score,
                "hyperparameters": hyperparameters,
            },
        )


def job_run(*, job: TrainingJob) -> TrainingJob:
    """Run a claimed job's search, register the best model, and record how it ended."""
    from jobs.engine.search import SearchConfig, run_search
    from models_registry.services import model_version_register

    try:
        frame = selectors.dataset_frame(dataset=job.dataset)
        config = SearchConfig(
            target=job.target,
            task_type=job.task_type,  # type: ignore[arg-type]
            max_trials=job.max_trials,
            max_epochs=job.max_epochs,
            seed=job.seed,
        )
        with tempfile.TemporaryDirectory(prefix=f"job{job.pk}-") as workdir:
            result = run_search(frame, config, workdir=Path(workdir), reporter=_JobReporter(job))
            model_path = Path(workdir) / "model.keras"
            result.model.save(model_path)
            with transaction.atomic():
                job.best_trial = result.best_trial
                job.best_hyperparameters = result.hyperparameters
                job.test_metrics = result.test_metrics
                job.split_sizes = {
                    "train": result.n_train,
                    "validation": result.n_validation,
                    "test": result.n_test,
                }
                version = model_version_register(job=job, model_path=model_path)
                return _job_finish(
                    job=job, status=TrainingJob.Status.SUCCEEDED, version_id=version.pk
                )
    except DataError as exc:
        return _job_finish(job=job, status=TrainingJob.Status.FAILED, error=str(exc))
    except Exception as exc:
        logger.exception("Job %s failed", job.pk)
        return _job_finish(
            job=job, status=TrainingJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )


def _job_finish(
    *, job: TrainingJob, status: str, error: str = "", version_id: int | None = None
) -> TrainingJob:
    with transaction.atomic():
        job.status = status
        job.error = error
        job.finished_at = timezone.now()
        job.save()
        payload: dict[str, Any] = {"status": status}
        if error:
            payload["error"] = error
        job_event_record(job=job, kind="job_status", payload=payload)
        if version_id is not None:
            payload = {**payload, "model_version": version_id, "test_metrics": job.test_metrics}
        job_event_record(job=job, kind="job_finished", payload=payload)
    return job
