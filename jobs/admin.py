from django.contrib import admin

from jobs.models import Dataset, JobEvent, TrainingJob, Trial


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin[Dataset]):
    list_display = ["id", "name", "owner", "status", "n_rows", "n_columns", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "sha256"]
    readonly_fields = ["sha256", "size_bytes", "n_rows", "n_columns", "columns", "created_at"]


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


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin[JobEvent]):
    list_display = ["job", "seq", "kind", "created_at"]
    list_filter = ["kind"]
