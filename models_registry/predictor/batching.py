"""Adaptive micro-batching: requests that arrive together run as one model call.

One inference thread serves every hosted model, so the model never competes with itself for
the two cores, and torch runs with few intra-op threads. While it runs a batch, the event loop
keeps parsing requests into the queue; the next batch takes what gathered, up to a maximum
number of rows. Under load it also waits (at most `max_wait_s`) for as many rows as the last
batch held, so that batches stay large; a lone request never waits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class Pending:
    features: np.ndarray
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class BatchResult:
    """One request's share of a batch, with the batch's timings for the metrics."""

    predictions: list[Any]
    queue_s: float
    inference_s: float
    batch_rows: int


class Runner:
    """What the inference thread calls: the engine's infer and decode of one loaded model."""

    def __init__(
        self,
        infer: Callable[[np.ndarray], np.ndarray],
        decode: Callable[[np.ndarray], list[Any]],
    ) -> None:
        self.infer = infer
        self.decode = decode
        self.last_batch_rows = 1
        self.on_batch: Callable[[int], None] | None = None  # the batch-size histogram


class InferenceThread:
    def __init__(self, *, max_batch_rows: int = 256, max_wait_s: float = 0.002) -> None:
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self._cond = threading.Condition()
        # Runner -> its queue, oldest first; a runner goes to the back after its turn.
        self._queues: OrderedDict[Runner, deque[Pending]] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def submit(self, runner: Runner, features: np.ndarray) -> asyncio.Future[BatchResult]:
        """Queue encoded rows; the future resolves with their predictions."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchResult] = loop.create_future()
        with self._cond:
            queue = self._queues.get(runner)
            if queue is None:
                queue = self._queues[runner] = deque()
            queue.append(Pending(features, future, loop))
            self._cond.notify()
        return future

    def run_now(self, runner: Runner, features: np.ndarray) -> list[Any]:
        """A batch outside the queue (warming a model before it takes traffic)."""
        return runner.decode(runner.infer(features))

    def _take(self) -> tuple[Runner, list[Pending]] | None:
        with self._cond:
            while not self._queues:
                if self._stopping:
                    return None
                self._cond.wait()
            runner, queue = next(iter(self._queues.items()))
            wanted = min(runner.last_batch_rows, self.max_batch_rows)
            if self.max_wait_s and wanted > 1:
                deadline = queue[0].queued_at + self.max_wait_s
                while sum(len(p.features) for p in queue) < wanted:
                    left = deadline - time.perf_counter()
                    if left <= 0 or self._stopping:
                        break
                    self._cond.wait(left)
            taken: list[Pending] = []
            rows = 0
            while queue and (not taken or rows + len(queue[0].features) <= self.max_batch_rows):
                item = queue.popleft()
                taken.append(item)
                rows += len(item.features)
            del self._queues[runner]
            if queue:
                self._queues[runner] = queue
            return runner, taken

    def _run(self) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            runner, taken = job
            live = [p for p in taken if not p.future.cancelled()]
            if not live:
                continue
            started = time.perf_counter()
            try:
                features = (
                    live[0].features
                    if len(live) == 1
                    else np.concatenate([p.features for p in live])
                )
                predictions = runner.decode(runner.infer(features))
            except Exception as exc:
                logger.exception("A batch failed")
                _resolve(live, exc)
                continue
            finished = time.perf_counter()
            runner.last_batch_rows = len(features)
            if runner.on_batch is not None:
                runner.on_batch(len(features))
            results: list[BatchResult | BaseException] = []
            start = 0
            for p in live:
                end = start + len(p.features)
                results.append(
                    BatchResult(
                        predictions[start:end],
                        queue_s=started - p.queued_at,
                        inference_s=finished - started,
                        batch_rows=len(features),
                    )
                )
                start = end
            _resolve(live, results)


def _resolve(items: list[Pending], outcome: Any) -> None:
    """Hand a batch's results to the event loop in one wake-up, not one per request."""

    def deliver() -> None:
        for index, p in enumerate(items):
            if p.future.done():
                continue
            if isinstance(outcome, BaseException):
                p.future.set_exception(outcome)
            else:
                p.future.set_result(outcome[index])

    items[0].loop.call_soon_threadsafe(deliver)
