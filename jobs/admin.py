"""Admin for datasets and jobs. Actions call the jobs services as the API does, for the signed-in
user's own jobs only (the API's rule: a job is its owner's)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from jobs import services
from jobs.models import Dataset, DatasetEvent, JobEvent, TrainingJob, Trial, Upload


def _pretty(value: Any) -> str:
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2))


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin[Dataset]):
    list_display = ["id", "name", "version", "kind", "owner", "status", "n_rows", "created_at"]
    list_filter = ["status", "kind", "format"]
    search_fields = ["name", "sha256"]
    readonly_fields = ["warnings_view", "profile_view"]

    # A dataset is immutable once stored; editing makes a new version through the API.
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="warnings")
    def warnings_view(self, dataset: Dataset) -> str:
        warnings = (dataset.profile or {}).get("warnings", [])
        items = format_html_join("", "<li>{}</li>", ((w.get("message", ""),) for w in warnings))
        return format_html("<ul>{}</ul>", items) if warnings else "none"

    @admin.display(description="profile")
    def profile_view(self, dataset: Dataset) -> str:
        return _pretty(dataset.profile)


class TrialInline(admin.TabularInline[Trial, TrainingJob]):
    model = Trial
    extra = 0
    fields = ["number", "status", "score", "hyperparameters", "finished_at"]
    readonly_fields = ["number", "status", "score", "hyperparameters", "finished_at"]
    can_delete = False


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin[TrainingJob]):
    list_display = ["id", "owner", "dataset", "target", "task_type", "status", "created_at"]
    list_filter = ["status", "task_type", "queue", "created_at"]
    search_fields = ["target", "dataset__name", "owner__username"]
    # retry_of is set by job_retry only (and as a select it would list every job).
    readonly_fields = [
        "status", "error", "worker", "test_metrics", "best_hyperparameters", "retry_of",
    ]  # fmt: skip
    inlines = [TrialInline]
    actions = ["cancel", "retry"]

    def _own(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> list[TrainingJob]:
        mine = [job for job in queryset if job.owner_id == request.user.pk]
        if len(mine) < len(queryset):
            self.message_user(
                request, "Only your own jobs can be cancelled or retried.", messages.ERROR
            )
        return mine

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        for job in self._own(request, queryset):
            try:
                services.job_cancel(job=job)
            except services.ConflictError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Cancelling job {job.pk}.", messages.SUCCESS)

    @admin.action(description="Retry the selected jobs (a new job with the same settings)")
    def retry(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        for job in self._own(request, queryset.select_related("dataset", "owner")):
            try:
                again = services.job_retry(actor=request.user, job=job)  # type: ignore[arg-type]
            except services.ConflictError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request, f"Job {job.pk} retried as job {again.pk}.", messages.SUCCESS
                )


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin[Trial]):
    list_display = ["id", "job", "number", "status", "score"]
    list_filter = ["status"]


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin[Upload]):
    list_display = ["id", "owner", "filename", "size", "offset", "updated_at"]


@admin.register(DatasetEvent)
class DatasetEventAdmin(admin.ModelAdmin[DatasetEvent]):
    list_display = ["dataset", "seq", "kind", "created_at"]
    list_filter = ["kind"]


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin[JobEvent]):
    list_display = ["job", "seq", "kind", "created_at"]
    list_filter = ["kind"]
