"""What the job checks need to know of a table: from a frame (the worker) or a profile (the web).

The checks (jobs.engine.checks, data.check_target, task_data) run on these facts, so one rule
serves both sides. The web process checks a new job against the dataset's stored profile
without reading the file; the worker runs the same checks on the whole frame before training.
A frame answers everything. A profile answers what it kept: a fact it lacks is None, and the
check that needs it is left to the worker, which fails the job with the same message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

# How a column's values are stored in the file, as pandas reads it: the checks' "numeric" is
# pandas' is_numeric_dtype, which counts booleans as numbers.
Storage = Literal["number", "boolean", "string", "datetime", "empty"]


@dataclass(frozen=True)
class ColumnFacts:
    name: str
    storage: Storage
    count: int  # non-missing values
    distinct: int  # distinct non-missing values (an estimate past a profile's exact cap)
    # Every value and its rows, most common first, when known: a frame always, a profile for
    # columns with few distinct values (its "top" list holding every row).
    value_counts: Mapping[Any, int] | None = None
    # Numbers: whether every value is whole (None: unknown).
    integral: bool | None = None

    @property
    def numeric(self) -> bool:
        return self.storage in ("number", "boolean")


class TableFacts:
    """The rows, the column names, each column's facts and readable timestamps."""

    def __init__(self, n_rows: int, names: Iterable[str]) -> None:
        self.n_rows = n_rows
        self.names = tuple(names)

    def column(self, name: str) -> ColumnFacts | None:
        """None when there is no such column."""
        raise NotImplementedError

    def timestamps(self, name: str) -> int | None:
        """How many values of the column read as timestamps (None: unknown)."""
        raise NotImplementedError

    def only(self, names: Iterable[str]) -> TableFacts:
        """The same table with these columns alone (those that exist)."""
        return _Only(self, [n for n in names if n in self.names])


class _Only(TableFacts):
    def __init__(self, table: TableFacts, names: list[str]) -> None:
        super().__init__(table.n_rows, names)
        self.table = table

    def column(self, name: str) -> ColumnFacts | None:
        return self.table.column(name) if name in self.names else None

    def timestamps(self, name: str) -> int | None:
        return self.table.timestamps(name) if name in self.names else None


def parse_timestamps(series: pd.Series) -> pd.Series:
    """The values as UTC timestamps, NaT where unreadable: what forecasting orders rows by."""
    return pd.to_datetime(series, errors="coerce", utc=True, format="mixed")


def _plain(value: Any) -> Any:
    # numpy scalars to Python ones, so messages show 3 rather than np.int64(3), as the
    # profile's JSON values do.
    return value.item() if isinstance(value, np.generic) else value


def series_facts(series: pd.Series, name: str = "") -> ColumnFacts:
    values = series.dropna()
    counts = values.value_counts()
    storage: Storage
    integral: bool | None = None
    if pd.api.types.is_bool_dtype(series):
        storage = "boolean"
    elif pd.api.types.is_numeric_dtype(series):
        storage = "number"
        integral = bool(np.all(np.mod(values, 1) == 0))
    elif pd.api.types.is_datetime64_any_dtype(series):
        storage = "datetime"
    else:
        storage = "string" if len(values) else "empty"
    return ColumnFacts(
        name=name or str(series.name),
        storage=storage,
        count=len(values),
        distinct=len(counts),
        value_counts={_plain(v): int(c) for v, c in counts.items()},
        integral=integral,
    )


class FrameFacts(TableFacts):
    """A frame's facts, each column's worked out when first asked for."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__(len(frame), (str(c) for c in frame.columns))
        self.frame = frame
        self._labels = dict(zip(self.names, frame.columns, strict=True))
        self._columns: dict[str, ColumnFacts] = {}

    def column(self, name: str) -> ColumnFacts | None:
        if name not in self._labels:
            return None
        if name not in self._columns:
            self._columns[name] = series_facts(self.frame[self._labels[name]], name)
        return self._columns[name]

    def timestamps(self, name: str) -> int | None:
        if name not in self._labels:
            return None
        return int(parse_timestamps(self.frame[self._labels[name]]).notna().sum())


class ProfileFacts(TableFacts):
    """A stored profile's facts (jobs.engine.io.profile): what it kept, and None for the rest."""

    def __init__(self, profile: Mapping[str, Any]) -> None:
        entries = profile.get("columns", [])
        super().__init__(int(profile.get("n_rows", 0)), (str(e["name"]) for e in entries))
        self.entries = {str(e["name"]): e for e in entries}

    def column(self, name: str) -> ColumnFacts | None:
        entry = self.entries.get(name)
        if entry is None:
            return None
        count = self.n_rows - int(entry.get("missing", 0))
        storage = _storage(entry, count)
        value_counts = _value_counts(entry, count)
        integral = None
        if storage == "number":
            if "integral" in entry:
                integral = bool(entry["integral"])
            elif entry.get("type") in ("integer", "identifier"):
                integral = True  # only whole numbers are typed so
            elif value_counts is not None:
                integral = all(float(v).is_integer() for v in value_counts)
        return ColumnFacts(
            name=name,
            storage=storage,
            count=count,
            distinct=int(entry.get("distinct", 0)),
            value_counts=value_counts,
            integral=integral,
        )

    def timestamps(self, name: str) -> int | None:
        entry = self.entries.get(name)
        if entry is None or entry.get("type") != "datetime":
            return None  # numbers or strings that pandas may still read as dates: unknown
        return self.n_rows - int(entry.get("missing", 0))


def _storage(entry: Mapping[str, Any], count: int) -> Storage:
    if "unparsed" in entry:
        # Strings the profile coerced to numbers or dates; the file, and the frame the
        # worker reads from it, hold strings.
        return "string"
    if "mean" in entry:
        return "number"
    if "sorted" in entry:
        return "datetime"
    if "length" in entry:
        return "string"
    top = entry.get("top") or []
    if entry.get("type") == "boolean" or (top and all(isinstance(t["value"], bool) for t in top)):
        return "boolean"
    return "string" if count else "empty"


def _value_counts(entry: Mapping[str, Any], count: int) -> dict[Any, int] | None:
    """Every value's rows, when the profile's top list holds every non-missing row."""
    top = entry.get("top")
    if not top or entry.get("top_approx") or entry.get("distinct_approx"):
        return None
    counts = {t["value"]: int(t["count"]) for t in top}
    return counts if sum(counts.values()) == count else None
