"""The profile's memory does not grow with the row count: past a bound, duplicate rows are
estimated from a sketch instead of one hash a row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from jobs.engine.io import profile as profile_module
from jobs.engine.io.profile import profile_batches


def _table(rows: int, repeats: int) -> pa.Table:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**40, rows)
    values[rows - repeats :] = values[:repeats]  # the last rows repeat the first ones
    rng.shuffle(values)
    return pa.table({"a": values // 1000, "b": values % 1000})


def test_past_the_bound_duplicate_rows_are_estimated_and_no_hash_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profile_module, "EXACT_ROW_HASHES", 5_000)
    held: list[int] = []
    real_add = profile_module.RowHashes.add

    def add(self: profile_module.RowHashes, hashes: np.ndarray, distinct: bool) -> None:
        real_add(self, hashes, distinct)
        held.append(sum(run.size for run in self.runs))

    monkeypatch.setattr(profile_module.RowHashes, "add", add)
    table = _table(60_000, repeats=6_000)
    profiled = profile_batches(table.to_batches(max_chunksize=1_000), min_batch_rows=1)
    assert profiled["duplicate_rows_approx"] is True
    assert profiled["duplicate_rows"] == pytest.approx(6_000, rel=0.05)
    assert max(held) <= 5_000
    assert held[-1] == 0
    # and without repeats the estimate's noise is not reported as duplicates
    clean = profile_batches(_table(60_000, 0).to_batches(max_chunksize=1_000), min_batch_rows=1)
    assert clean["duplicate_rows"] == 0
    assert "duplicate_rows" not in {w["code"] for w in clean["warnings"]}


def test_under_the_bound_the_count_is_exact() -> None:
    profiled = profile_batches(_table(20_000, 1_234).to_batches(max_chunksize=999))
    assert (profiled["duplicate_rows"], profiled["duplicate_rows_approx"]) == (1_234, False)
