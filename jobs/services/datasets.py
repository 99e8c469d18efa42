"""Writes for datasets: create from an upload, profile, derive a new version, delete."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction

from console.audit import Action, AnyUser, audit_object
from jobs import selectors
from jobs.engine.data import DataError
from jobs.engine.io.formats import ReadOptions, TableSource, inspect_table, iter_batches
from jobs.models import Dataset
from jobs.services.events import event_record_first
from jobs.services.profiling import dataset_enqueue_on_commit
from jobs.services.quotas import quota_check_stored
from jobs.services.sandbox import resident_bytes, run_limited

logger = logging.getLogger(__name__)

_EXTENSIONS = {"csv": ".csv", "tsv": ".tsv", "csv.gz": ".csv.gz", "parquet": ".parquet",
               "jsonl": ".jsonl", "xlsx": ".xlsx", "image_zip": ".zip"}  # fmt: skip
_ZIP_MAGIC = b"PK\x03\x04"


class ConflictError(Exception):
    """The change would break an object that depends on this one."""


class _StagedFile(File):
    # Storages that keep files on local disk move a file that has a temporary path instead of
    # copying it, so a multi-gigabyte upload is written once.
    def temporary_file_path(self) -> str:
        return str(self.name)


@dataclass(frozen=True)
class DatasetRequest:
    name: str = ""
    kind: str = ""
    options: ReadOptions = field(default_factory=ReadOptions)
    column_types: Mapping[str, str] | None = None
    text_column: str = ""
    timestamp_column: str = ""


def file_digest(path: Path, limit: int | None = None) -> Any:
    """A sha256 of the file's first `limit` bytes (all of it by default), open to more."""
    digest = hashlib.sha256()
    remaining = path.stat().st_size if limit is None else limit
    with path.open("rb") as fileobj:
        while remaining > 0:
            chunk = fileobj.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return digest


def file_sha256(path: Path) -> str:
    return str(file_digest(path).hexdigest())


def _is_image_zip(path: Path, filename: str) -> bool:
    with path.open("rb") as fileobj:
        magic = fileobj.read(4)
    return (
        magic == _ZIP_MAGIC
        and not filename.lower().endswith(".xlsx")
        and (filename.lower().endswith(".zip") or not _looks_like_xlsx(path))
    )


def _looks_like_xlsx(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.startswith("xl/") for n in archive.namelist()[:50])
    except zipfile.BadZipFile:
        return False


def _check_request(request: DatasetRequest, kind: str, source: TableSource | None) -> None:
    columns = set(source.columns) if source else set()
    if kind == Dataset.Kind.TEXT and request.text_column not in columns:
        raise DataError("A text dataset needs 'text_column' naming one of its columns.")
    if kind == Dataset.Kind.TIMESERIES and request.timestamp_column not in columns:
        raise DataError("A time-series dataset needs 'timestamp_column' naming one of its columns.")
    unknown = sorted(set(request.column_types or {}) - columns) if source else []
    if unknown:
        raise DataError(f"column_types names columns that are not in the file: {unknown}.")


def _inspected(path: Path, filename: str, options: ReadOptions) -> TableSource:
    """inspect_table in a child held to memory and time limits: this runs in the web process,
    and the file's start is untrusted (a reader crashing on a crafted file must fail one
    upload, not the process serving every user)."""

    def work(_: Callable[[float], None]) -> dict[str, Any]:
        return {"source": inspect_table(path, filename, options)}

    found = run_limited(
        work,
        lambda _: None,
        memory_bytes=resident_bytes() + settings.INSPECT_MEMORY_BYTES,
        seconds=settings.INSPECT_MAX_SECONDS,
    )
    source: TableSource = found["source"]
    return source


