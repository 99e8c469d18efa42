"""Reads for datasets, uploads, jobs and events, always scoped to the user asking."""

from __future__ import annotations

import contextlib
import datetime
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone

from jobs.engine.io.formats import (
    FORMATS,
    ReadOptions,
    TableSource,
    inspect_table,
    iter_batches,
    read_frame,
)
from jobs.models import (
    Dataset,
    DatasetEvent,
    JobEvent,
    TrainingJob,
    Trial,
    Upload,
    UserLimits,
    Worker,
)

AnyUser = User | AnonymousUser


def dataset_list(*, user: AnyUser) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner_id=user.pk)


def dataset_summaries(*, user: AnyUser) -> QuerySet[Dataset]:
    """The user's datasets as lists show them (DatasetListSerializer): without the profile, a
    JSON column that grows with the columns and that lists leave out, and with the ids of
    their children in one query for the page rather than one per dataset."""
    return (
        dataset_list(user=user)
        .defer("profile")
        .prefetch_related(Prefetch("children", queryset=Dataset.objects.only("id", "parent_id")))
    )


def upload_list(*, user: AnyUser) -> QuerySet[Upload]:
    return Upload.objects.filter(owner_id=user.pk)


@contextlib.contextmanager
def dataset_local_path(*, dataset: Dataset) -> Iterator[Path]:
    """The dataset's file as a local path: in place on local storage, else a temporary copy."""
    try:
        local = Path(dataset.file.path)
    except NotImplementedError:
        local = None
    if local is not None:
        yield local
        return
    suffix = "".join(Path(dataset.file.name).suffixes)
    with tempfile.NamedTemporaryFile(suffix=suffix) as copy:
        with dataset.file.open("rb") as remote:
            shutil.copyfileobj(remote, copy, 1 << 20)
        copy.flush()
        yield Path(copy.name)


def dataset_lineage(*, dataset: Dataset) -> Iterator[Dataset]:
    """Every version descended from the dataset's first version, itself included."""
    root = dataset
    while root.parent is not None:
        root = root.parent
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children.all())


@contextlib.contextmanager
def dataset_table(*, dataset: Dataset) -> Iterator[tuple[Path, TableSource]]:
    """A table dataset's local file and how to read it, fetched once from remote storage."""
    with dataset_local_path(dataset=dataset) as path:
        yield (
            path,
            _stored_source(dataset)
            or inspect_table(
                path,
                dataset.original_filename if dataset.format != "parquet" else "data.parquet",
                ReadOptions(
                    format=dataset.format,
                    encoding=dataset.encoding or None,
                    delimiter=dataset.delimiter or None,
                    header=dataset.has_header,
                ),
            ),
        )


def _stored_source(dataset: Dataset) -> TableSource | None:
    """How the row says its file is written, as the upload's check found it: the file is
    immutable, so it is read that way rather than detected again. None where the row lacks
    something (a version not yet profiled, a delimited file without its delimiter)."""
    names = [str(c["name"]) for c in dataset.columns]
    if not names or len(names) != dataset.n_columns or dataset.format not in FORMATS:
        return None
    named = dataset.format in ("parquet", "jsonl")  # names are in the file: always a header
    if not named and dataset.format != "xlsx" and not dataset.delimiter:
        return None
    header = named or dataset.has_header
    return TableSource(
        dataset.format, dataset.encoding or None, dataset.delimiter or None, header, names
    )


def dataset_frame(*, dataset: Dataset, max_rows: int | None = None) -> pd.DataFrame:
    with dataset_table(dataset=dataset) as (path, source):
        return read_frame(path, source, max_rows=max_rows)


