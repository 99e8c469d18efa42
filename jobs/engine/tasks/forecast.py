"""Time-series forecasting: the next `horizon` values of a numeric column from the last
`lookback` rows of it and of the other numeric columns (covariates).

Rows are put in time order by the timestamp column and split by time, never shuffled: the
first 60% of the rows train, the next 20% validate, the last 20% test. A window belongs to
the part that holds all of its target steps (its inputs may reach back into an earlier part:
that is the past); windows whose targets straddle two parts are left out.

The saved model takes a window of raw values (missing as NaN) and does the rest itself: its
`ForecastWindow` layer keeps the last `lookback` rows, fills missing values with the training
means and standardises them; a `Rescaling` layer answers in the target's units. The layer
also carries the column names, so `encode_records` checks prediction requests against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from keras import ops
from sklearn import metrics as skm

from jobs.engine.config import SearchConfig
from jobs.engine.data import (
    FLOAT32_MAX,
    DataError,
    column_to_float,
    finite_float,
    infer_column_type,
)
from jobs.engine.ensemble import build_ensemble
from jobs.engine.layers import RecordError, ServingInput, find_layer, refuse_binary
from jobs.engine.results import gpu_names
from jobs.engine.runner import predict_outputs
from jobs.engine.task import Ensembling, Prepared, Task
from jobs.engine.task_data import (
    covariates,
    lookback_choices,
    ordered,
    split_cuts,
)

MAX_HISTORY_ROWS = 10_000


@keras.saving.register_keras_serializable(package="automl")
class ForecastWindow(keras.layers.Layer, ServingInput):
    """Crops a window to the model's lookback, imputes missing values and standardises."""

    def __init__(
        self,
        columns: Sequence[Mapping[str, Any]],
        target: str,
        lookback: int,
        window: int,
        horizon: int,
        timestamp_column: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.columns: list[dict[str, Any]] = [
            {"name": str(c["name"]), "mean": float(c["mean"]), "std": float(c["std"])}
            for c in columns
        ]
        self.target = target
        self.lookback = int(lookback)
        self.window = int(window)
        self.horizon = int(horizon)
        self.timestamp_column = timestamp_column
        self._mean = np.array([c["mean"] for c in self.columns], dtype="float32")
        self._std = np.array([c["std"] for c in self.columns], dtype="float32")

    def call(self, inputs: Any) -> Any:
        values = inputs[:, self.window - self.lookback :, :]
        mean = ops.convert_to_tensor(self._mean)
        values = ops.where(ops.isnan(values), mean, values)
        return (values - mean) / ops.convert_to_tensor(self._std)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        return (input_shape[0], self.lookback, input_shape[2])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "columns": self.columns,
            "target": self.target,
            "lookback": self.lookback,
            "window": self.window,
            "horizon": self.horizon,
            "timestamp_column": self.timestamp_column,
        }

    def input_schema(self) -> list[dict[str, Any]]:
        return [{
            "name": "history",
            "type": "history",
            "lookback": self.lookback,
            "horizon": self.horizon,
            "target": self.target,
            "timestamp_column": self.timestamp_column,
            "columns": [{"name": c["name"], "type": "numeric"} for c in self.columns],
        }]  # fmt: skip

    def encode_records(self, records: Sequence[Any]) -> np.ndarray:
        return encode_history_records(self, records)

    def decode(self, outputs: np.ndarray) -> list[list[float]]:
        """The next `horizon` values of the target, nearest first."""
        return [[float(v) for v in row] for row in np.asarray(outputs).reshape(len(outputs), -1)]


def _record_error(message: str, row: int, field: str | None = None) -> RecordError:
    return RecordError(message, field=field, instance=row)


