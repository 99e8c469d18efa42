"""A thread in each worker's main process that requeues jobs and dataset profiles whose worker
died or whose queue message the broker lost, sends jobs that waited for their owner's running
limit, and forgets abandoned uploads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.conf import settings
from django.db import close_old_connections

from jobs import services
from jobs.services.reconcile import broker_reconcile

logger = logging.getLogger(__name__)
_started = threading.Event()


def _reap_forever(worker: str, queues: list[str]) -> None:
    while True:
        try:
            if worker:
                services.worker_beat(name=worker, queues=queues)
            resent = broker_reconcile()
            if resent and (resent.jobs or resent.datasets):
                logger.warning(
                    "The broker lost its data: sent again jobs %s and profiles %s",
                    resent.jobs,
                    resent.datasets,
                )
            reaped = services.jobs_reap()
            if reaped:
                logger.warning("Requeued or failed jobs whose worker was lost: %s", reaped)
            # Normally sent when a running job ends; this catches a finish whose process died
            # before sending, and a limit raised since.
            released = services.jobs_release_waiting()
            if released:
                logger.info("Sent jobs that waited for their owner's running limit: %s", released)
            reaped = services.datasets_reap()
            if reaped:
                logger.warning("Requeued or failed profiles whose worker was lost: %s", reaped)
            expired = services.uploads_expire()
            if expired:
                logger.info("Forgot %s abandoned uploads", expired)
        except Exception:
            logger.exception("Reaping jobs failed; trying again later")
        finally:
            close_old_connections()
        threading.Event().wait(settings.JOB_REAP_INTERVAL_SECONDS)


def start(*, worker: str = "", queues: Iterable[str] = ()) -> None:
    """Start the reaper once per process; every worker runs one, each change is conditional.

    It also reports the worker's queues, so the API can say when no worker takes a queue.
    """
    if _started.is_set():
        return
    _started.set()
    args = (worker, list(queues))
    threading.Thread(target=_reap_forever, args=args, name="job-reaper", daemon=True).start()
