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
def moto_bucket(name: str) -> Iterator[tuple[Any, str]]:
    """(a boto3 client, the server's endpoint URL), with the bucket `name` made."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    client.create_bucket(Bucket=name)
    try:
        yield client, endpoint
    finally:
        server.stop()
