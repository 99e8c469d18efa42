"""Writes of the jobs app, one module per entity; the public names are re-exported here."""

from jobs.services.datasets import (
    ConflictError,
    DatasetRequest,
    VersionChanges,
    dataset_create,
    dataset_delete,
    dataset_version_create,
    file_digest,
    file_sha256,
)
from jobs.services.events import SubjectGone, dataset_group, event_record, job_group
from jobs.services.limits import user_limits_set
from jobs.services.profiling import dataset_claim_profiling, dataset_profile, datasets_reap
from jobs.services.queueing import jobs_release_waiting
from jobs.services.retries import job_retry
from jobs.services.training import job_cancel, job_claim, job_create, job_run, jobs_reap
from jobs.services.trial_pool import trials_serve
from jobs.services.tuner_state import tuner_state_delete, tuner_state_load, tuner_state_save
from jobs.services.uploads import (
    UploadBusy,
    staging_is_local,
    upload_advance,
    upload_create,
    upload_delete,
    upload_finish,
    upload_part_discard,
    upload_part_store,
    upload_spool,
    upload_staging_lock,
    upload_staging_path,
    uploads_expire,
)
from jobs.services.workers import worker_beat, worker_gone

__all__ = [
    "ConflictError",
    "DatasetRequest",
    "SubjectGone",
    "UploadBusy",
    "VersionChanges",
    "dataset_claim_profiling",
    "dataset_create",
    "dataset_delete",
    "dataset_group",
    "dataset_profile",
    "dataset_version_create",
    "datasets_reap",
    "event_record",
    "file_digest",
    "file_sha256",
    "job_cancel",
    "job_claim",
    "job_create",
    "job_group",
    "job_retry",
    "job_run",
    "jobs_reap",
    "jobs_release_waiting",
    "staging_is_local",
    "trials_serve",
    "tuner_state_delete",
    "tuner_state_load",
    "tuner_state_save",
    "upload_advance",
    "upload_create",
    "upload_delete",
    "upload_finish",
    "upload_part_discard",
    "upload_part_store",
    "upload_spool",
    "upload_staging_lock",
    "upload_staging_path",
    "uploads_expire",
    "user_limits_set",
    "worker_beat",
    "worker_gone",
]
