"""The jobs admin: trials inline, cancel and retry through the jobs services (own jobs only),
and a dataset's profile readable."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from jobs import services
from jobs.models import TrainingJob
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(personas: dict[str, Any]) -> Any:
    def client(name: str) -> Client:
        User.objects.filter(pk=personas[name].pk).update(is_staff=True, is_superuser=True)
        signed_in = Client()
        signed_in.force_login(personas[name])
        return signed_in

    return client


@pytest.fixture
def job(personas: dict[str, Any], media_root: Any) -> TrainingJob:
    dataset = make_dataset(personas["owner"])
    return services.job_create(
        owner=personas["owner"], dataset=dataset, target="diagnosis", max_trials=2, seed=7
    )


URL = "/admin/jobs/trainingjob/"


def test_cancel_and_retry_go_through_the_services_for_the_owner_only(
    job: TrainingJob, staff: Any
) -> None:
    outsider = staff("outsider").post(
        URL, {"action": "cancel", "_selected_action": [job.pk]}, follow=True
    )
    assert b"Only your own jobs" in outsider.content
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.QUEUED

    owner = staff("owner")
    answer = owner.post(URL, {"action": "cancel", "_selected_action": [job.pk]}, follow=True)
    assert f"Cancelling job {job.pk}".encode() in answer.content
    job.refresh_from_db()
    assert job.status == TrainingJob.Status.CANCELLED

    answer = owner.post(URL, {"action": "retry", "_selected_action": [job.pk]}, follow=True)
    again = TrainingJob.objects.exclude(pk=job.pk).get()
    assert f"retried as job {again.pk}".encode() in answer.content
    assert (again.status, again.seed, again.max_trials, again.target) == (
        "QUEUED",
        7,
        2,
        "diagnosis",
    )
    refused = owner.post(URL, {"action": "retry", "_selected_action": [again.pk]}, follow=True)
    assert b"only a failed or cancelled job is retried" in refused.content
    page = owner.get(f"{URL}{job.pk}/change/")
    assert page.status_code == 200


def test_a_datasets_profile_is_readable(job: TrainingJob, staff: Any) -> None:
    page = staff("owner").get(f"/admin/jobs/dataset/{job.dataset_id}/change/").content.decode()
    assert "mean_radius" in page
    assert "warnings" in page


def test_a_users_running_limit_set_in_the_admin_is_recorded(
    personas: dict[str, Any], staff: Any, api_as: Any
) -> None:
    from jobs.models import UserLimits
    from models_registry.models import AuditEvent

    admin = staff("teammate")
    owner = personas["owner"]
    answer = admin.post("/admin/jobs/userlimits/add/", {"user": owner.pk, "max_running_jobs": "5"})
    assert answer.status_code == 302, answer.content
    assert UserLimits.objects.get(user=owner).max_running_jobs == 5
    assert api_as("owner").get("/api/v1/auth/me/").json()["limits"]["max_running_jobs"] == 5

    answer = admin.post(f"/admin/jobs/userlimits/{owner.pk}/change/", {"max_running_jobs": "0"})
    assert answer.status_code == 302, answer.content
    answer = admin.post(f"/admin/jobs/userlimits/{owner.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302, answer.content
    assert not UserLimits.objects.filter(user=owner).exists()

    trail = AuditEvent.objects.filter(action="limit_changed").order_by("id")
    assert {(e.actor_name, e.subject_type, e.owner_id) for e in trail} == {
        ("teammate", "user_limits", owner.pk)
    }
    assert [(e.from_value, e.to_value) for e in trail] == [
        ("max_running_jobs=default (2)", "max_running_jobs=5"),
        ("max_running_jobs=5", "max_running_jobs=0 (no limit)"),
        ("max_running_jobs=0 (no limit)", "max_running_jobs=default (2)"),
    ]
    # and the owner reads the trail of their own limit
    listed = api_as("owner").get("/api/v1/audit/?action=limit_changed").json()
    assert len(listed["results"]) == 3
