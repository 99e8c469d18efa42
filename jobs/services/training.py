"""Writes for training jobs and their trials."""

from __future__ import annotations

import logging
import secrets
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from console.audit import Action, AnyUser, audit_object
from console.errors import is_out_of_space
from jobs import selectors
from jobs.engine.checks import OptionError, TaskRequest, check_task
from jobs.engine.config import (
    BUDGET_PRESETS,
    DEFAULT_BUDGET_SECONDS,
    default_tuner,
)
from jobs.engine.data import DataError, TaskType
from jobs.engine.facts import FrameFacts, ProfileFacts
from jobs.engine.io.images import check_image_target
from jobs.models import Dataset, TrainingJob
from jobs.services.claims import claim_fenced, stale
from jobs.services.datasets import ConflictError
from jobs.services.events import event_record, event_record_first
from jobs.services.queueing import job_enqueue, job_hold, jobs_release_waiting, owner_at_limit
from jobs.services.reporter import ClaimLost, JobReporter, job_fenced, job_hand_back, job_held
from jobs.services.trial_pool import (
    MAX_PARALLEL_TRIALS,
    JobTrialPool,
    search_config,
    trial_runners_dispatch,
    trial_weights_delete,
)
from jobs.services.tuner_state import tuner_state_delete

logger = logging.getLogger(__name__)

# A full disk is the operator's to fix, not a bug: said plainly, without a traceback.
NO_SPACE_FOR_JOB = (
    "No space left on the storage volume: the job could not write its files (the model, or "
    "its trials' checkpoints), and kept nothing partial. Free space, then retry the job."
)

# The preset a job gets when it names no budget: the engine's default, by name.
DEFAULT_BUDGET = next(n for n, s in BUDGET_PRESETS.items() if s == DEFAULT_BUDGET_SECONDS)


def job_create(
    *,
    owner: User,
    dataset: Dataset,
    target: str,
    task_type: TaskType | None = None,
    budget: str | None = None,
    max_seconds: int | None = None,
    max_trials: int | None = None,
    max_epochs: int | None = None,
    seed: int | None = None,
    tuner: str | None = None,
    queue: str = TrainingJob.Queue.CPU,
    priority: str = TrainingJob.Priority.NORMAL,
    horizon: int | None = None,
    lookback: int | None = None,
    label_delimiter: str | None = None,
    parallel_trials: int = 1,
    retry_of: TrainingJob | None = None,
    actor: AnyUser | None = None,
) -> TrainingJob:
    """Check the target against the data, record the job, and queue it once committed.

    The time budget is a preset name or seconds (neither: the standard preset); trials and
    epochs are optional caps within it. The seed is drawn at random unless given. retry_of:
    the job this one retries (job_retry). The audit trail names `actor` as its creator, the
    owner when not given. parallel_trials: how many of its trials run at once, each in a
    worker process of its own (jobs/services/trial_pool.py).
    """
    if dataset.status != Dataset.Status.READY:
        raise DataError(f"Dataset '{dataset.name}' is not ready.")
    budget, max_seconds = _budget(budget, max_seconds)
    _check_parallel(parallel_trials, tuner)
    task_options: dict[str, Any] = {}
    if dataset.kind == Dataset.Kind.IMAGE:
        # The archive implies the target: "label" for classes, "value" for numbers.
        target, chosen = check_image_target(dataset.profile.get("images", {}), target, task_type)
    else:
        # The stored profile, not the file: a web request must not read a whole dataset. What
        # the profile cannot tell, the worker checks on the frame by the same rules (job_run).
        chosen, task_options = check_task(
            ProfileFacts(dataset.profile),
            _task_request(dataset, target, task_type, horizon, lookback, label_delimiter),
        )
    with transaction.atomic():
        job = TrainingJob.objects.create(
            owner=owner,
            dataset=dataset,
            dataset_sha256=dataset.sha256,
            target=target,
            task_type=chosen,
            max_trials=max_trials,
            max_epochs=max_epochs,
            seed=secrets.randbelow(TrainingJob.SEED_MAX + 1) if seed is None else seed,
            # None: the benchmarked default for this task on this kind of data.
            tuner=tuner or default_tuner(chosen, dataset.kind),
            max_seconds=max_seconds,
            budget=budget,
            queue=queue,
            priority=priority,
            task_options=task_options,
            parallel_trials=parallel_trials,
            retry_of=retry_of,
        )
        event_record_first(subject=job, kind="job_status", payload={"status": job.status})
        audit_object(
            actor=actor if actor is not None else owner,
            action=Action.JOB_CREATED,
            obj=job,
            to_value=f"{job.task_type} on dataset {dataset.pk}, target {target}",
        )
        transaction.on_commit(partial(job_enqueue, job))
    return job


