"""Target checks and data shaping for forecasting and multi-label, importable without Keras.

The web process checks a job's target before queueing it; these checks must not load Keras.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from jobs.engine.config import SearchConfig
from jobs.engine.data import DataError, infer_column_type

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
    stamps = pd.to_datetime(frame[timestamp_column], errors="coerce", utc=True, format="mixed")
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
    frame: pd.DataFrame, target: str, timestamp_column: str, horizon: int, lookback: int | None
) -> None:
    """Refuse what cannot be forecast, with the reason (DataError)."""
    if not timestamp_column or timestamp_column not in frame.columns:
        raise DataError(
            "Forecasting needs a timestamp column: upload the file as a time-series dataset "
            "(kind 'timeseries' with 'timestamp_column')."
        )
    if target == timestamp_column:
        raise DataError(f"'{target}' is the timestamp column; choose the column to forecast.")
    series = frame[target]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataError(f"Forecasting needs a numeric target; '{target}' is not numeric.")
    if series.dropna().nunique() < 2:
        raise DataError(f"The target column '{target}' is constant; nothing to forecast.")
    if horizon < 1:
        raise DataError("The horizon must be at least 1 step.")
    if lookback is not None and lookback < 1:
        raise DataError("The lookback must be at least 1 row.")
    n_rows = len(ordered(frame, timestamp_column))
    window = lookback or min(lookback_choices(n_rows, horizon))
    needed = rows_needed(horizon, window)
    if n_rows < needed:
        raise DataError(
            f"Forecasting {horizon} step(s) ahead from {window} row(s) needs at least {needed} "
            f"rows with a timestamp; the dataset has {n_rows}."
        )


def detect_delimiter(series: pd.Series) -> str:
    """The delimiter found in most values, among ; | and , (';' when none is found)."""
    values = series.dropna().astype(str)
    counts = {d: int(values.str.contains(d, regex=False).sum()) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else DELIMITERS[0]


def parse_label_sets(series: pd.Series, delimiter: str) -> list[frozenset[str]]:
    """A missing or empty cell is a row with no label."""
    sets: list[frozenset[str]] = []
    for value in series:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            sets.append(frozenset())
            continue
        sets.append(frozenset(p.strip() for p in str(value).split(delimiter) if p.strip()))
    return sets


def label_matrix(sets: Sequence[frozenset[str]], labels: Sequence[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(sets), len(labels)), dtype="float32")
    for row, labelset in enumerate(sets):
        for label in labelset:
            if label in index:
                y[row, index[label]] = 1.0
    return y


def check_multilabel_target(frame: pd.DataFrame, target: str, delimiter: str | None) -> str:
    """Refuse a target that is not a list of labels; return the delimiter to use."""
    series = frame[target]
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataError(
            f"Multi-label needs a target of label lists such as 'a;b' (labels separated by "
            f"; | or ,); '{target}' holds numbers. Choose binary, multiclass or regression."
        )
    chosen = delimiter or detect_delimiter(series)
    sets = parse_label_sets(series, chosen)
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
    if max(len(s) for s in sets) < 2:
        raise DataError(
            f"No row of '{target}' holds more than one label when split on '{chosen}'. Give "
            "label lists such as 'a;b' (or set label_delimiter), or choose multiclass."
        )
    return chosen
