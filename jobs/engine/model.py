"""The tabular model: preprocessing that lives inside the saved file, and its input contract.

Under the torch and jax backends a tensor cannot hold strings, so the saved model takes one
float row per instance in which a categorical value is its index in a vocabulary. The
vocabularies, the imputation values, the normalisation statistics and the class labels are all
stored in the model's own layers, and `encode_records`/`encode_frame` read them back from the
model, so training, evaluation and serving cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import ops

from jobs.engine.data import ColumnType

MAX_VOCABULARY = 1000
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class RecordError(ValueError):
    """An instance sent for prediction does not match the model's input schema."""

    def __init__(self, message: str, *, field: str | None = None, instance: int | None = None):
        super().__init__(message)
        self.field = field
        self.instance = instance


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    mean: float = 0.0
    std: float = 1.0
    vocabulary: tuple[str, ...] = ()

    def to_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "mean": self.mean,
            "std": self.std,
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ColumnSpec:
        return cls(
            name=config["name"],
            type=config["type"],
            mean=float(config["mean"]),
            std=float(config["std"]),
            vocabulary=tuple(config["vocabulary"]),
        )


@keras.saving.register_keras_serializable(package="automl")
class TabularEncoder(keras.layers.Layer):
    """Imputes and normalises numeric columns and one-hot encodes categorical indices."""

    def __init__(self, columns: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = [ColumnSpec.from_config(c) for c in columns]
        self._numeric = [i for i, c in enumerate(self.columns) if c.type != "categorical"]
        self._categorical = [i for i, c in enumerate(self.columns) if c.type == "categorical"]
        self._mean = np.array([self.columns[i].mean for i in self._numeric], dtype="float32")
        self._std = np.array([self.columns[i].std for i in self._numeric], dtype="float32")

    def call(self, inputs: Any) -> Any:
        parts = []
        if self._numeric:
            values = ops.take(inputs, self._numeric, axis=1)
            mean = ops.convert_to_tensor(self._mean)
            values = ops.where(ops.isnan(values), mean, values)
            parts.append((values - mean) / ops.convert_to_tensor(self._std))
        for i in self._categorical:
            index = inputs[:, i]
            index = ops.cast(ops.where(ops.isnan(index), 0.0, index), "int32")
            parts.append(ops.one_hot(index, len(self.columns[i].vocabulary) + 1))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        width = len(self._numeric) + sum(
            len(self.columns[i].vocabulary) + 1 for i in self._categorical
        )
        return (input_shape[0], width)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "columns": [c.to_config() for c in self.columns]}


@keras.saving.register_keras_serializable(package="automl")
class ClassLabels(keras.layers.Layer):
    """Passes probabilities through unchanged; carries the class names in the saved file."""

    def __init__(self, labels: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.labels = [str(label) for label in labels]

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "labels": self.labels}


def fit_column_specs(frame: pd.DataFrame, types: Mapping[str, ColumnType]) -> list[ColumnSpec]:
    """Statistics of the training split only, so validation and test stay unseen."""
    specs = []
    for name, kind in types.items():
        series = frame[name]
        if kind == "categorical":
            counts = series.dropna().astype(str).value_counts()
            vocabulary = tuple(sorted(counts.index[:MAX_VOCABULARY]))
            specs.append(ColumnSpec(name=name, type=kind, vocabulary=vocabulary))
            continue
        values = _column_to_float(series, kind)
        finite = values[~np.isnan(values)]
        mean = float(finite.mean()) if len(finite) else 0.0
        std = float(finite.std()) if len(finite) else 1.0
        specs.append(ColumnSpec(name=name, type=kind, mean=mean, std=std if std > 1e-12 else 1.0))
    return specs


def _column_to_float(series: pd.Series, kind: ColumnType) -> np.ndarray:
    if kind == "boolean" and not pd.api.types.is_numeric_dtype(series):
        lowered = series.astype(str).str.strip().str.lower()
        return np.where(
            series.isna(), np.nan, np.where(lowered.isin(list(_TRUE)), 1.0, 0.0)
        ).astype("float32")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float32", na_value=np.nan)


def encode_frame(specs: Sequence[ColumnSpec], frame: pd.DataFrame) -> np.ndarray:
    out = np.empty((len(frame), len(specs)), dtype="float32")
    for i, spec in enumerate(specs):
        series = frame[spec.name]
        if spec.type == "categorical":
            lookup = {v: k + 1 for k, v in enumerate(spec.vocabulary)}
            out[:, i] = [0 if pd.isna(v) else lookup.get(str(v), 0) for v in series]
        else:
            out[:, i] = _column_to_float(series, spec.type)
    return out


