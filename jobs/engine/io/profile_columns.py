"""Per-column accumulators for the streaming profiler (see jobs.engine.io.profile).

Everything here works a whole Arrow array at a time, with pyarrow.compute and numpy: a
profile of ten million rows must cost about as much as parsing them, so nothing loops in
Python over rows. Each update also returns a 64-bit hash per row, which the profiler folds
into row hashes (duplicate rows) and this column's distinct-count sketch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.engine.io.profile_hashing import (
    NULL_HASH,
    Kind,
    fixed_width,
    hash_values,
    mix64,
    valid_mask,
    value_offsets,
)

# Exact value counts are kept up to this many distinct values; past it, a sketch estimates.
DISTINCT_CAP = 100_000
# Per-batch counts are merged once this many are pending (or twice as many as are held).
MERGE_ROWS = 200_000
# K-minimum-values sketch: about 1/sqrt(K), so 1.6%, relative error on a distinct count.
SKETCH_K = 4096
# Positive time steps collected to fix the median step, the yardstick for gaps.
MEDIAN_STEPS = 1_000_000
GAP_FACTOR = 1.5
_TIMESTAMP = pa.timestamp("us")
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
)


def normalize(arr: pa.Array) -> tuple[pa.Array, Kind]:
    """Cast to the few storage types the accumulators handle; return the array and its kind."""
    t = arr.type
    if pa.types.is_dictionary(t):
        return normalize(arr.dictionary_decode())
    if pa.types.is_null(t):
        return arr, "null"
    if pa.types.is_boolean(t):
        return arr, "boolean"
    if pa.types.is_integer(t) or pa.types.is_time(t) or pa.types.is_duration(t):
        try:
            return arr.cast(pa.int64()), "numeric"
        except pa.ArrowInvalid:  # uint64 past 2**63
            return arr.cast(pa.float64()), "numeric"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return arr.cast(pa.float64()), "numeric"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return arr.cast(_TIMESTAMP, safe=False), "datetime"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr, "string"
    if pa.types.is_string_view(t):
        return arr.cast(pa.large_string()), "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return arr, "other"
    if pa.types.is_binary_view(t):
        return arr.cast(pa.large_binary()), "other"
    # Nested and rarer types: compared by their text, which is slow but keeps them profiled.
    text = [None if v is None else str(v) for v in arr.to_pylist()]
    return pa.array(text, pa.large_string()), "other"


def parse_datetimes(arr: pa.Array, mode: str) -> pa.Array:
    """Strings to timestamps; values that do not parse become nulls (counted by the caller)."""
    if mode in ("naive", "utc"):
        try:
            return arr.cast(pa.timestamp("us", "UTC") if mode == "utc" else _TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    formats = _DATETIME_FORMATS if mode in ("naive", "utc") else (mode,)
    parsed = [pc.strptime(arr, format=f, unit="us", error_is_null=True) for f in formats]
    return pc.coalesce(*parsed) if len(parsed) > 1 else parsed[0]


def detect_datetime_mode(head: pa.Array, minimum_share: float) -> str | None:
    """How a string column's first values parse as ISO dates, if most of them do."""
    values = pc.drop_null(head)
    if len(values) == 0:
        return None
    iso = pc.match_substring_regex(values, r"^\s*\d{4}-\d{2}-\d{2}")
    if (pc.sum(iso).as_py() or 0) < minimum_share * len(values):
        return None
    best, best_share = None, 0.0
    for mode in ("naive", "utc", *_DATETIME_FORMATS):
        share = 1 - parse_datetimes(values, mode).null_count / len(values)
        if share > best_share:
            best, best_share = mode, share
    return best if best_share >= minimum_share else None


