"""The console's one audit trail: who changed what, and when (issue 10).

The registry's services and the jobs app's services both write here, inside the transaction
of the change they record, so the trail holds exactly what happened: a change rolled back
leaves no event, and no change commits without one. The table is the registry's AuditEvent,
grown a generic subject (type and id) and the subject's owner, so that one list
(`/api/v1/audit/`) reads every app's events in one order without a union of tables.

An actor is a user, or None for the system (the reaper, a worker): its name is "system".
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import Model

from models_registry.models import AuditEvent, RegisteredModel

AnyUser = AbstractBaseUser | AnonymousUser
SYSTEM = "system"

Subject = AuditEvent.SubjectType
Action = AuditEvent.Action

# What a registry event is about, by its action: its subject's id is then the matching link's.
_REGISTRY_SUBJECTS: dict[str, str] = {
    Action.ALIAS_MOVED: Subject.ALIAS,
    Action.ALIAS_DELETED: Subject.ALIAS,
    Action.VERSION_ARCHIVED: Subject.VERSION,
    Action.VERSION_RESTORED: Subject.VERSION,
    Action.VERSION_DELETED: Subject.VERSION,
    Action.CARD_EDITED: Subject.VERSION,
    Action.EXPORTED: Subject.VERSION,
    Action.MODEL_EDITED: Subject.MODEL,
}


def _real(actor: AnyUser | None) -> User | None:
    return cast(User, actor) if actor is not None and actor.pk is not None else None


def audit_record(
    *,
    actor: AnyUser | None,
    action: str,
    subject: str,
    subject_type: str = "",
    subject_id: Any = "",
    owner: Any = None,
    model: RegisteredModel | None = None,
    version: Any = None,
    deployment: Any = None,
    from_value: Any = "",
    to_value: Any = "",
) -> AuditEvent:
    """Record one change. Registry callers pass the model/version/deployment links and the
    subject follows from the action; others pass subject_type, subject_id and owner."""
    if not subject_type:
        subject_type = _REGISTRY_SUBJECTS.get(action, Subject.DEPLOYMENT)
        link = {Subject.VERSION: version, Subject.MODEL: model, Subject.DEPLOYMENT: deployment}
        found = link.get(subject_type)  # type: ignore[call-overload]
        subject_id = found.pk if found is not None else ""
    if owner is None and model is not None:
        owner = model.owner
    real = _real(actor)
    return AuditEvent.objects.create(
        actor=real,
        actor_name=real.get_username() if real is not None else SYSTEM,
        action=action,
        subject=subject[:300],
        subject_type=subject_type,
        subject_id="" if subject_id is None else str(subject_id),
        owner=owner,
        model=model,
        version=version,
        deployment=deployment,
        from_value=str(from_value)[:300],
        to_value=str(to_value)[:300],
    )


def audit_object(
    *, actor: AnyUser | None, action: str, obj: Model, from_value: Any = "", to_value: Any = ""
) -> AuditEvent:
    """Record a change to a jobs-app row (a dataset, a job, their trials, uploads, events):
    its type, id and owner are read off the row."""
    subject_type, owner = subject_of(obj)
    return audit_record(
        actor=actor,
        action=action,
        subject=str(obj),
        subject_type=subject_type,
        subject_id=obj.pk,
        owner=owner,
        from_value=from_value,
        to_value=to_value,
    )


def subject_of(obj: Model) -> tuple[str, Any]:
    """The subject type of a jobs-app row and the user who owns it."""
    label = obj._meta.model_name
    if label == "dataset":
        return Subject.DATASET, getattr(obj, "owner", None)
    if label == "trainingjob":
        return Subject.JOB, getattr(obj, "owner", None)
    if label == "upload":
        return Subject.UPLOAD, getattr(obj, "owner", None)
    if label == "userlimits":
        return Subject.USER_LIMITS, obj.user  # type: ignore[attr-defined]
    if label == "trial":
        return Subject.TRIAL, obj.job.owner  # type: ignore[attr-defined]
    if label == "datasetevent":
        return Subject.DATASET_EVENT, obj.dataset.owner  # type: ignore[attr-defined]
    if label == "jobevent":
        return Subject.JOB_EVENT, obj.job.owner  # type: ignore[attr-defined]
    raise ValueError(f"No audit subject type for {obj._meta.label}.")
