"""Thin REST views over the training jobs services and selectors: create, list, cancel,
retry, a job's trials (paged), events and manifest."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from console.idempotency import idempotent
from console.pagination import CursorPage
from jobs import selectors, services
from jobs.api import AFTER, IDEMPOTENCY_KEY, event_after
from jobs.engine.config import BUDGET_PRESETS, MAX_EPOCHS_CAP, MAX_TRIALS_CAP
from jobs.engine.data import DataError
from jobs.filters import JobFilter, TrialFilter
from jobs.models import TrainingJob, Trial
from jobs.serializers import (
    BudgetsSerializer,
    EventSerializer,
    JobCancelSerializer,
    JobCreateSerializer,
    JobSerializer,
    TrialSerializer,
)
from jobs.services.training import DEFAULT_BUDGET


class JobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[TrainingJob]
):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    ordering_fields = ["created_at", "started_at", "finished_at", "status", "task_type", "metric"]

    def get_queryset(self) -> QuerySet[TrainingJob]:
        return selectors.job_list(user=self.request.user)

    @extend_schema(
        request=JobCreateSerializer,
        responses={201: JobSerializer},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "A quick search",
                value={"dataset": 1, "target": "label", "budget": "quick", "max_trials": 5},
                request_only=True,
            ),
            OpenApiExample(
                "A forecast",
                value={
                    "dataset": 2,
                    "target": "sales",
                    "task_type": "forecasting",
                    "horizon": 7,
                    "max_seconds": 600,
                },
                request_only=True,
            ),
        ],
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = JobCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = form.validated_data
        dataset = data["dataset"]
        try:
            job = services.job_create(
                owner=request.user,  # type: ignore[arg-type]
                dataset=dataset,
                target=data["target"],
                task_type=data.get("task_type") or None,
                budget=data.get("budget") or None,
                max_seconds=data.get("max_seconds"),
                max_trials=data.get("max_trials"),
                max_epochs=data.get("max_epochs"),
                seed=data.get("seed"),
                tuner=data.get("tuner") or None,
                queue=data["queue"],
                priority=data["priority"],
                horizon=data.get("horizon"),
                lookback=data.get("lookback"),
                label_delimiter=data.get("label_delimiter") or None,
                parallel_trials=data.get("parallel_trials") or 1,
            )
        except DataError as exc:
            # Errors about an option (horizon, say) name it; the rest are about the target.
            field = getattr(exc, "field", "") or "target"
            return Response({field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        # A job just made has no trials and no model version: answered without looking them
        # up (two queries of every submission, which a burst of submissions waits behind).
        # The two names are those jobs.selectors.job_list and Django's prefetch_related fill.
        job.__dict__.update(
            model_version_pk=None, _prefetched_objects_cache={"trials": job.trials.none()}
        )
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=BudgetsSerializer)
    @action(detail=False, methods=["get"])
    def budgets(self, request: Request) -> Response:
        """The budget presets and caps a job may ask for, so clients need not copy them."""
        return Response(
            {
                "presets": BUDGET_PRESETS,
                "default": DEFAULT_BUDGET,
                "max_trials": MAX_TRIALS_CAP,
                "max_epochs": MAX_EPOCHS_CAP,
            }
        )

    @extend_schema(request=JobCancelSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        form = JobCancelSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            job = services.job_cancel(
                job=job, actor=request.user, keep_best=form.validated_data["keep_best"]
            )
        except services.ConflictError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[AFTER], responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        after = event_after(request)
        if after is None:
            return Response({"after": ["Must be an integer."]}, status=status.HTTP_400_BAD_REQUEST)
        return Response([e.as_message() for e in selectors.job_events(job=job, after=after)])

    def _own_job(self) -> TrainingJob:
        """The job in the URL, without its trials (there may be thousands, and retry and
        manifest read none) and without the job list's filters (not this URL's)."""
        queryset = self.get_queryset().prefetch_related(None)
        job = get_object_or_404(queryset, pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, job)
        return job

    @extend_schema(request=None, responses={201: JobSerializer}, parameters=[IDEMPOTENCY_KEY])
    @action(detail=True, methods=["post"])
    @idempotent
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """A new job with the settings (and seed) of a FAILED or CANCELLED one; its
        `retry_of` names this job. 409 for a job in any other state."""
        job = self._own_job()
        try:
            again = services.job_retry(actor=request.user, job=job)  # type: ignore[arg-type]
        except services.ConflictError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(
            JobSerializer(again).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/jobs/{again.pk}/"},
        )

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The manifest: seed, split hash, search space, library and "
                "backend versions, hardware, final model.",
            )
        }
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def manifest(self, request: Request, pk: str | None = None) -> HttpResponse | Response:
        """What the search ran, as a file to keep beside the model (`job-<id>-manifest.json`).
        409 while the job has none: it is written when the search returns."""
        job = self._own_job()
        if not job.manifest:
            return Response(
                {
                    "detail": f"Job {job.pk} is {job.status} and has no manifest: it is "
                    "written when a search returns (a job that failed or was cancelled "
                    "before that has none)."
                },
                status=status.HTTP_409_CONFLICT,
            )
        response = HttpResponse(json.dumps(job.manifest, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-manifest.json"'
        return response


class TrialPage(CursorPage):
    # In the order they ran unless `?ordering=` says otherwise.
    ordering = ("number", "id")


JOB_PK = OpenApiParameter("job_pk", int, OpenApiParameter.PATH, description="The job's id.")


@extend_schema_view(list=extend_schema(parameters=[JOB_PK]))
class JobTrialViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[Trial]):
    """A job's trials a page at a time, by `number` unless `?ordering=` says otherwise.
    `score` is the search's validation loss, lower is better: `ordering=score` lists the best
    first; trials without a score (running or failed) come last either way."""

    # Its own view rather than an action on the jobs: its filters and orderings are about
    # trials, and the jobs' would be applied to the job lookup. The job detail still embeds
    # every trial (what the UI reads).
    serializer_class = TrialSerializer
    # For the schema: what the list holds (get_queryset needs the URL's job).
    queryset = Trial.objects.none()
    filterset_class = TrialFilter
    ordering_fields = ["number", "score", "status", "started_at", "finished_at"]
    pagination_class = TrialPage

    def get_queryset(self) -> QuerySet[Trial]:
        # Someone else's job is a 404, as on every job URL. Its trials are not prefetched:
        # there may be thousands, and only a page is read.
        jobs = selectors.job_list(user=self.request.user).prefetch_related(None)
        return selectors.job_trials(job=get_object_or_404(jobs, pk=self.kwargs["job_pk"]))
