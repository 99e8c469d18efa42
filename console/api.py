"""Sign-in for scripts (personal API tokens) and who am I."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action, api_view
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from console import tokens
from console.filters import ApiTokenFilter, AuditFilter
from console.models import ApiToken
from console.parsers import JSONParser
from console.serializers import ModelSerializer
from jobs import selectors as jobs_selectors
from models_registry import selectors as registry_selectors
from models_registry.models import AuditEvent
from models_registry.serializers import AuditEventSerializer


class TokenThrottle(AnonRateThrottle):
    rate = "30/min"


class ObtainToken(APIView):
    """Deprecated: a full-scope token for a username and password, for scripts written before
    personal tokens. Each call makes a new one (only hashes are stored, so an old one cannot be
    handed out again), listed as "sign-in" among your tokens; the ten newest stay usable. New
    scripts make a named, scoped token with `POST /api/v1/auth/tokens/`."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes = [TokenThrottle]
    # A too-deep JSON body gets a 400 from our parser, as everywhere.
    parser_classes = [FormParser, MultiPartParser, JSONParser]

    @extend_schema(
        deprecated=True,
        request=AuthTokenSerializer,
        responses=inline_serializer("LegacyToken", {"token": serializers.CharField()}),
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = AuthTokenSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        new = tokens.token_signin(user=form.validated_data["user"])
        response = Response({"token": new.raw})
        response["Deprecation"] = "true"
        response["Link"] = '</api/v1/auth/tokens/>; rel="successor-version"'
        return response


class LimitsSerializer(serializers.Serializer):
    max_running_jobs = serializers.IntegerField(
        help_text="Jobs you may have running at once (0: no limit): yours if an operator set "
        "one, else the console's default. A job past it waits QUEUED."
    )
    running_jobs = serializers.IntegerField(help_text="Your jobs running now.")
    staged_max_bytes = serializers.IntegerField(
        help_text="Bytes your unfinished resumable uploads may reserve in all."
    )
    stored_max_bytes = serializers.IntegerField(help_text="Bytes your datasets may hold in all.")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField(
        help_text="May open the Django admin (/admin/) to manage every user's models."
    )
    limits = LimitsSerializer()


@extend_schema(responses=MeSerializer)
@api_view(["GET"])
def me(request: Request) -> Response:
    return Response(
        {
            "id": request.user.pk,
            "username": request.user.get_username(),
            "is_staff": request.user.is_staff,
            "limits": jobs_selectors.user_limits(user=request.user),
        }
    )


class ApiTokenSerializer(ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scope", "created_at", "expires_at", "last_used_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.FULL)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class NewApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The secret; shown only in this answer.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ApiToken]
):
    """Your personal API tokens. The secret is shown once, by create; a revoked token stops
    working at once and leaves the list."""

    serializer_class = ApiTokenSerializer
    filterset_class = ApiTokenFilter
    ordering_fields = ["created_at", "name", "expires_at", "last_used_at"]

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return ApiToken.objects.none()
        return tokens.token_list(user=self.request.user)

    @extend_schema(
        request=ApiTokenCreateSerializer,
        responses={201: NewApiTokenSerializer},
        examples=[
            OpenApiExample(
                "A read-only token for a dashboard, for 90 days",
                value={"name": "dashboard", "scope": "read", "expires_at": "2027-03-01T00:00:00Z"},
                request_only=True,
            )
        ],
    )
    def create(self, request: Request) -> Response:
        form = ApiTokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        new = tokens.token_create(
            user=request.user,
            name=form.validated_data["name"],
            scope=form.validated_data["scope"],
            expires_at=form.validated_data.get("expires_at"),
        )
        body = {**ApiTokenSerializer(new.token).data, "token": new.raw}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        tokens.token_revoke(token=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={201: NewApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str | None = None) -> Response:
        """A new secret for this token's name, scope and expiry, shown once; the old secret
        stops working at once (the token gets a new id)."""
        new = tokens.token_rotate(token=self.get_object())
        body = {**ApiTokenSerializer(new.token).data, "token": new.raw}
        return Response(body, status=status.HTTP_201_CREATED)


# The API's documentation pages load their scripts from the installed sidecar package; this
# policy keeps the viewers' own calls home too (ReDoc's footer logo, a validator badge).
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:"
)


class AuditViewSet(viewsets.ReadOnlyModelViewSet[AuditEvent]):
    """The audit trail of every app, newest first: who created, changed, cancelled or deleted
    what, and when. Each user reads the events of their own datasets, jobs and models (and the
    models shared with them), and their own acts; staff read all."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditFilter
    ordering_fields = ["created_at", "action"]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        return registry_selectors.audit_trail_list(user=self.request.user)


class SwaggerDocs(SpectacularSwaggerView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class RedocDocs(SpectacularRedocView):
    template_name = "console/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response
