from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    """An immutable file and what was learnt about it; edits make a new version."""

    class Status(models.TextChoices):
        PENDING = "PENDING"
        PROFILING = "PROFILING"
        READY = "READY"
        FAILED = "FAILED"

    # A profile whose worker was lost (killed, say) is retried up to this many runs in all.
    MAX_PROFILE_ATTEMPTS = 3

    class Kind(models.TextChoices):
        TABULAR = "tabular"
        IMAGE = "image"
        TEXT = "text"
        TIMESERIES = "timeseries"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TABULAR)
    # Stored under a server-generated name; the user's file name is only shown.
    file = models.FileField(upload_to="datasets/", max_length=300)
    original_filename = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=16, default="csv")
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    has_header = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    # While PROFILING, the profiler touches heartbeat_at as it reads (about once a second); a
    # stale one means its worker died, and the profile is retried (jobs/services/profiling.py).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    size_bytes = models.BigIntegerField()
    n_rows = models.BigIntegerField(null=True, blank=True)
    n_columns = models.IntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, blank=True)
    column_types = models.JSONField(default=dict, blank=True)
    text_column = models.CharField(max_length=255, blank=True)
    timestamp_column = models.CharField(max_length=255, blank=True)
    profile = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    version = models.PositiveIntegerField(default=1)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    profiled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Upload(models.Model):
    """A resumable upload in progress: bytes are staged through the storage backend (one file
    on local storage, one object per request on a remote store: UploadPart), up to `offset`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.id} ({self.offset}/{self.size})"

    @property
    def complete(self) -> bool:
        return self.offset == self.size


class UploadPart(models.Model):
    """One request's bytes of an upload, an object of their own on a remote store. Recorded
    in the transaction that moves the upload's offset past them, so only parts some request
    was told are stored count; an object without a row is a loser's or a crash's, deleted
    with the upload."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="parts")
    offset = models.BigIntegerField()
    size = models.BigIntegerField()
    name = models.CharField(max_length=300)

    class Meta:
        ordering = ["offset"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "offset"], name="upload_part_offset_unique")
        ]

    def __str__(self) -> str:
        return f"{self.upload_id} [{self.offset}, {self.offset + self.size})"


