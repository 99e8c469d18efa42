from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from models_registry import services
from models_registry.models import Deployment, ModelVersion, RegisteredModel


class VersionInline(admin.TabularInline[ModelVersion, RegisteredModel]):
    model = ModelVersion
    extra = 0
    fields = ["version", "task_type", "metrics", "created_at"]
    readonly_fields = ["version", "task_type", "metrics", "created_at"]
    can_delete = False


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin[RegisteredModel]):
    list_display = ["id", "name", "owner", "task_type", "created_at"]
    search_fields = ["name"]
    inlines = [VersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin[ModelVersion]):
    list_display = ["id", "model", "version", "task_type", "target", "created_at"]
    list_filter = ["task_type"]
    readonly_fields = ["artifact", "artifact_sha256", "metrics", "hyperparameters", "input_schema"]
    actions = ["deploy"]

    @admin.action(description="Deploy the selected versions")
    def deploy(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset.select_related("model__owner"):
            deployment = services.deployment_create(
                owner=version.model.owner, model_version=version
            )
            self.message_user(
                request, f"Deploying {version} as '{deployment.name}'.", messages.SUCCESS
            )


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin[Deployment]):
    list_display = ["id", "name", "owner", "model_version", "status", "created_at", "ready_at"]
    list_filter = ["status"]
    readonly_fields = ["status", "error", "ready_at"]
