"""What one predictor process serves from: the directory snapshot, the hosted models, the
inference thread, the rate limiter and the traffic tally. One instance per process,
`predictor`; models_registry.predictor.app routes requests to it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from django.conf import settings

from models_registry.predictor import metrics, tally
from models_registry.predictor.batching import InferenceThread
from models_registry.predictor.directory import (
    DeploymentEntry,
    Snapshot,
    Watcher,
    default_watcher,
    read_snapshot,
)
from models_registry.predictor.hosting import Host, Hosted
from models_registry.predictor.idle import Sweeper
from models_registry.predictor.limits import SharedRateLimiter


class Predictor:
    """The state one process serves from: the directory snapshot, the hosted models and the
    inference thread. `refresh` runs on the watcher thread (or directly, in tests)."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self.host = Host()
        self.inference = InferenceThread(
            max_batch_rows=settings.PREDICTOR_MAX_BATCH_ROWS,
            max_wait_s=settings.PREDICTOR_MAX_BATCH_WAIT_MS / 1000.0,
        )
        # Per-key limits, counted in Redis across replicas (in memory when embedded).
        self.limiter = SharedRateLimiter(settings.REDIS_URL or None)
        self.ready = False
        self._watcher: Watcher | None = None
        self._refresh_lock = threading.Lock()
        self._metrics: dict[tuple[int, int], metrics.VersionMetrics] = {}
        # Per deployment, version and minute, written to the database by `_writer`.
        self.traffic = tally.Tally()
        self.key_use = tally.KeyUse()
        self._writer: tally.Writer | None = None
        self._sweeper: Sweeper | None = None

    def refresh(self) -> None:
        with self._refresh_lock:
            snapshot = read_snapshot()
            # Credentials and names apply at once; models follow as they load.
            self.snapshot = snapshot
            self.host.reconcile(snapshot)
            self.ready = True

    def start(self) -> None:
        _limit_torch_threads()
        self.inference.start()
        self._watcher = default_watcher(self.refresh)
        self._watcher.start()
        self._writer = tally.Writer(
            self.traffic,
            interval_s=settings.PREDICTOR_TRAFFIC_FLUSH_SECONDS,
            retention_days=settings.DEPLOYMENT_TRAFFIC_RETENTION_DAYS,
            key_use=self.key_use,
        )
        self._writer.start()
        self._sweeper = Sweeper.start_for(self.host)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self._writer is not None:
            self._writer.stop()
        if self._sweeper is not None:
            self._sweeper.stop()
        self.inference.stop()

    def metrics_for(self, entry: DeploymentEntry, hosted: Hosted) -> metrics.VersionMetrics:
        found = self._metrics.get((entry.id, hosted.version_id))
        if found is None:
            found = metrics.VersionMetrics(entry.name, entry.id, hosted.version)
            found.on_batch = _batch_counter(self.traffic, entry.id, hosted.version_id, found)
            self._metrics[(entry.id, hosted.version_id)] = found
        # A version loaded again after idling has a new runner.
        hosted.runner.on_batch = found.on_batch
        return found


def _batch_counter(
    traffic: tally.Tally, deployment_id: int, version_id: int, vm: metrics.VersionMetrics
) -> Callable[[int], None]:
    """What the inference thread calls after each model call: the process's Prometheus
    histogram and the deployment's traffic both count its rows."""
    observe = vm.batch_rows.observe
    batch = traffic.batch

    def on_batch(rows: int) -> None:
        observe(rows)
        batch(deployment_id, version_id, rows)

    return on_batch


def _limit_torch_threads() -> None:
    import torch

    torch.set_num_threads(settings.PREDICTOR_TORCH_THREADS)
    # Refused once set, or after torch ran parallel work: then it stays as it is.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)


predictor = Predictor()
