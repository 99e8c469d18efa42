"""Resumable uploads: bytes staged through the storage backend at increasing offsets, then
turned into a dataset.

No web process keeps an upload's bytes on a disk of its own, so each request of one upload may
go to another replica. On storage with local paths (a folder, maybe a shared volume) the bytes
go into one file under the storage's `staging/`, appended in place: a request holds an
exclusive lock on it while it writes (another one meanwhile is refused). On a remote store
(S3) each request's bytes become an object of their own, `staging/<upload id>/<offset>-<random>`,
and the upload's row, not the store, says which objects count: the offset moves only by a
conditional update (from the offset the request started at), in the transaction that records
the part. Of two requests racing for one offset, one wins and the other deletes its object
and answers 409. Finishing streams the parts, in order, into one local file (hashed on the
way), which becomes the dataset.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import logging
import posixpath
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from jobs.engine.data import DataError
from jobs.models import Dataset, Upload, UploadPart
from jobs.services.datasets import DatasetRequest, dataset_create, file_sha256
from jobs.services.quotas import quota_check_staged

logger = logging.getLogger(__name__)

STAGING = "staging"
_COPY_BYTES = 1 << 20


class UploadBusy(Exception):
    """Another request is storing bytes of this upload right now."""


def staging_is_local() -> bool:
    """Whether the storage backend has local paths (the file is appended in place)."""
    try:
        default_storage.path(STAGING)
    except NotImplementedError:
        return False
    return True


def upload_staging_path(upload: Upload) -> Path:
    """The staging file of an upload on storage with local paths."""
    return Path(default_storage.path(f"{STAGING}/{upload.pk}.part"))


def _part_prefix(upload_id: Any) -> str:
    return f"{STAGING}/{upload_id}"


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
    if staging_is_local():
        path = upload_staging_path(upload)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return upload


@contextlib.contextmanager
def upload_staging_lock(upload: Upload) -> Iterator[Path]:
    """The upload's staging file, locked against every other request (any process that shares
    the folder) until the block ends; UploadBusy at once when another one holds it, and
    FileNotFoundError when the upload was deleted meanwhile. The caller reads the offset again
    once locked: the holder before it may have moved it."""
    path = upload_staging_path(upload)
    with path.open("r+b", buffering=0) as held:
        try:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy("Another request is sending bytes to this upload.") from None
        yield path


def upload_spool() -> Path:
    """A private local file for one request's bytes on their way to a remote store."""
    folder = Path(settings.UPLOAD_STAGING_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".spool", delete=False)  # noqa: SIM115
    handle.close()
    return Path(handle.name)


def upload_part_store(*, upload: Upload, offset: int, path: Path) -> str:
    """Store one request's bytes (the whole of `path`) as an object of their own; its name.
    It counts once `upload_advance` records it."""
    name = f"{_part_prefix(upload.pk)}/{offset:015d}-{uuid.uuid4().hex[:12]}.part"
    with path.open("rb") as spooled:
        return str(default_storage.save(name, File(spooled, name=name)))


def upload_advance(
    *, upload_id: Any, start: int, offset: int, sha256: str = "", part: str = ""
) -> bool:
    """Move the upload's offset from `start` (where the request began) to `offset`, with the
    part that holds those bytes on a remote store; False, and nothing changed, when another
    request moved it first (or the upload is gone)."""
    with transaction.atomic():
        # One statement: of two requests from one offset, the second finds no row to change.
        # update() skips auto_now; the expiry counts from the last bytes received.
        moved = Upload.objects.filter(pk=upload_id, offset=start).update(
            offset=offset, sha256=sha256, updated_at=timezone.now()
        )
        if moved and part:
            UploadPart.objects.create(
                upload_id=upload_id, offset=start, size=offset - start, name=part
            )
    return bool(moved)


def upload_part_discard(*, name: str) -> None:
    """Delete an object no upload counts (a request that lost the race for its offset)."""
    try:
        default_storage.delete(name)
    except Exception:
        logger.exception("Could not delete the staged part %s", name)


def _open_part(name: str) -> IO[bytes]:
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:
        # S3's File reads a whole object into memory first; a GET's body streams.
        key = posixpath.join(default_storage.location, name)  # type: ignore[attr-defined]
        body: IO[bytes] = bucket.Object(key).get()["Body"]
        return body
    return default_storage.open(name, "rb")


def _assemble(upload: Upload, out: IO[bytes]) -> str:
    """Copy the upload's parts, in order, into `out`, a buffer at a time; their sha256."""
    digest = hashlib.sha256()
    at = 0
    for part in UploadPart.objects.filter(upload=upload).order_by("offset"):
        if part.offset != at:
            raise DataError(f"The upload's bytes from {at} are missing; upload it again.")
        with contextlib.closing(_open_part(part.name)) as stored:
            while chunk := stored.read(_COPY_BYTES):
                digest.update(chunk)
                out.write(chunk)
                at += len(chunk)
        if at != part.offset + part.size:
            raise DataError(f"The upload's bytes from {part.offset} are damaged; upload it again.")
    if at != upload.size:
        raise DataError(f"The upload has {at} of {upload.size} bytes; upload it again.")
    return digest.hexdigest()


def upload_finish(*, upload: Upload, request: DatasetRequest) -> tuple[Dataset, bool]:
    """Make a dataset of a complete upload. On a data error the upload stays, to retry with
    other options (an encoding or delimiter override, say)."""
    if not upload.complete:
        raise DataError(f"The upload has {upload.offset} of {upload.size} bytes; send the rest.")
    with _staged_file(upload) as (path, sha256):
        created = dataset_create(
            owner=upload.owner,
            path=path,
            filename=upload.filename,
            sha256=sha256,
            request=request,
            actor=upload.owner,
        )
    upload_delete(upload=upload)
    return created


@contextlib.contextmanager
def _staged_file(upload: Upload) -> Iterator[tuple[Path, str]]:
    """A complete upload's bytes as one local file, and their sha256: the staging file
    itself on local storage; else the parts put together in a spool file, removed after."""
    if staging_is_local():
        path = upload_staging_path(upload)
        yield path, upload.sha256 or file_sha256(path)
        return
    path = upload_spool()
    try:
        with path.open("wb") as out:
            sha256 = _assemble(upload, out)
        yield path, sha256
    finally:
        path.unlink(missing_ok=True)


def uploads_expire() -> int:
    """Forget resumable uploads untouched for UPLOAD_EXPIRY_SECONDS, and their staged bytes."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS)
    stale = list(Upload.objects.filter(updated_at__lt=cutoff))
    for upload in stale:
        upload_delete(upload=upload)
    return len(stale)


def upload_delete(*, upload: Upload) -> None:
    """Forget an upload and its staged bytes (once the transaction commits)."""
    if staging_is_local():
        path = upload_staging_path(upload)
        with transaction.atomic():
            upload.delete()
            transaction.on_commit(lambda: path.unlink(missing_ok=True))
        return
    prefix = _part_prefix(upload.pk)
    with transaction.atomic():
        upload.delete()
        transaction.on_commit(lambda: _delete_parts(prefix))


def _delete_parts(prefix: str) -> None:
    # Every object under the upload's prefix, counted or not: a request that died between
    # storing its bytes and recording them left one no row names.
    try:
        _, names = default_storage.listdir(prefix)
    except Exception:
        logger.exception("Could not list the staged parts under %s", prefix)
        return
    for name in names:
        upload_part_discard(name=f"{prefix}/{name}")
