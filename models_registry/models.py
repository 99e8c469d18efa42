from __future__ import annotations

from django.conf import settings
from django.db import models


class RegisteredModel(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="model_name_unique_per_owner")
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    job = models.OneToOneField(
        "jobs.TrainingJob", on_delete=models.PROTECT, related_name="model_version"
    )
    dataset = models.ForeignKey("jobs.Dataset", on_delete=models.PROTECT, related_name="+")
    artifact = models.FileField(upload_to="models/", max_length=300)
    artifact_sha256 = models.CharField(max_length=64)
    # Which weights the file holds: the best trial's, as trained on the training split.
    source = models.CharField(max_length=32, default="best_trial_weights")
    task_type = models.CharField(max_length=16)
    target = models.CharField(max_length=255)
    classes = models.JSONField(null=True, blank=True)
    metrics = models.JSONField(default=dict)
    hyperparameters = models.JSONField(default=dict)
    input_schema = models.JSONField(default=list)
    manifest = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="version_unique_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"


class Deployment(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        READY = "READY"
        FAILED = "FAILED"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.SlugField(max_length=100)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="deployment_name_unique_per_owner"
            )
        ]

    def __str__(self) -> str:
        return self.name
