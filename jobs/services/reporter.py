"""The engine's reporter for one attempt of a training job, fenced by the attempt's number.

A claim (job_claim) gives the job's next attempt number; every write the attempt makes (its
heartbeat, trials, events, saved search, final state and model) is made only while the job is
still RUNNING under that number. A worker frozen past the stale threshold (a VM pause, a swap
storm, SIGSTOP) has its job requeued and claimed again by another attempt; when it wakes, its
writes find the job no longer held and do nothing, and the engine stops at its next question
to cancelled().
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from jobs import worker_shutdown
from jobs.engine.reporting import SearchInterrupted
from jobs.models import TrainingJob, Trial
from jobs.services.events import event_record
from jobs.services.queueing import job_enqueue
from jobs.services.reconnect import reconnecting
from jobs.services.tuner_state import tuner_state_load, tuner_state_save

logger = logging.getLogger(__name__)


class ClaimLost(Exception):
    """This attempt no longer holds its job: the reaper requeued it or another attempt took it."""


def job_held(job: TrainingJob) -> QuerySet[TrainingJob]:
    """The job's row while the attempt `job.attempts` still holds it; empty once it lost it."""
    return TrainingJob.objects.filter(
        pk=job.pk, attempts=job.attempts, status=TrainingJob.Status.RUNNING
    )


@contextmanager
def job_fenced(*, job: TrainingJob) -> Iterator[None]:
    """A transaction in which the attempt still holds its job; raises ClaimLost if it does not.

    The job's row stays locked until commit, so neither the reaper's requeue nor a new claim
    (both conditional updates of that row) can slip in between the check and the writes.
    NO KEY UPDATE, as event_record takes, so inserting trials and events is not blocked.
    """
    with transaction.atomic():
        if not job_held(job).select_for_update(no_key=True).exists():
            raise ClaimLost(f"Job {job.pk} is no longer held by attempt {job.attempts}")
        yield


HANDED_BACK = "worker shutting down; resuming elsewhere"


def job_hand_back(*, job: TrainingJob) -> TrainingJob:
    """The attempt gives its job back to the queue: its worker is stopping (warm shutdown).

    The finished trials are in the saved search (tuner state, saved after each), so the next
    attempt resumes there. A hand-back is no failure: it does not count towards MAX_ATTEMPTS
    (`handoffs`), while `attempts` still numbers every attempt, as the fence needs.
    """
    with job_fenced(job=job):
        job_held(job).update(
            status=TrainingJob.Status.QUEUED, handoffs=F("handoffs") + 1, heartbeat_at=None
        )
        payload = {"status": "QUEUED", "reason": HANDED_BACK, "attempt": job.attempts}
        event_record(subject=job, kind="job_status", payload=payload)
        transaction.on_commit(partial(job_enqueue, job))
    logger.info("Job %s: %s (attempt %s)", job.pk, HANDED_BACK, job.attempts)
    job.refresh_from_db()
    return job


class JobReporter:
    """Turns the engine's callbacks into Trial rows and events, while the attempt holds its job.

    Once a write finds the claim lost, `lost` is set, every later callback does nothing, and
    cancelled() answers True so that the engine stops at its next batch or trial. A callback
    whose database connection was lost (a restart) waits for it to come back (`reconnecting`).
    """

    def __init__(self, job: TrainingJob, *, runner: str = "") -> None:
        self.job = job
        self.lost = False
        # The process that runs the trials this reporter reports: "host:pid".
        self.runner = runner or job.worker

    def _lose(self) -> None:
        if not self.lost:
            logger.warning(
                "Job %s: attempt %s lost its claim (its job was requeued or taken by another "
                "attempt); stopping without writing",
                self.job.pk,
                self.job.attempts,
            )
        self.lost = True

    @contextmanager
    def _fenced(self) -> Iterator[bool]:
        """Yields whether the writes may go ahead; a lost claim is remembered, not raised,
        since the engine would count an exception in a callback as a failed trial."""
        if self.lost:
            yield False
            return
        try:
            with job_fenced(job=self.job):
                yield True
        except ClaimLost:
            self._lose()

    @reconnecting
    def cancelled(self) -> bool:
        # The engine asks about once a second: that question doubles as the heartbeat.
        if worker_shutdown.stopping() and not self.lost:
            raise SearchInterrupted("The worker is shutting down.")
        self._beat()
        if self.lost:
            return True
        return TrainingJob.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def _beat(self) -> None:
        if not self.lost and not job_held(self.job).update(heartbeat_at=timezone.now()):
            self._lose()

    @reconnecting
    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None:
        self._beat()
        with self._fenced() as held:
            if not held:
                return
            # One row per trial number: a trial that was running when an earlier attempt's
            # worker died starts again from its first epoch, in the same row.
            _, created = Trial.objects.update_or_create(
                job=self.job,
                number=number,
                defaults={
                    "hyperparameters": hyperparameters,
                    "status": Trial.Status.RUNNING,
                    "epochs": [],
                    "score": None,
                    "error": "",
                    "finished_at": None,
                    "runner": self.runner,
                },
            )
            payload: dict[str, Any] = {
                "trial": number,
                "hyperparameters": hyperparameters,
                "attempt": self.job.attempts,
                "runner": self.runner,
            }
            if not created:
                payload["rerun"] = True
            event_record(subject=self.job, kind="trial_started", payload=payload)

    @reconnecting
    def load_tuner_state(self) -> bytes | None:
        data = tuner_state_load(job=self.job)
        if data is not None:
            with self._fenced() as held:
                if held:
                    done = self.job.trials.exclude(status=Trial.Status.RUNNING).count()
                    event_record(
                        subject=self.job,
                        kind="search_resumed",
                        payload={"attempt": self.job.attempts, "trials_done": done},
                    )
        return data

    @reconnecting
    def save_tuner_state(self, data: bytes) -> None:
        # Written under the row's lock: an attempt that lost its job must not replace the
        # search its successor resumed from.
        with self._fenced() as held:
            if held:
                tuner_state_save(job=self.job, data=data)

    @reconnecting
    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        self._beat()
        with self._fenced() as held:
            if not held:
                return
            trial = Trial.objects.select_for_update().get(job=self.job, number=number)
            trial.epochs = [*trial.epochs, {"epoch": epoch, **metrics}]
            trial.save(update_fields=["epochs"])
            event_record(
                subject=self.job,
                kind="epoch_end",
                payload={
                    "trial": number,
                    "epoch": epoch,
                    "metrics": metrics,
                    "attempt": self.job.attempts,
                },
            )

    @reconnecting
    def trial_finished(
        self,
        number: int,
        status: str,
        score: float | None,
        hyperparameters: dict[str, Any],
        error: str = "",
    ) -> None:
        final = Trial.Status.COMPLETED if status == "COMPLETED" else Trial.Status.FAILED
        with self._fenced() as held:
            if not held:
                return
            Trial.objects.filter(job=self.job, number=number).update(
                status=final, score=score, finished_at=timezone.now(), error=error
            )
            event_record(
                subject=self.job,
                kind="trial_finished",
                payload={
                    "trial": number,
                    "status": final,
                    "score": score,
                    "hyperparameters": hyperparameters,
                    "error": error,
                    "attempt": self.job.attempts,
                },
            )
