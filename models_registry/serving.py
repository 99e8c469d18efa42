"""The predictor service: keeps deployed models loaded and answers prediction requests.

Each predictor process reconciles with the database: every deployment that is not FAILED is
loaded (checking the artifact's recorded sha256 first, then Keras' safe mode), and a PENDING one
turns READY once loaded. Replicas do the same independently, so scaling out is starting more.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from rest_framework import status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# Importing the engine's model module registers every task's layers with Keras, so that a
# predictor that never trained such a model loads it (safe mode refuses a class it does not know).
from jobs.engine import model as engine_model
from models_registry import selectors, services
from models_registry.models import Deployment, ModelVersion

logger = logging.getLogger(__name__)
MAX_INSTANCES = 1000


class ModelCache:
    def __init__(self) -> None:
        self._models: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get(self, version: ModelVersion) -> Any:
        with self._lock:
            cached = self._models.get(version.pk)
        if cached is not None:
            return cached
        loaded = self._load(version)
        with self._lock:
            return self._models.setdefault(version.pk, loaded)

    def forget_except(self, version_ids: set[int]) -> None:
        with self._lock:
            for stale in set(self._models) - version_ids:
                del self._models[stale]

    @staticmethod
    def _load(version: ModelVersion) -> Any:
        with version.artifact.open("rb") as fileobj:
            data = fileobj.read()
        if hashlib.sha256(data).hexdigest() != version.artifact_sha256:
            raise ValueError("The model file does not match its recorded sha256; refusing it.")
        # Keras loads from a path; the copy is the bytes that were just checked.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(data)
            return engine_model.load(str(path))


cache = ModelCache()


def reconcile_once() -> None:
    """Load what should be served, mark it READY, and drop what is no longer deployed."""
    wanted = list(selectors.deployments_to_serve())
    for deployment in wanted:
        try:
            cache.get(deployment.model_version)
        except Exception as exc:
            logger.exception("Could not load deployment %s", deployment.name)
            services.deployment_mark_failed(deployment_id=deployment.pk, error=str(exc))
            continue
        if deployment.status == Deployment.Status.PENDING:
            services.deployment_mark_ready(deployment_id=deployment.pk)
    cache.forget_except({d.model_version_id for d in wanted})


def reconcile_forever(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            reconcile_once()
        except Exception:
            logger.exception("Reconcile failed; retrying")
        finally:
            close_old_connections()
        stop.wait(settings.PREDICTOR_POLL_SECONDS)


class PredictView(APIView):
    """`POST /v1/deployments/<name>/predict` with `{"instances": [{column: value}]}`, or
    `{"instances": [{"image": "<base64>"}]}` for an image model."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, name: str) -> Response:
        started = time.perf_counter()
        deployment = selectors.deployment_list(user=request.user).filter(name=name).first()
        if deployment is None:
            return Response({"detail": f"No deployment named '{name}'."}, status=404)
        if deployment.status != Deployment.Status.READY:
            return Response(
                {"detail": f"Deployment '{name}' is {deployment.status}, not READY."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        try:
            body = request.data
        except ParseError as exc:
            return Response({"detail": f"The body is not valid JSON: {exc.detail}"}, status=400)
        instances = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(instances, list) or not instances:
            return Response(
                {"detail": 'The body must be {"instances": [{"column": value, ...}, ...]}.'},
                status=400,
            )
        if len(instances) > MAX_INSTANCES:
            return Response(
                {"detail": f"At most {MAX_INSTANCES} instances per request."}, status=400
            )
        model = cache.get(deployment.model_version)
        try:
            predictions = engine_model.predict(model, instances)
        except engine_model.RecordError as exc:
            return Response(
                {"detail": str(exc), "field": exc.field, "instance": exc.instance}, status=400
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Response(
            {"predictions": predictions},
            headers={"Server-Timing": f"total;dur={elapsed_ms:.2f}"},
        )


class HealthView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})
