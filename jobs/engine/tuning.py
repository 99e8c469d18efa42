"""The search core every task runs: Keras Tuner with reporting, the time budget and
cancellation guard, saving and resuming its state, and training the chosen trials again.

Core: imports no task. A task hands `tune` its hypermodel and its encoded data.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine import checkpoint
from jobs.engine.config import SearchConfig
from jobs.engine.guard import Guard, median_warmup, patience
from jobs.engine.layers import Smearing
from jobs.engine.pool import Coordinator, run_ticket
from jobs.engine.reporting import Reporter, SearchInterrupted, SearchStopped
from jobs.engine.results import SearchResult, manifest
from jobs.engine.tickets import Outcome, Ticket, TrialPool, reason

logger = logging.getLogger(__name__)


class _Stop(Exception):
    pass


def _empty_device_cache() -> None:
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _tuner_class(name: str) -> type[Any]:
    base = {
        "random": kt.RandomSearch,
        "bayesian": kt.BayesianOptimization,
        "hyperband": kt.Hyperband,
    }[name]

    class ReportingTuner(base):  # type: ignore[valid-type, misc]
        def __init__(
            self,
            *args: Any,
            reporter: Reporter,
            guard: Guard,
            max_trials_started: int,
            state: checkpoint.TunerState | None = None,
            plan: SearchEnd | None = None,
            **kwargs: Any,
        ):
            # Before the base class, which reloads a saved project (and so these numbers).
            self._numbers: dict[str, int] = {}
            super().__init__(*args, **kwargs)
            self._reporter = reporter
            self._guard = guard
            self._state = state
            self._plan = plan
            # Hyperband sizes its own brackets; max_trials still caps what a job may start.
            self._max_started = max_trials_started
            portfolio = getattr(self.hypermodel, "portfolio", ())
            if portfolio and name != "hyperband":
                self.oracle.populate_space = _with_portfolio(self.oracle, portfolio)

        def get_state(self) -> dict[str, Any]:
            return {**super().get_state(), "trial_numbers": self._numbers}

        def set_state(self, state: dict[str, Any]) -> None:
            super().set_state(state)
            self._numbers = {str(k): int(v) for k, v in state.get("trial_numbers", {}).items()}

        def can_start(self) -> bool:
            return len(self._numbers) < self._max_started

        def number_of(self, trial: Any) -> int:
            """The trial's number in the job (1, 2, ...), given when it first starts."""
            return self._numbers.setdefault(trial.trial_id, len(self._numbers) + 1)

        def end_pooled(self, trial: Any, *, seconds: float, epochs: int) -> None:
            """End a trial another process (or a ticket here) ran: the oracle learns its
            result, the job its end, and the search is saved (jobs.engine.pool)."""
            number = self.number_of(trial)
            self._guard.seconds[number] = seconds
            self._guard.epochs[number] = epochs
            super().on_trial_end(trial)
            self._replan()
            self._report_end(trial)

        def on_trial_begin(self, trial: Any) -> None:
            if not self.can_start():
                raise _Stop
            if self._reporter.cancelled():
                self._guard.stopped = "cancelled"
            if self._guard.stopped or (
                self._guard.deadline is not None and time.monotonic() >= self._guard.deadline
            ):
                self._guard.stopped = self._guard.stopped or "time_limit"
                raise _Stop
            super().on_trial_begin(trial)
            number = self.number_of(trial)
            self._trial_started = time.monotonic()
            self._guard.trial_number = number
            self._reporter.trial_started(number, dict(trial.hyperparameters.values))

        def on_trial_end(self, trial: Any) -> None:
            if self._guard.interrupted:
                # Before the oracle records the trial: the saved state stays the one from the
                # last finished trial.
                raise SearchInterrupted("The search was interrupted: its process is stopping.")
            super().on_trial_end(trial)
            self._guard.any_finished = True
            number = self._numbers[trial.trial_id]
            self._guard.seconds[number] = time.monotonic() - self._trial_started
            self._replan()
            # Freeing between trials keeps memory flat across a long search, and lets the
            # next trial run after one that ran out of memory.
            keras.backend.clear_session()
            gc.collect()
            _empty_device_cache()
            self._report_end(trial)

        def _replan(self) -> None:
            """Move the search's end now that another trial's cost is known."""
            if self._plan is None:
                return
            self._guard.deadline = self._plan.deadline(self, self._guard)
            # A trial cut at the old end leaves the search stopped; the new end reopens it.
            if self._guard.stopped == "time_limit" and time.monotonic() < self._guard.deadline:
                self._guard.stopped = ""

        def _report_end(self, trial: Any) -> None:
            failed = str(trial.status) in ("FAILED", "INVALID")
            score = None if trial.score is None or failed else float(trial.score)
            self._reporter.trial_finished(
                self._numbers[trial.trial_id],
                "FAILED" if failed else str(trial.status),
                score,
                dict(trial.hyperparameters.values),
                reason(trial.message) if failed else "",
            )
            # After the report: a death in between re-runs this trial rather than leaving its
            # row RUNNING with a state that says it finished.
            if self._state is not None:
                self._state.save_tuner_state(checkpoint.pack(Path(self.project_dir)))

    return ReportingTuner


