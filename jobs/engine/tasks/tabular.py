"""Tables: binary, multiclass and regression targets over the tabular MLP and ResNet space,
started from a portfolio of known good configurations, with the chosen trials trained again
on the validation rows when the budget allows, then one evaluation on the test split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from jobs.engine.column_specs import (
    SKEW_LIMIT,
    ColumnSpec,
    fit_column_specs,
    log_stats,
    skewness,
)
from jobs.engine.config import SearchConfig
from jobs.engine.data import infer_column_type
from jobs.engine.encoding import TabularEncoder, encode_frame, tabular_body
from jobs.engine.evaluation import evaluate as evaluate_metrics
from jobs.engine.evaluation import permutation_importance
from jobs.engine.layers import compiled_head
from jobs.engine.runner import predict_outputs
from jobs.engine.space import SearchSpace, batch_sizes
from jobs.engine.split import class_weights, index_labels, split_by_target
from jobs.engine.task import Ensembling, Prepared, Task

# Where the tabular search starts: a residual network on piecewise-linear encodings with
# repeating whole numbers embedded level by level (the best first trial measured on real
# tables, bench/engine_real.py), a wide two-layer MLP on quantile-shaped inputs, a deeper
# regularised MLP, a small fast one.
TABULAR_PORTFOLIO: list[dict[str, Any]] = [
    {"architecture": "resnet", "numeric_encoding": "ple", "units": 128, "dropout": 0.2,
     "level_encoding": "embedding"},
    {},
    {"units": 512, "layers": 3, "dropout": 0.3, "learning_rate": 3e-4, "weight_decay": 1e-4},
    {"numeric_encoding": "standard", "categorical_encoding": "onehot", "units": 128,
     "layers": 1, "dropout": 0.0, "learning_rate": 3e-3},
]  # fmt: skip


@dataclass(frozen=True)
class TargetStats:
    """A regression target's training statistics, plain and on a log scale."""

    mean: float = 0.0
    std: float = 1.0
    log_mean: float = 0.0
    log_std: float = 1.0
    skewed: bool = False
    # Never below zero: a log scale is worth trying (prices, wages: multiplicative effects).
    positive: bool = False

    @classmethod
    def of(cls, y_train: np.ndarray) -> TargetStats:
        y = y_train.astype("float64")
        mean, std = float(y.mean()), float(y.std() or 1.0)
        if len(y) < 3 or y.min() < 0:
            return cls(mean, std)
        log_mean, log_std = log_stats(y)
        skewed = skewness(y) > SKEW_LIMIT
        return cls(mean, std, log_mean, log_std, skewed=skewed, positive=True)

    def stats(self, transform: str) -> tuple[float, float]:
        return (self.log_mean, self.log_std) if transform == "log" else (self.mean, self.std)


@dataclass(kw_only=True)
class TableData(Prepared):
    specs: list[ColumnSpec]
    target: TargetStats = field(default_factory=TargetStats)


def prepare(frame: pd.DataFrame, config: SearchConfig) -> TableData:
    """A stratified split; column statistics and the target's from the training rows only."""
    frame = frame[frame[config.target].notna()].reset_index(drop=True)
    features = [str(c) for c in frame.columns if c != config.target]
    types = {name: infer_column_type(frame[name]) for name in features}
    train, val, test = split_by_target(frame, config)
    specs = fit_column_specs(train, types)
    labels: list[str] = []
    target = TargetStats()
    if config.task_type == "regression":
        y_all = frame[config.target].to_numpy(dtype="float32")
        target = TargetStats.of(train[config.target].to_numpy(dtype="float64"))
    else:
        labels, y_all = index_labels(frame[config.target])

    def part(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return encode_frame(specs, rows), y_all[rows.index.to_numpy()]

    parts = part(train), part(val), part(test)
    return TableData(
        train=parts[0],
        validation=parts[1],
        test=parts[2],
        splits=(train, val, test),
        labels=labels,
        class_weight=class_weights(config, parts[0][1], len(labels)),
        specs=specs,
        target=target,
    )


def hypermodel(data: TableData, config: SearchConfig) -> SearchSpace:
    encoder_config = [s.to_config() for s in data.specs]
    target = data.target

    def build(hp: kt.HyperParameters) -> keras.Model:
        inputs, x = tabular_body(hp, encoder_config)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        weight_decay = hp.Choice("weight_decay", [0.0, 1e-5, 1e-4, 1e-3], default=1e-5)
        transform = "none"
        if target.positive:
            # A skewed target starts on the log scale, any other positive one on its own.
            order = ["log", "none"] if target.skewed else ["none", "log"]
            transform = hp.Choice("target_transform", order)
        mean, std = target.stats(transform)
        return compiled_head(
            inputs,
            x,
            config.task_type,
            data.labels,
            learning_rate,
            mean,
            std,
            weight_decay=weight_decay,
            target_transform=transform,
        )

    n_train = len(data.train[1])
    return SearchSpace(build, batch_sizes=batch_sizes(n_train), portfolio=TABULAR_PORTFOLIO)


def evaluate(data: TableData, config: SearchConfig, model: keras.Model) -> dict[str, Any]:
    """Test metrics, and how much each column matters to them (permutation importance)."""
    x_test, y_test = data.test
    # In batches of 1024 (predict_outputs), as permutation_importance predicts: Keras' default
    # of 32 took 1.3 s of the finish on CPS1988's 5,600 test rows, kept from the search.
    outputs = predict_outputs(model, x_test)
    metrics = evaluate_metrics(config.task_type, y_test, outputs, data.labels)
    metrics["feature_importance"] = permutation_importance(
        model, x_test, y_test, config.task_type, [s.name for s in data.specs], seed=config.seed
    )
    return metrics


TASK = Task(
    name="tables",
    reads="table",
    handles=lambda config: (
        not config.text_column and config.task_type in ("binary", "multiclass", "regression")
    ),
    prepare=prepare,
    hypermodel=hypermodel,
    evaluate=evaluate,
    input_layer=TabularEncoder,
    # The average of the best trials, under ClassLabels for classes.
    ensembling=lambda data: Ensembling(),
    objective=lambda config: "val_mse" if config.task_type == "regression" else "val_loss",
    refit=True,
)
