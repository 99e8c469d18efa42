"""`automl retry` and `automl trials` against the API in this process: the client's own HTTP
code (a personal token, idempotency keys, cursor pages) over an httpx WSGI transport, so no
stack or training is needed. tests/e2e/test_cli.py drives the client against a live stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from automl_cli import main as cli
from automl_cli.client import Api, Credentials
from console.tokens import token_create
from jobs.models import TrainingJob, Trial
from tests.factories import failed_job, job_row, make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(personas: dict[str, Any]) -> Iterator[Api]:
    """The client as the owner, with a full-scope personal token, talking to this process."""
    raw = token_create(user=personas["owner"], name="cli").raw
    client = Api(Credentials(url="http://testserver", token=raw))
    client.http = httpx.Client(
        transport=httpx.WSGITransport(app=get_wsgi_application()),
        base_url="http://testserver",
        headers=client.http.headers,
    )
    # As Django's test client does: a request's end must not close the connection that holds
    # the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield client
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def automl(api: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs an `automl` command; its output is stdout and stderr together."""
    monkeypatch.setattr(cli, "_api", lambda: api)

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)

    return run


def test_retry_prints_the_new_job_and_refusals_exit_1(
    automl: Any, personas: dict[str, Any], media_root: Any
) -> None:
    # given a failed job and a finished one
    failed = failed_job(personas["owner"], max_trials=2, seed=5)
    done = job_row(personas["owner"], status="SUCCEEDED")

    # when the failed one is retried, the new job is printed
    retried = automl("retry", str(failed.pk))
    assert retried.exit_code == 0, retried.output
    printed = json.loads(retried.output)
    assert (printed["retry_of"], printed["status"], printed["seed"]) == (failed.pk, "QUEUED", 5)

    # and the API's refusals end the command with its reason and exit status 1
    refused = automl("retry", str(done.pk))
    assert refused.exit_code == 1
    assert f"HTTP 409 conflict: Job {done.pk} is SUCCEEDED" in refused.output
    missing = automl("retry", "999999")
    assert missing.exit_code == 1
    assert "HTTP 404 not_found" in missing.output
    assert TrainingJob.objects.count() == 3


def test_submit_sends_the_priority_asked(
    automl: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    made = automl("submit", "--dataset", str(dataset.pk), "--target", "diagnosis",
                  "--priority", "high")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["priority"] == "high"
    assert TrainingJob.objects.get().priority == "high"
    # the CLI refuses a priority the API would refuse, before sending anything
    refused = automl("submit", "--dataset", str(dataset.pk), "--priority", "urgent")
    assert refused.exit_code == 2
    assert TrainingJob.objects.count() == 1


def test_trials_prints_them_in_the_order_asked(automl: Any, personas: dict[str, Any]) -> None:
    job = job_row(personas["owner"], status="SUCCEEDED")
    scores = [0.4, None, 0.2, 0.4, 0.1, None, 0.3]
    for number, score in enumerate(scores, start=1):
        Trial.objects.create(
            job=job,
            number=number,
            status="COMPLETED" if score is not None else "FAILED",
            score=score,
            epochs=[{"epoch": 0, "val_loss": score}],
        )

    best = automl("trials", str(job.pk), "--order", "score", "--limit", "3")
    assert best.exit_code == 0, best.output
    rows = json.loads(best.output)
    assert [(t["number"], t["score"]) for t in rows] == [(5, 0.1), (3, 0.2), (7, 0.3)]
    assert "epochs" not in rows[0]

    # all of them, unscored last
    every = json.loads(automl("trials", str(job.pk), "--order", "-score", "--epochs").output)
    assert [t["number"] for t in every] == [4, 1, 7, 3, 5, 6, 2]
    assert every[0]["epochs"] == [{"epoch": 0, "val_loss": 0.4}]
    failed = json.loads(automl("trials", str(job.pk), "--status", "FAILED").output)
    assert [t["number"] for t in failed] == [2, 6]
    assert automl("trials", str(job.pk), "--order", "epochs").exit_code == 2


def test_a_limit_stops_reading_pages_once_it_has_enough(api: Api, personas: dict[str, Any]) -> None:
    job = job_row(personas["owner"])
    Trial.objects.bulk_create(Trial(job=job, number=n) for n in range(1, 8))
    url = f"/api/v1/jobs/{job.pk}/trials/"
    pages = []
    real = api.request

    def counted(method: str, path: str, **kwargs: Any) -> Any:
        pages.append(path)
        return real(method, path, **kwargs)

    api.request = counted  # type: ignore[method-assign]
    five = api.list_all(url, limit=5, page_size=2)
    assert [t["number"] for t in five] == [1, 2, 3, 4, 5]
    assert len(pages) == 3
    assert [t["number"] for t in api.list_all(url, page_size=2)] == list(range(1, 8))