def _task_request(
    dataset: Dataset,
    target: str,
    task_type: TaskType | None,
    horizon: int | None,
    lookback: int | None,
    label_delimiter: str | None,
) -> TaskRequest:
    return TaskRequest(
        target=target,
        task_type=task_type,
        dataset_kind=dataset.kind,
        text_column=dataset.text_column if dataset.kind == Dataset.Kind.TEXT else "",
        timestamp_column=dataset.timestamp_column,
        horizon=horizon,
        lookback=lookback,
        label_delimiter=label_delimiter,
    )


def _check_parallel(parallel_trials: int, tuner: str | None) -> None:
    if not 1 <= parallel_trials <= MAX_PARALLEL_TRIALS:
        raise OptionError(
            f"'parallel_trials' is {parallel_trials}; give 1 to {MAX_PARALLEL_TRIALS}.",
            field="parallel_trials",
        )
    # Hyperband trains a bracket's trials from each other's weights, in rounds: its trials
    # are not independent tickets.
    if parallel_trials > 1 and tuner == TrainingJob.Tuner.HYPERBAND:
        raise OptionError(
            "Parallel trials work with the random and bayesian tuners; choose one of them, "
            "or set 'parallel_trials' to 1 for hyperband.",
            field="parallel_trials",
        )


def _budget(budget: str | None, max_seconds: int | None) -> tuple[str, int]:
    """The preset's name ("" when seconds were given) and the seconds the search may take."""
    if budget and max_seconds is not None:
        raise OptionError(
            f"Give either 'budget' (a preset: {', '.join(BUDGET_PRESETS)}) or 'max_seconds', "
            "not both.",
            field="budget",
        )
    if max_seconds is not None:
        return "", max_seconds
    if budget and budget not in BUDGET_PRESETS:
        raise OptionError(
            f"'{budget}' is not a budget; choose {', '.join(BUDGET_PRESETS)} or give "
            "'max_seconds'.",
            field="budget",
        )
    name = budget or DEFAULT_BUDGET
    return name, BUDGET_PRESETS[name]


def job_cancel(*, job: TrainingJob, actor: AnyUser | None, keep_best: bool = False) -> TrainingJob:
    """Cancel a job: a queued one at once, a running one at its next batch boundary.

    keep_best: the running search stops as when its time budget runs out, and its best
    finished trial is registered (the job SUCCEEDS, `stopped` "stopped_by_user"). A queued
    job has no trial to keep: it is cancelled either way.
    """
    with transaction.atomic():
        if TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.QUEUED).update(
            status=TrainingJob.Status.CANCELLED,
            cancel_requested=True,
            keep_best=keep_best,
            finished_at=timezone.now(),
        ):
            job.refresh_from_db()
            payload = {"status": job.status}
            event_record(subject=job, kind="job_status", payload=payload)
            event_record(subject=job, kind="job_finished", payload=payload)
            _audit_cancel(actor, job, TrainingJob.Status.QUEUED)
            # A job requeued after losing its worker may have a saved search.
            tuner_state_delete(job=job)
            return job
        # A plain cancel after a keep-best one does not take the keeping back: the worker may
        # already be registering the model.
        changes: dict[str, Any] = {"cancel_requested": True}
        if keep_best:
            changes["keep_best"] = True
        if not TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(
            **changes
        ):
            job.refresh_from_db()
            raise ConflictError(
                f"Job {job.pk} is {job.status}; only a queued or running job can be cancelled."
            )
        job.refresh_from_db()
        event_record(subject=job, kind="cancel_requested", payload={"keep_best": job.keep_best})
        _audit_cancel(actor, job, TrainingJob.Status.RUNNING)
    return job


def _audit_cancel(actor: AnyUser | None, job: TrainingJob, was: str) -> None:
    # A running job stops at its next batch; the event records the request, and whether the
    # best trial is kept (the job then SUCCEEDS rather than ending CANCELLED).
    asked = "cancel, keep best" if job.keep_best else "cancel"
    audit_object(actor=actor, action=Action.JOB_CANCELLED, obj=job, from_value=was, to_value=asked)


def job_claim(*, job_id: int, worker: str) -> TrainingJob | None:
    """Move a queued job to RUNNING; None when another delivery already took it, or when its
    owner already runs as many jobs as allowed (the job then waits, see jobs/services/queueing.py).

    A RUNNING job whose heartbeat went stale lost its worker (killed, say); a redelivered
    message may take it over, within the attempt limit.
    """
    with transaction.atomic():
        owner_id = TrainingJob.objects.filter(pk=job_id).values_list("owner_id", flat=True).first()
        if owner_id is None:
            return None
        if owner_at_limit(job_id=job_id, owner_id=owner_id):
            job_hold(job_id=job_id, owner_id=owner_id)
            return None
        if not claim_fenced(
            TrainingJob,
            pk=job_id,
            waiting=TrainingJob.Status.QUEUED,
            running=TrainingJob.Status.RUNNING,
            stale_seconds=settings.JOB_HEARTBEAT_STALE_SECONDS,
            # Attempts handed back by a stopping worker are not failures: not counted.
            max_attempts=F("handoffs") + TrainingJob.MAX_ATTEMPTS,
            worker=worker,
            started_at=timezone.now(),
            limited_at=None,
        ):
            return None
        job = TrainingJob.objects.get(pk=job_id)
        payload = {"status": job.status, "attempt": job.attempts}
        event_record(subject=job, kind="job_status", payload=payload)
    return job


