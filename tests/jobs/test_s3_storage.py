"""Datasets and models on an S3-compatible store (a moto server on loopback), as workers on
other machines would share them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.files.storage import storages
from moto.server import ThreadedMotoServer

from jobs.models import Dataset
from tests.factories import make_dataset
from tests.stack import free_port

pytestmark = pytest.mark.django_db

BUCKET = "console-test"


@pytest.fixture
def s3(settings: Any, tmp_path: Any) -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
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
        server.stop()


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
