from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from console.serializers import ModelSerializer
from jobs.serializers import OwnDatasetField
from models_registry import reports, selectors, signature
from models_registry.models import (
    Alias,
    AuditEvent,
    BatchPrediction,
    Deployment,
    ModelVersion,
    RegisteredModel,
)


class ModelVersionSerializer(ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    aliases: Any = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    input_signature = serializers.SerializerMethodField()
    output_signature = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "model",
            "model_name",
            "version",
            "job",
            "dataset",
            "source",
            "task_type",
            "target",
            "classes",
            "metrics",
            "hyperparameters",
            "input_schema",
            "input_signature",
            "output_signature",
            "manifest",
            "artifact_sha256",
            "artifact_size",
            "aliases",
            "archived_at",
            "created_by",
            "created_at",
        ]

    def get_input_signature(self, version: ModelVersion) -> dict[str, Any]:
        return reports.input_signature(version)

    def get_output_signature(self, version: ModelVersion) -> dict[str, Any]:
        return reports.output_signature(version)


class AliasSerializer(ModelSerializer):
    version = serializers.IntegerField(source="version.version", read_only=True)
    version_id = serializers.IntegerField(read_only=True)
    updated_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Alias
        fields = ["name", "version", "version_id", "updated_by", "updated_at"]


class RegisteredModelSerializer(ModelSerializer):
    versions = ModelVersionSerializer(many=True, read_only=True)
    aliases = AliasSerializer(many=True, read_only=True)
    owner: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    latest_version = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = [
            "id",
            "name",
            "description",
            "tags",
            "owner",
            "workspace",
            "role",
            "task_type",
            "latest_version",
            "aliases",
            "created_at",
            "versions",
        ]

    def get_latest_version(self, model: RegisteredModel) -> int | None:
        versions = [v.version for v in model.versions.all()]
        return max(versions) if versions else None

    def get_role(self, model: RegisteredModel) -> str | None:
        request = self.context.get("request")
        return selectors.model_role(user=request.user, model=model) if request else None


class ModelUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=32
    )
    workspace = serializers.IntegerField(required=False, allow_null=True)


class AliasMoveSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version's id (not its number).")


class ArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField(default=True)


class CardSerializer(serializers.Serializer):
    markdown = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)


class CompareSerializer(serializers.Serializer):
    a = serializers.IntegerField()
    b = serializers.IntegerField()


class AuditEventSerializer(ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)
    model_name = serializers.CharField(source="model.name", read_only=True, default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "action",
            "actor",
            "model",
            "model_name",
            "version",
            "deployment",
            "subject",
            "subject_type",
            "subject_id",
            "from_value",
            "to_value",
            "created_at",
        ]


class DeployRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class SwapRequestSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The id of a version of the same model.")


class CanaryRequestSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The id of a version of the same model.")
    percent = serializers.IntegerField(
        min_value=1, max_value=99, help_text="The share of requests the canary answers."
    )


class DeploymentSerializer(ModelSerializer):
    endpoint_url = serializers.SerializerMethodField()
    curl_example = serializers.SerializerMethodField(
        help_text="A shell command that predicts one example instance; set $TOKEN first."
    )
    alias: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    model_name = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    canary_version_number = serializers.IntegerField(
        source="canary_version.version", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "owner",
            "model_version",
            "model_name",
            "version",
            "alias",
            "canary_version",
            "canary_version_number",
            "canary_percent",
            "status",
            "endpoint_url",
            "curl_example",
            "error",
            "created_at",
            "ready_at",
        ]
        # What is served changes through the swap and canary actions only.
        read_only_fields = ["model_version", "canary_version", "canary_percent"]

    def get_endpoint_url(self, deployment: Deployment) -> str:
        return f"{settings.PREDICTOR_PUBLIC_URL}/v1/deployments/{deployment.name}/predict"

    def get_curl_example(self, deployment: Deployment) -> str:
        return signature.curl_command(
            self.get_endpoint_url(deployment), deployment.model_version.input_schema
        )


class BatchPredictionCreateSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False, help_text="A model version's id; or name a deployment instead."
    )
    deployment = serializers.SlugField(
        max_length=100,
        required=False,
        help_text="A deployment's name: scores with the version it serves now.",
    )
    dataset = OwnDatasetField(help_text="The id of one of your READY datasets.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("version" in data) == ("deployment" in data):
            raise serializers.ValidationError(
                {"version": ["Name either a version or a deployment, not both."]}
            )
        return data


class BatchPredictionSerializer(ModelSerializer):
    model_name = serializers.CharField(
        source="model_version.model.name", read_only=True, default=None
    )
    version = serializers.IntegerField(source="model_version.version", read_only=True, default=None)
    deployment: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    dataset_rows = serializers.IntegerField(source="dataset.n_rows", read_only=True, default=None)
    result_url = serializers.SerializerMethodField()

    class Meta:
        model = BatchPrediction
        fields = [
            "id",
            "status",
            "error",
            "model_version",
            "model_name",
            "version",
            "deployment",
            "dataset",
            "dataset_rows",
            "n_rows",
            "output_size",
            "output_sha256",
            "result_url",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_result_url(self, prediction: BatchPrediction) -> str | None:
        if prediction.status != BatchPrediction.Status.SUCCEEDED:
            return None
        return f"/api/v1/batch-predictions/{prediction.pk}/result/"
