"""A user's own limits, set by an operator over the console's defaults (issue 15)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from console.audit import Action, AnyUser, audit_object
from jobs.models import UserLimits
from jobs.selectors import running_limit
from jobs.services.queueing import jobs_release_waiting


def user_limits_set(
    *, user: User, max_running_jobs: int | None, actor: AnyUser | None
) -> UserLimits:
    """Set how many jobs `user` may run at once (None: the default, 0: no limit), recorded in
    the audit trail with the effective limit before and after. A limit raised sends the user's
    held jobs that now fit at once, rather than at the reaper's next pass."""
    if max_running_jobs is not None and max_running_jobs < 0:
        raise ValueError("max_running_jobs must be 0 (no limit) or more.")
    with transaction.atomic():
        # The owner's row, as job claims lock it: a claim counts under the old limit or the new.
        User.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()
        before = running_limit(user.pk)
        limits, _ = UserLimits.objects.get_or_create(user=user)
        stored = limits.max_running_jobs
        limits.max_running_jobs = max_running_jobs
        limits.save()
        after = running_limit(user.pk)
        if stored != max_running_jobs:
            audit_object(
                actor=actor,
                action=Action.LIMIT_CHANGED,
                obj=limits,
                from_value=_shown(stored, before),
                to_value=_shown(max_running_jobs, after),
            )
        jobs_release_waiting(owner_id=user.pk)
    return limits


def _shown(own: int | None, effective: int) -> str:
    """`max_running_jobs=3`, `=0 (no limit)`, or `default (2)`: what the trail shows."""
    if own is None:
        return f"max_running_jobs=default ({effective or 'no limit'})"
    return f"max_running_jobs={own}" + (" (no limit)" if own == 0 else "")
