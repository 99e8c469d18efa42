"""Each deployment's traffic, counted per version and minute as requests finish, and written to
the database (DeploymentTraffic) by a background thread every few seconds.

A request costs one uncontended lock and a few additions (no I/O). The writer upserts this
replica's running totals for each minute that changed, so a write that fails is simply
retried with the newer totals. A minute is forgotten once it has ended and is written; if
the database stays away, minutes older than `MAX_UNWRITTEN_MINUTES` are dropped, so memory
stays bounded either way.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from django.db import close_old_connections

from models_registry import services
from models_registry.traffic import (
    N_BATCH_BUCKETS,
    N_BUCKETS,
    MinuteCount,
    batch_bucket_of,
    bucket_of,
)

logger = logging.getLogger(__name__)
MAX_UNWRITTEN_MINUTES = 60
EXPIRE_EVERY_S = 3600.0
Key = tuple[int, int, int]  # deployment id, version id, minute since the epoch


class _Stages(Protocol):
    """An answered request's seconds per stage (the predictor's `Counted`)."""

    parse_s: float
    queue_s: float
    inference_s: float
    serialise_s: float


def replica_id() -> str:
    """This process, as its rows name it: hostname:pid (several replicas share a host)."""
    return f"{socket.gethostname()}:{os.getpid()}"[-100:]


class _Cell:
    __slots__ = ("batch_histogram", "batches", "errors_4xx", "errors_5xx", "histogram",
                 "inference_ms", "latency_ms_sum", "parse_ms", "queue_ms", "requests", "rows",
                 "serialise_ms", "written")  # fmt: skip

    def __init__(self) -> None:
        self.requests = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.rows = 0
        self.latency_ms_sum = 0.0
        self.histogram = [0] * N_BUCKETS
        self.batches = 0
        self.batch_histogram = [0] * N_BATCH_BUCKETS
        self.parse_ms = self.queue_ms = self.inference_ms = self.serialise_ms = 0.0
        self.written = 0  # the requests and batches the database holds for this minute


class Tally:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cells: dict[Key, _Cell] = {}

    def record(
        self,
        deployment_id: int,
        version_id: int,
        status: int,
        rows: int,
        latency_s: float,
        stages: _Stages | None = None,
    ) -> None:
        """Count one finished request (rows: the instances it predicted, 0 on an error;
        stages: an answered request's seconds per stage)."""
        ms = latency_s * 1000.0
        bucket = bucket_of(ms)
        with self._lock:
            cell = self._cell(deployment_id, version_id)
            cell.requests += 1
            if stages is not None:
                cell.parse_ms += stages.parse_s * 1000.0
                cell.queue_ms += stages.queue_s * 1000.0
                cell.inference_ms += stages.inference_s * 1000.0
                cell.serialise_ms += stages.serialise_s * 1000.0
            if status >= 500:
                cell.errors_5xx += 1
            elif status >= 400:
                cell.errors_4xx += 1
            cell.rows += rows
            cell.latency_ms_sum += ms
            cell.histogram[bucket] += 1

    def batch(self, deployment_id: int, version_id: int, rows: int) -> None:
        """Count one model call of `rows` rows (from the inference thread)."""
        bucket = batch_bucket_of(rows)
        with self._lock:
            cell = self._cell(deployment_id, version_id)
            cell.batches += 1
            cell.batch_histogram[bucket] += 1

    def _cell(self, deployment_id: int, version_id: int) -> _Cell:
        # The clock is read under the lock, so that once `written` has seen a minute end,
        # nothing later can land in it.
        key = (deployment_id, version_id, int(self._clock() // 60))
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell()
        return cell

    def pending(self) -> list[MinuteCount]:
        """Copies of the minutes that changed since they were last written."""
        with self._lock:
            return [
                MinuteCount(
                    *key,
                    cell.requests,
                    cell.errors_4xx,
                    cell.errors_5xx,
                    cell.rows,
                    cell.latency_ms_sum,
                    tuple(cell.histogram),
                    tuple(cell.batch_histogram),
                    (cell.parse_ms, cell.queue_ms, cell.inference_ms, cell.serialise_ms),
                )
                for key, cell in self._cells.items()
                if cell.requests + cell.batches != cell.written
            ]

    def written(self, counts: list[MinuteCount]) -> None:
        """Note what the database now holds; forget the minutes that ended and are written."""
        current = int(self._clock() // 60)
        with self._lock:
            for count in counts:
                cell = self._cells.get((count.deployment_id, count.version_id, count.minute))
                if cell is not None:
                    cell.written = max(cell.written, count.events)
            for key in [k for k in self._cells if k[2] < current]:
                cell = self._cells[key]
                done = cell.written == cell.requests + cell.batches
                if done or key[2] < current - MAX_UNWRITTEN_MINUTES:
                    del self._cells[key]

    def forget(self, counts: list[MinuteCount]) -> None:
        with self._lock:
            for count in counts:
                self._cells.pop((count.deployment_id, count.version_id, count.minute), None)

    def __len__(self) -> int:
        return len(self._cells)


class KeyUse:
    """When each deployment key was last used, for `DeploymentKey.last_used_at`: a request
    costs one dict assignment; the writer writes each key at most once a minute."""

    WRITE_EVERY_S = 60.0

    def __init__(self) -> None:
        self._used: dict[int, float] = {}  # key id -> epoch seconds
        self._written: dict[int, float] = {}  # key id -> epoch seconds of the last write

    def used(self, key_id: int, at: float | None = None) -> None:
        self._used[key_id] = time.time() if at is None else at

    def due(self) -> dict[int, float]:
        """The uses to write now, taken (the dict swap is atomic: no lock on the hot path)."""
        used, self._used = self._used, {}
        due = {k: t for k, t in used.items() if t - self._written.get(k, 0.0) >= self.WRITE_EVERY_S}
        self._written.update(due)
        return due


class Writer:
    """The thread that writes a `Tally` every `interval_s` and, once an hour, forgets traffic
    older than `retention_days` (every replica does; the delete is the same from each)."""

    def __init__(
        self,
        tally: Tally,
        *,
        interval_s: float,
        retention_days: float,
        replica: str = "",
        key_use: KeyUse | None = None,
    ) -> None:
        self.tally = tally
        self.key_use = key_use
        self.interval_s = interval_s
        self.retention_days = retention_days
        self.replica = replica or replica_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._expired_at: float | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="predictor-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop, writing what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.interval_s * 2))
            self._thread = None

    def flush(self) -> int:
        """Write the changed minutes (and keys' last use) now; how many minutes were written."""
        if self.key_use is not None:
            due = self.key_use.due()
            if due:
                services.deployment_key_mark_used(
                    used={k: datetime.fromtimestamp(t, UTC) for k, t in due.items()}
                )
        counts = self.tally.pending()
        if not counts:
            self.tally.written([])
            return 0
        gone = services.deployment_traffic_save(replica=self.replica, counts=counts)
        if gone:
            self.tally.forget(gone)
        self.tally.written(counts)
        return len(counts) - len(gone)

    def expire(self) -> None:
        deleted = services.deployment_traffic_expire(days=self.retention_days)
        if deleted:
            logger.info("Forgot %s traffic rows over %s days old", deleted, self.retention_days)

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.interval_s)
            try:
                self.flush()
                now = time.monotonic()
                if self._expired_at is None or now - self._expired_at >= EXPIRE_EVERY_S:
                    self._expired_at = now
                    self.expire()
            except Exception:
                logger.exception("Writing deployment traffic failed; retrying")
            finally:
                close_old_connections()
            if stopping:
                return