def dataset_create(
    *,
    owner: User,
    path: Path,
    filename: str,
    sha256: str,
    request: DatasetRequest,
    actor: AnyUser | None = None,
) -> tuple[Dataset, bool]:
    """Turn a staged file into a dataset; an identical file of the same owner is recognised.

    Returns the dataset and whether it is new. The staged file is moved into storage (or left
    for the caller to discard when the answer is an existing dataset or an error). The audit
    trail names `actor` as its creator, the owner when not given.
    """
    size = path.stat().st_size
    if size > settings.DATASET_MAX_BYTES:
        raise DataError(f"The file is {size} bytes; the limit is {settings.DATASET_MAX_BYTES}.")
    if size == 0:
        raise DataError("The file is empty.")
    existing = (
        Dataset.objects.filter(owner=owner, sha256=sha256, parent__isnull=True)
        .exclude(status=Dataset.Status.FAILED)
        .first()
    )
    if existing is not None:
        return existing, False
    # Checked without a lock held while the file is stored (that can take minutes on an object
    # store): requests racing each other may pass the budget by one file each, no more.
    quota_check_stored(owner=owner, adding=size)
    kind: str
    if _is_image_zip(path, filename):
        kind, source, fmt = Dataset.Kind.IMAGE, None, "image_zip"
    else:
        kind = request.kind or Dataset.Kind.TABULAR
        if kind == Dataset.Kind.IMAGE:
            raise DataError("An image dataset must be a .zip of images.")
        source = _inspected(path, filename, request.options)
        fmt = source.format
    _check_request(request, kind, source)
    dataset = Dataset(
        owner=owner,
        name=(request.name or Path(filename).name.split(".")[0] or "dataset")[:200],
        kind=kind,
        original_filename=filename[:255],
        format=fmt,
        encoding=(source.encoding or "") if source else "",
        delimiter=(source.delimiter or "") if source else "",
        has_header=source.header if source else True,
        sha256=sha256,
        size_bytes=size,
        n_columns=len(source.columns) if source else None,
        columns=[{"name": c, "type": ""} for c in source.columns] if source else [],
        column_types=dict(request.column_types or {}),
        text_column=request.text_column,
        timestamp_column=request.timestamp_column,
    )
    by = actor if actor is not None else owner

    def record(stored: Dataset) -> None:
        audit_object(
            actor=by, action=Action.DATASET_CREATED, obj=stored, to_value=stored.original_filename
        )

    return _store_and_queue(dataset, path, record), True


def _store_and_queue(dataset: Dataset, path: Path, record: Callable[[Dataset], None]) -> Dataset:
    """Store the file, save the row and queue its profiling; `record` writes the audit trail
    in the row's transaction."""
    name = f"{uuid.uuid4().hex}{_EXTENSIONS[dataset.format]}"
    try:
        with path.open("rb") as staged:
            dataset.file.save(name, _StagedFile(staged, str(path)), save=False)
    except BaseException:
        # A copy cut short (a full disk) leaves part of the file behind: not kept.
        with contextlib.suppress(Exception):
            dataset.file.storage.delete(dataset.file.field.generate_filename(dataset, name))
        raise
    # Local storage moved the file; a remote one copied it, and the staged copy is done with.
    path.unlink(missing_ok=True)
    try:
        with transaction.atomic():
            dataset.save()  # a new row: nobody else writes its events before this commits
            event_record_first(
                subject=dataset, kind="dataset_status", payload={"status": dataset.status}
            )
            record(dataset)
            dataset_enqueue_on_commit(dataset=dataset)
    except BaseException:
        # No orphan file when the row could not be written.
        dataset.file.delete(save=False)
        raise
    return dataset


def dataset_delete(*, dataset: Dataset, actor: AnyUser | None) -> None:
    """Delete a dataset and its file, unless a job or a model still refers to it.

    A dataset being profiled is deleted too, for good: the user no longer wants it, and its
    profiler's writes are all conditional on its claim, so it stops at its next batch without
    writing anything (jobs/services/profiling.py) rather than bring the row back as FAILED.
    """
    from models_registry.models import ModelVersion

    n_jobs = dataset.jobs.count()
    n_models = ModelVersion.objects.filter(dataset=dataset).count()
    if n_jobs or n_models:
        raise ConflictError(
            f"Dataset '{dataset.name}' v{dataset.version} is used by {n_jobs} training job(s) "
            f"and {n_models} model version(s) and cannot be deleted."
        )
    with transaction.atomic():
        # Locked first, as event_record locks it: a profiler's event then lands before the
        # delete collects the events, or finds the row gone; never between the two.
        if not Dataset.objects.select_for_update().filter(pk=dataset.pk).exists():
            return
        stored = dataset.file.name
        storage = dataset.file.storage
        audit_object(
            actor=actor,
            action=Action.DATASET_DELETED,
            obj=dataset,
            from_value=f"v{dataset.version} {dataset.original_filename}",
        )
        dataset.delete()
        transaction.on_commit(lambda: storage.delete(stored))


# --- versions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionChanges:
    drop_columns: Sequence[str] = ()
    column_types: Mapping[str, str] | None = None
    relabel_column: str = ""
    relabel: Mapping[str, str] | None = None


def _apply(batch: pa.RecordBatch, changes: VersionChanges) -> pa.RecordBatch:
    table = pa.Table.from_batches([batch]).drop_columns(list(changes.drop_columns))
    if changes.relabel_column and changes.relabel:
        index = table.schema.get_field_index(changes.relabel_column)
        column = table.column(index).cast(pa.string())
        for old, new in changes.relabel.items():
            column = pc.if_else(pc.equal(column, old), pa.scalar(new), column)
        table = table.set_column(index, changes.relabel_column, column)
    return table.combine_chunks().to_batches()[0] if table.num_rows else batch.slice(0, 0)


def dataset_version_create(
    *, parent: Dataset, changes: VersionChanges, actor: AnyUser | None
) -> Dataset:
    """Derive a new immutable version (columns dropped, types changed, labels renamed)."""
    if parent.kind == Dataset.Kind.IMAGE:
        raise DataError("Image datasets cannot be edited yet; upload a new archive instead.")
    if parent.status != Dataset.Status.READY:
        raise DataError(f"Dataset '{parent.name}' is {parent.status}; wait until it is READY.")
    names = [c["name"] for c in parent.columns]
    missing = [c for c in [*changes.drop_columns, *(changes.column_types or {})] if c not in names]
    if changes.relabel_column and changes.relabel_column not in names:
        missing.append(changes.relabel_column)
    if missing:
        raise DataError(f"These columns are not in the dataset: {sorted(set(missing))}.")
    if len(set(names) - set(changes.drop_columns)) < 1:
        raise DataError("A version must keep at least one column.")
    staging = Path(settings.UPLOAD_STAGING_DIR)
    staging.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=staging, suffix=".parquet", delete=False)  # noqa: SIM115
    out_path = Path(handle.name)
    handle.close()
    try:
        with selectors.dataset_table(dataset=parent) as (path, source):
            _write_version(path, source, changes, out_path)
        latest = max(d.version for d in selectors.dataset_lineage(dataset=parent))
        child = Dataset(
            owner=parent.owner,
            name=parent.name,
            kind=parent.kind,
            original_filename=parent.original_filename,
            format="parquet",
            sha256=file_sha256(out_path),
            size_bytes=out_path.stat().st_size,
            column_types={
                k: v
                for k, v in {**parent.column_types, **(changes.column_types or {})}.items()
                if k not in changes.drop_columns
            },
            text_column=parent.text_column
            if parent.text_column not in changes.drop_columns
            else "",
            timestamp_column=parent.timestamp_column
            if parent.timestamp_column not in changes.drop_columns
            else "",
            parent=parent,
            version=latest + 1,
            changes={
                "drop_columns": list(changes.drop_columns),
                "column_types": dict(changes.column_types or {}),
                "relabel_column": changes.relabel_column,
                "relabel": dict(changes.relabel or {}),
            },
        )
        return _store_and_queue(child, out_path, partial(_record_version, actor, parent, changes))
    finally:
        out_path.unlink(missing_ok=True)


def _record_version(
    actor: AnyUser | None, parent: Dataset, changes: VersionChanges, child: Dataset
) -> None:
    audit_object(
        actor=actor,
        action=Action.DATASET_VERSION_CREATED,
        obj=child,
        from_value=f"v{parent.version}",
        to_value=f"v{child.version} {json.dumps(child.changes, sort_keys=True)}",
    )
    if changes.column_types:
        # Its own event, as a change of types is what alters how a model reads the data. The
        # "from" is the type the parent read each column as: declared, else inferred.
        before = {c["name"]: c.get("type", "") for c in parent.columns} | parent.column_types
        audit_object(
            actor=actor,
            action=Action.COLUMN_TYPES_CHANGED,
            obj=child,
            from_value=json.dumps(
                {c: before.get(c, "") for c in changes.column_types}, sort_keys=True
            ),
            to_value=json.dumps(dict(changes.column_types), sort_keys=True),
        )


def _write_version(path: Path, source: TableSource, changes: VersionChanges, out: Path) -> None:
    writer: pq.ParquetWriter | None = None
    try:
        for batch in iter_batches(path, source):
            changed = _apply(batch, changes)
            if writer is None:
                writer = pq.ParquetWriter(out, changed.schema)
            writer.write_batch(changed)
    finally:
        if writer is not None:
            writer.close()
