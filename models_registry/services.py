"""Writes for registered models, versions and deployments."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.text import slugify

from jobs.models import TrainingJob
from models_registry import selectors
from models_registry.lifecycle import (
    Conflict,
    NotAllowed,
    alias_delete,
    alias_move,
    audit_record,
    deployment_require,
    model_update,
    require,
    version_archive,
    version_card_update,
    version_delete,
)
from models_registry.live import deployment_announce
from models_registry.models import (
    Alias,
    AuditEvent,
    Deployment,
    DeploymentKey,
    DeploymentTraffic,
    ModelVersion,
    RegisteredModel,
)
from models_registry.rollout import (
    deployment_canary_promote,
    deployment_canary_rollback,
    deployment_canary_set,
    deployment_swap,
)
from models_registry.traffic import STAGES, MinuteCount

__all__ = [
    "Conflict",
    "DeploymentExists",
    "DeploymentNameTaken",
    "NotAllowed",
    "alias_delete",
    "alias_move",
    "deployment_canary_promote",
    "deployment_canary_rollback",
    "deployment_canary_set",
    "deployment_create",
    "deployment_delete",
    "deployment_key_create",
    "deployment_key_revoke",
    "deployment_mark_failed",
    "deployment_mark_loading",
    "deployment_mark_ready",
    "deployment_move",
    "deployment_swap",
    "deployment_traffic_expire",
    "deployment_traffic_save",
    "deployment_undeploy",
    "model_update",
    "model_version_register",
    "version_archive",
    "version_card_update",
    "version_delete",
]

AnyUser = AbstractBaseUser | AnonymousUser


class DeploymentNameTaken(Exception):
    """Another deployment of the same owner already uses the name."""


class DeploymentExists(Exception):
    """The version (or alias) is already deployed; deploying again needs a new name."""

    def __init__(self, existing: Deployment) -> None:
        super().__init__(
            f"'{existing.name}' already serves this; give a new name to deploy it again."
        )
        self.existing = existing


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
            artifact_size=model_path.stat().st_size,
            created_by=job.owner,
            task_type=job.task_type,
            target=job.target,
            classes=engine_model.class_labels(keras_model),
            metrics=job.test_metrics,
            hyperparameters=job.best_hyperparameters,
            input_schema=engine_model.input_schema(keras_model),
            manifest=job.manifest,
            source=source,
        )
        name = f"{uuid.uuid4().hex}.keras"
        try:
            with model_path.open("rb") as fileobj:
                version.artifact.save(name, File(fileobj), save=False)
        except BaseException:
            # No partial .keras left by a copy cut short (a full disk); no row either.
            with contextlib.suppress(Exception):
                version.artifact.storage.delete(
                    version.artifact.field.generate_filename(version, name)
                )
            raise
        stored = version.artifact.name
        try:
            version.save()
        except BaseException:
            version.artifact.storage.delete(stored)
            raise
    return version


def deployment_create(
    *,
    owner: AnyUser,
    model_version: ModelVersion | None = None,
    name: str = "",
    alias: Alias | None = None,
) -> Deployment:
    """Ask the predictor service to serve a version (or whatever an alias points at) under a
    name unique to the deployer (`owner`), who needs an editor's right on the model.

    Without a name, deploying what one of the deployer's live deployments already serves is
    refused with that deployment (DeploymentExists): a second endpoint is a choice, not a
    side effect of pressing Deploy twice."""
    if alias is not None:
        model_version = alias.version
    if model_version is None:
        raise ValueError("Deploy a version or an alias.")
    model = model_version.model
    require(actor=owner, model=model, right=selectors.EDIT, doing="deploy")
    if model_version.archived_at is not None:
        raise Conflict(f"{model_version} is archived; restore it before deploying it.")
    default = f"{model.name}-{alias.name}" if alias else f"{model.name}-v{model_version.version}"
    chosen = slugify(name or default)[:100]
    if not chosen:
        raise ValueError("A deployment name needs letters or digits.")
    live = Deployment.objects.filter(owner_id=owner.pk).exclude(status=Deployment.Status.UNDEPLOYED)
    if not name:
        same = (
            live.filter(alias=alias)
            if alias
            else live.filter(model_version=model_version, alias=None)
        )
        existing = same.order_by("created_at").first()
        if existing is not None:
            raise DeploymentExists(existing)
    if Deployment.objects.filter(owner_id=owner.pk, name=chosen).exists():
        raise DeploymentNameTaken(f"You already have a deployment named '{chosen}'.")
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                owner=cast(User, owner), name=chosen, model_version=model_version, alias=alias
            )
            audit_record(
                actor=owner,
                action=AuditEvent.Action.DEPLOYED,
                subject=chosen,
                model=model,
                version=model_version,
                deployment=deployment,
                to_value=f"{alias.name} ({model_version.version})"
                if alias
                else f"v{model_version.version}",
            )
            return deployment
    except IntegrityError as exc:
        raise DeploymentNameTaken(f"You already have a deployment named '{chosen}'.") from exc


def deployment_undeploy(*, actor: AnyUser, deployment: Deployment) -> Deployment:
    """Stop serving; the row stays, UNDEPLOYED, as the record of what was served."""
    deployment_require(actor=actor, deployment=deployment, doing="undeploy")
    if deployment.status == Deployment.Status.UNDEPLOYED:
        return deployment
    with transaction.atomic():
        before = deployment.status
        deployment.status = Deployment.Status.UNDEPLOYED
        deployment.save(update_fields=["status"])
        deployment_announce(deployment_id=deployment.pk)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.UNDEPLOYED,
            subject=deployment.name,
            model=deployment.model_version.model,
            version=deployment.model_version,
            deployment=deployment,
            from_value=before,
            to_value=Deployment.Status.UNDEPLOYED,
        )
    return deployment


def deployment_delete(*, actor: AnyUser, deployment: Deployment) -> None:
    """Stop serving and forget the deployment; its name is free again."""
    deployment_require(actor=actor, deployment=deployment, doing="delete deployments")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditEvent.Action.DEPLOYMENT_DELETED,
            subject=deployment.name,
            model=deployment.model_version.model,
            version=deployment.model_version,
            from_value=f"{deployment.status} v{deployment.model_version.version}",
        )
        deployment_announce(deployment_id=deployment.pk)
        deployment.delete()


def deployment_mark_loading(*, deployment_id: int) -> bool:
    """Record that a predictor replica is loading the model; only a PENDING one, or an
    UNLOADED one a request wakes, changes."""
    changed = Deployment.objects.filter(
        pk=deployment_id, status__in=[Deployment.Status.PENDING, Deployment.Status.UNLOADED]
    ).update(status=Deployment.Status.LOADING)
    if changed:
        deployment_announce(deployment_id=deployment_id)
    return bool(changed)


def deployment_mark_ready(*, deployment_id: int) -> bool:
    """Record that a predictor replica serves the deployment, warm; only a PENDING,
    LOADING or UNLOADED one changes."""
    changed = Deployment.objects.filter(
        pk=deployment_id,
        status__in=[
            Deployment.Status.PENDING,
            Deployment.Status.LOADING,
            Deployment.Status.UNLOADED,
        ],
    ).update(status=Deployment.Status.READY, ready_at=timezone.now(), error="")
    if changed:
        deployment_announce(deployment_id=deployment_id)
    return bool(changed)


def deployment_mark_unloaded(*, deployment_id: int) -> bool:
    """Record that a replica unloaded the deployment for idleness; only a READY one changes.
    A replica that still holds it marks it READY again on its next refresh
    (models_registry.predictor.hosting), so it stays UNLOADED only once none holds it."""
    changed = Deployment.objects.filter(pk=deployment_id, status=Deployment.Status.READY).update(
        status=Deployment.Status.UNLOADED
    )
    if changed:
        deployment_announce(deployment_id=deployment_id)
    return bool(changed)


def deployment_move(*, deployment: Deployment, model_version: ModelVersion) -> Deployment:
    """Point a deployment at another version of the same model. The predictor loads and
    warms the new version beside the old one and switches when it is ready: no request fails.
    """
    if model_version.model_id != deployment.model_version.model_id:
        raise ValueError("A deployment moves only between versions of its own model.")
    Deployment.objects.filter(pk=deployment.pk).update(model_version=model_version)
    deployment_announce(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    return deployment


def deployment_mark_failed(*, deployment_id: int, error: str) -> None:
    """Record why the predictor could not load the deployment's model."""
    Deployment.objects.filter(pk=deployment_id).update(
        status=Deployment.Status.FAILED, error=error[:2000]
    )
    deployment_announce(deployment_id=deployment_id)


