"""A dataset written out as CSV for people: its rows, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
from collections.abc import Iterable
from typing import IO, Any

import pyarrow as pa

# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_csv_export(
    batches: Iterable[pa.RecordBatch], out: IO[str], *, header: bool = True
) -> None:
    """CSV for spreadsheets: text that a spreadsheet would run as a formula gets a leading '.

    header=False leaves out the column names, for a stream written one batch at a time.
    """
    writer = csv.writer(out)
    for batch in batches:
        if header:
            writer.writerow([_export_cell(name) for name in batch.schema.names])
            header = False
        columns = [column.to_pylist() for column in batch.columns]
        writer.writerows([_export_cell(v) for v in row] for row in zip(*columns, strict=True))


def _export_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)  # a number is never a formula, even a negative one
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, dt.date | dt.time):
        value = value.isoformat()
    elif not isinstance(value, str):
        value = json.dumps(value, default=str)
    return "'" + value if value.startswith(_FORMULA_START) else value
