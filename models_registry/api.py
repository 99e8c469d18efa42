"""Thin REST views over the registry: models, aliases, versions, deployments, audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from console.idempotency import idempotent
from models_registry import exports, reports, selectors, services
from models_registry.downloads import artifact_response
from models_registry.filters import (
    AuditEventFilter,
    DeploymentFilter,
    ModelVersionFilter,
    RegisteredModelFilter,
)
from models_registry.models import (
    AuditEvent,
    Deployment,
    ModelVersion,
    RegisteredModel,
    Workspace,
)
from models_registry.serializers import (
    AliasMoveSerializer,
    AliasSerializer,
    ArchiveSerializer,
    AuditEventSerializer,
    CanaryRequestSerializer,
    CardSerializer,
    CompareSerializer,
    DeploymentSerializer,
    DeployRequestSerializer,
    ModelUpdateSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
    SwapRequestSerializer,
)
from models_registry.signature_api import DeploymentSignatureMixin
from models_registry.traffic_api import DeploymentTrafficSerializer, TrafficQuerySerializer

T = TypeVar("T")


class _JSONErrorsOnly(DefaultContentNegotiation):
    """DRF reads `?format=` as the renderer to use; the export endpoint's `format` names the
    file's instead. Its answers are files, or errors in JSON."""

    def select_renderer(
        self, request: Any, renderers: Any, format_suffix: str | None = None
    ) -> tuple[Any, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type


class _Ambiguous(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "More than one deployment matches."


def _answer(write: Callable[[], T], ok: Callable[[T], Response]) -> Response:
    """Run a service and say in HTTP what its refusal means."""
    try:
        result = write()
    except services.DeploymentExists as exc:
        return Response(
            {"detail": str(exc), "existing": DeploymentSerializer(exc.existing).data},
            status=status.HTTP_409_CONFLICT,
        )
    except services.DeploymentNameTaken as exc:
        return Response({"name": [str(exc)]}, status=status.HTTP_409_CONFLICT)
    except services.NotAllowed as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    except services.Conflict as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    except ValueError as exc:
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return ok(result)


def _deployed(deployment: Deployment) -> Response:
    return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


def _no_content(_: Any) -> Response:
    return Response(status=status.HTTP_204_NO_CONTENT)


class RegisteredModelViewSet(
    mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet[RegisteredModel]
):
    serializer_class = RegisteredModelSerializer
    http_method_names = ["get", "patch", "put", "post", "delete", "head", "options"]
    filterset_class = RegisteredModelFilter
    ordering_fields = ["created_at", "name", "task_type"]

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return selectors.model_list(user=self.request.user)

    @extend_schema(request=ModelUpdateSerializer, responses=RegisteredModelSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """`PATCH` description, tags, or (owner only) the workspace it is shared with."""
        model = self.get_object()
        form = ModelUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        workspace: Workspace | bool | None = False
        if "workspace" in data:
            workspace = None
            if data["workspace"] is not None:
                workspace = Workspace.objects.filter(pk=data["workspace"]).first()
                if workspace is None:
                    return Response({"workspace": ["No such workspace."]}, status=400)
        return _answer(
            lambda: services.model_update(
                actor=request.user,
                model=model,
                description=data.get("description"),
                tags=data.get("tags"),
                workspace=workspace,
            ),
            lambda m: Response(self.get_serializer(m).data),
        )

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str | None = None) -> Response:
        model = self.get_object()
        events = selectors.audit_list(user=request.user).filter(model=model)
        paginator = self.paginator
        # Newest first: the model list's filters and orderings are not the audit trail's
        # (/registry-audit/?model=<id> has those).
        page = paginator.paginate_queryset(events, request) if paginator else None
        if page is None:
            return Response(AuditEventSerializer(events, many=True).data)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)

    @extend_schema(responses=AliasSerializer(many=True))
    @action(detail=True, methods=["get"])
    def aliases(self, request: Request, pk: str | None = None) -> Response:
        model = self.get_object()
        return Response(AliasSerializer(model.aliases.select_related("version"), many=True).data)

    @extend_schema(methods=["PUT"], request=AliasMoveSerializer, responses=AliasSerializer)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["put", "delete"], url_path=r"aliases/(?P<alias>[-\w]+)")
    def alias(self, request: Request, pk: str | None = None, alias: str = "") -> Response:
        """`PUT {"version": <version id>}` moves (or creates) the alias; `DELETE` removes it."""
        model = self.get_object()
        if request.method == "DELETE":
            existing = model.aliases.filter(name=alias).select_related("model", "version").first()
            if existing is None:
                raise NotFound(f"'{model.name}' has no alias '{alias}'.")
            return _answer(
                lambda: services.alias_delete(actor=request.user, alias=existing), _no_content
            )
        form = AliasMoveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = model.versions.filter(pk=form.validated_data["version"]).first()
        if version is None:
            return Response({"version": [f"No version of '{model.name}' has that id."]}, 400)
        return _answer(
            lambda: services.alias_move(
                actor=request.user, model=model, name=alias, version=version
            ),
            lambda a: Response(AliasSerializer(a).data),
        )

    @extend_schema(request=DeployRequestSerializer, responses={201: DeploymentSerializer})
    @action(detail=True, methods=["post"], url_path=r"aliases/(?P<alias>[-\w]+)/deploy")
    def deploy_alias(self, request: Request, pk: str | None = None, alias: str = "") -> Response:
        """A deployment that follows the alias: it serves whatever version the alias names."""
        model = self.get_object()
        target = model.aliases.filter(name=alias).select_related("version__model").first()
        if target is None:
            raise NotFound(f"'{model.name}' has no alias '{alias}'.")
        form = DeployRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return _answer(
            lambda: services.deployment_create(
                owner=request.user, alias=target, name=form.validated_data.get("name", "")
            ),
            _deployed,
        )


