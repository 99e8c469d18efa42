"""Thin REST views over the jobs services and selectors."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import selectors, services
from jobs.engine.data import DataError
from jobs.models import Dataset, TrainingJob
from jobs.serializers import (
    DatasetSerializer,
    DatasetUploadSerializer,
    JobCreateSerializer,
    JobSerializer,
)


class DatasetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Dataset]
):
    serializer_class = DatasetSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Dataset]:
        return selectors.dataset_list(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = DatasetUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            dataset = services.dataset_create(
                owner=request.user,  # type: ignore[arg-type]
                uploaded_file=form.validated_data["file"],
                name=form.validated_data.get("name", ""),
            )
        except DataError as exc:
            return Response({"file": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            services.dataset_delete(dataset=self.get_object())
        except services.ConflictError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[TrainingJob]
):
    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[TrainingJob]:
        return selectors.job_list(user=self.request.user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = JobCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        dataset = selectors.dataset_list(user=request.user).filter(pk=data["dataset"]).first()
        if dataset is None:
            return Response(
                {"dataset": [f"You have no dataset with id {data['dataset']}."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            job = services.job_create(
                owner=request.user,  # type: ignore[arg-type]
                dataset=dataset,
                target=data["target"],
                task_type=data.get("task_type") or None,
                max_trials=data["max_trials"],
                max_epochs=data["max_epochs"],
            )
        except DataError as exc:
            return Response({"target": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        job = get_object_or_404(self.get_queryset(), pk=pk)
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            return Response({"after": ["Must be an integer."]}, status=status.HTTP_400_BAD_REQUEST)
        return Response([e.as_message() for e in selectors.job_events(job=job, after=after)])
