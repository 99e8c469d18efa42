from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import factory
from django.conf import settings
from django.contrib.auth import get_user_model

from console.tokens import token_create
from jobs import services
from jobs.models import Dataset, TrainingJob
from tests.conftest import breast_cancer_csv

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "Passw0rd!-x")


def stage(content: bytes, suffix: str = ".csv") -> Path:
    """Put bytes where uploads land, as the upload views do."""
    folder = Path(settings.UPLOAD_STAGING_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    path.write_bytes(content)
    return path


def make_dataset(
    owner: Any,
    content: bytes | None = None,
    name: str = "cancer",
    filename: str = "cancer.csv",
    **request: Any,
) -> Dataset:
    """A dataset created and profiled synchronously, as the worker would."""
    content = content if content is not None else breast_cancer_csv()
    dataset, _ = services.dataset_create(
        owner=owner,
        path=stage(content, "".join(Path(filename).suffixes)),
        filename=filename,
        sha256=hashlib.sha256(content).hexdigest(),
        request=services.DatasetRequest(name=name, **request),
    )
    claimed = services.dataset_claim_profiling(dataset_id=dataset.pk)
    if claimed is not None:
        profiled = services.dataset_profile(dataset=claimed)
        assert profiled is not None, "the profile lost its claim"
        dataset = profiled
    return dataset


def job_row(owner: Any, **fields: Any) -> TrainingJob:
    """A job recorded as it is, for tests where training (and the dataset's file) is not the
    point: no file is stored, nothing is profiled or queued."""
    dataset = Dataset.objects.create(
        owner=owner,
        name="rows only",
        file="datasets/none.csv",
        sha256="0" * 64,
        size_bytes=1,
        status=Dataset.Status.READY,
    )
    defaults: dict[str, Any] = {"target": "y", "task_type": "binary", "seed": 1}
    return TrainingJob.objects.create(
        owner=owner, dataset=dataset, dataset_sha256=dataset.sha256, **{**defaults, **fields}
    )


def failed_job(owner: Any, **settings: Any) -> TrainingJob:
    """A job made through job_create on a profiled dataset (so a retry passes its checks
    again), then recorded as FAILED as a lost worker leaves it; nothing runs."""
    made = services.job_create(
        owner=owner, dataset=make_dataset(owner), **{"target": "diagnosis", **settings}
    )
    TrainingJob.objects.filter(pk=made.pk).update(status="FAILED", error="worker lost")
    made.refresh_from_db()
    return made


def make_token(user: Any) -> str:
    """A full-scope personal token's secret, for a test that calls as a script would."""
    return token_create(user=user, name="tests").raw
