"""The budget's guard inside `fit` (jobs/engine/tuning.py:Guard): a trial whose first epoch,
priced from its first batches, cannot finish in what is left of the budget is cut at once, so
the time goes to models that can finish; one that fits runs on."""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from jobs.engine.tuning import Guard
from tests.conftest import RecordingReporter

BATCH_SECONDS = 0.02
STEPS = 100  # 2 s an epoch at BATCH_SECONDS


class SlowBatches(keras.callbacks.Callback):
    """A model this much slower a batch, as a wide one on a CPU worker would be; counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        time.sleep(BATCH_SECONDS)
        self.batches += 1


def _fit(guard: Guard, epochs: int = 1) -> tuple[int, float]:
    """Batches run and seconds taken by one trial's `fit` under the guard."""
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x = np.zeros((STEPS * 8, 2), "float32")
    slow = SlowBatches()
    started = time.monotonic()
    model.fit(x, x[:, :1], batch_size=8, epochs=epochs, verbose=0, callbacks=[slow, guard])
    return slow.batches, time.monotonic() - started


def test_a_trial_whose_first_epoch_cannot_fit_the_budget_left_is_cut_at_once() -> None:
    # given a search with a finished trial and 1 s left, and a trial needing 2 s an epoch
    guard = Guard(RecordingReporter(), deadline=time.monotonic() + 1.0)
    guard.any_finished = True
    # when it trains
    batches, seconds = _fit(guard)
    # then it is stopped within its first batches, not at the deadline, and the search is not
    # marked out of time (the next trial may be one that fits)
    assert batches <= 3
    assert seconds < 0.5
    assert guard.stopped == ""


def test_the_first_trial_and_trials_that_fit_are_not_cut() -> None:
    # the first trial has nothing finished to fall back on: it runs until the deadline
    first = Guard(RecordingReporter(), deadline=time.monotonic() + 1.0)
    batches, _ = _fit(first)
    assert batches > 3 * 1.0 / BATCH_SECONDS / 4
    assert first.stopped == "time_limit"
    # a later trial whose epochs fit runs them all
    roomy = Guard(RecordingReporter(), deadline=time.monotonic() + 60.0)
    roomy.any_finished = True
    batches, _ = _fit(roomy, epochs=2)
    assert batches == 2 * STEPS
    assert roomy.stopped == ""