KEY_PREFIX = "dk_"


def key_sha256(key: str) -> str:
    """How a deployment key is stored and looked up: it is 32 random bytes, so a plain
    sha256 (not a slow password hash) is enough and costs the predictor nothing per request."""
    return hashlib.sha256(key.encode()).hexdigest()


def deployment_key_create(
    *,
    deployment: Deployment,
    name: str = "",
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[DeploymentKey, str]:
    """A new key for one deployment; the key itself is returned here and never again."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = DeploymentKey.objects.create(
        deployment=deployment,
        name=name,
        prefix=secret[:10],
        key_sha256=key_sha256(secret),
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    return key, secret


def deployment_key_revoke(*, key: DeploymentKey) -> DeploymentKey:
    """Stop a key working (the predictor hears of it within a second); kept for the record."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


TRAFFIC_TOTALS = ("requests", "errors_4xx", "errors_5xx", "rows", "latency_ms_sum")


def deployment_key_mark_used(*, used: dict[int, datetime]) -> None:
    """Record when keys were last used (key id -> when), never moving one back in time."""
    for key_id, at in used.items():
        DeploymentKey.objects.filter(pk=key_id).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=at)
        ).update(last_used_at=at)


def deployment_traffic_save(*, replica: str, counts: list[MinuteCount]) -> list[MinuteCount]:
    """Write a replica's running totals, each replacing what the replica wrote before for its
    minute (a retry counts nothing twice). Counts of a deployment or version deleted since
    are left out, and returned, so that the caller forgets them. (Looked up first: the
    foreign keys are checked at commit, too late to leave one row out.)"""
    deployments = set(
        Deployment.objects.filter(pk__in={c.deployment_id for c in counts}).values_list(
            "pk", flat=True
        )
    )
    versions = set(
        ModelVersion.objects.filter(pk__in={c.version_id for c in counts}).values_list(
            "pk", flat=True
        )
    )
    kept: list[MinuteCount] = []
    gone: list[MinuteCount] = []
    for c in counts:
        (kept if c.deployment_id in deployments and c.version_id in versions else gone).append(c)
    DeploymentTraffic.objects.bulk_create(
        [
            DeploymentTraffic(
                deployment_id=c.deployment_id,
                model_version_id=c.version_id,
                minute=datetime.fromtimestamp(c.minute * 60, UTC),
                replica=replica,
                requests=c.requests,
                errors_4xx=c.errors_4xx,
                errors_5xx=c.errors_5xx,
                rows=c.rows,
                latency_ms_sum=c.latency_ms_sum,
                latency_histogram=list(c.histogram),
                batch_histogram=list(c.batch_histogram),
                **{f"{s}_ms_sum": ms for s, ms in zip(STAGES, c.stage_ms_sums, strict=True)},
            )
            for c in kept
        ],
        update_conflicts=True,
        unique_fields=["deployment", "model_version", "minute", "replica"],
        update_fields=[
            *TRAFFIC_TOTALS,
            "latency_histogram",
            "batch_histogram",
            *(f"{stage}_ms_sum" for stage in STAGES),
        ],
    )
    return gone


def deployment_traffic_expire(*, days: float) -> int:
    """Forget traffic older than `days`; the number of rows deleted."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = DeploymentTraffic.objects.filter(minute__lt=cutoff).delete()
    return deleted
