"""Limits on what an uploaded table may unpack to, checked while it is read.

A small file can stand for a huge table (a gzip of repeated rows, a workbook whose one shared
string is used in every cell, a Parquet page of compressed strings, one value nested 30,000
levels deep); each reader checks these as it goes, and refuses with a reason before its
memory follows. Module constants, so the engine needs no Django settings; tests lower them.
"""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.engine.data import DataError

# A table wider than this is not something the console can train on; its profile alone
# (one entry per column) would be megabytes.
MAX_COLUMNS = 2000
# Excel's own limit on the characters in one cell; other formats get the same.
MAX_CELL_CHARS = 32_767
# Bytes of one value in the formats that store text without Excel's limit (Parquet, JSON
# Lines): a CSV row, and so each of its cells, is already bounded by its reader's 1 MB block.
MAX_CELL_BYTES = 1 << 20
# Unpacked bytes of one compressed file (gzip, a workbook's XML, a Parquet file's data).
MAX_UNPACKED_BYTES = 8 << 30
# Unpacked bytes per stored byte. Real tables compress 3-20x, sparse ones up to about 100x;
# bombs 1,000x and more. Checked once past RATIO_GRACE_BYTES, so small files never trip it.
MAX_RATIO = 250
RATIO_GRACE_BYTES = 64 << 20
# Nesting of one JSON value: Arrow's JSON reader recurses per level (and crashes the process
# around a few thousand); a table's field needs a few.
MAX_JSON_DEPTH = 64
# One Parquet row group is decoded at once: its unpacked size bounds the reader's memory.
MAX_ROW_GROUP_BYTES = 512 << 20

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def check_columns(count: int, filename: str) -> None:
    if count > MAX_COLUMNS:
        raise DataError(
            f"'{filename}' has {count:,} columns; the limit is {MAX_COLUMNS:,}. Keep the columns "
            "a model should learn from (and the target), or check the delimiter."
        )


def check_unpacked(unpacked: int, stored: int, filename: str) -> None:
    """Refuse a compressed file that unpacks to too much, or far more than real data does."""
    if unpacked > MAX_UNPACKED_BYTES:
        raise DataError(
            f"'{filename}' unpacks to more than {MAX_UNPACKED_BYTES >> 30} GB; split it or "
            "upload a sample."
        )
    if unpacked > RATIO_GRACE_BYTES and unpacked > MAX_RATIO * max(stored, 1):
        raise DataError(
            f"'{filename}' unpacks to over {MAX_RATIO} times its stored size ({stored:,} bytes "
            f"became {unpacked:,} so far), which real tables do not; it looks like a "
            "compression bomb. Upload the table uncompressed, or in smaller files."
        )


def json_depth_error(data: bytes, first_line: int, filename: str) -> DataError | None:
    """A reason to refuse JSON Lines data nested deeper than MAX_JSON_DEPTH, or None.

    Counted on the bytes, before any parser sees them: brackets inside strings are dropped,
    then the running depth is a cumulative sum. Vectorised, so a 4 MB chunk takes
    milliseconds; a line left open carries its depth on, which still names that line.
    """
    if data.count(b"{") + data.count(b"[") <= MAX_JSON_DEPTH:
        return None
    bare = _JSON_STRING.sub(b'""', data)
    codes = np.frombuffer(bare, dtype=np.uint8)
    step = (
        (codes == ord("{")).astype(np.int32)
        + (codes == ord("["))
        - (codes == ord("}"))
        - (codes == ord("]"))
    )
    depth = np.cumsum(step)
    deepest = int(np.argmax(depth)) if depth.size else 0
    if not depth.size or depth[deepest] <= MAX_JSON_DEPTH:
        return None
    line = first_line + bare.count(b"\n", 0, deepest)
    return DataError(
        f"Line {line} of '{filename}' nests values more than {MAX_JSON_DEPTH} levels deep; "
        "a table's fields need a few. Flatten the records."
    )


def oversized_cell(table: pa.Table) -> tuple[str, int | None, int] | None:
    """The column, row (None inside a nested value) and size of a value over MAX_CELL_BYTES,
    or None. One vectorised length per text column: microseconds per batch."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        found = _longest(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))
        if found is not None:
            row, size = found
            return name, row, size
    return None


def _longest(array: pa.Array) -> tuple[int | None, int] | None:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        if len(array) == 0:
            return None
        lengths = pc.binary_length(array)
        size = pc.max(lengths).as_py() or 0
        if size <= MAX_CELL_BYTES:
            return None
        return pc.index(lengths, size).as_py(), size
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        inner = _longest(array.flatten())
        return (None, inner[1]) if inner is not None else None
    if pa.types.is_struct(kind):
        for index in range(kind.num_fields):
            inner = _longest(array.field(index))
            if inner is not None:
                return inner
    return None


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class CountingReader:
    """A binary file's unpacked stream that refuses to go past the unpacking limits."""

    def __init__(self, stream: _Readable, stored: int, filename: str) -> None:
        self._stream = stream
        self._stored = stored
        self._filename = filename
        self.unpacked = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.unpacked += len(data)
        check_unpacked(self.unpacked, self._stored, self._filename)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
        self._stream.close()
