"""Per-user byte budgets: one account cannot fill the disk every other user shares."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Dataset, Upload
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def test_uploads_in_progress_are_limited_per_user(
    api_as: Any, personas: dict[str, Any], media_root: Any, settings: Any
) -> None:
    settings.USER_STAGED_MAX_BYTES = 1000
    owner = api_as("owner")
    first = owner.post("/api/v1/uploads/", {"filename": "a.csv", "size": 600}, format="json")
    assert first.status_code == 201
    # Announcing more than the budget leaves is refused before anything is staged ...
    refused = owner.post("/api/v1/uploads/", {"filename": "b.csv", "size": 600}, format="json")
    assert refused.status_code == 413
    body = refused.json()
    assert body["code"] == "too_large"
    assert "limit of" in body["fields"]["size"][0]
    assert "DELETE /api/v1/uploads/" in body["fields"]["size"][0]
    assert Upload.objects.filter(owner=personas["owner"]).count() == 1
    # ... another user has a budget of their own ...
    other = api_as("outsider").post(
        "/api/v1/uploads/", {"filename": "b.csv", "size": 600}, format="json"
    )
    assert other.status_code == 201
    # ... and cancelling the first upload frees the owner's.
    assert owner.delete(f"/api/v1/uploads/{first.json()['id']}/").status_code == 204
    again = owner.post("/api/v1/uploads/", {"filename": "b.csv", "size": 600}, format="json")
    assert again.status_code == 201


def test_stored_datasets_are_limited_per_user(
    api_as: Any, personas: dict[str, Any], media_root: Any, settings: Any
) -> None:
    held = make_dataset(personas["owner"], content=b"a,b\n1,2\n3,4\n", name="pairs")
    content = b"x,y\n" + b"1,2\n" * 10
    settings.USER_STORED_MAX_BYTES = held.size_bytes + len(content) - 1
    answer = api_as("owner").post(
        "/api/v1/datasets/",
        {"file": _file("more.csv", content), "name": "more"},
        format="multipart",
    )
    assert answer.status_code == 400
    reason = answer.json()["fields"]["file"][0]
    assert f"Your datasets hold {held.size_bytes} bytes" in reason
    assert "storage limit" in reason
    assert Dataset.objects.filter(owner=personas["owner"]).count() == 1
    # The same file fits the outsider's empty budget.
    fits = api_as("outsider").post(
        "/api/v1/datasets/",
        {"file": _file("more.csv", content), "name": "more"},
        format="multipart",
    )
    assert fits.status_code == 201, fits.json()


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")
