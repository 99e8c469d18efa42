"""Thin REST views over deployments: serve, swap, canary, traffic, and the browser's
same-origin door to the predictor."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from console import tokens
from models_registry import selectors, services
from models_registry.answers import answer, no_content
from models_registry.filters import DeploymentFilter
from models_registry.models import Deployment, ModelVersion
from models_registry.serializers import (
    CanaryRequestSerializer,
    DeploymentSerializer,
    SwapRequestSerializer,
)
from models_registry.signature_api import DeploymentSignatureMixin
from models_registry.traffic_api import DeploymentTrafficSerializer, TrafficQuerySerializer


class Ambiguous(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "More than one deployment matches."


class DeploymentViewSet(
    DeploymentSignatureMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet[Deployment],
):
    serializer_class = DeploymentSerializer
    lookup_field = "name"
    filterset_class = DeploymentFilter
    ordering_fields = ["created_at", "name", "status", "ready_at"]

    def get_queryset(self) -> QuerySet[Deployment]:
        return selectors.deployment_visible_list(user=self.request.user)

    def get_object(self) -> Deployment:
        """Names are unique per deployer: yours first, else the one teammate's of that name;
        `?owner=<username>` (the list's filters) picks among teammates'."""
        visible = self.filter_queryset(self.get_queryset())
        name = self.kwargs["name"]
        found = selectors.deployment_named(user=self.request.user, name=name, among=visible)
        if not found:
            raise NotFound("No deployment of that name that you can see.")
        if len(found) > 1:
            raise Ambiguous(
                {
                    "detail": "Teammates have deployments of that name; add ?owner=<username>.",
                    "owners": sorted(
                        visible.filter(name=name).values_list("owner__username", flat=True)
                    ),
                }
            )
        self.check_object_permissions(self.request, found[0])
        return found[0]

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stop serving and forget the deployment (its name is free again)."""
        deployment = self.get_object()
        return answer(
            lambda: services.deployment_delete(actor=request.user, deployment=deployment),
            no_content,
        )

    @extend_schema(request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def undeploy(self, request: Request, name: str | None = None) -> Response:
        """Stop serving; the deployment stays listed, UNDEPLOYED."""
        deployment = self.get_object()
        return answer(
            lambda: services.deployment_undeploy(actor=request.user, deployment=deployment),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    def _version(self, request: Request, deployment: Deployment, wanted: int) -> ModelVersion:
        """A version the user reads; another model's is the service's to refuse (a 400)."""
        version = selectors.version_list(user=request.user).filter(pk=wanted).first()
        if version is None:
            raise serializers.ValidationError({"version": [f"No version {wanted} you can see."]})
        return version

    @extend_schema(request=SwapRequestSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def swap(self, request: Request, name: str | None = None) -> Response:
        """Serve another version of the same model; the predictor swaps once it is warm."""
        deployment = self.get_object()
        form = SwapRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = self._version(request, deployment, form.validated_data["version"])
        return answer(
            lambda: services.deployment_swap(
                actor=request.user, deployment=deployment, version=version
            ),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    @extend_schema(
        methods=["POST"], request=CanaryRequestSerializer, responses=DeploymentSerializer
    )
    @extend_schema(methods=["DELETE"], request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post", "delete"])
    def canary(self, request: Request, name: str | None = None) -> Response:
        """`POST` lets a second version answer `percent` of the requests; `DELETE` drops it
        (as rollback)."""
        deployment = self.get_object()
        if request.method == "DELETE":
            return self._rollback(request, deployment)
        form = CanaryRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = self._version(request, deployment, form.validated_data["version"])
        return answer(
            lambda: services.deployment_canary_set(
                actor=request.user,
                deployment=deployment,
                version=version,
                percent=form.validated_data["percent"],
            ),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    @extend_schema(request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def promote(self, request: Request, name: str | None = None) -> Response:
        """The canary becomes the main version and answers every request."""
        deployment = self.get_object()
        return answer(
            lambda: services.deployment_canary_promote(actor=request.user, deployment=deployment),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    @extend_schema(request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, name: str | None = None) -> Response:
        """Drop the canary; the main version answers every request again."""
        return self._rollback(request, self.get_object())

    def _rollback(self, request: Request, deployment: Deployment) -> Response:
        return answer(
            lambda: services.deployment_canary_rollback(actor=request.user, deployment=deployment),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    @extend_schema(parameters=[TrafficQuerySerializer], responses=DeploymentTrafficSerializer)
    @action(detail=True, methods=["get"])
    def metrics(self, request: Request, name: str | None = None) -> Response:
        """Requests, errors, rows and latency over time, summed across the predictor replicas
        and apart per version (a canary's too); in the totals, model calls by batch size and
        time per stage."""
        deployment = self.get_object()
        query = TrafficQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        traffic = selectors.deployment_traffic(deployment=deployment, **query.validated_data)
        return Response(DeploymentTrafficSerializer(traffic).data)

    @extend_schema(
        request=inline_serializer(
            "PredictRequest",
            {"instances": serializers.ListField(child=serializers.DictField(), min_length=1)},
        ),
        responses=inline_serializer(
            "PredictResponse",
            {"predictions": serializers.ListField(child=serializers.JSONField())},
        ),
    )
    @action(detail=True, methods=["post"])
    def predict(self, request: Request, name: str | None = None) -> Response:
        """Same-origin door to the predictor service, for the browser's session."""
        # Whoever sees it predicts on it (a teammate's too); the predictor names it the same
        # way from the user the door credential names: the user's own first, else the one
        # teammate's.
        deployment = self.get_object()
        credential = tokens.door_credential(user_id=request.user.pk)
        url = f"{settings.PREDICTOR_URL}/v1/deployments/{deployment.name}/predict"
        try:
            answer = httpx.post(
                url,
                content=request.body,
                headers={
                    "Authorization": f"Token {credential}",
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
        kept = ("X-Model-Version", "X-Model-Version-Id")
        return Response(
            body,
            status=answer.status_code,
            headers={h: answer.headers[h] for h in kept if h in answer.headers},
        )
