from __future__ import annotations

from rest_framework import serializers

from jobs.models import Dataset, TrainingJob, Trial


class DatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "original_filename",
            "status",
            "sha256",
            "size_bytes",
            "n_rows",
            "n_columns",
            "columns",
            "created_at",
        ]


class JobCreateSerializer(serializers.Serializer):
    dataset = serializers.IntegerField()
    target = serializers.CharField(max_length=255)
    task_type = serializers.ChoiceField(
        choices=TrainingJob.TaskType.choices, required=False, allow_null=True, allow_blank=True
    )
    max_trials = serializers.IntegerField(min_value=1, max_value=50, default=5)
    max_epochs = serializers.IntegerField(min_value=1, max_value=200, default=10)


class TrialSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = [
            "id",
            "number",
            "status",
            "hyperparameters",
            "score",
            "epochs",
            "started_at",
            "finished_at",
        ]


class JobSerializer(serializers.ModelSerializer):
    trials = TrialSerializer(many=True, read_only=True)
    model_version = serializers.SerializerMethodField()

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
            "trials",
        ]

    def get_model_version(self, job: TrainingJob) -> int | None:
        version = getattr(job, "model_version", None)
        return version.pk if version is not None else None
