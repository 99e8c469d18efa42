"""Writes that change a registered model's state: aliases, archival, cards, deletion.

Each checks the actor's role (models_registry.selectors) and records an AuditEvent in the same
transaction, so the trail holds exactly what happened. The admin's actions call these too."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from console.audit import audit_record
from models_registry import selectors
from models_registry.live import deployment_announce
from models_registry.models import (
    Alias,
    AuditEvent,
    Deployment,
    ModelVersion,
    RegisteredModel,
    Workspace,
)

AnyUser = AbstractBaseUser | AnonymousUser
MAX_TAGS = 32
MAX_CARD_CHARS = 100_000


class NotAllowed(Exception):
    """The actor reads the model but its role does not allow this change."""


class Conflict(Exception):
    """The change contradicts the registry's state (an alias still used, say)."""


def require(*, actor: AnyUser, model: RegisteredModel, right: set[str], doing: str) -> None:
    role = selectors.model_role(user=actor, model=model)
    if role not in right:
        raise NotAllowed(
            f"Your role on '{model.name}' ({role or 'none'}) does not allow you to {doing}."
        )


def deployment_require(*, actor: AnyUser, deployment: Deployment, doing: str) -> None:
    """The deployer may change its deployment; others need an editor's right on the model."""
    if deployment.owner_id != actor.pk:
        require(
            actor=actor, model=deployment.model_version.model, right=selectors.EDIT, doing=doing
        )


def version_label(version: ModelVersion | None) -> str:
    return f"v{version.version}" if version is not None else ""


def alias_move(
    *, actor: AnyUser, model: RegisteredModel, name: str, version: ModelVersion
) -> Alias:
    """Point the alias at the version (creating it), and every deployment that follows it."""
    require(actor=actor, model=model, right=selectors.EDIT, doing="move aliases")
    chosen = slugify(name)[:64]
    if not chosen or chosen != name:
        raise ValueError("An alias is lower-case letters, digits, '-' or '_' (e.g. 'production').")
    if version.model_id != model.pk:
        raise ValueError(f"{version} is not a version of '{model.name}'.")
    if version.archived_at is not None:
        raise Conflict(f"{version} is archived; restore it before pointing an alias at it.")
    with transaction.atomic():
        # The model's row is the lock: two moves of one alias serialise, and the second one
        # records the first one's version as its "from".
        RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
        alias = Alias.objects.filter(model=model, name=chosen).select_related("version").first()
        before = alias.version if alias is not None else None
        if alias is None:
            alias = Alias.objects.create(
                model=model, name=chosen, version=version, updated_by=_user(actor)
            )
        elif alias.version_id != version.pk:
            alias.version = version
            alias.updated_by = _user(actor)
            alias.save(update_fields=["version", "updated_by", "updated_at"])
        else:
            return alias
        audit_record(
            actor=actor,
            action=AuditEvent.Action.ALIAS_MOVED,
            subject=str(alias),
            model=model,
            version=version,
            from_value=version_label(before),
            to_value=version_label(version),
        )
        # The predictor serves deployment.model_version; following the alias is changing it.
        following = Deployment.objects.select_for_update().filter(alias=alias)
        for deployment in following:
            if deployment.model_version_id == version.pk:
                continue
            was = deployment.model_version
            deployment.model_version = version
            fields = ["model_version"]
            if deployment.status == Deployment.Status.FAILED:
                # The failure was the old version's; the predictor tries the new one.
                deployment.status, deployment.error = Deployment.Status.PENDING, ""
                fields += ["status", "error"]
            deployment.save(update_fields=fields)
            deployment_announce(deployment_id=deployment.pk)
            audit_record(
                actor=actor,
                action=AuditEvent.Action.REDEPLOYED,
                subject=deployment.name,
                model=model,
                version=version,
                deployment=deployment,
                from_value=version_label(was),
                to_value=version_label(version),
            )
    return alias


def alias_delete(*, actor: AnyUser, alias: Alias) -> None:
    require(actor=actor, model=alias.model, right=selectors.EDIT, doing="remove aliases")
    with transaction.atomic():
        if Deployment.objects.filter(alias=alias).exists():
            raise Conflict(f"Deployments follow '{alias}'; delete them or deploy a version first.")
        audit_record(
            actor=actor,
            action=AuditEvent.Action.ALIAS_DELETED,
            subject=str(alias),
            model=alias.model,
            version=alias.version,
            from_value=version_label(alias.version),
        )
        alias.delete()


