"""Thin REST views over batch predictions: create, list, read, cancel, download the CSV."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from console.idempotency import idempotent
from jobs.api import IDEMPOTENCY_KEY
from models_registry import batch, selectors
from models_registry.downloads import stored_file_response
from models_registry.filters import BatchPredictionFilter
from models_registry.lifecycle import Conflict, NotAllowed
from models_registry.models import BatchPrediction, Deployment
from models_registry.serializers import BatchPredictionCreateSerializer, BatchPredictionSerializer

# The only names the run stores results under; anything else in the row is refused, not opened.
STORED_NAME = re.compile(r"batch_predictions/[0-9a-f]{32}\.csv")


def _refused(field: str, message: str) -> Response:
    return Response({field: [message]}, status=status.HTTP_400_BAD_REQUEST)


class BatchPredictionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[BatchPrediction]
):
    """Score a whole dataset with a model version, offline; download the predictions as CSV."""

    serializer_class = BatchPredictionSerializer
    filterset_class = BatchPredictionFilter
    ordering_fields = ["created_at", "finished_at", "status"]

    def get_queryset(self) -> QuerySet[BatchPrediction]:
        return selectors.batch_prediction_list(user=self.request.user)

    @extend_schema(
        request=BatchPredictionCreateSerializer,
        responses={201: BatchPredictionSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample("With a version", value={"version": 3, "dataset": 7}, request_only=True),
            OpenApiExample(
                "With what a deployment serves",
                value={"deployment": "churn-prod", "dataset": 7},
                request_only=True,
            ),
        ],
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = BatchPredictionCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        dataset = data["dataset"]
        deployment: Deployment | None = None
        version = None
        if "deployment" in data:
            deployment = self._deployment(data["deployment"])
            if deployment is None:
                return _refused("deployment", f"No deployment named '{data['deployment']}'.")
        else:
            version = selectors.version_list(user=request.user).filter(pk=data["version"]).first()
            if version is None:
                return _refused("version", f"No model version with id {data['version']}.")
        try:
            prediction = batch.batch_prediction_create(
                owner=request.user, dataset=dataset, model_version=version, deployment=deployment
            )
        except batch.BatchRefused as exc:
            return _refused(exc.field, str(exc))
        except NotAllowed as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except Conflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        prediction = self.get_queryset().get(pk=prediction.pk)
        return Response(
            BatchPredictionSerializer(prediction).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/batch-predictions/{prediction.pk}/"},
        )

    def _deployment(self, name: str) -> Deployment | None:
        """The caller's deployment of that name, else the one a teammate shares."""
        named = selectors.deployment_visible_list(user=self.request.user).filter(name=name)
        return named.filter(owner_id=self.request.user.pk).first() or named.first()

    @extend_schema(request=None, responses={202: BatchPredictionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a queued or running batch prediction; 409 once it has finished."""
        try:
            prediction = batch.batch_prediction_cancel(prediction=self.get_object())
        except Conflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(BatchPredictionSerializer(prediction).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="`row` (the dataset's row, from 0) and the prediction's columns.",
            )
        }
    )
    @action(detail=True, methods=["get"])
    def result(self, request: Request, pk: str | None = None) -> FileResponse | Response:
        """The predictions as CSV, once SUCCEEDED (409 before)."""
        prediction = self.get_object()
        if prediction.status != BatchPrediction.Status.SUCCEEDED:
            return Response(
                {"detail": f"Batch prediction {prediction.pk} is {prediction.status}; "
                           "its result can be downloaded once it has SUCCEEDED."},
                status=status.HTTP_409_CONFLICT,
            )  # fmt: skip
        return stored_file_response(
            prediction.output,
            STORED_NAME,
            filename=f"batch-prediction-{prediction.pk}.csv",
            content_type="text/csv",
            sha256=prediction.output_sha256,
        )
