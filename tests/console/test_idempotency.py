"""Idempotency-Key: a retried create returns the first answer instead of a duplicate."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.models import TrainingJob, Upload
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _post(api: Any, path: str, body: dict[str, Any], key: str | None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(path, body, format="json", **headers)


def test_a_retried_job_create_returns_the_first_job(api_as: Any, personas: Any) -> None:
    # given a dataset and a job create sent with a key
    dataset = make_dataset(personas["owner"])
    owner = api_as("owner")
    body = {"dataset": dataset.pk, "target": "diagnosis", "budget": "quick"}
    first = _post(owner, "/api/v1/jobs/", body, "job-1")
    assert first.status_code == 201

    # when it is sent again with the same key
    again = _post(owner, "/api/v1/jobs/", body, "job-1")

    # then the first answer comes back and no second job exists
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert TrainingJob.objects.count() == 1

    # and another key, or none, creates another
    assert _post(owner, "/api/v1/jobs/", body, "job-2").json()["id"] != first.json()["id"]
    assert _post(owner, "/api/v1/jobs/", body, None).status_code == 201
    assert TrainingJob.objects.count() == 3


def test_the_same_key_on_a_different_request_is_refused(api_as: Any, personas: Any) -> None:
    owner = api_as("owner")
    _post(owner, "/api/v1/uploads/", {"filename": "a.csv", "size": 10}, "k")
    answer = _post(owner, "/api/v1/uploads/", {"filename": "b.csv", "size": 10}, "k")
    assert answer.status_code == 422
    assert answer.json()["code"] == "idempotency_key_reused"
    assert Upload.objects.count() == 1


def test_keys_are_per_user(api_as: Any, personas: Any) -> None:
    body = {"filename": "a.csv", "size": 10}
    mine = _post(api_as("owner"), "/api/v1/uploads/", body, "shared-key")
    theirs = _post(api_as("outsider"), "/api/v1/uploads/", body, "shared-key")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert api_as("outsider").get(f"/api/v1/uploads/{mine.json()['id']}/").status_code == 404


def test_a_refused_create_is_not_remembered(api_as: Any, personas: Any) -> None:
    owner = api_as("owner")
    dataset = make_dataset(personas["owner"])
    bad = _post(owner, "/api/v1/jobs/", {"dataset": dataset.pk}, "retry-me")
    assert bad.status_code == 400
    # The same request still fails the same way; a fixed one with a new key succeeds.
    assert _post(owner, "/api/v1/jobs/", {"dataset": dataset.pk}, "retry-me").status_code == 400
    body = {"dataset": dataset.pk, "target": "diagnosis"}
    assert _post(owner, "/api/v1/jobs/", body, "fixed").status_code == 201


def test_an_overlong_key_is_a_400(api_as: Any) -> None:
    answer = _post(api_as("owner"), "/api/v1/uploads/", {"filename": "a", "size": 1}, "k" * 300)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["detail"]
