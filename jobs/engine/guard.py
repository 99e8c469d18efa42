"""The guard every trial trains under: it reports epochs, enforces the time budget and
cancellation inside `fit`, and stops trials that cannot finish or are unlikely to win.

Core: imports no task; `jobs.engine.tuning` hands it to every trial.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from jobs.engine.reporting import Reporter, SearchInterrupted


class Guard(keras.callbacks.Callback):
    """Reports epochs and enforces the time budget and cancellation inside `fit`.

    Checked between batches (about once a second), not only at epoch ends: one epoch of a
    slow model on a large set can take minutes. A trial whose first epoch alone would not fit
    in what is left of the budget is cut short once another trial has finished, so the budget
    goes to models that can finish. A trial is not capped at a share of the budget: cut so,
    trials on a busy machine stopped before they converged and none was worth keeping
    (Computers: trees' RMSE / ours 0.76 with a third of the budget per trial, 1.01 without).

    Under a time budget, a trial is also stopped by the median rule (Golovin et al. 2017,
    Google Vizier's "median stopping"): once `warmup` epochs have run and MEDIAN_RULE_TRIALS
    other trials have ended, a trial whose best objective so far is worse than the median of
    theirs at the same epoch is unlikely to become the best one, and its time goes to the next
    trial. Its best epoch still counts: it ends as a completed trial. Only the trials this
    process ran are compared (in a pooled search each process knows its own).
    """

    # Keras Tuner deep-copies callbacks for every trial; the reporter must stay shared.
    def __init__(
        self,
        reporter: Reporter,
        deadline: float | None,
        *,
        report: bool = True,
        objective: str = "val_loss",
        warmup: int = 0,
    ) -> None:
        super().__init__()
        self.reporter = reporter
        self.deadline = deadline
        # False for a refit: the budget and cancel still apply, but its epochs are no trial's.
        self.report = report
        self.trial_number = 0
        self.stopped = ""
        # Set when the process is stopping (SearchInterrupted from the reporter): Keras Tuner
        # would count an exception raised inside `fit` as a failed trial, so the trial is only
        # stopped here, and the tuner raises once `fit` has returned (on_trial_end).
        self.interrupted = False
        self.any_finished = False
        # Per trial number: epochs run and seconds spent, to price a refit of it; and of those
        # seconds, the ones its epochs spent training (not validating, not saving): a refit
        # does only that. A trial run in another process has only its total.
        self.epochs: dict[int, int] = {}
        self.seconds: dict[int, float] = {}
        self.training_seconds: dict[int, float] = {}
        # Per trial number: its objective after each epoch, for the median rule.
        self.objective = objective
        self.warmup = warmup
        self.curves: dict[int, list[float]] = {}
        self.median_stopped: set[int] = set()
        self._next_cancel_check = 0.0
        self._epoch = 0
        self._epoch_started = 0.0
        self._training = False

    def __deepcopy__(self, memo: dict[int, Any]) -> Guard:
        return self

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._epoch_started = time.monotonic()
        self._training = True

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._end_training_part()

    def _end_training_part(self) -> None:
        """The epoch's batches are done (its validation starts, or the epoch ends)."""
        if self._training and self.report:
            spent = time.monotonic() - self._epoch_started
            number = self.trial_number
            self.training_seconds[number] = self.training_seconds.get(number, 0.0) + spent
        self._training = False

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if now < self._next_cancel_check:
            return
        self._next_cancel_check = now + 1.0
        try:
            cancelled = self.reporter.cancelled()
        except SearchInterrupted:
            if not self.report:
                raise  # a refit runs outside the tuner: nothing there would count it a failure
            self.interrupted = True
            self.model.stop_training = True
            return
        if cancelled:
            self.stopped = "cancelled"
        elif self.deadline is not None and now >= self.deadline:
            self.stopped = "time_limit"
        elif self._epoch == 0 and self.any_finished and self.deadline is not None:
            steps = (self.params or {}).get("steps") or 0
            estimate = (now - self._epoch_started) / (batch + 1) * steps
            if estimate > self.deadline - now:
                self.model.stop_training = True
        if self.stopped:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._end_training_part()
        if self.interrupted:
            return  # the trial is given up: its epochs are run again on resume
        if self.report:
            values = {k: float(np.asarray(v)) for k, v in (logs or {}).items() if np.isscalar(v)}
            self.epochs[self.trial_number] = epoch + 1
            self.reporter.epoch_end(self.trial_number, epoch + 1, values)
            if self.objective in values:
                self.curves.setdefault(self.trial_number, []).append(values[self.objective])
            if self.deadline is not None and self._below_median():
                self.median_stopped.add(self.trial_number)
                self.model.stop_training = True
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = self.stopped or "time_limit"
        if self.stopped:
            self.model.stop_training = True

    def _below_median(self) -> bool:
        curve = self.curves.get(self.trial_number, [])
        if len(curve) < max(1, self.warmup):
            return False
        others = [c for n, c in self.curves.items() if n != self.trial_number and c]
        if len(others) < MEDIAN_RULE_TRIALS:
            return False
        # A trial that diverged (NaN) counts as the worst.
        median = float(np.median([_best(c[: len(curve)]) for c in others]))
        return _best(curve) > median


def _best(curve: Sequence[float]) -> float:
    return min((v for v in curve if np.isfinite(v)), default=float("inf"))


# Trials that must have ended before the median rule stops another: the portfolio's first
# trials (configurations known to do well) always run to their own end.
MEDIAN_RULE_TRIALS = 4


def patience(n_train: int) -> int:
    """Epochs without improvement before a trial stops: small sets have noisy validation
    losses and cheap epochs, large ones take many steps an epoch."""
    return int(np.clip(round(40 / np.log10(max(n_train, 10))), 5, 20))


def median_warmup(n_train: int) -> int:
    """Epochs a trial runs before the median rule may stop it: half its patience, so a
    slow start (a small learning rate, a wide network) is not taken for a poor model."""
    return max(3, patience(n_train) // 2)
