"""Image archives, versions, previews and exports through the REST API, profiled as the
worker would (the profiling task is called directly)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from jobs.models import Dataset, DatasetEvent
from jobs.tasks import profile_dataset
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _png(size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip_bytes(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _upload_and_profile(api: Any, content: bytes, filename: str) -> dict[str, Any]:
    answer = api.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile(filename, content, "application/zip")},
        format="multipart",
    )
    assert answer.status_code == 201, answer.content
    profile_dataset(answer.json()["id"])
    return dict(api.get(f"/api/v1/datasets/{answer.json()['id']}/").json())


def test_an_image_archive_is_profiled(api_as: Any, media_root: Path) -> None:
    entries = {
        "cats/a.png": _png((8, 6)),
        "cats/b.png": _png((8, 6), "L"),
        "dogs/a.png": _png((16, 9)),
        "dogs/broken.png": _png()[:30],
    }
    dataset = _upload_and_profile(api_as("owner"), _zip_bytes(entries), "pets.zip")
    assert (dataset["kind"], dataset["status"]) == ("image", "READY")
    images = dataset["profile"]["images"]
    assert images["classes"] == {"cats": 2, "dogs": 1}
    assert images["modes"] == {"RGB": 2, "L": 1}
    assert [u["name"] for u in images["unreadable"]] == ["dogs/broken.png"]


ZERO_BOMB = b"\0" * (64 << 20)


@pytest.mark.parametrize(
    ("entries", "symlink", "message"),
    [
        ({"cats/a.png": _png(), "dogs/../../evil.png": _png()}, None, ".."),
        ({"cats/a.png": _png(), "/etc/evil.png": _png()}, None, "absolute"),
        ({"cats/a.png": _png(), "dogs/b.png": _png()}, "dogs/link.png", "link"),
        ({"cats/a.png": _png(), "cats/b.png": _png()}, None, "two classes"),
        ({"cats/a.png": _png(), "dogs/bomb.png": ZERO_BOMB}, None, "bomb"),
    ],
    ids=["dot-dot", "absolute", "symlink", "one-class", "zip-bomb"],
)
def test_unsafe_or_unusable_archives_fail_with_the_reason(
    api_as: Any,
    personas: dict[str, Any],
    media_root: Path,
    entries: dict[str, bytes],
    symlink: str | None,
    message: str,
) -> None:
    # given a healthy dataset of the same owner
    healthy = make_dataset(personas["owner"])

    # when the archive is uploaded and profiled
    dataset = _upload_and_profile(api_as("owner"), _zip_bytes(entries, symlink), "bad.zip")

    # then it is FAILED with the reason, nothing was extracted, and the other dataset is fine
    assert dataset["status"] == "FAILED"
    assert message in dataset["error"].lower()
    assert not (media_root.parent / "evil.png").exists()
    assert not list(media_root.rglob("*.png"))
    assert Dataset.objects.get(pk=healthy.pk).status == "READY"
    kinds = list(
        DatasetEvent.objects.filter(dataset_id=dataset["id"]).values_list("kind", flat=True)
    )
    assert kinds[0] == "dataset_status"
    assert kinds[-1] == "dataset_status"


def test_a_decompression_bomb_image_is_listed_as_unreadable(api_as: Any, media_root: Path) -> None:
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, format="PNG")
    entries = {"cats/a.png": _png(), "cats/bomb.png": buffer.getvalue(), "dogs/a.png": _png()}
    dataset = _upload_and_profile(api_as("owner"), _zip_bytes(entries), "bomb.zip")
    assert dataset["status"] == "READY"
    (unreadable,) = dataset["profile"]["images"]["unreadable"]
    assert unreadable["name"] == "cats/bomb.png"
    assert "pixels" in unreadable["reason"]


def test_versions_drop_columns_relabel_and_keep_lineage(
    api_as: Any, personas: dict[str, Any], media_root: Path
) -> None:
    # given a profiled dataset
    parent = make_dataset(personas["owner"])
    api = api_as("owner")

    # when a version drops a column and renames the labels
    answer = api.post(
        f"/api/v1/datasets/{parent.pk}/versions/",
        {
            "drop_columns": ["clinic"],
            "relabel_column": "diagnosis",
            "relabel": {"benign": "B", "malignant": "M"},
        },
        format="json",
    )

    # then a new immutable version is linked to its parent, and the parent is unchanged
    assert answer.status_code == 201, answer.content
    child_id = answer.json()["id"]
    profile_dataset(child_id)
    child = api.get(f"/api/v1/datasets/{child_id}/").json()
    assert (child["version"], child["parent"], child["status"]) == (2, parent.pk, "READY")
    assert "clinic" not in [c["name"] for c in child["columns"]]
    top = next(c for c in child["profile"]["columns"] if c["name"] == "diagnosis")["top"]
    assert {t["value"] for t in top} == {"B", "M"}
    assert [d["version"] for d in api.get(f"/api/v1/datasets/{parent.pk}/versions/").json()] == [
        1,
        2,
    ]
    parent.refresh_from_db()
    assert "clinic" in [c["name"] for c in parent.columns]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "at least one change"),
        ({"drop_columns": ["nope"]}, "not in the dataset"),
        ({"relabel": {"a": "b"}}, "relabel_column"),
    ],
)
def test_bad_version_requests_get_a_400(
    api_as: Any, personas: dict[str, Any], media_root: Path, body: dict[str, Any], message: str
) -> None:
    parent = make_dataset(personas["owner"])
    answer = api_as("owner").post(f"/api/v1/datasets/{parent.pk}/versions/", body, format="json")
    assert answer.status_code == 400
    assert message in str(answer.json())
    assert Dataset.objects.count() == 1


def test_rows_are_previewed_page_by_page(
    api_as: Any, personas: dict[str, Any], media_root: Path
) -> None:
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    first = api.get(f"/api/v1/datasets/{dataset.pk}/rows/?offset=0&limit=10").json()
    last = api.get(f"/api/v1/datasets/{dataset.pk}/rows/?offset=560&limit=10").json()
    assert (first["count"], len(first["rows"]), first["next_offset"]) == (569, 10, 10)
    assert (len(last["rows"]), last["next_offset"]) == (9, None)
    assert first["rows"][0]["clinic"] == "north"
    assert api.get(f"/api/v1/datasets/{dataset.pk}/rows/?limit=5000").status_code == 400
    assert api_as("outsider").get(f"/api/v1/datasets/{dataset.pk}/rows/").status_code == 404


def test_export_neutralises_formulas(
    api_as: Any, personas: dict[str, Any], media_root: Path
) -> None:
    content = b"name,amount,label\n" + b"".join(
        f'=HYPERLINK("x"){i},{-i - 0.5},{"@SUM(A1)" if i % 2 else "+cmd"}\n'.encode()
        for i in range(20)
    )
    dataset = make_dataset(personas["owner"], content, filename="evil.csv")
    answer = api_as("owner").get(f"/api/v1/datasets/{dataset.pk}/export/")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert rows[0] == ["name", "amount", "label"]
    assert rows[1] == ['\'=HYPERLINK("x")0', "-0.5", "'+cmd"]
    assert rows[2][2] == "'@SUM(A1)"
    assert len(rows) == 21


def test_a_dataset_used_by_a_model_version_cannot_be_deleted(
    api_as: Any, personas: dict[str, Any], media_root: Path
) -> None:
    dataset = make_dataset(personas["owner"])
    from jobs.models import TrainingJob
    from models_registry.models import ModelVersion, RegisteredModel

    job = TrainingJob.objects.create(
        owner=personas["owner"], dataset=dataset, dataset_sha256=dataset.sha256, target="x",
        task_type="binary",
    )  # fmt: skip
    model = RegisteredModel.objects.create(owner=personas["owner"], name="m", task_type="binary")
    ModelVersion.objects.create(
        model=model, version=1, job=job, dataset=dataset, artifact="models/x.keras",
        artifact_sha256="0" * 64, task_type="binary", target="x",
    )  # fmt: skip
    answer = api_as("owner").delete(f"/api/v1/datasets/{dataset.pk}/")
    assert answer.status_code == 409
    assert "1 model version" in answer.json()["detail"]


def test_a_stored_table_is_read_as_its_row_says_without_detecting_it_again(
    api_as: Any, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a headerless, semicolon-delimited Latin-1 file, checked once at upload
    api = api_as("owner")
    text = "".join(f"café {i};{i * 1.5};{'oui' if i % 2 else 'non'}\n" for i in range(60))
    answer = api.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("plain.txt", text.encode("latin-1"), "text/plain"),
         "encoding": "latin-1", "header": "false"},
        format="multipart",
    )  # fmt: skip
    assert answer.status_code == 201, answer.content
    dataset_id = answer.json()["id"]
    profile_dataset(dataset_id)
    stored = Dataset.objects.get(pk=dataset_id)
    assert (stored.status, stored.delimiter, stored.encoding) == ("READY", ";", "latin-1")

    # when its rows are read and a version is made, with detection unavailable
    def detect_again(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the file was inspected again although its row says its format")

    monkeypatch.setattr("jobs.selectors.inspect_table", detect_again)
    rows = api.get(f"/api/v1/datasets/{dataset_id}/rows/?offset=59&limit=5").json()["rows"]
    names = [c["name"] for c in stored.columns]
    version = api.post(
        f"/api/v1/datasets/{dataset_id}/versions/", {"drop_columns": [names[2]]}, format="json"
    )

    # then both read it as the upload's check found it
    assert rows == [{names[0]: "café 59", names[1]: 88.5, names[2]: "oui"}]
    assert version.status_code == 201, version.content
