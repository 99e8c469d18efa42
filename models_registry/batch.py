"""Writes for batch predictions that the web process makes: create, claim, cancel.

Scoring itself (`batch_prediction_run`) is in models_registry.batch_run, which loads Keras:
the web process, which only queues and cancels, never imports it.
"""

from __future__ import annotations

from functools import partial
from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from console.celery import app as celery_app
from jobs.models import Dataset
from jobs.services.claims import claim_fenced
from models_registry import selectors
from models_registry.lifecycle import Conflict, require
from models_registry.models import BatchPrediction, Deployment, ModelVersion

AnyUser = selectors.AnyUser

# Models whose instances are not one table row each: a forecast reads a window of history,
# an image model an image.
ROW_TASKS_ONLY = ("forecasting",)


class BatchRefused(ValueError):
    """The request cannot be scored as asked; `field` names the request field at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def batch_prediction_create(
    *,
    owner: AnyUser,
    dataset: Dataset,
    model_version: ModelVersion | None = None,
    deployment: Deployment | None = None,
) -> BatchPrediction:
    """Queue the scoring of every row of `dataset` by a version, or by the version a
    deployment serves now (kept: moving the deployment later does not change this run).

    The caller owns the dataset (the view looks it up among theirs) and may read the model."""
    if deployment is not None:
        model_version = deployment.model_version
    if model_version is None:
        raise BatchRefused("Name a model version or a deployment.", field="version")
    require(actor=owner, model=model_version.model, right=selectors.READ, doing="score data")
    if model_version.archived_at is not None:
        raise Conflict(f"{model_version} is archived; restore it before scoring with it.")
    if model_version.task_type in ROW_TASKS_ONLY:
        raise BatchRefused(
            f"{model_version} is a {model_version.task_type} model; batch predictions score "
            "one table row at a time.",
            field="version",
        )
    if dataset.kind == Dataset.Kind.IMAGE:
        raise BatchRefused(
            f"Dataset '{dataset.name}' holds images; batch predictions score tables.",
            field="dataset",
        )
    if dataset.status != Dataset.Status.READY:
        raise BatchRefused(
            f"Dataset '{dataset.name}' is {dataset.status}; it can be scored once it is READY.",
            field="dataset",
        )
    with transaction.atomic():
        prediction = BatchPrediction.objects.create(
            owner=cast(User, owner),
            model_version=model_version,
            deployment=deployment,
            dataset=dataset,
        )
        transaction.on_commit(partial(_enqueue, prediction.pk))
    return prediction


# By name: the task module imports the scoring code (Keras), which the web process must not.
# Its queue comes from CELERY_TASK_ROUTES.
RUN_TASK = "models_registry.tasks.run_batch_prediction"


def _enqueue(prediction_id: int) -> None:
    celery_app.send_task(RUN_TASK, args=[prediction_id])


def batch_prediction_claim(*, prediction_id: int, worker: str) -> BatchPrediction | None:
    """Move a queued batch prediction to RUNNING under the next attempt number; None when
    another delivery already holds it, or it was cancelled. A RUNNING one whose heartbeat
    went stale lost its worker; a redelivered message takes it over, within MAX_ATTEMPTS."""
    if not claim_fenced(
        BatchPrediction,
        pk=prediction_id,
        waiting=BatchPrediction.Status.QUEUED,
        running=BatchPrediction.Status.RUNNING,
        stale_seconds=settings.JOB_HEARTBEAT_STALE_SECONDS,
        max_attempts=BatchPrediction.MAX_ATTEMPTS,
        worker=worker,
        started_at=timezone.now(),
        n_rows=0,
    ):
        return None
    return BatchPrediction.objects.select_related("model_version", "dataset").get(pk=prediction_id)


def batch_prediction_held(prediction: BatchPrediction) -> Q:
    """The row while the attempt `prediction.attempts` still holds it (the fence)."""
    return Q(
        pk=prediction.pk,
        attempts=prediction.attempts,
        status=BatchPrediction.Status.RUNNING,
    )


def batch_prediction_cancel(*, prediction: BatchPrediction) -> BatchPrediction:
    """Cancel a queued or running batch prediction at once. A running worker finds its claim
    gone at its next chunk and stops without storing anything."""
    if not BatchPrediction.objects.filter(
        pk=prediction.pk,
        status__in=[BatchPrediction.Status.QUEUED, BatchPrediction.Status.RUNNING],
    ).update(status=BatchPrediction.Status.CANCELLED, finished_at=timezone.now()):
        prediction.refresh_from_db()
        raise Conflict(
            f"Batch prediction {prediction.pk} is {prediction.status}; only a queued or "
            "running one can be cancelled."
        )
    prediction.refresh_from_db()
    return prediction
