"""Thin REST views over the registry: models, versions, deployments, and prediction."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.db.models import QuerySet
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from models_registry import selectors, services
from models_registry.models import Deployment, ModelVersion, RegisteredModel
from models_registry.serializers import (
    DeploymentSerializer,
    DeployRequestSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
)


class RegisteredModelViewSet(viewsets.ReadOnlyModelViewSet[RegisteredModel]):
    serializer_class = RegisteredModelSerializer

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return selectors.model_list(user=self.request.user)


class ModelVersionViewSet(
    mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet[ModelVersion]
):
    serializer_class = ModelVersionSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return selectors.version_list(user=self.request.user)

    @action(detail=True, methods=["post"])
    def deploy(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        form = DeployRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            deployment = services.deployment_create(
                owner=request.user,  # type: ignore[arg-type]
                model_version=version,
                name=form.validated_data.get("name", ""),
            )
        except services.DeploymentNameTaken as exc:
            return Response({"name": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        except ValueError as exc:
            return Response({"name": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


class DeploymentViewSet(viewsets.ReadOnlyModelViewSet[Deployment]):
    serializer_class = DeploymentSerializer
    lookup_field = "name"

    def get_queryset(self) -> QuerySet[Deployment]:
        return selectors.deployment_list(user=self.request.user)

    @action(detail=True, methods=["post"])
    def predict(self, request: Request, name: str | None = None) -> Response:
        """Same-origin door to the predictor service, for the browser's session."""
        deployment = self.get_object()
        token, _ = Token.objects.get_or_create(user=request.user)
        url = f"{settings.PREDICTOR_URL}/v1/deployments/{deployment.name}/predict"
        try:
            answer = httpx.post(
                url,
                content=request.body,
                headers={
                    "Authorization": f"Token {token.key}",
                    "Content-Type": request.content_type or "application/json",
                },
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return Response(
                {"detail": f"The predictor service is unreachable: {exc}"},
                status=status.HTTP_502_BAD_GATEWAY,
            )
        try:
            body: Any = answer.json()
        except ValueError:
            body = {"detail": answer.text[:500]}
        return Response(body, status=answer.status_code)
