"""What the busiest calls cost the database: a job submission, and the job and dataset lists
the UI polls (issue 10's load targets; docs/benchmarks.md, the load bench).

Counts of statements, not timings: a round trip more on every submission, or one per row
listed, fails here on any machine. Statements the transactions send (savepoints inside a
test's transaction, BEGIN and COMMIT outside one) count too."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from jobs.models import JobEvent, TrainingJob, Trial
from models_registry.models import ModelVersion, RegisteredModel
from tests.conftest import breast_cancer_csv
from tests.factories import job_row, make_dataset, make_token

pytestmark = pytest.mark.django_db

# Token and user; the dataset; the transaction (2) with the job, its first event and its
# audit record; then the answer: the workers' queues (a new job has no version or trials to
# look up).
SUBMISSION_STATEMENTS = 8
JOB = {"target": "diagnosis", "max_trials": 1, "max_epochs": 2, "tuner": "random"}


def _scripted(user: Any) -> APIClient:
    """A client signed in as scripts are, with a token: its lookup is part of the cost."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
    # A token's first use records `last_used_at` (then at most once a minute): done here, so
    # that the calls measured cost what a script's calls cost in steady use.
    assert api.get("/api/v1/auth/me/").status_code == 200
    return api


def _statements(call: Any) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        answer = call()
    assert answer.status_code in (200, 201), answer.content
    return [q["sql"] for q in captured.captured_queries]


def test_a_job_submission_takes_eight_statements_and_records_its_first_event(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given a ready dataset and a job already on it (nothing is cached on the first call)
    api = _scripted(personas["owner"])
    dataset = make_dataset(personas["owner"])
    assert (
        api.post("/api/v1/jobs/", {**JOB, "dataset": dataset.pk}, format="json").status_code == 201
    )

    # when another job is submitted
    sent = _statements(
        lambda: api.post("/api/v1/jobs/", {**JOB, "dataset": dataset.pk}, format="json")
    )

    # then it took no more statements than its reads and one transaction of three inserts
    assert len(sent) <= SUBMISSION_STATEMENTS, "\n".join(sent)
    assert sum(s.startswith("INSERT") for s in sent) == 3
    assert not [s for s in sent if "FOR NO KEY UPDATE" in s or 'MAX("jobs_jobevent"' in s]
    # and its first event is still seq 1
    job = TrainingJob.objects.latest("id")
    assert list(JobEvent.objects.filter(job=job).values_list("seq", "kind")) == [(1, "job_status")]


def _jobs_with_trials_and_versions(owner: Any, count: int) -> None:
    model = RegisteredModel.objects.get_or_create(owner=owner, name="m", task_type="binary")[0]
    for _ in range(count):
        job = job_row(owner, status=TrainingJob.Status.SUCCEEDED)
        for number in range(3):
            Trial.objects.create(job=job, number=number, status="COMPLETED", score=0.5)
        ModelVersion.objects.create(
            model=model, version=model.versions.count() + 1, job=job, dataset=job.dataset,
            artifact="models/x.keras", artifact_sha256="0" * 64, task_type="binary", target="y",
        )  # fmt: skip


def test_the_job_list_costs_the_same_statements_for_two_jobs_or_twenty(
    personas: dict[str, Any],
) -> None:
    # given a user with two jobs, each with trials and a registered version
    api = _scripted(personas["owner"])
    _jobs_with_trials_and_versions(personas["owner"], 2)
    few = _statements(lambda: api.get("/api/v1/jobs/"))

    # when they have twenty
    _jobs_with_trials_and_versions(personas["owner"], 18)
    many = _statements(lambda: api.get("/api/v1/jobs/"))

    # then the list takes as many statements (token, jobs with their versions, trials,
    # workers), and reads no dataset (the answer names it by id)
    assert len(api.get("/api/v1/jobs/").json()["results"]) == 20
    assert len(many) == len(few) <= 4, "\n".join(many)
    assert not [s for s in many if '"jobs_dataset"' in s]


def test_the_dataset_list_costs_the_same_statements_for_two_datasets_or_ten_without_profiles(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given a user with two datasets
    api = _scripted(personas["owner"])
    for index in range(2):
        make_dataset(personas["owner"], breast_cancer_csv(50 + index), name=f"d{index}")
    few = _statements(lambda: api.get("/api/v1/datasets/"))

    # when they have ten
    for index in range(2, 10):
        make_dataset(personas["owner"], breast_cancer_csv(50 + index), name=f"d{index}")
    many = _statements(lambda: api.get("/api/v1/datasets/"))

    # then the list takes as many statements (token, datasets, their children's ids) and
    # never reads a profile, which the list leaves out
    assert len(api.get("/api/v1/datasets/").json()["results"]) == 10
    assert len(many) == len(few) <= 3, "\n".join(many)
    assert not [s for s in many if '"jobs_dataset"."profile"' in s]
