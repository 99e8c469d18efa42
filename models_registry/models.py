from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models


class Workspace(models.Model):
    """A shared place for registered models: members read them, editors and admins act."""

    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer"
        EDITOR = "editor"
        ADMIN = "admin"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class RegisteredModel(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # Shared with a workspace's members, by role; the owner keeps every right.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="models"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    task_type = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="model_name_unique_per_owner")
        ]

    def __str__(self) -> str:
        return self.name


class RecordChangeRefused(Exception):
    """Something tried to change what a model version recorded when it was registered."""


class ModelVersion(models.Model):
    # What describes the trained model: written once at registration, never changed after.
    RECORDED_FIELDS: ClassVar[tuple[str, ...]] = (
        "model",
        "version",
        "job",
        "dataset",
        "artifact",
        "artifact_sha256",
        "artifact_size",
        "source",
        "task_type",
        "target",
        "classes",
        "metrics",
        "hyperparameters",
        "input_schema",
        "manifest",
        "created_by",
        "created_at",
    )

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    job = models.OneToOneField(
        "jobs.TrainingJob", on_delete=models.PROTECT, related_name="model_version"
    )
    dataset = models.ForeignKey("jobs.Dataset", on_delete=models.PROTECT, related_name="+")
    artifact = models.FileField(upload_to="models/", max_length=300)
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    # Which weights the file holds: the best trial's, as trained on the training split.
    source = models.CharField(max_length=32, default="best_trial_weights")
    task_type = models.CharField(max_length=16)
    target = models.CharField(max_length=255)
    classes = models.JSONField(null=True, blank=True)
    metrics = models.JSONField(default=dict)
    hyperparameters = models.JSONField(default=dict)
    input_schema = models.JSONField(default=list)
    manifest = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # What may change, through the services only: the card people edit, and archival.
    model_card = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="version_unique_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The one way in for a changed row is a save naming only fields that may change; a
        # full save of an existing row (an admin form, a stray script) is refused.
        if self.pk is not None and not self._state.adding:
            fields = kwargs.get("update_fields")
            if fields is None or set(fields) & set(self.RECORDED_FIELDS):
                raise RecordChangeRefused(
                    f"{self} is a record of a trained model; its recorded fields never change."
                )
        super().save(*args, **kwargs)


class Alias(models.Model):
    """A movable name (production, staging, …) for one version of a registered model."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.SlugField(max_length=64)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="alias_unique_per_model")
        ]

    def __str__(self) -> str:
        return f"{self.model.name}@{self.name}"


class Deployment(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        # A predictor replica is loading and warming the model; not yet answering.
        LOADING = "LOADING"
        READY = "READY"
        # Every replica that held it unloaded it for idleness (PREDICTOR_IDLE_UNLOAD_SECONDS):
        # still servable, the next request loads it again (a second or so), then READY.
        UNLOADED = "UNLOADED"
        FAILED = "FAILED"
        # Kept for the record, no longer served.
        UNDEPLOYED = "UNDEPLOYED"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.SlugField(max_length=100)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    # A deployment that follows an alias serves whichever version the alias points at: moving
    # the alias updates model_version in the same transaction (models_registry.lifecycle).
    alias = models.ForeignKey(
        Alias, on_delete=models.PROTECT, null=True, blank=True, related_name="deployments"
    )
    # A second version of the same model that answers `canary_percent` of the requests
    # (models_registry.rollout); promoting it makes it model_version, rolling back drops it.
    canary_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="canary_deployments",
    )
    canary_percent = models.PositiveSmallIntegerField(null=True, blank=True)
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


class DeploymentTraffic(models.Model):
    """One predictor replica's counts for one version of a deployment over one minute.

    Each replica upserts its running totals for the minute (so a retried write counts nothing
    twice); readers sum across replicas. The latency histogram has one count per bucket of
    `models_registry.traffic.BOUNDS_MS` and a last one over the top bound, so percentiles can
    be estimated from the sum of several replicas' histograms."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="traffic")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField(db_index=True)  # UTC, seconds zeroed
    replica = models.CharField(max_length=100)  # the predictor process: hostname:pid
    requests = models.PositiveIntegerField(default=0)
    errors_4xx = models.PositiveIntegerField(default=0)
    errors_5xx = models.PositiveIntegerField(default=0)
    rows = models.PositiveBigIntegerField(default=0)  # instances predicted (answered ones)
    latency_ms_sum = models.FloatField(default=0.0)
    latency_histogram = models.JSONField(default=list)
    # Model calls by rows, one count per bucket of `models_registry.traffic.BATCH_BOUNDS` and
    # one over; a call counts in the minute it ran.
    batch_histogram = models.JSONField(default=list)
    # Answered requests' time per stage (the stages of `models_registry.traffic.STAGES`).
    parse_ms_sum = models.FloatField(default=0.0)
    queue_ms_sum = models.FloatField(default=0.0)
    inference_ms_sum = models.FloatField(default=0.0)
    serialise_ms_sum = models.FloatField(default=0.0)

    class Meta:
        ordering = ["minute", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "model_version", "minute", "replica"],
                name="traffic_one_row_per_replica_minute",
            )
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} v{self.model_version_id} {self.minute:%Y-%m-%d %H:%M}"


