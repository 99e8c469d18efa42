"""An S3-compatible server on loopback (moto's server mode) with one bucket, for the tests
whose processes share only a bucket, as on separate machines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from tests.stack import free_port


@contextlib.contextmanager
def moto_bucket(name: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """The bucket `name` on a moto server on loopback: a boto3 client, and the environment
    that points the console's storage at it (its S3_ENDPOINT_URL is the server's)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(Bucket=name)
    env = {
        "STORAGE_BACKEND": "s3",
        "S3_BUCKET": name,
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }
    try:
        yield client, env
    finally:
        server.stop()
