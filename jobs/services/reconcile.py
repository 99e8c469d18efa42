"""Send again the queue messages a broker lost.

The database is the source of truth: a QUEUED job and a PENDING dataset each have a message
waiting in the broker. A Redis that restarts without its data (no persistence, a failover to
an empty replica) loses every waiting message at once, and nothing would ever send them again:
the jobs would sit QUEUED forever. So the reaper keeps a marker key in the broker's database;
when the marker is gone, the broker lost its data, and every waiting job and profile is sent
again. A message that was not lost is then delivered twice, which is harmless: workers claim
by conditional update, and the second delivery finds nothing to claim.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from django.conf import settings

from jobs.services.profiling import datasets_requeue_waiting
from jobs.services.training import jobs_requeue_waiting

MARKER = "automl-console:broker-marker"


@dataclass(frozen=True)
class Resent:
    jobs: list[int]
    datasets: list[int]


def broker_reconcile() -> Resent | None:
    """Resend what waits if the broker lost its data since the last pass; None otherwise.

    The embedded default's broker is a folder beside the database, lost only with it.
    """
    if settings.EMBEDDED:
        return None
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    if not client.set(MARKER, "1", nx=True):
        return None  # the marker survived: so did the messages
    return Resent(jobs=jobs_requeue_waiting(), datasets=datasets_requeue_waiting())
