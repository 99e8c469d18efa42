from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.serializers import ModelSerializer
from jobs import selectors
from jobs.engine.config import (
    BUDGET_PRESETS,
    MAX_EPOCHS_CAP,
    MAX_PARALLEL_TRIALS,
    MAX_TRIALS_CAP,
)
from jobs.models import Dataset, TrainingJob, Trial, Upload

COLUMN_TYPES = [
    "numeric",
    "integer",
    "boolean",
    "categorical",
    "text",
    "datetime",
    "image_path",
    "identifier",
    "constant",
]


@extend_schema_field(OpenApiTypes.INT)
class OwnDatasetField(serializers.PrimaryKeyRelatedField):
    """The id of a dataset the caller may use, as the Dataset. Another user's id reads as
    missing, with the same message: an id must not tell whether someone else holds it."""

    default_error_messages = {
        "does_not_exist": "You have no dataset with id {pk_value}.",
        "incorrect_type": "A dataset id is a whole number, not {data_type}.",
    }

    def get_queryset(self) -> QuerySet[Dataset]:
        return selectors.dataset_list(user=self.context["request"].user)


class DatasetOptionsSerializer(serializers.Serializer):
    """How to read a file: everything is detected unless given."""

    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Dataset.Kind.choices, required=False, allow_blank=True)
    format = serializers.ChoiceField(
        choices=["csv", "tsv", "csv.gz", "parquet", "jsonl", "xlsx"], required=False
    )
    encoding = serializers.ChoiceField(
        choices=["utf-8", "utf-8-sig", "latin-1", "cp1252"], required=False
    )
    delimiter = serializers.ChoiceField(choices=[",", ";", "\t", "|"], required=False)
    header = serializers.BooleanField(required=False, default=True)
    column_types = serializers.DictField(
        child=serializers.ChoiceField(choices=COLUMN_TYPES), required=False
    )
    text_column = serializers.CharField(max_length=255, required=False, allow_blank=True)
    timestamp_column = serializers.CharField(max_length=255, required=False, allow_blank=True)


class DatasetUploadSerializer(DatasetOptionsSerializer):
    file = serializers.FileField(required=False, allow_empty_file=True)
    upload = serializers.UUIDField(required=False)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if ("file" in attrs) == ("upload" in attrs):
            raise serializers.ValidationError(
                "Send either a file (multipart) or the id of a finished upload."
            )
        return attrs


class DatasetSerializer(ModelSerializer):
    children: serializers.PrimaryKeyRelatedField[Dataset] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "kind",
            "version",
            "parent",
            "children",
            "changes",
            "original_filename",
            "format",
            "encoding",
            "delimiter",
            "has_header",
            "status",
            "error",
            "sha256",
            "size_bytes",
            "n_rows",
            "n_columns",
            "columns",
            "column_types",
            "text_column",
            "timestamp_column",
            "profile",
            "created_at",
            "profiled_at",
        ]


class DatasetListSerializer(DatasetSerializer):
    class Meta(DatasetSerializer.Meta):
        fields = [f for f in DatasetSerializer.Meta.fields if f != "profile"]


class VersionRequestSerializer(serializers.Serializer):
    drop_columns = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, default=list
    )
    column_types = serializers.DictField(
        child=serializers.ChoiceField(choices=COLUMN_TYPES), required=False, default=dict
    )
    relabel_column = serializers.CharField(max_length=255, required=False, allow_blank=True)
    relabel = serializers.DictField(child=serializers.CharField(), required=False, default=dict)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if not (attrs["drop_columns"] or attrs["column_types"] or attrs.get("relabel")):
            raise serializers.ValidationError("Name at least one change for the new version.")
        if attrs.get("relabel") and not attrs.get("relabel_column"):
            raise serializers.ValidationError("'relabel' needs 'relabel_column'.")
        return attrs


class UploadCreateSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=0)


class UploadSerializer(ModelSerializer):
    class Meta:
        model = Upload
        fields = ["id", "filename", "size", "offset", "complete", "created_at", "updated_at"]