def encode_history_records(layer: ForecastWindow, records: Sequence[Any]) -> np.ndarray:
    """`{"history": [{column: value, ...}, ...]}` per instance, oldest row first."""
    names = [c["name"] for c in layer.columns]
    allowed = {*names, layer.timestamp_column} - {""}
    out = np.full((len(records), layer.window, len(names)), np.nan, dtype="float32")
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise _record_error(f'Instance {row} must be an object {{"history": [...]}}.', row)
        extra = [k for k in record if k != "history"]
        if extra:
            raise _record_error(
                f"Instance {row} has unknown field '{extra[0]}'; expected only 'history'.",
                row,
                str(extra[0]),
            )
        history = record.get("history")
        if not isinstance(history, list):
            raise _record_error(
                f"Instance {row} needs 'history': a list of the last {layer.lookback} rows "
                f"({', '.join(names)}), oldest first.",
                row,
                "history",
            )
        if not layer.lookback <= len(history) <= MAX_HISTORY_ROWS:
            raise _record_error(
                f"Instance {row}: 'history' has {len(history)} rows; the model needs at least "
                f"the last {layer.lookback} (at most {MAX_HISTORY_ROWS}).",
                row,
                "history",
            )
        for step, entry in enumerate(history[-layer.lookback :]):
            if not isinstance(entry, Mapping):
                raise _record_error(
                    f"Instance {row}: each row of 'history' must be an object of column: value.",
                    row,
                    "history",
                )
            unknown = [k for k in entry if k not in allowed]
            if unknown:
                raise _record_error(
                    f"Instance {row}: a row of 'history' has unknown field '{unknown[0]}'; "
                    f"expected {', '.join(names)}.",
                    row,
                    str(unknown[0]),
                )
            position = layer.window - layer.lookback + step
            for col, name in enumerate(names):
                if name not in entry:
                    raise _record_error(
                        f"Instance {row}: a row of 'history' is missing field '{name}'.", row, name
                    )
                value = entry[name]
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    refuse_binary(value, name, row, "a number")
                    raise _record_error(
                        f"Field '{name}' must be a number, got {value!r}.", row, name
                    )
                number = finite_float(value)
                if number is None:
                    raise _record_error(
                        f"Field '{name}' must be a finite number within ±{FLOAT32_MAX:.3g}.",
                        row,
                        name,
                    )
                out[row, position, col] = number
    return out


# Recurrent layers step through the window one row at a time. Measured on a 2-core CPU worker
# (one epoch of 4,000 windows, 64 units; docs/search-spaces.md): at 48 rows a GRU took 1.6x a
# CNN's time, at 168 rows 10x. Up to this window they stay in the search on a CPU; over it (a
# job's own longer lookback) they are drawn only where a GPU trains.
RECURRENT_CPU_LOOKBACK = 64


def _architectures(longest_lookback: int) -> list[str]:
    recurrent = bool(gpu_names()) or longest_lookback <= RECURRENT_CPU_LOOKBACK
    return ["mlp", "cnn", "rnn"] if recurrent else ["mlp", "cnn"]


def _body(hp: kt.HyperParameters, x: Any, architectures: list[str]) -> Any:
    architecture = hp.Choice("architecture", architectures)
    dropout = hp.Float("dropout", 0.0, 0.3, step=0.1)
    if architecture == "mlp":
        with hp.conditional_scope("architecture", ["mlp"]):
            layers, units = hp.Int("layers", 1, 2), hp.Choice("units", [32, 64, 128])
        x = keras.layers.Flatten()(x)
        for _ in range(layers):
            x = keras.layers.Dropout(dropout)(keras.layers.Dense(units, activation="relu")(x))
        return x
    if architecture == "cnn":
        with hp.conditional_scope("architecture", ["cnn"]):
            filters, kernel = hp.Choice("filters", [16, 32, 64]), hp.Choice("kernel_size", [2, 3])
        x = keras.layers.Conv1D(filters, kernel, padding="causal", activation="relu")(x)
        x = keras.layers.Conv1D(filters, kernel, padding="causal", activation="relu")(x)
        return keras.layers.Dropout(dropout)(keras.layers.GlobalAveragePooling1D()(x))
    with hp.conditional_scope("architecture", ["rnn"]):
        cell, units = hp.Choice("rnn_cell", ["gru", "lstm"]), hp.Choice("rnn_units", [16, 32, 64])
    layer = keras.layers.GRU(units) if cell == "gru" else keras.layers.LSTM(units)
    return keras.layers.Dropout(dropout)(layer(x))


