"""Thin REST views over the datasets and uploads services and selectors (jobs: training_api)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from console.idempotency import idempotent
from console.parsers import JSONParser
from jobs import selectors, services, tus
from jobs.engine.data import DataError
from jobs.engine.io.export import write_csv_export
from jobs.engine.io.formats import ReadOptions, iter_batches
from jobs.filters import DatasetFilter
from jobs.models import Dataset, Upload
from jobs.serializers import (
    DatasetCreatedSerializer,
    DatasetListSerializer,
    DatasetSerializer,
    DatasetUploadSerializer,
    EventSerializer,
    RowsPageSerializer,
    UploadCreateSerializer,
    UploadSerializer,
    VersionRequestSerializer,
)

MAX_PREVIEW_ROWS = 500

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A retry with the same key returns the first answer instead of a duplicate.",
)
AFTER = OpenApiParameter("after", int, description="Only events with a larger `seq`.")


def _dataset_request(data: dict[str, Any]) -> services.DatasetRequest:
    return services.DatasetRequest(
        name=data.get("name", ""),
        kind=data.get("kind", ""),
        options=ReadOptions(
            format=data.get("format"),
            encoding=data.get("encoding"),
            delimiter=data.get("delimiter"),
            header=data.get("header", True),
        ),
        column_types=data.get("column_types") or {},
        text_column=data.get("text_column", ""),
        timestamp_column=data.get("timestamp_column", ""),
    )


def _created(dataset: Dataset, created: bool) -> Response:
    body = {**DatasetSerializer(dataset).data, "existing": not created}
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return Response(body, status=code, headers={"Location": f"/api/v1/datasets/{dataset.pk}/"})


class DatasetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Dataset]
):
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_class = DatasetFilter
    ordering_fields = ["created_at", "name", "n_rows", "size_bytes", "version"]

    def get_queryset(self) -> QuerySet[Dataset]:
        if self.action == "list":
            return selectors.dataset_summaries(user=self.request.user)
        return selectors.dataset_list(user=self.request.user)

    def get_serializer_class(self) -> type[BaseSerializer[Dataset]]:
        return DatasetListSerializer if self.action == "list" else DatasetSerializer

    @extend_schema(
        request={
            "multipart/form-data": DatasetUploadSerializer,
            "application/json": DatasetUploadSerializer,
        },
        responses={201: DatasetCreatedSerializer, 200: DatasetCreatedSerializer},
        parameters=[IDEMPOTENCY_KEY],
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.DATASET_MAX_BYTES + (1 << 20):
            # Refused before a byte of the body is read.
            return Response(
                {"file": [f"The upload is {declared} bytes; the limit is "
                          f"{settings.DATASET_MAX_BYTES}. Use a smaller file."]},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )  # fmt: skip
        form = DatasetUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            if "upload" in data:
                upload = get_object_or_404(
                    selectors.upload_list(user=request.user), pk=data["upload"]
                )
                dataset, created = services.upload_finish(
                    upload=upload, request=_dataset_request(data)
                )
            else:
                uploaded = data["file"]
                path = Path(uploaded.temporary_file_path())
                dataset, created = services.dataset_create(
                    owner=request.user,  # type: ignore[arg-type]
                    path=path,
                    filename=uploaded.name or "dataset.csv",
                    sha256=services.file_sha256(path),
                    request=_dataset_request(data),
                    actor=request.user,
                )
        except DataError as exc:
            return Response({"file": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return _created(dataset, created)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            services.dataset_delete(dataset=self.get_object(), actor=request.user)
        except services.ConflictError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses=DatasetListSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=VersionRequestSerializer,
        responses={201: DatasetCreatedSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        dataset = self.get_object()
        if request.method == "GET":
            lineage = selectors.dataset_summaries(user=request.user).filter(
                pk__in=[d.pk for d in selectors.dataset_lineage(dataset=dataset)]
            )
            return Response(DatasetListSerializer(lineage.order_by("version"), many=True).data)
        form = VersionRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            child = services.dataset_version_create(
                parent=dataset,
                actor=request.user,
                changes=services.VersionChanges(
                    drop_columns=data["drop_columns"],
                    column_types=data["column_types"],
                    relabel_column=data.get("relabel_column", ""),
                    relabel=data.get("relabel") or {},
                ),
            )
        except DataError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return _created(child, True)

    @extend_schema(
        parameters=[
            OpenApiParameter("offset", int, description="The first row (from 0)."),
            OpenApiParameter("limit", int, description=f"At most {MAX_PREVIEW_ROWS} rows."),
        ],
        responses=RowsPageSerializer,
    )
    @action(detail=True, methods=["get"])
    def rows(self, request: Request, pk: str | None = None) -> Response:
        dataset = self.get_object()
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            return Response({"detail": "offset and limit must be integers."}, status=400)
        if offset < 0 or not 1 <= limit <= MAX_PREVIEW_ROWS:
            return Response(
                {"detail": f"offset must be >= 0 and limit between 1 and {MAX_PREVIEW_ROWS}."},
                status=400,
            )
        if dataset.kind == Dataset.Kind.IMAGE or dataset.status != Dataset.Status.READY:
            return Response({"detail": "Rows can be previewed for READY tables only."}, status=409)
        rows = selectors.dataset_rows(dataset=dataset, offset=offset, limit=limit)
        nxt = offset + limit if offset + limit < (dataset.n_rows or 0) else None
        return Response(
            {"count": dataset.n_rows, "offset": offset, "next_offset": nxt, "rows": rows}
        )

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV.")}
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str | None = None) -> StreamingHttpResponse | Response:
        dataset = self.get_object()
        if dataset.kind == Dataset.Kind.IMAGE or dataset.status != Dataset.Status.READY:
            # A READY table was read whole by the profiler, so the stream below cannot fail
            # halfway through with a parse error after the 200 has gone out.
            return Response({"detail": "Only READY tables can be exported."}, status=409)

        def chunks() -> Iterator[str]:
            with selectors.dataset_table(dataset=dataset) as (path, source):
                for index, batch in enumerate(iter_batches(path, source)):
                    buffer = io.StringIO()
                    write_csv_export([batch], buffer, header=index == 0)
                    yield buffer.getvalue()

        response = StreamingHttpResponse(chunks(), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="dataset-{dataset.pk}-v{dataset.version}.csv"'
        )
        return response

    @extend_schema(parameters=[AFTER], responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request: Request, pk: str | None = None) -> Response:
        dataset = self.get_object()
        after = event_after(request)
        if after is None:
            return Response({"after": ["Must be an integer."]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            [e.as_message() for e in selectors.dataset_events(dataset=dataset, after=after)]
        )


def event_after(request: Request) -> int | None:
    """`?after=<seq>` of an events list; None when it is not an integer."""
    try:
        return int(request.query_params.get("after", "0"))
    except ValueError:
        return None


class UploadViewSet(
    mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[Upload]
):
    """Resumable uploads; the bytes themselves go through `jobs.upload_stream` (PATCH)."""

    serializer_class = UploadSerializer
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[Upload]:
        return selectors.upload_list(user=self.request.user)

    @extend_schema(
        request=UploadCreateSerializer,
        responses={201: UploadSerializer},
        parameters=[
            IDEMPOTENCY_KEY,
            OpenApiParameter(
                "Upload-Length",
                int,
                OpenApiParameter.HEADER,
                description="tus creation: the size in bytes (then no JSON body is needed).",
            ),
            OpenApiParameter(
                "Upload-Metadata",
                str,
                OpenApiParameter.HEADER,
                description="tus creation: `filename <base64>`.",
            ),
        ],
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if tus.is_creation(request.headers):
            filename, size = tus.creation_request(request.headers)
        else:
            form = UploadCreateSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            filename, size = form.validated_data["filename"], form.validated_data["size"]
        try:
            upload = services.upload_create(
                owner=request.user,  # type: ignore[arg-type]
                filename=filename,
                size=size,
            )
        except DataError as exc:
            code = 413 if "limit" in str(exc) else 400
            return Response({"size": [str(exc)]}, status=code, headers=tus.RESUMABLE)
        url = f"/api/v1/uploads/{upload.pk}/"
        return Response(
            UploadSerializer(upload).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": url, "Upload-Offset": "0", **tus.RESUMABLE},
        )

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        """tus discovery: the version and extensions this server speaks."""
        return Response(
            status=status.HTTP_204_NO_CONTENT,
            headers={
                "Tus-Version": tus.VERSION,
                "Tus-Extension": tus.EXTENSIONS,
                "Tus-Max-Size": str(settings.DATASET_MAX_BYTES),
                **tus.RESUMABLE,
            },
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        upload = self.get_object()
        return Response(
            UploadSerializer(upload).data,
            headers={"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.size),
                     "Cache-Control": "no-store", **tus.RESUMABLE},
        )  # fmt: skip

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.upload_delete(upload=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT, headers=tus.RESUMABLE)