def version_archive(*, actor: AnyUser, version: ModelVersion, archived: bool = True) -> None:
    """Archive (hide from deploying and aliasing) or restore a version."""
    model = version.model
    require(actor=actor, model=model, right=selectors.EDIT, doing="archive versions")
    if archived == (version.archived_at is not None):
        return
    with transaction.atomic():
        if archived:
            if version.aliases.exists():
                names = ", ".join(a.name for a in version.aliases.all())
                raise Conflict(f"{version} is aliased ({names}); move the aliases first.")
            if version.deployments.exclude(status=Deployment.Status.UNDEPLOYED).exists():
                raise Conflict(f"{version} is deployed; undeploy it first.")
            if version.canary_deployments.exclude(status=Deployment.Status.UNDEPLOYED).exists():
                raise Conflict(f"{version} is a deployment's canary; roll it back first.")
        version.archived_at = timezone.now() if archived else None
        version.save(update_fields=["archived_at"])
        audit_record(
            actor=actor,
            action=(
                AuditEvent.Action.VERSION_ARCHIVED
                if archived
                else AuditEvent.Action.VERSION_RESTORED
            ),
            subject=str(version),
            model=model,
            version=version,
            from_value="active" if archived else "archived",
            to_value="archived" if archived else "active",
        )


def version_delete(*, actor: AnyUser, version: ModelVersion) -> None:
    """Delete a version and, once that is committed, its artifact file."""
    model = version.model
    require(actor=actor, model=model, right=selectors.MANAGE, doing="delete versions")
    with transaction.atomic():
        if version.aliases.exists():
            raise Conflict(f"{version} is aliased; move its aliases first.")
        if version.deployments.exists() or version.canary_deployments.exists():
            raise Conflict(f"{version} has deployments; delete them first.")
        storage, name = version.artifact.storage, version.artifact.name
        audit_record(
            actor=actor,
            action=AuditEvent.Action.VERSION_DELETED,
            subject=str(version),
            model=model,
            from_value=f"{version_label(version)} sha256 {version.artifact_sha256[:12]}",
        )
        version.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


def version_card_update(*, actor: AnyUser, version: ModelVersion, text: str) -> ModelVersion:
    require(actor=actor, model=version.model, right=selectors.EDIT, doing="edit model cards")
    if len(text) > MAX_CARD_CHARS:
        raise ValueError(f"A model card holds at most {MAX_CARD_CHARS} characters.")
    with transaction.atomic():
        before = len(version.model_card)
        version.model_card = text
        version.save(update_fields=["model_card"])
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CARD_EDITED,
            subject=str(version),
            model=version.model,
            version=version,
            from_value=f"{before} characters",
            to_value=f"{len(text)} characters",
        )
    return version


def model_update(
    *,
    actor: AnyUser,
    model: RegisteredModel,
    description: str | None = None,
    tags: list[str] | None = None,
    workspace: Workspace | bool | None = False,
) -> RegisteredModel:
    """Change what describes a registered model; sharing it (workspace) is its owner's call.

    workspace=False leaves it as it is; None stops sharing it."""
    require(actor=actor, model=model, right=selectors.EDIT, doing="edit the model")
    changed: dict[str, tuple[Any, Any]] = {}
    if description is not None and description != model.description:
        changed["description"] = (model.description, description)
        model.description = description
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("Tags are a list of strings.")
        clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
        if len(clean) > MAX_TAGS or any(len(t) > 64 for t in clean):
            raise ValueError(f"At most {MAX_TAGS} tags of at most 64 characters each.")
        if clean != model.tags:
            changed["tags"] = (model.tags, clean)
            model.tags = clean
    if workspace is not False:
        if selectors.model_role(user=actor, model=model) != selectors.OWNER:
            raise NotAllowed(f"Only the owner of '{model.name}' chooses whom it is shared with.")
        if (
            isinstance(workspace, Workspace)
            and not workspace.memberships.filter(user_id=int(actor.pk or 0)).exists()
        ):
            raise NotAllowed("You can only share a model with a workspace you belong to.")
        new = workspace.pk if isinstance(workspace, Workspace) else None
        if new != model.workspace_id:
            changed["workspace"] = (model.workspace_id, new)
            model.workspace_id = new
    if not changed:
        return model
    with transaction.atomic():
        model.save(update_fields=list(changed))
        for field, (before, after) in changed.items():
            audit_record(
                actor=actor,
                action=AuditEvent.Action.MODEL_EDITED,
                subject=f"{model.name}.{field}",
                model=model,
                from_value=before,
                to_value=after,
            )
        if "workspace" in changed:
            # Who may watch its deployments changed: those who may not any more are let go.
            for deployment_id in Deployment.objects.filter(model_version__model=model).values_list(
                "pk", flat=True
            ):
                deployment_announce(deployment_id=deployment_id)
    return model


def _user(actor: AnyUser) -> User | None:
    """The actor as a row to point at; an anonymous one never gets this far in practice."""
    return cast(User, actor) if actor.pk is not None else None
