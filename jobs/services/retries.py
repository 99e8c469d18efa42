"""Retrying a job: a new job with the settings of one that failed or was cancelled.

Apart from training.py (job_create, job_run and the worker's side) because a retry is only a
job_create with settings read from another job; the API action and the admin action both call
job_retry, so the rule for what may be retried lives here once.
"""

from __future__ import annotations

from django.contrib.auth.models import User

from jobs.engine.data import DataError
from jobs.models import TrainingJob
from jobs.services.datasets import ConflictError
from jobs.services.training import job_create

RETRYABLE = (TrainingJob.Status.FAILED, TrainingJob.Status.CANCELLED)


def job_retry(*, actor: User, job: TrainingJob) -> TrainingJob:
    """Queue a new job with a failed or cancelled job's settings; its `retry_of` names `job`.

    Everything the request chose is kept: target, task type, caps, tuner, queue, the task's
    options and the seed (so the retry draws the same trials; a new search is a new job).
    A budget preset is kept by name, so the retry gets the preset's seconds as they are now.
    The job is checked against its dataset again, as job_create checks any job.

    ConflictError, with a sentence to show, when the job is not its actor's, is not failed or
    cancelled, or its settings no longer pass the checks.
    """
    if job.owner_id != actor.pk:
        # The API and the admin only offer the actor's own jobs; this guards other callers.
        raise ConflictError(f"Job {job.pk} is not yours; only its owner can retry it.")
    if job.status not in RETRYABLE:
        raise ConflictError(
            f"Job {job.pk} is {job.status}; only a failed or cancelled job is retried."
        )
    options = job.task_options or {}
    try:
        return job_create(
            owner=job.owner,
            dataset=job.dataset,
            target=job.target,
            task_type=job.task_type,  # type: ignore[arg-type]
            budget=job.budget or None,
            # Jobs from before budgets have neither: they get the default preset.
            max_seconds=None if job.budget else job.max_seconds,
            max_trials=job.max_trials,
            max_epochs=job.max_epochs,
            seed=job.seed,
            tuner=job.tuner,
            queue=job.queue,
            priority=job.priority,
            horizon=options.get("horizon"),
            lookback=options.get("lookback"),
            label_delimiter=options.get("label_delimiter"),
            parallel_trials=job.parallel_trials,
            retry_of=job,
            actor=actor,
        )
    except DataError as exc:
        # The request is fine; the old job's settings no longer fit (a check that changed).
        raise ConflictError(f"Job {job.pk} cannot be retried as it was: {exc}") from exc
