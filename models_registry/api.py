"""Thin REST views over the registry: models, aliases, versions, audit trail (deployments:
models_registry/deployments_api.py)."""

from __future__ import annotations

from typing import Any

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
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from console.idempotency import idempotent
from models_registry import exports, reports, selectors, services
from models_registry.answers import answer, deployed, no_content
from models_registry.downloads import artifact_response
from models_registry.filters import (
    AuditEventFilter,
    ModelVersionFilter,
    RegisteredModelFilter,
)
from models_registry.models import (
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    Workspace,
)
from models_registry.serializers import (
    AliasMoveSerializer,
    AliasSerializer,
    ArchiveSerializer,
    AuditEventSerializer,
    CardSerializer,
    CompareSerializer,
    DeploymentSerializer,
    DeployRequestSerializer,
    ModelUpdateSerializer,
    ModelVersionSerializer,
    RegisteredModelSerializer,
)


class _JSONErrorsOnly(DefaultContentNegotiation):
    """DRF reads `?format=` as the renderer to use; the export endpoint's `format` names the
    file's instead. Its answers are files, or errors in JSON."""

    def select_renderer(
        self, request: Any, renderers: Any, format_suffix: str | None = None
    ) -> tuple[Any, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type


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
        return answer(
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
            return answer(
                lambda: services.alias_delete(actor=request.user, alias=existing), no_content
            )
        form = AliasMoveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        version = model.versions.filter(pk=form.validated_data["version"]).first()
        if version is None:
            return Response({"version": [f"No version of '{model.name}' has that id."]}, 400)
        return answer(
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
        return answer(
            lambda: services.deployment_create(
                owner=request.user, alias=target, name=form.validated_data.get("name", "")
            ),
            deployed,
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
        return answer(
            lambda: services.version_delete(actor=request.user, version=version), no_content
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
        return answer(
            lambda: services.deployment_create(
                owner=request.user,
                model_version=version,
                name=form.validated_data.get("name", ""),
            ),
            deployed,
        )

    @extend_schema(request=ArchiveSerializer, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        """`{"archived": true}` archives, `false` restores."""
        version = self.get_object()
        form = ArchiveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return answer(
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
            return answer(
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