def jobs_reap() -> list[int]:
    """Requeue RUNNING jobs whose worker stopped beating, or fail them past the attempt limit.

    Covers what redelivery cannot: a message lost with the broker. Safe to run anywhere and
    often: each change is a conditional update.
    """
    touched = []
    for job in TrainingJob.objects.filter(
        stale(settings.JOB_HEARTBEAT_STALE_SECONDS), status=TrainingJob.Status.RUNNING
    ):
        with transaction.atomic():
            lost = job.attempts - job.handoffs
            if lost >= TrainingJob.MAX_ATTEMPTS:
                if TrainingJob.objects.filter(pk=job.pk, status=job.status).update(
                    status=TrainingJob.Status.FAILED,
                    finished_at=timezone.now(),
                    error=f"The worker was lost {lost} times; giving up.",
                ):
                    job.refresh_from_db()
                    payload = {"status": job.status, "error": job.error}
                    event_record(subject=job, kind="job_status", payload=payload)
                    event_record(subject=job, kind="job_finished", payload=payload)
                    audit_object(
                        actor=None,
                        action=Action.JOB_FAILED,
                        obj=job,
                        from_value=TrainingJob.Status.RUNNING,
                        to_value=job.error,
                    )
                    tuner_state_delete(job=job)
                    trial_weights_delete(job=job)
                    _release_on_commit(job)
                    touched.append(job.pk)
                continue
            if TrainingJob.objects.filter(
                pk=job.pk, status=TrainingJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
            ).update(status=TrainingJob.Status.QUEUED):
                event_record(
                    subject=job,
                    kind="job_status",
                    payload={"status": "QUEUED", "reason": "worker lost; retrying"},
                )
                transaction.on_commit(partial(job_enqueue, job))
                touched.append(job.pk)
    return touched


def _release_on_commit(job: TrainingJob) -> None:
    # The job's slot frees when its end commits: the owner's next waiting job starts then.
    # Robust: a broker hiccup here must not fail the finished job's task; the reaper's next
    # pass sends what this could not.
    transaction.on_commit(partial(jobs_release_waiting, owner_id=job.owner_id), robust=True)


def jobs_requeue_waiting() -> list[int]:
    """Send every QUEUED job's message again (after the broker lost its data; see
    jobs/services/reconcile.py). A job that still has its message is delivered twice and
    claimed once: the second delivery finds nothing to claim."""
    waiting = list(TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED))
    for job in waiting:
        job_enqueue(job)
    return [job.pk for job in waiting]


def _checked_frame(job: TrainingJob) -> pd.DataFrame:
    """The job's table, checked again by the rules job_create applied to the profile.

    Now on every row: what the profile could not tell (a class with a single row, a
    multi-label column's labels, rows with a timestamp) fails the job here with the message
    job_create would have given. A detected label delimiter is recorded on the job.
    """
    frame = selectors.dataset_frame(dataset=job.dataset)
    options = job.task_options
    _, checked = check_task(
        FrameFacts(frame),
        _task_request(
            job.dataset,
            job.target,
            job.task_type,  # type: ignore[arg-type]
            options.get("horizon"),
            options.get("lookback"),
            options.get("label_delimiter"),
        ),
    )
    if checked != options:
        job.task_options = checked
        if not job_held(job).update(task_options=checked):
            raise ClaimLost(f"Job {job.pk} is no longer held by attempt {job.attempts}")
    return frame


def _search(
    job: TrainingJob,
    config: Any,
    workdir: Path,
    frame: pd.DataFrame | None,
    reporter: JobReporter,
) -> Any:
    """Image archives go to the CNN search, tables to run_search (which routes the rest).

    A parallel job's trials also run in its runner tasks (jobs/services/trial_pool.py)."""
    from jobs.engine.search import run_image_search, run_search

    pool = None
    if job.parallel_trials > 1:
        pool = JobTrialPool(job)
        trial_runners_dispatch(job=job)
    if frame is None:
        with selectors.dataset_local_path(dataset=job.dataset) as archive:
            return run_image_search(archive, config, workdir=workdir, reporter=reporter, pool=pool)
    return run_search(frame, config, workdir=workdir, reporter=reporter, pool=pool)


