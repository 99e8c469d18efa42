"""Reading a table: preprocessing that lives inside the saved file, and its input contract.

Core: the tables task and the multi-label task both read tables through `TabularEncoder` and
`tabular_body`; nothing here imports a task.

Under the torch and jax backends a tensor cannot hold strings, so the saved model takes one
float row per instance in which a categorical value is its index in a vocabulary. The
vocabularies, the imputation values, the normalisation statistics and the class labels are all
stored in the model's own layers, and `encode_records`/`encode_frame` read them back from the
model, so training, evaluation and serving cannot disagree.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from keras import ops

from jobs.engine.column_specs import WIDE_CATEGORICAL, ColumnSpec, embedding_size
from jobs.engine.data import (
    FALSE_VALUES,
    FLOAT32_MAX,
    TRUE_VALUES,
    column_to_float,
    finite_float,
)
from jobs.engine.layers import RecordError, ServingInput, refuse_binary

# How the search may read numeric columns; "log" only where a column is skewed (ColumnSpec).
NUMERIC_ENCODINGS = ("quantile", "standard", "ple")
LEVEL_ENCODINGS = ("none", "embedding")
CATEGORICAL_ENCODINGS = ("embedding", "onehot")


@keras.saving.register_keras_serializable(package="automl")
class TabularEncoder(keras.layers.Layer, ServingInput):
    """Turns a row of raw values into the network's features, with every statistic inside.

    Numeric columns: missing values take the training median (mean for "standard") and get an
    indicator when training had any; then "standard" scales by mean and deviation, "quantile"
    maps through the training quantiles to a normal shape (robust to skew and outliers), and
    "ple" is the piecewise-linear encoding of Gorishniy et al. (2022), one value in [0, 1]
    per quantile bin; "log" scales skewed columns' log1p by its mean and deviation (a price, a
    wage: the quantile shape clips past the training range, a log keeps extrapolating) and
    every other column as "standard". Booleans are always 0/1 centred. Categorical indices
    are one-hot or embedded (index 0 is the unknown bucket); wide columns are always embedded.
    """

    def __init__(
        self,
        columns: Sequence[Mapping[str, Any]],
        numeric: str = "standard",
        categorical: str = "onehot",
        levels: str = "none",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.columns = [ColumnSpec.from_config(c) for c in columns]
        self.numeric = numeric
        self.categorical = categorical
        self.levels = levels
        self._numeric = [i for i, c in enumerate(self.columns) if c.type != "categorical"]
        self._categorical = [i for i, c in enumerate(self.columns) if c.type == "categorical"]
        numeric_specs = [self.columns[i] for i in self._numeric]
        # Standardised after log1p (the median fills a gap, as in the quantile encodings).
        self._logged = np.array([numeric == "log" and c.skewed for c in numeric_specs], bool)
        pairs = list(zip(numeric_specs, self._logged, strict=True))
        self._mean = np.array([c.log_mean if lg else c.mean for c, lg in pairs], "float32")
        self._std = np.array([c.log_std if lg else c.std for c, lg in pairs], "float32")
        # Transformed columns need quantiles; booleans and old files stay "standard".
        self._shaped = [
            j
            for j, c in enumerate(numeric_specs)
            if numeric in ("quantile", "ple") and c.type == "numeric" and len(c.quantiles) > 1
        ]
        self._plain = [j for j in range(len(numeric_specs)) if j not in self._shaped]
        median = [j in self._shaped or self._logged[j] for j in range(len(numeric_specs))]
        self._fill = np.array(
            [c.median if med else c.mean for c, med in zip(numeric_specs, median, strict=True)],
            dtype="float32",
        )
        edges = np.array([numeric_specs[j].quantiles for j in self._shaped], dtype="float32")
        if numeric == "ple" and len(self._shaped):
            edges = edges[:, ::2]
        self._low = edges[:, :-1] if len(self._shaped) else np.zeros((0, 1), "float32")
        self._width = (
            np.maximum(edges[:, 1:] - edges[:, :-1], 1e-9)
            if len(self._shaped)
            else np.ones((0, 1), "float32")
        )
        self._indicated = [j for j, c in enumerate(numeric_specs) if c.missing]
        self._embedded = [
            i
            for i in self._categorical
            if categorical == "embedding" or len(self.columns[i].vocabulary) > WIDE_CATEGORICAL
        ]
        self.embeddings = [
            keras.layers.Embedding(
                len(self.columns[i].vocabulary) + 1,
                embedding_size(len(self.columns[i].vocabulary) + 1),
                name=f"embed_{k}",
            )
            for k, i in enumerate(self._embedded)
        ]
        self._leveled = (
            [i for i in self._numeric if self.columns[i].levels] if levels == "embedding" else []
        )
        # Each leveled column's training values, as the input's dtype, compared in `call`.
        self._level_values = [np.array(self.columns[i].levels, "float32") for i in self._leveled]
        self.level_embeddings = [
            keras.layers.Embedding(
                len(self.columns[i].levels) + 1,
                self.columns[i].level_width,
                name=f"level_{k}",
            )
            for k, i in enumerate(self._leveled)
        ]

    def build(self, input_shape: Any) -> None:
        # Built here rather than on first call, so a loaded file finds their weights.
        for layer in [*self.embeddings, *self.level_embeddings]:
            layer.build((None,))
        self.built = True

    def _shape_numeric(self, values: Any) -> list[Any]:
        parts = []
        if self._plain:
            plain = ops.take(values, self._plain, axis=1)
            if self._logged.any():
                logged = ops.convert_to_tensor(self._logged[self._plain])
                plain = ops.where(logged, ops.log1p(ops.maximum(plain, 0.0)), plain)
            mean = ops.convert_to_tensor(self._mean[self._plain])
            std = ops.convert_to_tensor(self._std[self._plain])
            parts.append(ops.clip((plain - mean) / std, -10.0, 10.0))
        if self._shaped:
            shaped = ops.expand_dims(ops.take(values, self._shaped, axis=1), -1)
            bins = ops.clip(
                (shaped - ops.convert_to_tensor(self._low)) / ops.convert_to_tensor(self._width),
                0.0,
                1.0,
            )
            if self.numeric == "ple":
                parts.append(ops.reshape(bins, (-1, int(np.prod(self._low.shape)))))
            else:
                uniform = ops.mean(bins, axis=-1)
                parts.append(
                    np.sqrt(2.0) * ops.erfinv(ops.clip(2.0 * uniform - 1.0, -0.999, 0.999))
                )
        return parts

    @staticmethod
    def _level_index(values: Any, levels: np.ndarray) -> Any:
        """1 + the level's position, or 0 (unknown) for a value training never had or NaN."""
        same = ops.equal(ops.expand_dims(values, -1), ops.convert_to_tensor(levels))
        position = ops.argmax(ops.cast(same, "int32"), axis=-1) + 1
        return ops.cast(ops.where(ops.any(same, axis=-1), position, 0), "int32")

    def call(self, inputs: Any) -> Any:
        parts = []
        leveled = zip(self._leveled, self._level_values, self.level_embeddings, strict=True)
        for i, levels, layer in leveled:
            parts.append(layer(self._level_index(inputs[:, i], levels)))
        if self._numeric:
            values = ops.take(inputs, self._numeric, axis=1)
            missing = ops.isnan(values)
            values = ops.where(missing, ops.convert_to_tensor(self._fill), values)
            parts.extend(self._shape_numeric(values))
            if self._indicated:
                parts.append(ops.cast(ops.take(missing, self._indicated, axis=1), "float32"))
        embedded = dict(zip(self._embedded, self.embeddings, strict=True))
        for i in self._categorical:
            index = inputs[:, i]
            index = ops.cast(ops.where(ops.isnan(index), 0.0, index), "int32")
            if i in embedded:
                parts.append(embedded[i](index))
            else:
                parts.append(ops.one_hot(index, len(self.columns[i].vocabulary) + 1))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        width = len(self._plain) + len(self._indicated)
        width += int(np.prod(self._low.shape)) if self.numeric == "ple" else len(self._shaped)
        for i in self._categorical:
            size = len(self.columns[i].vocabulary) + 1
            width += embedding_size(size) if i in self._embedded else size
        for i in self._leveled:
            width += self.columns[i].level_width
        return (input_shape[0], width)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "columns": [c.to_config() for c in self.columns],
            "numeric": self.numeric,
            "categorical": self.categorical,
            "levels": self.levels,
        }

    def input_schema(self) -> list[dict[str, Any]]:
        schema = []
        for spec in self.columns:
            entry: dict[str, Any] = {"name": spec.name, "type": spec.type}
            if spec.type == "categorical":
                entry["values"] = list(spec.vocabulary)
            schema.append(entry)
        return schema

    def encode_records(self, records: Sequence[Any]) -> np.ndarray:
        return encode_records(self.columns, records)

    def record_warnings(self, records: Sequence[Any], encoded: np.ndarray) -> list[dict[str, Any]]:
        return unknown_categories(self.columns, self._categorical, records, encoded)


