"""Real short jobs run by the worker's service: stopping with or without the best so far, and
a seed that reproduces a search."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services
from jobs.models import JobEvent, TrainingJob
from jobs.services import reporter, training
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def _run_stopped_after_first_trial(
    personas: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capture: Any, keep_best: bool
) -> TrainingJob:
    """A job with room for five trials whose owner asks it to stop once the first finished."""
    dataset = make_dataset(personas["owner"])
    job = services.job_create(
        owner=personas["owner"], dataset=dataset, target="diagnosis", max_trials=5, max_epochs=2
    )
    trial_finished = reporter.JobReporter.trial_finished

    def stop_after_first(self: Any, number: int, *args: Any, **kwargs: Any) -> None:
        trial_finished(self, number, *args, **kwargs)
        if number == 1:
            # The request goes through the API's service, as the owner's click would.
            services.job_cancel(job=self.job, actor=self.job.owner, keep_best=keep_best)

    monkeypatch.setattr(reporter.JobReporter, "trial_finished", stop_after_first)
    claimed = services.job_claim(job_id=job.pk, worker="w")
    assert claimed is not None
    with capture(execute=True):
        services.job_run(job=claimed)
    job.refresh_from_db()
    return job


def test_stop_and_keep_best_registers_the_best_finished_trial(
    personas: dict[str, Any], media_root: Any, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    job = _run_stopped_after_first_trial(
        personas, monkeypatch, django_capture_on_commit_callbacks, keep_best=True
    )

    # then the search stopped early, and its best trial became a version, as at a time limit
    assert (job.status, job.error) == ("SUCCEEDED", "")
    assert job.stopped == "stopped_by_user"
    assert job.trials.count() == 1
    assert job.best_trial == 1
    assert job.model_version is not None
    assert job.model_version.version == 1
    assert "accuracy" in job.test_metrics
    finished = JobEvent.objects.filter(job=job, kind="job_finished").get().payload
    assert (finished["status"], finished["model_version"]) == ("SUCCEEDED", job.model_version.pk)


def test_a_plain_cancel_of_a_running_job_discards_its_trials(
    personas: dict[str, Any], media_root: Any, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    job = _run_stopped_after_first_trial(
        personas, monkeypatch, django_capture_on_commit_callbacks, keep_best=False
    )

    assert (job.status, job.stopped, job.error) == ("CANCELLED", "cancelled", "")
    assert job.trials.count() == 1
    assert getattr(job, "model_version", None) is None


def test_the_same_seed_reproduces_a_jobs_search(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    dataset = make_dataset(personas["owner"])

    def run(seed: int) -> tuple[TrainingJob, list[tuple[dict[str, Any], float | None]]]:
        job = services.job_create(
            owner=personas["owner"],
            dataset=dataset,
            target="diagnosis",
            # one trial past the tabular portfolio, which every seed starts from
            max_trials=5,
            max_epochs=1,
            seed=seed,
        )
        claimed = services.job_claim(job_id=job.pk, worker="w")
        assert claimed is not None
        with django_capture_on_commit_callbacks(execute=True):
            job = services.job_run(job=claimed)
        assert job.status == "SUCCEEDED", job.error
        return job, [(t.hyperparameters, t.score) for t in job.trials.order_by("number")]

    first, first_trials = run(1234)
    again, again_trials = run(1234)
    other, other_trials = run(98765)

    # the seed is the job's and the manifest's, and the same seed draws the same trials
    assert first.seed == first.manifest["seed"] == 1234
    assert first.manifest["split"] == again.manifest["split"]
    assert [h for h, _ in again_trials] == [h for h, _ in first_trials]
    for (_, a), (_, b) in zip(again_trials, first_trials, strict=True):
        assert a == pytest.approx(b, rel=1e-5)
    # while another seed splits and draws differently: the same portfolio first, trained on
    # other rows, then other draws
    assert other.manifest["split"] != first.manifest["split"]
    assert [h["units"] for h, _ in other_trials[:4]] == [h["units"] for h, _ in first_trials[:4]]
    assert [s for _, s in other_trials[:4]] != [s for _, s in first_trials[:4]]
    assert other_trials[4][0] != first_trials[4][0]


def test_what_the_profile_could_not_tell_fails_the_job_in_the_worker(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    # given twelve classes, one on a single row: the profile lists only the ten most common
    rows = [f"{i},c{i % 11:02d}" for i in range(33)] + ["33,lonely"]
    dataset = make_dataset(personas["owner"], ("x,label\n" + "\n".join(rows) + "\n").encode())
    answer = api_as("owner").post(
        "/api/v1/jobs/", {"dataset": dataset.pk, "target": "label"}, format="json"
    )
    assert answer.status_code == 201, answer.content

    # when the worker runs it, it reads every row and refuses it as the web would have
    claimed = services.job_claim(job_id=answer.json()["id"], worker="w")
    assert claimed is not None
    job = services.job_run(job=claimed)
    assert job.status == "FAILED"
    assert job.error == (
        "Class 'lonely' of 'label' has a single row; each class needs at least two rows to be "
        "split into training and test data."
    )
    assert job.trials.count() == 0


def test_the_worker_records_a_label_delimiter_the_profile_could_not_detect(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rows = [f"{i},{i % 2},t{i % 6}|t{(i + 1) % 6}" for i in range(60)]  # 6 labels, 30 lists
    rows += [f"{i},{i % 2},t{i % 7}|t{(i + 3) % 7}|t{(i + 5) % 7}" for i in range(60, 90)]
    dataset = make_dataset(personas["owner"], ("x,z,tags\n" + "\n".join(rows) + "\n").encode())
    job = services.job_create(
        owner=personas["owner"],
        dataset=dataset,
        target="tags",
        task_type="multilabel",
        max_trials=1,
        max_epochs=1,
    )
    assert job.task_options == {"label_delimiter": None}

    claimed = services.job_claim(job_id=job.pk, worker="w")
    assert claimed is not None
    with django_capture_on_commit_callbacks(execute=True):
        services.job_run(job=claimed)
    job.refresh_from_db()
    assert job.status == "SUCCEEDED", job.error
    assert job.task_options == {"label_delimiter": "|"}


def test_stop_and_keep_best_before_any_trial_finished_has_nothing_to_keep(
    personas: dict[str, Any], media_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.engine.search import SearchStopped

    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")

    # given a search that the owner stops before any trial scored (the engine's answer to a
    # stop that early, stood in for: a real trial is scored from its first batch on)
    def stopped_at_once(job: TrainingJob, *args: Any) -> Any:
        services.job_cancel(job=job, actor=personas["owner"], keep_best=True)
        raise SearchStopped("The search was cancelled before any trial finished an epoch.")

    monkeypatch.setattr(training, "_search", stopped_at_once)
    claimed = services.job_claim(job_id=job.pk, worker="w")
    assert claimed is not None
    services.job_run(job=claimed)
    job.refresh_from_db()

    # then the job is cancelled, saying why there is no model
    assert job.status == "CANCELLED"
    assert job.error == "Stopped before any trial finished: there was no model to keep."
    assert getattr(job, "model_version", None) is None