def _with_portfolio(oracle: Any, portfolio: Sequence[dict[str, Any]]) -> Any:
    """The oracle's own choice of values, after the first trials take the portfolio's.

    A random first trial is as likely to be a poor model as a good one; a budget that holds
    few trials should start from configurations known to do well (each one given as changes
    to the space's defaults), then explore.
    """
    original = oracle.populate_space

    def populate_space(trial_id: str) -> dict[str, Any]:
        index = len(oracle.trials)
        if index < len(portfolio):
            space = oracle.hyperparameters
            values = {hp.name: hp.default for hp in space.space if space.is_active(hp)}
            values.update({k: v for k, v in portfolio[index].items() if k in values})
            return {"status": "RUNNING", "values": values}
        return dict(original(trial_id))

    return populate_space


def make_tuner(
    config: SearchConfig,
    hypermodel: Any,
    *,
    workdir: Path,
    reporter: Reporter,
    guard: Guard,
    objective: str = "val_loss",
    plan: SearchEnd | None = None,
) -> Any:
    """The configured Keras Tuner, reporting trials and epochs, for any hypermodel. With a
    `plan`, the guard's deadline moves after each trial (SearchEnd).

    When the reporter keeps tuner state (`checkpoint.TunerState`), the search is saved after
    every trial and resumes from what an earlier attempt saved.
    """
    state = checkpoint.state_of(reporter)
    common: dict[str, Any] = {
        "hypermodel": hypermodel,
        "objective": kt.Objective(objective, "min"),
        "seed": config.seed,
        "directory": str(workdir),
        "project_name": "search",
        "overwrite": True,
        "reporter": reporter,
        "guard": guard,
        "max_trials_started": config.max_trials,
        "state": state,
        "plan": plan,
    }
    tuner_class = _tuner_class(config.tuner)
    if config.tuner == "hyperband":
        common.update(max_epochs=config.max_epochs, factor=3)
    else:
        common.update(max_trials=config.max_trials)
    if config.tuner == "bayesian":
        # Keras Tuner's default is 3 random points per hyperparameter, more than a console
        # budget holds (the tabular space has 8): the search would never leave random.
        common.update(num_initial_points=max(2, config.max_trials // 3))
    saved = state.load_tuner_state() if state is not None else None
    if saved:
        try:
            checkpoint.unpack(saved, workdir / "search")
            return tuner_class(**{**common, "overwrite": False})
        except Exception:
            # An unreadable state costs the finished trials, not the job: start again.
            logger.exception("Could not resume the search from its saved state")
    return tuner_class(**common)


def trial_callbacks(guard: Guard, train: tuple[Any, np.ndarray]) -> list[keras.callbacks.Callback]:
    """A trial's callbacks: the guard, a log-scale target's smearing factor, early stopping
    and cutting the learning rate on plateaus (Keras Tuner copies them for every trial; the
    guard stays shared)."""
    wait = patience(len(train[1]))
    return [
        guard,
        Smearing(*train),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=wait),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.3, patience=max(2, wait // 3), min_lr=1e-6
        ),
    ]


def fit_options(hypermodel: Any, config: SearchConfig) -> dict[str, Any]:
    # A hypermodel that searches the batch size picks it itself.
    return {} if getattr(hypermodel, "batch_sizes", None) else {"batch_size": config.batch_size}


# What a search leaves of its budget for what follows it: scoring on the test split,
# permutation importance and saving (loading and choosing the ensemble are kept apart, with
# the refit, by SearchEnd). That work grows with the data, not with the budget: a fixed 10%
# (18 s of the default 180) was mostly idle, the finish took 1-3 s on the benchmark's tables
# (CPS1988, 28,000 rows: 2.6 s), so a short budget keeps up to FINISH_MOST_SHARE of itself, up
# to FINISH_SECONDS, and a longer one FINISH_SHARE.
FINISH_SHARE = 0.05
FINISH_MOST_SHARE = 0.1
FINISH_SECONDS = 8.0


def finish_seconds(budget: float) -> float:
    """What a search of `budget` seconds leaves for its finish: 6 s of 60, 9 s of 180."""
    return max(FINISH_SHARE * budget, min(FINISH_MOST_SHARE * budget, FINISH_SECONDS))


def finish_starts(started: float, budget: float) -> float:
    """When a search of `budget` seconds from `started` must leave the rest to its finish:
    the end of its trials and of its refit alike."""
    return started + budget - finish_seconds(budget)


# The most the tabular search also keeps for training its chosen trials again on the
# validation rows (Searched.refit); SearchEnd keeps less once the refit can be priced.
REFIT_SHARE = 0.15

# What the search keeps for a refit once it can price one: this many times the estimate (a
# busier machine), and this share of the budget for loading and choosing the ensemble first.
REFIT_MARGIN = 1.5
REFIT_FLOOR_SHARE = 0.03


def refit_seconds(tuner: Any, guard: Guard, trials: Sequence[Any], share: float) -> float | None:
    """Seconds to train `trials` again on `share` times their training rows, each up to its
    best epoch, priced from their own runs (their epochs' training time where known, else
    their whole time); None when a trial's time is unknown."""
    numbers = [tuner._numbers.get(t.trial_id, 0) for t in trials]
    if any(n not in guard.seconds for n in numbers):
        return None
    return sum(
        guard.training_seconds.get(n, guard.seconds[n])
        * (t.best_step + 1)
        / max(1, guard.epochs.get(n, 1))
        * share
        for t, n in zip(trials, numbers, strict=True)
    )


@dataclass
class SearchEnd:
    """When a search under a time budget stops starting trials: at `end` (the budget less
    finish_seconds), less what it keeps for the refit of its best `keep` trials.

    A fixed refit share (REFIT_SHARE) was idle whenever the refit did not need it all, and
    wholly idle when the refit could not fit in it: CPS1988's best three trials needed 65 s
    to train again, so the refit was skipped and the job ended 36 s before its 180. So that
    share is the most kept; once trials have finished, the search prices the refit of its
    current best `keep` trials from their own epochs (refit_seconds: within 1% of the real
    time on HMDA), recomputed after each trial, and keeps REFIT_MARGIN times that plus
    REFIT_FLOOR_SHARE of the budget. When that is more than the share, no refit is planned
    and the search keeps only the floor, for loading and choosing its ensemble: keeping just
    the share for a refit priced at 26 s of its 27 left CPS1988's refit 1.4 s short once the
    trials were loaded, so it was skipped and the job ended 40 s early (or, started, was cut
    at its limit and thrown away).
    """

    end: float
    budget: float
    refit_share: float
    keep: int
    share: float  # rows the refit trains on, over the trials' training rows

    @property
    def refit_most(self) -> float:
        return self.budget * self.refit_share

    @property
    def unpriced(self) -> float:
        """The end before any trial has priced the refit: the most is kept for it."""
        return self.end - self.refit_most

    def deadline(self, tuner: Any, guard: Guard) -> float:
        completed = [t for t in tuner.oracle.trials.values() if t.score is not None]
        if not self.refit_share or not completed:
            return self.unpriced
        best = tuner.oracle.get_best_trials(min(self.keep, len(completed)))
        needed = refit_seconds(tuner, guard, best, self.share)
        if needed is None:
            return self.unpriced
        floor = REFIT_FLOOR_SHARE * self.budget
        kept = REFIT_MARGIN * needed + floor
        return self.end - (floor if kept > self.refit_most else kept)


def tune(
    config: SearchConfig,
    hypermodel: Any,
    train: tuple[Any, np.ndarray],
    validation: tuple[Any, np.ndarray],
    *,
    workdir: Path,
    reporter: Reporter,
    started: float,
    class_weight: dict[int, float] | None = None,
    keep: int = 1,
    objective: str = "val_loss",
    refit_share: float = 0.0,
    pool: TrialPool | None = None,
) -> Searched:
    """Search within the job's time budget; keep the best `keep` completed trials (best first).

    Each trial trains until its validation loss stops improving (patience scaled to the
    data), with the learning rate cut on plateaus; the tuner keeps its best epoch's weights.
    SearchStopped when no trial completed: cancelled early, or every trial failed.
    pool: with room for more than one trial at once, the trials run in several processes
    (jobs.engine.pool), this one owning the search.
    refit_share: at most this share of the budget is kept for training the chosen trials
    again (Searched.refit); less once the best trials' own times say the refit needs less.
    """
    plan = None
    if config.max_seconds is not None:
        plan = SearchEnd(
            end=finish_starts(started, config.max_seconds),
            budget=config.max_seconds,
            refit_share=refit_share,
            keep=keep,
            share=(len(train[1]) + len(validation[1])) / max(1, len(train[1])),
        )
    guard = Guard(
        reporter,
        None if plan is None else plan.unpriced,
        objective=objective,
        warmup=median_warmup(len(train[1])),
    )
    tuner = make_tuner(
        config, hypermodel, workdir=workdir, reporter=reporter, guard=guard, objective=objective,
        plan=plan,
    )  # fmt: skip
    callbacks = trial_callbacks(guard, train)
    fit_kwargs = fit_options(hypermodel, config)
    if pool is not None and pool.size > 1:

        def run_here(ticket: Ticket, extra: list[Any]) -> tuple[Outcome, Path]:
            weights = workdir / "tickets" / f"{ticket.number}.weights.h5"
            outcome = run_ticket(
                hypermodel, ticket, train, validation, guard=guard,
                callbacks=[*callbacks, *extra], objective=objective, epochs=config.max_epochs,
                weights=weights, class_weight=class_weight, fit_kwargs=fit_kwargs,
            )  # fmt: skip
            return outcome, weights

        Coordinator(tuner, pool, guard, run_here).run()
    else:
        with contextlib.suppress(_Stop):
            tuner.search(
                *train,
                validation_data=validation,
                epochs=config.max_epochs,
                callbacks=callbacks,
                class_weight=class_weight,
                verbose=0,
                **fit_kwargs,
            )
    completed = [t for t in tuner.oracle.trials.values() if t.score is not None]
    if not completed:
        raise SearchStopped(
            "The search was cancelled before any trial finished an epoch."
            if guard.stopped == "cancelled"
            else "No trial finished: every trial failed or the time limit was too short."
        )
    ranked = list(tuner.oracle.get_best_trials(min(keep, len(completed)) or 1))
    return Searched(config, tuner, guard, ranked, started, len(train[1]))


@dataclass
class Searched:
    """A finished search: its tuner, and its best completed trials, best first."""

    config: SearchConfig
    tuner: Any
    guard: Guard
    ranked: list[Any]
    started: float
    n_train: int = 0

    def models(self) -> list[keras.Model]:
        return [self.tuner.load_model(trial) for trial in self.ranked]

    def refit(
        self,
        count: int,
        fit: tuple[Any, np.ndarray],
        *,
        until: float,
        stop: float | None = None,
        class_weight: dict[int, float] | None = None,
    ) -> list[keras.Model] | None:
        """The best `count` trials trained again on `fit` (training and validation rows) for
        as many epochs as each needed to reach its best validation score.

        A model chosen on validation rows never learned from them: on a small table that is
        a quarter of what it could learn from. None when the refits are priced to end after
        `until` (monotonic seconds), or run past `stop` (default `until`: the price is an
        estimate, and a refit cut short is thrown away whole), or the job was cancelled.
        """
        trials = self.ranked[:count]
        needed = refit_seconds(self.tuner, self.guard, trials, len(fit[1]) / max(1, self.n_train))
        if needed is None or time.monotonic() + needed > until:
            return None
        refit = Guard(self.guard.reporter, until if stop is None else stop, report=False)
        models = []
        for trial in trials:
            hp = trial.hyperparameters
            model = self.tuner.hypermodel.build(hp)
            model.fit(
                *fit,
                epochs=trial.best_step + 1,
                batch_size=hp.values.get("batch_size", self.config.batch_size),
                class_weight=class_weight,
                callbacks=[refit, Smearing(*fit)],
                verbose=0,
            )
            if refit.stopped:
                return None
            models.append(model)
        return models

    def result(
        self,
        *,
        model: keras.Model,
        ensemble: dict[str, Any],
        test_metrics: dict[str, Any],
        sizes: tuple[int, int, int],
        splits: Sequence[pd.DataFrame],
        class_weights: dict[int, float] | None,
    ) -> SearchResult:
        """What the search gives the job: the final model, scored once on the test split."""
        best = self.ranked[0]
        source = f"ensemble_top{ensemble['size']}" if ensemble["chosen"] else "best_trial_weights"
        return SearchResult(
            model=model,
            test_metrics=test_metrics,
            hyperparameters=dict(best.hyperparameters.values),
            best_trial=self.tuner._numbers.get(best.trial_id, 0),
            n_train=sizes[0],
            n_validation=sizes[1],
            n_test=sizes[2],
            seconds=time.monotonic() - self.started,
            stopped=self.guard.stopped,
            source=source,
            ensemble=ensemble,
            class_weights=class_weights,
            manifest=manifest(self.config, tuple(splits), self.tuner),
        )
