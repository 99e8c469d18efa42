"""`GET /api/v1/deployments/<name>/openapi/`: the predict call's OpenAPI document through the
web API, as the predictor serves it at `/v1/deployments/<name>/openapi.json`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from models_registry import signature
from models_registry.models import Deployment


def deployment_openapi(deployment: Deployment) -> dict[str, Any]:
    version = deployment.model_version
    return signature.openapi_document(
        name=deployment.name,
        server_url=settings.PREDICTOR_PUBLIC_URL,
        model_name=version.model.name,
        version=version.version,
        task_type=version.task_type,
        classes=version.classes,
        schema=list(version.input_schema),
    )


class DeploymentSignatureMixin:
    """Mixed into the deployments' viewset, whose `get_object` finds the deployment (yours
    first, then a teammate's you read) and refuses others with a 404."""

    def get_object(self) -> Deployment:
        raise NotImplementedError

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="An OpenAPI 3.1 document of this deployment's predict call, written from "
        "the version's input schema: each column's JSON type, known categories, an example.",
    )
    @action(detail=True, methods=["get"])
    def openapi(self, request: Request, name: str | None = None) -> Response:
        """The deployment's predict call as an OpenAPI document."""
        return Response(deployment_openapi(self.get_object()))
