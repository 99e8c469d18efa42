"""Tables: binary, multiclass and regression targets over the tabular MLP and ResNet space,
started from a portfolio of known good configurations, with the chosen trials trained again
on the validation rows when the budget allows, then one evaluation on the test split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.data import TaskType, infer_column_type
from jobs.engine.encoding import TabularEncoder, encode_frame, fit_column_specs, tabular_body
from jobs.engine.ensemble import build_ensemble, choose
from jobs.engine.evaluation import evaluate, permutation_importance
from jobs.engine.layers import compiled_head
from jobs.engine.results import Reporter, SearchResult
from jobs.engine.split import class_weights, index_labels, split_by_target
from jobs.engine.task import Task
from jobs.engine.tuning import FINISH_SHARE, REFIT_SHARE, SearchSpace, batch_sizes, tune

# Where the tabular search starts: a wide two-layer MLP on quantile-shaped inputs, a residual
# network on piecewise-linear encodings, a deeper regularised MLP, a small fast one.
TABULAR_PORTFOLIO: list[dict[str, Any]] = [
    {},
    {"architecture": "resnet", "numeric_encoding": "ple", "units": 128, "dropout": 0.2},
    {"units": 512, "layers": 3, "dropout": 0.3, "learning_rate": 3e-4, "weight_decay": 1e-4},
    {"numeric_encoding": "standard", "categorical_encoding": "onehot", "units": 128,
     "layers": 1, "dropout": 0.0, "learning_rate": 3e-3},
]  # fmt: skip


def hypermodel(
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


def search(
    frame: pd.DataFrame, config: SearchConfig, *, workdir: Path, reporter: Reporter
) -> SearchResult:
    """Search, keep the best trial's weights, and evaluate them once on the test split."""
    started = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    frame = frame[frame[config.target].notna()].reset_index(drop=True)
    features = [str(c) for c in frame.columns if c != config.target]
    types = {name: infer_column_type(frame[name]) for name in features}
    train, val, test = split_by_target(frame, config)
    specs = fit_column_specs(train, types)
    encoder_config = [s.to_config() for s in specs]

    labels: list[str] = []
    target = TargetStats()
    if config.task_type == "regression":
        y_all = frame[config.target].to_numpy(dtype="float32")
        target = TargetStats.of(train[config.target].to_numpy(dtype="float64"))
    else:
        labels, y_all = index_labels(frame[config.target])

    def targets(part: pd.DataFrame) -> np.ndarray:
        return y_all[part.index.to_numpy()]

    x_train, x_val, x_test = (encode_frame(specs, p) for p in (train, val, test))
    weights = class_weights(config, targets(train), len(labels))
    searched = tune(
        config,
        hypermodel(encoder_config, config.task_type, labels, target, len(train)),
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


TASK = Task(
    name="tables",
    reads="table",
    handles=lambda config: (
        not config.text_column and config.task_type in ("binary", "multiclass", "regression")
    ),
    search=search,
    input_layer=TabularEncoder,
)
