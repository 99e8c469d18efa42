"""Per-user limits on the bytes one person may hold, so that one account cannot fill the disk
(or the object store) that every other user shares.

Two budgets: bytes reserved by unfinished resumable uploads (announced sizes, since the staging
file may grow to them at any moment) and bytes of stored datasets (derived versions count
toward what is held; a new upload is what the budget refuses).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Sum

from jobs.engine.data import DataError
from jobs.models import Dataset, Upload


class QuotaExceeded(DataError):
    """Over a per-user budget: refused before any byte is written."""


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def quota_check_staged(*, owner: User, adding: int) -> None:
    """Refuse a new upload whose announced size would pass the owner's staging budget.

    The caller holds a lock on the owner's row, so two announcements cannot both pass.
    """
    limit = settings.USER_STAGED_MAX_BYTES
    held = Upload.objects.filter(owner=owner).aggregate(n=Sum("size"))["n"] or 0
    if held + adding > limit:
        raise QuotaExceeded(
            f"Your unfinished uploads reserve {_size(held)}; this one would take you past your "
            f"limit of {_size(limit)} for uploads in progress. Finish or cancel one "
            "(DELETE /api/v1/uploads/<id>/) and try again."
        )


def quota_check_stored(*, owner: User, adding: int) -> None:
    """Refuse a new dataset file that would pass the owner's storage budget."""
    limit = settings.USER_STORED_MAX_BYTES
    held = Dataset.objects.filter(owner=owner).aggregate(n=Sum("size_bytes"))["n"] or 0
    if held + adding > limit:
        raise QuotaExceeded(
            f"Your datasets hold {_size(held)}; this file would take you past your storage "
            f"limit of {_size(limit)}. Delete datasets you no longer need and try again."
        )