def parse_numbers(arr: pa.Array) -> pa.Array:
    try:
        return arr.cast(pa.float64())
    except pa.ArrowInvalid:
        trimmed = pc.utf8_trim_whitespace(arr)
        ok = pc.match_substring_regex(trimmed, r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
        return pc.if_else(ok, trimmed, pa.scalar(None, arr.type)).cast(pa.float64())


def _min_max(arr: pa.Array) -> tuple[Any, Any]:
    """Arrow's extremes of an array (None for none), as Python values."""
    extremes = pc.min_max(arr)
    return extremes["min"].as_py(), extremes["max"].as_py()


class ValueCounts:
    """Exact counts of each value, merged in rounds, abandoned past DISTINCT_CAP values."""

    def __init__(self) -> None:
        self.values: pa.Array | None = None
        self.counts = np.empty(0, dtype=np.int64)
        self.pending: list[tuple[pa.Array, np.ndarray]] = []
        self.pending_rows = 0
        self.overflow = False

    def add(self, values: pa.Array, counts: np.ndarray) -> list[pa.Array]:
        """Count; on passing the cap, return every value seen, for the sketch to take over."""
        self.pending.append((values, counts))
        self.pending_rows += len(values)
        # Merging in rounds keeps the work proportional to the values seen, not to
        # batches x distinct values.
        held = 0 if self.values is None else len(self.values)
        if len(values) > DISTINCT_CAP or self.pending_rows > max(MERGE_ROWS, 2 * held):
            return self._merge()
        return []

    def _merge(self) -> list[pa.Array]:
        parts = self.pending if self.values is None else [(self.values, self.counts), *self.pending]
        self.pending, self.pending_rows = [], 0
        if not parts:
            return []
        if len({p[0].type for p in parts}) > 1:  # an integer column that met floats
            parts = [(v.cast(pa.float64()), c) for v, c in parts]
        if len(parts) == 1:
            merged_values, self.counts = parts[0]
        else:
            # A hash pass and a weighted bincount: several times faster than Acero's group_by.
            encoded = pc.dictionary_encode(pa.concat_arrays([p[0] for p in parts]))
            weights = np.concatenate([p[1] for p in parts])
            merged_values = encoded.dictionary
            self.counts = np.bincount(encoded.indices.to_numpy(), weights=weights).astype(np.int64)
        if len(merged_values) > DISTINCT_CAP:
            self.overflow, self.values = True, None
            return [merged_values]
        self.values = merged_values
        return []

    def result(self) -> tuple[pa.Array, np.ndarray] | None:
        if not self.overflow:
            self._merge()
        if self.overflow or self.values is None:
            return None
        return self.values, self.counts


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # np.unique_values no longer sorts, and np.unique is slow on large arrays in numpy 2.4.
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])]


class Sketch:
    """The k smallest distinct hashes: an estimate of the distinct count (error ~1/sqrt(k))."""

    def __init__(self, k: int = SKETCH_K) -> None:
        self.smallest, self.k = np.empty(0, dtype=np.uint64), k

    def add(self, hashes: np.ndarray) -> None:
        hashes = mix64(hashes)  # uniform, so the K-th smallest measures the density
        if len(self.smallest) >= self.k:
            hashes = hashes[hashes < self.smallest[-1]]
        if hashes.size == 0:
            return
        candidates = np.concatenate([self.smallest, hashes])
        if candidates.size > 4 * self.k:
            few = _sorted_unique(np.partition(candidates, 4 * self.k)[: 4 * self.k])
            # Repeats can leave fewer than K distinct among the 4K smallest: then sort them all.
            candidates = few if few.size >= self.k else candidates
        self.smallest = _sorted_unique(candidates)[: self.k]

    def estimate(self) -> int:
        if len(self.smallest) < self.k:
            return len(self.smallest)
        return round((self.k - 1) * 2.0**64 / float(self.smallest[-1]))