class UserLimits(models.Model):
    """What an operator set for one user, over the console-wide defaults in the settings."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="limits"
    )
    max_running_jobs = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Jobs this user may have running at once. Empty: the console's default "
        "(USER_MAX_RUNNING_JOBS); 0: no limit.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "user limits"
        verbose_name_plural = "user limits"

    def __str__(self) -> str:
        return f"Limits of {self.user}"


class TrainingJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"
        CANCELLED = "CANCELLED"

    class Tuner(models.TextChoices):
        RANDOM = "random"
        BAYESIAN = "bayesian"
        HYPERBAND = "hyperband"

    class TaskType(models.TextChoices):
        BINARY = "binary"
        MULTICLASS = "multiclass"
        REGRESSION = "regression"
        MULTILABEL = "multilabel"
        FORECASTING = "forecasting"

    class Queue(models.TextChoices):
        CPU = "cpu"
        GPU = "gpu"

    class Priority(models.TextChoices):
        LOW = "low"
        NORMAL = "normal"
        HIGH = "high"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    MAX_ATTEMPTS = 3
    # Seeds fit Keras', numpy's and scikit-learn's seeding (all take 32-bit values).
    SEED_MAX = 2**31 - 1

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="jobs")
    dataset_sha256 = models.CharField(max_length=64)
    target = models.CharField(max_length=255)
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    # Caps, not the budget: None lets the search spend its time as it sees fit, within the
    # engine's own caps (jobs.engine.config MAX_TRIALS_CAP, MAX_EPOCHS_CAP).
    max_trials = models.PositiveIntegerField(null=True, blank=True)
    max_epochs = models.PositiveIntegerField(null=True, blank=True)
    # Drawn at random by job_create unless the request names one: a fixed seed made every job
    # draw the same trials, and naming it again reproduces a search.
    seed = models.IntegerField(default=0)
    tuner = models.CharField(max_length=16, choices=Tuner.choices, default=Tuner.RANDOM)
    # The wall-clock budget, the job's main control (job_create always sets one); None only
    # on jobs created before budgets, which ran without a time limit.
    max_seconds = models.PositiveIntegerField(null=True, blank=True)
    # The preset max_seconds came from ("quick", "standard", "thorough"); "" when the request
    # gave max_seconds itself.
    budget = models.CharField(max_length=16, blank=True)
    # What the task needs beyond a target: text_column, timestamp_column, horizon, lookback,
    # label_delimiter (see jobs.engine.checks); empty for tabular classification/regression.
    task_options = models.JSONField(default=dict, blank=True)
    # The Celery queue the job is sent to: only workers started with `-Q gpu` take gpu jobs.
    queue = models.CharField(max_length=16, choices=Queue.choices, default=Queue.CPU)
    # Within its queue a higher-priority job is delivered first (jobs/services/queueing.py).
    priority = models.CharField(
        max_length=8, choices=Priority.choices, default=Priority.NORMAL, db_index=True
    )
    # Set when a worker received the job while its owner already had USER_MAX_RUNNING_JOBS
    # running: the message was consumed, and the job waits here, QUEUED, until a slot frees
    # and jobs_release_waiting sends it again (which clears this).
    limited_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Asked with cancel_requested: stop now, but register the best finished trial, as when the
    # time budget runs out ("stop and keep the best so far"), instead of discarding the search.
    keep_best = models.BooleanField(default=False)
    # A running job's worker touches heartbeat_at about once a second; a job whose heartbeat
    # went stale lost its worker and is retried, up to MAX_ATTEMPTS runs in all.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Attempts that ended by handing the job back because their worker was stopping (a warm
    # shutdown, jobs/worker_shutdown.py): numbered in `attempts`, but not counted as lost.
    handoffs = models.PositiveIntegerField(default=0)
    # How many processes run this job's trials at once (jobs/services/trial_pool.py): the
    # claiming worker owns the search and runs trials itself, and parallel_trials - 1 runner
    # tasks on the job's queue take the others.
    parallel_trials = models.PositiveIntegerField(default=1)
    # The attempt whose search has handed out its last trial: that attempt's runners stop.
    trials_closed_attempt = models.PositiveIntegerField(null=True, blank=True)
    # Why the search ended early, if it did: "time_limit", "cancelled" or "stopped_by_user"
    # (cancelled with keep_best: the best finished trial was registered).
    stopped = models.CharField(max_length=16, blank=True)
    class_weights = models.JSONField(null=True, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    # The failed or cancelled job this one retries (jobs.services.retries.job_retry), so a
    # script can follow a chain of retries; cleared, not cascaded, when that job is deleted.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    best_trial = models.PositiveIntegerField(null=True, blank=True)
    best_hyperparameters = models.JSONField(default=dict, blank=True)
    test_metrics = models.JSONField(default=dict, blank=True)
    split_sizes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.task_type} on {self.target}, {self.status})"


class Worker(models.Model):
    """A running Celery worker and the queues it takes jobs from, as it last reported them.

    Lets the API say why a job waits: a gpu job with no live gpu worker never starts.
    """

    name = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Worker {self.name} ({', '.join(self.queues)})"


class Trial(models.Model):
    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="trials")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    hyperparameters = models.JSONField(default=dict)
    score = models.FloatField(null=True, blank=True)
    epochs = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # The process that ran it ("host:pid"): the job's own worker, or a runner of a parallel job.
    runner = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="trial_number_unique_per_job")
        ]

    def __str__(self) -> str:
        return f"Trial {self.number} of job {self.job_id}"


class TrialTicket(models.Model):
    """One trial of a parallel search, handed out by the attempt that owns the search.

    Runners take a PENDING ticket by a conditional update (like job_claim), beat its
    heartbeat while they train, and leave the result in `result` and the best weights in
    storage. A RUNNING ticket whose heartbeat went stale lost its runner: the owner marks it
    LOST and ends that trial as failed, and only that trial is lost.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        DONE = "DONE"
        LOST = "LOST"
        WITHDRAWN = "WITHDRAWN"

    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="tickets")
    attempt = models.PositiveIntegerField()
    number = models.PositiveIntegerField()
    trial_id = models.CharField(max_length=32)
    # The hyperparameters' config (space and values), as keras_tuner.HyperParameters has it.
    spec = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    runner = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    # Whether the owner has fed the result (or the loss) back into its search.
    collected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "attempt", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "attempt", "number"], name="ticket_unique_per_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"Ticket for trial {self.number} of job {self.job_id} ({self.status})"


class ProgressEvent(models.Model):
    """A progress event, persisted in order so a watcher that connects late sees it all."""

    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def as_message(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }


class JobEvent(ProgressEvent):
    job = models.ForeignKey(TrainingJob, on_delete=models.CASCADE, related_name="events")

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="event_seq_unique")]

    def __str__(self) -> str:
        return f"Event {self.seq} of job {self.job_id}: {self.kind}"


class DatasetEvent(ProgressEvent):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="events")

    class Meta:
        ordering = ["dataset", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "seq"], name="dataset_event_seq_unique")
        ]

    def __str__(self) -> str:
        return f"Event {self.seq} of dataset {self.dataset_id}: {self.kind}"