def _encode_value(spec: ColumnSpec, value: Any, instance: int) -> float:
    if value is None:
        return 0.0 if spec.type == "categorical" else math.nan
    if spec.type == "categorical":
        if isinstance(value, (dict, list)):
            raise RecordError(
                f"Field '{spec.name}' must be a string or number.",
                field=spec.name,
                instance=instance,
            )
        lookup = {v: k + 1 for k, v in enumerate(spec.vocabulary)}
        return float(lookup.get(str(value), 0))
    if spec.type == "boolean":
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return float(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return 1.0 if value.strip().lower() in _TRUE else 0.0
        raise RecordError(
            f"Field '{spec.name}' must be true or false, got {value!r}.",
            field=spec.name,
            instance=instance,
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(
            f"Field '{spec.name}' must be a number, got {value!r}.",
            field=spec.name,
            instance=instance,
        )
    if not math.isfinite(value):
        raise RecordError(
            f"Field '{spec.name}' must be finite.", field=spec.name, instance=instance
        )
    return float(value)


def encode_records(specs: Sequence[ColumnSpec], records: Sequence[Any]) -> np.ndarray:
    """Validate JSON instances against the schema and turn them into the model's input."""
    names = [s.name for s in specs]
    out = np.empty((len(records), len(specs)), dtype="float32")
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise RecordError(f"Instance {row} must be an object of column: value.", instance=row)
        missing = [n for n in names if n not in record]
        if missing:
            raise RecordError(
                f"Instance {row} is missing field '{missing[0]}'.", field=missing[0], instance=row
            )
        extra = [k for k in record if k not in names]
        if extra:
            raise RecordError(
                f"Instance {row} has unknown field '{extra[0]}'; expected {', '.join(names)}.",
                field=str(extra[0]),
                instance=row,
            )
        for i, spec in enumerate(specs):
            out[row, i] = _encode_value(spec, record[spec.name], row)
    return out


def _find(model: keras.Model, kind: type[keras.layers.Layer]) -> Any:
    """The first layer of a kind, also inside nested models (an ensemble's members)."""
    for layer in model.layers:
        if isinstance(layer, kind):
            return layer
        if isinstance(layer, keras.Model):
            found = _find(layer, kind)
            if found is not None:
                return found
    return None


def column_specs(model: keras.Model) -> list[ColumnSpec]:
    layer = _find(model, TabularEncoder)
    if layer is None:
        raise ValueError("The model has no TabularEncoder layer; it was not made by the console.")
    return list(layer.columns)


def class_labels(model: keras.Model) -> list[str] | None:
    layer = _find(model, ClassLabels)
    return None if layer is None else list(layer.labels)


def _special_input(model: keras.Model) -> Any:
    """The text or forecasting module's input layer, for models that do not read a table."""
    from jobs.engine.forecast import ForecastWindow
    from jobs.engine.text import TextVectorizer

    for kind in (TextVectorizer, ForecastWindow):
        found = _find(model, kind)
        if found is not None:
            return found
    return None


def input_schema(model: keras.Model) -> list[dict[str, Any]]:
    special = _special_input(model)
    if special is not None:
        return list(special.input_schema())
    schema = []
    for spec in column_specs(model):
        entry: dict[str, Any] = {"name": spec.name, "type": spec.type}
        if spec.type == "categorical":
            entry["values"] = list(spec.vocabulary)
        schema.append(entry)
    return schema


def decode_outputs(outputs: np.ndarray, labels: Sequence[str] | None) -> list[Any]:
    if labels is None:
        return [float(v) for v in np.asarray(outputs).reshape(-1)]
    result = []
    for row in np.asarray(outputs):
        probabilities = {label: float(p) for label, p in zip(labels, row, strict=True)}
        result.append({"label": labels[int(np.argmax(row))], "probabilities": probabilities})
    return result


def predict_records(model: keras.Model, records: Sequence[Any]) -> list[Any]:
    """What the prediction endpoint answers for these instances (raises RecordError)."""
    special = _special_input(model)
    if special is not None:
        features = special.encode_records(records)
    else:
        features = encode_records(column_specs(model), records)
    outputs = model.predict_on_batch(features) if len(features) else np.empty((0,))
    outputs = keras.ops.convert_to_numpy(outputs)
    labels_layer = _find(model, ClassLabels)
    if labels_layer is not None and hasattr(labels_layer, "decode"):
        return list(labels_layer.decode(outputs))
    if special is not None and hasattr(special, "decode"):
        return list(special.decode(outputs))
    return decode_outputs(outputs, class_labels(model))


def load(path: str) -> keras.Model:
    """Load a saved model with Keras' safe mode: no Lambda code, no unregistered classes."""
    if not path.endswith(".keras"):
        raise ValueError("Only .keras model files are loaded.")
    return keras.saving.load_model(path, safe_mode=True, compile=False)


def compiled_head(
    inputs: Any,
    x: Any,
    task_type: str,
    labels: Sequence[str],
    learning_rate: float,
    mean: float = 0.0,
    std: float = 1.0,
) -> keras.Model:
    """The output layer, loss and metrics for classes or a value, on any body; compiled.

    Regression learns a standardised target and the file answers in the user's units;
    classification answers through ClassLabels, which the saved model carries.
    """
    optimizer = keras.optimizers.Adam(learning_rate)
    if task_type == "regression":
        x = keras.layers.Dense(1)(x)
        outputs = keras.layers.Rescaling(std, offset=mean, name="target_scale")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer, loss="mse", metrics=["mae"])
        return model
    x = keras.layers.Dense(len(labels), activation="softmax")(x)
    model = keras.Model(inputs, ClassLabels(list(labels), name="class_labels")(x))
    model.compile(optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
