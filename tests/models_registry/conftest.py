from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from jobs.models import TrainingJob
from models_registry import services
from models_registry.models import Deployment, Membership, ModelVersion, Workspace
from models_registry.predictor.app import predictor
from models_registry.predictor.directory import Snapshot
from models_registry.predictor.tally import KeyUse, Tally
from tests.factories import make_dataset
from tests.models_registry.predictor_client import refresh


@pytest.fixture
def register(searched: Any, media_root: Path, tmp_path: Path) -> Callable[..., ModelVersion]:
    """Register the searched model as the next version of the owner's cancer model, as a
    finished job does; extra metrics and hyperparameters stand for a different search."""
    result, _, path = searched

    def make(
        owner: User,
        metrics: dict[str, Any] | None = None,
        hyperparameters: dict[str, Any] | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> ModelVersion:
        job = TrainingJob.objects.create(
            owner=owner,
            dataset=make_dataset(owner),
            dataset_sha256="0" * 64,
            target="diagnosis",
            task_type="binary",
            status=TrainingJob.Status.SUCCEEDED,
            test_metrics=metrics or {"accuracy": result.test_metrics["accuracy"]},
            best_hyperparameters=hyperparameters or {"units": 32, "dropout": 0.1},
            manifest=manifest or {},
        )
        copy = tmp_path / f"job{job.pk}.keras"
        shutil.copy(path, copy)
        return services.model_version_register(job=job, model_path=copy)

    return make


@pytest.fixture
def share(personas: dict[str, Any]) -> Callable[..., Workspace]:
    """Put a model in a workspace where the teammate has the given role."""

    def make(version: ModelVersion, role: str | None) -> Workspace:
        workspace = Workspace.objects.create(name="team", created_by=personas["owner"])
        Membership.objects.create(
            workspace=workspace, user=personas["owner"], role=Membership.Role.ADMIN
        )
        if role:
            Membership.objects.create(workspace=workspace, user=personas["teammate"], role=role)
        version.model.workspace = workspace
        version.model.save(update_fields=["workspace"])
        return workspace

    return make


@pytest.fixture
def version(personas: dict[str, Any], register: Callable[..., ModelVersion]) -> ModelVersion:
    return register(personas["owner"])


@pytest.fixture
def deployed(personas: dict[str, Any], version: ModelVersion) -> Deployment:
    """The owner's version deployed as "cancer", and the predictor told of it. (Modules
    whose tests need another deployment define their own.)"""
    deployment = services.deployment_create(
        owner=personas["owner"], model_version=version, name="cancer"
    )
    refresh()
    return deployment


@pytest.fixture(autouse=True)
def fresh_predictor() -> Iterator[None]:
    """Each test starts with a predictor that hosts nothing, knows no one and counted nothing."""
    predictor.host.forget()
    predictor.traffic = Tally()
    predictor.key_use = KeyUse()
    predictor.snapshot = Snapshot()
    predictor.ready = False
    predictor.inference.start()
    yield
    predictor.host.forget()
    predictor.snapshot = Snapshot()
