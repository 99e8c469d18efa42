from __future__ import annotations

import os
import socket

from celery import shared_task

from jobs import services, worker_shutdown


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_training_job(job_id: int) -> None:
    """Claim a queued job and run it; a redelivered message finds it claimed and stops."""
    # A warm shutdown of the worker hands the job back rather than waiting for its search;
    # from before the claim, so that a stop arriving meanwhile is not missed.
    with worker_shutdown.handing_back_on_stop():
        # The pool process, not just the host: says which process holds the attempt.
        job = services.job_claim(job_id=job_id, worker=f"{socket.gethostname()}:{os.getpid()}")
        if job is None:
            return
        services.job_run(job=job)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_trials(job_id: int, attempt: int) -> None:
    """Run trials of a parallel job's search, owned by its attempt `attempt`, until it closes;
    a redelivered message (its runner died) joins the search again if it still runs."""
    services.trials_serve(
        job_id=job_id, attempt=attempt, runner=f"{socket.gethostname()}:{os.getpid()}"
    )


@shared_task(acks_late=True, reject_on_worker_lost=True)
def profile_dataset(dataset_id: int) -> None:
    """Claim a pending dataset and profile it; a redelivered message finds it claimed, unless
    its profiler's heartbeat went stale (the worker was killed), and then takes it over."""
    dataset = services.dataset_claim_profiling(dataset_id=dataset_id)
    if dataset is None:
        return
    services.dataset_profile(dataset=dataset)
