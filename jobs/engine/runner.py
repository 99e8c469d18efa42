"""Every task's search, run the same way (`run_task`), and what tasks share for their targets:
output heads and test metrics per kind of target (classes, a value, a set of labels).

Core: imports no task; a task is handed in as its `task.Task` record. Tuning, reporting, time
limits and cancellation are `jobs.engine.tuning.tune`'s, so every task behaves alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.data import TaskType
from jobs.engine.ensemble import build_ensemble, choose
from jobs.engine.evaluation import evaluate, evaluate_multilabel
from jobs.engine.guard import Guard, median_warmup
from jobs.engine.layers import MultiLabels, compiled_head
from jobs.engine.pool import run_ticket
from jobs.engine.reporting import Reporter
from jobs.engine.results import SearchResult
from jobs.engine.split import index_labels
from jobs.engine.task import Prepared, Task
from jobs.engine.task_data import detect_delimiter, label_matrix, parse_label_sets
from jobs.engine.tickets import POLL_SECONDS, TrialPool, TrialSource
from jobs.engine.tuning import (
    REFIT_SHARE,
    Searched,
    finish_seconds,
    finish_starts,
    fit_options,
    trial_callbacks,
    tune,
)


@dataclass
class Targets:
    """The target of every row of a frame, in the form the network learns."""

    task_type: TaskType
    y: np.ndarray  # class index, value, or one 0/1 column per label, one row per frame row
    labels: list[str] = field(default_factory=list)
    mean: float = 0.0
    std: float = 1.0
    delimiter: str = ""

    def of(self, part: pd.DataFrame) -> np.ndarray:
        return self.y[part.index.to_numpy()]


def prepare_targets(frame: pd.DataFrame, config: SearchConfig, train_index: Any) -> Targets:
    """Targets for a frame whose index is 0..n-1; statistics from the training rows only."""
    series = frame[config.target]
    if config.task_type == "regression":
        y = series.to_numpy(dtype="float32")
        y_train = y[np.asarray(train_index)]
        return Targets("regression", y, mean=float(y_train.mean()), std=float(y_train.std() or 1.0))
    if config.task_type == "multilabel":
        delimiter = config.label_delimiter or detect_delimiter(series)
        sets = parse_label_sets(series, delimiter)
        labels = sorted(set().union(*sets))
        return Targets("multilabel", label_matrix(sets, labels), labels, delimiter=delimiter)
    labels, y = index_labels(series)
    return Targets(config.task_type, y, labels)


def add_head(inputs: Any, x: Any, targets: Targets, learning_rate: float) -> keras.Model:
    """The output layer, loss and metrics of a task, on top of any body; compiled."""
    if targets.task_type == "multilabel":
        x = keras.layers.Dense(len(targets.labels), activation="sigmoid")(x)
        outputs = MultiLabels(targets.labels, delimiter=targets.delimiter, name="multi_labels")(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            keras.optimizers.Adam(learning_rate),
            loss="binary_crossentropy",
            metrics=["binary_accuracy"],
        )
        return model
    # Forecasting heads are built by jobs.engine.tasks.forecast; a value here is a regression.
    task = "regression" if targets.task_type == "forecasting" else targets.task_type
    return compiled_head(inputs, x, task, targets.labels, learning_rate, targets.mean, targets.std)


def evaluate_outputs(targets: Targets, y_true: np.ndarray, outputs: np.ndarray) -> dict[str, Any]:
    if targets.task_type == "multilabel":
        return evaluate_multilabel(y_true, outputs, targets.labels)
    return evaluate(targets.task_type, y_true, outputs, targets.labels)


def predict_outputs(model: keras.Model, x: Any, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs on encoded inputs, as numpy."""
    return np.asarray(
        keras.ops.convert_to_numpy(model.predict(x, verbose=0, batch_size=batch_size))
    )