class AuditEvent(models.Model):
    """One state change in the console: who did what, when, from what to what.

    The one trail for the registry and the jobs app (datasets, jobs, and everything edited in
    the admin), so `/api/v1/audit/` reads one table in one order. Rows outlive what they
    describe (a deleted dataset, version or deployment), so they keep names as text, the
    subject's type and id as plain values, and the registry's links as nullable ones."""

    class SubjectType(models.TextChoices):
        MODEL = "model"
        VERSION = "version"
        ALIAS = "alias"
        DEPLOYMENT = "deployment"
        DATASET = "dataset"
        JOB = "job"
        TRIAL = "trial"
        UPLOAD = "upload"
        DATASET_EVENT = "dataset_event"
        JOB_EVENT = "job_event"
        USER_LIMITS = "user_limits"

    class Action(models.TextChoices):
        ALIAS_MOVED = "alias_moved"
        ALIAS_DELETED = "alias_deleted"
        VERSION_ARCHIVED = "version_archived"
        VERSION_RESTORED = "version_restored"
        VERSION_DELETED = "version_deleted"
        CARD_EDITED = "card_edited"
        MODEL_EDITED = "model_edited"
        DEPLOYED = "deployed"
        REDEPLOYED = "redeployed"
        UNDEPLOYED = "undeployed"
        SWAPPED = "swapped"
        CANARY_SET = "canary_set"
        CANARY_PROMOTED = "canary_promoted"
        CANARY_ROLLED_BACK = "canary_rolled_back"
        DEPLOYMENT_DELETED = "deployment_deleted"
        EXPORTED = "exported"
        DATASET_CREATED = "dataset_created"
        DATASET_VERSION_CREATED = "dataset_version_created"
        COLUMN_TYPES_CHANGED = "column_types_changed"
        DATASET_DELETED = "dataset_deleted"
        JOB_CREATED = "job_created"
        JOB_CANCELLED = "job_cancelled"
        # The reaper gave up on a job whose worker kept getting lost.
        JOB_FAILED = "job_failed"
        # An operator set (or cleared) a user's own limit over the console's default.
        LIMIT_CHANGED = "limit_changed"
        # Whatever the Django admin saved or deleted outside the services' own actions.
        ADMIN_ADDED = "admin_added"
        ADMIN_CHANGED = "admin_changed"
        ADMIN_DELETED = "admin_deleted"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    model = models.ForeignKey(
        RegisteredModel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    deployment = models.ForeignKey(
        Deployment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=300)
    subject_type = models.CharField(
        max_length=16, choices=SubjectType.choices, blank=True, db_index=True
    )
    # Text: an upload's id is a UUID, the rest are integers.
    subject_id = models.CharField(max_length=64, blank=True)
    # Whose dataset or job it was: the owner reads its trail after the row is gone. The
    # registry's events are read through the model's roles instead (selectors.audit_list).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_value = models.CharField(max_length=300, blank=True)
    to_value = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="audit_subject")]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.subject}"


class DeploymentKey(models.Model):
    """A secret that lets a client call one deployment without the owner's credentials.

    Only the key's sha256 is stored (the key is 32 random bytes, so a fast hash suffices); the
    key itself is shown once, when made. A revoked or expired key stops working within a
    second: the predictor hears of the change from the database.
    """

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16)
    key_sha256 = models.CharField(max_length=64, unique=True)
    # Requests per minute for this key, across all predictor replicas; null: no limit.
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Written by the predictor's traffic writer, to the minute (predictor.tally.KeyUse).
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.deployment.name})"


class BatchPrediction(models.Model):
    """A whole dataset scored offline by one model version, in a worker; the result is a CSV
    in the storage the artifacts use (local disk or S3)."""

    class Status(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"
        CANCELLED = "CANCELLED"

    FINISHED: ClassVar[tuple[str, ...]] = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # Runs in all, as for training jobs: a worker lost this often means the data kills it.
    MAX_ATTEMPTS = 3

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # Nullable links: a finished prediction's CSV outlives a deleted version, deployment or
    # dataset; a queued one whose version or dataset is gone fails with that reason.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, related_name="batch_predictions"
    )
    deployment = models.ForeignKey(
        Deployment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="batch_predictions",
    )
    dataset = models.ForeignKey(
        "jobs.Dataset", on_delete=models.SET_NULL, null=True, related_name="batch_predictions"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    # Rows scored so far while RUNNING; every row of the dataset once SUCCEEDED.
    n_rows = models.BigIntegerField(null=True, blank=True)
    output = models.FileField(upload_to="batch_predictions/", max_length=300, blank=True)
    output_size = models.BigIntegerField(null=True, blank=True)
    output_sha256 = models.CharField(max_length=64, blank=True)
    # The claim's fencing token: each claim counts up, and the worker's writes are conditional
    # on it, so a worker that lost its claim (cancelled, or taken over) writes nothing.
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"batch prediction {self.pk} ({self.status})"
