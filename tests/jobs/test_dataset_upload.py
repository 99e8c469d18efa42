from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Dataset
from jobs.tasks import profile_dataset
from tests.conftest import breast_cancer_csv

pytestmark = pytest.mark.django_db


def _upload(api: Any, content: bytes, filename: str = "data.csv") -> Any:
    return api.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile(filename, content, "text/csv")},
        format="multipart",
    )


def _profiled(api: Any, dataset_id: int) -> dict[str, Any]:
    """Run the profiling task as the worker would, then read the dataset back."""
    profile_dataset(dataset_id)
    return dict(api.get(f"/api/v1/datasets/{dataset_id}/").json())


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
    assert answer.json()["status"] == "PENDING"
    body = _profiled(api_as("owner"), answer.json()["id"])
    assert body["status"] == "READY", body["error"]
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert (body["n_rows"], body["n_columns"]) == (569, 10)
    assert {c["name"]: c["type"] for c in body["columns"]}["clinic"] == "categorical"
    # and the file is stored inside the media folder under a name the server chose
    (stored,) = _stored_files(media_root)
    assert stored.parent == media_root / "datasets"
    assert "escape" not in stored.name
    assert stored.read_bytes() == content


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"", {}, "empty"),
        (b"   \n\n", {}, "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, {}, "not a table"),
        (b"MZ\x90\x00" + bytes(range(256)) * 8, {}, "not a table"),
        (b"just one column\nhello\nworld\n", {}, "does not look delimited"),
        (b"a,b,c\n", {}, "no data rows"),
        (b"a,,c\n1,2,3\n4,5,6\n", {}, "blank"),
        (b"a,b,a\n1,2,3\n4,5,6\n", {}, "must be unique"),
        (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", {}, "row"),
        (b"a,b\n1,2\n\xff\xfe\xfa,3\n", {"encoding": "utf-8"}, "utf-8"),
    ],
    ids=[
        "empty",
        "blank-lines",
        "png-renamed",
        "exe-renamed",
        "not-delimited",
        "header-only",
        "blank-header",
        "duplicate-header",
        "ragged",
        "undecodable",
    ],
)
def test_bad_files_get_a_clear_400_and_leave_nothing(
    api_as: Any, media_root: Path, content: bytes, options: dict[str, str], message: str
) -> None:
    # given an existing dataset that must stay untouched
    assert _upload(api_as("owner"), breast_cancer_csv()).status_code == 201
    before = _stored_files(media_root)

    # when a malformed file is uploaded
    answer = api_as("owner").post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("data.csv", content, "text/csv"), **options},
        format="multipart",
    )

    # then the answer names the problem, and no row or file is left behind
    assert answer.status_code == 400
    assert message.lower() in answer.json()["fields"]["file"][0].lower()
    assert Dataset.objects.count() == 1
    assert _stored_files(media_root) == before


def test_latin1_is_detected_and_kept(api_as: Any, media_root: Path) -> None:
    content = "name,city\n" + "".join(f"Zoë {i},Köln\n" for i in range(20))
    answer = _upload(api_as("owner"), content.encode("latin-1"))
    assert answer.status_code == 201, answer.content
    assert answer.json()["encoding"] in ("latin-1", "cp1252")
    body = _profiled(api_as("owner"), answer.json()["id"])
    assert body["status"] == "READY", body["error"]


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    api_as: Any, media_root: Path, settings: Any
) -> None:
    settings.DATASET_MAX_BYTES = 1000
    answer = _upload(api_as("owner"), b"a,b\n" + b"1,2\n" * 300_000)
    assert answer.status_code == 413
    assert "limit is 1000" in answer.json()["fields"]["file"][0]
    assert Dataset.objects.count() == 0


def test_upload_without_a_file_is_refused(api_as: Any, media_root: Path) -> None:
    answer = api_as("owner").post("/api/v1/datasets/", {}, format="multipart")
    assert answer.status_code == 400
    assert "Send either a file" in answer.json()["fields"]["non_field_errors"][0]


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
        assert api.get("/api/v1/datasets/").json()["results"] == []
        assert api.get(f"/api/v1/datasets/{dataset_id}/").status_code == 404
        assert api.delete(f"/api/v1/datasets/{dataset_id}/").status_code == 404
    assert api_as("owner").get(f"/api/v1/datasets/{dataset_id}/").status_code == 200


def test_owner_deletes_an_unused_dataset_and_its_file(api_as: Any, media_root: Path) -> None:
    dataset_id = _upload(api_as("owner"), breast_cancer_csv()).json()["id"]
    answer = api_as("owner").delete(f"/api/v1/datasets/{dataset_id}/")
    assert answer.status_code == 204
    assert Dataset.objects.count() == 0
