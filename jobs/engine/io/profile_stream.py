"""Batch plumbing for the streaming profiler: progress, joining small batches, read-ahead."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa


class Progress:
    def __init__(self, callback: Callable[[float], None] | None, total: int | None) -> None:
        self.callback, self.total = callback, total
        self.done = 0
        self.reported = 0.0
        self.at = time.monotonic()

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self.callback is None or not self.total:
            return
        # In-memory bytes stand for file bytes: close for CSV, so capped short of done.
        fraction = min(0.99, self.done / self.total)
        now = time.monotonic()
        if fraction >= self.reported + 0.02 or (fraction > self.reported and now - self.at >= 0.5):
            self.reported, self.at = fraction, now
            self.callback(fraction)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(1.0)


def coalesced(batches: Iterable[pa.RecordBatch], min_rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of at least min_rows rows: each batch costs some Python work per column."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if pending and not batch.schema.equals(pending[0].schema):
            # Left apart, so that the profiler names the change of columns or types.
            yield pa.concat_batches(pending)
            pending, rows = [], 0
        if batch.num_rows >= min_rows and not pending:
            yield batch
            continue
        pending.append(batch)
        rows += batch.num_rows
        if rows >= min_rows:
            yield pa.concat_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.concat_batches(pending)


@contextlib.contextmanager
def prefetched(batches: Iterable[pa.RecordBatch]) -> Iterator[Iterator[pa.RecordBatch]]:
    """Read the next batches on a thread while this one profiles the current one.

    Parsing (a CSV reader's, say) and profiling both release the GIL, so on two cores the
    profile costs little more than the parse alone.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                slots.put(item, timeout=0.1)
                return True
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(end)
        except BaseException as exc:
            put(exc)

    def consume() -> Iterator[pa.RecordBatch]:
        while (item := slots.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=produce, name="profile-prefetch", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def retained_memory() -> Iterator[None]:
    """Arrow's memory kept for reuse while a large file streams through.

    Arrow's default pool (mimalloc) hands freed pages back to the system within milliseconds,
    and a streaming profile frees and allocates its batches' memory hundreds of times, so the
    same pages were faulted in and zeroed over and over: about a tenth of the profile of a
    1 GB CSV. jemalloc with decay off keeps them; the batches are the same size each time, so
    peak memory is not higher. What is left is released at the end.
    """
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(-1)
    except NotImplementedError:  # a pyarrow built without jemalloc
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
        pa.jemalloc_set_decay_ms(0)  # Arrow's default, for arenas made from now on
        pool.release_unused()
