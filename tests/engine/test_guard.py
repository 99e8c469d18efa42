"""The budget's guard inside `fit` (jobs/engine/guard.py:Guard): a trial whose first epoch,
priced from its first batches, cannot finish in what is left of the budget is cut at once, so
the time goes to models that can finish; one that fits runs on. Under a time budget, a trial
worse than the median of finished trials at the same epoch stops after its warm-up."""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from jobs.engine.guard import Guard
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


class ScriptedObjective(keras.callbacks.Callback):
    """Sets the epoch's validation loss to the script's, as a trial of that quality would."""

    def __init__(self, curve: list[float]) -> None:
        super().__init__()
        self.curve = curve

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["val_loss"] = self.curve[epoch]


def _trial(guard: Guard, number: int, curve: list[float]) -> int:
    """Epochs a trial with this validation-loss curve runs under the guard."""
    guard.trial_number = number
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    x = np.zeros((8, 2), "float32")
    history = model.fit(
        x, x[:, :1], epochs=len(curve), verbose=0, callbacks=[ScriptedObjective(curve), guard]
    )
    return len(history.epoch)


GOOD = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.40, 0.39]


def test_a_trial_worse_than_the_median_of_finished_ones_stops_after_its_warmup() -> None:
    # given four finished trials under a time budget, warm-up 3 epochs
    guard = Guard(RecordingReporter(), deadline=time.monotonic() + 600, warmup=3)
    for number in range(1, 5):
        assert _trial(guard, number, [v * (1 + number / 10) for v in GOOD]) == len(GOOD)
    # when a trial stays above their median
    epochs = _trial(guard, 5, [2.0] * len(GOOD))
    # then it stops once its warm-up is over, as a completed trial (not a time limit)
    assert epochs == 3
    assert guard.median_stopped == {5}
    assert guard.stopped == ""
    # and a trial better than the median, though it starts slowly, runs to its end
    slow_start = [3.0, 2.0, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3]
    assert _trial(guard, 6, slow_start) == len(GOOD)
    # a trial that diverged counts as the worst, and stops too
    assert _trial(guard, 7, [float("nan")] * len(GOOD)) == 3


def test_the_median_rule_waits_for_enough_trials_and_needs_a_time_budget() -> None:
    # the first trials (the portfolio's) run to their end whatever they score
    guard = Guard(RecordingReporter(), deadline=time.monotonic() + 600, warmup=3)
    for number in range(1, 4):
        assert _trial(guard, number, GOOD) == len(GOOD)
    assert _trial(guard, 4, [2.0] * len(GOOD)) == len(GOOD)
    # without a time budget there is nothing to spend better: every trial runs to its end
    unbudgeted = Guard(RecordingReporter(), deadline=None, warmup=3)
    for number in range(1, 6):
        assert _trial(unbudgeted, number, GOOD) == len(GOOD)
    assert _trial(unbudgeted, 6, [2.0] * len(GOOD)) == len(GOOD)
    assert unbudgeted.median_stopped == set()
