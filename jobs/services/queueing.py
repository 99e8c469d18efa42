"""Sending jobs to their queue: with their priority, and no more running at once per user than
USER_MAX_RUNNING_JOBS.

The limit is applied where a job starts, in job_claim: a worker that receives a job whose owner
already has the limit running leaves it QUEUED, marks it `limited_at`, and drops the message
(the task returns; nothing spins). Such a job has no message in the broker any more, so it is
sent again by jobs_release_waiting: on commit of each of the user's finishes (so the next one
starts at once), and on every reaper pass (so a finish whose process died before sending, or a
limit raised since, still frees the waiting). Sending clears `limited_at`, so each free slot
sends a waiting job once, not once per pass.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from console.celery import app
from jobs.models import TrainingJob
from jobs.selectors import limit_reason, running_limit
from jobs.services.events import event_record

RUN_TASK = "jobs.tasks.run_training_job"
# The Redis transport pops its priority lists in step order (console/settings.py): 0 first.
# Tasks sent without one (profiles on their own queue, batch predictions) go in at 0 too: a
# scoring run someone waits for is taken before training jobs that have not started.
BROKER_PRIORITY: dict[str, int] = {
    TrainingJob.Priority.HIGH: 0,
    TrainingJob.Priority.NORMAL: 3,
    TrainingJob.Priority.LOW: 6,
}
# Waiting jobs go out in the order a worker would take them: priority, then age.
_PRIORITY_RANK = Case(
    When(priority=TrainingJob.Priority.HIGH, then=Value(0)),
    When(priority=TrainingJob.Priority.NORMAL, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def job_enqueue(job: TrainingJob) -> None:
    """Send a job's message: to the job's queue (a gpu job waits for a gpu worker, whatever the
    sender's default queue), at the job's priority."""
    # By name: jobs.tasks imports the services, this module among them.
    app.send_task(
        RUN_TASK,
        args=[job.pk],
        queue=job.queue,
        priority=BROKER_PRIORITY.get(job.priority, BROKER_PRIORITY[TrainingJob.Priority.NORMAL]),
    )


def owner_at_limit(*, job_id: int, owner_id: int) -> bool:
    """Whether the owner already runs as many jobs as allowed, not counting `job_id` (an
    orphaned job being taken over holds its own slot).

    The caller is in a transaction: the owner's row is locked until it commits, so two workers
    claiming two jobs of one user count one after the other, each seeing the other's claim.
    """
    limit = running_limit(owner_id)
    if not limit:
        return False
    # NO KEY UPDATE: serialises the claims without blocking inserts that reference the user
    # (a job_create, an upload), which take KEY SHARE.
    User.objects.select_for_update(no_key=True).filter(pk=owner_id).exists()
    running = (
        TrainingJob.objects.filter(owner_id=owner_id, status=TrainingJob.Status.RUNNING)
        .exclude(pk=job_id)
        .count()
    )
    return running >= limit


def job_hold(*, job_id: int, owner_id: int) -> None:
    """Leave a delivered job QUEUED for later, its message consumed; says why once."""
    if TrainingJob.objects.filter(
        pk=job_id, status=TrainingJob.Status.QUEUED, limited_at__isnull=True
    ).update(limited_at=timezone.now()):
        job = TrainingJob.objects.get(pk=job_id)
        reason = limit_reason(running_limit(owner_id))
        event_record(subject=job, kind="job_waiting", payload={"reason": reason})


def jobs_release_waiting(*, owner_id: int | None = None) -> list[int]:
    """Send again, once committed, as many held jobs as their owner has free slots: the
    highest priority first, then the oldest. One owner's, or everyone's (the reaper).

    A free slot is one neither running nor promised to a job already in the broker (QUEUED and
    not held), so a pass before the last one sent was delivered sends nothing more.
    """
    held = TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED, limited_at__isnull=False)
    owners = (
        [owner_id]
        if owner_id is not None
        else list(held.values_list("owner_id", flat=True).distinct().order_by())
    )
    sent: list[int] = []
    for owner in owners:
        limit = running_limit(owner)
        mine = TrainingJob.objects.filter(owner_id=owner)
        if limit:
            busy = (
                mine.filter(status=TrainingJob.Status.RUNNING).count()
                + mine.filter(status=TrainingJob.Status.QUEUED, limited_at__isnull=True).count()
            )
            free = max(limit - busy, 0)
        else:
            free = held.filter(owner_id=owner).count()
        waiting = held.filter(owner_id=owner).order_by(_PRIORITY_RANK, "created_at", "id")
        for job in waiting[:free]:
            with transaction.atomic():
                # Conditional: a concurrent release (another finish, another worker's reaper)
                # sends it, not both.
                if TrainingJob.objects.filter(
                    pk=job.pk, status=TrainingJob.Status.QUEUED, limited_at=job.limited_at
                ).update(limited_at=None):
                    transaction.on_commit(lambda job=job: job_enqueue(job))  # type: ignore[misc]
                    sent.append(job.pk)
    return sent
