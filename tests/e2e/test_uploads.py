"""Resumable uploads against the real web process: dropped connections, offsets, limits."""

from __future__ import annotations

import hashlib
import socket
import time
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import breast_cancer_csv
from tests.e2e import flow
from tests.stack import Stack

pytestmark = pytest.mark.stack

OCTETS = "application/offset+octet-stream"


def _start(client: httpx.Client, filename: str, size: int) -> dict[str, Any]:
    answer = client.post("/api/v1/uploads/", json={"filename": filename, "size": size})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _patch(client: httpx.Client, upload_id: str, offset: int, body: bytes) -> httpx.Response:
    return client.patch(
        f"/api/v1/uploads/{upload_id}/",
        content=body,
        headers={"Upload-Offset": str(offset), "Content-Type": OCTETS},
    )


def _send_half_then_drop(stack: Stack, upload_id: str, user: str, content: bytes) -> None:
    """A PATCH announcing the whole file whose connection dies halfway."""
    url = urlparse(stack.url)
    head = (
        f"PATCH /api/v1/uploads/{upload_id}/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Token {stack.tokens[user]}\r\nUpload-Offset: 0\r\n"
        f"Content-Type: {OCTETS}\r\nContent-Length: {len(content)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port or 80)) as raw:
        raw.sendall(head + content[: len(content) // 2])
        time.sleep(0.5)


def _offset_after_drop(client: httpx.Client, upload_id: str) -> int:
    deadline = time.monotonic() + 10
    offset = 0
    while time.monotonic() < deadline:
        answer = client.get(f"/api/v1/uploads/{upload_id}/")
        offset = int(answer.headers["Upload-Offset"])
        if offset:
            return offset
        time.sleep(0.2)
    return offset


def test_an_upload_resumes_after_a_dropped_connection(embedded_stack: Stack) -> None:
    # given a file announced for a resumable upload
    client = embedded_stack.client("owner")
    content = breast_cancer_csv().replace(b"north", b"west")  # ~60 kB, unlike other tests
    upload = _start(client, "resumed.csv", len(content))

    # when the connection drops halfway through the bytes
    _send_half_then_drop(embedded_stack, upload["id"], "owner", content)

    # then the server kept what arrived and says where to resume
    offset = _offset_after_drop(client, upload["id"])
    assert 0 < offset <= len(content) // 2

    # when the client resumes from there
    answer = _patch(client, upload["id"], offset, content[offset:])
    assert answer.status_code == 204, answer.text
    assert int(answer.headers["Upload-Offset"]) == len(content)

    # then the dataset made of it has the whole file's hash and every row
    created = client.post("/api/v1/datasets/", json={"upload": upload["id"], "name": "resumed"})
    assert created.status_code == 201, created.text
    assert created.json()["sha256"] == hashlib.sha256(content).hexdigest()
    dataset = flow.wait_dataset(client, created.json()["id"])
    assert dataset["status"] == "READY", dataset["error"]
    assert dataset["n_rows"] == 569
    # and the upload is gone once used
    assert client.get(f"/api/v1/uploads/{upload['id']}/").status_code == 404


def test_a_request_while_another_sends_to_the_upload_is_told_to_retry(
    embedded_stack: Stack,
) -> None:
    # given a PATCH whose body is under way (the connection open, more bytes to come)
    client = embedded_stack.client("owner")
    content = breast_cancer_csv().replace(b"north", b"east")
    upload = _start(client, "locked.csv", len(content))
    url = urlparse(embedded_stack.url)
    head = (
        f"PATCH /api/v1/uploads/{upload['id']}/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Token {embedded_stack.tokens['owner']}\r\nUpload-Offset: 0\r\n"
        f"Content-Type: {OCTETS}\r\nContent-Length: {len(content)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port or 80)) as raw:
        raw.sendall(head + content[:1000])

        # when another request comes for the same upload meanwhile, it is told to retry
        # (its offset is wrong on purpose: until the first holds the upload, it gets a 409
        # and writes nothing)
        deadline = time.monotonic() + 10
        answer = _patch(client, upload["id"], 5, b"x")
        while answer.status_code == 409 and time.monotonic() < deadline:
            answer = _patch(client, upload["id"], 5, b"x")
        assert answer.status_code == 423, answer.text
        assert answer.headers["Tus-Resumable"] == "1.0.0"

    # then, once the first is over, the upload resumes from what the first stored
    offset = _offset_after_drop(client, upload["id"])
    assert offset == 1000
    answer = _patch(client, upload["id"], offset, content[offset:])
    assert answer.status_code == 204, answer.text
    created = client.post("/api/v1/datasets/", json={"upload": upload["id"], "name": "locked"})
    assert created.status_code == 201, created.text
    assert created.json()["sha256"] == hashlib.sha256(content).hexdigest()


def test_offsets_and_sizes_are_enforced(embedded_stack: Stack) -> None:
    client = embedded_stack.client("owner")
    upload = _start(client, "small.csv", 10)

    wrong = _patch(client, upload["id"], 5, b"abcde")
    assert wrong.status_code == 409
    assert wrong.headers["Upload-Offset"] == "0"

    too_much = _patch(client, upload["id"], 0, b"x" * 11)
    assert too_much.status_code == 413
    assert "10 bytes" in too_much.json()["detail"]

    not_octets = client.patch(
        f"/api/v1/uploads/{upload['id']}/", content=b"abc", headers={"Upload-Offset": "0"}
    )
    assert not_octets.status_code == 415

    incomplete = client.post("/api/v1/datasets/", json={"upload": upload["id"]})
    assert incomplete.status_code == 400
    assert "send the rest" in incomplete.json()["fields"]["file"][0]


def test_an_upload_over_the_limit_is_refused_before_any_byte(embedded_stack: Stack) -> None:
    answer = embedded_stack.client("owner").post(
        "/api/v1/uploads/", json={"filename": "huge.csv", "size": 50 << 30}
    )
    assert answer.status_code == 413
    assert "limit" in answer.json()["fields"]["size"][0]


def test_uploads_are_private(embedded_stack: Stack) -> None:
    upload = _start(embedded_stack.client("owner"), "mine.csv", 10)
    outsider = embedded_stack.client("outsider")
    assert _patch(outsider, upload["id"], 0, b"0123456789").status_code == 404
    assert outsider.get(f"/api/v1/uploads/{upload['id']}/").status_code == 404
    assert _patch(embedded_stack.client(), upload["id"], 0, b"0123456789").status_code == 401
    owner = embedded_stack.client("owner")
    assert owner.get(f"/api/v1/uploads/{upload['id']}/").json()["offset"] == 0


def test_session_patches_need_the_csrf_header(embedded_stack: Stack) -> None:
    # given a browser-like session
    with httpx.Client(base_url=embedded_stack.url, timeout=30) as browser:
        browser.get("/login/")
        token = browser.cookies["csrftoken"]
        signed_in = browser.post(
            "/login/",
            data={
                "username": "owner",
                "password": embedded_stack.passwords["owner"],
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": f"{embedded_stack.url}/login/"},
        )
        assert signed_in.status_code == 302
        csrf = browser.cookies["csrftoken"]
        created = browser.post(
            "/api/v1/uploads/",
            json={"filename": "s.csv", "size": 3},
            headers={"X-CSRFToken": csrf},
        )
        assert created.status_code == 201, created.text
        upload_id = created.json()["id"]

        # when a PATCH comes without the CSRF header, then it is refused
        headers = {"Upload-Offset": "0", "Content-Type": OCTETS}
        refused = browser.patch(f"/api/v1/uploads/{upload_id}/", content=b"a,b", headers=headers)
        assert refused.status_code == 403
        # and with it, accepted
        accepted = browser.patch(
            f"/api/v1/uploads/{upload_id}/",
            content=b"a,b",
            headers={**headers, "X-CSRFToken": csrf, "Referer": f"{embedded_stack.url}/"},
        )
        assert accepted.status_code == 204


def test_a_wrong_encoding_keeps_the_upload_for_another_try(embedded_stack: Stack) -> None:
    client = embedded_stack.client("owner")
    content = "name,city,score\n" + "".join(f"Zoë {i},Köln,{i}\n" for i in range(40))
    data = content.encode("latin-1")
    upload = _start(client, "latin.csv", len(data))
    assert _patch(client, upload["id"], 0, data).status_code == 204

    forced = client.post("/api/v1/datasets/", json={"upload": upload["id"], "encoding": "utf-8"})
    assert forced.status_code == 400
    assert "utf-8" in forced.json()["fields"]["file"][0].lower()

    retried = client.post("/api/v1/datasets/", json={"upload": upload["id"], "encoding": "latin-1"})
    assert retried.status_code == 201, retried.text
    dataset = flow.wait_dataset(client, retried.json()["id"])
    assert dataset["status"] == "READY", dataset["error"]
    rows = client.get(f"/api/v1/datasets/{dataset['id']}/rows/?limit=1").json()["rows"]
    assert rows[0]["city"] == "Köln"


def test_an_identical_file_is_recognised(embedded_stack: Stack) -> None:
    client = embedded_stack.client("teammate")
    content = breast_cancer_csv(rows=100)
    first = client.post("/api/v1/datasets/", files={"file": ("a.csv", content, "text/csv")})
    again = client.post("/api/v1/datasets/", files={"file": ("b.csv", content, "text/csv")})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["existing"] is True
    assert again.json()["id"] == first.json()["id"]
