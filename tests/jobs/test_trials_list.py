"""`GET /api/v1/jobs/<id>/trials/`: a job's trials paged by a keyset cursor under any allowed
ordering (ties and missing scores included), filtered by status, for the owner only; and
`GET /api/v1/jobs/<id>/manifest/` as a download."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.utils import timezone

from jobs.models import TrainingJob, Trial
from tests.factories import job_row

pytestmark = pytest.mark.django_db

# 25 trials: runs of equal scores and five without one (running or failed).
SCORES = [0.5, 0.3, None, 0.5, 0.7, 0.3, None, 0.5, 0.1, 0.9, None, 0.3, 0.5, 0.2, None,
          0.7, 0.5, 0.3, 0.4, None, 0.6, 0.5, 0.3, 0.8, 0.5]  # fmt: skip


@pytest.fixture
def job(personas: dict[str, Any]) -> TrainingJob:
    made = job_row(personas["owner"], status="RUNNING")
    start = timezone.now() - datetime.timedelta(hours=1)
    for number, score in enumerate(SCORES, start=1):
        status = "COMPLETED" if score is not None else ("FAILED" if number % 2 else "RUNNING")
        Trial.objects.create(
            job=made,
            number=number,
            status=status,
            score=score,
            hyperparameters={"units": number},
            # Finished in pairs (ties), the unscored ones not at all.
            finished_at=start + datetime.timedelta(minutes=number // 2) if score else None,
        )
    return made


def _walk(api: Any, url: str) -> list[list[dict[str, Any]]]:
    """Every page, following `next` from the first."""
    pages = []
    while url:
        answer = api.get(url)
        assert answer.status_code == 200, answer.content
        pages.append(answer.json()["results"])
        url = answer.json()["next"]
    return pages


def _sort_key(field: str, descending: bool) -> Any:
    """The order the API promises: by the field, rows without it last, then the id in the
    direction of the field."""

    def key(t: Trial) -> tuple[Any, ...]:
        value = getattr(t, field)
        if value is None:
            return (1, 0, -t.pk if descending else t.pk)
        ordered = value.timestamp() if isinstance(value, datetime.datetime) else value
        return (0, -ordered if descending else ordered, -t.pk if descending else t.pk)

    return key


@pytest.mark.parametrize("ordering", ["-score", "score", "-finished_at", "status", "-number"])
def test_pages_of_ten_cover_every_trial_once_in_order(
    api_as: Any, job: TrainingJob, ordering: str
) -> None:
    owner = api_as("owner")
    url = f"/api/v1/jobs/{job.pk}/trials/?ordering={ordering}&page_size=10"

    pages = _walk(owner, url)

    # then 10 + 10 + 5, with no trial repeated or skipped across the ties and NULLs
    assert [len(p) for p in pages] == [10, 10, 5]
    ids = [t["id"] for p in pages for t in p]
    field = ordering.lstrip("-")
    if field == "status":  # no NULLs, and text sorts the same in Python
        expected = sorted(job.trials.all(), key=lambda t: (t.status, t.pk))
    else:
        expected = sorted(job.trials.all(), key=_sort_key(field, ordering.startswith("-")))
    assert ids == [t.pk for t in expected]


def test_previous_links_read_the_same_pages_backwards(api_as: Any, job: TrainingJob) -> None:
    owner = api_as("owner")
    forward = _walk(owner, f"/api/v1/jobs/{job.pk}/trials/?ordering=-score&page_size=10")
    last = owner.get(f"/api/v1/jobs/{job.pk}/trials/?ordering=-score&page_size=10").json()
    while last["next"]:
        last = owner.get(last["next"]).json()
    backward = [last["results"]]
    while last["previous"]:
        last = owner.get(last["previous"]).json()
        backward.insert(0, last["results"])
    assert [[t["id"] for t in p] for p in backward] == [[t["id"] for t in p] for p in forward]


def test_by_default_trials_come_in_the_order_they_ran(api_as: Any, job: TrainingJob) -> None:
    first = api_as("owner").get(f"/api/v1/jobs/{job.pk}/trials/?page_size=3").json()
    assert [t["number"] for t in first["results"]] == [1, 2, 3]
    assert set(first["results"][0]) == {
        "id", "number", "status", "hyperparameters", "score", "epochs", "error", "runner",
        "started_at", "finished_at",
    }  # fmt: skip


def test_status_filters_and_bad_parameters_are_a_400(api_as: Any, job: TrainingJob) -> None:
    owner = api_as("owner")
    failed = owner.get(f"/api/v1/jobs/{job.pk}/trials/?status=FAILED").json()["results"]
    assert [t["number"] for t in failed] == [3, 7, 11, 15]
    assert all(t["score"] is None for t in failed)
    for query, field in (("status=DONE", "status"), ("ordering=hyperparameters", "ordering"),
                         ("ordering=created_at", "ordering")):  # fmt: skip
        answer = owner.get(f"/api/v1/jobs/{job.pk}/trials/?{query}")
        assert answer.status_code == 400, query
        assert answer.json()["code"] == "invalid"
        assert list(answer.json()["fields"]) == [field]


def test_a_page_reads_a_page_of_trials_not_all_of_them(
    api_as: Any, job: TrainingJob, django_assert_max_num_queries: Any
) -> None:
    owner = api_as("owner")
    with django_assert_max_num_queries(2):  # the job, then one page of trials
        answer = owner.get(f"/api/v1/jobs/{job.pk}/trials/?ordering=-score&page_size=5")
    assert len(answer.json()["results"]) == 5


def test_the_job_detail_still_embeds_every_trial(api_as: Any, job: TrainingJob) -> None:
    detail = api_as("owner").get(f"/api/v1/jobs/{job.pk}/").json()
    assert [t["number"] for t in detail["trials"]] == list(range(1, 26))


@pytest.mark.parametrize(
    ("persona", "codes"), [("teammate", {404}), ("outsider", {404}), (None, {401, 403})]
)
@pytest.mark.parametrize("tail", ["trials/", "manifest/"])
def test_only_the_owner_reads_trials_and_manifest(
    api_as: Any, job: TrainingJob, persona: str | None, codes: set[int], tail: str
) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(manifest={"seed": 1})
    answer = api_as(persona).get(f"/api/v1/jobs/{job.pk}/{tail}")
    assert answer.status_code in codes
    assert set(answer.json()) == {"code", "detail", "fields"}


@pytest.mark.parametrize("pk", ["999999", "abc"])
def test_an_unknown_job_is_a_404(api_as: Any, job: TrainingJob, pk: str) -> None:
    for tail in ("trials/", "manifest/"):
        answer = api_as("owner").get(f"/api/v1/jobs/{pk}/{tail}")
        assert answer.status_code == 404, (pk, tail)
        assert answer.json()["code"] == "not_found"


def test_the_manifest_downloads_as_a_json_file(api_as: Any, job: TrainingJob) -> None:
    manifest = {
        "seed": 1,
        "split": {"indices_sha256": "ab" * 32},
        "search_space": {"space": [{"class_name": "Int", "config": {"name": "units"}}]},
        "final_model": {"source": "trial", "size": 1},
    }
    TrainingJob.objects.filter(pk=job.pk).update(manifest=manifest)
    answer = api_as("owner").get(f"/api/v1/jobs/{job.pk}/manifest/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert answer["Content-Disposition"] == (f'attachment; filename="job-{job.pk}-manifest.json"')
    assert json.loads(answer.content) == manifest


@pytest.mark.parametrize("status", ["QUEUED", "RUNNING", "FAILED"])
def test_a_job_without_a_manifest_is_a_409(api_as: Any, job: TrainingJob, status: str) -> None:
    TrainingJob.objects.filter(pk=job.pk).update(status=status)
    answer = api_as("owner").get(f"/api/v1/jobs/{job.pk}/manifest/")
    assert answer.status_code == 409
    body = answer.json()
    assert (body["code"], body["fields"]) == ("conflict", {})
    assert body["detail"].startswith(f"Job {job.pk} is {status} and has no manifest")
