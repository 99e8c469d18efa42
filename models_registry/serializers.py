from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from models_registry.models import Deployment, ModelVersion, RegisteredModel


class ModelVersionSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)

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
            "manifest",
            "artifact_sha256",
            "created_at",
        ]


class RegisteredModelSerializer(serializers.ModelSerializer):
    versions = ModelVersionSerializer(many=True, read_only=True)
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "task_type", "latest_version", "created_at", "versions"]

    def get_latest_version(self, model: RegisteredModel) -> int | None:
        versions = [v.version for v in model.versions.all()]
        return max(versions) if versions else None


class DeployRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class DeploymentSerializer(serializers.ModelSerializer):
    endpoint_url = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = [
            "id",
            "name",
            "model_version",
            "status",
            "endpoint_url",
            "error",
            "created_at",
            "ready_at",
        ]

    def get_endpoint_url(self, deployment: Deployment) -> str:
        return f"{settings.PREDICTOR_PUBLIC_URL}/v1/deployments/{deployment.name}/predict"