class ModelVersionViewSet(
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ModelVersion],
):
    serializer_class = ModelVersionSerializer
    filterset_class = ModelVersionFilter
    ordering_fields = ["created_at", "version", "task_type", "metric"]

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return selectors.version_list(user=self.request.user)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the version and its artifact (admins and the owner; not while in use)."""
        version = self.get_object()
        return _answer(
            lambda: services.version_delete(actor=request.user, version=version), _no_content
        )

    @extend_schema(
        request=DeployRequestSerializer,
        responses={201: DeploymentSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def deploy(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        form = DeployRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return _answer(
            lambda: services.deployment_create(
                owner=request.user,
                model_version=version,
                name=form.validated_data.get("name", ""),
            ),
            _deployed,
        )

    @extend_schema(request=ArchiveSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        """`{"archived": true}` archives, `false` restores."""
        version = self.get_object()
        form = ArchiveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return _answer(
            lambda: services.version_archive(
                actor=request.user, version=version, archived=form.validated_data["archived"]
            ),
            lambda _: Response(self.get_serializer(version).data),
        )

    @extend_schema(
        methods=["GET", "PUT"],
        request=CardSerializer,
        responses=inline_serializer(
            "ModelCard", {"markdown": serializers.CharField(), "edited": serializers.BooleanField()}
        ),
    )
    @action(detail=True, methods=["get", "put"])
    def card(self, request: Request, pk: str | None = None) -> Response:
        """The model card in markdown: the edited one, else generated; `PUT` edits it
        (an empty markdown goes back to the generated card)."""
        version = self.get_object()
        if request.method == "PUT":
            form = CardSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            return _answer(
                lambda: services.version_card_update(
                    actor=request.user, version=version, text=form.validated_data["markdown"]
                ),
                lambda v: Response(reports.version_card(v)),
            )
        return Response(reports.version_card(version))

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)}
    )
    @action(detail=True, methods=["get"])
    def artifact(self, request: Request, pk: str | None = None) -> FileResponse:
        """The `.keras` file, to whoever may read the version."""
        return artifact_response(self.get_object())

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, required=True, enum=list(exports.FORMATS),
                description="keras: the artifact; onnx: made on the first request.",
            )
        ],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY)},
    )  # fmt: skip
    @action(detail=True, methods=["get"], content_negotiation_class=_JSONErrorsOnly)
    def export(self, request: Request, pk: str | None = None) -> FileResponse | Response:
        """`?format=keras` (the artifact) or `?format=onnx`, made on the first request and
        checked against the `.keras` model; 409 with the reason when it cannot be."""
        version = self.get_object()
        chosen = request.query_params.get("format", "")
        if chosen == "keras":
            return artifact_response(version)
        if chosen != "onnx":
            return Response(
                {"format": [f"Choose one of: {', '.join(exports.FORMATS)}."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            return exports.onnx_response(actor=request.user, version=version)
        except exports.ExportFailed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)

    @extend_schema(
        parameters=[
            OpenApiParameter("a", int, required=True, description="A version's id."),
            OpenApiParameter("b", int, required=True, description="Another version's id."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=False, methods=["get"])
    def compare(self, request: Request) -> Response:
        """`?a=<version id>&b=<version id>`: metrics, hyperparameters and signatures."""
        form = CompareSerializer(data=request.query_params)
        form.is_valid(raise_exception=True)
        versions = {
            v.pk: v for v in self.get_queryset().filter(pk__in=form.validated_data.values())
        }
        a, b = versions.get(form.validated_data["a"]), versions.get(form.validated_data["b"])
        if a is None or b is None:
            raise NotFound("No such version.")
        return Response(reports.version_compare(a, b))


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet[AuditEvent]):
    """The registry's audit trail: `?model=<id>`, `?action=<action>`, `?actor=<username>`
    narrow it."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    ordering_fields = ["created_at", "action"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return selectors.audit_list(user=self.request.user)


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
            raise _Ambiguous(
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
        return _answer(
            lambda: services.deployment_delete(actor=request.user, deployment=deployment),
            _no_content,
        )

    @extend_schema(request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def undeploy(self, request: Request, name: str | None = None) -> Response:
        """Stop serving; the deployment stays listed, UNDEPLOYED."""
        deployment = self.get_object()
        return _answer(
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
        return _answer(
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
        return _answer(
            lambda: services.deployment_canary_set(
                actor=request.user,
                deployment=deployment,
                version=version,
                percent=form.validated_data["percent"],
            ),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    @action(detail=True, methods=["post"])
    def promote(self, request: Request, name: str | None = None) -> Response:
        """The canary becomes the main version and answers every request."""
        deployment = self.get_object()
        return _answer(
            lambda: services.deployment_canary_promote(actor=request.user, deployment=deployment),
            lambda d: Response(DeploymentSerializer(d).data),
        )

    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, name: str | None = None) -> Response:
        """Drop the canary; the main version answers every request again."""
        return self._rollback(request, self.get_object())

    def _rollback(self, request: Request, deployment: Deployment) -> Response:
        return _answer(
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
        # way from the user's token: the user's own first, else the one teammate's.
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
        kept = ("X-Model-Version", "X-Model-Version-Id")
        return Response(
            body,
            status=answer.status_code,
            headers={h: answer.headers[h] for h in kept if h in answer.headers},
        )