def dataset_rows(*, dataset: Dataset, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page of rows, read by streaming up to it."""
    rows: list[dict[str, Any]] = []
    seen = 0
    with dataset_table(dataset=dataset) as (path, source):
        for batch in iter_batches(path, source):
            if seen + batch.num_rows > offset:
                start = max(offset - seen, 0)
                rows += batch.slice(start, limit - len(rows)).to_pylist()
                if len(rows) >= limit:
                    break
            seen += batch.num_rows
    return rows


def job_list(*, user: AnyUser) -> QuerySet[TrainingJob]:
    """The user's jobs with their trials, and their model version's id (JobSerializer) read
    in the same query: reached through the job, it was one query per job listed. The dataset
    is not joined: the answer names it by id, and its profile (a JSON column that grows with
    its columns) would be decoded again for every job."""
    return (
        TrainingJob.objects.filter(owner_id=user.pk)
        .annotate(model_version_pk=F("model_version__id"))
        .prefetch_related("trials")
    )


def job_trials(*, job: TrainingJob) -> QuerySet[Trial]:
    """A job's trials, for the paged list (the job detail embeds them all)."""
    return Trial.objects.filter(job=job)


def queues_served() -> set[str]:
    """The queues some live worker takes jobs from (each reports itself about every 30 s)."""
    stale = timezone.now() - datetime.timedelta(
        seconds=max(settings.JOB_HEARTBEAT_STALE_SECONDS, 3 * settings.JOB_REAP_INTERVAL_SECONDS)
    )
    return {q for queues in Worker.objects.filter(seen_at__gte=stale).values_list(
        "queues", flat=True) for q in queues}  # fmt: skip


def running_limit(owner_id: int) -> int:
    """How many jobs the user may have RUNNING at once; 0: no limit. The user's own limit where
    an operator set one (UserLimits), else USER_MAX_RUNNING_JOBS."""
    own = (
        UserLimits.objects.filter(user_id=owner_id, max_running_jobs__isnull=False)
        .values_list("max_running_jobs", flat=True)
        .first()
    )
    return int(settings.USER_MAX_RUNNING_JOBS if own is None else own)


def user_limits(*, user: AnyUser) -> dict[str, int]:
    """The limits that apply to the user, as they read them in `GET /api/v1/auth/me/`."""
    return {
        "max_running_jobs": running_limit(int(user.pk or 0)),
        "running_jobs": TrainingJob.objects.filter(
            owner_id=user.pk, status=TrainingJob.Status.RUNNING
        ).count(),
        "staged_max_bytes": int(settings.USER_STAGED_MAX_BYTES),
        "stored_max_bytes": int(settings.USER_STORED_MAX_BYTES),
    }


def limit_reason(limit: int) -> str:
    """What a job held back by its owner's running limit waits for."""
    return (
        f"{limit} of your jobs are running, your limit at once; this one starts when one "
        "of them ends."
    )


def job_waiting_for(*, job: TrainingJob, served: set[str] | None = None) -> str:
    """Why a queued job has not started: its owner's running limit, or no running worker
    that can take it; else ""."""
    if job.status != TrainingJob.Status.QUEUED:
        return ""
    if job.limited_at is not None:
        return limit_reason(running_limit(job.owner_id))
    if job.queue in (queues_served() if served is None else served):
        return ""
    if job.queue == TrainingJob.Queue.GPU:
        return (
            "Waiting for a GPU worker: no running worker takes jobs from the 'gpu' queue. "
            "Start one on a machine with a GPU (`celery -A console worker -Q gpu`), or cancel "
            "this job and train on the 'cpu' queue."
        )
    return f"Waiting for a worker: no running worker takes jobs from the '{job.queue}' queue."


def job_events(*, job: TrainingJob, after: int = 0) -> QuerySet[JobEvent]:
    return JobEvent.objects.filter(job=job, seq__gt=after).order_by("seq")


def dataset_events(*, dataset: Dataset, after: int = 0) -> QuerySet[DatasetEvent]:
    return DatasetEvent.objects.filter(dataset=dataset, seq__gt=after).order_by("seq")


def events_for_watcher(
    *, user: AnyUser, topic: str, object_id: int, after: int = 0
) -> list[dict[str, Any]] | None:
    """The stored events after `after` of a job or dataset the user owns; None if it is not
    theirs."""
    if topic == "jobs":
        job = TrainingJob.objects.filter(owner_id=user.pk, pk=object_id).first()
        return None if job is None else [e.as_message() for e in job_events(job=job, after=after)]
    dataset = Dataset.objects.filter(owner_id=user.pk, pk=object_id).first()
    if dataset is None:
        return None
    return [e.as_message() for e in dataset_events(dataset=dataset, after=after)]
