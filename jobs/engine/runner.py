"""What the tasks beyond tables share: targets and output heads per kind of target (classes,
a value, a set of labels), and one search followed by one evaluation on the test split.

Core: imports no task. The text, multi-label and forecasting tasks build their own inputs and
hypermodels and hand them to `run_with`; tuning, reporting, time limits and cancellation are
`jobs.engine.tuning.tune`'s, as for tables and images, so every task behaves alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.data import TaskType
from jobs.engine.ensemble import choose
from jobs.engine.evaluation import evaluate, evaluate_multilabel
from jobs.engine.layers import MultiLabels, compiled_head
from jobs.engine.results import Reporter, SearchResult
from jobs.engine.split import index_labels
from jobs.engine.task_data import detect_delimiter, label_matrix, parse_label_sets
from jobs.engine.tuning import tune


@dataclass(frozen=True)
class Ensembling:
    """How a task averages its best trials: its validation loss, and the model it builds."""

    loss: Callable[[np.ndarray, np.ndarray], float]
    build: Callable[[Sequence[keras.Model]], keras.Model]


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


def _default_predict(model: keras.Model, x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(model.predict(x, verbose=0, batch_size=1024)))


def run_with(
    config: SearchConfig,
    *,
    hypermodel: Any,
    train: tuple[Any, np.ndarray],
    validation: tuple[Any, np.ndarray],
    test: tuple[Any, np.ndarray],
    score: Callable[[np.ndarray, np.ndarray], dict[str, Any]],
    splits: Sequence[pd.DataFrame],
    workdir: Path,
    reporter: Reporter,
    started: float,
    predict: Callable[[keras.Model, Any], np.ndarray] = _default_predict,
    class_weight: dict[int, float] | None = None,
    ensemble: Ensembling | None = None,
) -> SearchResult:
    """Search, keep the best trial's weights (or the average of the best few, when `ensemble`
    says how and it beats them on validation), and score that once on the test split."""
    searched = tune(
        config,
        hypermodel,
        train,
        validation,
        workdir=workdir,
        reporter=reporter,
        started=started,
        class_weight=class_weight,
        keep=config.ensemble_size if ensemble is not None else 1,
    )
    members = searched.models()
    model, report = members[0], {"size": 1, "chosen": False}
    if ensemble is not None:
        model, report = choose(
            config.task_type,
            members,
            validation[0],
            validation[1],
            [],
            loss=ensemble.loss,
            build=ensemble.build,
        )
    return searched.result(
        model=model,
        ensemble=report,
        test_metrics=score(test[1], predict(model, test[0])),
        sizes=(len(train[1]), len(validation[1]), len(test[1])),
        splits=splits,
        class_weights=class_weight,
    )
