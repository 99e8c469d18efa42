"""Claiming a row of work by a conditional update, fenced by its attempt number.

Training jobs, dataset profiles and batch predictions are all run by whichever delivery of
their message takes them first. One UPDATE moves the row from waiting to running and counts
the attempt; a running row whose heartbeat went stale lost its worker, and a redelivered
message may take it over, within the attempt limit. Every later write of the attempt is
conditional on its number still being the row's (see jobs/services/reporter.py), so an
attempt that lost its claim writes nothing more.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import F, Model, Q
from django.db.models.expressions import Combinable
from django.utils import timezone


def stale_before(seconds: int) -> datetime.datetime:
    """A heartbeat older than this means its worker is gone."""
    return timezone.now() - datetime.timedelta(seconds=seconds)


def stale(seconds: int) -> Q:
    """Rows whose worker stopped beating; no heartbeat at all counts as stale too (claimed
    before the row had one, and stuck since)."""
    return Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before(seconds))


def claim_fenced(
    model: type[Model],
    *,
    pk: int,
    waiting: str,
    running: str,
    stale_seconds: int,
    max_attempts: int | Combinable,
    **fields: Any,
) -> bool:
    """Move row `pk` from `waiting` (or an orphaned `running`) to `running` as the next
    attempt, setting `fields` too; False when another delivery holds it, it is in another
    state, or it used up its attempts (`max_attempts` may be an expression over the row)."""
    now = timezone.now()
    orphaned = Q(status=running) & stale(stale_seconds)
    return bool(
        model._default_manager.filter(pk=pk, attempts__lt=max_attempts)
        .filter(Q(status=waiting) | orphaned)
        .update(status=running, heartbeat_at=now, attempts=F("attempts") + 1, **fields)
    )
