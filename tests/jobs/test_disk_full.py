"""A disk that fills up while an upload or a model is written: a clear answer (507, or a job
failed with a reason), nothing partial kept, no row half made.

The disk is real: a small tmpfs mounted for the test, nearly filled, so that writes fail with
ENOSPC from the kernel, as on a full volume.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from console.errors import NO_SPACE
from jobs import services, upload_stream
from jobs.models import Dataset, TrainingJob
from jobs.services import training
from models_registry.models import ModelVersion
from tests.conftest import breast_cancer_csv
from tests.factories import make_dataset, make_token


def _fill(volume: Path, leave: int) -> None:
    """Take all the volume's free space but `leave` bytes."""
    stat = os.statvfs(volume)
    with (volume / "filler").open("wb") as out:
        os.posix_fallocate(out.fileno(), 0, stat.f_bavail * stat.f_frsize - leave)


FREE = 64 << 10


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB filesystem of its own (fill it with _fill)."""
    mount = tmp_path / "volume"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        # Said, not silent: mounting needs root (or CAP_SYS_ADMIN), as in the test container.
        pytest.skip(f"cannot mount a small tmpfs to fill up ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def full_storage(settings: Any, volume: Path) -> Path:
    """Media and upload staging on the volume."""
    settings.MEDIA_ROOT = volume / "media"
    settings.UPLOAD_STAGING_DIR = str(volume / "uploads")
    return volume


def _scope(token: str, upload_id: str, length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "PATCH",
        "path": f"/api/v1/uploads/{upload_id}/",
        "query_string": b"",
        "headers": [
            (b"authorization", f"Token {token}".encode()),
            (b"upload-offset", b"0"),
            (b"content-type", b"application/offset+octet-stream"),
            (b"content-length", str(length).encode()),
        ],
    }


@pytest.mark.django_db(transaction=True)
def test_a_resumable_upload_that_fills_the_disk_gets_507_and_keeps_its_offset(
    personas: dict[str, Any], full_storage: Path
) -> None:
    # given an upload of 300 KB announced on a volume with 64 KB free
    owner = personas["owner"]
    data = os.urandom(300_000)
    upload = services.upload_create(owner=owner, filename="big.csv", size=len(data))
    _fill(full_storage, FREE)
    token = make_token(owner)
    chunks = [data[i : i + 50_000] for i in range(0, len(data), 50_000)]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # when its bytes come in one PATCH
    asyncio.run(
        upload_stream.stream_patch(
            _scope(token, str(upload.pk), len(data)), receive, send, str(upload.pk)
        )
    )

    # then the answer is a 507 with a reason and the offset to resume from
    start, body = sent
    assert start["status"] == 507
    headers = dict(start["headers"])
    assert headers[b"upload-offset"] == b"0"
    assert NO_SPACE in body["body"].decode()
    # and the staging file is cut back to that offset, the row unchanged
    assert services.upload_staging_path(upload).stat().st_size == 0
    upload.refresh_from_db()
    assert upload.offset == 0


def test_a_multipart_upload_that_fills_the_disk_gets_507_and_leaves_nothing(
    personas: dict[str, Any], full_storage: Path
) -> None:
    client = APIClient()
    client.force_authenticate(personas["owner"])
    # Bigger than what is free: the copy into storage fails part-way.
    content = breast_cancer_csv() * 3
    _fill(full_storage, FREE)

    answer = client.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("big.csv", content, "text/csv")},
        format="multipart",
    )

    assert answer.status_code == 507, answer.content
    assert answer.json()["code"] == "insufficient_storage"
    assert answer.json()["detail"] == NO_SPACE
    assert not Dataset.objects.exists()
    media = full_storage / "media"
    assert not [p for p in media.rglob("*") if p.is_file()]


@pytest.mark.django_db
def test_a_model_that_does_not_fit_fails_its_job_with_a_reason(
    personas: dict[str, Any],
    full_storage: Path,
    searched: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a job whose search ends with a model bigger than the space left
    result, _, path = searched
    assert path.stat().st_size > FREE
    dataset = make_dataset(personas["owner"])
    _fill(full_storage, FREE)
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    monkeypatch.setattr(training, "_search", lambda *args: result)
    claimed = services.job_claim(job_id=job.pk, worker="w")
    assert claimed is not None

    # when the worker runs it
    services.job_run(job=claimed)

    # then the job failed saying why, with no version and no partial .keras in storage
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.FAILED
    assert job.error == training.NO_SPACE_FOR_JOB
    assert not ModelVersion.objects.exists()
    assert not list((full_storage / "media").rglob("*.keras"))
