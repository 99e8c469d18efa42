"""Target checks and data shaping for forecasting and multi-label, importable without Keras.

The web process checks a job's target before queueing it; these checks must not load Keras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.data import DataError, infer_column_type, require_column
from jobs.engine.facts import TableFacts, parse_timestamps

LOOKBACKS = (4, 8, 16, 32, 64)
DELIMITERS = (";", "|", ",")
MAX_LABELS = 200


def lookback_choices(n_rows: int, horizon: int, config: SearchConfig | None = None) -> list[int]:
    """Window lengths worth searching: up to a quarter of the training rows."""
    train_rows = int(n_rows * (1 - _held_out(config)))
    limit = max(1, (train_rows - horizon - 1) // 4)
    return [c for c in LOOKBACKS if c <= limit] or [limit]


def _held_out(config: SearchConfig | None) -> float:
    if config is None:
        return 0.4
    return config.test_fraction + config.validation_fraction


def split_cuts(n_rows: int, config: SearchConfig | None) -> tuple[int, int]:
    test = 0.2 if config is None else config.test_fraction
    return int(n_rows * (1 - _held_out(config))), int(n_rows * (1 - test))


def rows_needed(horizon: int, lookback: int) -> int:
    """The fewest rows giving two training windows and a window in validation and test."""
    n = 10
    while True:
        cut1, cut2 = split_cuts(n, None)
        if cut1 - lookback - horizon + 1 >= 2 and min(cut2 - cut1, n - cut2) >= horizon:
            return n
        n += 1


def ordered(frame: pd.DataFrame, timestamp_column: str) -> pd.DataFrame:
    """Rows with a readable timestamp, in time order (a stable sort keeps ties as given)."""
    stamps = parse_timestamps(frame[timestamp_column])
    kept = frame.assign(_ts=stamps)[stamps.notna()]
    return kept.sort_values("_ts", kind="mergesort").drop(columns="_ts").reset_index(drop=True)


def covariates(frame: pd.DataFrame, target: str, timestamp_column: str) -> list[str]:
    """Every other numeric or boolean column; text and categories are not used."""
    return [
        str(c)
        for c in frame.columns
        if c not in (target, timestamp_column)
        and infer_column_type(frame[c]) in ("numeric", "boolean")
    ]


def check_forecast_target(
    table: TableFacts, target: str, timestamp_column: str, horizon: int, lookback: int | None
) -> None:
    """Refuse what cannot be forecast, with the reason (DataError).

    The rows needed are checked when the facts tell how many timestamps are readable (a
    frame's always do; a profile's when the column was profiled as datetimes).
    """
    if not timestamp_column or timestamp_column not in table.names:
        raise DataError(
            "Forecasting needs a timestamp column: upload the file as a time-series dataset "
            "(kind 'timeseries' with 'timestamp_column')."
        )
    if target == timestamp_column:
        raise DataError(f"'{target}' is the timestamp column; choose the column to forecast.")
    column = require_column(table, target)
    if column.storage != "number":
        raise DataError(f"Forecasting needs a numeric target; '{target}' is not numeric.")
    if column.distinct < 2:
        raise DataError(f"The target column '{target}' is constant; nothing to forecast.")
    if horizon < 1:
        raise DataError("The horizon must be at least 1 step.")
    if lookback is not None and lookback < 1:
        raise DataError("The lookback must be at least 1 row.")
    n_rows = table.timestamps(timestamp_column)
    if n_rows is None:
        return
    window = lookback or min(lookback_choices(n_rows, horizon))
    needed = rows_needed(horizon, window)
    if n_rows < needed:
        raise DataError(
            f"Forecasting {horizon} step(s) ahead from {window} row(s) needs at least {needed} "
            f"rows with a timestamp; the dataset has {n_rows}."
        )


def detect_delimiter(series: pd.Series) -> str:
    """The delimiter found in most values, among ; | and , (';' when none is found)."""
    return delimiter_of(series.dropna().astype(str).value_counts().to_dict())


def delimiter_of(value_counts: Mapping[Any, int]) -> str:
    """detect_delimiter on each distinct value and its rows."""
    counts = {d: sum(n for value, n in value_counts.items() if d in str(value)) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else DELIMITERS[0]


def label_set(value: Any, delimiter: str) -> frozenset[str]:
    """A missing or empty cell is a row with no label."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return frozenset()
    return frozenset(p.strip() for p in str(value).split(delimiter) if p.strip())


def parse_label_sets(series: pd.Series, delimiter: str) -> list[frozenset[str]]:
    return [label_set(value, delimiter) for value in series]


def label_matrix(sets: Sequence[frozenset[str]], labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(sets), len(labels)), dtype="float32")
    for row, labelset in enumerate(sets):
        for label in labelset:
            if label in index:
                y[row, index[label]] = 1.0
    return y


def check_multilabel_target(table: TableFacts, target: str, delimiter: str | None) -> str | None:
    """Refuse a target that is not a list of labels; return the delimiter to use.

    The labels are checked when the facts hold every value (a frame's always do; a profile's
    for a column with few distinct values); otherwise the delimiter stays as asked (None:
    detected) and the worker checks the whole column.
    """
    column = require_column(table, target)
    if column.numeric:
        raise DataError(
            f"Multi-label needs a target of label lists such as 'a;b' (labels separated by "
            f"; | or ,); '{target}' holds numbers. Choose binary, multiclass or regression."
        )
    if column.value_counts is None:
        return delimiter
    chosen = delimiter or delimiter_of(column.value_counts)
    sets = [label_set(value, chosen) for value in column.value_counts]
    labels = set().union(*sets)
    if len(labels) < 2:
        raise DataError(
            f"The target column '{target}' has fewer than two distinct labels when split on "
            f"'{chosen}'; multi-label needs at least two."
        )
    if len(labels) > MAX_LABELS:
        raise DataError(
            f"The target column '{target}' has {len(labels)} distinct labels when split on "
            f"'{chosen}'; at most {MAX_LABELS} are supported. Is the delimiter right?"
        )
    if max((len(s) for s in sets), default=0) < 2:
        raise DataError(
            f"No row of '{target}' holds more than one label when split on '{chosen}'. Give "
            "label lists such as 'a;b' (or set label_delimiter), or choose multiclass."
        )
    return chosen
