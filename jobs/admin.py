"""Admin for datasets and jobs. Actions call the jobs services as the API does, for the signed-in
user's own jobs only (the API's rule: a job is its owner's).

Nothing done here goes unrecorded: the actions' services write the audit trail, and every
other save or delete (a form, an inline, the bulk delete) is recorded by AuditedAdmin in the
same transaction, naming the staff member and the fields changed."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from console.audit import Action, audit_object
from jobs import services
from jobs.models import Dataset, DatasetEvent, JobEvent, TrainingJob, Trial, Upload, UserLimits


def _pretty(value: Any) -> str:
    return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2))


M = TypeVar("M", bound=Model)


def _values(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, default=str)


class AuditedAdmin(admin.ModelAdmin[M]):
    """Records each add, change and delete the admin makes, with who made it and which fields
    changed from what to what."""

    def save_model(self, request: HttpRequest, obj: M, form: ModelForm, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            fields = list(form.changed_data)
            audit_object(
                actor=request.user,
                action=Action.ADMIN_CHANGED if change else Action.ADMIN_ADDED,
                obj=obj,
                from_value=_values({f: form.initial.get(f) for f in fields}) if change else "",
                to_value=_values({f: form.cleaned_data.get(f) for f in fields}),
            )

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseInlineFormSet, change: bool
    ) -> None:
        with transaction.atomic():
            # Deleted rows are recorded while they still exist, with their ids.
            for gone in [f.instance for f in formset.deleted_forms if f.instance.pk is not None]:
                audit_object(actor=request.user, action=Action.ADMIN_DELETED, obj=gone)
            super().save_formset(request, form, formset, change)
            for new in formset.new_objects:
                audit_object(actor=request.user, action=Action.ADMIN_ADDED, obj=new)
            for changed, fields in formset.changed_objects:
                audit_object(
                    actor=request.user,
                    action=Action.ADMIN_CHANGED,
                    obj=changed,
                    to_value=", ".join(fields),
                )

    def delete_model(self, request: HttpRequest, obj: M) -> None:
        with transaction.atomic():
            audit_object(actor=request.user, action=Action.ADMIN_DELETED, obj=obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[M]) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_object(actor=request.user, action=Action.ADMIN_DELETED, obj=obj)
            super().delete_queryset(request, queryset)


@admin.register(Dataset)
class DatasetAdmin(AuditedAdmin[Dataset]):
    list_display = ["id", "name", "version", "kind", "owner", "status", "n_rows", "created_at"]
    list_filter = ["status", "kind", "format"]
    search_fields = ["name", "sha256"]
    readonly_fields = ["warnings_view", "profile_view"]

    # A dataset is immutable once stored; editing makes a new version through the API, and
    # one is made from an upload (which the admin's form cannot check or profile).
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False

    # Deleting goes through the service: it refuses a dataset a job or model uses, removes the
    # stored file, and records the deletion.
    def delete_model(self, request: HttpRequest, obj: Dataset) -> None:
        self._delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Dataset]) -> None:
        for dataset in queryset:
            self._delete(request, dataset)

    def _delete(self, request: HttpRequest, dataset: Dataset) -> None:
        try:
            services.dataset_delete(dataset=dataset, actor=request.user)
        except services.ConflictError as exc:
            self.message_user(request, str(exc), messages.ERROR)

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
class TrainingJobAdmin(AuditedAdmin[TrainingJob]):
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
                services.job_cancel(job=job, actor=request.user)
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
class TrialAdmin(AuditedAdmin[Trial]):
    list_display = ["id", "job", "number", "status", "score"]
    list_filter = ["status"]


@admin.register(Upload)
class UploadAdmin(AuditedAdmin[Upload]):
    list_display = ["id", "owner", "filename", "size", "offset", "updated_at"]


@admin.register(DatasetEvent)
class DatasetEventAdmin(AuditedAdmin[DatasetEvent]):
    list_display = ["dataset", "seq", "kind", "created_at"]
    list_filter = ["kind"]


@admin.register(JobEvent)
class JobEventAdmin(AuditedAdmin[JobEvent]):
    list_display = ["job", "seq", "kind", "created_at"]
    list_filter = ["kind"]


@admin.register(UserLimits)
class UserLimitsAdmin(admin.ModelAdmin[UserLimits]):
    """A user's own limits. Saves go through `user_limits_set`, which records the change and
    sends the user's held jobs that a raised limit now lets start."""

    list_display = ["user", "max_running_jobs", "updated_at"]
    search_fields = ["user__username"]
    raw_id_fields = ["user"]

    def get_readonly_fields(self, request: HttpRequest, obj: UserLimits | None = None) -> Any:
        return ["user"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: UserLimits, form: ModelForm, change: bool
    ) -> None:
        saved = services.user_limits_set(
            user=obj.user, max_running_jobs=obj.max_running_jobs, actor=request.user
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: UserLimits) -> None:
        # Back to the default, recorded like any other change.
        with transaction.atomic():
            services.user_limits_set(user=obj.user, max_running_jobs=None, actor=request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UserLimits]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
