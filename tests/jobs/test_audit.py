"""The audit trail of the jobs app (issue 10): every dataset and job change, and every admin
edit, recorded with who and when, in the change's transaction; `/api/v1/audit/` shows each
user the trail of what is theirs, and staff all of it."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from jobs import services
from jobs.models import Dataset, JobEvent, TrainingJob, Upload
from models_registry.models import AuditEvent
from tests.conftest import breast_cancer_csv
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def trail(**filters: Any) -> list[tuple[str, str, str, int]]:
    return [
        (e.action, e.actor_name, e.subject_type, int(e.subject_id))
        for e in AuditEvent.objects.filter(**filters).order_by("id")
    ]


@pytest.fixture
def dataset(personas: dict[str, Any], media_root: Any) -> Dataset:
    return make_dataset(personas["owner"])


def staff_client(user: Any) -> Client:
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_dataset_created_derived_retyped_and_deleted_are_recorded(
    dataset: Dataset, api_as: Any, django_capture_on_commit_callbacks: Any
) -> None:
    before = timezone.now()
    assert trail() == [("dataset_created", "owner", "dataset", dataset.pk)]
    owner = api_as("owner")
    answer = owner.post(
        f"/api/v1/datasets/{dataset.pk}/versions/",
        {"column_types": {"mean_radius": "integer"}, "drop_columns": ["clinic"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    child = answer.json()["id"]
    derived, retyped = AuditEvent.objects.filter(subject_id=child).order_by("id")
    assert (derived.action, derived.actor_name, derived.from_value) == (
        "dataset_version_created",
        "owner",
        "v1",
    )
    assert "clinic" in derived.to_value
    assert retyped.action == "column_types_changed"
    assert json.loads(retyped.from_value) == {"mean_radius": "numeric"}
    assert json.loads(retyped.to_value) == {"mean_radius": "integer"}
    assert derived.owner_id == dataset.owner_id
    assert derived.created_at >= before

    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(f"/api/v1/datasets/{child}/").status_code == 204
    assert not Dataset.objects.filter(pk=child).exists()
    # The event outlives the dataset: its id and owner are plain values on the row.
    gone = AuditEvent.objects.get(action="dataset_deleted")
    assert (gone.subject_id, gone.actor_name, gone.owner_id) == (
        str(child),
        "owner",
        dataset.owner_id,
    )


def test_a_refused_change_records_nothing(dataset: Dataset, api_as: Any) -> None:
    job = services.job_create(owner=dataset.owner, dataset=dataset, target="diagnosis")
    # In use by a job: the delete is refused, and the trail says nothing was deleted.
    assert api_as("owner").delete(f"/api/v1/datasets/{dataset.pk}/").status_code == 409
    TrainingJob.objects.filter(pk=job.pk).update(status=TrainingJob.Status.SUCCEEDED)
    assert api_as("owner").post(f"/api/v1/jobs/{job.pk}/cancel/", {}).status_code == 409
    assert [a for a, *_ in trail()] == ["dataset_created", "job_created"]


def test_job_created_and_cancelled_with_keep_best_are_recorded(
    dataset: Dataset, api_as: Any
) -> None:
    owner = api_as("owner")
    answer = owner.post("/api/v1/jobs/", {"dataset": dataset.pk, "target": "diagnosis"})
    assert answer.status_code == 201, answer.content
    job = answer.json()["id"]
    TrainingJob.objects.filter(pk=job).update(status=TrainingJob.Status.RUNNING)
    answer = owner.post(f"/api/v1/jobs/{job}/cancel/", {"keep_best": True}, format="json")
    assert answer.status_code == 202
    assert trail(subject_type="job") == [
        ("job_created", "owner", "job", job),
        ("job_cancelled", "owner", "job", job),
    ]
    cancelled = AuditEvent.objects.get(action="job_cancelled")
    assert (cancelled.from_value, cancelled.to_value) == ("RUNNING", "cancel, keep best")


def test_the_reaper_giving_up_is_recorded_as_the_system(dataset: Dataset) -> None:
    job = services.job_create(owner=dataset.owner, dataset=dataset, target="diagnosis")
    stale = timezone.now() - datetime.timedelta(days=1)
    TrainingJob.objects.filter(pk=job.pk).update(
        status=TrainingJob.Status.RUNNING, heartbeat_at=stale, attempts=TrainingJob.MAX_ATTEMPTS
    )
    assert services.jobs_reap() == [job.pk]
    failed = AuditEvent.objects.get(action="job_failed")
    assert (failed.actor_id, failed.actor_name, failed.subject_id) == (None, "system", str(job.pk))
    assert failed.owner_id == dataset.owner_id


def test_admin_actions_saves_and_deletes_are_recorded(
    dataset: Dataset, personas: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    owner = staff_client(personas["owner"])
    job = services.job_create(owner=dataset.owner, dataset=dataset, target="diagnosis")
    url = "/admin/jobs/trainingjob/"
    owner.post(url, {"action": "cancel", "_selected_action": [job.pk]}, follow=True)
    owner.post(url, {"action": "retry", "_selected_action": [job.pk]}, follow=True)
    again = TrainingJob.objects.exclude(pk=job.pk).get()
    assert trail(subject_type="job")[1:] == [
        ("job_cancelled", "owner", "job", job.pk),
        ("job_created", "owner", "job", again.pk),
    ]

    # A form save names the fields changed, from what to what.
    upload = Upload.objects.create(owner=personas["teammate"], filename="a.csv", size=10)
    answer = owner.post(
        f"/admin/jobs/upload/{upload.pk}/change/",
        {"owner": personas["teammate"].pk, "filename": "b.csv", "size": 10, "offset": 3},
    )
    assert answer.status_code == 302, answer.content
    edit = AuditEvent.objects.get(action="admin_changed")
    assert (edit.actor_name, edit.subject_type, edit.owner_id) == (
        "owner",
        "upload",
        personas["teammate"].pk,
    )
    assert json.loads(edit.from_value) == {"filename": "a.csv", "offset": 0}
    assert json.loads(edit.to_value) == {"filename": "b.csv", "offset": 3}

    # The one-row delete and the bulk delete action.
    events = list(JobEvent.objects.filter(job=job).order_by("pk"))
    delete = f"/admin/jobs/jobevent/{events[0].pk}/delete/"
    assert owner.post(delete, {"post": "yes"}).status_code == 302
    owner.post(
        "/admin/jobs/jobevent/",
        {
            "action": "delete_selected",
            "_selected_action": [e.pk for e in events[1:]],
            "post": "yes",
        },
    )
    assert not JobEvent.objects.filter(job=job).exists()
    deleted = trail(action="admin_deleted")
    assert deleted == [("admin_deleted", "owner", "job_event", e.pk) for e in events]

    # A dataset deleted in the admin goes through the service: refused while a job uses it,
    # recorded when it goes.
    other = make_dataset(personas["owner"], breast_cancer_csv(rows=60), name="other")
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(f"/admin/jobs/dataset/{other.pk}/delete/", {"post": "yes"})
    assert not Dataset.objects.filter(pk=other.pk).exists()
    assert trail(action="dataset_deleted") == [("dataset_deleted", "owner", "dataset", other.pk)]


def test_the_audit_list_shows_each_persona_only_what_is_theirs(
    dataset: Dataset, api_as: Any, personas: dict[str, Any]
) -> None:
    job = services.job_create(owner=dataset.owner, dataset=dataset, target="diagnosis")
    services.job_cancel(job=job, actor=personas["owner"])
    theirs = make_dataset(personas["outsider"], name="theirs")

    def listed(name: str, query: str = "") -> list[tuple[str, int]]:
        page = api_as(name).get(f"/api/v1/audit/{query}")
        assert page.status_code == 200, page.content
        return [(e["action"], int(e["subject_id"])) for e in page.json()["results"]]

    assert listed("owner") == [
        ("job_cancelled", job.pk),
        ("job_created", job.pk),
        ("dataset_created", dataset.pk),
    ]
    assert listed("teammate") == []
    assert listed("outsider") == [("dataset_created", theirs.pk)]
    mine = AuditEvent.objects.get(subject_id=dataset.pk, subject_type="dataset").pk
    assert api_as("outsider").get(f"/api/v1/audit/{mine}/").status_code == 404
    assert api_as("owner").get(f"/api/v1/audit/{mine}/").json()["actor"] == "owner"
    assert api_as(None).get("/api/v1/audit/").status_code in (401, 403)

    # The shared list vocabulary: filters, ordering and cursor pages.
    assert listed("owner", "?subject_type=job&action=job_created") == [("job_created", job.pk)]
    assert listed("owner", "?actor=owner&subject_type=dataset") == [("dataset_created", dataset.pk)]
    assert listed("owner", "?actor=system") == []
    assert listed("owner", "?created_after=2999-01-01T00:00:00Z") == []
    assert len(listed("owner", "?created_before=2999-01-01T00:00:00Z")) == 3
    assert listed("owner", "?ordering=action")[0] == ("dataset_created", dataset.pk)
    first = api_as("owner").get("/api/v1/audit/?page_size=2").json()
    assert len(first["results"]) == 2
    assert first["next"]
    rest = api_as("owner").get(first["next"]).json()
    assert [e["action"] for e in rest["results"]] == ["dataset_created"]
    bad = api_as("owner").get("/api/v1/audit/?subject_type=nonsense")
    assert bad.status_code == 400
    assert set(bad.json()) == {"code", "detail", "fields"}

    # Staff read the whole trail; the registry's own list keeps to the registry's events.
    personas["teammate"].is_staff = True
    personas["teammate"].save(update_fields=["is_staff"])
    assert len(listed("teammate")) == 4
    assert api_as("owner").get("/api/v1/registry-audit/").json()["results"] == []


def test_the_admin_trail_is_read_only(personas: dict[str, Any], dataset: Dataset) -> None:
    client = staff_client(personas["owner"])
    event = AuditEvent.objects.get()
    listing = client.get("/admin/models_registry/auditevent/")
    assert listing.status_code == 200
    assert b"dataset_created" in listing.content
    assert client.get(f"/admin/models_registry/auditevent/{event.pk}/delete/").status_code == 403
    assert client.get("/admin/models_registry/auditevent/add/").status_code == 403
