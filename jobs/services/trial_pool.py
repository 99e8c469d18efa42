"""One job's search in several worker processes (jobs.engine.pool, in the console's terms).

The attempt that claimed the job owns the search: it hands trials out as TrialTicket rows
and sends `parallel_trials - 1` runner tasks (jobs.tasks.run_trials) to the job's queue. A
runner takes a PENDING ticket by a conditional update (SKIP LOCKED, like job_claim's
conditional update), trains it, puts the best epoch's weights in the storage backend under
jobs/<id>/trials/, and leaves its outcome on the row. The owner runs tickets too, so a host
with one worker process still finishes the search (the runner tasks then find it closed).

Nothing is shared on disk: runners read the dataset from storage and prepare it with the
job's seed, and the owner downloads each finished trial's weights. Every write is fenced by
the attempt: a runner of an attempt that lost its job writes nothing. A runner that stops
beating its ticket for TRIAL_HEARTBEAT_STALE_SECONDS is lost; the owner ends that trial as
failed, and only that trial is lost (its message is redelivered and a new runner joins).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from console.celery import app
from jobs import selectors
from jobs.engine.config import (
    MAX_EPOCHS_CAP,
    MAX_PARALLEL_TRIALS,
    MAX_TRIALS_CAP,
    SearchConfig,
)
from jobs.engine.tickets import Outcome, Ticket
from jobs.models import Dataset, TrainingJob, TrialTicket
from jobs.services.queueing import BROKER_PRIORITY
from jobs.services.reporter import ClaimLost, JobReporter, job_fenced, job_held

logger = logging.getLogger(__name__)

RUN_TRIALS_TASK = "jobs.tasks.run_trials"


def search_config(job: TrainingJob) -> SearchConfig:
    """The engine's configuration of a job's search, the same in the owner and its runners."""
    options = job.task_options
    return SearchConfig(
        target=job.target,
        task_type=job.task_type,  # type: ignore[arg-type]
        # No cap on the row: the engine's, so the budget decides.
        max_trials=MAX_TRIALS_CAP if job.max_trials is None else job.max_trials,
        max_epochs=MAX_EPOCHS_CAP if job.max_epochs is None else job.max_epochs,
        seed=job.seed,
        tuner=job.tuner,
        max_seconds=job.max_seconds,
        text_column=options.get("text_column", ""),
        timestamp_column=options.get("timestamp_column", ""),
        horizon=options.get("horizon", 1),
        lookback=options.get("lookback"),
        label_delimiter=options.get("label_delimiter"),
    )


def _weights_name(job: TrainingJob, number: int) -> str:
    return f"jobs/{job.pk}/trials/{job.attempts}-{number}.weights.h5"


def _stale_before() -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=settings.TRIAL_HEARTBEAT_STALE_SECONDS)


def ticket_claim(*, job: TrainingJob, runner: str) -> TrialTicket | None:
    """Take the job's lowest pending ticket of this attempt for `runner`; None when there is
    none, or the attempt no longer holds its job."""
    with transaction.atomic():
        ticket = (
            TrialTicket.objects.select_for_update(skip_locked=True)
            .filter(job=job, attempt=job.attempts, status=TrialTicket.Status.PENDING)
            .order_by("number")
            .first()
        )
        if ticket is None or not job_held(job).exists():
            return None
        ticket.status = TrialTicket.Status.RUNNING
        ticket.runner = runner
        ticket.heartbeat_at = timezone.now()
        ticket.save(update_fields=["status", "runner", "heartbeat_at"])
    return ticket


def ticket_complete(
    *, job: TrainingJob, runner: str, ticket: Ticket, outcome: Outcome, weights: Path | None
) -> bool:
    """Store the trial's weights and outcome; False when the ticket is no longer this
    runner's (the owner took it as lost, or the attempt lost its job)."""
    outcome.runner = runner
    if weights is not None:
        name = _weights_name(job, ticket.number)
        # Local storage never overwrites a name (it would pick another).
        default_storage.delete(name)
        with weights.open("rb") as data:
            default_storage.save(name, File(data))
    return bool(
        TrialTicket.objects.filter(
            job=job,
            attempt=job.attempts,
            number=ticket.number,
            status=TrialTicket.Status.RUNNING,
            runner=runner,
        ).update(
            status=TrialTicket.Status.DONE, result=outcome.to_json(), heartbeat_at=timezone.now()
        )
    )


def _ticket(row: TrialTicket) -> Ticket:
    return Ticket(**row.spec)


