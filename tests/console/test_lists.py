"""Lists: cursor pages, filters and ordering, the same on every resource."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Dataset, TrainingJob
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _all(api: Any, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = api.get(path).json()
    while True:
        assert set(page) == {"next", "previous", "results"}
        out += page["results"]
        if not page["next"]:
            return out
        page = api.get(page["next"]).json()


def test_lists_page_by_cursor_newest_first(api_as: Any, personas: Any) -> None:
    dataset = make_dataset(personas["owner"])
    jobs = [
        services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
        for _ in range(5)
    ]
    owner = api_as("owner")
    listed = _all(owner, "/api/v1/jobs/?page_size=2")
    assert [j["id"] for j in listed] == [j.pk for j in reversed(jobs)]
    # A job created between two page reads neither repeats nor hides one (offsets would).
    first = owner.get("/api/v1/jobs/?page_size=2").json()
    services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    rest = _all(owner, first["next"])
    assert [j["id"] for j in first["results"] + rest] == [j.pk for j in reversed(jobs)]
    assert _all(api_as("outsider"), "/api/v1/jobs/") == []
    bad = owner.get("/api/v1/jobs/?cursor=nonsense")
    assert bad.status_code == 404
    assert bad.json()["code"] == "not_found"


def test_jobs_filter_by_status_task_type_dataset_and_date(api_as: Any, personas: Any) -> None:
    dataset = make_dataset(personas["owner"])
    regression = services.job_create(
        owner=personas["owner"], dataset=dataset, target="mean_radius", task_type="regression"
    )
    binary = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    TrainingJob.objects.filter(pk=binary.pk).update(
        status=TrainingJob.Status.FAILED, created_at=timezone.now() - timedelta(days=3)
    )
    owner = api_as("owner")

    def ids(query: str) -> list[int]:
        return [j["id"] for j in _all(owner, f"/api/v1/jobs/?{query}")]

    assert ids("status=FAILED") == [binary.pk]
    assert ids("task_type=regression") == [regression.pk]
    assert ids(f"dataset={dataset.pk}&status=QUEUED") == [regression.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"created_after={since}") == [regression.pk]
    assert ids(f"created_before={since}") == [binary.pk]
    assert ids("ordering=created_at") == [binary.pk, regression.pk]
    refused = owner.get("/api/v1/jobs/?status=SOMETIMES")
    assert refused.status_code == 400
    assert "status" in refused.json()["fields"]


def test_datasets_filter_and_order(api_as: Any, personas: Any) -> None:
    small = make_dataset(personas["owner"], name="small cancer")
    Dataset.objects.filter(pk=small.pk).update(n_rows=10)
    big = make_dataset(personas["owner"], content=b"a,b\n1,2\n3,4\n", name="pairs")
    owner = api_as("owner")
    listed = _all(owner, "/api/v1/datasets/?ordering=n_rows")
    assert [d["id"] for d in listed] == [big.pk, small.pk]
    assert [d["id"] for d in _all(owner, "/api/v1/datasets/?name=CANCER")] == [small.pk]
    assert [d["id"] for d in _all(owner, "/api/v1/datasets/?status=READY&kind=tabular")] == [
        big.pk,
        small.pk,
    ]
    assert _all(api_as("teammate"), "/api/v1/datasets/?name=cancer") == []