class JobCreateSerializer(serializers.Serializer):
    dataset = OwnDatasetField()
    # Optional only for image archives, whose target is implied ("label" or "value").
    target = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    task_type = serializers.ChoiceField(
        choices=TrainingJob.TaskType.choices, required=False, allow_null=True, allow_blank=True
    )
    # Time is the control: a preset name or seconds (neither: the standard budget; both: 400).
    budget = serializers.ChoiceField(
        choices=list(BUDGET_PRESETS), required=False, allow_null=True, allow_blank=True
    )
    max_seconds = serializers.IntegerField(
        min_value=10, max_value=7 * 24 * 3600, required=False, allow_null=True
    )
    # Optional caps within the budget (left out: the engine's own).
    max_trials = serializers.IntegerField(
        min_value=1, max_value=MAX_TRIALS_CAP, required=False, allow_null=True
    )
    max_epochs = serializers.IntegerField(
        min_value=1, max_value=MAX_EPOCHS_CAP, required=False, allow_null=True
    )
    # Left out: drawn at random (and recorded); the same seed reproduces the search.
    seed = serializers.IntegerField(
        min_value=0, max_value=TrainingJob.SEED_MAX, required=False, allow_null=True
    )
    # Left out (or null): the default tuner benchmarked for the task type.
    tuner = serializers.ChoiceField(
        choices=TrainingJob.Tuner.choices, required=False, allow_null=True
    )
    # Forecasting: steps ahead, and a fixed window (searched when absent).
    horizon = serializers.IntegerField(min_value=1, max_value=365, required=False, allow_null=True)
    lookback = serializers.IntegerField(min_value=1, max_value=512, required=False, allow_null=True)
    # Multi-label: what separates the labels in the target column (detected when absent).
    label_delimiter = serializers.ChoiceField(
        choices=[";", "|", ","], required=False, allow_null=True, allow_blank=True
    )
    # How many of the job's trials run at once, each in a worker process of its own (the
    # random and bayesian tuners): the job's worker owns the search, runners take the rest.
    parallel_trials = serializers.IntegerField(
        min_value=1, max_value=MAX_PARALLEL_TRIALS, required=False, allow_null=True, default=1
    )
    queue = serializers.ChoiceField(
        choices=TrainingJob.Queue.choices,
        default=TrainingJob.Queue.CPU,
        error_messages={
            "invalid_choice": "'{input}' is not a queue; choose 'cpu' or 'gpu' (a worker on a "
            "machine with a GPU)."
        },
    )
    # Within its queue, a high-priority job is taken before normal ones, a low one after.
    priority = serializers.ChoiceField(
        choices=TrainingJob.Priority.choices,
        default=TrainingJob.Priority.NORMAL,
        error_messages={
            "invalid_choice": "'{input}' is not a priority; choose low, normal or high."
        },
    )


class JobCancelSerializer(serializers.Serializer):
    # True: stop now and register the best finished trial; false (the default): discard.
    keep_best = serializers.BooleanField(required=False, default=False)


class TrialSerializer(ModelSerializer):
    class Meta:
        model = Trial
        fields = [
            "id",
            "number",
            "status",
            "hyperparameters",
            "score",
            "epochs",
            "error",
            "runner",
            "started_at",
            "finished_at",
        ]


class JobSerializer(ModelSerializer):
    trials = TrialSerializer(many=True, read_only=True)
    model_version = serializers.SerializerMethodField()
    waiting_for = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "dataset",
            "dataset_sha256",
            "target",
            "task_type",
            "max_trials",
            "max_epochs",
            "seed",
            "tuner",
            "max_seconds",
            "budget",
            "task_options",
            "queue",
            "priority",
            "parallel_trials",
            "waiting_for",
            "cancel_requested",
            "keep_best",
            "stopped",
            "class_weights",
            "manifest",
            "status",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "best_trial",
            "best_hyperparameters",
            "test_metrics",
            "split_sizes",
            "model_version",
            "retry_of",
            "trials",
        ]

    def get_waiting_for(self, job: TrainingJob) -> str:
        if job.status != TrainingJob.Status.QUEUED:
            return ""
        # One look at the workers per response, however many jobs it lists.
        if "queues_served" not in self.context:
            self.context["queues_served"] = selectors.queues_served()
        return selectors.job_waiting_for(job=job, served=self.context["queues_served"])

    def get_model_version(self, job: TrainingJob) -> int | None:
        # Read with the job by the lists' selector (jobs.selectors.job_list), else looked up.
        if hasattr(job, "model_version_pk"):
            return job.model_version_pk
        version = getattr(job, "model_version", None)
        return version.pk if version is not None else None


# Answers of the API that are not a model: described for the OpenAPI schema.


class DatasetCreatedSerializer(DatasetSerializer):
    existing = serializers.BooleanField(
        help_text="True when you already had this exact file (same sha256): that dataset."
    )

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "existing"]


class EventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    payload = serializers.JSONField()
    created_at = serializers.DateTimeField()


class RowsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(allow_null=True)
    offset = serializers.IntegerField()
    next_offset = serializers.IntegerField(allow_null=True)
    rows = serializers.ListField(child=serializers.DictField())


class BudgetsSerializer(serializers.Serializer):
    presets = serializers.DictField(child=serializers.IntegerField())
    default = serializers.CharField()
    max_trials = serializers.IntegerField()
    max_epochs = serializers.IntegerField()
