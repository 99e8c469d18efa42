"""Changing which version a live deployment serves: a swap, a canary, its promotion or rollback.

Each checks the actor as undeploying does (the deployer, or an editor or admin of the model's
workspace), refuses what the predictor could not serve, and records an AuditEvent in the same
transaction. The predictor hears of the row's change (NOTIFY) and loads and warms a new version
beside the old one before any request reaches it, so none of these fails a request.

A deployment that follows an alias is refused: its version is the alias's, and moving the
alias is the way to change it (models_registry.lifecycle.alias_move).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from models_registry.lifecycle import (
    Conflict,
    audit_record,
    deployment_require,
    version_label,
)
from models_registry.live import deployment_announce
from models_registry.models import AuditEvent, Deployment, ModelVersion

AnyUser = AbstractBaseUser | AnonymousUser


def _servable(deployment: Deployment, version: ModelVersion, doing: str) -> None:
    if deployment.alias_id is not None:
        raise Conflict(
            f"'{deployment.name}' follows the alias '{deployment.alias}'; move the alias "
            f"instead of {doing}."
        )
    if deployment.status == Deployment.Status.UNDEPLOYED:
        raise Conflict(f"'{deployment.name}' is undeployed; deploy the version instead.")
    if version.model_id != deployment.model_version.model_id:
        raise ValueError(f"{version} is not a version of '{deployment.model_version.model}'.")
    if version.archived_at is not None:
        raise Conflict(f"{version} is archived; restore it before serving it.")


def _locked(deployment: Deployment) -> Deployment:
    """The deployment's row, locked for the transaction: two changes at once serialise, and
    the second sees what the first made of it."""
    return (
        Deployment.objects.select_for_update(of=("self",))
        .select_related("model_version__model", "canary_version", "alias")
        .get(pk=deployment.pk)
    )


def _audit(
    actor: AnyUser, action: str, deployment: Deployment, version: ModelVersion, was: str, now: str
) -> None:
    deployment_announce(deployment_id=deployment.pk)
    audit_record(
        actor=actor,
        action=action,
        subject=deployment.name,
        model=deployment.model_version.model,
        version=version,
        deployment=deployment,
        from_value=was,
        to_value=now,
    )


def _split(deployment: Deployment) -> str:
    if deployment.canary_version is None:
        return version_label(deployment.model_version)
    main = version_label(deployment.model_version)
    canary = version_label(deployment.canary_version)
    return f"{main} + {canary} at {deployment.canary_percent}%"


def deployment_swap(*, actor: AnyUser, deployment: Deployment, version: ModelVersion) -> Deployment:
    """Serve another version of the same model. A canary of that very version is folded in
    (it becomes the main version); any other canary keeps running beside the new main."""
    deployment_require(actor=actor, deployment=deployment, doing="swap versions")
    with transaction.atomic():
        deployment = _locked(deployment)
        _servable(deployment, version, "swapping")
        if deployment.model_version_id == version.pk:
            return deployment
        was = _split(deployment)
        deployment.model_version = version
        fields = ["model_version"]
        if deployment.canary_version_id == version.pk:
            deployment.canary_version, deployment.canary_percent = None, None
            fields += ["canary_version", "canary_percent"]
        if deployment.status == Deployment.Status.FAILED:
            # The failure was the old version's; the predictor tries the new one.
            deployment.status, deployment.error = Deployment.Status.PENDING, ""
            fields += ["status", "error"]
        deployment.save(update_fields=fields)
        _audit(actor, AuditEvent.Action.SWAPPED, deployment, version, was, _split(deployment))
    return deployment


def deployment_canary_set(
    *, actor: AnyUser, deployment: Deployment, version: ModelVersion, percent: int
) -> Deployment:
    """Let `version` answer `percent` (1..99) of the deployment's requests; setting it again
    changes the version or the share."""
    deployment_require(actor=actor, deployment=deployment, doing="set canaries")
    if not 1 <= percent <= 99:
        raise ValueError("A canary's percent is between 1 and 99.")
    with transaction.atomic():
        deployment = _locked(deployment)
        _servable(deployment, version, "setting a canary")
        if deployment.model_version_id == version.pk:
            raise ValueError(f"{version} is already the main version of '{deployment.name}'.")
        if deployment.canary_version_id == version.pk and deployment.canary_percent == percent:
            return deployment
        was = _split(deployment)
        deployment.canary_version, deployment.canary_percent = version, percent
        deployment.save(update_fields=["canary_version", "canary_percent"])
        _audit(actor, AuditEvent.Action.CANARY_SET, deployment, version, was, _split(deployment))
    return deployment


def deployment_canary_promote(*, actor: AnyUser, deployment: Deployment) -> Deployment:
    """Make the canary the main version; it is already loaded and warm, so the predictor
    switches at once."""
    deployment_require(actor=actor, deployment=deployment, doing="promote canaries")
    with transaction.atomic():
        deployment = _locked(deployment)
        canary = deployment.canary_version
        if canary is None:
            raise Conflict(f"'{deployment.name}' has no canary to promote.")
        _servable(deployment, canary, "promoting a canary")
        was = _split(deployment)
        deployment.model_version = canary
        deployment.canary_version, deployment.canary_percent = None, None
        deployment.save(update_fields=["model_version", "canary_version", "canary_percent"])
        _audit(
            actor, AuditEvent.Action.CANARY_PROMOTED, deployment, canary, was, _split(deployment)
        )
    return deployment


def deployment_canary_rollback(*, actor: AnyUser, deployment: Deployment) -> Deployment:
    """Drop the canary: the main version answers every request again."""
    deployment_require(actor=actor, deployment=deployment, doing="roll back canaries")
    with transaction.atomic():
        deployment = _locked(deployment)
        canary = deployment.canary_version
        if canary is None:
            raise Conflict(f"'{deployment.name}' has no canary to roll back.")
        was = _split(deployment)
        deployment.canary_version, deployment.canary_percent = None, None
        deployment.save(update_fields=["canary_version", "canary_percent"])
        _audit(
            actor,
            AuditEvent.Action.CANARY_ROLLED_BACK,
            deployment,
            deployment.model_version,
            was,
            _split(deployment),
        )
    return deployment
