"""A Keras Tuner search over a small MLP space, then one evaluation on the held-out test split."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import logging
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from jobs.engine import checkpoint
from jobs.engine.config import SearchConfig
from jobs.engine.data import TaskType, infer_column_type
from jobs.engine.ensemble import build_ensemble, choose
from jobs.engine.evaluation import evaluate, permutation_importance
from jobs.engine.model import (
    CATEGORICAL_ENCODINGS,
    NUMERIC_ENCODINGS,
    TabularEncoder,
    compiled_head,
    encode_frame,
    fit_column_specs,
)

logger = logging.getLogger(__name__)


class Reporter(Protocol):
    def trial_started(self, number: int, hyperparameters: dict[str, Any]) -> None: ...

    def epoch_end(self, number: int, epoch: int, metrics: dict[str, float]) -> None: ...

    def trial_finished(
        self,
        number: int,
        status: str,
        score: float | None,
        hyperparameters: dict[str, Any],
        error: str = "",
    ) -> None: ...

    def cancelled(self) -> bool:
        """Asked between batches (at most about once a second): should the search stop now?"""
        ...


class SearchStopped(Exception):
    """The search was cancelled before any trial completed an epoch: there is no model."""


@dataclass
class SearchResult:
    model: keras.Model
    test_metrics: dict[str, Any]
    hyperparameters: dict[str, Any]
    best_trial: int
    n_train: int
    n_validation: int
    n_test: int
    seconds: float
    stopped: str  # "" when the search ran to its end, else "time_limit" or "cancelled"
    source: str  # "best_trial_weights" or "ensemble_top<k>": what the model file holds
    ensemble: dict[str, Any]
    class_weights: dict[int, float] | None
    manifest: dict[str, Any]


def _split(
    frame: pd.DataFrame, config: SearchConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    classify = config.task_type != "regression"
    strat = frame[config.target].astype(str) if classify else None
    rest, test = train_test_split(
        frame, test_size=config.test_fraction, random_state=config.seed, stratify=strat
    )
    strat = rest[config.target].astype(str) if classify else None
    val_share = config.validation_fraction / (1 - config.test_fraction)
    train, val = train_test_split(
        rest, test_size=val_share, random_state=config.seed, stratify=strat
    )
    return train, val, test


class _Guard(keras.callbacks.Callback):
    """Reports epochs and enforces the time budget and cancellation inside `fit`.

    Checked between batches (about once a second), not only at epoch ends: one epoch of a
    slow model on a large set can take minutes. A trial whose first epoch alone would not fit
    in what is left of the budget is cut short once another trial has finished, so the budget
    goes to models that can finish.
    """

    # Keras Tuner deep-copies callbacks for every trial; the reporter must stay shared.
    def __init__(self, reporter: Reporter, deadline: float | None) -> None:
        super().__init__()
        self.reporter = reporter
        self.deadline = deadline
        self.trial_number = 0
        self.stopped = ""
        self.any_finished = False
        self.skipped: set[int] = set()
        # Per trial number: epochs run and seconds spent, to price a refit of it.
        self.epochs: dict[int, int] = {}
        self.seconds: dict[int, float] = {}
        self._next_cancel_check = 0.0
        self._epoch = 0
        self._epoch_started = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> _Guard:
        return self

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._epoch_started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.monotonic()
        if now < self._next_cancel_check:
            return
        self._next_cancel_check = now + 1.0
        if self.reporter.cancelled():
            self.stopped = "cancelled"
        elif self.deadline is not None and now >= self.deadline:
            self.stopped = "time_limit"
        elif self._epoch == 0 and self.any_finished and self.deadline is not None:
            steps = (self.params or {}).get("steps") or 0
            estimate = (now - self._epoch_started) / (batch + 1) * steps
            if estimate > self.deadline - now:
                self.skipped.add(self.trial_number)
                self.model.stop_training = True
        if self.stopped:
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values = {k: float(np.asarray(v)) for k, v in (logs or {}).items() if np.isscalar(v)}
        self.epochs[self.trial_number] = epoch + 1
        self.reporter.epoch_end(self.trial_number, epoch + 1, values)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = self.stopped or "time_limit"
        if self.stopped:
            self.model.stop_training = True


class _Quiet(keras.callbacks.Callback):
    """A guard's budget and cancellation checks, without reporting epochs as a trial's."""

    def __init__(self, guard: _Guard) -> None:
        super().__init__()
        self.guard = guard

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.guard.set_model(self.model)
        self.guard.on_train_batch_end(batch, logs)


class _Stop(Exception):
    pass


def _reason(message: str | None) -> str:
    """The exception line of a failed trial's traceback, e.g. an out-of-memory error."""
    lines = [line for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else "The trial failed without a message."


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
            guard: _Guard,
            max_trials_started: int,
            state: checkpoint.TunerState | None = None,
            **kwargs: Any,
        ):
            # Before the base class, which reloads a saved project (and so these numbers).
            self._numbers: dict[str, int] = {}
            super().__init__(*args, **kwargs)
            self._reporter = reporter
            self._guard = guard
            self._state = state
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

        def on_trial_begin(self, trial: Any) -> None:
            if len(self._numbers) >= self._max_started:
                raise _Stop
            if self._reporter.cancelled():
                self._guard.stopped = "cancelled"
            if self._guard.stopped or (
                self._guard.deadline is not None and time.monotonic() >= self._guard.deadline
            ):
                self._guard.stopped = self._guard.stopped or "time_limit"
                raise _Stop
            super().on_trial_begin(trial)
            number = self._numbers.setdefault(trial.trial_id, len(self._numbers) + 1)
            self._trial_started = time.monotonic()
            self._guard.trial_number = number
            self._reporter.trial_started(number, dict(trial.hyperparameters.values))

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            self._guard.any_finished = True
            number = self._numbers[trial.trial_id]
            self._guard.seconds[number] = time.monotonic() - self._trial_started
            # Freeing between trials keeps memory flat across a long search, and lets the
            # next trial run after one that ran out of memory.
            keras.backend.clear_session()
            gc.collect()
            _empty_device_cache()
            failed = str(trial.status) in ("FAILED", "INVALID")
            score = None if trial.score is None or failed else float(trial.score)
            self._reporter.trial_finished(
                self._numbers[trial.trial_id],
                "FAILED" if failed else str(trial.status),
                score,
                dict(trial.hyperparameters.values),
                _reason(trial.message) if failed else "",
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


class SearchSpace(kt.HyperModel):
    """A hypermodel from a build function, with the batch size searched as well.

    portfolio: the first trials' values, as changes to the defaults (see _with_portfolio).
    """

    def __init__(
        self,
        build: Any,
        *,
        batch_sizes: Sequence[int] = (),
        portfolio: Sequence[dict[str, Any]] = (),
    ) -> None:
        super().__init__()
        self._build = build
        self.batch_sizes = list(batch_sizes)
        self.portfolio = list(portfolio)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return self._build(hp)

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        if self.batch_sizes:
            default = self.batch_sizes[len(self.batch_sizes) // 2]
            kwargs["batch_size"] = hp.Choice("batch_size", self.batch_sizes, default=default)
        return model.fit(*args, **kwargs)


def batch_sizes(n_train: int) -> list[int]:
    """The three largest powers of two that still give about ten steps an epoch."""
    fits = [size for size in (16, 32, 64, 128, 256, 512, 1024) if n_train / size >= 10]
    return (fits or [16])[-3:]


def patience(n_train: int) -> int:
    """Epochs without improvement before a trial stops: small sets have noisy validation
    losses and cheap epochs, large ones take many steps an epoch."""
    return int(np.clip(round(40 / np.log10(max(n_train, 10))), 5, 20))


# Where the tabular search starts: a wide two-layer MLP on quantile-shaped inputs, a residual
# network on piecewise-linear encodings, a deeper regularised MLP, a small fast one.
TABULAR_PORTFOLIO: list[dict[str, Any]] = [
    {},
    {"architecture": "resnet", "numeric_encoding": "ple", "units": 128, "dropout": 0.2},
    {"units": 512, "layers": 3, "dropout": 0.3, "learning_rate": 3e-4, "weight_decay": 1e-4},
    {"numeric_encoding": "standard", "categorical_encoding": "onehot", "units": 128,
     "layers": 1, "dropout": 0.0, "learning_rate": 3e-3},
]  # fmt: skip


def tabular_body(hp: kt.HyperParameters, encoder_config: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The tabular input and its network: shared by every head that reads a table."""
    inputs = keras.Input(shape=(len(encoder_config),), name="features")
    has_categorical = any(c["type"] == "categorical" for c in encoder_config)
    encoder = TabularEncoder(
        encoder_config,
        numeric=hp.Choice("numeric_encoding", list(NUMERIC_ENCODINGS)),
        categorical=hp.Choice("categorical_encoding", list(CATEGORICAL_ENCODINGS))
        if has_categorical
        else "onehot",
        name="tabular_encoder",
    )
    x = encoder(inputs)
    units = hp.Choice("units", [64, 128, 256, 512], default=256)
    layers = hp.Int("layers", 1, 4, default=2)
    dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.1)
    if hp.Choice("architecture", ["mlp", "resnet"]) == "resnet":
        # Gorishniy et al. (2021)'s ResNet for tables: normalised residual blocks.
        x = keras.layers.Dense(units)(x)
        for _ in range(layers):
            h = keras.layers.BatchNormalization()(x)
            h = keras.layers.Dense(units * 2, "relu")(h)
            h = keras.layers.Dropout(dropout)(h)
            h = keras.layers.Dense(units)(h)
            x = keras.layers.Add()([x, keras.layers.Dropout(dropout)(h)])
        x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
        return inputs, x
    for _ in range(layers):
        x = keras.layers.Dense(units, "relu")(x)
        x = keras.layers.Dropout(dropout)(x)
    return inputs, x


def _hypermodel(
    encoder_config: list[dict[str, Any]],
    task_type: TaskType,
    labels: list[str],
    target: TargetStats,
    n_train: int,
) -> SearchSpace:
    def build(hp: kt.HyperParameters) -> keras.Model:
        inputs, x = tabular_body(hp, encoder_config)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        weight_decay = hp.Choice("weight_decay", [0.0, 1e-5, 1e-4, 1e-3], default=1e-5)
        transform = "none"
        if target.skewed:
            transform = hp.Choice("target_transform", ["log", "none"])
        mean, std = target.stats(transform)
        return compiled_head(
            inputs,
            x,
            task_type,
            labels,
            learning_rate,
            mean,
            std,
            weight_decay=weight_decay,
            target_transform=transform,
        )

    return SearchSpace(build, batch_sizes=batch_sizes(n_train), portfolio=TABULAR_PORTFOLIO)


@dataclass(frozen=True)
class TargetStats:
    """A regression target's training statistics, plain and on a log scale."""

    mean: float = 0.0
    std: float = 1.0
    log_mean: float = 0.0
    log_std: float = 1.0
    skewed: bool = False

    @classmethod
    def of(cls, y_train: np.ndarray) -> TargetStats:
        y = y_train.astype("float64")
        mean, std = float(y.mean()), float(y.std() or 1.0)
        if len(y) < 3 or y.min() < 0:
            return cls(mean, std)
        skew = float(np.mean(((y - mean) / std) ** 3))
        logged = np.log1p(y)
        return cls(mean, std, float(logged.mean()), float(logged.std() or 1.0), skew > 1.0)

    def stats(self, transform: str) -> tuple[float, float]:
        return (self.log_mean, self.log_std) if transform == "log" else (self.mean, self.std)


def run_search(
    frame: pd.DataFrame, config: SearchConfig, *, workdir: Path, reporter: Reporter
) -> SearchResult:
    """Search, keep the best trial's weights, and evaluate them once on the test split."""
    # Other inputs and targets have their own modules; this function keeps the tabular case.
    if config.task_type == "forecasting":
        from jobs.engine.forecast import run_forecast_search

        return run_forecast_search(frame, config, workdir=workdir, reporter=reporter)
    if config.text_column:
        from jobs.engine.text import run_text_search

        return run_text_search(frame, config, workdir=workdir, reporter=reporter)
    if config.task_type == "multilabel":
        from jobs.engine.multilabel import run_multilabel_search

        return run_multilabel_search(frame, config, workdir=workdir, reporter=reporter)
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    frame = frame[frame[config.target].notna()].reset_index(drop=True)
    features = [str(c) for c in frame.columns if c != config.target]
    types = {name: infer_column_type(frame[name]) for name in features}
    train, val, test = _split(frame, config)
    specs = fit_column_specs(train, types)
    encoder_config = [s.to_config() for s in specs]

    labels: list[str] = []
    target = TargetStats()
    if config.task_type == "regression":
        y_all = frame[config.target].to_numpy(dtype="float32")
        target = TargetStats.of(train[config.target].to_numpy(dtype="float64"))
    else:
        labels = sorted({str(v) for v in frame[config.target]})
        index = {label: i for i, label in enumerate(labels)}
        y_all = frame[config.target].astype(str).map(index).to_numpy(dtype="float32")

    def targets(part: pd.DataFrame) -> np.ndarray:
        return y_all[part.index.to_numpy()]

    x_train, x_val, x_test = (encode_frame(specs, p) for p in (train, val, test))
    weights = _class_weights(config, targets(train), len(labels))
    searched = tune(
        config,
        _hypermodel(encoder_config, config.task_type, labels, target, len(train)),
        (x_train, targets(train)),
        (x_val, targets(val)),
        workdir=workdir,
        reporter=reporter,
        started=started,
        class_weight=weights,
        keep=config.ensemble_size,
        objective="val_mse" if config.task_type == "regression" else "val_loss",
        reserve=FINISH_SHARE + REFIT_SHARE,
    )
    model, report = choose(config.task_type, searched.models(), x_val, targets(val), labels)
    count = report["size"] if report["chosen"] else 1
    until = float("inf")
    if config.max_seconds is not None:
        until = started + config.max_seconds * (1 - FINISH_SHARE)
    both = (np.concatenate([x_train, x_val]), np.concatenate([targets(train), targets(val)]))
    refit = searched.refit(count, both, until=until, class_weight=weights)
    report["refit"] = refit is not None
    if refit is not None:
        model = refit[0] if count == 1 else build_ensemble(refit, labels, shape=x_val.shape[1:])
    outputs = keras.ops.convert_to_numpy(model.predict(x_test, verbose=0))
    test_metrics = evaluate(config.task_type, targets(test), outputs, labels)
    test_metrics["feature_importance"] = permutation_importance(
        model, x_test, targets(test), config.task_type, [s.name for s in specs], seed=config.seed
    )
    return searched.result(
        model=model,
        ensemble=report,
        test_metrics=test_metrics,
        sizes=(len(train), len(val), len(test)),
        splits=(train, val, test),
        class_weights=weights,
    )


def make_tuner(
    config: SearchConfig,
    hypermodel: Any,
    *,
    workdir: Path,
    reporter: Reporter,
    guard: _Guard,
    objective: str = "val_loss",
) -> Any:
    """The configured Keras Tuner, reporting trials and epochs, for any hypermodel.

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


# What a search leaves of its budget for what follows it: choosing an ensemble, scoring on
# the test split, permutation importance and saving.
FINISH_SHARE = 0.1
# What the tabular search also keeps for training its chosen trials again on the validation
# rows (Searched.refit); unused when the refit would not fit, and then lost to the search.
REFIT_SHARE = 0.15


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
    reserve: float = FINISH_SHARE,
) -> Searched:
    """Search within the job's time budget; keep the best `keep` completed trials (best first).

    Each trial trains until its validation loss stops improving (patience scaled to the
    data), with the learning rate cut on plateaus; the tuner keeps its best epoch's weights.
    SearchStopped when no trial completed: cancelled early, or every trial failed.
    """
    deadline = None
    if config.max_seconds is not None:
        deadline = started + config.max_seconds * (1 - reserve)
    guard = _Guard(reporter, deadline)
    tuner = make_tuner(
        config, hypermodel, workdir=workdir, reporter=reporter, guard=guard, objective=objective
    )
    wait = patience(len(train[1]))
    callbacks = [
        guard,
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=wait),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.3, patience=max(2, wait // 3), min_lr=1e-6
        ),
    ]
    fit_kwargs: dict[str, Any] = {}
    if not getattr(hypermodel, "batch_sizes", None):
        fit_kwargs["batch_size"] = config.batch_size
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
    guard: _Guard
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
        class_weight: dict[int, float] | None = None,
    ) -> list[keras.Model] | None:
        """The best `count` trials trained again on `fit` (training and validation rows) for
        as many epochs as each needed to reach its best validation score.

        A model chosen on validation rows never learned from them: on a small table that is
        a quarter of what it could learn from. None when the refits would not end by `until`
        (monotonic seconds) or the job was cancelled meanwhile.
        """
        trials = self.ranked[:count]
        numbers = [self.tuner._numbers.get(t.trial_id, 0) for t in trials]
        share = len(fit[1]) / max(1, self.n_train)
        needed = sum(
            self.guard.seconds.get(n, 0.0)
            * (t.best_step + 1)
            / max(1, self.guard.epochs.get(n, 1))
            * share
            for t, n in zip(trials, numbers, strict=True)
        )
        if any(n not in self.guard.seconds for n in numbers) or time.monotonic() + needed > until:
            return None
        refit = _Guard(self.guard.reporter, until)
        refit.trial_number = -1
        models = []
        for trial in trials:
            hp = trial.hyperparameters
            model = self.tuner.hypermodel.build(hp)
            model.fit(
                *fit,
                epochs=trial.best_step + 1,
                batch_size=hp.values.get("batch_size", self.config.batch_size),
                class_weight=class_weight,
                callbacks=[_Quiet(refit)],
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
            manifest=_manifest(self.config, tuple(splits), self.tuner),
        )


RARE_CLASS_SHARE = 0.05


def _class_weights(
    config: SearchConfig, y_train: np.ndarray, n_classes: int
) -> dict[int, float] | None:
    """Balanced class weights, on by default only when the rarest class is under 5% of rows.

    Weights trade accuracy and calibrated probabilities for recall on the rare class: worth it
    by default only where a plain model would learn to never predict that class.
    """
    if config.task_type == "regression" or config.class_weights is False:
        return None
    counts = np.bincount(y_train.astype(int), minlength=n_classes)
    if config.class_weights is None and counts.min() / counts.sum() >= RARE_CLASS_SHARE:
        return None
    return {i: float(counts.sum() / (n_classes * max(c, 1))) for i, c in enumerate(counts)}


def _manifest(config: SearchConfig, splits: tuple[pd.DataFrame, ...], tuner: Any) -> dict[str, Any]:
    """What a rerun needs to give the same trials on the same machine."""
    digest = hashlib.sha256()
    for part in splits:
        digest.update(np.asarray(part.index, dtype="int64").tobytes())
        digest.update(b"|")
    backend = keras.backend.backend()
    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_tuner": kt.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        backend: importlib.import_module(backend).__version__,
    }
    return {
        "seed": config.seed,
        "tuner": config.tuner,
        "max_trials": config.max_trials,
        "max_epochs": config.max_epochs,
        "max_seconds": config.max_seconds,
        "batch_size": config.batch_size,
        "split": {
            "test_fraction": config.test_fraction,
            "validation_fraction": config.validation_fraction,
            "indices_sha256": digest.hexdigest(),
        },
        "search_space": tuner.oracle.hyperparameters.get_config(),
        "backend": backend,
        "versions": versions,
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "gpus": gpu_names(backend),
        },
    }


def gpu_names(backend: str | None = None) -> list[str]:
    """The accelerators this process trains on; empty on a CPU worker."""
    backend = backend or keras.backend.backend()
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []
