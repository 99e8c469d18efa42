"""Resumable uploads: a staging file filled at increasing offsets, then turned into a dataset."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from jobs.engine.data import DataError
from jobs.models import Dataset, Upload
from jobs.services.datasets import DatasetRequest, dataset_create, file_sha256
from jobs.services.quotas import quota_check_staged


def upload_staging_path(upload: Upload) -> Path:
    return Path(settings.UPLOAD_STAGING_DIR) / f"{upload.pk}.part"


def upload_create(*, owner: User, filename: str, size: int) -> Upload:
    """Announce an upload of `size` bytes; refused at once when over the limit."""
    if size <= 0:
        raise DataError("The file is empty.")
    if size > settings.DATASET_MAX_BYTES:
        raise DataError(f"The file is {size} bytes; the limit is {settings.DATASET_MAX_BYTES}.")
    with transaction.atomic():
        # The owner's row is the lock: two uploads announced at once cannot both fit.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        quota_check_staged(owner=owner, adding=size)
        upload = Upload.objects.create(owner=owner, filename=Path(filename).name[:255], size=size)
    path = upload_staging_path(upload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return upload


def upload_advance(*, upload_id: str, offset: int, sha256: str = "") -> None:
    """Record how many bytes are safely in the staging file (and their hash once complete)."""
    # update() skips auto_now; the expiry counts from the last bytes received.
    Upload.objects.filter(pk=upload_id).update(
        offset=offset, sha256=sha256, updated_at=timezone.now()
    )


def upload_finish(*, upload: Upload, request: DatasetRequest) -> tuple[Dataset, bool]:
    """Make a dataset of a complete upload. On a data error the upload stays, to retry with
    other options (an encoding or delimiter override, say)."""
    if not upload.complete:
        raise DataError(f"The upload has {upload.offset} of {upload.size} bytes; send the rest.")
    path = upload_staging_path(upload)
    sha256 = upload.sha256 or file_sha256(path)
    dataset, created = dataset_create(
        owner=upload.owner,
        path=path,
        filename=upload.filename,
        sha256=sha256,
        request=request,
        actor=upload.owner,
    )
    upload_delete(upload=upload)
    return dataset, created


def uploads_expire() -> int:
    """Forget resumable uploads untouched for UPLOAD_EXPIRY_SECONDS, and their staged bytes."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS)
    stale = list(Upload.objects.filter(updated_at__lt=cutoff))
    for upload in stale:
        upload_delete(upload=upload)
    return len(stale)


def upload_delete(*, upload: Upload) -> None:
    """Forget an upload and its staging file."""
    path = upload_staging_path(upload)
    with transaction.atomic():
        upload.delete()
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
