"""Lists: cursor pages, filters and ordering, the same on every resource."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobs import services
from jobs.models import Dataset, TrainingJob
from models_registry.models import (
    AuditEvent,
    Deployment,
    Membership,
    ModelVersion,
    RegisteredModel,
    Workspace,
)
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
    # a search matches the target or the dataset's name, whatever the case
    assert ids("search=RADIUS") == [regression.pk]
    assert ids(f"search={dataset.name[:4].upper()}") == [regression.pk, binary.pk]
    assert ids("search=nowhere") == []
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


def _back(api: Any, path: str) -> list[dict[str, Any]]:
    """From the last page, every row again by following `previous` links."""
    page = api.get(path).json()
    while page["next"]:
        page = api.get(page["next"]).json()
    out: list[dict[str, Any]] = list(page["results"])
    while page["previous"]:
        page = api.get(page["previous"]).json()
        out = page["results"] + out
    return out


def _version(
    owner: Any, metrics: dict[str, Any], model: str = "cancer", task_type: str = "binary"
) -> Any:
    """A registered version as the registry records it (no search: lists read only rows)."""
    dataset = Dataset.objects.filter(owner=owner).first() or make_dataset(owner)
    job = TrainingJob.objects.create(
        owner=owner, dataset=dataset, dataset_sha256=dataset.sha256, target="diagnosis",
        task_type=task_type, status=TrainingJob.Status.SUCCEEDED, test_metrics=metrics,
    )  # fmt: skip
    registered, _ = RegisteredModel.objects.get_or_create(
        owner=owner, name=model, defaults={"task_type": task_type}
    )
    return ModelVersion.objects.create(
        model=registered, version=registered.versions.count() + 1, job=job, dataset=dataset,
        artifact="models/x.keras", artifact_sha256="0" * 64, task_type=task_type,
        target="diagnosis", metrics=metrics,
    )  # fmt: skip


def test_versions_order_by_a_metric_with_ties_and_nulls_across_cursor_pages(
    api_as: Any, personas: Any
) -> None:
    scores: list[Any] = [0.9, 0.8, 0.9, None, 0.7, 0.9, [1, 2], "high", 1]
    versions = [
        _version(personas["owner"], {"accuracy": s} if s is not None else {"rmse": 2.0})
        for s in scores
    ]
    number = {v.pk: v.metrics.get("accuracy") for v in versions}
    numeric = {pk: s for pk, s in number.items() if isinstance(s, int | float)}
    missing = sorted((pk for pk in number if pk not in numeric), reverse=True)
    owner = api_as("owner")

    def ids(rows: list[dict[str, Any]]) -> list[int]:
        return [r["id"] for r in rows]

    # Best first, ties newest first, versions without a numeric accuracy last.
    best_first = [*sorted(numeric, key=lambda pk: (-numeric[pk], -pk)), *missing]
    walk = "/api/v1/model-versions/?metric=accuracy&ordering=-metric&page_size=2"
    assert ids(_all(owner, walk)) == best_first
    assert ids(_back(owner, walk)) == best_first
    # Ascending keeps those without one last too (PostgreSQL would put NULLs first).
    worst_first = [*sorted(numeric, key=lambda pk: (numeric[pk], pk)), *sorted(missing)]
    rising = "/api/v1/model-versions/?metric=accuracy&ordering=metric&page_size=2"
    assert ids(_all(owner, rising)) == worst_first
    assert ids(_back(owner, rising)) == worst_first

    def listed(query: str) -> set[int]:
        return set(ids(_all(owner, f"/api/v1/model-versions/?{query}")))

    assert listed("metric=accuracy&min_metric=0.8") == {pk for pk, s in numeric.items() if s >= 0.8}
    assert listed("metric=accuracy&min_metric=0.75&max_metric=0.85") == {versions[1].pk}
    assert listed("metric=rmse&max_metric=5") == {versions[3].pk}
    # The metric alone chooses, it does not filter.
    assert listed("metric=accuracy") == set(number)
    for query, field in [
        ("min_metric=0.5", "min_metric"),
        ("metric=acc'uracy", "metric"),
        ("ordering=-metric", "ordering"),
        ("metric=accuracy&ordering=-score", "ordering"),
        ("metric=accuracy&max_metric=lots", "max_metric"),
    ]:
        refused = owner.get(f"/api/v1/model-versions/?{query}")
        assert refused.status_code == 400, query
        body = refused.json()
        assert body["code"] == "invalid"
        assert list(body["fields"]) == [field], query


def test_jobs_order_by_their_test_metric_and_by_dates_that_may_be_missing(
    api_as: Any, personas: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    jobs = [
        services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
        for _ in range(5)
    ]
    for job, rmse in zip(jobs, [3.0, None, 1.0, 3.0, None], strict=True):
        TrainingJob.objects.filter(pk=job.pk).update(
            test_metrics={"rmse": rmse} if rmse is not None else {}
        )
    started = timezone.now() - timedelta(hours=1)
    TrainingJob.objects.filter(pk__in=[jobs[0].pk, jobs[2].pk]).update(started_at=started)
    owner = api_as("owner")
    pks = [j.pk for j in jobs]

    def ids(query: str) -> list[int]:
        return [j["id"] for j in _all(owner, f"/api/v1/jobs/?page_size=2&{query}")]

    assert ids("metric=rmse&ordering=metric") == [pks[2], pks[0], pks[3], pks[1], pks[4]]
    assert ids("metric=rmse&ordering=-metric") == [pks[3], pks[0], pks[2], pks[4], pks[1]]
    assert ids("metric=rmse&min_metric=2") == [pks[3], pks[0]]
    # Jobs not started yet have no started_at: they come last, and every page still reads.
    assert ids("ordering=started_at") == [pks[0], pks[2], pks[1], pks[3], pks[4]]
    assert ids("ordering=-status,-started_at") == [pks[2], pks[0], pks[4], pks[3], pks[1]]
    assert ids(f"owner={personas['owner'].username}") == list(reversed(pks))
    assert ids("owner=teammate") == []
    refused = owner.get("/api/v1/jobs/?ordering=target")
    assert refused.status_code == 400
    assert "ordering" in refused.json()["fields"]
    assert "started_at" in refused.json()["detail"]


def test_owner_narrows_what_a_workspace_shares_and_never_widens_it(
    api_as: Any, personas: Any
) -> None:
    shared = _version(personas["owner"], {"accuracy": 0.9})
    private = _version(personas["owner"], {"accuracy": 0.8}, model="private")
    theirs = _version(personas["teammate"], {"accuracy": 0.7})
    workspace = Workspace.objects.create(name="team", created_by=personas["owner"])
    Membership.objects.create(workspace=workspace, user=personas["owner"], role="admin")
    Membership.objects.create(workspace=workspace, user=personas["teammate"], role="viewer")
    RegisteredModel.objects.filter(pk=shared.model_id).update(workspace=workspace)
    deployed = Deployment.objects.create(
        owner=personas["owner"], name="cancer", model_version=shared
    )
    Deployment.objects.create(owner=personas["owner"], name="hidden", model_version=private)
    AuditEvent.objects.create(
        actor=personas["owner"], actor_name="owner", action="deployed", model=shared.model,
        deployment=deployed, subject="cancer",
    )  # fmt: skip

    def ids(who: str, path: str) -> list[int]:
        return sorted(row["id"] for row in _all(api_as(who), path))

    teammate = "teammate"
    assert ids(teammate, "/api/v1/model-versions/?owner=owner") == [shared.pk]
    assert ids(teammate, "/api/v1/model-versions/?owner=teammate") == [theirs.pk]
    assert ids(teammate, "/api/v1/model-versions/") == sorted([shared.pk, theirs.pk])
    assert ids(teammate, "/api/v1/models/?owner=owner") == [shared.model_id]
    assert ids(teammate, "/api/v1/deployments/?owner=owner") == [deployed.pk]
    assert len(ids(teammate, "/api/v1/registry-audit/?owner=owner&actor=owner")) == 1
    assert ids("owner", "/api/v1/model-versions/?owner=owner") == sorted([shared.pk, private.pk])
    assert ids("owner", "/api/v1/model-versions/?owner=teammate") == []
    for path in ["model-versions", "models", "deployments", "registry-audit"]:
        assert ids("outsider", f"/api/v1/{path}/?owner=owner") == [], path
    # Ids of what one may not see find nothing, as ids that do not exist do.
    assert ids("outsider", f"/api/v1/model-versions/?model={shared.model_id}") == []
    assert ids("outsider", "/api/v1/model-versions/?model=999999") == []
    assert api_as("outsider").get("/api/v1/model-versions/?model=x").status_code == 400


def test_registry_lists_filter_by_created_date_task_type_and_status(
    api_as: Any, personas: Any
) -> None:
    old = _version(personas["owner"], {"accuracy": 0.9})
    new = _version(personas["owner"], {"rmse": 1.0}, model="r", task_type="regression")
    long_ago = timezone.now() - timedelta(days=3)
    RegisteredModel.objects.filter(pk=old.model_id).update(created_at=long_ago)
    ModelVersion.objects.filter(pk=old.pk).update(created_at=long_ago)
    gone = Deployment.objects.create(
        owner=personas["owner"], name="old", model_version=old, status="UNDEPLOYED"
    )
    Deployment.objects.filter(pk=gone.pk).update(created_at=long_ago)
    live = Deployment.objects.create(owner=personas["owner"], name="new", model_version=new)
    for deployment, when in [(gone, long_ago), (live, timezone.now())]:
        event = AuditEvent.objects.create(
            actor=personas["owner"], actor_name="owner", action="deployed",
            model=deployment.model_version.model, deployment=deployment, subject="x",
        )  # fmt: skip
        AuditEvent.objects.filter(pk=event.pk).update(created_at=when)
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    owner = api_as("owner")

    def ids(path: str) -> list[int]:
        return [row["id"] for row in _all(owner, f"/api/v1/{path}")]

    for path, before, after in [
        ("models/", old.model_id, new.model_id),
        ("model-versions/", old.pk, new.pk),
        ("deployments/", gone.pk, live.pk),
    ]:
        assert ids(f"{path}?created_after={since}") == [after], path
        assert ids(f"{path}?created_before={since}") == [before], path
    audit = ids(f"registry-audit/?created_before={since}")
    assert len(audit) == 1
    assert ids(f"registry-audit/?deployment={gone.pk}") == audit
    assert ids("models/?task_type=regression") == [new.model_id]
    assert ids("model-versions/?task_type=binary") == [old.pk]
    assert ids("deployments/?task_type=regression") == [live.pk]
    assert ids("deployments/?status=UNDEPLOYED") == [gone.pk]
    assert ids("deployments/?name=NE") == [live.pk]
    assert ids(f"deployments/?model={old.model_id}") == [gone.pk]
    assert ids("deployments/?ordering=name") == [live.pk, gone.pk]
    assert ids("model-versions/?ordering=created_at") == [old.pk, new.pk]
    for path in ["models/?ordering=owner", "deployments/?status=SOMETIMES",
                 "registry-audit/?action=exploded", "models/?task_type=poetry",
                 "models/?created_after=yesterday"]:  # fmt: skip
        refused = owner.get(f"/api/v1/{path}")
        assert refused.status_code == 400, path
        assert set(refused.json()) == {"code", "detail", "fields"}
