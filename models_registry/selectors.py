"""Reads for the registry, always scoped to the user asking.

Who may do what with a registered model: its owner everything; a member of its workspace by
role: viewers read, editors also move aliases, deploy, archive and edit cards, admins also
delete. Everyone else does not see it at all (a 404, never a 403 that confirms it exists)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from models_registry.models import (
    Alias,
    AuditEvent,
    BatchPrediction,
    Deployment,
    DeploymentKey,
    DeploymentTraffic,
    Membership,
    ModelVersion,
    RegisteredModel,
)
from models_registry.traffic import (
    BATCH_BOUNDS,
    N_BATCH_BUCKETS,
    N_BUCKETS,
    STAGES,
    add_histograms,
    quantile,
)

AnyUser = AbstractBaseUser | AnonymousUser

OWNER = "owner"
# Each right, and the roles that hold it (the owner holds them all).
READ = {OWNER, Membership.Role.VIEWER, Membership.Role.EDITOR, Membership.Role.ADMIN}
EDIT = {OWNER, Membership.Role.EDITOR, Membership.Role.ADMIN}
MANAGE = {OWNER, Membership.Role.ADMIN}


def _readable(user: AnyUser, prefix: str = "") -> Q:
    return Q(**{f"{prefix}owner_id": user.pk}) | Q(
        **{f"{prefix}workspace__memberships__user_id": user.pk}
    )


def model_list(*, user: AnyUser) -> QuerySet[RegisteredModel]:
    if user.pk is None:
        return RegisteredModel.objects.none()
    return (
        RegisteredModel.objects.filter(_readable(user))
        .distinct()
        .prefetch_related("versions", "aliases__version")
    )


def version_list(*, user: AnyUser) -> QuerySet[ModelVersion]:
    if user.pk is None:
        return ModelVersion.objects.none()
    return (
        ModelVersion.objects.filter(_readable(user, "model__"))
        .distinct()
        .select_related("model", "created_by", "dataset")
        .prefetch_related("aliases")
    )


def model_role(*, user: AnyUser, model: RegisteredModel) -> str | None:
    """The user's role on the model: "owner", a membership role, or None."""
    if user.pk is None:
        return None
    if model.owner_id == user.pk:
        return OWNER
    if model.workspace_id is None:
        return None
    return (
        Membership.objects.filter(workspace_id=model.workspace_id, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def model_allows(*, user: AnyUser, model: RegisteredModel, right: set[str]) -> bool:
    return model_role(user=user, model=model) in right


def alias_list(*, user: AnyUser) -> QuerySet[Alias]:
    if user.pk is None:
        return Alias.objects.none()
    return (
        Alias.objects.filter(_readable(user, "model__"))
        .distinct()
        .select_related("model", "version", "updated_by")
    )


# The trail's events about the jobs app's rows (console.audit); the registry's list leaves
# them out.
JOBS_SUBJECTS = (
    AuditEvent.SubjectType.DATASET,
    AuditEvent.SubjectType.JOB,
    AuditEvent.SubjectType.TRIAL,
    AuditEvent.SubjectType.UPLOAD,
    AuditEvent.SubjectType.DATASET_EVENT,
    AuditEvent.SubjectType.JOB_EVENT,
)


def audit_list(*, user: AnyUser) -> QuerySet[AuditEvent]:
    """The registry's events: of the models the user reads, and the user's own on what is
    gone."""
    return audit_trail_list(user=user).exclude(subject_type__in=JOBS_SUBJECTS)


def audit_trail_list(*, user: AnyUser) -> QuerySet[AuditEvent]:
    """The whole trail the user may read: events of the models the user reads, of the user's
    own datasets and jobs (kept after they are deleted: the event names its owner), and the
    user's own acts. Staff read all of it."""
    if user.pk is None:
        return AuditEvent.objects.none()
    events = AuditEvent.objects.select_related("model")
    if getattr(user, "is_staff", False):
        return events
    return events.filter(
        _readable(user, "model__") | Q(owner_id=user.pk) | Q(actor_id=user.pk)
    ).distinct()


def deployment_list(*, user: AnyUser) -> QuerySet[Deployment]:
    """The user's own deployments: what the predictor serves to the user's token."""
    return Deployment.objects.filter(owner_id=user.pk).select_related(
        "model_version__model", "canary_version", "alias"
    )


def deployment_visible_list(*, user: AnyUser) -> QuerySet[Deployment]:
    """The user's deployments and those of the models the user reads (a workspace's
    teammates'): viewers see them, editors also undeploy and delete them (services)."""
    if user.pk is None:
        return Deployment.objects.none()
    return (
        Deployment.objects.filter(Q(owner_id=user.pk) | _readable(user, "model_version__model__"))
        .distinct()
        .select_related("model_version__model", "canary_version", "alias", "owner")
        .order_by("-created_at", "pk")
    )


def deployment_named(
    *, user: AnyUser, name: str, among: QuerySet[Deployment] | None = None
) -> list[Deployment]:
    """The visible deployment of that name (names are unique per deployer): the user's own
    first, else the one teammate's. Two when teammates share the name (ambiguous), none when
    the user sees none. `among` narrows the visible ones (the list's filters, `?owner=`)."""
    named = (among if among is not None else deployment_visible_list(user=user)).filter(name=name)
    return list(named.filter(owner_id=user.pk)[:1]) or list(named[:2])


def deployment_watched(*, user: AnyUser, deployment_id: int) -> Deployment | None:
    """The deployment as its watcher may see it now; None once it is deleted or hidden."""
    return deployment_visible_list(user=user).filter(pk=deployment_id).first()


def deployments_to_serve() -> QuerySet[Deployment]:
    return Deployment.objects.exclude(
        status__in=[Deployment.Status.FAILED, Deployment.Status.UNDEPLOYED]
    ).select_related("model_version")


def deployment_key_list(*, user: AnyUser, deployment_name: str) -> QuerySet[DeploymentKey]:
    return DeploymentKey.objects.filter(
        deployment__owner_id=user.pk, deployment__name=deployment_name
    ).select_related("deployment")


def batch_prediction_list(*, user: AnyUser) -> QuerySet[BatchPrediction]:
    """The user's own batch predictions: they score the user's datasets, which no one else
    sees."""
    return BatchPrediction.objects.filter(owner_id=user.pk).select_related(
        "model_version__model", "deployment", "dataset"
    )


_TRAFFIC_SUMS = ("requests", "errors_4xx", "errors_5xx", "rows")
_STAGE_FIELDS = tuple(f"{stage}_ms_sum" for stage in STAGES)


def deployment_traffic(
    *, deployment: Deployment, since: datetime, until: datetime, step: int
) -> dict[str, Any]:
    """A deployment's traffic from `since` (inclusive) to `until` (exclusive), summed across
    the predictor replicas into `step`-second buckets, one series point per bucket and
    version (a canary's numbers stay apart); buckets without traffic are left out. Totals
    over the range, overall and per version, besides, with the model calls by batch size and
    the answered requests' time per stage (the series leaves these out, to stay small)."""
    rows = (
        DeploymentTraffic.objects.filter(deployment=deployment, minute__gte=since, minute__lt=until)
        .values_list(
            "minute",
            "model_version_id",
            "model_version__version",
            *_TRAFFIC_SUMS,
            "latency_ms_sum",
            "latency_histogram",
            "batch_histogram",
            *_STAGE_FIELDS,
        )
        .order_by()
    )
    points: dict[tuple[int, int], dict[str, Any]] = {}
    versions: dict[int, dict[str, Any]] = {}
    overall = _traffic_sum()
    numbers: dict[int, int] = {}
    n = len(_TRAFFIC_SUMS)
    for minute, version_id, number, *values in rows.iterator():
        numbers[version_id] = number
        counts, (latency_sum, histogram, batches, *stage_sums) = values[:n], values[n:]
        t = int(minute.timestamp()) // step * step
        for total in (
            points.setdefault((t, version_id), _traffic_sum()),
            versions.setdefault(version_id, _traffic_sum()),
            overall,
        ):
            for field, value in zip(_TRAFFIC_SUMS, counts, strict=True):
                total[field] += value
            total["latency_ms_sum"] += latency_sum
            add_histograms(total["histogram"], histogram or [])
            add_histograms(total["batch_histogram"], batches or [])
            for i, ms in enumerate(stage_sums):
                total["stage_ms_sum"][i] += ms
    series = [
        {
            "t": datetime.fromtimestamp(t, UTC),
            "version": version_id,
            "version_number": numbers[version_id],
            **_traffic_stats(total),
        }
        for (t, version_id), total in sorted(points.items())
    ]
    by_version = [
        {
            "version": version_id,
            "version_number": numbers[version_id],
            **_traffic_stats(total),
            **_traffic_breakdown(total),
        }
        for version_id, total in sorted(versions.items(), key=lambda item: numbers[item[0]])
    ]
    return {
        "deployment": deployment.name,
        "since": since,
        "until": until,
        "step": step,
        "batch_rows_bounds": list(BATCH_BOUNDS),
        "series": series,
        "totals": {
            **_traffic_stats(overall),
            **_traffic_breakdown(overall),
            "versions": by_version,
        },
    }


def _traffic_sum() -> dict[str, Any]:
    return {
        **dict.fromkeys(_TRAFFIC_SUMS, 0),
        "latency_ms_sum": 0.0,
        "histogram": [0] * N_BUCKETS,
        "batch_histogram": [0] * N_BATCH_BUCKETS,
        "stage_ms_sum": [0.0] * len(STAGES),
    }


def _traffic_breakdown(total: dict[str, Any]) -> dict[str, Any]:
    """Model calls by rows, and the answered requests' summed and mean time per stage."""
    answered = total["requests"] - total["errors_4xx"] - total["errors_5xx"]
    return {
        "batches": sum(total["batch_histogram"]),
        "batch_rows_histogram": total["batch_histogram"],
        "stage_ms_sum": dict(zip(STAGES, total["stage_ms_sum"], strict=True)),
        "stage_ms_avg": {
            stage: ms / answered if answered > 0 else None
            for stage, ms in zip(STAGES, total["stage_ms_sum"], strict=True)
        },
    }


def _traffic_stats(total: dict[str, Any]) -> dict[str, Any]:
    """Sums, and the latency's mean and estimated percentiles (None without requests)."""
    histogram = total["histogram"]
    return {
        **{field: total[field] for field in _TRAFFIC_SUMS},
        "latency_ms_avg": total["latency_ms_sum"] / total["requests"]
        if total["requests"]
        else None,
        "latency_ms_p50": quantile(histogram, 0.50),
        "latency_ms_p95": quantile(histogram, 0.95),
        "latency_ms_p99": quantile(histogram, 0.99),
    }
