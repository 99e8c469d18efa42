"""Resumable uploads speak tus 1.0 (core, creation, termination): tuspy uploads unchanged."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack

pytestmark = pytest.mark.stack

TUS_JS = Path(__file__).with_name("tus_js_upload.cjs")
FRONTEND_MODULES = Path(__file__).resolve().parents[2] / "frontend" / "node_modules"


def _user_with_token_and_file(
    stack: Stack, user: str, path: Path
) -> tuple[httpx.Client, str, bytes, Path]:
    """A user of their own with a personal token, and a CSV at `path`."""
    stack.add_user(user)
    owner = stack.client(user)
    token = owner.post("/api/v1/auth/tokens/", json={"name": user}).json()["token"]
    content = breast_cancer_csv()
    path.write_bytes(content)
    return owner, token, content, path


def _assert_complete_and_made_a_dataset(
    owner: httpx.Client, upload_id: str, content: bytes, filename: str
) -> None:
    """The server holds every byte, says so as tus does, and profiles a dataset of them."""
    head = owner.head(f"/api/v1/uploads/{upload_id}/")
    assert head.status_code == 200
    assert head.headers["Tus-Resumable"] == "1.0.0"
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(content))
    assert head.headers["Cache-Control"] == "no-store"
    made = owner.post("/api/v1/datasets/", json={"upload": upload_id})
    assert made.status_code == 201, made.text
    dataset = flow.wait_dataset(owner, made.json()["id"])
    assert dataset["status"] == "READY", dataset
    assert dataset["sha256"] == hashlib.sha256(content).hexdigest()
    assert dataset["original_filename"] == filename


def test_tuspy_uploads_in_chunks_and_the_upload_becomes_a_dataset(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    # given a file and a tus client with a personal token
    stack = embedded_stack
    owner, token, content, path = _user_with_token_and_file(stack, "tus", tmp_path / "cancer.csv")
    client = TusClient(f"{stack.url}/api/v1/uploads/", headers={"Authorization": f"Token {token}"})

    # when tuspy uploads it in several PATCHes
    uploader = client.uploader(
        file_path=str(path), chunk_size=16 * 1024, metadata={"filename": "cancer.csv"}
    )
    uploader.upload()

    # then the server holds every byte, says so as tus does, and makes a dataset of it
    upload_id = str(uploader.url).rstrip("/").rsplit("/", 1)[-1]
    _assert_complete_and_made_a_dataset(owner, upload_id, content, "cancer.csv")


def test_tus_js_client_uploads_in_chunks_and_the_upload_becomes_a_dataset(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    # No skip: node and the frontend's packages are what `make test` builds the frontend with.
    node = shutil.which("node")
    assert node, "node is needed to run tus-js-client (the frontend is built with it too)"
    assert (FRONTEND_MODULES / "tus-js-client").is_dir(), "run `make frontend` (npm ci) first"
    # given a file and tus-js-client's Node build with a personal token
    stack = embedded_stack
    owner, token, content, path = _user_with_token_and_file(
        stack, "tusjs", tmp_path / "cancer-js.csv"
    )
    chunk = 16 * 1024  # three PATCHes for the 35 KB file

    # when tus-js-client uploads it in several PATCHes
    ran = subprocess.run(
        [node, str(TUS_JS), f"{stack.url}/api/v1/uploads/", token, str(path), str(chunk)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr

    # then each PATCH went on from where the last stopped, the server holds every byte, and
    # the upload becomes a dataset that is profiled to READY
    sent = json.loads(ran.stdout.splitlines()[-1])
    assert sent["offsets"] == list(range(0, len(content), chunk))
    upload_id = sent["url"].rstrip("/").rsplit("/", 1)[-1]
    assert sent["url"] == f"{stack.url}/api/v1/uploads/{upload_id}/"
    _assert_complete_and_made_a_dataset(owner, upload_id, content, "cancer-js.csv")


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
