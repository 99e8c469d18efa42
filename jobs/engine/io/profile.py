"""A streaming profile of a table: one pass over pyarrow RecordBatches, bounded memory.

    profile_batches(batches, *, total_bytes=None, progress=None, overrides=None, target=None,
                    prefetch=True) -> dict

Counts, missing values, min/max/mean/std, text lengths, value counts (up to DISTINCT_CAP
distinct values), datetime order and gaps and duplicate rows (by a 64-bit hash of each row,
8 bytes a row held until the end, up to EXACT_ROW_HASHES rows; estimated past it) are exact
over all rows.
Histograms, the top values of columns past the cap, the text-and-image-path tests and the
leakage tests use a uniform sample of SAMPLE_ROWS rows (all rows of smaller tables), chosen by
a hash of the row number, so that the profile does not depend on how the rows were batched.
Thresholds for types and warnings are in jobs.engine.io.profile_checks.

The profile, JSON-serialisable:
    {"n_rows", "n_columns", "duplicate_rows", "duplicate_rows_approx" (true when estimated),
     "sample_rows",
     "memory_bytes": the Arrow in-memory size of the batches, summed,
     "columns": [{
        "name", "type" (the override, else inferred), "inferred_type",
        "missing", "distinct", "distinct_approx" (present, true, when estimated past the cap),
        numbers: "min", "max", "mean", "std" (n - 1), "histogram": {"edges" (21), "counts" (20,
            over the sampled non-missing values; one bin per value for integers spanning
            fewer than 20)}, "integral" (every value whole),
        categorical, text, boolean, image_path, and any column with at most 10 distinct
            values: "top": [{"value", "count"}] (10 most common; "top_approx": true when
            counted on the sample and scaled to all rows),
        strings: "length": {"min", "max", "mean", "histogram"} (in characters), "empty",
        datetime: "min", "max" (ISO 8601), "sorted" (non-decreasing, missing values skipped),
            "gaps": {"median_step_seconds" (of the positive steps, from the first million),
                     "n_gaps" (steps over 1.5 x the median)} or null when not sorted,
        strings coerced to numbers or datetimes: "unparsed" (values that became missing)}],
     "suggested_target": the target passed, else a guess, or null,
     "suggested_task_type": "binary" | "multiclass" | "regression" | null,
     "warnings": [{"code", "column" (when about one), "message"}]}
Warning codes: identifier, constant, high_missing, high_cardinality, unparsed_values,
duplicate_rows, class_imbalance, few_rows_per_class, target_leakage.

Types: numeric, integer, boolean, categorical, text, datetime, image_path, identifier,
constant. String columns whose first values are mostly ISO dates are parsed as datetimes; an
override to numeric, integer or datetime parses a string column the same way.

Speed: per batch, everything is pyarrow.compute or numpy over whole arrays; small batches are
joined up to BATCH_ROWS rows first, so the Python work per batch and column stays small next
to the work on the values. Batches are read on a helper thread (a CSV reader parses the next
block while this one profiles the last), and a batch's columns are folded in on a pool of
threads, since pyarrow.compute and numpy release the GIL. bench/datasets.py measures it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.engine.io.profile_checks import (
    TYPES,
    class_counts,
    infer_type,
    suggest_target,
    suggest_task_type,
    warnings_for,
)
from jobs.engine.io.profile_columns import ColumnStats, Sketch, detect_datetime_mode
from jobs.engine.io.profile_hashing import mix64
from jobs.engine.io.profile_stream import Progress, coalesced, prefetched, retained_memory

SAMPLE_ROWS = 50_000
# Rows buffered before deciding which string columns hold dates.
HEAD_ROWS = 2_000
DATETIME_SHARE = 0.9
BINS = 20
BATCH_ROWS = 100_000
# Threads that fold a batch's columns in, alongside the reader's prefetch thread.
PROFILE_THREADS = min(4, os.cpu_count() or 1)
TOP = 10
_SAMPLE_SEED = np.uint64(0x5EED)
_ROW_MULTIPLIER = np.uint64(0x100000001B3)
# Rows whose hashes are kept for an exact count of duplicate rows (8 bytes each, 64 MB); past
# it, a sketch of ROW_SKETCH_K hashes (512 KB) estimates it, to about 0.4 %.
EXACT_ROW_HASHES = 8_000_000
ROW_SKETCH_K = 65_536


class _RowSample:
    """The SAMPLE_ROWS rows with the smallest hashed row numbers: uniform, batching-blind."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.keys = np.empty(0, dtype=np.uint64)
        self.table: pa.Table | None = None
        self.pending: list[tuple[np.ndarray, pa.RecordBatch]] = []
        self.pending_rows = 0
        self.threshold: np.uint64 | None = None

    def add(self, batch: pa.RecordBatch, first_row: int) -> None:
        rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.uint64)
        keys = mix64(rows + _SAMPLE_SEED)
        if self.threshold is not None:
            picked = np.flatnonzero(keys < self.threshold)
            if picked.size == 0:
                return
            keys, batch = keys[picked], batch.take(picked)
        self.pending.append((keys, batch))
        self.pending_rows += batch.num_rows
        # Compacting lazily: a looser threshold admits a few more rows, but the table is
        # rebuilt only a handful of times over the whole stream.
        if self.pending_rows >= self.size:
            self._compact()

    def _compact(self) -> None:
        if not self.pending:
            return
        tables = [] if self.table is None else [self.table]
        tables += [pa.Table.from_batches([batch]) for _, batch in self.pending]
        table = pa.concat_tables(tables, promote_options="permissive")
        keys = np.concatenate([self.keys, *(k for k, _ in self.pending)])
        self.pending, self.pending_rows = [], 0
        if len(keys) > self.size:
            # Sorted positions keep the rows in file order.
            keep = np.sort(np.argpartition(keys, self.size - 1)[: self.size])
            table, keys = table.take(keep), keys[keep]
            self.threshold = keys.max()
        self.table, self.keys = table, keys

    def result(self) -> pa.Table | None:
        self._compact()
        return self.table


