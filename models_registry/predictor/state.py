"""What one predictor process serves from: the directory snapshot, the hosted models, the
inference thread, the rate limiter and the traffic tally. One instance per process,
`predictor`; models_registry.predictor.app routes requests to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

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

logger = logging.getLogger(__name__)
# How long a request with an unknown credential waits for a fresh read of the directory
# before its 401 (see `Predictor.snapshot_after`).
FRESH_WAIT_S = 5.0


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
        # When the current snapshot's read began (monotonic), and the requests waiting for
        # one read later than their arrival: (arrival, loop, future).
        self.read_at = 0.0
        self._waiters: list[tuple[float, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._waiters_lock = threading.Lock()
        self._loader: Loader | None = None
        self._metrics: dict[tuple[int, int], metrics.VersionMetrics] = {}
        # Per deployment, version and minute, written to the database by `_writer`.
        self.traffic = tally.Tally()
        self.key_use = tally.KeyUse()
        self._writer: tally.Writer | None = None
        self._sweeper: Sweeper | None = None

    def refresh(self) -> None:
        """Read the directory and load what it asks for, both at once (tests call this)."""
        self.swap()
        self.reconcile()

    def swap(self) -> None:
        """Read the directory and swap it in: credentials, names and undeploys apply at once.
        Loading models is the loader's (`reconcile`), so that a slow load never holds back a
        new key or an undeploy."""
        started = time.monotonic()
        snapshot = read_snapshot()
        with self._waiters_lock:
            self.snapshot = snapshot
            self.read_at = started
            served = [w for w in self._waiters if w[0] <= started]
            self._waiters = [w for w in self._waiters if w[0] > started]
        for _, loop, future in served:
            loop.call_soon_threadsafe(_settle, future)

    def reconcile(self) -> None:
        with self._refresh_lock:
            self.host.reconcile(self.snapshot)
            self.ready = True

    async def snapshot_after(self, arrived: float, timeout: float = FRESH_WAIT_S) -> Snapshot:
        """A snapshot read after `arrived` (or the current one, after `timeout`): what a
        request with an unknown credential checks before its 401, so that a key or token
        works as soon as the call that made it returns, whichever replica it reaches. The
        watcher reads at most a few times a second however many such requests come."""
        watcher = self._watcher
        if watcher is None:
            return self.snapshot  # nothing would read a newer one (in-process tests)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._waiters_lock:
            if self.read_at >= arrived:
                return self.snapshot
            self._waiters.append((arrived, loop, future))
        watcher.poke()
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            with self._waiters_lock:  # no read came (the database is away): not kept waiting
                self._waiters = [w for w in self._waiters if w[2] is not future]
        return self.snapshot

    def _changed(self) -> None:
        self.swap()
        if self._loader is not None:
            self._loader.poke()

    def start(self) -> None:
        _limit_torch_threads()
        self.inference.start()
        self._loader = Loader(self.reconcile)
        self._loader.start()
        self._watcher = default_watcher(self._changed)
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
        if self._loader is not None:
            self._loader.stop()
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


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Loader:
    """Runs `reconcile` (loading and dropping models) on its own thread whenever poked, once
    for any number of pokes meanwhile, so that the watcher's thread only ever reads."""

    def __init__(self, reconcile: Callable[[], None]) -> None:
        self._reconcile = reconcile
        self._poked = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="predictor-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()

    def stop(self) -> None:
        self._stop.set()
        self._poked.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poked.wait()
            self._poked.clear()
            if self._stop.is_set():
                return
            try:
                self._reconcile()
            except Exception:
                logger.exception("Loading deployments failed; tried again at the next change")
            finally:
                close_old_connections()


def _limit_torch_threads() -> None:
    import torch

    torch.set_num_threads(settings.PREDICTOR_TORCH_THREADS)
    # Refused once set, or after torch ran parallel work: then it stays as it is.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)


predictor = Predictor()
