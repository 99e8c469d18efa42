"""One search's trials run by several processes at once.

The process that owns the search (the attempt that claimed the job) keeps the oracle. It hands
trials out as tickets to a pool (`TrialPool`; in the console, rows that runner tasks claim by
a conditional update), runs tickets itself whenever it is free, and feeds every result back
into the oracle (update_trial, end_trial), so the random and Bayesian tuners choose the next
trials from all the results so far. A runner builds the trial with the same hypermodel and
callbacks, trains it, hands its best epoch's weights to the pool (the storage backend) and
reports the score. A runner that dies loses only its trial: the pool reports it lost.

Because the owner runs tickets as well, a search never waits on a runner that cannot start
(a single worker process serves the whole search, one trial after another).

Core: imports no task and no other engine module (tuning.py drives `coordinate`).
"""

from __future__ import annotations

import copy
import gc
import json
import math
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from jobs.engine.tickets import POLL_SECONDS, PUMP_SECONDS, Outcome, Ticket, TrialPool, reason


def run_ticket(
    hypermodel: Any,
    ticket: Ticket,
    train: tuple[Any, Any],
    validation: tuple[Any, Any],
    *,
    guard: Any,
    callbacks: list[keras.callbacks.Callback],
    objective: str,
    epochs: int,
    weights: Path,
    class_weight: dict[int, float] | None = None,
    fit_kwargs: dict[str, Any] | None = None,
) -> Outcome:
    """Build and train a ticket's trial as Keras Tuner would (its hypermodel's build and fit,
    fresh copies of the callbacks), keeping the best epoch's weights in `weights`.

    guard: the search's Guard (jobs.engine.tuning), which reports the epochs under the
    ticket's number and stops at the deadline or a cancel.
    """
    guard.trial_number = ticket.number
    guard.any_finished = guard.any_finished or ticket.any_finished
    if ticket.deadline is not None:
        guard.deadline = time.monotonic() + (ticket.deadline - time.time())
    guard.reporter.trial_started(ticket.number, ticket.values())
    hp = kt.HyperParameters.from_config(ticket.spec)
    started = time.monotonic()
    weights.parent.mkdir(parents=True, exist_ok=True)
    weights.unlink(missing_ok=True)
    keras.backend.clear_session()
    try:
        model = hypermodel.build(hp)
        best = keras.callbacks.ModelCheckpoint(
            str(weights), monitor=objective, mode="min", save_best_only=True, save_weights_only=True
        )
        history = hypermodel.fit(
            hp,
            model,
            *train,
            validation_data=validation,
            epochs=epochs,
            callbacks=[*copy.deepcopy(callbacks), best],
            class_weight=class_weight,
            verbose=0,
            **(fit_kwargs or {}),
        )
        series = [float(v) for v in history.history.get(objective, [])]
        finite = [(v, i) for i, v in enumerate(series) if math.isfinite(v)]
        seconds = time.monotonic() - started
        if not finite:
            return Outcome(
                "FAILED",
                epochs=len(series),
                seconds=seconds,
                spec=hp.get_config(),
                error=f"No epoch ended with a finite {objective}.",
            )
        step = min(finite)[1]
        return Outcome(
            "COMPLETED",
            metrics={k: float(v[step]) for k, v in history.history.items() if len(v) > step},
            best_step=step,
            epochs=len(series),
            seconds=seconds,
            spec=hp.get_config(),
            build_config=model.get_build_config(),
        )
    except Exception:
        return Outcome(
            "FAILED",
            seconds=time.monotonic() - started,
            spec=hp.get_config(),
            error=reason(traceback.format_exc()),
        )
    finally:
        keras.backend.clear_session()
        gc.collect()


class _Pump(keras.callbacks.Callback):
    """While the owner trains a ticket itself, it keeps collecting results and handing out
    tickets (about once a second), so that the runners never wait for its trial to end."""

    def __init__(self, pump: Callable[[], None]) -> None:
        super().__init__()
        self._pump = pump
        self._next = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> _Pump:
        return self

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + PUMP_SECONDS
            self._pump()


