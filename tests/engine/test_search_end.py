"""When a budgeted search stops starting trials: it keeps time for the refit only as much as
its best trials' own costs say the refit needs (jobs.engine.tuning.SearchEnd)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest

from jobs.engine.guard import Guard
from jobs.engine.search import SearchConfig, run_search
from jobs.engine.tuning import (
    REFIT_FLOOR_SHARE,
    REFIT_MARGIN,
    REFIT_SHARE,
    SearchEnd,
    finish_seconds,
    refit_seconds,
    tune,
)
from tests.conftest import RecordingReporter


@dataclass
class _Trial:
    trial_id: str
    score: float | None
    best_step: int


@dataclass
class _Oracle:
    trials: dict[str, _Trial] = field(default_factory=dict)

    def get_best_trials(self, count: int) -> list[_Trial]:
        done = [t for t in self.trials.values() if t.score is not None]
        return sorted(done, key=lambda t: t.score or 0.0)[:count]


@dataclass
class _Tuner:
    oracle: _Oracle = field(default_factory=_Oracle)
    _numbers: dict[str, int] = field(default_factory=dict)


def _finish(
    tuner: _Tuner, guard: Guard, *, score: float, seconds: float, epochs: int, best: int
) -> None:
    number = len(tuner._numbers) + 1
    trial_id = f"t{number}"
    tuner._numbers[trial_id] = number
    tuner.oracle.trials[trial_id] = _Trial(trial_id, score, best)
    guard.seconds[number] = seconds
    guard.epochs[number] = epochs


class _TimedReporter(RecordingReporter):
    def __init__(self) -> None:
        super().__init__()
        self.epoch_at: list[float] = []

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None:
        super().epoch_end(number, epoch, metrics)
        self.epoch_at.append(time.monotonic())


PLAN = SearchEnd(end=1000.0, budget=180.0, refit_share=REFIT_SHARE, keep=2, share=1.25)


def test_the_finish_keeps_a_tenth_of_a_short_budget_and_a_twentieth_of_a_long_one() -> None:
    assert finish_seconds(40.0) == pytest.approx(4.0)
    assert finish_seconds(60.0) == pytest.approx(6.0)
    assert finish_seconds(120.0) == pytest.approx(8.0)
    assert finish_seconds(180.0) == pytest.approx(9.0)
    assert finish_seconds(600.0) == pytest.approx(30.0)


def test_before_any_trial_ends_the_whole_refit_share_is_kept() -> None:
    guard = Guard(RecordingReporter(), None)
    assert PLAN.deadline(_Tuner(), guard) == 1000.0 - 180.0 * REFIT_SHARE


def test_cheap_best_trials_give_the_search_the_time_a_fixed_share_left_idle() -> None:
    # given two finished trials that each took 4 s for 20 epochs, best at epochs 10 and 5
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.5, seconds=4.0, epochs=20, best=9)
    _finish(tuner, guard, score=0.4, seconds=4.0, epochs=20, best=4)

    # then the refit is priced from them: 2 s + 1 s, on 1.25 times the rows
    needed = refit_seconds(tuner, guard, tuner.oracle.get_best_trials(2), 1.25)
    assert needed == pytest.approx(3.75)
    kept = REFIT_MARGIN * 3.75 + REFIT_FLOOR_SHARE * 180.0
    assert PLAN.deadline(tuner, guard) == pytest.approx(1000.0 - kept)
    assert kept < 180.0 * REFIT_SHARE


def test_a_costly_trial_taking_the_lead_moves_the_end_earlier_again() -> None:
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.5, seconds=2.0, epochs=10, best=9)
    early = PLAN.deadline(tuner, guard)
    _finish(tuner, guard, score=0.3, seconds=6.0, epochs=10, best=9)
    later = PLAN.deadline(tuner, guard)
    assert later < early
    assert later == pytest.approx(1000.0 - REFIT_MARGIN * 8.0 * 1.25 - REFIT_FLOOR_SHARE * 180.0)


NO_REFIT_END = 1000.0 - REFIT_FLOOR_SHARE * 180.0  # only loading and choosing the ensemble


def test_a_refit_the_share_cannot_hold_gives_its_time_to_the_search() -> None:
    # given best trials whose refit would take longer than the whole refit share
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.3, seconds=40.0, epochs=10, best=9)
    _finish(tuner, guard, score=0.2, seconds=40.0, epochs=10, best=9)
    # then no refit is planned: the search keeps only the floor
    assert PLAN.deadline(tuner, guard) == pytest.approx(NO_REFIT_END)


def test_a_refit_the_share_holds_without_its_margin_is_not_planned_either() -> None:
    # given best trials priced at 26 s of the share's 27: CPS1988's, whose refit then did
    # not fit once the trials were loaded, and the job ended 40 s early
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.3, seconds=10.4, epochs=10, best=9)
    _finish(tuner, guard, score=0.2, seconds=10.4, epochs=10, best=9)
    needed = refit_seconds(tuner, guard, tuner.oracle.get_best_trials(2), 1.25)
    assert needed is not None
    assert needed == pytest.approx(26.0)
    assert needed < 180.0 * REFIT_SHARE
    # then the search does not stop at the share for it, but at the floor
    assert PLAN.deadline(tuner, guard) == pytest.approx(NO_REFIT_END)


def test_the_refit_is_priced_from_the_epochs_training_time_where_known() -> None:
    # given a trial of 10 s, of which its epochs spent 4 s training (the rest validating)
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.5, seconds=10.0, epochs=10, best=9)
    guard.training_seconds[1] = 4.0
    # then its refit on the same rows is priced at 4 s, not 10
    assert refit_seconds(tuner, guard, tuner.oracle.get_best_trials(1), 1.0) == 4.0


class _SlowValidation(keras.callbacks.Callback):
    def on_test_end(self, logs: dict[str, float] | None = None) -> None:
        time.sleep(0.3)


def test_the_guard_counts_an_epochs_training_apart_from_its_validation() -> None:
    # given a fit whose validation takes 0.3 s an epoch longer than its training
    guard = Guard(RecordingReporter(), None)
    guard.trial_number = 1
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.ones((64, 3), "float32"), np.ones((64,), "float32")

    # when it trains three epochs
    started = time.monotonic()
    model.fit(x, y, validation_data=(x, y), epochs=3, callbacks=[guard, _SlowValidation()],
              verbose=0)  # fmt: skip
    spent = time.monotonic() - started

    # then the guard's training time leaves the validation out
    assert guard.training_seconds[1] > 0
    assert guard.training_seconds[1] < spent - 3 * 0.3


def test_a_trial_of_unknown_cost_keeps_the_whole_share() -> None:
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.5, seconds=2.0, epochs=10, best=9)
    del guard.seconds[1]
    assert refit_seconds(tuner, guard, tuner.oracle.get_best_trials(1), 1.25) is None
    assert PLAN.deadline(tuner, guard) == 1000.0 - 180.0 * REFIT_SHARE


def test_a_search_without_a_refit_keeps_nothing_for_one() -> None:
    plan = SearchEnd(end=1000.0, budget=180.0, refit_share=0.0, keep=3, share=1.25)
    tuner, guard = _Tuner(), Guard(RecordingReporter(), None)
    _finish(tuner, guard, score=0.5, seconds=2.0, epochs=10, best=9)
    assert plan.deadline(tuner, guard) == 1000.0


def test_a_search_whose_refit_cannot_fit_trains_past_the_old_fixed_end(
    cancer_frame: pd.DataFrame, tmp_path: Path
) -> None:
    # given a table search of 40 s on 1,364 training rows, whose best trials would take
    # longer to train again than the refit share (6 s) holds
    frame = pd.concat([cancer_frame] * 4, ignore_index=True)
    reporter = _TimedReporter()
    config = SearchConfig(
        target="diagnosis", task_type="binary", max_trials=200, max_epochs=300, max_seconds=40
    )

    # when it runs
    started = time.monotonic()
    result = run_search(frame, config, workdir=tmp_path, reporter=reporter)
    elapsed = time.monotonic() - started

    # then its trials trained past where the fixed share stopped them (at 30 s), up to 34.8 s
    fixed_end = 40 * (1 - 0.1 - REFIT_SHARE)  # the finish's fixed 10% and the refit's 15%
    # (`started` is before the engine's own start, so the offsets are, if anything, high)
    epochs = [at - started for at in reporter.epoch_at]
    assert max(epochs) > fixed_end + 1.5, (max(epochs), len(epochs))
    # and the job kept to its budget, skipping the refit it had no time for
    assert result.ensemble["refit"] is False
    assert elapsed < 40 + 3.0  # + loading the data


def _small_regressor(hp: Any) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(hp.Int("units", 4, 8)), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def test_a_refit_running_past_its_price_is_kept_when_it_ends_before_its_stop(
    tmp_path: Path,
) -> None:
    # given a finished search whose best trial's refit is priced far below what it takes
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4)).astype("float32")
    y = x.sum(axis=1)
    config = SearchConfig(
        target="y", task_type="regression", max_trials=1, max_epochs=2, max_seconds=None,
        batch_size=8,
    )  # fmt: skip
    searched = tune(
        config, _small_regressor, (x[:1500], y[:1500]), (x[1500:], y[1500:]),
        workdir=tmp_path, reporter=RecordingReporter(), started=time.monotonic(),
    )  # fmt: skip
    searched.guard.seconds[1] = searched.guard.training_seconds[1] = 1e-4

    # when it is trained again with its price's end as its only limit, it is cut and dropped
    assert searched.refit(1, (x, y), until=time.monotonic() + 0.05) is None
    # and when it may run on to a later stop, the refit is kept
    now = time.monotonic()
    kept = searched.refit(1, (x, y), until=now + 0.05, stop=now + 120)
    assert kept is not None
    assert len(kept) == 1
    assert time.monotonic() - now > 0.05  # it did run past its price