class ColumnStats:
    """Everything the profile says about one column, built batch by batch."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind: Kind = "null"
        self.storage = pa.null()
        self.is_float = False
        self.parse: str | None = None  # "number" or a datetime mode: strings coerced on the way in
        self.rows = self.missing = self.unparsed = 0
        self.counts = ValueCounts()
        self.sketch = Sketch()
        self.valid_count = 0
        self.mean = self.m2 = 0.0
        self.low: Any = None
        self.high: Any = None
        self.integral = True
        self.true_count = 0
        self.length_sum = self.empty = 0
        # Strictly increasing with no missing values: then no two rows are equal.
        self.increasing = True
        self.sorted = True
        self.last: int | None = None
        self.last_time: int | None = None
        self.steps: list[np.ndarray] | None = []
        self.median_step: float | None = None
        self.n_gaps = 0

    def prepare(self, arr: pa.Array) -> tuple[pa.Array, Kind]:
        """Normalise one batch's array, reconciling it with the kind seen so far."""
        strings = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        if self.parse is not None and strings:
            before = arr.null_count
            arr = parse_numbers(arr) if self.parse == "number" else parse_datetimes(arr, self.parse)
            self.unparsed += arr.null_count - before
        arr, kind = normalize(arr)
        if (kind == self.kind and arr.type == self.storage) or kind == "null":
            return arr, kind
        if self.kind == "null" and self.valid_count == 0:
            self.kind, self.storage = kind, arr.type
            self.is_float = pa.types.is_floating(arr.type)
            return arr, kind
        if self.kind == "numeric" and kind == "numeric":
            return arr, kind
        try:
            return arr.cast(self.storage), self.kind
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(
                f"Column '{self.name}' changes type between batches ({self.kind}, then {arr.type})."
            ) from exc

    def update(self, arr: pa.Array, kind: Kind) -> np.ndarray:
        """Fold one prepared array in; return its per-row hashes."""
        n, nulls = len(arr), arr.null_count
        self.rows += n
        self.missing += nulls
        if nulls:
            self.increasing = False
        if kind == "null" or nulls == n:
            return np.full(n, NULL_HASH)
        self.valid_count += n - nulls
        if kind == "numeric":
            if pa.types.is_floating(arr.type) and not self.is_float:
                self.is_float = True
            arr = arr.cast(pa.float64()) if self.is_float and arr.type != pa.float64() else arr
            self._numeric(arr, n - nulls)
        elif kind == "boolean":
            self.true_count += pc.sum(arr).as_py() or 0
            self.increasing = False
        elif kind == "datetime":
            self._datetime(arr)
        else:
            self.increasing = False
        if self.increasing:
            values = fixed_width(arr, np.int64)
            after_last = self.last is None or values[0] > self.last
            self.increasing = after_last and bool((values[1:] > values[:-1]).all())
            self.last = int(values[-1])
        if kind == "boolean":
            return hash_values(arr, kind)
        if kind in ("string", "other") and not self.counts.overflow:
            return self._count_strings(arr, kind)
        if not self.counts.overflow:
            counted = pc.value_counts(arr)
            values, counts = counted.field("values"), counted.field("counts")
            if nulls:
                present = values.is_valid()
                values, counts = values.filter(present), counts.filter(present)
            self._count(values, counts.to_numpy(), kind)
        hashes = hash_values(arr, kind)
        if kind == "string":
            self._lengths(arr)
        if self.counts.overflow:
            self.sketch.add(hashes if nulls == 0 else hashes[hashes != NULL_HASH])
        return hashes

    def distinct(self, counts: tuple[pa.Array, np.ndarray] | None) -> tuple[int, bool]:
        """The number of distinct non-missing values, and whether it is an estimate."""
        if self.kind == "boolean":
            return int(self.true_count > 0) + int(self.valid_count > self.true_count), False
        if counts is not None:
            return len(counts[0]), False
        if self.increasing:
            return self.valid_count, False
        return min(self.sketch.estimate(), self.valid_count), self.counts.overflow

    def _count(self, values: pa.Array, counts: np.ndarray, kind: Kind) -> None:
        for everything in self.counts.add(values, counts):
            self.sketch.add(hash_values(everything, kind))

    def _count_strings(self, arr: pa.Array, kind: Kind) -> np.ndarray:
        # One hash-table pass yields the counts, and the few distinct values to hash.
        encoded = pc.dictionary_encode(arr)
        dictionary = encoded.dictionary
        indices = np.frombuffer(
            encoded.indices.buffers()[1], np.int32, len(arr), encoded.indices.offset * 4
        )
        valid = valid_mask(arr)
        counts = np.bincount(
            indices if valid is None else indices[valid], minlength=len(dictionary)
        )
        if kind == "string":
            lengths = np.asarray(pc.utf8_length(dictionary).to_numpy(), dtype=np.int64)
            self._length_stats(lengths, counts)
        self._count(dictionary, counts, kind)
        hashes = hash_values(dictionary, kind)[indices]
        return hashes if valid is None else np.where(valid, hashes, NULL_HASH)

    def _lengths(self, arr: pa.Array) -> None:
        data = arr.buffers()[2]
        ascii_only = data is None or np.frombuffer(data, np.uint8).max(initial=0) < 128
        if ascii_only:
            lengths = np.diff(value_offsets(arr))
        else:
            lengths = np.asarray(pc.fill_null(pc.utf8_length(arr), 0).to_numpy(), dtype=np.int64)
        valid = valid_mask(arr)
        self._length_stats(lengths if valid is None else lengths[valid], None)

    def _length_stats(self, lengths: np.ndarray, counts: np.ndarray | None) -> None:
        if lengths.size == 0:
            return
        low, high = int(lengths.min()), int(lengths.max())
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)
        if counts is None:
            self.length_sum += int(lengths.sum())
            self.empty += int((lengths == 0).sum())
        else:
            self.length_sum += int((lengths * counts).sum())
            self.empty += int(counts[lengths == 0].sum())

    def _extremes(self, low: Any, high: Any) -> None:
        if low is not None:
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)

    def _numeric(self, arr: pa.Array, count: int) -> None:
        values = fixed_width(arr, np.float64 if self.is_float else np.int64)
        valid = valid_mask(arr)
        values = values if valid is None else values[valid]
        low = values.min()
        if self.is_float and np.isnan(low):
            # Arrow skips NaN in the extremes; only Parquet and JSON can hold one.
            self._extremes(*_min_max(arr))
            mean = pc.mean(arr).as_py()
            m2 = pc.variance(arr, ddof=0).as_py() * count
        else:
            # numpy's reductions are several times faster than Arrow's kernels here.
            self._extremes(low.item(), values.max().item())
            mean = float(values.mean(dtype=np.float64))
            # Not np.dot: BLAS would start threads that spin, taking the parser's cores.
            deviations = values - mean
            m2 = float(np.square(deviations, out=deviations).sum())
        # Chan et al.'s pairwise update: stable where a running sum of squares is not.
        total = self.valid_count
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * (total - count) * count / total
        self.mean += delta * count / total
        if self.is_float:
            self.increasing = False
            if self.integral:
                self.integral = bool((np.floor(values) == values).all())

    def _datetime(self, arr: pa.Array) -> None:
        # Microseconds since the epoch: comparable, and safe past Python's datetime range.
        arr = arr.view(pa.int64())
        self._extremes(*_min_max(arr))
        if not self.sorted:
            return
        values = fixed_width(pc.drop_null(arr), np.int64)
        steps = np.diff(values, prepend=values[:1] if self.last_time is None else self.last_time)
        self.last_time = int(values[-1])
        if (steps < 0).any():
            self.sorted, self.steps = False, None
            return
        steps = steps[steps > 0]
        if self.steps is None:
            assert self.median_step is not None
            self.n_gaps += int((steps > GAP_FACTOR * self.median_step).sum())
            return
        self.steps.append(steps)
        if sum(len(s) for s in self.steps) >= MEDIAN_STEPS:
            self._fix_median()

    def _fix_median(self) -> None:
        # The median of the first MEDIAN_STEPS steps, whatever the batch boundaries.
        steps = np.concatenate(self.steps) if self.steps else np.empty(0, np.int64)
        self.steps = None
        if steps.size == 0:
            return
        self.median_step = float(np.median(steps[:MEDIAN_STEPS]))
        self.n_gaps = int((steps > GAP_FACTOR * self.median_step).sum())

    def finish(self) -> None:
        if self.kind == "datetime" and self.sorted and self.steps is not None:
            self._fix_median()