def run_task(
    task: Task,
    data: Any,
    config: SearchConfig,
    *,
    workdir: Path,
    reporter: Reporter,
    pool: TrialPool | None = None,
) -> SearchResult:
    """A task's search: prepare, tune, keep the best trial (or the average of the best few,
    when the task ensembles and that beats the best on validation), train it again on the
    validation rows when the task refits and the budget allows, and score it once on the
    test split. With a pool, trials also run in other processes (`serve_trials`)."""
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    prepared = task.prepare(data, config)
    ensembling = task.ensembling(prepared)
    searched = tune(
        config,
        task.hypermodel(prepared, config),
        prepared.train,
        prepared.validation,
        workdir=workdir,
        reporter=reporter,
        started=started,
        class_weight=prepared.class_weight,
        keep=config.ensemble_size if ensembling is not None else 1,
        objective=task.objective(config),
        refit_share=REFIT_SHARE if task.refit else 0.0,
        pool=pool,
    )
    members = searched.models()
    model, report = members[0], {"size": 1, "chosen": False}
    if ensembling is not None:
        model, report = choose(
            config.task_type,
            members,
            *prepared.validation,
            prepared.labels,
            input_name=ensembling.input_name,
            batch_size=ensembling.batch_size,
            loss=ensembling.loss,
            build=ensembling.build,
        )
    if task.refit:
        model, report["refit"] = _refit(searched, prepared, config, started, model, report)
    result = searched.result(
        model=model,
        ensemble=report,
        test_metrics=task.evaluate(prepared, config, model),
        sizes=(len(prepared.train[1]), len(prepared.validation[1]), len(prepared.test[1])),
        splits=prepared.splits,
        class_weights=prepared.class_weight,
    )
    result.manifest.update(prepared.manifest)
    return result


def serve_trials(
    task: Task,
    data: Any,
    config: SearchConfig,
    *,
    workdir: Path,
    reporter: Reporter,
    source: TrialSource,
) -> int:
    """A runner of a parallel search: prepare the data as the search's owner did (the same
    seed gives the same split), then train tickets from `source` until the search closes.
    Returns how many trials this process ran."""
    keras.utils.set_random_seed(config.seed)
    prepared = task.prepare(data, config)
    hypermodel = task.hypermodel(prepared, config)
    n_train = len(prepared.train[1])
    guard = Guard(reporter, None, objective=task.objective(config), warmup=median_warmup(n_train))
    callbacks = trial_callbacks(guard, prepared.train)
    ran = 0
    while not source.closed():
        ticket = source.claim()
        if ticket is None:
            time.sleep(POLL_SECONDS)
            continue
        weights = workdir / f"{ticket.number}.weights.h5"
        outcome = run_ticket(
            hypermodel, ticket, prepared.train, prepared.validation, guard=guard,
            callbacks=callbacks, objective=task.objective(config), epochs=config.max_epochs,
            weights=weights, class_weight=prepared.class_weight,
            fit_kwargs=fit_options(hypermodel, config),
        )  # fmt: skip
        source.complete(ticket, outcome, weights if weights.exists() else None)
        guard.stopped = ""
        ran += 1
    return ran


def _refit(
    searched: Searched,
    prepared: Prepared,
    config: SearchConfig,
    started: float,
    model: keras.Model,
    report: dict[str, Any],
) -> tuple[keras.Model, bool]:
    """The chosen trials trained on training and validation rows, if that ends in time."""
    count = report["size"] if report["chosen"] else 1
    until = stop = float("inf")
    if config.max_seconds is not None:
        until = finish_starts(started, config.max_seconds)
        # A refit that runs past its price may take half the finish's time (which the
        # finish of a table leaves mostly unused) before it is cut and thrown away.
        stop = until + finish_seconds(config.max_seconds) / 2
    (x_train, y_train), (x_val, y_val) = prepared.train, prepared.validation
    both = (np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]))
    refit = searched.refit(count, both, until=until, stop=stop, class_weight=prepared.class_weight)
    if refit is None:
        return model, False
    if count == 1:
        return refit[0], True
    return build_ensemble(refit, prepared.labels, shape=x_val.shape[1:]), True