# Runs a ticket in the owner's process: (ticket, extra callbacks) -> outcome, weights file.
RunHere = Callable[[Ticket, list[keras.callbacks.Callback]], tuple[Outcome, Path]]


class Coordinator:
    """The owner's loop: keeps `pool.size` tickets out, runs them too, feeds the oracle.

    tuner: a ReportingTuner (jobs.engine.tuning), for its oracle, trial numbers, the cap on
    trials started and end_pooled (reporting and saving the search after each trial).
    """

    def __init__(self, tuner: Any, pool: TrialPool, guard: Any, run_here: RunHere) -> None:
        self.tuner = tuner
        self.pool = pool
        self.guard = guard
        self.run_here = run_here
        self.flight: dict[str, tuple[str, Ticket]] = {}  # trial id -> (tuner id, ticket)
        self.exhausted = False
        self._next_check = 0.0

    def stopping(self) -> bool:
        now = time.monotonic()
        if not self.guard.stopped and now >= self._next_check:
            self._next_check = now + PUMP_SECONDS
            if self.guard.reporter.cancelled():
                self.guard.stopped = "cancelled"
        if self.guard.deadline is not None and now >= self.guard.deadline:
            self.guard.stopped = self.guard.stopped or "time_limit"
        return bool(self.guard.stopped)

    def pump(self) -> None:
        for ticket, outcome in self.pool.finished():
            self._end(ticket, outcome)
        if self.stopping():
            for ticket in self.pool.withdraw():
                self.flight.pop(ticket.trial_id, None)
            return
        oracle = self.tuner.oracle
        while not self.exhausted and len(self.flight) < self.pool.size and self.tuner.can_start():
            busy = {tuner_id for tuner_id, _ in self.flight.values()}
            tuner_id = next(f"slot{i}" for i in range(self.pool.size + 1) if f"slot{i}" not in busy)
            trial = oracle.create_trial(tuner_id)
            if str(trial.status) == "STOPPED":
                self.exhausted = True
                break
            if str(trial.status) != "RUNNING":
                break  # the oracle waits for results before its next trial
            deadline = None
            if self.guard.deadline is not None:
                deadline = time.time() + (self.guard.deadline - time.monotonic())
            ticket = Ticket(
                number=self.tuner.number_of(trial),
                trial_id=trial.trial_id,
                spec=trial.hyperparameters.get_config(),
                deadline=deadline,
                any_finished=self.guard.any_finished,
            )
            self.pool.offer(ticket)
            self.flight[trial.trial_id] = (tuner_id, ticket)

    def _end(self, ticket: Ticket, outcome: Outcome) -> None:
        self.flight.pop(ticket.trial_id, None)
        oracle = self.tuner.oracle
        trial = oracle.trials[ticket.trial_id]
        completed = outcome.status == "COMPLETED"
        if completed:
            checkpoint = Path(self.tuner.get_trial_dir(ticket.trial_id)) / "checkpoint.weights.h5"
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            completed = self.pool.fetch_weights(ticket, checkpoint)
            if completed and outcome.build_config is not None:
                build = checkpoint.parent / "build_config.json"
                build.write_text(json.dumps(outcome.build_config))
            if not completed:
                outcome.error = "The trial's weights were not found in storage."
        if completed:
            oracle.update_trial(ticket.trial_id, outcome.metrics, step=outcome.best_step)
        if outcome.spec:
            trial.hyperparameters = kt.HyperParameters.from_config(outcome.spec)
        trial.status = "COMPLETED" if completed else "FAILED"
        trial.message = outcome.error
        self.tuner.end_pooled(trial, seconds=outcome.seconds, epochs=outcome.epochs)
        if completed:
            self.guard.any_finished = True

    def run(self) -> None:
        try:
            while True:
                self.pump()
                if not self.flight:
                    break
                ticket = None if self.guard.stopped else self.pool.claim()
                if ticket is None:
                    time.sleep(POLL_SECONDS)
                    continue
                outcome, weights = self.run_here(ticket, [_Pump(self.pump)])
                self.pool.complete(ticket, outcome, weights if weights.exists() else None)
        finally:
            self.pool.close()
