"""Inferring column types and checking a target before any training."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from jobs.engine.facts import ColumnFacts, TableFacts, series_facts

ColumnType = Literal["numeric", "boolean", "categorical"]
TaskType = Literal["binary", "multiclass", "regression", "multilabel", "forecasting"]
# What check_target validates; multi-label and forecasting are checked by jobs.engine.checks.
TASK_TYPES: tuple[TaskType, ...] = ("binary", "multiclass", "regression")
ALL_TASK_TYPES: tuple[TaskType, ...] = (*TASK_TYPES, "multilabel", "forecasting")

# A numeric target with at most this many distinct integer values is treated as classes.
MAX_CLASSES_FROM_INTEGERS = 20
DELIMITERS = ",;\t|"
# How a boolean written as text reads (lower-cased, stripped).
TRUE_VALUES = frozenset({"true", "1", "yes"})
FALSE_VALUES = frozenset({"false", "0", "no"})


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
    return suggested_task_type(series_facts(target))


def suggested_task_type(column: ColumnFacts) -> TaskType:
    """Two values: binary; fractions or many whole numbers: regression; else classes."""
    if column.distinct == 2:
        return "binary"
    if column.storage == "number" and not column.integral:
        # Unknown (a profile from before "integral") counts as fractional: a float column.
        return "regression"
    if column.numeric and column.distinct > MAX_CLASSES_FROM_INTEGERS:
        return "regression"
    return "multiclass"


def require_column(table: TableFacts, name: str) -> ColumnFacts:
    column = table.column(name)
    if column is None:
        known = ", ".join(table.names[:20])
        raise DataError(f"Column '{name}' is not in the dataset. Columns: {known}.")
    return column


def check_target(table: TableFacts, target: str, task_type: TaskType | None) -> TaskType:
    """Validate target and task type together; return the task type to use.

    On a profile's facts, a check it cannot answer (a class with one row, when the profile
    did not keep every class's count) is left to the worker's check on the frame.
    """
    column = require_column(table, target)
    if column.count == 0:
        raise DataError(f"The target column '{target}' has no values.")
    chosen = task_type or suggested_task_type(column)
    if chosen not in TASK_TYPES:
        raise DataError(f"Unknown task type '{chosen}'. Choose one of {', '.join(TASK_TYPES)}.")
    counts = column.value_counts
    if chosen in ("binary", "multiclass"):
        if column.distinct < 2:
            value = f" ({next(iter(counts))!r})" if counts else ""
            raise DataError(
                f"The target column '{target}' has a single class{value}; "
                "classification needs at least two."
            )
        if chosen == "binary" and column.distinct != 2:
            raise DataError(
                f"A binary task needs exactly two classes; '{target}' has {column.distinct}. "
                "Choose multiclass."
            )
        if counts is not None and min(counts.values()) < 2:
            rarest = min(counts, key=lambda v: counts[v])
            raise DataError(
                f"Class {rarest!r} of '{target}' has a single row; each class needs "
                "at least two rows to be split into training and test data."
            )
    else:
        if not column.numeric:
            raise DataError(f"Regression needs a numeric target; '{target}' is not numeric.")
        if column.distinct < 2:
            raise DataError(f"The target column '{target}' is constant; nothing to predict.")
    if table.n_rows < 10:
        raise DataError(f"The dataset has {table.n_rows} rows; training needs at least 10.")
    if len(table.names) < 2:
        raise DataError("The dataset has no feature column besides the target.")
    return chosen


# The largest magnitude a model's float32 input holds; beyond it a value would become inf.
FLOAT32_MAX = float(np.finfo("float32").max)


def finite_float(value: int | float) -> float | None:
    """A JSON number as a model input, or None when it is not finite in float32 (inf, NaN,
    or an integer of hundreds of digits, which float() itself refuses with OverflowError)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if abs(number) <= FLOAT32_MAX else None


def column_to_float(series: pd.Series, kind: ColumnType) -> np.ndarray:
    """A numeric or boolean column as float32, missing and unreadable values as NaN."""
    if kind == "boolean" and not pd.api.types.is_numeric_dtype(series):
        lowered = series.astype(str).str.strip().str.lower()
        return np.where(
            series.isna(), np.nan, np.where(lowered.isin(list(TRUE_VALUES)), 1.0, 0.0)
        ).astype("float32")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float32", na_value=np.nan)
