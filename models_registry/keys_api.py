"""Per-deployment API keys: list, make (the key is shown once), revoke. Owner only."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.serializers import ModelSerializer
from models_registry import selectors, services
from models_registry.models import DeploymentKey


class DeploymentKeySerializer(ModelSerializer[DeploymentKey]):
    active = serializers.SerializerMethodField()

    class Meta:
        model = DeploymentKey
        fields = ["id", "name", "prefix", "rate_limit_per_minute", "expires_at", "revoked_at",
                  "created_at", "last_used_at", "active"]  # fmt: skip
        read_only_fields = fields

    def get_active(self, key: DeploymentKey) -> bool:
        return key.revoked_at is None and (
            key.expires_at is None or key.expires_at > timezone.now()
        )


class KeyRequestSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    rate_limit_per_minute = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=1_000_000
    )

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("A key must expire in the future.")
        return value


class DeploymentKeyCreatedSerializer(DeploymentKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The key itself, shown this once.")

    class Meta(DeploymentKeySerializer.Meta):
        fields = [*DeploymentKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class DeploymentKeysView(APIView):
    """`GET`, `POST /api/v1/deployments/<name>/keys/`."""

    @extend_schema(responses={200: DeploymentKeySerializer(many=True)})
    def get(self, request: Request, name: str) -> Response:
        keys = selectors.deployment_key_list(user=request.user, deployment_name=name)
        if not keys.exists():
            get_object_or_404(selectors.deployment_list(user=request.user), name=name)
        return Response(DeploymentKeySerializer(keys, many=True).data)

    @extend_schema(request=KeyRequestSerializer, responses={201: DeploymentKeyCreatedSerializer})
    def post(self, request: Request, name: str) -> Response:
        deployment = get_object_or_404(selectors.deployment_list(user=request.user), name=name)
        form = KeyRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        key, secret = services.deployment_key_create(deployment=deployment, **form.validated_data)
        body = {**DeploymentKeySerializer(key).data, "key": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class DeploymentKeyView(APIView):
    """`DELETE /api/v1/deployments/<name>/keys/<id>/`: revoke."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, name: str, key_id: int) -> Response:
        keys = selectors.deployment_key_list(user=request.user, deployment_name=name)
        key = get_object_or_404(keys, pk=key_id)
        services.deployment_key_revoke(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
