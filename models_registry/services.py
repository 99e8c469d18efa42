"""Writes for registered models, versions and deployments."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from jobs.models import TrainingJob
from models_registry.models import Deployment, ModelVersion, RegisteredModel


class DeploymentNameTaken(Exception):
    """Another deployment of the same owner already uses the name."""


def model_version_register(
    *, job: TrainingJob, model_path: Path, source: str = "best_trial_weights"
) -> ModelVersion:
    """Store a job's saved model as the next version of the model named after its data."""
    from jobs.engine import model as engine_model

    keras_model = engine_model.load(str(model_path))
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    with transaction.atomic():
        registered, _ = RegisteredModel.objects.get_or_create(
            owner=job.owner,
            name=slugify(f"{job.dataset.name}-{job.target}")[:200] or f"model-{job.pk}",
            defaults={"task_type": job.task_type},
        )
        RegisteredModel.objects.select_for_update().filter(pk=registered.pk).first()
        latest = registered.versions.aggregate(m=Max("version"))["m"] or 0
        version = ModelVersion(
            model=registered,
            version=latest + 1,
            job=job,
            dataset=job.dataset,
            artifact_sha256=digest,
            task_type=job.task_type,
            target=job.target,
            classes=engine_model.class_labels(keras_model),
            metrics=job.test_metrics,
            hyperparameters=job.best_hyperparameters,
            input_schema=engine_model.input_schema(keras_model),
            manifest=job.manifest,
            source=source,
        )
        with model_path.open("rb") as fileobj:
            version.artifact.save(f"{uuid.uuid4().hex}.keras", File(fileobj), save=False)
        stored = version.artifact.name
        try:
            version.save()
        except BaseException:
            version.artifact.storage.delete(stored)
            raise
    return version


def deployment_create(*, owner: User, model_version: ModelVersion, name: str = "") -> Deployment:
    """Ask the predictor service to serve a version under a name unique to its owner."""
    chosen = (
        slugify(name) if name else slugify(f"{model_version.model.name}-v{model_version.version}")
    )
    chosen = chosen[:100]
    if not chosen:
        raise ValueError("A deployment name needs letters or digits.")
    if name and Deployment.objects.filter(owner=owner, name=chosen).exists():
        raise DeploymentNameTaken(f"You already have a deployment named '{chosen}'.")
    if not name:
        base, n = chosen, 2
        while Deployment.objects.filter(owner=owner, name=chosen).exists():
            chosen, n = f"{base[:95]}-{n}", n + 1
    try:
        with transaction.atomic():
            return Deployment.objects.create(owner=owner, name=chosen, model_version=model_version)
    except IntegrityError as exc:
        raise DeploymentNameTaken(f"You already have a deployment named '{chosen}'.") from exc


def deployment_mark_ready(*, deployment_id: int) -> bool:
    """Record that a predictor replica serves the deployment; only a PENDING one changes."""
    return bool(
        Deployment.objects.filter(pk=deployment_id, status=Deployment.Status.PENDING).update(
            status=Deployment.Status.READY, ready_at=timezone.now(), error=""
        )
    )


def deployment_mark_failed(*, deployment_id: int, error: str) -> None:
    """Record why the predictor could not load the deployment's model."""
    Deployment.objects.filter(pk=deployment_id).update(
        status=Deployment.Status.FAILED, error=error[:2000]
    )
