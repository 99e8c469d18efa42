"""A page of rows costs the web process the memory of the row groups being read, not the
table's: `rows/` streams the stored file up to the page (jobs.selectors.dataset_rows). A READY
Parquet file may unpack to 250 times its stored size (jobs/engine/io/limits.py), so a small
file can be a big table."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.factories import make_dataset

pytestmark = pytest.mark.django_db

ROWS = 1_000_000
WIDTH = 120  # characters a cell: the decoded column is ROWS * WIDTH = 120 MB


class PeakArrow(threading.Thread):
    """The most bytes Arrow held at once while it runs. Arrow's live bytes, not the process's
    resident size: the allocator keeps freed pages for a while, so the resident size measured
    3 MB in one run and 49 MB in another for the same streamed read."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.base = pa.total_allocated_bytes()
        self.peak = self.base
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.001):
            self.peak = max(self.peak, pa.total_allocated_bytes())


def _big_parquet() -> bytes:
    # A random number a row, padded to WIDTH characters: about 10 MB stored, 120 MB decoded,
    # well inside the ratio a READY table may have.
    numbers = np.random.default_rng(0).integers(0, 2**62, ROWS).astype(str)
    table = pa.table(
        {
            "text": pc.utf8_rpad(pa.array(numbers), width=WIDTH, padding="x"),
            "n": pa.array(range(ROWS), pa.int64()),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=100_000, compression="zstd")
    return sink.getvalue()


def test_the_last_page_of_a_big_table_costs_a_batch_not_the_table(
    api_as: Any, personas: dict[str, Any], media_root: Path, settings: Any
) -> None:
    # The profile's reading child starts with this test process's pages (Keras and all,
    # which a short worker does not hold): room for the table is the point here, not the limit.
    settings.PROFILE_MEMORY_BYTES = 4 << 30
    content = _big_parquet()
    dataset = make_dataset(personas["owner"], content, filename="big.parquet")
    assert dataset.status == "READY", dataset.error
    api = api_as("owner")
    watch = PeakArrow()
    watch.start()
    try:
        answer = api.get(f"/api/v1/datasets/{dataset.pk}/rows/?offset={ROWS - 5}&limit=50")
    finally:
        watch.done.set()
        watch.join()
    assert answer.status_code == 200
    assert [row["n"] for row in answer.json()["rows"]] == list(range(ROWS - 5, ROWS))
    grew = (watch.peak - watch.base) >> 20
    # The whole column is 120 MB decoded (188 MB held when every batch is kept). Streamed,
    # Arrow holds the row group being read and the ones its reader has fetched ahead (74 MB
    # measured here), never the table.
    assert grew < 100, f"the web grew {grew} MB for one page"
