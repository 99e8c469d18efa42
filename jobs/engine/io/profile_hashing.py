"""64-bit hashes of whole Arrow arrays for the streaming profiler (jobs.engine.io.profile).

Equal values of one kind hash alike, so the profiler can fold them into row hashes (to find
duplicate rows) and each column's distinct-count sketch, at numpy speed: no loop in Python
over rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Storage types for the kinds of column the profiler tells apart.
Kind = str  # "null" | "numeric" | "boolean" | "string" | "datetime" | "other"
NULL_HASH = np.uint64(2**64 - 1)

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_P = np.uint64(0x9E3779B97F4A7C15)
_MASKS = np.array([0, *((1 << (8 * i)) - 1 for i in range(1, 8)), 2**64 - 1], dtype=np.uint64)


def mix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser: a bijection on uint64 that spreads every input bit."""
    x = values ^ (values >> np.uint64(33))
    x *= _M1
    x ^= x >> np.uint64(33)
    x *= _M2
    x ^= x >> np.uint64(33)
    return x


def valid_mask(arr: pa.Array) -> np.ndarray | None:
    """Which rows hold a value; None when all do."""
    if arr.null_count == 0:
        return None
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def fixed_width(arr: pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """The values of a numeric array as numpy, without a copy."""
    # The values buffer read in place; slots under nulls hold anything, callers mask them.
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * 8)


def value_offsets(arr: pa.Array) -> np.ndarray:
    """Where each string (or binary) value starts in the data buffer, and where the last ends."""
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    width = 8 if large else 4
    offsets = np.frombuffer(
        arr.buffers()[1], np.int64 if large else np.int32, len(arr) + 1, arr.offset * width
    )
    return offsets.astype(np.int64)


def _weak(bits: np.ndarray) -> np.ndarray:
    """A cheap bijective scramble: enough to tell rows apart, not to look random."""
    hashes = bits ^ (bits >> np.uint64(29))
    hashes *= _M1
    hashes ^= hashes >> np.uint64(32)
    return hashes


def _string_hashes(arr: pa.Array) -> np.ndarray:
    """Hash each string eight bytes at a time, so the work is ~(bytes / 8) numpy elements."""
    offsets = value_offsets(arr)
    low, high = int(offsets[0]), int(offsets[-1])
    padded = np.zeros(high - low + 8, dtype=np.uint8)
    if high > low:
        padded[: high - low] = np.frombuffer(arr.buffers()[2], np.uint8, high - low, low)
    # An unaligned view: element i is the eight bytes starting at byte i.
    words = np.ndarray((high - low + 1,), dtype="<u8", buffer=padded, strides=(1,))
    starts = offsets[:-1] - low
    lengths = np.diff(offsets)
    hashes = lengths.astype(np.uint64) * _P
    hashes ^= words[starts] & _MASKS[np.minimum(lengths, 8)]
    hashes *= _M1
    # Most categorical values fit in one word; only longer strings go round again.
    active = np.flatnonzero(lengths > 8)
    position, remaining = starts[active] + 8, lengths[active] - 8
    while active.size:
        chunk = hashes[active]
        chunk ^= chunk >> np.uint64(29)
        chunk ^= words[position] & _MASKS[np.minimum(remaining, 8)]
        chunk *= _M1
        hashes[active] = chunk
        more = remaining > 8
        active, position, remaining = active[more], position[more] + 8, remaining[more] - 8
    hashes ^= hashes >> np.uint64(32)
    return hashes


def hash_values(arr: pa.Array, kind: Kind) -> np.ndarray:
    """One uint64 per row, equal for equal values of the same kind, NULL_HASH for nulls.

    Row hashes only need equal values to collide and different ones not to; the distinct
    sketch, which needs uniform hashes, mixes these further.
    """
    if kind == "null":
        return np.full(len(arr), NULL_HASH)
    if kind == "string" or kind == "other":
        hashes = _string_hashes(arr)
    elif kind == "boolean":
        hashes = pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(np.uint64)
    elif pa.types.is_floating(arr.type):
        # Adding 0.0 turns -0.0 into 0.0, which compare equal.
        hashes = _weak((fixed_width(arr, np.float64) + 0.0).view(np.uint64))
    else:
        hashes = _weak(fixed_width(arr, np.int64).view(np.uint64))
    valid = valid_mask(arr)
    return hashes if valid is None else np.where(valid, hashes, NULL_HASH)
