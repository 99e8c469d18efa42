"""What every tabular reader shares: how a file is to be read, and checks of its columns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from jobs.engine.data import DataError
from jobs.engine.io.limits import check_columns

Record = tuple[int, list[str]]
Row = tuple[int, list[Any]]

# Inspection and type inference both look at this much of the (decompressed) start of a file:
# enough rows to catch most problems at upload time, small enough to answer at once; the
# profiler reads the rest and fails the dataset with the row number if something is off.
SAMPLE_BYTES = 1 << 20
KIND_TYPES = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}
KIND_WORDS = {"int64": "whole numbers", "double": "numbers", "bool": "true/false values"}


@dataclass(frozen=True)
class ReadOptions:
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header: bool = True


@dataclass(frozen=True)
class TableSource:
    format: str
    encoding: str | None
    delimiter: str | None
    header: bool
    columns: list[str]


def checked(source: TableSource, filename: str) -> TableSource:
    check_columns(len(source.columns), filename)
    blank = [str(i) for i, name in enumerate(source.columns, start=1) if not name.strip()]
    if blank:
        raise DataError(
            f"Every column of '{filename}' needs a name; the header is blank at column "
            f"position(s) {', '.join(blank)}."
        )
    repeated = ", ".join(repr(n) for n, count in Counter(source.columns).items() if count > 1)
    if repeated:
        raise DataError(f"Column names must be unique; '{filename}' repeats {repeated}.")
    return source


def numbered(n: int) -> list[str]:
    return [f"column_{i}" for i in range(1, n + 1)]


def stable_types(schema: pa.Schema) -> pa.Schema:
    """Types for the whole file: columns without values in the sample, and dates, stay text.

    Dates stay text because pandas reads them so, and a model must see the same values from
    an uploaded table as from a prediction request.
    """
    as_text = (pa.types.is_temporal, pa.types.is_null)
    return pa.schema(
        [(f.name, pa.string() if any(t(f.type) for t in as_text) else f.type) for f in schema]
    )
