"""Resumable uploads speak tus 1.0 (core, creation, termination): tuspy uploads unchanged."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack

pytestmark = pytest.mark.stack


def test_tuspy_uploads_in_chunks_and_the_upload_becomes_a_dataset(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    # given a file and a tus client with a personal token
    stack = embedded_stack
    stack.add_user("tus")
    owner = stack.client("tus")
    token = owner.post("/api/v1/auth/tokens/", json={"name": "tus"}).json()["token"]
    content = breast_cancer_csv()
    path = tmp_path / "cancer.csv"
    path.write_bytes(content)
    client = TusClient(f"{stack.url}/api/v1/uploads/", headers={"Authorization": f"Token {token}"})

    # when tuspy uploads it in several PATCHes
    uploader = client.uploader(
        file_path=str(path), chunk_size=16 * 1024, metadata={"filename": "cancer.csv"}
    )
    uploader.upload()

    # then the server holds every byte, says so as tus does, and makes a dataset of it
    upload_id = str(uploader.url).rstrip("/").rsplit("/", 1)[-1]
    head = owner.head(f"/api/v1/uploads/{upload_id}/")
    assert head.status_code == 200
    assert head.headers["Tus-Resumable"] == "1.0.0"
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(content))
    assert head.headers["Cache-Control"] == "no-store"
    made = owner.post("/api/v1/datasets/", json={"upload": upload_id})
    assert made.status_code == 201, made.text
    dataset = flow.wait_dataset(owner, made.json()["id"])
    assert dataset["sha256"] == hashlib.sha256(content).hexdigest()
    assert dataset["original_filename"] == "cancer.csv"


def test_tus_discovery_creation_and_termination(embedded_stack: Stack) -> None:
    embedded_stack.add_user("tus")
    owner = embedded_stack.client("tus")
    tus = {"Tus-Resumable": "1.0.0"}
    options = owner.options("/api/v1/uploads/", headers=tus)
    assert options.status_code == 204
    assert options.headers["Tus-Version"] == "1.0.0"
    assert set(options.headers["Tus-Extension"].split(",")) == {"creation", "termination"}

    name = base64.b64encode(b"rows.csv").decode()
    created = owner.post(
        "/api/v1/uploads/",
        headers={**tus, "Upload-Length": "7", "Upload-Metadata": f"filename {name}"},
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert created.headers["Tus-Resumable"] == "1.0.0"
    patched = owner.patch(
        location,
        content=b"a,b\n1,2",
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    assert patched.status_code == 204
    assert patched.headers["Upload-Offset"] == "7"
    # Termination: the upload and its bytes are gone.
    deleted = owner.delete(location, headers=tus)
    assert deleted.status_code == 204
    assert owner.head(location).status_code == 404

    # Bad creation headers are a 400 naming the header; another user cannot touch an upload.
    for headers, field in (
        ({"Upload-Length": "lots"}, "Upload-Length"),
        ({"Upload-Length": "5", "Upload-Metadata": "filename ***"}, "Upload-Metadata"),
        ({"Upload-Defer-Length": "1"}, "Upload-Defer-Length"),
    ):
        refused = owner.post("/api/v1/uploads/", headers={**tus, **headers})
        assert refused.status_code == 400
        assert field in refused.json()["fields"]
    other = owner.post("/api/v1/uploads/", headers={**tus, "Upload-Length": "3"})
    outsider = embedded_stack.client("outsider")
    assert outsider.head(other.headers["Location"]).status_code == 404
    assert outsider.delete(other.headers["Location"]).status_code == 404
    assert httpx.head(f"{embedded_stack.url}{other.headers['Location']}").status_code in (401, 403)