class RowHashes:
    """Row hashes for counting duplicate rows, sorted and merged while the stream runs.

    Sorting each batch and merging runs of similar size (as timsort does) spreads the sort
    over the reading, where the profiling thread has time to spare, instead of the end. Past
    EXACT_ROW_HASHES rows the hashes go into a distinct-count sketch instead, so that memory
    stays bounded whatever the row count: the count is then an estimate, and one within
    three standard errors of none counts as none.
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.sorting = False
        self.rows = 0
        self.sketch: Sketch | None = None

    def add(self, hashes: np.ndarray, distinct_so_far: bool) -> None:
        self.rows += hashes.size
        if self.sketch is not None:
            self.sketch.add(hashes)
            return
        if self.rows > EXACT_ROW_HASHES:
            self.sketch = Sketch(ROW_SKETCH_K)
            for run in [*self.runs, hashes]:
                self.sketch.add(run)
            self.runs = []
            return
        # While a column proves every row distinct, the hashes may never be needed.
        if not distinct_so_far and not self.sorting:
            self.sorting = True
            self.runs = [np.sort(np.concatenate(self.runs))] if self.runs else []
        if not self.sorting:
            self.runs.append(hashes)
            return
        hashes.sort()
        self.runs.append(hashes)
        while len(self.runs) > 1 and len(self.runs[-2]) < 2 * len(self.runs[-1]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]), kind="stable")

    @property
    def approximate(self) -> bool:
        return self.sketch is not None

    def duplicates(self) -> int:
        if self.sketch is not None:
            repeated = self.rows - self.sketch.estimate()
            return repeated if repeated > 3 * self.rows / math.sqrt(ROW_SKETCH_K) else 0
        if not self.runs:
            return 0
        ordered = np.sort(np.concatenate(self.runs), kind="stable")  # timsort merges runs
        self.runs = []
        return int(ordered.size - 1 - np.count_nonzero(ordered[1:] != ordered[:-1]))


def _number(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _histogram(
    values: np.ndarray, low: float, high: float, integers: bool = False
) -> dict[str, list[Any]]:
    """BINS equal bins from the exact min to max; one bin per value for a few integers."""
    values = values[np.isfinite(values)]
    if not (math.isfinite(low) and math.isfinite(high)) and values.size:
        low, high = float(values.min()), float(values.max())
    if not values.size or not (math.isfinite(low) and math.isfinite(high)):
        return {"edges": [], "counts": []}
    if integers and high - low < BINS:
        # Bins centred on the integers: 0.8-wide bins over 0..16 would leave empty gaps.
        edges = np.arange(low - 0.5, high + 1.0)
    elif high > low:
        edges = np.linspace(low, high, BINS + 1)
    else:
        edges = np.array([low, high])
    counts, _ = np.histogram(values, bins=edges)
    return {"edges": [_number(round(e, 12)) for e in edges], "counts": [int(c) for c in counts]}


def _iso(micros: int) -> str:
    try:
        return (datetime(1970, 1, 1) + timedelta(microseconds=micros)).isoformat()
    except OverflowError:
        return str(np.datetime64(micros, "us"))


def _is_string(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


class _Profiler:
    def __init__(self, overrides: Mapping[str, str], target: str | None) -> None:
        unknown = {t for t in overrides.values() if t not in TYPES}
        if unknown:
            raise ValueError(f"Unknown column types {sorted(unknown)}; choose from {TYPES}.")
        self.overrides, self.target = dict(overrides), target
        self.names: list[str] = []
        self.columns: list[ColumnStats] = []
        self.head: list[pa.RecordBatch] | None = []
        self.head_rows = self.rows = self.memory = 0
        self.row_hashes = RowHashes()
        self.sample = _RowSample(SAMPLE_ROWS)
        self.pool: ThreadPoolExecutor | None = None
        self.cost: list[float] = []  # seconds each column took on the last batch

    def feed(self, batch: pa.RecordBatch) -> None:
        self.memory += batch.nbytes
        if not self.names:
            self._start(batch.schema.names)
        elif batch.schema.names != self.names:
            raise ValueError(f"A batch has columns {batch.schema.names}, not {self.names}.")
        if self.head is None:
            self._process(batch)
            return
        self.head.append(batch)
        self.head_rows += batch.num_rows
        if self.head_rows >= HEAD_ROWS:
            self._release_head()

    def _start(self, names: list[str]) -> None:
        missing = [n for n in [*self.overrides, self.target] if n is not None and n not in names]
        if missing:
            raise ValueError(f"No column named {', '.join(map(repr, missing))} in the data.")
        self.names = names
        self.columns = [ColumnStats(name) for name in names]
        self.cost = [0.0] * len(names)

    def _release_head(self) -> None:
        head, self.head = self.head or [], None
        for j, col in enumerate(self.columns):
            chunks = [b.column(j) for b in head]
            strings = [
                c for c in chunks if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)
            ]
            wanted = self.overrides.get(col.name)
            if not strings or wanted not in (None, "datetime", "numeric", "integer"):
                continue
            if wanted in ("numeric", "integer"):
                col.parse = "number"
                continue
            values = pa.chunked_array(strings).combine_chunks()[:HEAD_ROWS]
            col.parse = detect_datetime_mode(values, DATETIME_SHARE)
            if wanted == "datetime" and col.parse is None:
                col.parse = "naive"
        for batch in head:
            self._process(batch)

    def _process(self, batch: pa.RecordBatch) -> None:
        arrays = []
        row_hash: np.ndarray | None = None

        def column(j: int) -> tuple[pa.Array, np.ndarray]:
            started = time.perf_counter()
            col = self.columns[j]
            arr, kind = col.prepare(batch.column(j))
            hashes = col.update(arr, kind)
            self.cost[j] = time.perf_counter() - started
            return arr, hashes

        # Each column's accumulators are its own, so columns can be folded in on several
        # threads (pyarrow.compute and numpy release the GIL); batches stay in order. The
        # costliest columns (by the last batch) go first, so that no thread is left alone
        # with a long column at the end of a batch.
        order = sorted(range(len(self.columns)), key=lambda j: -self.cost[j])
        folded = self.pool.map(column, order) if self.pool else map(column, order)
        results = dict(zip(order, folded, strict=True))
        done = (results[j] for j in range(len(self.columns)))
        for arr, hashes in done:
            if row_hash is None:
                row_hash = hashes.copy()
            else:
                row_hash *= _ROW_MULTIPLIER
                row_hash += hashes
            arrays.append(arr)
        if row_hash is not None:
            self.row_hashes.add(row_hash, any(c.increasing for c in self.columns))
        self.sample.add(pa.RecordBatch.from_arrays(arrays, names=self.names), self.rows)
        self.rows += batch.num_rows

    def _duplicates(self, counts: dict[str, tuple[pa.Array, np.ndarray] | None]) -> int:
        # A column with a different value on every row (an increasing id, a timestamp, a key
        # counted exactly) proves every row distinct, and spares sorting the row hashes.
        for c in self.columns:
            exact = counts[c.name]
            if c.increasing or (c.missing == 0 and exact is not None and len(exact[0]) == c.rows):
                return 0
        return self.row_hashes.duplicates()

    def finish(self) -> dict[str, Any]:
        if self.head is not None:
            self._release_head()
        sample = self.sample.result() or pa.table({n: pa.nulls(0) for n in self.names})
        columns, stats, counts = [], {}, {}
        for col in self.columns:
            col.finish()
            stats[col.name] = col
            counts[col.name] = col.counts.result()
            columns.append(self._column(col, counts[col.name], sample.column(col.name)))
        profile: dict[str, Any] = {
            "n_rows": self.rows,
            "n_columns": len(self.names),
            "duplicate_rows": self._duplicates(counts),
            "duplicate_rows_approx": self.row_hashes.approximate,
            "sample_rows": sample.num_rows,
            "memory_bytes": self.memory,
            "columns": columns,
        }
        target = self.target or suggest_target(self.names, [c["type"] for c in columns])
        task = None
        if target is not None:
            entry = columns[self.names.index(target)]
            task = suggest_task_type(stats[target], entry["type"], entry["distinct"])
        profile["suggested_target"], profile["suggested_task_type"] = target, task
        classes = class_counts(stats[target], counts[target]) if target else []
        profile["warnings"] = warnings_for(profile, stats, sample, classes)
        return profile

    def _column(
        self, col: ColumnStats, counts: tuple[pa.Array, np.ndarray] | None, sample: pa.ChunkedArray
    ) -> dict[str, Any]:
        distinct, approximate = col.distinct(counts)
        few = counts[0].to_pylist() if counts is not None and distinct <= 2 else []
        present = pc.drop_null(sample.combine_chunks())
        inferred = infer_type(
            col, distinct, approximate, few, present if col.kind == "string" else None
        )
        kind = self.overrides.get(col.name, inferred)
        entry: dict[str, Any] = {
            "name": col.name,
            "type": kind,
            "inferred_type": inferred,
            "missing": col.missing,
            "distinct": distinct,
        }
        if approximate:
            entry["distinct_approx"] = True
        if col.parse is not None:
            entry["unparsed"] = col.unparsed
        if col.kind == "numeric" and col.valid_count:
            std = math.sqrt(col.m2 / (col.valid_count - 1)) if col.valid_count > 1 else 0.0
            values = np.asarray(present.cast(pa.float64()).to_numpy(), dtype=np.float64)
            entry |= {"min": _number(col.low), "max": _number(col.high)}
            entry |= {"mean": _number(col.mean), "std": _number(std)}
            whole = not col.is_float or col.integral
            # Lets a job's checks tell classes from a continuous target without the file.
            entry["integral"] = bool(whole)
            entry["histogram"] = _histogram(values, float(col.low), float(col.high), whole)
        if col.kind == "datetime" and col.valid_count:
            entry |= {"min": _iso(col.low), "max": _iso(col.high), "sorted": col.sorted}
            entry["gaps"] = None
            if col.sorted and col.median_step is not None:
                median = col.median_step / 1e6
                entry["gaps"] = {"median_step_seconds": median, "n_gaps": col.n_gaps}
        if col.kind == "string" and col.valid_count:
            lengths = np.asarray(pc.utf8_length(present).to_numpy(), dtype=np.float64)
            entry["length"] = {
                "min": col.low,
                "max": col.high,
                "mean": col.length_sum / col.valid_count,
                "histogram": _histogram(lengths, col.low, col.high, integers=True),
            }
            entry["empty"] = col.empty
        # Any column with few values lists them all (exactly counted): a job's checks then see
        # every class of a target, numbers and constants included, without the file.
        few_values = counts is not None and distinct <= TOP
        if (kind in ("categorical", "text", "boolean", "image_path") or few_values) and (
            col.valid_count
        ):
            entry |= self._top(col, counts, present)
        return entry

    def _top(
        self, col: ColumnStats, counts: tuple[pa.Array, np.ndarray] | None, present: pa.Array
    ) -> dict[str, Any]:
        if col.kind == "boolean":
            pairs = [(True, col.true_count), (False, col.valid_count - col.true_count)]
            pairs = sorted((p for p in pairs if p[1]), key=lambda p: -p[1])
            return {"top": [{"value": v, "count": c} for v, c in pairs]}
        scale, extra = 1.0, {}
        if counts is None:
            # Past the cap: the sample's counts, scaled to every non-missing row.
            counted = pc.value_counts(present)
            # A value seen once in the sample says nothing of its count in the whole table.
            repeated = pc.greater(counted.field("counts"), 1)
            counted = counted.filter(repeated)
            counts = (counted.field("values"), counted.field("counts").to_numpy())
            scale, extra = col.valid_count / max(1, len(present)), {"top_approx": True}
        table = pa.table({"v": counts[0], "c": counts[1]})
        # Ties broken by value, so the order never depends on batching.
        table = table.sort_by([("c", "descending"), ("v", "ascending")]).slice(0, TOP)
        top = [
            {"value": _value(v, col.kind), "count": round(c * scale)}
            for v, c in zip(
                table.column("v").to_pylist(), table.column("c").to_pylist(), strict=True
            )
        ]
        return {"top": top, **extra}


def _value(value: Any, kind: str) -> Any:
    if kind == "datetime" and isinstance(value, datetime):
        return value.isoformat()
    return _number(value)


def profile_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    total_bytes: int | None = None,
    progress: Callable[[float], None] | None = None,
    overrides: Mapping[str, str] | None = None,
    target: str | None = None,
    prefetch: bool = True,
    threads: int = PROFILE_THREADS,
    min_batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Profile a table from its batches (all with the same columns); see the module docstring.

    total_bytes: the size of the source, compared to the batches' in-memory size for progress.
    progress: called with the fraction done, at most every 2% or 0.5 s, lastly with 1.0.
    prefetch: iterate `batches` on a helper thread, overlapping reading with profiling.
    threads: how many threads fold columns in (1: the calling thread alone).
    min_batch_rows: smaller batches are joined up to this many rows before they are folded in.
    """
    profiler = _Profiler(overrides or {}, target)
    meter = Progress(progress, total_bytes)
    with contextlib.ExitStack() as stack:
        stack.enter_context(retained_memory())
        if threads > 1:
            profiler.pool = stack.enter_context(ThreadPoolExecutor(threads, "profile-column"))
        joined = coalesced(batches, min_batch_rows)
        stream = stack.enter_context(
            prefetched(joined) if prefetch else contextlib.nullcontext(joined)
        )
        for batch in stream:
            profiler.feed(batch)
            meter.advance(batch.nbytes)
        profile = profiler.finish()
    meter.finish()
    return profile
