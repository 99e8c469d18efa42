"""Query filters for the registry's lists, in the one list vocabulary of console.lists.

The ids the frontend and the CLI already send keep working: `?model=` on versions and the
audit trail, `?action=` on the audit trail, `?model_version=` and `?owner=` on deployments."""

from __future__ import annotations

import django_filters

from console.lists import ListFilter, MetricFilter, id_filter, owner_filter
from jobs.models import TrainingJob
from models_registry.models import (
    AuditEvent,
    BatchPrediction,
    Deployment,
    ModelVersion,
    RegisteredModel,
    Workspace,
)


def task_type_filter(field_name: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        field_name=field_name, choices=TrainingJob.TaskType.choices, help_text="The task type."
    )


class RegisteredModelFilter(ListFilter):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    owner = owner_filter()
    workspace = id_filter("workspace", "A workspace's id.")
    task_type = task_type_filter("task_type")

    class Meta:
        model = RegisteredModel
        fields: list[str] = []


class ModelVersionFilter(MetricFilter):
    metric_column = "metrics"
    # The registered model's owner: a teammate's versions show up through a shared workspace.
    owner = owner_filter("model__owner__username")
    model = id_filter("model", "A registered model's id.")
    job = id_filter("job", "The id of the job that trained it.")
    dataset = id_filter("dataset", "The id of the dataset it was trained on.")
    # The registered model's (a version records its job's, which is the same).
    task_type = task_type_filter("task_type")
    archived = django_filters.BooleanFilter(
        field_name="archived_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: archived versions only; false: the others.",
    )

    class Meta:
        model = ModelVersion
        fields: list[str] = []


class DeploymentFilter(ListFilter):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    owner = owner_filter()
    model = id_filter("model_version__model", "A registered model's id.")
    model_version = id_filter("model_version", "A model version's id.")
    task_type = task_type_filter("model_version__task_type")

    class Meta:
        model = Deployment
        fields = ["status"]


class AuditEventFilter(ListFilter):
    # The model's owner; events of deleted models (no model left) have none.
    owner = owner_filter("model__owner__username")
    model = id_filter("model", "A registered model's id.")
    version = id_filter("version", "A model version's id.")
    deployment = id_filter("deployment", "A deployment's id.")
    actor = django_filters.CharFilter(field_name="actor_name", help_text="Who did it (a username).")

    class Meta:
        model = AuditEvent
        fields = ["action"]


class WorkspaceFilter(ListFilter):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = Workspace
        fields: list[str] = []


class BatchPredictionFilter(ListFilter):
    model_version = id_filter("model_version", "A model version's id.")
    dataset = id_filter("dataset", "A dataset's id.")

    class Meta:
        model = BatchPrediction
        fields = ["status"]
