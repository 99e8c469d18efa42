"""Reads for the registry, always scoped to the user asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from models_registry.models import Deployment, ModelVersion, RegisteredModel


def model_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(owner_id=user.pk).prefetch_related("versions")


def version_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(model__owner_id=user.pk).select_related("model")


def deployment_list(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Deployment]:
    return Deployment.objects.filter(owner_id=user.pk).select_related("model_version__model")


def deployments_to_serve() -> QuerySet[Deployment]:
    return Deployment.objects.exclude(status=Deployment.Status.FAILED).select_related(
        "model_version"
    )
