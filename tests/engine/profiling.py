"""Helpers shared by the profiler's tests: a profile of an Arrow table, and a table of every
kind of column."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pyarrow as pa

from jobs.engine.io.profile import profile_batches

RNG_SEED = 7


def profile_of(table: pa.Table, batch_rows: int | None = None, **options: Any) -> dict[str, Any]:
    batches = table.to_batches(max_chunksize=batch_rows) if batch_rows else table.to_batches()
    # Small batches are kept as they come, so that merging across batches is exercised.
    result = profile_batches(batches, min_batch_rows=1, **options)
    json.dumps(result, allow_nan=False)  # serialisable, and no NaN sneaks through
    return result


def column(profile: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in profile["columns"] if c["name"] == name)


def codes(profile: dict[str, Any], column_name: str | None = None) -> set[str]:
    return {
        w["code"]
        for w in profile["warnings"]
        if column_name is None or w.get("column") == column_name
    }


def mixed_table(rng: np.random.Generator, n: int = 120) -> pa.Table:
    start = dt.datetime(2024, 1, 1)
    return pa.table(
        {
            "row": np.arange(n) * 3,
            "numeric": rng.normal(10, 2, n),
            "integer": rng.integers(0, 10, n),
            "flag": rng.random(n) < 0.5,
            "flag01": rng.integers(0, 2, n),
            "yesno": rng.choice(["Yes", "No"], n),
            "colour": rng.choice(["red", "green", "blue", "grey", "pink"], n),
            "comment": [
                f"the parcel number {i} arrived {'late' if i % 3 else 'early'}" for i in range(n)
            ],
            "stamp": pa.array(
                [start + dt.timedelta(hours=i) for i in range(n)], pa.timestamp("ms")
            ),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 40) for i in range(n)]),
            "iso": [f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
            "picture": [f"images/{i}.{'png' if i % 2 else 'JPG'}" for i in range(n)],
            "user_id": [f"{i * 7919:012x}" for i in range(n)],
            "same": ["x"] * n,
            "nothing": pa.nulls(n, pa.float64()),
        }
    )
