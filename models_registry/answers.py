"""What the registry's services' refusals mean in HTTP, for its views (models, versions,
deployments)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rest_framework import status
from rest_framework.response import Response

from models_registry import services
from models_registry.models import Deployment
from models_registry.serializers import DeploymentSerializer

T = TypeVar("T")


def answer(write: Callable[[], T], ok: Callable[[T], Response]) -> Response:
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


def deployed(deployment: Deployment) -> Response:
    return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


def no_content(_: Any) -> Response:
    return Response(status=status.HTTP_204_NO_CONTENT)