def evaluate_forecast(y_true: np.ndarray, pred: np.ndarray, naive: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE and R² per step ahead and overall, beside the last-value baseline's."""

    def scores(t: np.ndarray, p: np.ndarray, n: np.ndarray) -> dict[str, float]:
        return {
            "rmse": float(np.sqrt(np.mean((t - p) ** 2))),
            "mae": float(np.mean(np.abs(t - p))),
            "r2": float(skm.r2_score(t, p)) if len(t) > 1 else float("nan"),
            "naive_rmse": float(np.sqrt(np.mean((t - n) ** 2))),
            "naive_mae": float(np.mean(np.abs(t - n))),
        }

    overall = scores(y_true.reshape(-1), pred.reshape(-1), naive.reshape(-1))
    steps = [
        {"step": i + 1, **scores(y_true[:, i], pred[:, i], naive[:, i])}
        for i in range(y_true.shape[1])
    ]
    return {**overall, "horizon": y_true.shape[1], "per_step": steps}


@dataclass(kw_only=True)
class Windows(Prepared):
    """Windows of `window` rows of the target and covariates, and the next `horizon` targets."""

    columns: list[dict[str, Any]]  # name, training mean and deviation: the target first
    lookbacks: list[int]
    window: int


def prepare(frame: pd.DataFrame, config: SearchConfig) -> Windows:
    """Rows in time order, windows split by time: train, then validation, then test."""
    horizon = config.horizon
    frame = ordered(frame, config.timestamp_column)
    names = [config.target, *covariates(frame, config.target, config.timestamp_column)]
    values = np.stack(
        [column_to_float(frame[n], infer_column_type(frame[n])) for n in names], axis=1
    ).astype("float32")
    n_rows = len(values)
    choices = [config.lookback] if config.lookback else lookback_choices(n_rows, horizon, config)
    window = max(choices)
    cut1, cut2 = split_cuts(n_rows, config)
    if cut1 - window - horizon + 1 < 2:
        raise DataError(
            f"Too few rows ({n_rows}) to forecast {horizon} step(s) from {window} row(s)."
        )
    fit = values[:cut1]
    means = np.nanmean(fit, axis=0)
    stds = np.nanstd(fit, axis=0)
    columns: list[dict[str, Any]] = [
        {"name": n, "mean": float(np.nan_to_num(m)), "std": float(s) if s > 1e-12 else 1.0}
        for n, m, s in zip(names, means, stds, strict=True)
    ]
    # Window t: inputs are rows t-window+1..t, targets rows t+1..t+horizon.
    ends = np.arange(window - 1, n_rows - horizon)
    x_all = np.stack([values[t - window + 1 : t + 1] for t in ends])
    y_all = np.stack([values[t + 1 : t + 1 + horizon, 0] for t in ends])
    ok = ~np.isnan(y_all).any(axis=1)
    first, last = ends + 1, ends + horizon
    parts = {
        "train": ok & (last < cut1),
        "validation": ok & (first >= cut1) & (last < cut2),
        "test": ok & (first >= cut2),
    }
    if not all(mask.any() for mask in parts.values()):
        raise DataError("Too few rows with a target value to split the series in time.")
    return Windows(
        train=(x_all[parts["train"]], y_all[parts["train"]]),
        validation=(x_all[parts["validation"]], y_all[parts["validation"]]),
        test=(x_all[parts["test"]], y_all[parts["test"]]),
        splits=[pd.DataFrame(index=ends[mask]) for mask in parts.values()],
        columns=columns,
        lookbacks=choices,
        window=window,
    )


def hypermodel(data: Windows, config: SearchConfig) -> Any:
    """MLP, CNN and GRU/LSTM forecasters over a searched lookback (recurrent ones on a CPU
    only over short windows)."""
    choices, window, columns = data.lookbacks, data.window, data.columns
    architectures = _architectures(max(choices))
    target_mean, target_std = columns[0]["mean"], columns[0]["std"]

    def build(hp: kt.HyperParameters) -> keras.Model:
        lookback = (
            hp.Choice("lookback", choices) if len(choices) > 1 else hp.Fixed("lookback", choices[0])
        )
        inputs = keras.Input(shape=(window, len(columns)), name="history")
        x = ForecastWindow(
            columns, config.target, lookback, window, config.horizon, config.timestamp_column,
            name="forecast_window",
        )(inputs)  # fmt: skip
        x = keras.layers.Dense(config.horizon)(_body(hp, x, architectures))
        outputs = keras.layers.Rescaling(target_std, offset=target_mean, name="target_scale")(x)
        model = keras.Model(inputs, outputs)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        model.compile(keras.optimizers.Adam(learning_rate), loss="mse", metrics=["mae"])
        return model

    return build


def evaluate(data: Windows, config: SearchConfig, model: keras.Model) -> dict[str, Any]:
    x_test, y_test = data.test
    outputs = predict_outputs(model, x_test)
    return evaluate_forecast(y_test, outputs.reshape(y_test.shape), naive(data, x_test))


def naive(data: Windows, x: np.ndarray) -> np.ndarray:
    """The last known target value in each window, repeated over the horizon."""
    horizon = data.test[1].shape[1]
    last_known = pd.DataFrame(x[:, :, 0].T).ffill().to_numpy()[-1]
    last_known = np.where(np.isnan(last_known), data.columns[0]["mean"], last_known)
    return np.repeat(last_known[:, None], horizon, axis=1)


def ensembling(data: Windows) -> Ensembling:
    return Ensembling(
        loss=lambda y, out: float(np.mean((y - out.reshape(y.shape)) ** 2)),
        build=lambda members: build_ensemble(
            # The member reading the longest history first: its window layer is the one the
            # input schema shows, so every caller sends enough rows for all members.
            sorted(members, key=lambda m: -find_layer(m, ForecastWindow).lookback),
            [],
            shape=(data.window, len(data.columns)),
            input_name="history",
        ),
    )


TASK = Task(
    name="forecasting",
    reads="table",
    handles=lambda config: config.task_type == "forecasting",
    prepare=prepare,
    hypermodel=hypermodel,
    evaluate=evaluate,
    input_layer=ForecastWindow,
    ensembling=ensembling,
)
