"""A table's columns as the encoder keeps them: each column's training statistics
(`ColumnSpec`), fitted on the training split only, and the rules that size its encodings.

Core: plain numpy and pandas; the tables and multi-label tasks and `TabularEncoder` read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from jobs.engine.data import ColumnType, column_to_float

MAX_VOCABULARY = 1000


# Quantile edges kept per numeric column: the quantile transform interpolates between them
# and the piecewise-linear encoding uses every other one as a bin edge.
N_QUANTILES = 32
# Above this many categories a column is embedded even when the search asks for one-hot, and
# categories seen once in training fall into the unknown bucket.
WIDE_CATEGORICAL = 64
# A numeric column of whole numbers that repeat (a month, a size code, a person's id in a panel)
# may also be embedded level by level: what a tree learns by splitting at every value. Only
# when each level has rows enough to learn from, on average.
MAX_LEVELS = MAX_VOCABULARY
MIN_ROWS_PER_LEVEL = 3
# Levels with few rows each (a person's id in a panel) get a narrow embedding: their effect is
# close to one number (a wage premium), and a wide one memorises noise. Levels with many rows
# (a month, with its own price level per configuration) get the usual width.
NARROW_LEVEL_EMBEDDING = 4
WIDE_LEVEL_ROWS = 16
# Values never below zero whose third standardised moment is above this (a price, a wage, a
# count, an income) are skewed: a multiplicative scale may suit them, so a log scale is offered.
SKEW_LIMIT = 1.0


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: ColumnType
    mean: float = 0.0
    std: float = 1.0
    vocabulary: tuple[str, ...] = ()
    # Numeric columns: N_QUANTILES + 1 edges of the training values, and whether training
    # had missing values (then the encoder adds a 0/1 indicator column).
    quantiles: tuple[float, ...] = ()
    missing: bool = False
    # Numeric columns of repeating whole numbers: their training values, sorted.
    levels: tuple[float, ...] = ()
    level_width: int = 0
    # Skewed numeric columns (`skewed`): mean and deviation of log1p of the training values;
    # 0 deviation for every other column.
    log_mean: float = 0.0
    log_std: float = 0.0

    def to_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "mean": self.mean,
            "std": self.std,
            "vocabulary": list(self.vocabulary),
            "quantiles": list(self.quantiles),
            "missing": self.missing,
            "levels": list(self.levels),
            "level_width": self.level_width,
            "log_mean": self.log_mean,
            "log_std": self.log_std,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ColumnSpec:
        # Files saved before quantiles, missing indicators, levels or log scales lack the keys.
        return cls(
            name=config["name"],
            type=config["type"],
            mean=float(config["mean"]),
            std=float(config["std"]),
            vocabulary=tuple(config["vocabulary"]),
            quantiles=tuple(float(q) for q in config.get("quantiles", ())),
            missing=bool(config.get("missing", False)),
            levels=tuple(float(v) for v in config.get("levels", ())),
            level_width=int(config.get("level_width", 0)),
            log_mean=float(config.get("log_mean", 0.0)),
            log_std=float(config.get("log_std", 0.0)),
        )

    @property
    def skewed(self) -> bool:
        return self.type == "numeric" and self.log_std > 0.0

    @property
    def median(self) -> float:
        return self.quantiles[len(self.quantiles) // 2] if self.quantiles else self.mean


def skewness(values: np.ndarray) -> float:
    """The third standardised moment; 0 for fewer than 3 values or a constant."""
    values = values.astype("float64")
    std = float(values.std()) if len(values) >= 3 else 0.0
    if std <= 1e-12:
        return 0.0
    return float(np.mean(((values - values.mean()) / std) ** 3))


def log_stats(values: np.ndarray) -> tuple[float, float]:
    """Mean and deviation of log1p(values), for values never below zero (1 for a constant)."""
    logged = np.log1p(values.astype("float64"))
    return float(logged.mean()), float(logged.std() or 1.0)


def embedding_size(cardinality: int) -> int:
    """fast.ai's rule of thumb, capped: wide enough to separate, small enough to learn."""
    return int(min(32, max(2, round(1.6 * cardinality**0.56))))


def fit_column_specs(frame: pd.DataFrame, types: Mapping[str, ColumnType]) -> list[ColumnSpec]:
    """Statistics of the training split only, so validation and test stay unseen."""
    specs = []
    for name, kind in types.items():
        series = frame[name]
        if kind == "categorical":
            counts = series.dropna().astype(str).value_counts()
            if len(counts) > WIDE_CATEGORICAL:
                # A category seen once teaches an embedding nothing but noise.
                counts = counts[counts >= 2]
            vocabulary = tuple(sorted(counts.index[:MAX_VOCABULARY]))
            specs.append(ColumnSpec(name=name, type=kind, vocabulary=vocabulary))
            continue
        values = column_to_float(series, kind)
        finite = values[np.isfinite(values)]
        mean = float(finite.mean()) if len(finite) else 0.0
        std = float(finite.std()) if len(finite) else 1.0
        quantiles: tuple[float, ...] = ()
        levels: tuple[float, ...] = ()
        log_mean, log_std = 0.0, 0.0
        if kind == "numeric" and len(finite):
            grid = np.linspace(0.0, 1.0, N_QUANTILES + 1)
            quantiles = tuple(float(q) for q in np.quantile(finite.astype("float64"), grid))
            levels = _levels(finite)
            if finite.min() >= 0 and skewness(finite) > SKEW_LIMIT:
                log_mean, log_std = log_stats(finite)
        level_width = 0
        if levels:
            level_width = embedding_size(len(levels) + 1)
            if len(finite) < WIDE_LEVEL_ROWS * len(levels):
                level_width = min(NARROW_LEVEL_EMBEDDING, level_width)
        specs.append(
            ColumnSpec(
                name=name,
                type=kind,
                mean=mean,
                std=std if std > 1e-12 else 1.0,
                quantiles=quantiles,
                missing=bool(len(finite) < len(values)),
                levels=levels,
                level_width=level_width,
                log_mean=log_mean,
                log_std=log_std,
            )
        )
    return specs


def _levels(finite: np.ndarray) -> tuple[float, ...]:
    if not np.all(np.mod(finite, 1.0) == 0.0):
        return ()
    distinct = np.unique(finite)
    if not 3 <= len(distinct) <= MAX_LEVELS or len(finite) < MIN_ROWS_PER_LEVEL * len(distinct):
        return ()
    return tuple(float(v) for v in distinct)
