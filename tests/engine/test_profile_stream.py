"""The profiler as a stream: progress, batch sizes, threads, and failures on the way."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from jobs.engine.io import profile as profile_module
from jobs.engine.io import profile_columns
from jobs.engine.io.profile import profile_batches
from tests.engine.profiling import codes, column, mixed_table, profile_of


def test_progress_rises_to_one(rng: np.random.Generator) -> None:
    table = mixed_table(rng, 1000)
    seen: list[float] = []
    profile_of(table, batch_rows=50, total_bytes=table.nbytes, progress=seen.append)
    assert seen[-1] == 1.0
    assert all(0 < a < b for a, b in itertools.pairwise(seen))
    assert 5 <= len(seen) <= 51
    quiet: list[float] = []
    profile_of(table, batch_rows=50, progress=quiet.append)  # no size known: just the end
    assert quiet == [1.0]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_batch_sizes_do_not_change_the_profile(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small limits, so that sampling, capped counts, merging rounds and the median step's
    # cut-off all happen inside a few thousand rows.
    monkeypatch.setattr(profile_module, "SAMPLE_ROWS", 400)
    monkeypatch.setattr(profile_columns, "DISTINCT_CAP", 300)
    monkeypatch.setattr(profile_columns, "MERGE_ROWS", 50)
    monkeypatch.setattr(profile_columns, "SKETCH_K", 64)
    monkeypatch.setattr(profile_columns, "MEDIAN_STEPS", 500)
    n = 3000
    table = mixed_table(rng, n).append_column(
        "target", pa.array(rng.choice(["p", "q", "r"], n, p=[0.6, 0.35, 0.05]))
    )
    whole = profile_of(table)
    assert whole["sample_rows"] == 400
    assert column(whole, "comment")["distinct_approx"] is True
    assert "class_imbalance" in codes(whole, "target")
    for rows in (7, 128, 1000):
        for prefetch in (True, False):
            batched = profile_of(table, batch_rows=rows, prefetch=prefetch)
            # Only the Arrow footprint may differ: slices share buffers.
            assert _same({**batched, "memory_bytes": 0}, {**whole, "memory_bytes": 0}), rows


def test_a_column_null_in_the_first_batch_takes_its_type_later() -> None:
    first = pa.record_batch({"a": pa.nulls(3), "b": ["x", "y", "z"]})
    second = pa.record_batch({"a": pa.array([1, 2, 3]), "b": ["x", "y", "w"]})
    streamed = profile_batches([first, second])
    whole = profile_of(pa.Table.from_batches([first.cast(second.schema), second]))
    assert _same(streamed, {**whole, "memory_bytes": streamed["memory_bytes"]})
    assert column(streamed, "a")["type"] == "integer"
    assert column(streamed, "a")["missing"] == 3


def test_reading_errors_and_changing_columns_surface() -> None:
    def failing() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"a": [1, 2]})
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        profile_batches(failing())
    renamed = [pa.record_batch({"a": [1]}), pa.record_batch({"b": [1]})]
    with pytest.raises(ValueError, match="columns"):
        profile_batches(renamed)
    retyped = [
        pa.record_batch({"a": pa.array([dt.datetime(2024, 1, 1)] * 3000)}),
        pa.record_batch({"a": ["soon"]}),
    ]
    with pytest.raises(ValueError, match="changes type"):
        profile_batches(retyped)


def test_an_empty_stream_gives_an_empty_profile() -> None:
    profile = profile_batches(iter([]))
    assert profile["n_rows"] == 0
    assert profile["columns"] == []
    assert profile["suggested_target"] is None
    header_only = profile_batches([pa.record_batch({"a": pa.array([], pa.int64())})])
    assert column(header_only, "a")["type"] == "constant"


def test_threads_and_joined_batches_do_not_change_the_profile(rng: np.random.Generator) -> None:
    table = mixed_table(rng, 3000)

    def run(threads: int, min_batch_rows: int) -> dict[str, Any]:
        batches = table.to_batches(max_chunksize=100)
        return profile_batches(batches, threads=threads, min_batch_rows=min_batch_rows)

    alone = run(threads=1, min_batch_rows=1)
    # The same batches folded in on several threads: the very same profile.
    assert run(threads=4, min_batch_rows=1) == alone
    joined = run(threads=4, min_batch_rows=1000)
    assert joined["n_rows"] == alone["n_rows"] == 3000
    assert joined["duplicate_rows"] == alone["duplicate_rows"]
    assert joined["warnings"] == alone["warnings"]
    for a, b in zip(joined["columns"], alone["columns"], strict=True):
        assert (a["name"], a["type"], a["missing"], a["distinct"]) == (
            b["name"],
            b["type"],
            b["missing"],
            b["distinct"],
        )
        assert a.get("top") == b.get("top")
        if "mean" in a:
            assert a["mean"] == pytest.approx(b["mean"])
            assert a["std"] == pytest.approx(b["std"])
