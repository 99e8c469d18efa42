"""Inferring column types and checking a target before any training."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

ColumnType = Literal["numeric", "boolean", "categorical"]
TaskType = Literal["binary", "multiclass", "regression", "multilabel", "forecasting"]
# What check_target validates; multi-label and forecasting are checked by jobs.engine.checks.
TASK_TYPES: tuple[TaskType, ...] = ("binary", "multiclass", "regression")
ALL_TASK_TYPES: tuple[TaskType, ...] = (*TASK_TYPES, "multilabel", "forecasting")

# A numeric target with at most this many distinct integer values is treated as classes.
MAX_CLASSES_FROM_INTEGERS = 20
DELIMITERS = ",;\t|"


class DataError(ValueError):
    """The data cannot be used as asked; the message is meant for the person who sent it."""


def infer_column_type(series: pd.Series) -> ColumnType:
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        if len(values) and set(np.unique(values)).issubset({0, 1}) and values.nunique() == 2:
            return "boolean"
        return "numeric"
    lowered = {str(v).strip().lower() for v in values.unique()}
    if lowered and lowered.issubset({"true", "false"}):
        return "boolean"
    return "categorical"


def suggest_task_type(target: pd.Series) -> TaskType:
    values = target.dropna()
    n_distinct = values.nunique()
    if n_distinct == 2:
        return "binary"
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
        return "regression"
    if pd.api.types.is_numeric_dtype(values) and n_distinct > MAX_CLASSES_FROM_INTEGERS:
        return "regression"
    return "multiclass"


def check_target(frame: pd.DataFrame, target: str, task_type: TaskType | None) -> TaskType:
    """Validate target and task type together; return the task type to use."""
    if target not in frame.columns:
        known = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"Column '{target}' is not in the dataset. Columns: {known}.")
    series = frame[target]
    values = series.dropna()
    if len(values) == 0:
        raise DataError(f"The target column '{target}' has no values.")
    chosen = task_type or suggest_task_type(series)
    if chosen not in TASK_TYPES:
        raise DataError(f"Unknown task type '{chosen}'. Choose one of {', '.join(TASK_TYPES)}.")
    n_distinct = values.nunique()
    if chosen in ("binary", "multiclass"):
        if n_distinct < 2:
            raise DataError(
                f"The target column '{target}' has a single class ({values.iloc[0]!r}); "
                "classification needs at least two."
            )
        if chosen == "binary" and n_distinct != 2:
            raise DataError(
                f"A binary task needs exactly two classes; '{target}' has {n_distinct}. "
                "Choose multiclass."
            )
        counts = values.value_counts()
        if counts.min() < 2:
            raise DataError(
                f"Class {counts.idxmin()!r} of '{target}' has a single row; each class needs "
                "at least two rows to be split into training and test data."
            )
    else:
        if not pd.api.types.is_numeric_dtype(values):
            raise DataError(f"Regression needs a numeric target; '{target}' is not numeric.")
        if n_distinct < 2:
            raise DataError(f"The target column '{target}' is constant; nothing to predict.")
    if len(frame) < 10:
        raise DataError(f"The dataset has {len(frame)} rows; training needs at least 10.")
    if frame.shape[1] < 2:
        raise DataError("The dataset has no feature column besides the target.")
    return chosen
