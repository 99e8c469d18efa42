"""Telling a deployment's watchers (`/ws/deployments/<name>/`) that it changed.

Every write of a deployment's status, error, ready_at, version or canary calls
`deployment_announce` in its transaction; once that commits, the watchers' consumers are
nudged and read the deployment again. The nudge carries no state: a consumer always sends what
it reads after the last nudge, so pushes that arrive out of order (two processes committing
one after the other) still leave every watcher with the latest state, and nothing needs a
sequence number of its own. States that follow each other faster than a watcher reads may be
folded into the last one (PENDING, then READY, without the LOADING between).
"""

from __future__ import annotations

from django.db import transaction

from jobs.services.events import group_push

CHANGED = {"type": "deployment.changed"}


def deployment_group(deployment_id: int) -> str:
    return f"deployment_{deployment_id}"


def deployment_announce(*, deployment_id: int) -> None:
    """Nudge the deployment's watchers once the current transaction commits (at once outside
    one); a rolled-back change nudges no one."""
    group = deployment_group(deployment_id)
    transaction.on_commit(lambda: group_push(group, CHANGED))
