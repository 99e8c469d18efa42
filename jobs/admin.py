from typing import Any

from django.contrib import admin

from jobs.models import Dataset, DatasetEvent, JobEvent, TrainingJob, Trial, Upload


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin[Dataset]):
    list_display = ["id", "name", "version", "kind", "owner", "status", "n_rows", "created_at"]
    list_filter = ["status", "kind", "format"]
    search_fields = ["name", "sha256"]

    # A dataset is immutable once stored; editing makes a new version through the API.
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class TrialInline(admin.TabularInline[Trial, TrainingJob]):
    model = Trial
    extra = 0
    fields = ["number", "status", "score", "hyperparameters", "finished_at"]
    readonly_fields = ["number", "status", "score", "hyperparameters", "finished_at"]
    can_delete = False


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin[TrainingJob]):
    list_display = ["id", "owner", "dataset", "target", "task_type", "status", "created_at"]
    list_filter = ["status", "task_type"]
    search_fields = ["target", "dataset__name"]
    readonly_fields = ["status", "error", "worker", "test_metrics", "best_hyperparameters"]
    inlines = [TrialInline]


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
