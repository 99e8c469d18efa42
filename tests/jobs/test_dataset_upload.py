from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Dataset
from tests.conftest import breast_cancer_csv

pytestmark = pytest.mark.django_db


def _upload(api: Any, content: bytes, filename: str = "data.csv") -> Any:
    return api.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile(filename, content, "text/csv")},
        format="multipart",
    )


def _stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()]


def test_upload_records_hash_shape_and_types_under_a_server_name(
    api_as: Any, media_root: Path
) -> None:
    # given a CSV whose name tries to escape the upload folder
    content = breast_cancer_csv()

    # when the owner uploads it
    answer = _upload(api_as("owner"), content, filename="../../escape.csv")

    # then it is recorded with its hash, shape and column types
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert (body["n_rows"], body["n_columns"]) == (569, 10)
    assert {c["name"]: c["type"] for c in body["columns"]}["clinic"] == "categorical"
    # and the file is stored inside the media folder under a name the server chose
    (stored,) = _stored_files(media_root)
    assert stored.parent == media_root / "datasets"
    assert "escape" not in stored.name
    assert stored.read_bytes() == content


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
        (b"just one column\nhello\nworld\n", "single column"),
        (b"a,b,c\n", "no data rows"),
        (b"a,,c\n1,2,3\n4,5,6\n", "blank"),
        (b"a,b\n1,2\n\xff\xfe\xfa,3\n", "UTF-8"),
    ],
    ids=["empty", "blank-lines", "binary", "not-csv", "header-only", "blank-header", "undecodable"],
)
def test_bad_files_get_a_clear_400_and_leave_nothing(
    api_as: Any, media_root: Path, content: bytes, message: str
) -> None:
    # given an existing dataset that must stay untouched
    assert _upload(api_as("owner"), breast_cancer_csv()).status_code == 201
    before = _stored_files(media_root)

    # when a malformed file is uploaded
    answer = _upload(api_as("owner"), content)

    # then the answer names the problem, and no row or file is left behind
    assert answer.status_code == 400
    assert message.lower() in answer.json()["file"][0].lower()
    assert Dataset.objects.count() == 1
    assert _stored_files(media_root) == before


def test_upload_without_a_file_is_refused(api_as: Any, media_root: Path) -> None:
    answer = api_as("owner").post("/api/v1/datasets/", {}, format="multipart")
    assert answer.status_code == 400
    assert "file" in answer.json()


def test_anonymous_upload_is_refused(api_as: Any, media_root: Path) -> None:
    answer = _upload(api_as(None), breast_cancer_csv())
    assert answer.status_code in (401, 403)
    assert Dataset.objects.count() == 0
    assert _stored_files(media_root) == []


def test_datasets_are_private_to_their_owner(api_as: Any, media_root: Path) -> None:
    # given a dataset of the owner
    dataset_id = _upload(api_as("owner"), breast_cancer_csv()).json()["id"]

    # then the teammate and the outsider neither list, read nor delete it
    for name in ("teammate", "outsider"):
        api = api_as(name)
        assert api.get("/api/v1/datasets/").json()["count"] == 0
        assert api.get(f"/api/v1/datasets/{dataset_id}/").status_code == 404
        assert api.delete(f"/api/v1/datasets/{dataset_id}/").status_code == 404
    assert api_as("owner").get(f"/api/v1/datasets/{dataset_id}/").status_code == 200


def test_owner_deletes_an_unused_dataset_and_its_file(api_as: Any, media_root: Path) -> None:
    dataset_id = _upload(api_as("owner"), breast_cancer_csv()).json()["id"]
    answer = api_as("owner").delete(f"/api/v1/datasets/{dataset_id}/")
    assert answer.status_code == 204
    assert Dataset.objects.count() == 0
