"""Unloading deployments nobody calls, and loading them again on the next request.

With PREDICTOR_IDLE_UNLOAD_SECONDS set (0, the default, keeps every model loaded), a
sweeper thread unloads from this replica the deployments that no request reached for that
long (models_registry.predictor.hosting.Host.unload_idle). The next request for one waits
while it loads and warms again, rather than getting a 503: a client that calls once an hour
should get its answer, a second or so late, not an error to retry. Requests that arrive
during the load wait on the same load (the host's lock).

What readiness says meanwhile (models_registry.predictor.app, docs/architecture.md): an
unloaded deployment is still servable, so its readiness answers 200 with `ready: true`,
`loaded: false` and status UNLOADED (LOADING while a request loads it), rather than a 503
that would make a Kubernetes readiness probe flap with traffic. The database status turns
UNLOADED once no replica holds it (models_registry.predictor.hosting).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from models_registry.predictor.directory import DeploymentEntry
from models_registry.predictor.hosting import Host

logger = logging.getLogger(__name__)


async def awake(host: Host, entry: DeploymentEntry) -> None:
    """Note the request, and load the deployment first if it was unloaded for idleness."""
    host.touch(entry.id)
    if entry.id in host.idle:
        await asyncio.to_thread(_wake, host, entry)


def _wake(host: Host, entry: DeploymentEntry) -> None:
    try:
        host.wake(entry)
    finally:
        close_old_connections()  # a failed load records FAILED from this worker thread


class Sweeper:
    """Every so often (a quarter of the idle time, at most a minute), unloads idle ones."""

    def __init__(self, host: Host, idle_s: float) -> None:
        self.host = host
        self.idle_s = idle_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="predictor-idle", daemon=True)

    @classmethod
    def start_for(cls, host: Host) -> Sweeper | None:
        idle_s = settings.PREDICTOR_IDLE_UNLOAD_SECONDS
        if idle_s <= 0:
            return None
        sweeper = cls(host, idle_s)
        sweeper._thread.start()
        return sweeper

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(min(60.0, max(0.05, self.idle_s / 4))):
            try:
                self.host.unload_idle(self.idle_s)
            except Exception:
                logger.exception("Unloading idle deployments failed; retrying")
            finally:
                close_old_connections()  # it records UNLOADED from this thread
