"""Reads for datasets, jobs and events, always scoped to the user asking."""

from __future__ import annotations

import pandas as pd
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from jobs.engine.data import read_csv
from jobs.models import Dataset, JobEvent, TrainingJob


def dataset_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner_id=user.pk)


def dataset_frame(*, dataset: Dataset) -> pd.DataFrame:
    with dataset.file.open("rb") as fileobj:
        return read_csv(fileobj)


def job_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[TrainingJob]:
    return (
        TrainingJob.objects.filter(owner_id=user.pk)
        .select_related("dataset")
        .prefetch_related("trials")
    )


def job_events(*, job: TrainingJob, after: int = 0) -> QuerySet[JobEvent]:
    return JobEvent.objects.filter(job=job, seq__gt=after).order_by("seq")


def job_for_watcher(*, user: AbstractBaseUser | AnonymousUser, job_id: int) -> TrainingJob | None:
    return TrainingJob.objects.filter(owner_id=user.pk, pk=job_id).first()