def encode_frame(specs: Sequence[ColumnSpec], frame: pd.DataFrame) -> np.ndarray:
    out = np.empty((len(frame), len(specs)), dtype="float32")
    for i, spec in enumerate(specs):
        series = frame[spec.name]
        if spec.type == "categorical":
            lookup = _vocabulary_lookup(spec.vocabulary)
            out[:, i] = [0 if pd.isna(v) else lookup.get(str(v), 0) for v in series]
        else:
            out[:, i] = column_to_float(series, spec.type)
    return out


@functools.lru_cache(maxsize=256)
def _vocabulary_lookup(vocabulary: tuple[str, ...]) -> dict[str, int]:
    """Category -> its index (0 is unseen), made once per vocabulary, not once per value: a
    prediction server encodes every request's rows."""
    return {v: k + 1 for k, v in enumerate(vocabulary)}


def _encode_value(spec: ColumnSpec, value: Any, instance: int) -> float:
    if value is None:
        return 0.0 if spec.type == "categorical" else math.nan
    if spec.type == "categorical":
        if isinstance(value, (dict, list, bytes)):
            refuse_binary(value, spec.name, instance, "a category (a string or number)")
            raise RecordError(
                f"Field '{spec.name}' must be a string or number.",
                field=spec.name,
                instance=instance,
            )
        return float(_vocabulary_lookup(spec.vocabulary).get(str(value), 0))
    if spec.type == "boolean":
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return float(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_VALUES | FALSE_VALUES:
            return 1.0 if value.strip().lower() in TRUE_VALUES else 0.0
        refuse_binary(value, spec.name, instance, "true or false")
        raise RecordError(
            f"Field '{spec.name}' must be true or false, got {value!r}.",
            field=spec.name,
            instance=instance,
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        refuse_binary(value, spec.name, instance, "a number")
        raise RecordError(
            f"Field '{spec.name}' must be a number, got {value!r}.",
            field=spec.name,
            instance=instance,
        )
    number = finite_float(value)
    if number is None:
        raise RecordError(
            f"Field '{spec.name}' must be a finite number within ±{FLOAT32_MAX:.3g}.",
            field=spec.name,
            instance=instance,
        )
    return number


def encode_records(specs: Sequence[ColumnSpec], records: Sequence[Any]) -> np.ndarray:
    """Validate JSON instances against the schema and turn them into the model's input."""
    names = [s.name for s in specs]
    known = set(names)
    out = np.empty((len(records), len(specs)), dtype="float32")
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise RecordError(f"Instance {row} must be an object of column: value.", instance=row)
        missing = [n for n in names if n not in record]
        if missing:
            raise RecordError(
                f"Instance {row} is missing field '{missing[0]}'.", field=missing[0], instance=row
            )
        extra = [k for k in record if k not in known]
        if extra:
            raise RecordError(
                f"Instance {row} has unknown field '{extra[0]}'; expected {', '.join(names)}.",
                field=str(extra[0]),
                instance=row,
            )
        for i, spec in enumerate(specs):
            out[row, i] = _encode_value(spec, record[spec.name], row)
    return out


# A warning quotes the value it is about, cut to this many characters.
WARNING_VALUE_CHARS = 200


def unknown_categories(
    specs: Sequence[ColumnSpec],
    categorical: Sequence[int],
    records: Sequence[Any],
    encoded: np.ndarray,
) -> list[dict[str, Any]]:
    """The categorical values that `encode_records` read as the unknown category (index 0):
    `unseen_category` for a value training never had (a number is read as its text: 3 as
    "3"), `missing_value` for null. One comparison over the encoded rows; only the
    cells it finds are looked at again."""
    if not categorical or not len(encoded):
        return []
    unknown = encoded[:, list(categorical)] == 0.0
    if not unknown.any():
        return []
    found = []
    for row, j in zip(*np.nonzero(unknown), strict=True):
        name = specs[categorical[j]].name
        value = records[row][name]
        if value is None:
            found.append({"instance": int(row), "field": name, "code": "missing_value"})
            continue
        if isinstance(value, str) and len(value) > WARNING_VALUE_CHARS:
            value = value[:WARNING_VALUE_CHARS] + "…"
        found.append(
            {"instance": int(row), "field": name, "code": "unseen_category", "value": value}
        )
    return found


def tabular_body(hp: kt.HyperParameters, encoder_config: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The tabular input and its network: shared by every head that reads a table."""
    inputs = keras.Input(shape=(len(encoder_config),), name="features")
    has_categorical = any(c["type"] == "categorical" for c in encoder_config)
    numeric_encodings = list(NUMERIC_ENCODINGS)
    if any(ColumnSpec.from_config(c).skewed for c in encoder_config):
        numeric_encodings.append("log")
    encoder = TabularEncoder(
        encoder_config,
        numeric=hp.Choice("numeric_encoding", numeric_encodings),
        categorical=hp.Choice("categorical_encoding", list(CATEGORICAL_ENCODINGS))
        if has_categorical
        else "onehot",
        levels=hp.Choice("level_encoding", list(LEVEL_ENCODINGS))
        if any(c.get("levels") for c in encoder_config)
        else "none",
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