def job_run(*, job: TrainingJob) -> TrainingJob:
    """Run a claimed job's search, register the best model, and record how it ended.

    Every write is fenced by the claim's attempt number (jobs/services/reporter.py): an
    attempt that lost its job (frozen past the stale threshold, then requeued) stops and
    leaves the job to the attempt that holds it.
    """
    try:
        return _job_run(job)
    except ClaimLost:
        logger.warning(
            "Job %s: attempt %s lost its claim; its results are discarded", job.pk, job.attempts
        )
        return job


def _job_run(job: TrainingJob) -> TrainingJob:
    from jobs.engine.search import SearchInterrupted, SearchStopped
    from models_registry.services import model_version_register

    reporter = JobReporter(job)
    try:
        frame = None if job.dataset.kind == Dataset.Kind.IMAGE else _checked_frame(job)
        config = search_config(job)
        with tempfile.TemporaryDirectory(prefix=f"job{job.pk}-") as workdir:
            result = _search(job, config, Path(workdir), frame, reporter)
            if reporter.lost:
                raise ClaimLost(f"Job {job.pk} is no longer held by attempt {job.attempts}")
            job.stopped = result.stopped
            job.manifest = {
                **result.manifest,
                "dataset_sha256": job.dataset_sha256,
                "parallel_trials": job.parallel_trials,
                "final_model": {"source": result.source, **result.ensemble},
            }
            job.class_weights = (
                {str(k): v for k, v in result.class_weights.items()}
                if result.class_weights
                else None
            )
            if result.stopped == "cancelled":
                # The engine sees any cancel as a stop; whether to keep its best is the job's.
                if not _keep_best(job):
                    return _job_finish(job=job, status=TrainingJob.Status.CANCELLED)
                job.stopped = "stopped_by_user"
            model_path = Path(workdir) / "model.keras"
            result.model.save(model_path)
            with job_fenced(job=job):
                job.best_trial = result.best_trial
                job.best_hyperparameters = result.hyperparameters
                job.test_metrics = result.test_metrics
                job.split_sizes = {
                    "train": result.n_train,
                    "validation": result.n_validation,
                    "test": result.n_test,
                }
                version = model_version_register(
                    job=job, model_path=model_path, source=result.source
                )
                return _job_finish(
                    job=job, status=TrainingJob.Status.SUCCEEDED, version_id=version.pk
                )
    except ClaimLost:
        raise
    except SearchInterrupted:
        return job_hand_back(job=job)
    except SearchStopped as exc:
        cancelled = TrainingJob.objects.filter(pk=job.pk, cancel_requested=True).exists()
        if not cancelled:
            return _job_finish(job=job, status=TrainingJob.Status.FAILED, error=str(exc))
        # Stopped before any trial finished: even a keep-best stop has nothing to keep.
        error = ""
        if _keep_best(job):
            error = "Stopped before any trial finished: there was no model to keep."
        return _job_finish(job=job, status=TrainingJob.Status.CANCELLED, error=error)
    except DataError as exc:
        return _job_finish(job=job, status=TrainingJob.Status.FAILED, error=str(exc))
    except Exception as exc:
        if is_out_of_space(exc):
            logger.warning("Job %s failed: %s", job.pk, exc)
            return _job_finish(job=job, status=TrainingJob.Status.FAILED, error=NO_SPACE_FOR_JOB)
        logger.exception("Job %s failed", job.pk)
        return _job_finish(
            job=job, status=TrainingJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}"
        )


def _keep_best(job: TrainingJob) -> bool:
    # Read from the row: the request arrived while the search ran.
    return TrainingJob.objects.filter(pk=job.pk, keep_best=True).exists()


def _job_finish(
    *, job: TrainingJob, status: str, error: str = "", version_id: int | None = None
) -> TrainingJob:
    # Only while this attempt holds the job: a stale one must not write its end over the
    # attempt that took over (ClaimLost otherwise, which job_run turns into a quiet return).
    with job_fenced(job=job):
        job.status = status
        job.error = error
        job.finished_at = timezone.now()
        tuner_state_delete(job=job)
        trial_weights_delete(job=job)
        # cancel_requested is written only by the API; saving the whole row would race it.
        job.save(update_fields=[
            "status", "error", "finished_at", "stopped", "manifest", "class_weights",
            "best_trial", "best_hyperparameters", "test_metrics", "split_sizes",
        ])  # fmt: skip
        payload: dict[str, Any] = {"status": status}
        if error:
            payload["error"] = error
        event_record(subject=job, kind="job_status", payload=payload)
        if version_id is not None:
            payload = {**payload, "model_version": version_id, "test_metrics": job.test_metrics}
        event_record(subject=job, kind="job_finished", payload=payload)
        _release_on_commit(job)
    return job
