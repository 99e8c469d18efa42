"""Retrying a job: `POST /api/v1/jobs/<id>/retry/` and the admin action, both through
jobs.services.job_retry: a new job with the old one's settings, for a failed or cancelled job
of its owner only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from jobs import services
from jobs.models import TrainingJob
from tests.factories import failed_job

pytestmark = pytest.mark.django_db

SETTINGS = ("dataset_id", "target", "task_type", "max_trials", "max_epochs", "seed", "tuner",
            "max_seconds", "budget", "queue", "task_options")  # fmt: skip


@pytest.fixture
def job(personas: dict[str, Any], media_root: Any) -> TrainingJob:
    """A job of the owner's that failed, with settings other than the defaults."""
    return failed_job(
        personas["owner"],
        max_seconds=120,
        max_trials=3,
        max_epochs=4,
        seed=1234,
        tuner="bayesian",
        queue="gpu",
    )


def _retry(api: Any, job: TrainingJob, key: str = "") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"/api/v1/jobs/{job.pk}/retry/", format="json", **headers)


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_the_owner_retries_a_failed_or_cancelled_job_with_the_same_settings(
    api_as: Any, job: TrainingJob, status: str
) -> None:
    # given a job that ended without a model
    TrainingJob.objects.filter(pk=job.pk).update(status=status)

    # when its owner retries it
    answer = _retry(api_as("owner"), job)

    # then a new job is queued with every setting of the old one, its seed included
    assert answer.status_code == 201, answer.content
    body = answer.json()
    again = TrainingJob.objects.get(pk=body["id"])
    assert again.pk != job.pk
    assert answer["Location"] == f"/api/v1/jobs/{again.pk}/"
    assert (again.status, again.error, again.attempts) == ("QUEUED", "", 0)
    assert {f: getattr(again, f) for f in SETTINGS} == {f: getattr(job, f) for f in SETTINGS}
    assert (again.seed, again.max_seconds, again.budget) == (1234, 120, "")
    # and it says which job it retries, which a script can also ask the other way round
    assert body["retry_of"] == job.pk
    assert again.retry_of_id == job.pk
    listed = api_as("owner").get(f"/api/v1/jobs/?retry_of={job.pk}").json()["results"]
    assert [j["id"] for j in listed] == [again.pk]
    # and the old job is left as it was
    job.refresh_from_db()
    assert job.status == status


def test_a_budget_preset_is_kept_by_name(api_as: Any, job: TrainingJob) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(budget="quick", max_seconds=60)
    answer = _retry(api_as("owner"), job)
    assert answer.status_code == 201, answer.content
    assert (answer.json()["budget"], answer.json()["max_seconds"]) == ("quick", 60)


@pytest.mark.parametrize("status", ["QUEUED", "RUNNING", "SUCCEEDED"])
def test_a_job_that_did_not_fail_is_a_409_and_nothing_is_created(
    api_as: Any, job: TrainingJob, status: str
) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(status=status)
    answer = _retry(api_as("owner"), job)
    assert answer.status_code == 409
    assert answer.json() == {
        "code": "conflict",
        "detail": f"Job {job.pk} is {status}; only a failed or cancelled job is retried.",
        "fields": {},
    }
    assert TrainingJob.objects.count() == 1


def test_settings_that_no_longer_pass_the_checks_are_a_409_with_the_reason(
    api_as: Any, job: TrainingJob
) -> None:
    # given a failed job whose target is not in its dataset (a check added since, say)
    TrainingJob.objects.filter(pk=job.pk).update(target="gone")
    answer = _retry(api_as("owner"), job)
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith(f"Job {job.pk} cannot be retried as it was: ")
    assert "gone" in answer.json()["detail"]
    assert TrainingJob.objects.count() == 1


@pytest.mark.parametrize(("persona", "codes"), [("teammate", {404}), ("outsider", {404}),
                                                (None, {401, 403})])  # fmt: skip
def test_only_the_owner_can_retry(
    api_as: Any, job: TrainingJob, persona: str | None, codes: set[int]
) -> None:
    answer = _retry(api_as(persona), job, key="k1")
    assert answer.status_code in codes
    assert set(answer.json()) == {"code", "detail", "fields"}
    assert TrainingJob.objects.count() == 1


def test_the_service_refuses_another_users_job(personas: dict[str, Any], job: TrainingJob) -> None:
    with pytest.raises(services.ConflictError, match="only its owner can retry it"):
        services.job_retry(actor=personas["outsider"], job=job)


def test_an_idempotency_key_makes_a_repeated_retry_return_the_first_job(
    api_as: Any, job: TrainingJob
) -> None:
    owner = api_as("owner")
    first = _retry(owner, job, key="retry-1")
    again = _retry(owner, job, key="retry-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again["Location"] == first["Location"]
    assert TrainingJob.objects.filter(retry_of=job).count() == 1
    # another key is another retry (a job may be retried more than once)
    other = _retry(owner, job, key="retry-2")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert TrainingJob.objects.filter(retry_of=job).count() == 2
    # and the same key on another job's retry is a reuse
    elsewhere = TrainingJob.objects.get(pk=other.json()["id"])
    TrainingJob.objects.filter(pk=elsewhere.pk).update(status="FAILED")
    reused = _retry(owner, elsewhere, key="retry-1")
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_the_admin_action_retries_through_the_service(
    personas: dict[str, Any], job: TrainingJob
) -> None:
    User.objects.filter(pk=personas["owner"].pk).update(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(personas["owner"])
    url = "/admin/jobs/trainingjob/"

    answer = admin.post(url, {"action": "retry", "_selected_action": [job.pk]}, follow=True)

    # the service's link to the old job is there, so the action went through it
    again = TrainingJob.objects.get(retry_of=job)
    assert f"Job {job.pk} retried as job {again.pk}.".encode() in answer.content
    assert again.seed == job.seed
    # and its refusal reads as the API's
    refused = admin.post(url, {"action": "retry", "_selected_action": [again.pk]}, follow=True)
    message = f"Job {again.pk} is QUEUED; only a failed or cancelled job is retried."
    assert message.encode() in refused.content
    assert TrainingJob.objects.count() == 2
