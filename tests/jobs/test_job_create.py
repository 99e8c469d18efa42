from __future__ import annotations

from typing import Any

import pytest

from jobs import services
from jobs.models import JobEvent, TrainingJob
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db

THREE_CLASSES = b"x,y,label\n" + b"".join(
    f"{i},{i % 7},{('a', 'b', 'c')[i % 3]}\n".encode() for i in range(30)
)
ONE_CLASS = b"x,y,label\n" + b"".join(f"{i},{i % 5},same\n".encode() for i in range(30))


def _create(api: Any, **body: Any) -> Any:
    return api.post("/api/v1/jobs/", {"max_trials": 1, "max_epochs": 1, **body}, format="json")


def test_a_job_is_queued_after_commit_with_the_suggested_task_type(
    api_as: Any, personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a dataset of the owner
    dataset = make_dataset(personas["owner"])

    # when a job is created without a task type
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = _create(api_as("owner"), dataset=dataset.pk, target="diagnosis")

    # then it is queued as binary classification, recorded first and enqueued on commit
    assert answer.status_code == 201, answer.content
    job = TrainingJob.objects.get(pk=answer.json()["id"])
    assert (job.status, job.task_type) == ("QUEUED", "binary")
    assert job.dataset_sha256 == dataset.sha256
    assert len(callbacks) == 2  # the QUEUED event's push, then the Celery message
    assert [e.kind for e in JobEvent.objects.filter(job=job)] == ["job_status"]


@pytest.mark.parametrize(
    ("content", "body", "field", "message"),
    [
        (None, {"target": "no_such_column"}, "target", "not in the dataset"),
        (ONE_CLASS, {"target": "label"}, "target", "single class"),
        (THREE_CLASSES, {"target": "label", "task_type": "binary"}, "target", "exactly two"),
        (THREE_CLASSES, {"target": "label", "task_type": "regression"}, "target", "numeric"),
        (None, {"target": "diagnosis", "task_type": "ranking"}, "task_type", "valid choice"),
        (None, {"target": "diagnosis", "max_trials": 0}, "max_trials", "greater than"),
    ],
    ids=["missing-target", "single-class", "binary-three", "regression-text", "bad-task", "trials"],
)
def test_bad_job_requests_get_a_400_and_create_nothing(
    api_as: Any,
    personas: dict[str, Any],
    media_root: Any,
    content: bytes | None,
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    dataset = make_dataset(personas["owner"], content)
    answer = _create(api_as("owner"), dataset=dataset.pk, **body)
    assert answer.status_code == 400
    assert message in str(answer.json()["fields"][field][0])
    assert TrainingJob.objects.count() == 0


def test_a_job_on_someone_elses_dataset_is_refused(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    answer = _create(api_as("outsider"), dataset=dataset.pk, target="diagnosis")
    assert answer.status_code == 400
    assert "no dataset" in answer.json()["fields"]["dataset"][0]
    assert TrainingJob.objects.count() == 0


def test_a_dataset_used_by_a_job_cannot_be_deleted(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    assert _create(api_as("owner"), dataset=dataset.pk, target="diagnosis").status_code == 201
    answer = api_as("owner").delete(f"/api/v1/datasets/{dataset.pk}/")
    assert answer.status_code == 409
    assert "used by 1 training job" in answer.json()["detail"]
    assert dataset.file.storage.exists(dataset.file.name)


def test_a_redelivered_message_does_not_start_a_second_run(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given a queued job
    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")

    # when two deliveries of its message try to claim it
    first = services.job_claim(job_id=job.pk, worker="w1")
    second = services.job_claim(job_id=job.pk, worker="w2")

    # then only the first runs it
    assert first is not None
    assert first.status == "RUNNING"
    assert second is None
    job.refresh_from_db()
    assert job.worker == "w1"


def test_jobs_are_private_to_their_owner(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job_id = _create(api_as("owner"), dataset=dataset.pk, target="diagnosis").json()["id"]
    for name in ("teammate", "outsider"):
        api = api_as(name)
        assert api.get("/api/v1/jobs/").json()["results"] == []
        assert api.get(f"/api/v1/jobs/{job_id}/").status_code == 404
        assert api.get(f"/api/v1/jobs/{job_id}/events/").status_code == 404
    events = api_as("owner").get(f"/api/v1/jobs/{job_id}/events/?after=0").json()
    assert [e["kind"] for e in events] == ["job_status"]


def test_a_queued_job_is_cancelled_at_once_and_never_runs(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job_id = _create(api_as("owner"), dataset=dataset.pk, target="diagnosis").json()["id"]

    assert api_as("outsider").post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 404
    answer = api_as("owner").post(f"/api/v1/jobs/{job_id}/cancel/")

    assert answer.status_code == 202
    assert answer.json()["status"] == "CANCELLED"
    assert services.job_claim(job_id=job_id, worker="w") is None
    again = api_as("owner").post(f"/api/v1/jobs/{job_id}/cancel/")
    assert again.status_code == 409
    assert "CANCELLED" in again.json()["detail"]


def test_a_running_job_is_flagged_for_its_worker(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    services.job_claim(job_id=job.pk, worker="w")
    answer = api_as("owner").post(f"/api/v1/jobs/{job.pk}/cancel/")
    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["cancel_requested"]) == ("RUNNING", True)


def test_tuner_and_time_limit_are_recorded_and_checked(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    body = {"dataset": dataset.pk, "target": "diagnosis", "tuner": "hyperband", "max_seconds": 60}
    job = _create(api, **body).json()
    assert (job["tuner"], job["max_seconds"]) == ("hyperband", 60)
    assert _create(api, **{**body, "tuner": "grid"}).status_code == 400
    assert _create(api, **{**body, "max_seconds": 1}).status_code == 400


def test_a_job_without_a_tuner_gets_the_default_benchmarked_for_its_task(
    api_as: Any, personas: dict[str, Any], media_root: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.engine import config

    monkeypatch.setitem(config.DEFAULT_TUNERS, "binary", "bayesian")
    monkeypatch.setitem(config.DEFAULT_TUNERS, "regression", "hyperband")
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    job = _create(api, dataset=dataset.pk, target="diagnosis").json()
    assert (job["task_type"], job["tuner"]) == ("binary", "bayesian")
    job = _create(api, dataset=dataset.pk, target="mean_radius", task_type="regression").json()
    assert (job["task_type"], job["tuner"]) == ("regression", "hyperband")
    # a tuner the user names is kept
    job = _create(api, dataset=dataset.pk, target="diagnosis", tuner="random").json()
    assert job["tuner"] == "random"


def test_abandoned_uploads_expire_with_their_bytes(
    personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime

    from django.utils import timezone

    from jobs.models import Upload

    old = services.upload_create(owner=personas["owner"], filename="old.csv", size=10)
    fresh = services.upload_create(owner=personas["owner"], filename="new.csv", size=10)
    Upload.objects.filter(pk=old.pk).update(updated_at=timezone.now() - datetime.timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.uploads_expire() == 1
    assert list(Upload.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not services.upload_staging_path(old).exists()
    assert services.upload_staging_path(fresh).exists()


def test_an_unknown_queue_gets_a_400_naming_the_queues(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    answer = _create(api_as("owner"), dataset=dataset.pk, target="diagnosis", queue="tpu")
    assert answer.status_code == 400
    message = answer.json()["fields"]["queue"][0]
    assert "'tpu' is not a queue" in message
    assert "'cpu' or 'gpu'" in message
    assert TrainingJob.objects.count() == 0


def test_a_job_is_published_to_the_queue_it_names(
    api_as: Any, personas: dict[str, Any], media_root: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.conf import settings
    from kombu import Connection

    dataset = make_dataset(personas["owner"])
    transport_options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with Connection(settings.CELERY_BROKER_URL, transport_options=transport_options) as broker:
        gpu = broker.SimpleQueue("gpu")
        gpu.clear()

        # when a gpu job is created and committed (a real message to the test broker)
        with django_capture_on_commit_callbacks(execute=True):
            answer = _create(api_as("owner"), dataset=dataset.pk, target="diagnosis", queue="gpu")

        # then the job records its queue and its message waits in the gpu queue
        assert answer.status_code == 201, answer.content
        assert answer.json()["queue"] == "gpu"
        message = gpu.get(timeout=5)
        message.ack()
        assert message.headers["task"] == "jobs.tasks.run_training_job"
        assert message.payload[0] == [answer.json()["id"]]
        assert TrainingJob.objects.get().queue == "gpu"
        gpu.close()
    assert _create(api_as("owner"), dataset=dataset.pk, target="diagnosis").json()["queue"] == "cpu"


def test_a_gpu_job_without_a_gpu_worker_says_what_it_waits_for(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    # given a cpu worker alive, and no gpu worker
    services.worker_beat(name="cpu@host", queues=["cpu"])
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    gpu_job = _create(api, dataset=dataset.pk, target="diagnosis", queue="gpu").json()
    cpu_job = _create(api, dataset=dataset.pk, target="diagnosis").json()

    # then the gpu job says why it waits, the cpu job is just in line
    assert gpu_job["status"] == "QUEUED"
    assert gpu_job["waiting_for"].startswith("Waiting for a GPU worker")
    assert cpu_job["waiting_for"] == ""
    listed = {j["id"]: j for j in api.get("/api/v1/jobs/").json()["results"]}
    assert "'gpu' queue" in listed[gpu_job["id"]]["waiting_for"]

    # when a gpu worker reports itself, the job no longer claims to lack one
    services.worker_beat(name="gpu@host", queues=["gpu"])
    assert api.get(f"/api/v1/jobs/{gpu_job['id']}/").json()["waiting_for"] == ""
    services.job_claim(job_id=cpu_job["id"], worker="w")
    services.worker_gone(name="cpu@host")
    assert api.get(f"/api/v1/jobs/{cpu_job['id']}/").json()["waiting_for"] == ""


def test_a_job_with_no_options_gets_the_standard_budget_no_caps_and_a_random_seed(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    from jobs.engine.config import DEFAULT_BUDGET_SECONDS

    dataset = make_dataset(personas["owner"])
    api = api_as("owner")

    # when two jobs are created naming nothing but the dataset and the target
    jobs = [
        api.post("/api/v1/jobs/", {"dataset": dataset.pk, "target": "diagnosis"}, format="json")
        for _ in range(2)
    ]

    # then time is their control, trials and epochs are left to the search
    assert [j.status_code for j in jobs] == [201, 201], jobs[0].content
    first, second = (j.json() for j in jobs)
    assert (first["budget"], first["max_seconds"]) == ("standard", DEFAULT_BUDGET_SECONDS)
    assert (first["max_trials"], first["max_epochs"]) == (None, None)
    # and each drew its own seed (two equal draws out of 2**31: about one run in two billion)
    assert 0 <= first["seed"] <= TrainingJob.SEED_MAX
    assert first["seed"] != second["seed"]


def test_a_budget_is_a_preset_or_seconds_but_not_both(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    body = {"dataset": dataset.pk, "target": "diagnosis"}

    quick = _create(api, **body, budget="quick").json()
    assert (quick["budget"], quick["max_seconds"]) == ("quick", 60)
    own = _create(api, **body, max_seconds=90).json()
    assert (own["budget"], own["max_seconds"]) == ("", 90)

    both = _create(api, **body, budget="thorough", max_seconds=90)
    assert both.status_code == 400
    assert "either 'budget'" in both.json()["fields"]["budget"][0]
    unknown = _create(api, **body, budget="forever")
    assert unknown.status_code == 400
    assert "budget" in unknown.json()["fields"]
    assert TrainingJob.objects.count() == 2


def test_caps_and_seed_are_optional_and_checked(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    from jobs.engine.config import MAX_EPOCHS_CAP, MAX_TRIALS_CAP

    dataset = make_dataset(personas["owner"])
    api = api_as("owner")
    body = {"dataset": dataset.pk, "target": "diagnosis"}

    job = _create(
        api, **body, max_trials=MAX_TRIALS_CAP, max_epochs=MAX_EPOCHS_CAP, seed=TrainingJob.SEED_MAX
    )
    assert job.status_code == 201, job.content
    assert (job.json()["max_trials"], job.json()["max_epochs"]) == (MAX_TRIALS_CAP, MAX_EPOCHS_CAP)
    assert job.json()["seed"] == TrainingJob.SEED_MAX
    assert TrainingJob.objects.get(pk=job.json()["id"]).seed == TrainingJob.SEED_MAX
    refused = {
        "max_trials": MAX_TRIALS_CAP + 1,
        "max_epochs": MAX_EPOCHS_CAP + 1,
        "seed": TrainingJob.SEED_MAX + 1,
    }
    for field, value in [*refused.items(), ("seed", -1), ("max_epochs", 0)]:
        answer = _create(api, **body, **{field: value})
        assert answer.status_code == 400, field
        assert field in answer.json()["fields"]
    assert TrainingJob.objects.count() == 1


def test_stop_and_keep_best_is_recorded_on_a_running_job(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    job = services.job_create(owner=personas["owner"], dataset=dataset, target="diagnosis")
    services.job_claim(job_id=job.pk, worker="w")
    api = api_as("owner")

    answer = api.post(f"/api/v1/jobs/{job.pk}/cancel/", {"keep_best": True}, format="json")

    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["cancel_requested"]) == ("RUNNING", True)
    assert answer.json()["keep_best"] is True
    event = JobEvent.objects.filter(job=job, kind="cancel_requested").get()
    assert event.payload == {"keep_best": True}
    # a plain cancel afterwards does not take the keeping back
    assert api.post(f"/api/v1/jobs/{job.pk}/cancel/").json()["keep_best"] is True
    bad = api.post(f"/api/v1/jobs/{job.pk}/cancel/", {"keep_best": "maybe"}, format="json")
    assert bad.status_code == 400
    assert "keep_best" in bad.json()["fields"]


def test_a_job_is_checked_against_the_profile_without_reading_the_file(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    # given a profiled dataset whose file is then gone: any read of it would fail
    dataset = make_dataset(personas["owner"])
    dataset.file.storage.delete(dataset.file.name)
    api = api_as("owner")

    # when jobs are asked for, right and wrong
    good = _create(api, dataset=dataset.pk, target="diagnosis")
    bad = _create(api, dataset=dataset.pk, target="mean_radius", task_type="binary")

    # then the profile alone answers both
    assert good.status_code == 201, good.content
    assert good.json()["task_type"] == "binary"
    assert bad.status_code == 400
    assert "exactly two classes" in bad.json()["fields"]["target"][0]


def test_the_budget_presets_and_caps_are_published_for_clients(api_as: Any) -> None:
    from jobs.engine.config import BUDGET_PRESETS, MAX_EPOCHS_CAP, MAX_TRIALS_CAP

    answer = api_as("owner").get("/api/v1/jobs/budgets/")
    assert answer.status_code == 200
    assert answer.json() == {
        "presets": BUDGET_PRESETS,
        "default": "standard",
        "max_trials": MAX_TRIALS_CAP,
        "max_epochs": MAX_EPOCHS_CAP,
    }
    assert api_as(None).get("/api/v1/jobs/budgets/").status_code in (401, 403)


def test_one_request_at_a_time_writes_a_locally_staged_upload(
    personas: dict[str, Any], media_root: Any
) -> None:
    # given an upload staged in one file under the storage (any web process sharing it)
    upload = services.upload_create(owner=personas["owner"], filename="a.csv", size=10)
    assert services.staging_is_local()
    assert services.upload_staging_path(upload).parent == media_root / "staging"

    # when one request holds it, a second one is refused at once, and may go once it is free
    with (
        services.upload_staging_lock(upload),
        pytest.raises(services.UploadBusy),
        services.upload_staging_lock(upload),
    ):
        pass
    with services.upload_staging_lock(upload) as path:
        assert path.exists()


def test_parallel_trials_are_recorded_and_checked(
    api_as: Any, personas: dict[str, Any], media_root: Any
) -> None:
    dataset = make_dataset(personas["owner"])
    api = api_as("owner")

    # a job may ask for several trials at once; it is recorded, and shown
    answer = _create(api, dataset=dataset.pk, target="diagnosis", parallel_trials=3)
    assert answer.status_code == 201, answer.content
    assert answer.json()["parallel_trials"] == 3
    assert TrainingJob.objects.get(pk=answer.json()["id"]).parallel_trials == 3
    # left out: one at a time
    assert _create(api, dataset=dataset.pk, target="diagnosis").json()["parallel_trials"] == 1

    # more than the cap, or Hyperband's rounds, answer 400 naming the option
    for extra in ({"parallel_trials": 9}, {"parallel_trials": 2, "tuner": "hyperband"}):
        answer = _create(api, dataset=dataset.pk, target="diagnosis", **extra)
        assert answer.status_code == 400, answer.content
        assert "parallel_trials" in answer.json()["fields"], answer.json()
