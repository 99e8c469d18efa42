"""Parquet files, read within the unpacking limits (jobs/engine/io/limits.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from jobs.engine.data import DataError
from jobs.engine.io.limits import (
    MAX_CELL_BYTES,
    MAX_ROW_GROUP_BYTES,
    check_columns,
    check_unpacked,
)


def parquet_metadata(path: Path, filename: str) -> pq.FileMetaData:
    """The file's metadata, refused over the limits before any data is read.

    Arrow decodes a whole row group's column chunk at once, so the unpacked size of a row
    group bounds the reader's memory; a few KB of compressed strings can stand for GBs.
    """
    try:
        metadata = pq.read_metadata(path)
    except MemoryError:
        raise  # Arrow's own is an ArrowException too; it means a limit, not a damaged file
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"'{filename}' is a damaged Parquet file: {exc}") from exc
    check_columns(metadata.num_columns, filename)
    total = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        unpacked = max(
            group.total_byte_size,
            sum(group.column(c).total_uncompressed_size for c in range(group.num_columns)),
        )
        if unpacked > MAX_ROW_GROUP_BYTES:
            raise DataError(
                f"Row group {index + 1} of '{filename}' unpacks to {unpacked:,} bytes; the limit "
                f"is {MAX_ROW_GROUP_BYTES >> 20} MB. Write it with smaller row groups (e.g. "
                "row_group_size=100_000 in pyarrow or pandas)."
            )
        total += unpacked
    check_unpacked(total, path.stat().st_size, filename)
    return metadata


def parquet_batches(path: Path, rows: int) -> Iterator[pa.RecordBatch]:
    metadata = parquet_metadata(path, path.name)
    # A column stored as a dictionary is read as its values, like every other text column.
    schema = pa.schema(
        [
            (f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
            for f in metadata.schema.to_arrow_schema()
        ]
    )
    # Text read as dictionaries, so that one long value used in every row is held once while
    # its length is checked; each slice is then unpacked on its own, counted against the file.
    text = [f.name for f in schema if _is_text(f.type)]
    counted = CountingBatches(path.stat().st_size, path.name)
    try:
        with pq.ParquetFile(path, read_dictionary=text) as parquet:
            for batch in parquet.iter_batches(batch_size=rows):
                yield from counted.unpack(batch, schema)
    except MemoryError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"'{path.name}' is a damaged Parquet file: {exc}") from exc


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


class CountingBatches:
    """Unpacks dictionary-read text columns slice by slice, refusing oversized values and a
    file that unpacks to far more than it stores."""

    SLICE_BYTES = 64 << 20

    def __init__(self, stored: int, filename: str) -> None:
        self.stored = stored
        self.filename = filename
        self.unpacked = 0

    def unpack(self, batch: pa.RecordBatch, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        longest = 0
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if not pa.types.is_dictionary(column.type) or len(column.dictionary) == 0:
                continue
            size = pc.max(pc.binary_length(column.dictionary)).as_py() or 0
            if size > MAX_CELL_BYTES:
                raise DataError(
                    f"Column {name!r} of '{self.filename}' holds a value of {size:,} bytes; a "
                    f"value may hold at most {MAX_CELL_BYTES >> 20} MB."
                )
            longest += size
        plain = sum(c.nbytes for c in batch.columns if not pa.types.is_dictionary(c.type)) // max(
            batch.num_rows, 1
        )
        step = max(1, self.SLICE_BYTES // max(longest + plain, 1))
        for offset in range(0, batch.num_rows, step):
            part = batch.slice(offset, step)
            arrays = [
                column.cast(field.type) if pa.types.is_dictionary(column.type) else column
                for column, field in zip(part.columns, schema, strict=True)
            ]
            unpacked = pa.RecordBatch.from_arrays(arrays, schema=schema)
            self.unpacked += unpacked.nbytes
            check_unpacked(self.unpacked, self.stored, self.filename)
            yield unpacked
