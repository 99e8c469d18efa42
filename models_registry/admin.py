"""The registry's admin for model managers. Every change goes through models_registry.services,
so the admin checks the same roles and leaves the same audit trail as the API; what a version
recorded at registration is shown, never editable."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from models_registry import selectors, services
from models_registry.downloads import artifact_response
from models_registry.models import (
    Alias,
    AuditEvent,
    Deployment,
    Membership,
    ModelVersion,
    RegisteredModel,
    Workspace,
)

REFUSALS = (
    services.NotAllowed,
    services.Conflict,
    services.DeploymentExists,
    services.DeploymentNameTaken,
    ValueError,
)


def pretty_json(value: Any) -> str:
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2))


def _after(write: Any, note: str, **kwargs: Any) -> str:
    """Run a service that answers nothing, then say what it did."""
    write(**kwargs)
    return note


def _metric(version: ModelVersion, key: str) -> str:
    value = (version.metrics or {}).get(key)
    return f"{value:.4f}" if isinstance(value, float) else "-"


class AliasFilter(admin.SimpleListFilter):
    title = "alias"
    parameter_name = "alias"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        names = Alias.objects.values_list("name", flat=True).distinct().order_by("name")
        return [("__any__", "any alias"), *((n, n) for n in names)]

    def queryset(self, request: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        # Both a model and a version reach their aliases as `aliases`.
        if value == "__any__":
            return queryset.filter(aliases__isnull=False).distinct()
        return queryset.filter(aliases__name=value).distinct()


class VersionInline(admin.TabularInline[ModelVersion, RegisteredModel]):
    model = ModelVersion
    extra = 0
    fields = ["version_link", "task_type", "accuracy", "rmse", "archived_at", "created_at"]
    readonly_fields = ["version_link", "task_type", "accuracy", "rmse", "archived_at", "created_at"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="version")
    def version_link(self, version: ModelVersion) -> str:
        url = reverse("admin:models_registry_modelversion_change", args=[version.pk])
        return format_html('<a href="{}">v{}</a>', url, version.version)

    @admin.display(description="accuracy")
    def accuracy(self, version: ModelVersion) -> str:
        return _metric(version, "accuracy")

    @admin.display(description="rmse")
    def rmse(self, version: ModelVersion) -> str:
        return _metric(version, "rmse")


class AliasInline(admin.TabularInline[Alias, RegisteredModel]):
    model = Alias
    extra = 0
    fields = ["name", "version", "updated_by", "updated_at"]
    readonly_fields = ["name", "version", "updated_by", "updated_at"]
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    # Moving an alias is the action on versions (checked and recorded), not a form.
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin[RegisteredModel]):
    list_display = ["id", "name", "owner", "task_type", "workspace", "alias_names", "created_at"]
    list_filter = ["task_type", AliasFilter, "owner", "workspace", "created_at"]
    search_fields = ["name", "description", "owner__username"]
    fields = ["name", "owner", "task_type", "workspace", "description", "tags", "created_at"]
    readonly_fields = ["name", "owner", "task_type", "workspace", "created_at"]
    inlines = [AliasInline, VersionInline]

    def has_add_permission(self, request: Any) -> bool:
        return False  # models come from jobs

    @admin.display(description="aliases")
    def alias_names(self, model: RegisteredModel) -> str:
        return ", ".join(f"{a.name}→v{a.version.version}" for a in model.aliases.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[RegisteredModel]:
        return super().get_queryset(request).prefetch_related("aliases__version")

    def save_model(
        self, request: HttpRequest, obj: RegisteredModel, form: Any, change: bool
    ) -> None:
        fresh = RegisteredModel.objects.get(pk=obj.pk)
        try:
            services.model_update(
                actor=request.user,
                model=fresh,
                description=form.cleaned_data.get("description"),
                tags=form.cleaned_data.get("tags"),
            )
        except REFUSALS as exc:
            self.message_user(request, str(exc), messages.ERROR)


class MoveAliasForm(ActionForm):
    alias = forms.SlugField(required=False, max_length=64, help_text="for 'Move alias'")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin[ModelVersion]):
    list_display = [
        "id",
        "model",
        "version",
        "task_type",
        "target",
        "alias_names",
        "accuracy",
        "roc_auc",
        "rmse",
        "r2",
        "archived_at",
        "created_by",
        "created_at",
        "artifact_link",
    ]
    list_filter = ["task_type", AliasFilter, "model__owner", "created_at", "archived_at"]
    search_fields = ["model__name", "target", "artifact_sha256", "created_by__username"]
    action_form = MoveAliasForm
    actions = [
        "move_alias",
        "archive",
        "restore",
        "deploy",
        "undeploy",
        "delete_versions",
    ]
    FIELDS = (
        "model",
        "version",
        "job",
        "dataset",
        "artifact_link",
        "artifact_sha256",
        "artifact_size",
        "source",
        "task_type",
        "target",
        "classes",
        "metrics_view",
        "hyperparameters_view",
        "signature_view",
        "manifest_view",
        "created_by",
        "created_at",
        "archived_at",
        "model_card",
    )
    # Everything but the card: the record of a trained model never changes (the model's save()
    # refuses it as well, for anything that is not a form).
    fields = FIELDS
    readonly_fields = tuple(f for f in FIELDS if f != "model_card")

    def has_add_permission(self, request: Any) -> bool:
        return False  # versions come from jobs

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # deleting goes through the action, which cleans up and audits

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return (
            super()
            .get_queryset(request)
            .select_related("model", "created_by")
            .prefetch_related("aliases")
        )

    def get_urls(self) -> list[URLPattern]:
        download = self.admin_site.admin_view(self.artifact_view)
        return [
            path(
                "<int:pk>/artifact/",
                download,
                name="models_registry_modelversion_artifact",
            ),
            *super().get_urls(),
        ]

    def artifact_view(self, request: HttpRequest, pk: int) -> FileResponse:
        """The version's file, for those who read it through the API too; others get a 404."""
        version = get_object_or_404(selectors.version_list(user=request.user), pk=pk)
        return artifact_response(version)

    @admin.display(description="artifact")
    def artifact_link(self, version: ModelVersion) -> str:
        url = reverse("admin:models_registry_modelversion_artifact", args=[version.pk])
        size = f" ({version.artifact_size:,} bytes)" if version.artifact_size else ""
        return format_html('<a href="{}">Download .keras</a>{}', url, size)

    @admin.display(description="metrics")
    def metrics_view(self, version: ModelVersion) -> str:
        return pretty_json(version.metrics)

    @admin.display(description="hyperparameters")
    def hyperparameters_view(self, version: ModelVersion) -> str:
        return pretty_json(version.hyperparameters)

    @admin.display(description="signature")
    def signature_view(self, version: ModelVersion) -> str:
        from models_registry import reports

        inputs = reports.input_signature(version)["inputs"]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.get("name"),
                    e.get("type"),
                    ", ".join(map(str, e.get("values") or e.get("range") or [])),
                )
                for e in inputs
            ),
        )
        output = reports.output_signature(version)
        return format_html(
            "<table><tr><th>input</th><th>type</th><th>seen in training</th></tr>{}</table>"
            "<p>Output: <code>{}</code> {}</p>",
            rows,
            output["target"],
            ", ".join(map(str, output["classes"] or [])),
        )

    @admin.display(description="manifest")
    def manifest_view(self, version: ModelVersion) -> str:
        return pretty_json(version.manifest)

    @admin.display(description="aliases")
    def alias_names(self, version: ModelVersion) -> str:
        return ", ".join(a.name for a in version.aliases.all())

    @admin.display(description="accuracy")
    def accuracy(self, version: ModelVersion) -> str:
        return _metric(version, "accuracy")

    @admin.display(description="roc auc")
    def roc_auc(self, version: ModelVersion) -> str:
        return _metric(version, "roc_auc")

    @admin.display(description="rmse")
    def rmse(self, version: ModelVersion) -> str:
        return _metric(version, "rmse")

    @admin.display(description="r²")
    def r2(self, version: ModelVersion) -> str:
        return _metric(version, "r2")

    def save_model(self, request: HttpRequest, obj: ModelVersion, form: Any, change: bool) -> None:
        # Only the card is a form field; it changes through the service, audited.
        fresh = ModelVersion.objects.select_related("model").get(pk=obj.pk)
        if form.cleaned_data.get("model_card", fresh.model_card) == fresh.model_card:
            return
        try:
            services.version_card_update(
                actor=request.user,
                version=fresh,
                text=form.cleaned_data["model_card"],
            )
        except REFUSALS as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def _each(self, request: HttpRequest, queryset: QuerySet[ModelVersion], do: Any) -> None:
        for version in queryset.select_related("model"):
            try:
                note = do(version)
            except REFUSALS as exc:
                self.message_user(request, f"{version}: {exc}", messages.ERROR)
            else:
                if note:
                    self.message_user(request, note, messages.SUCCESS)

    @admin.action(description="Move alias (named below) to the selected version")
    def move_alias(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        name = request.POST.get("alias", "")
        if not name:
            self.message_user(request, "Name the alias to move.", messages.ERROR)
            return
        if queryset.values("model").distinct().count() != queryset.count():
            self.message_user(request, "Select one version per model.", messages.ERROR)
            return
        self._each(
            request,
            queryset,
            lambda v: (
                services.alias_move(actor=request.user, model=v.model, name=name, version=v)
                and f"{v.model.name}@{name} now points at v{v.version}."
            ),
        )

    @admin.action(description="Archive the selected versions")
    def archive(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        self._each(
            request,
            queryset,
            lambda v: _after(
                services.version_archive, f"Archived {v}.", actor=request.user, version=v
            ),
        )

    @admin.action(description="Restore the selected versions")
    def restore(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        self._each(
            request,
            queryset,
            lambda v: _after(
                services.version_archive,
                f"Restored {v}.",
                actor=request.user,
                version=v,
                archived=False,
            ),
        )

    @admin.action(description="Deploy the selected versions")
    def deploy(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        def one(version: ModelVersion) -> str:
            deployment = services.deployment_create(owner=request.user, model_version=version)
            return f"Deploying {version} as '{deployment.name}'."

        self._each(request, queryset, one)

    @admin.action(description="Undeploy the selected versions")
    def undeploy(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        def one(version: ModelVersion) -> str:
            live = version.deployments.exclude(status=Deployment.Status.UNDEPLOYED)
            names = [
                services.deployment_undeploy(actor=request.user, deployment=d).name for d in live
            ]
            return f"Undeployed {', '.join(names)}." if names else f"{version} was not deployed."

        self._each(request, queryset, one)

    @admin.action(description="Delete the selected versions and their files")
    def delete_versions(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        self._each(
            request,
            queryset,
            lambda v: _after(
                services.version_delete, f"Deleted {v} and its file.", actor=request.user, version=v
            ),
        )


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin[Deployment]):
    list_display = ["id", "name", "owner", "model_version", "alias", "status", "created_at"]
    list_filter = ["status", "owner", "created_at"]
    search_fields = ["name", "model_version__model__name", "owner__username"]
    # Re-pointing a deployment is moving its alias (recorded); its fields are not a form.
    readonly_fields = [
        "owner",
        "name",
        "model_version",
        "alias",
        "status",
        "error",
        "created_at",
        "ready_at",
    ]
    actions = ["undeploy", "delete_deployments"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def _each(self, request: HttpRequest, queryset: QuerySet[Deployment], do: Any) -> None:
        for deployment in queryset.select_related("model_version__model"):
            try:
                self.message_user(request, do(deployment), messages.SUCCESS)
            except REFUSALS as exc:
                self.message_user(request, f"{deployment}: {exc}", messages.ERROR)

    @admin.action(description="Undeploy the selected deployments")
    def undeploy(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._each(
            request,
            queryset,
            lambda d: (
                f"Undeployed {services.deployment_undeploy(actor=request.user, deployment=d)}."
            ),
        )

    @admin.action(description="Delete the selected deployments")
    def delete_deployments(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        self._each(
            request,
            queryset,
            lambda d: _after(
                services.deployment_delete, f"Deleted {d.name}.", actor=request.user, deployment=d
            ),
        )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = [
        "created_at",
        "actor_name",
        "action",
        "subject_type",
        "subject",
        "from_value",
        "to_value",
        "model",
    ]
    list_filter = ["subject_type", "action", "created_at", "model"]
    search_fields = ["subject", "actor_name", "owner__username"]

    # The whole console's trail (console.audit), written by the services and the admins'
    # save hooks only; nobody edits or deletes it.
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class MembershipInline(admin.TabularInline[Membership, Workspace]):
    model = Membership
    extra = 1


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = ["id", "name", "created_by", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
