"""Workspaces: who shares registered models, and in which role.

A workspace's admins manage its members; its creator is its first admin. Reads and writes
of memberships live here, beside the registry's, because roles only mean something there."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from console.serializers import ModelSerializer
from models_registry.filters import WorkspaceFilter
from models_registry.lifecycle import AnyUser, NotAllowed
from models_registry.models import Membership, Workspace


def workspace_list(*, user: AnyUser) -> QuerySet[Workspace]:
    if user.pk is None:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user_id=user.pk).distinct()


def workspace_create(*, creator: AnyUser, name: str) -> Workspace:
    with transaction.atomic():
        workspace = Workspace.objects.create(name=name, created_by=cast(User, creator))
        Membership.objects.create(
            workspace=workspace, user=cast(User, creator), role=Membership.Role.ADMIN
        )
    return workspace


def _require_admin(actor: AnyUser, workspace: Workspace) -> None:
    if not workspace.memberships.filter(
        user_id=int(actor.pk or 0), role=Membership.Role.ADMIN
    ).exists():
        raise NotAllowed(f"Only an admin of '{workspace.name}' manages its members.")


def membership_set(
    *, actor: AnyUser, workspace: Workspace, user: User, role: str | None
) -> Membership | None:
    """Give the user a role in the workspace, or (role None) remove them. The last admin
    stays: a workspace nobody can manage would be stuck."""
    _require_admin(actor, workspace)
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        admins = workspace.memberships.filter(role=Membership.Role.ADMIN)
        if role != Membership.Role.ADMIN and list(admins.values_list("user_id", flat=True)) == [
            user.pk
        ]:
            raise ValueError("A workspace keeps at least one admin.")
        if role is None:
            workspace.memberships.filter(user=user).delete()
            return None
        membership, _ = Membership.objects.update_or_create(
            workspace=workspace, user=user, defaults={"role": role}
        )
        return membership


class MembershipSerializer(ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role"]


class WorkspaceSerializer(ModelSerializer):
    members = MembershipSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Workspace
        fields = ["id", "name", "created_at", "members"]


class MemberRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices, allow_null=True)


class WorkspaceViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet[Workspace]):
    """Your workspaces; `POST {"name"}` creates one with you as its admin."""

    serializer_class = WorkspaceSerializer
    filterset_class = WorkspaceFilter
    ordering_fields = ["created_at", "name"]

    def get_queryset(self) -> QuerySet[Workspace]:
        return workspace_list(user=self.request.user).prefetch_related("memberships__user")

    @extend_schema(
        request=inline_serializer(
            "WorkspaceCreate", {"name": serializers.CharField(max_length=200)}
        ),
        responses={201: WorkspaceSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        name = str(request.data.get("name", "")).strip() if isinstance(request.data, dict) else ""
        if not name or len(name) > 200:
            return Response({"name": ["A name of 1 to 200 characters."]}, status=400)
        workspace = workspace_create(creator=request.user, name=name)
        return Response(WorkspaceSerializer(workspace).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberRequestSerializer, responses=WorkspaceSerializer)
    @action(detail=True, methods=["post"])
    def members(self, request: Request, pk: str | None = None) -> Response:
        """`{"username", "role": "viewer"|"editor"|"admin"|null}`: set or (null) remove."""
        workspace = self.get_object()
        form = MemberRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=form.validated_data["username"]).first()
        if user is None:
            raise NotFound("No such user.")
        try:
            membership_set(
                actor=request.user,
                workspace=workspace,
                user=cast(User, user),
                role=form.validated_data["role"],
            )
        except NotAllowed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(WorkspaceSerializer(self.get_object()).data)