class JobTrialPool:
    """The owning attempt's side of jobs.engine.pool.TrialPool, on TrialTicket rows."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job
        self.size = max(1, job.parallel_trials)
        self.runner = job.worker

    def _mine(self) -> Any:
        return TrialTicket.objects.filter(job=self.job, attempt=self.job.attempts)

    def offer(self, ticket: Ticket) -> None:
        try:
            with job_fenced(job=self.job):
                TrialTicket.objects.create(
                    job=self.job,
                    attempt=self.job.attempts,
                    number=ticket.number,
                    trial_id=ticket.trial_id,
                    spec=asdict(ticket),
                )
        except ClaimLost:
            # The reporter's next question finds the claim lost and stops the search.
            logger.warning("Job %s: a ticket was not offered, the claim is lost", self.job.pk)

    def claim(self) -> Ticket | None:
        row = ticket_claim(job=self.job, runner=self.runner)
        return _ticket(row) if row is not None else None

    def complete(self, ticket: Ticket, outcome: Outcome, weights: Path | None) -> None:
        ticket_complete(
            job=self.job, runner=self.runner, ticket=ticket, outcome=outcome, weights=weights
        )

    def closed(self) -> bool:
        return False

    def finished(self) -> list[tuple[Ticket, Outcome]]:
        running = self._mine().filter(status=TrialTicket.Status.RUNNING)
        # The owner's own ticket is beaten by the job's heartbeat, not the ticket's.
        for row in running.exclude(runner=self.runner).filter(heartbeat_at__lt=_stale_before()):
            lost = Outcome(
                "FAILED",
                runner=row.runner,
                error=f"The runner {row.runner} was lost mid-trial (no heartbeat for "
                f"{settings.TRIAL_HEARTBEAT_STALE_SECONDS} s).",
            )
            self._mine().filter(
                pk=row.pk, status=TrialTicket.Status.RUNNING, heartbeat_at=row.heartbeat_at
            ).update(status=TrialTicket.Status.LOST, result=lost.to_json())
        ended = []
        for row in self._mine().filter(
            status__in=[TrialTicket.Status.DONE, TrialTicket.Status.LOST], collected=False
        ):
            if self._mine().filter(pk=row.pk, collected=False).update(collected=True):
                ended.append((_ticket(row), Outcome.from_json(row.result or {})))
        return ended

    def withdraw(self) -> list[Ticket]:
        rows = list(self._mine().filter(status=TrialTicket.Status.PENDING))
        taken = []
        for row in rows:
            if (
                self._mine()
                .filter(pk=row.pk, status=TrialTicket.Status.PENDING)
                .update(status=TrialTicket.Status.WITHDRAWN)
            ):
                taken.append(_ticket(row))
        return taken

    def fetch_weights(self, ticket: Ticket, path: Path) -> bool:
        name = _weights_name(self.job, ticket.number)
        if not default_storage.exists(name):
            return False
        with default_storage.open(name, "rb") as stored:
            path.write_bytes(stored.read())
        return True

    def close(self) -> None:
        self.withdraw()
        TrainingJob.objects.filter(pk=self.job.pk, attempts=self.job.attempts).update(
            trials_closed_attempt=self.job.attempts
        )


class TrialRunner(JobReporter):
    """A runner's source of tickets and its reporter: its writes are fenced by the owning
    attempt like the owner's, but it beats its ticket, not the job, so that a job whose owner
    died goes stale (and is retried) even while runners train."""

    def __init__(self, job: TrainingJob, runner: str) -> None:
        super().__init__(job, runner=runner)
        self.ticket: TrialTicket | None = None
        self.ticket_lost = False

    def _beat(self) -> None:
        if self.lost:
            return
        if not job_held(self.job).exists():
            self._lose()
            return
        if self.ticket is not None and not TrialTicket.objects.filter(
            pk=self.ticket.pk, status=TrialTicket.Status.RUNNING, runner=self.runner
        ).update(heartbeat_at=timezone.now()):
            self.ticket_lost = True

    def cancelled(self) -> bool:
        return super().cancelled() or self.ticket_lost

    def claim(self) -> Ticket | None:
        self.ticket = ticket_claim(job=self.job, runner=self.runner)
        self.ticket_lost = False
        return _ticket(self.ticket) if self.ticket is not None else None

    def complete(self, ticket: Ticket, outcome: Outcome, weights: Path | None) -> None:
        ticket_complete(
            job=self.job, runner=self.runner, ticket=ticket, outcome=outcome, weights=weights
        )
        self.ticket = None

    def closed(self) -> bool:
        if self.lost:
            return True
        return not job_held(self.job).exclude(trials_closed_attempt=self.job.attempts).exists()


def trial_runners_dispatch(*, job: TrainingJob) -> int:
    """Send the runner tasks of a parallel job's attempt; how many were sent."""
    count = max(0, min(job.parallel_trials, MAX_PARALLEL_TRIALS) - 1)
    priority = BROKER_PRIORITY.get(job.priority, BROKER_PRIORITY[TrainingJob.Priority.NORMAL])
    for _ in range(count):
        app.send_task(
            RUN_TRIALS_TASK, args=[job.pk, job.attempts], queue=job.queue, priority=priority
        )
    return count


def trials_serve(*, job_id: int, attempt: int, runner: str) -> int:
    """Run tickets of the job's attempt `attempt` until its search closes; how many ran."""
    from jobs.engine.search import serve_search_trials

    job = TrainingJob.objects.filter(pk=job_id).select_related("dataset").first()
    if job is None or job.attempts != attempt or job.status != TrainingJob.Status.RUNNING:
        return 0
    source = TrialRunner(job, runner)
    if source.closed():
        return 0
    config = search_config(job)
    with tempfile.TemporaryDirectory(prefix=f"job{job.pk}-runner-") as workdir:
        data: Any
        with contextlib.ExitStack() as opened:
            if job.dataset.kind == Dataset.Kind.IMAGE:
                data = opened.enter_context(selectors.dataset_local_path(dataset=job.dataset))
            else:
                data = selectors.dataset_frame(dataset=job.dataset)
            return serve_search_trials(
                data, config, workdir=Path(workdir), reporter=source, source=source
            )


def trial_weights_delete(*, job: TrainingJob) -> None:
    """Forget the job's trial weights once the surrounding transaction commits."""
    folder = f"jobs/{job.pk}/trials"

    def delete() -> None:
        try:
            _, names = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            try:
                default_storage.delete(f"{folder}/{name}")
            except Exception:
                logger.exception("Could not delete %s/%s", folder, name)

    transaction.on_commit(delete)
