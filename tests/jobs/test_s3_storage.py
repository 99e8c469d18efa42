"""Datasets and models on an S3-compatible store (a moto server on loopback), as workers on
other machines would share them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.storage import storages

from jobs.models import Dataset
from tests.factories import make_dataset
from tests.s3 import moto_bucket

pytestmark = pytest.mark.django_db

BUCKET = "console-test"


@pytest.fixture
def s3(settings: Any, tmp_path: Any) -> Iterator[Any]:
    with moto_bucket(BUCKET) as (client, env):
        endpoint = env["S3_ENDPOINT_URL"]
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET, "endpoint_url": endpoint, "region_name": "us-east-1",
                    "access_key": "test", "secret_key": "test", "file_overwrite": False,
                    "default_acl": None,
                },
            },
        }  # fmt: skip
        settings.UPLOAD_STAGING_DIR = str(tmp_path / "uploads")
        storages._storages = {}  # type: ignore[attr-defined]
        try:
            yield client
        finally:
            storages._storages = {}  # type: ignore[attr-defined]


def test_a_dataset_lives_in_the_bucket_and_is_profiled_from_it(
    s3: Any, personas: dict[str, Any], api_as: Any, tmp_path: Any
) -> None:
    # when a dataset is created and profiled with S3 storage
    dataset = make_dataset(personas["owner"])

    # then its file is an object in the bucket, not on local disk, and profiling read it
    assert dataset.status == Dataset.Status.READY, dataset.error
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == [dataset.file.name]
    assert dataset.file.name.startswith("datasets/")
    assert dataset.n_rows == 569
    rows = api_as("owner").get(f"/api/v1/datasets/{dataset.pk}/rows/?limit=2").json()["rows"]
    assert len(rows) == 2
    assert not list((tmp_path / "uploads").glob("*"))

    # and deleting it removes the object
    assert api_as("owner").delete(f"/api/v1/datasets/{dataset.pk}/").status_code == 204


def test_staged_parts_race_for_an_offset_and_expire_with_their_upload(
    s3: Any, personas: dict[str, Any], tmp_path: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime

    from django.utils import timezone

    from jobs import services
    from jobs.models import Upload, UploadPart

    def staged() -> list[str]:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="staging/")
        return sorted(o["Key"] for o in listed.get("Contents", []))

    # given an upload on the bucket: nothing of it on the web's disk
    upload = services.upload_create(owner=personas["owner"], filename="a.csv", size=10)
    assert not services.staging_is_local()
    assert not list((tmp_path / "uploads").glob("*"))
    body = tmp_path / "body"
    body.write_bytes(b"12345")

    # when two replicas store bytes for offset 0 at once
    first = services.upload_part_store(upload=upload, offset=0, path=body)
    second = services.upload_part_store(upload=upload, offset=0, path=body)

    # then only the first to move the offset counts; the other's object is dropped
    assert services.upload_advance(upload_id=upload.pk, start=0, offset=5, part=first)
    assert not services.upload_advance(upload_id=upload.pk, start=0, offset=5, part=second)
    services.upload_part_discard(name=second)
    assert staged() == [first]
    assert list(UploadPart.objects.values_list("offset", "size", "name")) == [(0, 5, first)]
    # (and a part a dead request stored without recording it)
    orphan = services.upload_part_store(upload=upload, offset=5, path=body)
    assert staged() == sorted([first, orphan])

    # when the upload is abandoned and expires, every object under it goes with it
    Upload.objects.filter(pk=upload.pk).update(updated_at=timezone.now() - datetime.timedelta(2))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.uploads_expire() == 1
    assert staged() == []
    assert not UploadPart.objects.exists()


def test_staged_parts_become_one_dataset_in_order(
    s3: Any, personas: dict[str, Any], tmp_path: Any
) -> None:
    import hashlib
    import itertools

    from jobs import services
    from tests.conftest import breast_cancer_csv

    # given an upload whose bytes came in three requests, each stored as a part
    content = breast_cancer_csv()
    upload = services.upload_create(owner=personas["owner"], filename="c.csv", size=len(content))
    body = tmp_path / "body"
    cuts = [0, 1000, len(content) // 2, len(content)]
    for start, end in itertools.pairwise(cuts):
        body.write_bytes(content[start:end])
        part = services.upload_part_store(upload=upload, offset=start, path=body)
        assert services.upload_advance(upload_id=upload.pk, start=start, offset=end, part=part)
    upload.refresh_from_db()

    # when it is finished
    dataset, created = services.upload_finish(upload=upload, request=services.DatasetRequest())

    # then the dataset holds every byte in order, hashed as they were put together
    assert created
    assert dataset.sha256 == hashlib.sha256(content).hexdigest()
    with dataset.file.open("rb") as stored:
        assert stored.read() == content
    assert not list((tmp_path / "uploads").glob("*"))
